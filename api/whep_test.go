package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sharpeyes/ingest"
	"sharpeyes/registry"
)

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"

func TestWHEPSessions(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	east := h.token([]string{"video", "cameras:read"}, "S-A")
	sdp := "Content-Type"

	// Not SDP, a bad variant, a camera outside: refused, no session.
	h.must(http.StatusUnsupportedMediaType, "POST", "/api/v1/whep/a1", east, []byte(offerSDP))
	h.must(http.StatusBadRequest, "POST", "/api/v1/whep/a1?stream=hd", east, []byte(offerSDP), sdp, "application/sdp")
	h.must(http.StatusNotFound, "POST", "/api/v1/whep/b1", east, []byte(offerSDP), sdp, "application/sdp")
	h.must(http.StatusUnauthorized, "POST", "/api/v1/whep/a1", "", []byte(offerSDP), sdp, "application/sdp")
	if n := h.whep.Sessions(""); n != 0 {
		t.Fatalf("%d sessions after refusals", n)
	}

	c := h.must(http.StatusCreated, "POST", "/api/v1/whep/a1", east, []byte(offerSDP), sdp, "application/sdp")
	loc := c.header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/whep/a1/") || c.header.Get("Content-Type") != "application/sdp" || c.header.Get("ETag") == "" {
		t.Fatalf("answer headers %v", c.header)
	}
	if !strings.Contains(strings.Join(c.header.Values("Link"), ","), `rel="ice-server"`) {
		t.Fatalf("no ICE server links: %v", c.header.Values("Link"))
	}
	// CORS preflight, PATCH (no trickle) and someone else's DELETE.
	o := h.must(http.StatusNoContent, "OPTIONS", loc, "", nil)
	if o.header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("preflight headers %v", o.header)
	}
	h.must(http.StatusMethodNotAllowed, "PATCH", loc, east, "a=candidate:1")
	h.must(http.StatusOK, "DELETE", loc, east, nil)
	h.must(http.StatusNotFound, "DELETE", loc, east, nil)

	// A viewer ends their own sessions, not another's.
	h.user("w1", "grid_worker", "S-A")
	h.user("w2", "grid_worker", "S-A")
	w1, w2 := h.login("w1", "Pass-word-12345"), h.login("w2", "Pass-word-12345")
	c = w1.call("POST", "/api/v1/whep/a1", offerSDP, sdp, "application/sdp")
	if c.status != http.StatusCreated {
		t.Fatalf("w1 offer: %d %s", c.status, c.body)
	}
	loc = c.header.Get("Location")
	if st := w2.call("DELETE", loc, "").status; st != http.StatusNotFound {
		t.Fatalf("w2 ended w1's session: %d", st)
	}
	if st := w1.call("DELETE", loc, "").status; st != http.StatusOK {
		t.Fatalf("w1 ending its own session: %d", st)
	}
	other := h.token([]string{"video"}, "S-A")

	// A session whose token is revoked is ended by Run.
	c = h.must(http.StatusCreated, "POST", "/api/v1/whep/a1", other, []byte(offerSDP), sdp, "application/sdp")
	var toks struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/tokens", adminToken, nil).json(t, &toks)
	for _, tk := range toks.Items {
		h.must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tk.ID, adminToken, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.srv.Run(ctx, 5*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the revoked token's session ended", func() bool { return h.whep.Sessions("a1") == 0 })
}

// cluster2 is a cluster where node-b pulls every camera.
type cluster2 struct{ self, other registry.Node }

func (c cluster2) Self() registry.Node        { return c.self }
func (c cluster2) Owner(string) registry.Node { return c.other }
func (c cluster2) Nodes() []registry.Node     { return []registry.Node{c.self, c.other} }
func (c cluster2) RemoteStatus(context.Context, string) (registry.CameraStatus, error) {
	return registry.CameraStatus{Node: c.other.ID, Status: []byte(`{"state":"online"}`)}, nil
}

func TestWHEPGoesToTheNodeThatPulls(t *testing.T) {
	var h *harness
	h = newHarness(t, func(hh *harness, _ *Config, d *Deps) {
		d.Cluster = cluster2{registry.Node{ID: "node-a"}, registry.Node{ID: "node-b", HTTP: "http://127.0.0.1:1"}}
	})
	h.camera("a1", "")
	req, _ := http.NewRequest("POST", h.http.URL+"/api/v1/whep/a1", strings.NewReader(offerSDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	cli := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("offer for another node's camera: %d", res.StatusCode)
	}
	u, _ := url.Parse(res.Header.Get("Location"))
	if u.Host != "127.0.0.1:1" || u.Query().Get("ticket") == "" {
		t.Fatalf("redirect to %s", u)
	}
	// The ticket works here too (any node checks it) and only for a1.
	tk := url.QueryEscape(u.Query().Get("ticket"))
	c := h.do("POST", "/api/v1/whep/a1?ticket="+tk, "", []byte(offerSDP), "Content-Type", "application/sdp")
	if c.status != http.StatusTemporaryRedirect && c.status != http.StatusCreated {
		t.Fatalf("ticket on its camera: %d %s", c.status, c.body)
	}
	h.must(http.StatusUnauthorized, "POST", "/api/v1/whep/a2?ticket="+tk, "", []byte(offerSDP), "Content-Type", "application/sdp")
	// The status comes from the owner.
	var st statusView
	h.must(http.StatusOK, "GET", "/api/v1/cameras/a1/status", adminToken, nil).json(t, &st)
	if st.Node != "node-b" || st.State != ingest.StateOnline {
		t.Fatalf("remote status %+v", st)
	}
	var nodes struct {
		Items []registry.Node `json:"items"`
		Self  string          `json:"self"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/nodes", adminToken, nil).json(t, &nodes)
	if len(nodes.Items) != 2 || nodes.Self != "node-a" {
		t.Fatalf("nodes %+v", nodes)
	}
}

func TestMetricsFollowJurisdiction(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	h.camera("b2", "S-B")
	h.pulls.set("a1", ingest.StateOnline)
	h.pulls.set("b1", ingest.StateOnline)
	h.pulls.set("b2", ingest.StateOffline)
	all := string(h.must(http.StatusOK, "GET", "/metrics", adminToken, nil).body)
	for _, want := range []string{`sharpeyes_camera_up{camera="a1",stream="main"} 1`, `sharpeyes_camera_up{camera="b1",stream="main"} 1`,
		`sharpeyes_camera_up{camera="b2",stream="main"} 0`, "sharpeyes_recording_storage_full 0", "sharpeyes_webrtc_batched_send_calls_total 3"} {
		if !strings.Contains(all, want) {
			t.Errorf("street metrics lack %s", want)
		}
	}
	east := h.token([]string{"metrics"}, "S-A")
	part := string(h.must(http.StatusOK, "GET", "/metrics", east, nil).body)
	if !strings.Contains(part, `camera="a1"`) || strings.Contains(part, `camera="b1"`) || strings.Contains(part, `camera="b2"`) ||
		strings.Contains(part, "sharpeyes_recording_storage_full") {
		t.Fatalf("a S-A scraper sees:\n%s", part)
	}
	h.must(http.StatusForbidden, "GET", "/metrics", h.token([]string{"cameras:read"}), nil)
}

func TestGridsReadAndImport(t *testing.T) {
	h := newHarness(t)
	h.camera("a1", "")
	h.must(http.StatusUnsupportedMediaType, "POST", "/api/v1/grids/import", adminToken, []byte("{}"), "Content-Type", "text/plain")
	var rep importReport
	h.must(http.StatusBadRequest, "POST", "/api/v1/grids/import", adminToken, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}`),
		"Content-Type", "application/geo+json").json(t, &rep)
	if len(rep.Problems) == 0 {
		t.Fatalf("no problems named: %+v", rep)
	}
	h.streetGrids()
	// The camera's location put it in S-A when the grids came.
	var cam struct {
		Grid string `json:"grid"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/cameras/a1", adminToken, nil).json(t, &cam)
	if cam.Grid != "S-A" {
		t.Fatalf("camera after import in %q", cam.Grid)
	}
	var list struct {
		Items []cellView `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/grids?parent=S", adminToken, nil).json(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("children of S: %+v", list)
	}
	h.must(http.StatusOK, "GET", "/api/v1/grids?parent=", adminToken, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Code != "S" || list.Items[0].Children != 2 {
		t.Fatalf("roots: %+v", list)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []any  `json:"features"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/grids?format=geojson", adminToken, nil).json(t, &fc)
	if fc.Type != "FeatureCollection" || len(fc.Features) != 3 {
		t.Fatalf("geojson %+v", fc)
	}
	h.must(http.StatusBadRequest, "GET", "/api/v1/grids?format=kml", adminToken, nil)
	var f struct {
		Type       string `json:"type"`
		Properties struct {
			Code string `json:"code"`
		} `json:"properties"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/grids/S-A", adminToken, nil).json(t, &f)
	if f.Type != "Feature" || f.Properties.Code != "S-A" {
		t.Fatalf("feature %+v", f)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/grids/NOPE", adminToken, nil)
	var page cameraPage
	h.must(http.StatusOK, "GET", "/api/v1/grids/S/cameras", adminToken, nil).json(t, &page)
	if page.ids() != "a1" {
		t.Fatalf("cameras of S: %s", page.ids())
	}
	// Limited to S-B, S-A is hidden and the grid set may not be replaced.
	west := h.token([]string{"cameras:read", "grids:write"}, "S-B")
	h.must(http.StatusNotFound, "GET", "/api/v1/grids/S-A", west, nil)
	h.must(http.StatusForbidden, "POST", "/api/v1/grids/import", west, []byte("{}"), "Content-Type", "application/geo+json")
}

// waitFor polls cond until it holds (failing the test after 10 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
