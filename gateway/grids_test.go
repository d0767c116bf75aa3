package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/configs"
	"sharpeyes/grid"
)

func rect(x0, y0, x1, y1 float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}}
}

// smallGrid: street S = C1 + C2; C1 = G1 + G2 (split at lon split); C2 = G3;
// special SP over the G1/G2 edge.
func smallGrid(t *testing.T, split float64) []byte { return smallGridSplit(t, split, split) }

// smallGridSplit ends G1 at g1End and starts G2 at g2Start (equal: a tiling).
func smallGridSplit(t *testing.T, g1End, g2Start float64) []byte {
	cells := []grid.Cell{
		{Code: "S", Name: "街道", Level: 2, Kind: grid.Base, Geometry: rect(119.40, 32.40, 119.44, 32.42)},
		{Code: "C1", Name: "社区一", Level: 3, Kind: grid.Base, Parent: "S", Geometry: rect(119.40, 32.40, 119.42, 32.42)},
		{Code: "C2", Name: "村二", Level: 3, Kind: grid.Base, Parent: "S", Geometry: rect(119.42, 32.40, 119.44, 32.42)},
		{Code: "G1", Name: "网格1", Level: 4, Kind: grid.Base, Parent: "C1", Geometry: rect(119.40, 32.40, g1End, 32.42)},
		{Code: "G2", Name: "网格2", Level: 4, Kind: grid.Base, Parent: "C1", Geometry: rect(g2Start, 32.40, 119.42, 32.42)},
		{Code: "G3", Name: "网格3", Level: 4, Kind: grid.Base, Parent: "C2", Geometry: rect(119.42, 32.40, 119.44, 32.42)},
		{Code: "SP", Name: "学校", Level: 4, Kind: grid.Special, Parent: "C1", Geometry: rect(119.405, 32.405, 119.415, 32.410)},
	}
	b, err := json.Marshal(grid.FeatureCollection(cells))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGridImportLinksCamerasAndAnswersQueries(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	addCam := func(id string, lat, lon float64, grid string) {
		body := map[string]any{"id": id, "name": id, "streams": map[string]string{"main": "rtsp://127.0.0.1:1/x"},
			"location": map[string]float64{"lat": lat, "lon": lon}}
		if grid != "" {
			body["grid"] = grid
		}
		if code, r := api.json("POST", "/api/v1/cameras", body); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, r)
		}
	}
	importGrid := func(b []byte) (int, map[string]any) {
		code, raw := api.do("POST", "/api/v1/grids/import", "application/geo+json", b, true)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	addCam("a", 32.407, 119.409, "") // G1 and under SP
	addCam("b", 32.407, 119.43, "")  // G3
	addCam("c", 32.401, 119.402, "") // G1
	if code, r := importGrid(smallGrid(t, 119.41)); code != 200 || r["cells"].(float64) != 7 || r["cameras_relinked"].(float64) != 3 {
		t.Fatalf("import: %d %v", code, r)
	}
	addCam("m", 32.401, 119.402, "G3") // manual override

	cells := func(id string) string {
		_, cam := api.json("GET", "/api/v1/cameras/"+id, nil)
		c := cam["cells"].(map[string]any)
		return fmt.Sprintf("%v %v %v %v", cam["grid"], c["base"], c["special"], c["source"])
	}
	for id, want := range map[string]string{"a": "G1 G1 [SP] location", "b": "G3 G3 [] location", "m": "G3 G3 [] manual"} {
		if got := cells(id); got != want {
			t.Errorf("camera %s cells %q, want %q", id, got, want)
		}
	}
	ids := func(path string) string {
		code, page := api.json("GET", path, nil)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, page)
		}
		var out []string
		for _, it := range page["items"].([]any) {
			m := it.(map[string]any)
			if id, ok := m["id"]; ok {
				out = append(out, id.(string))
			} else {
				out = append(out, m["code"].(string))
			}
		}
		return strings.Join(out, ",")
	}
	for path, want := range map[string]string{
		"/api/v1/cameras?grid=C1":                                   "a,c",
		"/api/v1/cameras?grid=S":                                    "a,b,c,m",
		"/api/v1/cameras?grid=SP":                                   "a",
		"/api/v1/grids/C2/cameras":                                  "b,m",
		"/api/v1/grids?parent=":                                     "S",
		"/api/v1/grids?parent=C1":                                   "G1,G2,SP",
		"/api/v1/cameras?near=32.4071,119.4091&radius=3000":         "a,c,m,b",
		"/api/v1/cameras?near=32.4071,119.4091&radius=100":          "a",
		"/api/v1/cameras?near=32.4071,119.4091&radius=3000&limit=1": "a",
	} {
		if got := ids(path); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
	_, near := api.json("GET", "/api/v1/cameras?near=32.4071,119.4091&radius=3000", nil)
	if d := near["items"].([]any)[0].(map[string]any)["distance_m"].(float64); d < 10 || d > 20 {
		t.Errorf("distance of a = %.1f m, want about 15", d)
	}
	code, feat := api.json("GET", "/api/v1/grids/G1", nil)
	if code != 200 || feat["type"] != "Feature" || feat["geometry"].(map[string]any)["type"] != "MultiPolygon" {
		t.Fatalf("GET grid: %d %v", code, feat)
	}

	// A refused import changes nothing and says why.
	code, rep := importGrid(smallGridSplit(t, 119.41, 119.409))
	if code != 400 || !strings.Contains(rep["error"].(string), "nothing was changed") ||
		!strings.Contains(fmt.Sprint(rep["problems"]), "base cells G1 and G2 of C1 overlap by about") {
		t.Fatalf("bad import: %d %v", code, rep)
	}
	if got := cells("a"); got != "G1 G1 [SP] location" {
		t.Fatalf("after a refused import camera a is %s", got)
	}

	// Moving the G1/G2 border re-links cameras, and only those.
	code, r := importGrid(smallGrid(t, 119.405))
	if code != 200 || r["cameras_relinked"].(float64) != 1 {
		t.Fatalf("re-import: %d %v, want 1 camera re-linked", code, r)
	}
	// The answer counts the re-link; the index every reader uses follows
	// from the registry's watch a moment later.
	var got string
	eventually(t, 10*time.Second, "camera a in G2 after the re-import", func() bool {
		got = cells("a")
		return got == "G2 G2 [SP] location"
	})
	if got != "G2 G2 [SP] location" {
		t.Fatalf("after re-import camera a is %s, want G2", got)
	}
	if code, _ := api.json("PATCH", "/api/v1/cameras/b", map[string]any{"grid": "NOPE"}); code != 400 {
		t.Fatalf("unknown grid accepted: %d", code)
	}
	if code, _ := api.json("GET", "/api/v1/grids/NOPE/cameras", nil); code != 404 {
		t.Fatalf("unknown grid: %d", code)
	}
}

func TestDemoGridsImportThroughAPI(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	code, raw := api.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true)
	if code != http.StatusOK || !strings.Contains(string(raw), `"cells":70`) {
		t.Fatalf("demo grid import: %d %s", code, raw)
	}
	if g.Grids().Len() != 70 {
		t.Fatalf("index has %d cells", g.Grids().Len())
	}
}

// TestLargeCellImportsInTime: one valid cell with a 100,000-point
// boundary (4 MB of GeoJSON, over etcd's 1.5 MiB value limit) imports
// through the API well inside the write timeout, and reads back whole on
// every screen's GeoJSON. (The 5 s bar is BenchmarkParseLargeCell's: this
// test runs under -race, several times slower; the quadratic check it
// replaced took minutes.)
func TestLargeCellImportsInTime(t *testing.T) {
	g := startGateway(t)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	const n = 100_000
	ring := make([][2]float64, 0, n+1)
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / n
		rad := 0.01 * (1 + 0.2*math.Sin(7*a) + 0.05*math.Sin(131*a))
		ring = append(ring, [2]float64{119.42 + rad*math.Cos(a), 32.41 + rad*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	fc := map[string]any{"type": "FeatureCollection", "features": []any{map[string]any{"type": "Feature",
		"properties": map[string]any{"code": "BIG", "name": "大网格", "level": 4, "kind": "base"},
		"geometry":   map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}}}}}
	b, _ := json.Marshal(fc)
	start := time.Now()
	code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", b, true)
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("import: %d %.300s", code, raw)
	}
	t.Logf("a %d-point cell (%d bytes) imported in %v", n, len(b), took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("the import took %v, want well inside the 2-minute write timeout", took)
	}
	eventually(t, 5*time.Second, "the cell in force", func() bool { _, ok := g.Grids().Get("BIG"); return ok })
	code, geo := admin.do("GET", "/api/v1/grids?format=geojson", "", nil, true)
	var back struct {
		Features []struct {
			Geometry struct {
				Coordinates [][][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(geo, &back); code != 200 || err != nil || len(back.Features) != 1 {
		t.Fatalf("grids: %d %v", code, err)
	}
	if c := back.Features[0].Geometry.Coordinates; len(c) != 1 || len(c[0]) != 1 || len(c[0][0]) != n+1 {
		t.Errorf("the cell read back has %v rings, not its %d points", len(c), n+1)
	}
	// A camera in it is located in it.
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "in-big", "name": "c", "streams": map[string]string{"main": "rtsp://10.1.2.3/a"},
		"location": map[string]float64{"lat": 32.41, "lon": 119.42}}); code != 201 || out["grid"] != "BIG" {
		t.Errorf("a camera inside: %d grid %v", code, out["grid"])
	}
}
