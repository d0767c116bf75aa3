package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
)

// TestJurisdictionSeams: what one cell's people are shown of things that
// span cells or reveal the street's network.
//   - A site outage grouping cameras of two cells shows a grid worker of one
//     cell only their camera and cell (not the other's, nor the site host).
//   - GET /cases?grid=<parent cell> is the cell's subtree, for everyone.
//   - A metrics token limited to one cell scrapes only its cameras.
//   - Camera JSON shows stream URLs and device addresses only to those who
//     may change cameras.
func TestJurisdictionSeams(t *testing.T) {
	g, admin := demoStreet(t)
	ix := g.Grids()
	a, _ := ix.Get(cellA)
	latA, lonA := inside(t, ix, cellA)
	latB, lonB := inside(t, ix, cellB)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	// Two cameras of two cells behind one NVR (the same stream host: a site).
	for i, c := range []struct {
		id       string
		lat, lon float64
	}{{"siteA", latA, lonA}, {"siteB", latB, lonB}} {
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": c.id, "name": c.id, "on_demand": false,
			"streams": map[string]string{"main": fleet.URL(i+1, false)}, "device": map[string]string{"address": "10.20.30.40"},
			"location": map[string]float64{"lat": c.lat, "lon": c.lon}}); code != 201 {
			t.Fatalf("camera %s: %d %v", c.id, code, out)
		}
	}
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))

	// Camera JSON: the worker and the dispatcher watch; only the admin sees where the streams are.
	for _, who := range []*person{worker, centre} {
		code, cam := who.json("GET", "/api/v1/cameras/siteA", nil)
		if code != 200 {
			t.Fatalf("%s reads siteA: %d", who.name, code)
		}
		if _, ok := cam["streams"]; ok {
			t.Errorf("%s is shown siteA's streams: %v", who.name, cam["streams"])
		}
		if _, ok := cam["device"]; ok {
			t.Errorf("%s is shown siteA's device: %v", who.name, cam["device"])
		}
		_, raw := who.do("GET", "/api/v1/cameras", "", nil)
		if strings.Contains(string(raw), "127.0.0.1") || strings.Contains(string(raw), "10.20.30.40") {
			t.Errorf("%s's camera list shows stream or device hosts: %s", who.name, raw)
		}
	}
	if _, cam := admin.json("GET", "/api/v1/cameras/siteA", nil); cam["streams"] == nil || cam["device"] == nil {
		t.Errorf("the admin is not shown siteA's streams and device: %v", cam)
	}

	// The site outage: both cameras (online now) reported offline three
	// minutes ago by their NVR (an integrator may not post as the gateway).
	eventually(t, 10*time.Second, "both cameras pulled", func() bool { return admin.state("siteA") == "online" && admin.state("siteB") == "online" })
	for _, id := range []string{"siteA", "siteB"} {
		body := fmt.Sprintf(`{"source":"isapi","source_event_id":"off-%s","camera_id":%q,"kind":"offline","phase":"start","time":%q}`,
			id, id, time.Now().Add(-3*time.Minute).UTC().Format(time.RFC3339))
		if code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Fatalf("offline %s: %d %s", id, code, raw)
		}
	}
	var site map[string]any
	eventually(t, 15*time.Second, "the site outage incident", func() bool {
		_, out := admin.json("GET", "/api/v1/incidents?kind=offline&open=true", nil)
		items, _ := out["items"].([]any)
		for _, it := range items {
			if in := it.(map[string]any); len(in["cameras"].([]any)) == 2 {
				site = in
				return true
			}
		}
		return false
	})
	_, list := worker.json("GET", "/api/v1/incidents?kind=offline", nil)
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("the worker sees %d offline incidents, want the site's one: %v", len(items), list)
	}
	for _, in := range []map[string]any{items[0].(map[string]any), getJSON(t, worker, "/api/v1/incidents/"+site["id"].(string))} {
		if fmt.Sprint(in["cameras"]) != "[siteA]" || fmt.Sprint(in["grids"]) != "["+cellA+"]" || in["camera_id"] != "siteA" || in["site"] != nil {
			t.Errorf("the worker is shown the site incident as cameras %v grids %v camera %v site %v; want only siteA, %s, no site",
				in["cameras"], in["grids"], in["camera_id"], in["site"], cellA)
		}
	}

	// ?grid=<parent> on cases is the subtree.
	code, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "environment", "title": "垃圾满溢", "grid": cellA})
	if code != 201 {
		t.Fatalf("case: %d %v", code, cs)
	}
	for _, who := range []struct {
		name string
		get  func(string) map[string]any
	}{{"admin", func(p string) map[string]any { _, o := admin.json("GET", p, nil); return o }},
		{"dispatcher", func(p string) map[string]any { return getJSON(t, centre, p) }}} {
		for _, g := range []string{a.Parent, street, cellA} {
			out := who.get("/api/v1/cases?grid=" + g)
			items, _ := out["items"].([]any)
			found := false
			for _, it := range items {
				found = found || it.(map[string]any)["id"] == cs["id"]
			}
			if !found {
				t.Errorf("%s: GET /cases?grid=%s misses the case of %s below it: %v", who.name, g, cellA, out)
			}
		}
		if out := who.get("/api/v1/cases?grid=" + cellB); len(out["items"].([]any)) != 0 {
			t.Errorf("%s: GET /cases?grid=%s shows another cell's cases: %v", who.name, cellB, out)
		}
	}

	// A metrics token of one cell: only that cell's cameras.
	code, tok := admin.json("POST", "/api/v1/tokens", map[string]any{"name": "cell-a-prometheus", "scopes": []string{"metrics"}, "grids": []string{cellA}})
	if code != 201 {
		t.Fatalf("metrics token: %d %v", code, tok)
	}
	req, _ := http.NewRequest("GET", admin.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok["token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(m), `camera="siteA"`) || strings.Contains(string(m), `camera="siteB"`) {
		t.Errorf("the cell's metrics token scrapes (%d):\n%s\nwant siteA's series and not siteB's", resp.StatusCode, grepLines(string(m), "camera="))
	}
	_, all := admin.do("GET", "/metrics", "", nil, true)
	if !strings.Contains(string(all), `camera="siteB"`) {
		t.Errorf("the admin's scrape lacks siteB")
	}
}

func getJSON(t *testing.T, p *person, path string) map[string]any {
	t.Helper()
	code, out := p.json("GET", path, nil)
	if code != 200 {
		t.Fatalf("GET %s as %s: %d %v", path, p.name, code, out)
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
