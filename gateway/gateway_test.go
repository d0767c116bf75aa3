package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/configs"
	"sharpeyes/relay/whepclient"
	"sharpeyes/web"
)

const token = "test-admin-token-0123456789"

// bearer adds the admin token to every request, redirects included.
type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// authed is an HTTP client acting as the break-glass admin.
var authed = &http.Client{Transport: bearer{token}}

func startGateway(t *testing.T, extraEnv ...string) *Gateway {
	t.Helper()
	return startGatewayLogged(t, nil, extraEnv...)
}

// startGatewayLogged is startGateway with its log written to w (debug level).
func startGatewayLogged(t *testing.T, w io.Writer, extraEnv ...string) *Gateway {
	t.Helper()
	cfg, err := configs.Load("", append([]string{
		"SHARPEYES_DATA_DIR=" + t.TempDir(),
		"SHARPEYES_HTTP_ADDR=127.0.0.1:0",
		"SHARPEYES_RTSP_ADDR=127.0.0.1:0",
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:0",
		"SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:0",
		"SHARPEYES_AUTH_ADMIN_TOKEN=" + token,
		"SHARPEYES_INGEST_TIMEOUT=2s",
		"SHARPEYES_INGEST_IDLE_TIMEOUT=1s",
		"SHARPEYES_INGEST_BACKOFF_MIN=100ms",
		"SHARPEYES_INGEST_BACKOFF_MAX=500ms",
		"SHARPEYES_HEALTH_INTERVAL=0", // probes off unless a test turns them on: an unprobed on-demand camera is unknown
	}, extraEnv...))
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if w != nil {
		log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g, err := Start(cfg, Options{Web: web.FS(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func startFleet(t *testing.T, addr string, cfg camsim.Config) *camsim.Fleet {
	t.Helper()
	cfg.Listen, cfg.Main, cfg.Sub = addr, sharpeyes.MainClip, sharpeyes.SubClip
	if cfg.Cameras == 0 {
		cfg.Cameras = 2
	}
	f, err := camsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type apiClient struct {
	t    *testing.T
	base string
}

func (a apiClient) do(method, path, ctype string, body []byte, auth bool) (int, []byte) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (a apiClient) json(method, path string, v any) (int, map[string]any) {
	a.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	code, b := a.do(method, path, "application/json", body, true)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return code, out
}

// issueToken makes an API token with scopes as the admin and returns it.
func issueToken(t *testing.T, a apiClient, name string, scopes ...string) string {
	t.Helper()
	code, out := a.json("POST", "/api/v1/tokens", map[string]any{"name": name, "scopes": scopes})
	tok, _ := out["token"].(string)
	if code != http.StatusCreated || tok == "" {
		t.Fatalf("issue token %s: %d %v", name, code, out)
	}
	return tok
}

func (a apiClient) state(id string) string {
	_, st := a.json("GET", "/api/v1/cameras/"+id+"/status", nil)
	s, _ := st["state"].(string)
	return s
}

func eventually(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// viewer counts frames received by a WHEP client over HTTP.
type viewer struct {
	c      *whepclient.Client
	frames atomic.Int64
	first  chan whepclient.Frame
}

func watch(t *testing.T, base, camera, stream string) (*viewer, error) {
	sig, loc := whepclient.HTTPSignal(authed, base+"/api/v1/whep/"+camera+"?stream="+stream)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, sig, whepclient.Options{})
	if err != nil {
		return nil, err
	}
	c.OnClose(func() { _ = whepclient.Delete(authed, loc()) })
	v := &viewer{c: c, first: make(chan whepclient.Frame, 1)}
	go func() {
		for f := range c.Frames() {
			if v.frames.Add(1) == 1 {
				v.first <- f
			}
		}
	}()
	return v, nil
}

func TestLiveVideoEndToEnd(t *testing.T) {
	// Cleanups run last-in first-out: this one runs after the gateway closed.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	g := startGateway(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{User: "admin", Pass: "Cam-Secret-9"})
	camAddr := fleet.Addr()
	defer func() { fleet.Close() }()
	api := apiClient{t, "http://" + g.HTTPAddr()}

	code, cam := api.json("POST", "/api/v1/cameras", map[string]any{
		"id": "32100200001320000001", "name": "瘦西湖路东口",
		"streams":  map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location": map[string]float64{"lat": 32.4105, "lon": 119.4188}, "tags": []string{"crossing"},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, cam)
	}
	body, _ := json.Marshal(cam)
	if strings.Contains(string(body), "Cam-Secret-9") || !strings.Contains(string(body), "admin:***@") {
		t.Fatalf("credentials not redacted in response: %s", body)
	}

	// Viewer 1 on the main stream: first frame is an IDR with SPS/PPS.
	v1, err := watch(t, api.base, "32100200001320000001", "main")
	if err != nil {
		t.Fatal(err)
	}
	defer v1.c.Close()
	select {
	case f := <-v1.first:
		if !f.Key || !f.HasParams {
			t.Fatalf("first frame key=%v params=%v", f.Key, f.HasParams)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10 s")
	}
	if st := api.state("32100200001320000001"); st != "online" {
		t.Fatalf("status %q, want online", st)
	}

	// At least 90% of frames over 5 s.
	n0 := v1.frames.Load()
	time.Sleep(5 * time.Second)
	if got := v1.frames.Load() - n0; got < 113 {
		t.Fatalf("%d frames in 5 s, want >= 113 (90%% of 125)", got)
	}
	if lost := v1.c.Lost(); lost > 0 {
		t.Errorf("%d RTP packets lost on loopback", lost)
	}

	// A camera restart is survived: frames resume on the same session.
	fleet.Close()
	time.Sleep(2500 * time.Millisecond) // long enough to be noticed as a stall
	fleet = startFleet(t, camAddr, camsim.Config{User: "admin", Pass: "Cam-Secret-9"})
	n1 := v1.frames.Load()
	eventually(t, 15*time.Second, "frames after the camera restart", func() bool { return v1.frames.Load() > n1+25 })
	if _, r := api.json("GET", "/api/v1/cameras/32100200001320000001/status", nil); r["reconnects"].(float64) < 1 {
		t.Fatalf("status after restart: %v, want reconnects >= 1", r)
	}

	// A client that PUTs back what it read (password shown as ***) keeps
	// the stored password.
	_, shown := api.json("GET", "/api/v1/cameras/32100200001320000001", nil)
	shown["name"] = "瘦西湖路东口（改）"
	delete(shown, "created_at")
	delete(shown, "updated_at")
	if code, r := api.json("PUT", "/api/v1/cameras/32100200001320000001", shown); code != http.StatusOK {
		t.Fatalf("PUT back: %d %v", code, r)
	}
	stored, err := g.Store().GetCamera(context.Background(), "32100200001320000001")
	if err != nil || !strings.Contains(stored.Streams.Main, "Cam-Secret-9") || stored.Name != "瘦西湖路东口（改）" {
		t.Fatalf("after PUT back the stored camera is %+v (%v); want the password kept", stored.Name, err)
	}

	// Metrics name the camera.
	_, m := api.do("GET", "/metrics", "", nil, true)
	if !strings.Contains(string(m), `sharpeyes_camera_fps{camera="32100200001320000001",stream="main"}`) ||
		!strings.Contains(string(m), "sharpeyes_webrtc_sessions 1") {
		t.Fatalf("metrics lack the camera or the session:\n%s", m)
	}

	// Viewer leaves; the on-demand pull stops after the idle timeout.
	v1.c.Close()
	eventually(t, 10*time.Second, "idle stop", func() bool { return fleet.Sessions(1) == 0 })
}

func TestCameraAddedAndDeletedThroughAPIWithoutRestart(t *testing.T) {
	g := startGateway(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}

	code, _ := api.json("POST", "/api/v1/cameras", map[string]any{
		"id": "cam-a", "name": "A", "on_demand": false, "streams": map[string]string{"main": fleet.URL(2, false)}})
	if code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	eventually(t, 10*time.Second, "always-on camera online", func() bool { return api.state("cam-a") == "online" })
	if fleet.Sessions(2) != 1 {
		t.Fatalf("camsim sessions = %d, want 1", fleet.Sessions(2))
	}
	// Point it elsewhere: the pull moves.
	code, _ = api.json("PATCH", "/api/v1/cameras/cam-a", map[string]any{"streams": map[string]string{"main": fleet.URL(1, false)}})
	if code != http.StatusOK {
		t.Fatalf("patch: %d", code)
	}
	eventually(t, 10*time.Second, "pull moved to cam1", func() bool { return fleet.Sessions(1) == 1 && fleet.Sessions(2) == 0 })

	if code, _ := api.json("DELETE", "/api/v1/cameras/cam-a", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	eventually(t, 10*time.Second, "pull stopped", func() bool { return fleet.Sessions(0) == 0 })
	if code, _ := api.json("GET", "/api/v1/cameras/cam-a/status", nil); code != http.StatusNotFound {
		t.Fatalf("status of deleted camera: %d", code)
	}
}

func TestBadInputGetsClearErrorsWhileOthersKeepWatching(t *testing.T) {
	g := startGateway(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	api.json("POST", "/api/v1/cameras", map[string]any{"id": "good", "name": "G", "streams": map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)}})
	v, err := watch(t, api.base, "good", "sub")
	if err != nil {
		t.Fatal(err)
	}
	defer v.c.Close()
	eventually(t, 10*time.Second, "first frame", func() bool { return v.frames.Load() > 0 })

	// Broken cameras: refused, hanging, junk.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := l.Addr().String()
	l.Close()
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	junk, _ := net.Listen("tcp", "127.0.0.1:0")
	defer junk.Close()
	go func() {
		for {
			c, err := junk.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				c.Write([]byte("RTSP/1.0 ??? \x00\xff garbage\r\n\r\n"))
			}()
		}
	}()
	for id, addr := range map[string]string{"refused": refused, "hang": hang.Addr().String(), "junk": junk.Addr().String()} {
		code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": false,
			"streams": map[string]string{"main": "rtsp://user:Pw-Hidden@" + addr + "/x"}})
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", id, code, r)
		}
	}
	for _, id := range []string{"refused", "hang", "junk"} {
		eventually(t, 15*time.Second, id+" offline", func() bool { return api.state(id) == "offline" })
		_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
		msg, _ := st["last_error"].(string)
		if msg == "" || strings.Contains(msg, "Pw-Hidden") {
			t.Fatalf("%s: last_error %q, want a message without the password", id, msg)
		}
	}
	// A WHEP viewer of a dead camera gets 503, not a black tile.
	if _, err := watch(t, api.base, "refused", "main"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("viewer of a refusing camera: %v, want 503", err)
	}

	garbage := func(path, ctype, body string) (int, string) {
		code, b := api.do("POST", path, ctype, []byte(body), true)
		return code, string(b)
	}
	cases := []struct {
		name      string
		code      int
		got       func() (int, string)
		wantInMsg string
	}{
		{"garbage SDP", 400, func() (int, string) { return garbage("/api/v1/whep/good", "application/sdp", "this is not SDP") }, "SDP"},
		{"SDP wrong type", 415, func() (int, string) { return garbage("/api/v1/whep/good", "text/plain", "v=0") }, "application/sdp"},
		{"unknown camera", 404, func() (int, string) { return garbage("/api/v1/whep/nope", "application/sdp", "v=0\r\n") }, ""},
		{"oversized body", 413, func() (int, string) {
			return garbage("/api/v1/cameras", "application/json", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`)
		}, "too large"},
		{"invalid JSON", 400, func() (int, string) { return garbage("/api/v1/cameras", "application/json", `{"id": "x", `) }, "JSON"},
		{"unknown field", 400, func() (int, string) { return garbage("/api/v1/cameras", "application/json", `{"id":"x","nmae":"y"}`) }, `"field":"nmae"`},
		{"wrong type", 400, func() (int, string) { return garbage("/api/v1/cameras", "application/json", `{"id":"x","name":7}`) }, `"field":"name"`},
		{"bad lat", 400, func() (int, string) {
			return garbage("/api/v1/cameras", "application/json", `{"id":"x","name":"y","streams":{"main":"rtsp://h/a"},"location":{"lat":95,"lon":1}}`)
		}, `"field":"location.lat"`},
		{"bad scheme", 400, func() (int, string) {
			return garbage("/api/v1/cameras", "application/json", `{"id":"x","name":"y","streams":{"main":"http://h/a"}}`)
		}, `"field":"streams.main"`},
		{"bad id", 400, func() (int, string) {
			return garbage("/api/v1/cameras", "application/json", `{"id":"a/b","name":"y","streams":{"main":"rtsp://h/a"}}`)
		}, `"field":"id"`},
		{"duplicate", 409, func() (int, string) {
			return garbage("/api/v1/cameras", "application/json", `{"id":"good","name":"y","streams":{"main":"rtsp://h/a"}}`)
		}, "exists"},
		{"no token", 401, func() (int, string) {
			c, b := api.do("POST", "/api/v1/cameras", "application/json", []byte(`{}`), false)
			return c, string(b)
		}, "not authenticated"},
		{"bad limit", 400, func() (int, string) {
			c, b := api.do("GET", "/api/v1/cameras?limit=0", "", nil, true)
			return c, string(b)
		}, `"field":"limit"`},
		{"unknown camera GET", 404, func() (int, string) {
			c, b := api.do("GET", "/api/v1/cameras/nope", "", nil, true)
			return c, string(b)
		}, "not found"},
	}
	for _, tc := range cases {
		code, msg := tc.got()
		if code != tc.code || !strings.Contains(msg, tc.wantInMsg) {
			t.Errorf("%s: %d %s; want %d mentioning %q", tc.name, code, msg, tc.code, tc.wantInMsg)
		}
	}
	// VP8-only offer: 406 with a message.
	sig, _ := whepclient.HTTPSignal(authed, api.base+"/api/v1/whep/good")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = whepclient.Dial(ctx, sig, whepclient.Options{Codecs: []string{"VP8"}})
	var se *whepclient.StatusError
	if !errors.As(err, &se) || se.Code != 406 || !strings.Contains(se.Body, "H264") {
		t.Errorf("VP8 offer: %v, want 406 naming H264", err)
	}

	// Meanwhile the good viewer kept receiving frames.
	n := v.frames.Load()
	eventually(t, 5*time.Second, "frames still flowing", func() bool { return v.frames.Load() > n+20 })
	_, list := api.json("GET", "/api/v1/cameras", nil)
	if b, _ := json.Marshal(list); strings.Contains(string(b), "Pw-Hidden") {
		t.Fatal("a password leaked in the camera list")
	}
}

func TestCodecsAudioAndICETCP(t *testing.T) {
	g := startGateway(t)
	h265 := startFleet(t, "127.0.0.1:0", camsim.Config{H265: sharpeyes.H265Clip, Cameras: 1})
	defer h265.Close()
	withAudio := startFleet(t, "127.0.0.1:0", camsim.Config{Audio: true, Cameras: 1})
	defer withAudio.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for id, u := range map[string]string{"hevc": h265.URL(1, false), "talk": withAudio.URL(1, true)} {
		if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "streams": map[string]string{"main": u}}); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, r)
		}
	}

	// An H.265 camera and a viewer that only decodes H.264: a clear 406, not a black tile.
	_, err := watch(t, api.base, "hevc", "main")
	var se *whepclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotAcceptable || !strings.Contains(se.Body, "H265") {
		t.Fatalf("H.264-only viewer of an H.265 camera: %v, want 406 naming H265", err)
	}
	_, st := api.json("GET", "/api/v1/cameras/hevc/status", nil)
	if st["codec"] != "H265" {
		t.Fatalf("status %v, want codec H265", st)
	}

	// G.711 audio is relayed as is next to the video.
	sig, _ := whepclient.HTTPSignal(authed, api.base+"/api/v1/whep/talk")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, sig, whepclient.Options{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, 10*time.Second, "audio packets", func() bool { n, _ := c.AudioPackets(); return n > 25 })
	if _, pt := c.AudioPackets(); pt != 8 {
		t.Fatalf("audio payload type %d, want 8 (PCMA)", pt)
	}
	select {
	case f := <-c.Frames():
		if !f.Key {
			t.Fatal("first video frame is not a keyframe")
		}
	case <-ctx.Done():
		t.Fatal("no video next to the audio")
	}

	// A viewer that can only use TCP gets video through ICE-TCP.
	sig2, _ := whepclient.HTTPSignal(authed, api.base+"/api/v1/whep/talk")
	tc, err := whepclient.Dial(ctx, sig2, whepclient.Options{TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	n := 0
	for n < 25 {
		select {
		case <-tc.Frames():
			n++
		case <-ctx.Done():
			t.Fatalf("ICE-TCP viewer got %d frames, state %s", n, tc.State())
		}
	}
}

func TestHealthzAndICEServerLinks(t *testing.T) {
	g := startGateway(t, `SHARPEYES_WEBRTC_ICE_SERVERS=[{"urls":["stun:127.0.0.1:3478"]},{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"p"}]`)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	code, body := api.do("GET", "/healthz", "", nil, false)
	if code != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	options := func(auth bool) *http.Response {
		req, _ := http.NewRequest("OPTIONS", api.base+"/api/v1/whep/any", nil)
		req.Header.Set("Origin", "https://wall.example")
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// An anonymous preflight learns no TURN credentials.
	if resp := options(false); resp.StatusCode != 204 || len(resp.Header.Values("Link")) != 0 {
		t.Fatalf("anonymous OPTIONS: %d, Link %q", resp.StatusCode, resp.Header.Values("Link"))
	}
	resp := options(true)
	links := resp.Header.Values("Link")
	if resp.StatusCode != 204 || len(links) != 2 || !strings.Contains(links[0], `<stun:127.0.0.1:3478>; rel="ice-server"`) ||
		!strings.Contains(links[1], `username="u"; credential="p"`) {
		t.Fatalf("OPTIONS: %d, Link %q", resp.StatusCode, links)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("CORS headers missing: %v", resp.Header)
	}
	if code, _ := api.do("PATCH", "/api/v1/whep/any/session", "application/trickle-ice-sdpfrag", []byte("a=x"), true); code != 405 {
		t.Fatalf("PATCH: %d, want 405", code)
	}
	if code, _ := api.do("DELETE", "/api/v1/whep/any/nosuchsession", "", nil, true); code != 404 {
		t.Fatalf("DELETE unknown session: %d, want 404", code)
	}
}
