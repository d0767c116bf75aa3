package camsim_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/manscdp"
)

// TestGBChannelPansOnPTZ: a simulated NVR's channel, played by a
// platform, shows a picture that a PTZ right (then stop) moves: the
// picture after is the one before shifted left by the distance the
// device says its window moved.
func TestGBChannelPansOnPTZ(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs ffmpeg")
	}
	ctx := context.Background()
	const server, devID, pass = "32100300002000000001", "32100300001110000001", "pan-pass-1"
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: server, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close()
	dev, err := camsim.StartGB(ctx, camsim.GBConfig{Server: plat.Addr(), ServerID: server, Domain: server[:10], DeviceID: devID,
		Password: pass, Channels: 1, Keepalive: time.Second, Pan: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Kill()
	ch := dev.Config().ChannelID(1)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if items, _, _ := plat.Catalog(devID); len(items) == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no catalog")
		}
	}
	capture := func(name string) []byte {
		path := filepath.Join(t.TempDir(), name+".ps")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		call, err := plat.Play(ctx, devID, ch, "udp", f)
		if err != nil {
			t.Fatal(err)
		}
		// Half a second of picture once the first frame is in (the encoder
		// may take a while to start on a busy machine).
		for end := time.Now().Add(15 * time.Second); call.FirstFrame().IsZero() && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		_ = call.Bye(ctx)
		f.Close()
		out, err := exec.Command("ffmpeg", "-v", "error", "-f", "mpeg", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
		if err != nil || len(out) < 1280*720 {
			t.Fatalf("%s: decoded %d bytes: %v", name, len(out), err)
		}
		return out[len(out)-1280*720:] // the last frame
	}
	before := capture("before")
	right, _ := manscdp.PTZCmd("right", 100)
	stop, _ := manscdp.PTZCmd("stop", 1)
	if err := plat.Control(ctx, devID, ch, right); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := plat.Control(ctx, devID, ch, stop); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	moved := dev.PanPosition(1)
	after := capture("after")
	if bytes.Equal(before, after) {
		t.Fatal("the picture did not change")
	}
	shift := bestShift(columns(before), columns(after))
	if moved < 100 || math.Abs(float64(shift)-moved) > 8 {
		t.Errorf("the window moved %.0f px; the picture shifted %d px", moved, shift)
	}
	t.Logf("PTZ right at speed 100 for 1.5 s: window at %.0f px, picture shifted %d px", moved, shift)
}

// columns is a frame's mean brightness per column.
func columns(f []byte) []float64 {
	out := make([]float64, 1280)
	for y := 0; y < 720; y++ {
		for x := 0; x < 1280; x++ {
			out[x] += float64(f[y*1280+x]) / 720
		}
	}
	return out
}

// bestShift is the s for which b's columns are a's from column s on.
func bestShift(a, b []float64) int {
	best, bestErr := 0, math.Inf(1)
	for s := 0; s < 1000; s++ {
		var e float64
		for i := 0; i+s < len(a); i++ {
			e += math.Abs(a[i+s] - b[i])
		}
		if e /= float64(len(a) - s); e < bestErr {
			best, bestErr = s, e
		}
	}
	return best
}
