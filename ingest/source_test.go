package ingest

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/relay"
)

func startFleet(t *testing.T, cfg camsim.Config) *camsim.Fleet {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.Cameras == 0 {
		cfg.Cameras = 2
	}
	cfg.Main, cfg.Sub = sharpeyes.MainClip, sharpeyes.SubClip
	f, err := camsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// logBuffer collects log output so tests can check no secret leaks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runSource(t *testing.T, cfg SourceConfig) (*Source, *relay.Stream, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
	}
	st := relay.NewStream(relay.StreamConfig{})
	src, err := NewSource(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("source did not stop after cancel")
		}
	})
	return src, st, logs
}

func waitState(t *testing.T, src *Source, want State, within time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if st := src.Status(); st.State == want {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("state %q not reached in %v; status %+v", want, within, src.Status())
	return Status{}
}

func TestPullsH264WithParamsBeforeEveryIDR(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	src, st, _ := runSource(t, SourceConfig{URL: f.URL(1, false), Transport: "auto"})
	r := st.NewReaderFromGOP()
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	keys, units := 0, 0
	var lastPTS time.Duration
	for keys < 2 {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after %d units, %d keys: %v", units, keys, err)
		}
		if units == 0 && !u.Key {
			t.Fatal("first unit is not a keyframe")
		}
		if units > 0 && u.PTS <= lastPTS {
			t.Fatalf("PTS not increasing: %v then %v", lastPTS, u.PTS)
		}
		lastPTS = u.PTS
		units++
		if u.Key {
			keys++
			if typ := h264.NALUType(u.NALUs[0][0] & 0x1f); typ != h264.NALUTypeSPS || h264.NALUType(u.NALUs[1][0]&0x1f) != h264.NALUTypePPS {
				t.Fatalf("keyframe starts with NAL type %v, want SPS then PPS", typ)
			}
		}
		if _, ok := camsim.FindTimestamp(u.NALUs); !ok {
			t.Fatal("unit lost its SEI timestamp")
		}
	}
	status := waitState(t, src, StateOnline, time.Second)
	if status.Codec != "H264" || status.Width != 1280 || status.Height != 720 {
		t.Fatalf("status %+v, want H264 1280x720", status)
	}
	if info := st.Info(); info.SPS == nil || info.PPS == nil || info.Video != relay.CodecH264 {
		t.Fatalf("stream info %+v lacks codec or parameter sets", info)
	}
	time.Sleep(1200 * time.Millisecond)
	if fps := src.Status().FPS; fps < 20 || fps > 30 {
		t.Fatalf("fps %.1f, want about 25", fps)
	}
	if br := src.Status().Bitrate; br < 800_000 || br > 3_000_000 {
		t.Fatalf("bitrate %d, want about 1.5 Mbps", br)
	}
}

func TestDigestAuthAndNoPasswordInLogsOrStatus(t *testing.T) {
	f := startFleet(t, camsim.Config{User: "admin", Pass: "s3cret-pw"})
	src, _, logs := runSource(t, SourceConfig{URL: f.URL(2, true), Transport: "tcp"})
	waitState(t, src, StateOnline, 5*time.Second)

	bad := strings.Replace(f.URL(2, true), "s3cret-pw", "wrong-pw", 1)
	src2, _, logs2 := runSource(t, SourceConfig{URL: bad, Transport: "tcp"})
	st := waitState(t, src2, StateOffline, 5*time.Second)
	if !strings.Contains(st.LastError, "401") {
		t.Fatalf("last error %q, want a 401", st.LastError)
	}
	for _, s := range []string{logs.String(), logs2.String(), st.LastError} {
		if strings.Contains(s, "s3cret-pw") || strings.Contains(s, "wrong-pw") {
			t.Fatalf("a password leaked: %s", s)
		}
	}
}

func TestRefusedHungAndJunkServersGoOfflineAndRetry(t *testing.T) {
	// refused: a port with nothing listening
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := l.Addr().String()
	l.Close()

	// hung: accepts and never answers
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { hang.Close() })
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	// junk: answers every request with garbage
	junk, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { junk.Close() })
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte("HTTP/9.9 banana\r\n\x00\x01junk\r\n\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()

	for name, addr := range map[string]string{"refused": refused, "hung": hang.Addr().String(), "junk": junk.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			src, _, _ := runSource(t, SourceConfig{URL: "rtsp://" + addr + "/x", Transport: "tcp", Timeout: 500 * time.Millisecond})
			st := waitState(t, src, StateOffline, 6*time.Second)
			if st.LastError == "" {
				t.Fatal("offline without an error message")
			}
			deadline := time.Now().Add(8 * time.Second)
			for src.Status().Reconnects < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := src.Status().Reconnects; n < 2 {
				t.Fatalf("reconnects = %d, want retries", n)
			}
		})
	}
}

func TestStallGoesOfflineThenRecoversWithContinuousPTS(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	// 1.5 s: short enough for a quick test, long enough that a session set up
	// on a loaded machine (-race, Chromium in parallel) is not taken for a stall.
	src, st, _ := runSource(t, SourceConfig{URL: f.URL(1, true), Transport: "tcp", Timeout: 1500 * time.Millisecond})
	waitState(t, src, StateOnline, 10*time.Second)
	r := st.NewReader()
	defer r.Close()

	if err := f.SetStalled(1, true); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, src, StateOffline, 6*time.Second)
	if !strings.Contains(s.LastError, "no media") {
		t.Fatalf("last error %q, want a stall", s.LastError)
	}
	_ = f.SetStalled(1, false)
	waitState(t, src, StateOnline, 10*time.Second)
	if src.Status().Reconnects < 1 {
		t.Fatal("no reconnect counted")
	}

	reconnects := src.Status().Reconnects
	f.Drop(1) // a camera reboot as seen from the network
	deadline := time.Now().Add(5 * time.Second)
	for src.Status().Reconnects == reconnects && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	waitState(t, src, StateOnline, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var prev time.Duration
	for i := 0; i < 30; i++ {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && u.Codec.IsVideo() && u.PTS <= prev {
			t.Fatalf("PTS went back across reconnects: %v then %v", prev, u.PTS)
		}
		prev = u.PTS
	}
}

func TestBadURLsAreRejected(t *testing.T) {
	for _, u := range []string{"http://cam/x", "rtsp://", "not a url", "rtsp://admin:pw@"} {
		if _, err := NewSource(SourceConfig{URL: u}, relay.NewStream(relay.StreamConfig{})); err == nil {
			t.Errorf("%q accepted", u)
		} else if strings.Contains(err.Error(), "pw") && strings.Contains(u, "pw") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"rtsp://admin:pw@10.1.2.3:554/Streaming/Channels/101": "rtsp://admin:***@10.1.2.3:554/Streaming/Channels/101",
		"rtsp://10.1.2.3/live":                                "rtsp://10.1.2.3/live",
		"rtsps://u:p%40ss@h/a?b=c":                            "rtsps://u:***@h/a?b=c",
		// XMEye-style credentials in the path, and secret query parameters.
		"rtsp://10.1.2.3:554/user=admin&password=s3cr3t&channel=1&stream=0.sdp": "rtsp://10.1.2.3:554/user=admin&password=***&channel=1&stream=0.sdp",
		"rtsp://h/live?channel=1&password=s3cr3t&PWD=x2":                        "rtsp://h/live?channel=1&password=***&PWD=***",
		"rtsp://h/cam?token=abc&subtype=1":                                      "rtsp://h/cam?token=***&subtype=1",
		"rtsp://u:pw9x@h/a;pass=zz":                                             "rtsp://u:***@h/a;pass=***",
	}
	for in, want := range cases {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		for _, sec := range Secrets(in) {
			if strings.Contains(RedactURL(in), sec) {
				t.Errorf("RedactURL(%q) still shows %q", in, sec)
			}
		}
		// What the API shows, sent back, keeps every secret.
		if got := KeepSecrets(RedactURL(in), in); got != in {
			t.Errorf("KeepSecrets(RedactURL(%q)) = %q", in, got)
		}
	}
	// A *** sent for another host is not filled in.
	if got := KeepSecrets("rtsp://admin:***@10.9.9.9/a", "rtsp://admin:pw@10.1.2.3/a"); strings.Contains(got, "pw") {
		t.Errorf("secret moved to another host: %q", got)
	}
	if got := KeepSecrets("rtsp://other:***@10.1.2.3/a", "rtsp://admin:pw@10.1.2.3/a"); strings.Contains(got, "pw") {
		t.Errorf("secret moved to another user: %q", got)
	}
	if got := scrub("dial rtsp://h/user=a&password=s3cr3t: refused", Secrets("rtsp://h/user=a&password=s3cr3t")...); strings.Contains(got, "s3cr3t") {
		t.Errorf("scrub: %q", got)
	}
}

func TestPullsH265WithParamSetsAndG711Audio(t *testing.T) {
	f := startFleet(t, camsim.Config{H265: sharpeyes.H265Clip, Audio: true, Cameras: 1})
	src, st, _ := runSource(t, SourceConfig{URL: f.URL(1, false), Transport: "tcp"})
	r := st.NewReaderFromGOP()
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	keys, audio, video := 0, 0, 0
	for keys < 2 || audio < 10 {
		u, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after %d video (%d keys) and %d audio units: %v", video, keys, audio, err)
		}
		switch u.Codec {
		case relay.CodecPCMA:
			audio++
			if len(u.Payload) != 320 { // 40 ms at 8 kHz
				t.Fatalf("audio unit of %d bytes, want 320", len(u.Payload))
			}
		case relay.CodecH265:
			if video == 0 && !u.Key {
				t.Fatal("first video unit is not a keyframe")
			}
			video++
			if u.Key {
				keys++
				types := []byte{}
				for _, n := range u.NALUs[:3] {
					types = append(types, (n[0]>>1)&0x3f)
				}
				if types[0] != 32 || types[1] != 33 || types[2] != 34 {
					t.Fatalf("keyframe starts with NAL types %v, want VPS SPS PPS (32 33 34)", types)
				}
			}
		default:
			t.Fatalf("unexpected codec %q", u.Codec)
		}
	}
	s := waitState(t, src, StateOnline, time.Second)
	if s.Codec != "H265" || s.Audio != "PCMA" || s.Width != 640 || s.Height != 360 {
		t.Fatalf("status %+v, want H265 640x360 with PCMA", s)
	}
	if info := st.Info(); info.VPS == nil || info.Audio != relay.CodecPCMA {
		t.Fatalf("stream info %+v lacks VPS or audio", info)
	}
}

// freeUDPPair finds an even UDP port whose successor is free too (RTP, RTCP).
func freeUDPPair(t *testing.T) (int, int) {
	t.Helper()
	for i := 0; i < 50; i++ {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if p%2 == 1 {
			p--
		}
		x, err1 := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		y, err2 := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		if x != nil {
			x.Close()
		}
		if y != nil {
			y.Close()
		}
		if err1 == nil && err2 == nil {
			return p, p + 1
		}
	}
	t.Fatal("no free UDP port pair")
	return 0, 0
}

func TestUDPAndAutoTransports(t *testing.T) {
	rtpPort, rtcpPort := freeUDPPair(t)
	f := startFleet(t, camsim.Config{
		UDPRTPAddress:  "127.0.0.1:" + strconv.Itoa(rtpPort),
		UDPRTCPAddress: "127.0.0.1:" + strconv.Itoa(rtcpPort),
	})
	for _, tr := range []string{"udp", "auto"} {
		src, _, _ := runSource(t, SourceConfig{URL: f.URL(1, true), Transport: tr})
		st := waitState(t, src, StateOnline, 5*time.Second)
		if st.Transport != "UDP" {
			t.Fatalf("transport %q: session used %q, want UDP", tr, st.Transport)
		}
	}
	// A TCP-only camera: "auto" falls back to TCP, "udp" fails clearly.
	tcpOnly := startFleet(t, camsim.Config{})
	src, _, _ := runSource(t, SourceConfig{URL: tcpOnly.URL(1, true), Transport: "auto"})
	if st := waitState(t, src, StateOnline, 5*time.Second); st.Transport != "TCP" {
		t.Fatalf("auto against a TCP-only camera used %q", st.Transport)
	}
	src, _, _ = runSource(t, SourceConfig{URL: tcpOnly.URL(1, true), Transport: "udp"})
	if st := waitState(t, src, StateOffline, 5*time.Second); st.LastError == "" {
		t.Fatal("udp against a TCP-only camera went offline without a reason")
	}
}
