package grid

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func rect(x0, y0, x1, y1 float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}}
}

// fixture: street S tiled by communities C1, C2; C1 tiled by G1, G2; C2 by
// G3; a special cell SP over the G1/G2 edge.
func fixture() []Cell {
	return []Cell{
		{Code: "S", Name: "瘦西湖街道", Level: 2, Kind: Base, Geometry: rect(119.40, 32.40, 119.44, 32.42)},
		{Code: "C1", Name: "社区一", Level: 3, Kind: Base, Parent: "S", Geometry: rect(119.40, 32.40, 119.42, 32.42)},
		{Code: "C2", Name: "村二", Level: 3, Kind: Base, Parent: "S", Geometry: rect(119.42, 32.40, 119.44, 32.42)},
		{Code: "G1", Name: "网格1", Level: 4, Kind: Base, Parent: "C1", Geometry: rect(119.40, 32.40, 119.41, 32.42)},
		{Code: "G2", Name: "网格2", Level: 4, Kind: Base, Parent: "C1", Geometry: rect(119.41, 32.40, 119.42, 32.42)},
		{Code: "G3", Name: "网格3", Level: 4, Kind: Base, Parent: "C2", Geometry: rect(119.42, 32.40, 119.44, 32.42)},
		{Code: "SP", Name: "学校专属网格", Level: 4, Kind: Special, Parent: "C1", Geometry: rect(119.405, 32.405, 119.415, 32.410)},
	}
}

func encode(t testing.TB, cells []Cell) []byte {
	b, err := json.Marshal(FeatureCollection(cells))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidSetParsesAndLocates(t *testing.T) {
	cells, probs := Parse(encode(t, fixture()))
	if len(probs) > 0 {
		t.Fatalf("problems in a valid set: %+v", probs)
	}
	ix := NewIndex(cells)
	cases := []struct {
		p       orb.Point
		base    string
		special []string
	}{
		{orb.Point{119.402, 32.401}, "G1", nil},
		{orb.Point{119.41, 32.407}, "G1", []string{"SP"}}, // on the G1/G2 edge: lowest code
		{orb.Point{119.412, 32.407}, "G2", []string{"SP"}},
		{orb.Point{119.43, 32.41}, "G3", nil},
		{orb.Point{119.50, 32.41}, "", nil},
	}
	for _, tc := range cases {
		base, special := ix.Locate(tc.p)
		if base != tc.base || fmt.Sprint(special) != fmt.Sprint(tc.special) {
			t.Errorf("Locate(%v) = %q %v, want %q %v", tc.p, base, special, tc.base, tc.special)
		}
	}
	if got := fmt.Sprint(ix.Subtree("C1")); got != "[C1 G1 G2 SP]" {
		t.Errorf("Subtree(C1) = %s", got)
	}
	if !ix.Within("G3", "S") || ix.Within("G3", "C1") {
		t.Error("Within is wrong")
	}
	if got := fmt.Sprint(ix.Children("")); got != "[S]" {
		t.Errorf("roots = %s", got)
	}
}

func TestEachDefectIsRejectedWithAPreciseMessage(t *testing.T) {
	mutate := func(f func(cs []Cell) []Cell) []byte { return encode(t, f(fixture())) }
	unclosed := strings.Replace(string(encode(t, fixture())), "[[119.4,32.4],[119.44,32.4],[119.44,32.42],[119.4,32.42],[119.4,32.4]]",
		"[[119.4,32.4],[119.44,32.4],[119.44,32.42],[119.4,32.42]]", 1)
	cases := []struct {
		name  string
		input []byte
		code  string
		want  string
		area  float64 // expected m², 0: none
	}{
		{"unclosed ring", []byte(unclosed), "S", "ring 0 is not closed", 0},
		{"self-intersecting", mutate(func(cs []Cell) []Cell {
			cs[6].Geometry = orb.MultiPolygon{{{{119.405, 32.405}, {119.415, 32.410}, {119.415, 32.405}, {119.405, 32.410}, {119.405, 32.405}}}}
			return cs
		}), "SP", "intersects itself", 0},
		{"unknown parent", mutate(func(cs []Cell) []Cell { cs[5].Parent = "C9"; return cs }), "G3", "unknown parent C9", 0},
		{"level not parent+1", mutate(func(cs []Cell) []Cell { cs[5].Level = 3; return cs }), "G3", "level 3 is not one below its parent C2 (level 3)", 0},
		{"grid under a street", mutate(func(cs []Cell) []Cell { cs[5].Parent = "S"; return cs }), "G3", "sits directly under street S", 0},
		{"overlap", mutate(func(cs []Cell) []Cell { cs[4].Geometry = rect(119.409, 32.40, 119.42, 32.42); return cs }), "G1",
			"base cells G1 and G2 of C1 overlap by about", 0.001 * 111320 * math.Cos(32.41*math.Pi/180) * 0.02 * 110540},
		{"gap", mutate(func(cs []Cell) []Cell { cs[4].Geometry = rect(119.411, 32.40, 119.42, 32.42); return cs }), "C1",
			"the base cells of C1 leave about", 0.001 * 111320 * math.Cos(32.41*math.Pi/180) * 0.02 * 110540},
		{"spill outside parent", mutate(func(cs []Cell) []Cell { cs[5].Geometry = rect(119.42, 32.40, 119.445, 32.42); return cs }), "G3",
			"extends about", 0.005 * 111320 * math.Cos(32.41*math.Pi/180) * 0.02 * 110540},
		{"outside China", mutate(func(cs []Cell) []Cell { cs[6].Geometry = rect(10.405, 32.405, 10.415, 32.410); return cs }), "SP", "outside China's bounds", 0},
		{"duplicate code", mutate(func(cs []Cell) []Cell { cs[6].Code = "G1"; return cs }), "G1", "code G1 is used again", 0},
		{"bad kind", []byte(strings.Replace(string(encode(t, fixture())), `"kind":"special"`, `"kind":"overlay"`, 1)), "SP", `kind must be base or special, not "overlay"`, 0},
		{"bad level", []byte(strings.Replace(string(encode(t, fixture())), `"level":2`, `"level":7`, 1)), "S", "level must be a whole number from 1 to 4", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cells, probs := Parse(tc.input)
			if cells != nil {
				t.Fatal("a defective import returned cells")
			}
			var hit *Problem
			for i := range probs {
				if strings.Contains(probs[i].Msg, tc.want) && probs[i].Code == tc.code {
					hit = &probs[i]
				}
			}
			if hit == nil {
				t.Fatalf("want a problem on %s mentioning %q, got %+v", tc.code, tc.want, probs)
			}
			if tc.area > 0 && math.Abs(hit.AreaM2-tc.area)/tc.area > 0.1 {
				t.Fatalf("area %.0f m², want about %.0f (±10%%)", hit.AreaM2, tc.area)
			}
		})
	}
}

func TestNotAFeatureCollection(t *testing.T) {
	for _, in := range []string{`{`, `{"type":"Feature"}`, `{"type":"FeatureCollection","features":[]}`} {
		if cells, probs := Parse([]byte(in)); cells != nil || len(probs) == 0 {
			t.Errorf("%s: accepted", in)
		}
	}
}

// synthetic builds n×n square level-4 cells under one level-3 parent.
func synthetic(n int) []Cell {
	const size = 0.001
	x0, y0 := 119.0, 32.0
	cells := []Cell{{Code: "P", Name: "p", Level: 3, Kind: Base, Geometry: rect(x0, y0, x0+size*float64(n), y0+size*float64(n))}}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			x, y := x0+size*float64(i), y0+size*float64(j)
			cells = append(cells, Cell{Code: fmt.Sprintf("g%03d%03d", i, j), Name: "g", Level: 4, Kind: Base, Parent: "P",
				Geometry: rect(x, y, x+size, y+size)})
		}
	}
	return cells
}

// BenchmarkLocate10kCells is point-in-polygon over 10,000 cells (plus parent).
func BenchmarkLocate10kCells(b *testing.B) {
	ix := NewIndex(synthetic(100))
	pts := make([]orb.Point, 1024)
	for i := range pts {
		pts[i] = orb.Point{119.0 + 0.1*float64(i*7919%1024)/1024, 32.0 + 0.1*float64(i*104729%1024)/1024}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if base, _ := ix.Locate(pts[i%len(pts)]); base == "" {
			b.Fatal("point not located")
		}
	}
}

func BenchmarkCheck10kCells(b *testing.B) {
	cells := synthetic(100)
	for i := 0; i < b.N; i++ {
		if probs := Check(cells); len(probs) > 0 {
			b.Fatal(probs[0].Msg)
		}
	}
}

func TestOnePassReportsFeatureAndHierarchyProblems(t *testing.T) {
	cs := fixture()
	cs[5].Parent = "C9"               // unknown parent
	cs[6].Geometry[0][0][1][0] = 10.0 // outside China
	in := encode(t, cs)
	_, probs := Parse(in)
	var fc struct {
		Features []struct {
			Properties struct{ Code string } `json:"properties"`
		} `json:"features"`
	}
	_ = json.Unmarshal(in, &fc)
	g3 := -1
	for i, f := range fc.Features {
		if f.Properties.Code == "G3" {
			g3 = i
		}
	}
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, p.Code+": "+p.Msg)
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "G3: unknown parent C9") || !strings.Contains(all, "SP: coordinate") {
		t.Fatalf("want both problems in one report, got:\n%s", all)
	}
	for _, p := range probs {
		if p.Code == "G3" && p.Feature != g3 {
			t.Fatalf("G3 reported at feature %d, want %d", p.Feature, g3)
		}
	}
}

// bruteSelfIntersection is the quadratic reference: every pair of
// non-adjacent edges.
func bruteSelfIntersection(r orb.Ring) bool {
	n := len(r) - 1
	for i := 0; i < n; i++ {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue
			}
			if segmentsCross(r[i], r[i+1], r[j], r[j+1]) {
				return true
			}
		}
	}
	return false
}

// TestSweepFindsWhatEveryPairFinds: on random rings, simple and tangled,
// with shared coordinates and collinear edges, the sweep's verdict is the
// quadratic check's.
func TestSweepFindsWhatEveryPairFinds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	found := 0
	for k := 0; k < 3000; k++ {
		n := 4 + rnd.IntN(30)
		var r orb.Ring
		for i := 0; i < n; i++ {
			if k%3 == 0 { // star-shaped: mostly simple
				a := 2 * math.Pi * float64(i) / float64(n)
				rad := 1 + 0.5*rnd.Float64()
				r = append(r, orb.Point{math.Round(rad*math.Cos(a)*8) / 8, math.Round(rad*math.Sin(a)*8) / 8})
			} else { // a coarse lattice: touching and collinear edges
				r = append(r, orb.Point{float64(rnd.IntN(5)), float64(rnd.IntN(5))})
			}
		}
		r = append(r, r[0])
		want := bruteSelfIntersection(r)
		a, b, got := selfIntersection(r)
		if got != want {
			t.Fatalf("ring %v: sweep says %v (edges %d, %d), every pair says %v", r, got, a, b, want)
		}
		if got {
			found++
			if !segmentsCross(r[a], r[a+1], r[b], r[b+1]) {
				t.Fatalf("ring %v: the sweep names edges %d and %d, which do not cross", r, a, b)
			}
		}
	}
	if found < 500 || found > 2900 {
		t.Fatalf("%d of 3000 random rings intersect themselves: the rings test too little", found)
	}
}

// largeCell is one valid cell with an n-point boundary (a surveyed
// outline, every point distinct) as GeoJSON.
func largeCell(n int) []byte {
	ring := make([][2]float64, 0, n+1)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		rad := 0.01 * (1 + 0.2*math.Sin(7*a) + 0.05*math.Sin(131*a))
		ring = append(ring, [2]float64{119.42 + rad*math.Cos(a), 32.41 + rad*math.Sin(a)})
	}
	ring = append(ring, ring[0])
	fc := map[string]any{"type": "FeatureCollection", "features": []any{map[string]any{"type": "Feature",
		"properties": map[string]any{"code": "BIG", "name": "大网格", "level": 4, "kind": "base"},
		"geometry":   map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}}}}}
	b, _ := json.Marshal(fc)
	return b
}

// TestLargeCellParses: a 100,000-point cell is valid (how fast:
// BenchmarkParseLargeCell).
func TestLargeCellParses(t *testing.T) {
	b := largeCell(100_000)
	start := time.Now()
	cells, probs := Parse(b)
	if len(probs) > 0 || len(cells) != 1 {
		t.Fatalf("problems: %v", probs)
	}
	t.Logf("a 100,000-point cell (%d bytes of GeoJSON) parsed and checked in %v", len(b), time.Since(start).Round(time.Millisecond))
}

// BenchmarkParseLargeCell: parsing and checking one 100,000-point cell
// (the bar: within 5 s; quadratic, it took minutes).
func BenchmarkParseLargeCell(b *testing.B) {
	body := largeCell(100_000)
	for b.Loop() {
		if _, probs := Parse(body); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}

// BenchmarkParseLargeTiling: two 100,000-point cells tiling their parent,
// the tiling check included.
func BenchmarkParseLargeTiling(b *testing.B) {
	body := encode(b, largeTiling(0))
	for b.Loop() {
		if _, probs := Parse(body); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}

// largeTiling is a parent split by a 100,000-point boundary into two
// cells; shift pushes the right one's outer edge beyond the parent.
func largeTiling(shift float64) []Cell {
	const n = 100_000
	x0, x1, y0, y1 := 119.40, 119.44, 32.40, 32.42
	mid := (x0 + x1) / 2
	wiggle := make([]orb.Point, n)
	for i := range wiggle {
		y := y0 + (y1-y0)*float64(i)/float64(n-1)
		wiggle[i] = orb.Point{mid + 0.004*math.Sin(float64(i)/float64(n)*40*math.Pi), y}
	}
	left := orb.Ring{{x0, y0}}
	left = append(left, wiggle...)
	left = append(left, orb.Point{x0, y1}, orb.Point{x0, y0})
	right := orb.Ring{{x1, y0}, {x1, y1}}
	for i := n - 1; i >= 0; i-- {
		right = append(right, wiggle[i])
	}
	right = append(right, orb.Point{x1, y0})
	for i := range right {
		if right[i][0] == x1 {
			right[i][0] += shift
		}
	}
	return []Cell{
		{Code: "S", Name: "街道", Level: 3, Kind: Base, Geometry: rect(x0, y0, x1, y1)},
		{Code: "L", Name: "西", Level: 4, Kind: Base, Parent: "S", Geometry: orb.MultiPolygon{{left}}},
		{Code: "R", Name: "东", Level: 4, Kind: Base, Parent: "S", Geometry: orb.MultiPolygon{{right}}},
	}
}

// TestLargeCellsTileTheirParent: two cells whose shared boundary has
// 100,000 points tile their parent, and a child pushed over the edge is
// still caught (how fast: BenchmarkParseLargeTiling).
func TestLargeCellsTileTheirParent(t *testing.T) {
	start := time.Now()
	cells, probs := Parse(encode(t, largeTiling(0)))
	if len(probs) > 0 || len(cells) != 3 {
		t.Fatalf("a valid set with 100,000-point cells: %+v", probs)
	}
	t.Logf("two 100,000-point cells tiling their parent parsed and checked in %v", time.Since(start).Round(time.Millisecond))
	if _, probs := Parse(encode(t, largeTiling(0.002))); len(probs) != 1 || !strings.Contains(probs[0].Msg, "outside its parent") {
		t.Errorf("a child 190 m over its parent's edge: %+v", probs)
	}
}
