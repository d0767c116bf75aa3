package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
)

// gbEnv turns the GB/T 28181 side on, on loopback ports.
var gbEnv = []string{"SHARPEYES_GB28181_ENABLED=true", "SHARPEYES_GB28181_SIP_ADDR=127.0.0.1:0",
	"SHARPEYES_GB28181_MEDIA_ADDR=127.0.0.1:0", "SHARPEYES_GB28181_PASSWORD=gb-pass-1234", "SHARPEYES_GB28181_KEEPALIVE_TIMEOUT=3s"}

// startGBDevice registers a simulated NVR with g (by default the default password,
// keepalive every second, the main clip), stopped at the test's end.
func startGBDevice(t *testing.T, g *Gateway, cfg camsim.GBConfig) *camsim.GBDevice {
	t.Helper()
	cfg.Server, cfg.ServerID, cfg.Domain = g.GBAddr(), "32100300002000000001", "3210030000"
	if cfg.Password == "" {
		cfg.Password = "gb-pass-1234"
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = time.Second
	}
	cfg.Clip, cfg.Log = sharpeyes.MainClip, slog.New(slog.DiscardHandler)
	dev, err := camsim.StartGB(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Kill)
	select {
	case <-dev.Registered:
	case <-time.After(10 * time.Second):
		t.Fatal("the simulated NVR did not register")
	}
	return dev
}

// TestGBDeviceChannelsAreCameras: a simulated NVR that knows only the
// gateway's SIP address, domain and password registers; its 2 channels
// become cameras in the grid cell of their position; one plays over WHEP
// (INVITE on the first viewer, BYE the idle time after the last); PTZ
// reaches it as the standard's bytes; a tamper alarm opens a case on its
// channel; switched off (no keepalive, no answer to the catalog query a
// silent device is sent), its channels go offline; restarted from
// another address with one channel fewer, it is followed, nothing is
// duplicated and the missing channel is marked gone.
func TestGBDeviceChannelsAreCameras(t *testing.T) {
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := api.do("POST", "/api/v1/grids/import", "application/geo+json", smallGrid(t, 119.41), true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	const devID = "32100300001110000001"
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: devID, Channels: 2, Lon: 119.43, Lat: 32.41})
	ch1, ch2 := dev.Config().ChannelID(1), dev.Config().ChannelID(2)
	eventually(t, 10*time.Second, "both channels as cameras in G3", func() bool {
		for _, id := range []string{ch1, ch2} {
			code, cam := api.json("GET", "/api/v1/cameras/"+id, nil)
			if code != 200 {
				return false
			}
			cells, _ := cam["cells"].(map[string]any)
			gb, _ := cam["gb"].(map[string]any)
			if cells["base"] != "G3" || gb["device_id"] != devID || gb["ptz"] != true {
				return false
			}
		}
		return true
	})

	v, err := watch(t, "http://"+g.HTTPAddr(), ch1, "sub")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "frames of the channel over WHEP", func() bool { return v.frames.Load() >= 25 })
	if dev.Invites() != 1 {
		t.Fatalf("%d INVITEs for one viewer", dev.Invites())
	}
	v.c.Close()
	left := time.Now()
	eventually(t, 5*time.Second, "BYE after the last viewer left", func() bool { return dev.Byes() == 1 })
	t.Logf("BYE %v after the viewer left (idle timeout 1s)", time.Since(left).Round(10*time.Millisecond))

	// An RTSP reader of the re-serve: the BYE comes the idle time after it
	// leaves (before, the re-serve held the stream 10-12.5 s more).
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	out, err := exec.CommandContext(pctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", "rtsp://any:"+token+"@"+g.RTSPAddr()+"/"+ch1).CombinedOutput()
	pcancel()
	if err != nil || !strings.Contains(string(out), "h264") {
		t.Fatalf("ffprobe of the channel's re-serve: %v %s", err, out)
	}
	left = time.Now()
	// (Within 8 s: the old hold alone was 10 s.)
	eventually(t, 8*time.Second, "BYE after the RTSP reader left", func() bool { return dev.Byes() == 2 })
	t.Logf("BYE %v after the RTSP reader left (idle timeout 1s)", time.Since(left).Round(10*time.Millisecond))

	// PTZ: the device receives the standard's bytes; a bad action is a
	// 400, an RTSP camera takes none (409).
	if code, out := api.json("POST", "/api/v1/cameras/"+ch1+"/ptz", map[string]any{"action": "left", "speed": 31}); code != 204 {
		t.Fatalf("ptz: %d %v", code, out)
	}
	eventually(t, 3*time.Second, "the PTZCmd at the device", func() bool {
		p := dev.PTZ()
		return len(p) == 1 && p[0] == ch1+" A50F01021F0000D6"
	})
	if code, out := api.json("POST", "/api/v1/cameras/"+ch1+"/ptz", map[string]any{"action": "spin"}); code != 400 || out["field"] != "action" {
		t.Fatalf("bad action: %d %v", code, out)
	}
	if code, _ := api.json("POST", "/api/v1/cameras", map[string]any{"id": "rtsp1", "name": "rtsp1", "streams": map[string]string{"main": "rtsp://127.0.0.1:1/x"}}); code != 201 {
		t.Fatal("rtsp camera not created")
	}
	if code, _ := api.json("POST", "/api/v1/cameras/rtsp1/ptz", map[string]any{"action": "up"}); code != 409 {
		t.Fatalf("PTZ on an RTSP camera: %d", code)
	}
	// The device in the API: online, its channels, no password.
	code, d := api.json("GET", "/api/v1/gb/devices/"+devID, nil)
	if code != 200 || d["online"] != true || len(d["channel_ids"].([]any)) != 2 || d["manufacturer"] != "camsim" {
		t.Fatalf("device: %d %v", code, d)
	}
	if code, d := api.json("PATCH", "/api/v1/gb/devices/"+devID, map[string]any{"password": "its-own-pass-9"}); code != 200 || d["own_password"] != true || d["password"] != nil {
		t.Fatalf("patch password: %d %v", code, d)
	}

	if err := dev.Alarm(context.Background(), 1, 5, 11); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a tamper incident with a case on channel 1", func() bool {
		_, inc := api.json("GET", "/api/v1/incidents?camera_id="+ch1+"&kind=tamper", nil)
		items, _ := inc["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["case_id"] != nil
	})

	dev.Kill() // a power cut: no keepalive, and nothing answers the catalog query
	stopped := time.Now()
	eventually(t, 8*time.Second, "both channels offline", func() bool {
		for _, id := range []string{ch1, ch2} {
			_, inc := api.json("GET", fmt.Sprintf("/api/v1/incidents?camera_id=%s&kind=offline", id), nil)
			if items, _ := inc["items"].([]any); len(items) != 1 {
				return false
			}
		}
		return true
	})
	t.Logf("channels offline %v after the device was switched off (timeout 3s)", time.Since(stopped).Round(100*time.Millisecond))

	// The NVR restarts from another port (NAT rebinding) with one channel
	// left: it is asked again, channel 1 stays one camera, channel 2 is
	// marked gone, not deleted, and the channels are online again.
	again := startGBDevice(t, g, camsim.GBConfig{DeviceID: devID, Password: "its-own-pass-9", Channels: 1, Lon: 119.43, Lat: 32.41})
	eventually(t, 10*time.Second, "channel 2 marked gone", func() bool {
		_, cam := api.json("GET", "/api/v1/cameras/"+ch2, nil)
		gb, _ := cam["gb"].(map[string]any)
		return gb["gone"] == true
	})
	_, list := api.json("GET", "/api/v1/cameras?limit=1000", nil)
	n := 0
	for _, it := range list["items"].([]any) {
		if gb, _ := it.(map[string]any)["gb"].(map[string]any); gb != nil && gb["device_id"] == devID {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d cameras of the device after it registered again, want 2 (no duplicates)", n)
	}
	if code, d := api.json("GET", "/api/v1/gb/devices/"+devID, nil); code != 200 || d["address"] != again.Addr() {
		t.Fatalf("device address %v, the NVR now at %s", d["address"], again.Addr())
	}
	eventually(t, 5*time.Second, "the offline incident of channel 1 closed", func() bool {
		_, inc := api.json("GET", "/api/v1/incidents?camera_id="+ch1+"&kind=offline&open=true", nil)
		items, _ := inc["items"].([]any)
		return len(items) == 0
	})
}

// TestChromiumPlaysAGBChannel: a dispatcher picks the simulated NVR's
// channel from its device's branch of the camera tree; Chromium plays it
// over WHEP (the first frame timed from the pick, the INVITE included),
// and the tile's PTZ pad sends left while held and stop on release.
func TestChromiumPlaysAGBChannel(t *testing.T) {
	script, _ := filepath.Abs("../web/e2e/gb.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	g, admin := demoStreet(t, gbEnv...)
	lat, lon := inside(t, g.Grids(), cellA)
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000005", Channels: 1, Lon: lon, Lat: lat})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool {
		code, _ := admin.json("GET", "/api/v1/cameras/"+ch, nil)
		return code == 200
	})
	pw := addUser(t, admin, "gb-centre", "dispatcher", []string{street}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "SE_BASE="+admin.base, "SE_CAMERA="+ch, "SE_DEVICE=32100300001110000005", "SE_USER=gb-centre", "SE_PASS="+pw)
	if dir := os.Getenv("SE_SHOTS"); dir != "" {
		cmd.Env = append(cmd.Env, "SE_SHOTS="+dir)
	}
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("gb.mjs: %v\n%s", err, raw)
	}
	var res struct {
		FirstFrameMs   float64 `json:"firstFrameMs"`
		FramesDecoded  int     `json:"framesDecoded"`
		PTZShown       bool    `json:"ptzShown"`
		DeviceSpans    int     `json:"deviceSpans"`
		APIDeviceSpans int     `json:"apiDeviceSpans"`
		Legend         string  `json:"legend"`
		LaneColour     []int   `json:"laneColour"`
		DeviceSeek     struct {
			MS     float64
			At     float64
			Target float64
			Source string
		} `json:"deviceSeek"`
		DeviceRate1 float64 `json:"deviceRate1"`
		DeviceRate4 float64 `json:"deviceRate4"`
		DeviceSrc   string  `json:"deviceSrc"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	t.Logf("GB channel in Chromium: first frame %.0f ms after the pick (WHEP POST and INVITE included), %d frames decoded", res.FirstFrameMs, res.FramesDecoded)
	if res.FirstFrameMs <= 0 || res.FramesDecoded < 10 || !res.PTZShown {
		t.Fatalf("%+v", res)
	}
	// Live: the pick (and 直播 at the end); the device's footage: the
	// click and 4x (and 回放 opening on it, unless the click came first).
	if live, hist := dev.Invites()-dev.HistoryInvites(), dev.HistoryInvites(); live < 1 || live > 2 || hist < 2 || hist > 3 {
		t.Fatalf("%d live INVITEs (want 1-2), %d of the device's footage (want 2-3)", live, hist)
	}
	// 回放 draws what the NVR keeps (two days of ten-minute files, 50 min an hour).
	if res.DeviceSpans < 100 || res.DeviceSpans != res.APIDeviceSpans || !strings.Contains(res.Legend, "设备录像") || !strings.Contains(res.Legend, "中心录像") {
		t.Fatalf("the device's recordings on the timeline: %+v", res)
	}
	if c := res.LaneColour; len(c) != 3 || c[2] < 150 || c[1] > c[2] {
		t.Errorf("the device's lane at one of its spans is %v, not the device's blue", c)
	}
	// A click on the device's lane played its footage from the time clicked,
	// 1x then 4x (asked of the device at twice that: scale=8), and going back to live left
	// no playback session at the device.
	if s := res.DeviceSeek; s.Source != "device" || s.MS <= 0 || s.At != s.Target {
		t.Errorf("the device's footage from the timeline: %+v", s)
	}
	// What the device sent for the click starts at the time clicked: its
	// first frame's camsim stamp at most a GOP (2 s) before it.
	clicked := time.UnixMilli(int64(res.DeviceSeek.Target))
	hit, before := false, time.Duration(-1)
	for _, at := range dev.FirstStamps() {
		if !at.After(clicked) && clicked.Sub(at) <= 2*time.Second {
			hit, before = true, clicked.Sub(at)
		}
	}
	if !hit {
		t.Errorf("no session of the device started within a GOP of the click at %v: %v", clicked, dev.FirstStamps())
	}
	if res.DeviceRate1 < 0.5 || res.DeviceRate1 > 1.5 || res.DeviceRate4 < 2.5 || res.DeviceRate4 > 5.5 || !strings.Contains(res.DeviceSrc, "scale=8") {
		t.Errorf("device footage played at %.2fx then %.2fx (%s)", res.DeviceRate1, res.DeviceRate4, res.DeviceSrc)
	}
	eventually(t, 10*time.Second, "no playback session left at the device", func() bool { return dev.HistorySessions() == 0 })
	t.Logf("device footage: first picture %.0f ms after the click, the device's first frame stamped %v before the time clicked; %.2fx, then %.2fx",
		res.DeviceSeek.MS, before, res.DeviceRate1, res.DeviceRate4)
	eventually(t, 3*time.Second, "left then stop at the device", func() bool {
		p := dev.PTZ()
		return len(p) == 2 && strings.HasPrefix(p[0], ch+" A50F0102") && p[1] == ch+" A50F0100000000B5"
	})
}
