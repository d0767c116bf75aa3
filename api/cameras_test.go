package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"sharpeyes/ingest"
)

type cameraPage struct {
	Items []struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Grid      string          `json:"grid"`
		Streams   json.RawMessage `json:"streams"`
		DistanceM *float64        `json:"distance_m"`
		Status    *struct {
			State string `json:"state"`
		} `json:"status"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (p cameraPage) ids() string {
	var out []string
	for _, c := range p.Items {
		out = append(out, c.ID)
	}
	return strings.Join(out, ",")
}

func TestCameraLifecycle(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("cam-1", "S-A")

	// The password is never answered, to anyone.
	got := h.must(http.StatusOK, "GET", "/api/v1/cameras/cam-1", adminToken, nil)
	if strings.Contains(string(got.body), "Cam-Secret-1") {
		t.Fatalf("camera answered with its password: %s", got.body)
	}
	var cam struct {
		Name    string `json:"name"`
		Grid    string `json:"grid"`
		Streams struct {
			Main string `json:"main"`
		} `json:"streams"`
		Cells struct {
			Base string `json:"base"`
		} `json:"cells"`
	}
	got.json(t, &cam)
	if cam.Grid != "S-A" || cam.Cells.Base != "S-A" || !strings.Contains(cam.Streams.Main, "***") {
		t.Fatalf("camera = %+v", cam)
	}

	// PUT back what was read keeps the password.
	var doc map[string]any
	got.json(t, &doc)
	doc["name"] = "新名字"
	h.must(http.StatusOK, "PUT", "/api/v1/cameras/cam-1", adminToken, doc)
	stored, _ := h.catalog.Get("cam-1")
	if stored.Name != "新名字" || !strings.Contains(stored.Streams.Main, "Cam-Secret-1") {
		t.Fatalf("after PUT: name %q main %q", stored.Name, stored.Streams.Main)
	}
	// PUT naming another id is refused.
	doc["id"] = "cam-2"
	if f, _ := h.must(http.StatusBadRequest, "PUT", "/api/v1/cameras/cam-1", adminToken, doc).errField(t); f != "id" {
		t.Fatalf("field %q", f)
	}

	// PATCH is a merge patch: tags set, the rest kept; read-only fields refused.
	h.must(http.StatusOK, "PATCH", "/api/v1/cameras/cam-1", adminToken, map[string]any{"tags": []string{"gate"}})
	stored, _ = h.catalog.Get("cam-1")
	if len(stored.Tags) != 1 || stored.Tags[0] != "gate" || stored.Name != "新名字" {
		t.Fatalf("after PATCH: %+v", stored)
	}
	for _, ro := range []string{"id", "created_at", "updated_at"} {
		if f, _ := h.must(http.StatusBadRequest, "PATCH", "/api/v1/cameras/cam-1", adminToken, map[string]any{ro: "x"}).errField(t); f != ro {
			t.Fatalf("PATCH %s: field %q", ro, f)
		}
	}
	h.must(http.StatusBadRequest, "PATCH", "/api/v1/cameras/cam-1", adminToken, map[string]any{"nonsense": 1})
	h.must(http.StatusBadRequest, "PATCH", "/api/v1/cameras/cam-1", adminToken, "null")
	if f, _ := h.must(http.StatusBadRequest, "PATCH", "/api/v1/cameras/cam-1", adminToken, map[string]any{"grid": "NOPE"}).errField(t); f != "grid" {
		t.Fatalf("unknown grid: field %q", f)
	}

	// Status: the pull's state, with this node.
	h.pulls.set("cam-1", ingest.StateOnline)
	var st struct {
		State string `json:"state"`
		Node  string `json:"node"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/cameras/cam-1/status", adminToken, nil).json(t, &st)
	if st.State != "online" || st.Node != "node-a" {
		t.Fatalf("status %+v", st)
	}

	// A duplicate is 409; delete is 204, then 404.
	h.must(http.StatusConflict, "POST", "/api/v1/cameras", adminToken, map[string]any{"id": "cam-1", "name": "x",
		"streams": map[string]any{"main": "rtsp://10.0.0.2/x"}})
	h.must(http.StatusNoContent, "DELETE", "/api/v1/cameras/cam-1", adminToken, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/cameras/cam-1", adminToken, nil)
	h.must(http.StatusNotFound, "DELETE", "/api/v1/cameras/cam-1", adminToken, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/cameras/cam-1/status", adminToken, nil)
}

func TestCameraInputErrorsNameTheField(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"id":"c1","name":"x","streams":{"main":"http://10.0.0.1/x"}}`, "streams.main"},
		{`{"id":"c1","name":"x"}`, "streams.main"},
		{`{"id":"c 1","name":"x","streams":{"main":"rtsp://10.0.0.1/x"}}`, "id"},
		{`{"id":"c1","name":"x","streams":{"main":"rtsp://10.0.0.1/x"},"grid":"NOPE"}`, "grid"},
		{`{"id":"c1","name":"x","streams":{"main":"rtsp://10.0.0.1/x"},"location":{"lat":91,"lon":0}}`, "location.lat"},
		{`{"id":"c1","name":"x","streams":{"main":"rtsp://10.0.0.1/x"},"bogus":true}`, "bogus"},
	} {
		c := h.do("POST", "/api/v1/cameras", adminToken, tc.body)
		if c.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", tc.body, c.status, c.body)
			continue
		}
		if f, msg := c.errField(t); f != tc.field || msg == "" {
			t.Errorf("%s: field %q (%s), want %q", tc.body, f, msg, tc.field)
		}
	}
	// Not JSON, and JSON of the wrong shape, are 400 with a message.
	for _, b := range []string{`{"id":`, `[1,2]`, `{"id":5}`} {
		if c := h.do("POST", "/api/v1/cameras", adminToken, b); c.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", b, c.status, c.body)
		}
	}
	if n := len(h.catalog.All()); n != 0 {
		t.Fatalf("%d cameras after only bad input", n)
	}
}

func TestCameraListFiltersAndPages(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	for _, id := range []string{"a1", "a2", "a3"} {
		h.camera(id, "S-A")
	}
	h.camera("b1", "S-B")
	h.must(http.StatusOK, "PATCH", "/api/v1/cameras/a2", adminToken, map[string]any{"tags": []string{"school"}})
	h.pulls.set("a1", ingest.StateOnline)
	h.pulls.set("b1", ingest.StateOffline)

	list := func(q string) cameraPage {
		var p cameraPage
		h.must(http.StatusOK, "GET", "/api/v1/cameras"+q, adminToken, nil).json(t, &p)
		return p
	}
	for q, want := range map[string]string{
		"":                "a1,a2,a3,b1",
		"?grid=S-A":       "a1,a2,a3",
		"?grid=S":         "a1,a2,a3,b1",
		"?grid=S-B":       "b1",
		"?tag=school":     "a2",
		"?status=online":  "a1",
		"?status=offline": "b1",
	} {
		if got := list(q).ids(); got != want {
			t.Errorf("%q: %s, want %s", q, got, want)
		}
	}
	// Pages of two follow the cursor to the end.
	var seen []string
	q := "?limit=2"
	for i := 0; i < 5; i++ {
		p := list(q)
		seen = append(seen, p.ids())
		if p.NextCursor == "" {
			break
		}
		q = "?limit=2&cursor=" + p.NextCursor
	}
	if strings.Join(seen, "|") != "a1,a2|a3,b1" {
		t.Fatalf("pages %v", seen)
	}
	// Near: nearest first, with the distance; paged by offset.
	p := list("?near=30.005,120.015&radius=5000&limit=1")
	if p.ids() != "b1" || p.Items[0].DistanceM == nil || *p.Items[0].DistanceM > 1 || p.NextCursor == "" {
		t.Fatalf("near: %+v", p)
	}
	if n := len(list("?near=30.005,120.015&radius=5000&limit=1&cursor=" + p.NextCursor).Items); n != 1 {
		t.Fatalf("near page 2: %d", n)
	}
	// include=status gives each row its dot.
	for _, it := range list("?include=status&grid=S-B").Items {
		if it.Status == nil || it.Status.State != "offline" {
			t.Fatalf("include=status: %+v", it)
		}
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?near=abc", "?near=30,120&radius=-1", "?status=weird", "?cursor=bm9wZQ"} {
		if c := h.do("GET", "/api/v1/cameras"+bad, adminToken, nil); c.status != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, c.status)
		}
	}
}

func TestCameraImportJSONAndCSV(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	var res struct {
		Created int `json:"created"`
		Updated int `json:"updated"`
		Rows    []struct {
			Row   int    `json:"row"`
			Field string `json:"field"`
		} `json:"rows"`
	}
	body := `[{"id":"j1","name":"一","streams":{"main":"rtsp://u:p@10.0.0.1/1"},"grid":"S-A"},
{"id":"j2","name":"二","streams":{"main":"rtsp://10.0.0.1/2"}}]`
	h.must(http.StatusOK, "POST", "/api/v1/cameras/import", adminToken, body).json(t, &res)
	if res.Created != 2 || len(h.catalog.All()) != 2 {
		t.Fatalf("json import: %+v", res)
	}
	csv := "id,name,main,grid,lat,lon,tags\nc1,甲,rtsp://10.0.0.1/c1,S-B,30.005,120.015,a;b\nc2,乙,ftp://x,,,,\n"
	c := h.do("POST", "/api/v1/cameras/import", adminToken, []byte(csv), "Content-Type", "text/csv")
	if c.status != http.StatusBadRequest && c.status != http.StatusUnprocessableEntity {
		t.Fatalf("csv with a bad row: %d %s", c.status, c.body)
	}
	c.json(t, &res)
	if len(res.Rows) != 1 || res.Rows[0].Row != 3 || res.Rows[0].Field != "streams.main" {
		t.Fatalf("csv errors: %s", c.body)
	}
	if _, ok := h.catalog.Get("c1"); ok {
		t.Fatal("a file with a bad row imported its good rows")
	}
	csv = "id,name,main,grid,lat,lon,tags\nc1,甲,rtsp://10.0.0.1/c1,S-B,30.005,120.015,a;b\n"
	h.must(http.StatusOK, "POST", "/api/v1/cameras/import", adminToken, []byte(csv), "Content-Type", "text/csv")
	if cam, ok := h.catalog.Get("c1"); !ok || cam.Grid != "S-B" || len(cam.Tags) != 2 {
		t.Fatalf("csv camera: %+v", cam)
	}
	// Again without upsert: the ids exist.
	if c := h.do("POST", "/api/v1/cameras/import", adminToken, body); c.status < 400 {
		t.Fatalf("re-import without upsert: %d %s", c.status, c.body)
	}
	h.must(http.StatusOK, "POST", "/api/v1/cameras/import?mode=upsert", adminToken, body).json(t, &res)
	if res.Updated != 2 {
		t.Fatalf("upsert: %+v", res)
	}
}
