package rtspserve

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"sharpeyes/relay"
	"sharpeyes/relay/relaytest"
)

func TestFFprobeReadsRTSPReserve(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatal("ffprobe not installed (make test installs ffmpeg)")
	}
	s := relay.NewStream(relay.StreamConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relaytest.Feed(ctx, t, s)
	p := &relaytest.Provider{Streams: map[string]*relay.Stream{"32100200001320000001": s}}
	srv, err := NewRTSPServer(RTSPConfig{Addr: "127.0.0.1:0", Linger: 200 * time.Millisecond}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	out, err := exec.CommandContext(pctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-show_entries", "stream=codec_name,width,height", "-of", "compact=p=0",
		"rtsp://"+srv.Addr()+"/32100200001320000001/sub").CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.Contains(got, "codec_name=h264|width=640|height=360") {
		t.Fatalf("ffprobe reported %q, want h264 640x360", got)
	}

	out, _ = exec.CommandContext(pctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"rtsp://"+srv.Addr()+"/unknown-camera").CombinedOutput()
	if !strings.Contains(string(out), "404") {
		t.Fatalf("unknown camera: ffprobe said %q, want a 404", out)
	}
	// The path is released once unwatched.
	deadline := time.Now().Add(3 * time.Second)
	for p.Held() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.Held() != 0 {
		t.Fatalf("stream still held %d times after the client left", p.Held())
	}
}

// TestReadersLeaveAtOnceAndAreNotLeftWaiting: the stream is let go as
// soon as the last RTSP reader tears down (before, it was held 10-12.5 s
// more, and with the camera's idle time the pull stopped ~23 s after);
// a reader of a stream that sends nothing (its camera down) is let go
// after StallTimeout instead of waiting for ever.
func TestReadersLeaveAtOnceAndAreNotLeftWaiting(t *testing.T) {
	live := relay.NewStream(relay.StreamConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relaytest.Feed(ctx, t, live)
	// A stream that sent a little and then nothing.
	dead := relay.NewStream(relay.StreamConfig{})
	fctx, fcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	relaytest.Feed(fctx, t, dead)
	fcancel()
	p := &relaytest.Provider{Streams: map[string]*relay.Stream{"live": live, "dead": dead}}
	srv, err := NewRTSPServer(RTSPConfig{Addr: "127.0.0.1:0", StallTimeout: time.Second}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	read := func(path string) *gortsplib.Client {
		t.Helper()
		c := &gortsplib.Client{Transport: ptr(gortsplib.TransportTCP)}
		u, _ := base.ParseURL("rtsp://" + srv.Addr() + "/" + path)
		if err := c.Start(u.Scheme, u.Host); err != nil {
			t.Fatal(err)
		}
		desc, _, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Play(nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := read("live")
	time.Sleep(500 * time.Millisecond)
	c.Close()
	left := time.Now()
	for p.Held() != 0 && time.Since(left) < 5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Held() != 0 {
		t.Fatalf("the live stream is still held after its reader left")
	}
	t.Logf("the stream let go %v after its reader tore down", time.Since(left).Round(time.Millisecond))

	d := read("dead")
	waited := make(chan error, 1)
	go func() { waited <- d.Wait() }()
	select {
	case err := <-waited:
		t.Logf("the reader of a silent stream let go: %v", err)
	case <-time.After(15 * time.Second):
		d.Close()
		t.Fatal("the reader of a silent stream still waits after 15 s")
	}
	d.Close()
	for p.Held() != 0 && time.Since(left) < 20*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Held() != 0 {
		t.Fatal("the silent stream is still held")
	}
}

func ptr[T any](v T) *T { return &v }
