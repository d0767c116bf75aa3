package rtspserve

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

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
