package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/recording"
	"sharpeyes/registry"
)

func TestPlaybackIsLoggedAndBounded(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	h.rec.footage = map[string][]byte{"a1": []byte("ftyp-footage-of-a1")}
	watcher := h.token([]string{"recordings:read", "cameras:read"}, "S-A")
	start := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	c := h.must(http.StatusOK, "GET", "/api/v1/cameras/a1/playback?start="+start+"&duration=30", watcher, nil)
	if string(c.body) != "ftyp-footage-of-a1" || c.header.Get("Content-Type") != "video/mp4" || c.header.Get("X-Playback-Start") == "" {
		t.Fatalf("playback %q %v", c.body, c.header)
	}
	looks := h.rec.looks()
	if len(looks) != 1 || looks[0].Kind != "playback" || looks[0].CameraID != "a1" || !strings.Contains(looks[0].Who, "token") {
		t.Fatalf("access log %+v", looks)
	}
	// A download needs recordings:export; the other cell is not there.
	h.must(http.StatusForbidden, "GET", "/api/v1/cameras/a1/playback?format=mp4&start="+start+"&duration=30", watcher, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/cameras/b1/playback?start="+start+"&duration=30", watcher, nil)
	for _, q := range []string{"", "?start=" + start, "?start=" + start + "&duration=1e3", "?start=" + start + "&duration=0.01",
		"?start=" + start + "&duration=99999", "?start=2999-01-01T00:00:00Z&duration=5", "?start=" + start + "&duration=5&format=avi",
		"?start=" + start + "&duration=5&stream=hd"} {
		if c := h.do("GET", "/api/v1/cameras/a1/playback"+q, watcher, nil); c.status != http.StatusBadRequest {
			t.Errorf("playback%s: %d", q, c.status)
		}
	}
	// No footage is 404; the log unreachable means no footage shown.
	h.must(http.StatusNotFound, "GET", "/api/v1/cameras/b1/playback?start="+start+"&duration=30", adminToken, nil)
	h.rec.logFails = errors.New("disk gone")
	if c := h.do("GET", "/api/v1/cameras/a1/playback?start="+start+"&duration=30", watcher, nil); c.status < 500 || strings.Contains(string(c.body), "footage-of") {
		t.Fatalf("playback with the log down: %d %q", c.status, c.body)
	}
	h.rec.logFails = nil
	// Export: a file to keep, named for the camera.
	c = h.must(http.StatusOK, "GET", "/api/v1/cameras/a1/playback?format=mp4&start="+start+"&duration=30", adminToken, nil)
	if !strings.Contains(c.header.Get("Content-Disposition"), `filename="a1-main-`) {
		t.Fatalf("export headers %v", c.header)
	}

	// The timeline: spans within the range asked.
	var tl struct {
		Items  []recording.Span `json:"items"`
		Stream string           `json:"stream"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/cameras/a1/recordings", watcher, nil).json(t, &tl)
	if len(tl.Items) != 1 || tl.Stream != "main" {
		t.Fatalf("timeline %+v", tl)
	}
	for _, q := range []string{"?from=x", "?to=x", "?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		h.must(http.StatusBadRequest, "GET", "/api/v1/cameras/a1/recordings"+q, watcher, nil)
	}
	// Auditors read who looked.
	h.must(http.StatusForbidden, "GET", "/api/v1/recordings/access", watcher, nil)
	var acc struct {
		Items []recording.Access `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/recordings/access?camera_id=a1", adminToken, nil).json(t, &acc)
	if len(acc.Items) != 2 {
		t.Fatalf("access rows %+v", acc)
	}
	h.must(http.StatusBadRequest, "GET", "/api/v1/recordings/access?from=yesterday", adminToken, nil)
}

func TestPlaybackOnAnotherNodeRedirects(t *testing.T) {
	h := newHarness(t, func(hh *harness, _ *Config, d *Deps) {
		d.Cluster = cluster2{self: nodeA, other: nodeB}
	})
	h.camera("a1", "")
	h.rec.elsewhere = map[string]string{"a1": "node-b"}
	start := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	c := h.must(http.StatusTemporaryRedirect, "GET", "/api/v1/cameras/a1/playback?start="+start+"&duration=30", adminToken, nil)
	if loc := c.header.Get("Location"); !strings.HasPrefix(loc, nodeB.HTTP+"/api/v1/cameras/a1/playback?") || !strings.Contains(loc, "ticket=") {
		t.Fatalf("redirect to %q", loc)
	}
	if n := len(h.rec.looks()); n != 0 {
		t.Fatalf("the redirecting node logged %d looks (the node that serves logs it)", n)
	}
	h.rec.elsewhere["a1"] = "node-gone"
	h.must(http.StatusServiceUnavailable, "GET", "/api/v1/cameras/a1/playback?start="+start+"&duration=30", adminToken, nil)
}

func TestEvidenceClipsAreServedWithTheirDigest(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	r := h.event(adminToken, "a1", "fire_smoke", "e-1")
	body := []byte("mp4-bytes-of-the-evidence-clip-0123456789")
	sum := sha256.Sum256(body)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	h.rec.clips = []recording.Clip{
		{ID: "clip1", CaseID: r.CaseID, CameraID: "a1", Stream: "main", State: recording.ClipReady, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(body))},
		{ID: "clip2", CaseID: r.CaseID, CameraID: "a1", Stream: "main", State: "pending"},
	}
	h.rec.files = map[string]string{"clip1": path}
	var list struct {
		Items []clipView `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/cases/"+r.CaseID+"/clips", adminToken, nil).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].URL == "" || list.Items[1].URL != "" {
		t.Fatalf("clips %+v", list)
	}
	c := h.must(http.StatusOK, "GET", list.Items[0].URL+"?download=1", adminToken, nil)
	if string(c.body) != string(body) || c.header.Get("X-Content-SHA256") != hex.EncodeToString(sum[:]) ||
		!strings.HasPrefix(c.header.Get("Repr-Digest"), "sha-256=:") || !strings.Contains(c.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("clip %q %v", c.body, c.header)
	}
	// A player's range requests right after are the same look.
	c = h.must(http.StatusPartialContent, "GET", list.Items[0].URL, adminToken, nil, "Range", "bytes=0-3")
	if string(c.body) != "mp4-" {
		t.Fatalf("range %q", c.body)
	}
	if looks := h.rec.looks(); len(looks) != 1 || looks[0].Kind != "clip" || looks[0].ClipID != "clip1" {
		t.Fatalf("looks %+v", looks)
	}
	// Another viewer is another look; with the log down nothing is served.
	h.rec.logFails = errors.New("log down")
	viewer := h.token([]string{"cases:read"}, "S-A")
	c = h.do("GET", list.Items[0].URL, viewer, nil)
	if c.status != http.StatusServiceUnavailable || strings.Contains(string(c.body), "evidence") {
		t.Fatalf("clip with the log down: %d %q", c.status, c.body)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/cases/"+r.CaseID+"/clips/nope", adminToken, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/cases/"+r.CaseID+"/clips", h.token([]string{"cases:read"}, "S-B"), nil)
}

var (
	nodeA = registry.Node{ID: "node-a"}
	nodeB = registry.Node{ID: "node-b", HTTP: "http://127.0.0.1:1"}
)
