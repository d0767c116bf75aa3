package grid

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Problem is one defect found in an import; the import is refused whole.
type Problem struct {
	Feature int     `json:"feature"`           // 0-based index in the FeatureCollection; -1 for the set
	Code    string  `json:"code,omitempty"`    // the cell concerned
	Field   string  `json:"field,omitempty"`   // property or "geometry"
	Msg     string  `json:"message"`           // what is wrong, in words an operator can act on
	AreaM2  float64 `json:"area_m2,omitempty"` // for overlaps, gaps and spills
}

// chinaBounds is a generous box around China's territory (WGS-84).
var chinaBounds = orb.Bound{Min: orb.Point{73.4, 3.8}, Max: orb.Point{135.1, 53.6}}

// Parse reads a GeoJSON FeatureCollection of cells and checks it whole:
// properties, geometry, hierarchy and tiling. Cells are returned only when
// there are no problems.
func Parse(b []byte) ([]Cell, []Problem) {
	var head struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, []Problem{{Feature: -1, Msg: "not valid JSON: " + err.Error()}}
	}
	if head.Type != "FeatureCollection" {
		return nil, []Problem{{Feature: -1, Field: "type", Msg: fmt.Sprintf("want a GeoJSON FeatureCollection, got type %q", head.Type)}}
	}
	if len(head.Features) == 0 {
		return nil, []Problem{{Feature: -1, Field: "features", Msg: "no features"}}
	}
	var probs []Problem
	cells := make([]Cell, 0, len(head.Features))
	index := make([]int, 0, len(head.Features)) // feature index of each parsed cell
	broken := map[string]bool{}                 // codes of features with problems
	for i, raw := range head.Features {
		if p := checkRawRings(i, raw); len(p) > 0 {
			probs = append(probs, p...)
			if p[0].Code != "" {
				broken[p[0].Code] = true
			}
			continue
		}
		f, err := geojson.UnmarshalFeature(raw)
		if err != nil {
			probs = append(probs, Problem{Feature: i, Msg: "not a GeoJSON feature: " + err.Error()})
			continue
		}
		c, p := fromFeature(i, f)
		probs = append(probs, p...)
		if len(p) == 0 {
			cells = append(cells, c)
			index = append(index, i)
		} else if c.Code != "" {
			broken[c.Code] = true
		}
	}
	if len(probs) == 0 {
		probs = Check(cells)
	} else {
		// Report the hierarchy's problems too, so one pass shows them all;
		// a parent that is only missing because its own feature is broken
		// is not reported twice. Tiling waits for a sound set.
		for _, p := range hierarchy(cells) {
			if strings.HasPrefix(p.Msg, "unknown parent ") && broken[cells[p.Feature].Parent] {
				continue
			}
			p.Feature = index[p.Feature]
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return cells, nil
}

// checkRawRings finds unclosed rings before a parser can quietly fix them.
func checkRawRings(i int, raw json.RawMessage) []Problem {
	var f struct {
		Properties struct {
			Code any `json:"code"`
		} `json:"properties"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return nil // reported by the feature parser
	}
	code, _ := f.Properties.Code.(string)
	var polys [][][][2]float64
	switch f.Geometry.Type {
	case "Polygon":
		var p [][][2]float64
		if json.Unmarshal(f.Geometry.Coordinates, &p) != nil {
			return nil
		}
		polys = [][][][2]float64{p}
	case "MultiPolygon":
		if json.Unmarshal(f.Geometry.Coordinates, &polys) != nil {
			return nil
		}
	default:
		return nil
	}
	var probs []Problem
	for pi, p := range polys {
		for ri, r := range p {
			if len(r) > 0 && r[0] != r[len(r)-1] {
				probs = append(probs, Problem{Feature: i, Code: code, Field: "geometry",
					Msg: fmt.Sprintf("polygon %d ring %d is not closed: it starts at %v and ends at %v", pi, ri, r[0], r[len(r)-1])})
			}
		}
	}
	return probs
}

func fromFeature(i int, f *geojson.Feature) (Cell, []Problem) {
	var probs []Problem
	code, _ := f.Properties["code"].(string) // not MustString: it panics on a number
	bad := func(field, format string, a ...any) {
		probs = append(probs, Problem{Feature: i, Code: code, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	c := Cell{}
	var ok bool
	if c.Code, ok = f.Properties["code"].(string); !ok || !codePattern.MatchString(c.Code) {
		bad("code", "code must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if c.Name, _ = f.Properties["name"].(string); c.Name == "" {
		bad("name", "name is required")
	}
	lv, ok := f.Properties["level"].(float64)
	if !ok || lv != float64(int(lv)) || lv < 1 || lv > 4 {
		bad("level", "level must be a whole number from 1 to 4")
	}
	c.Level = int(lv)
	switch k, _ := f.Properties["kind"].(string); Kind(k) {
	case Base, Special:
		c.Kind = Kind(k)
	default:
		bad("kind", "kind must be base or special, not %q", k)
	}
	if p, present := f.Properties["parent"]; present && p != nil {
		if c.Parent, ok = p.(string); !ok {
			bad("parent", "parent must be a cell code")
		}
	}
	if r, present := f.Properties["roles"]; present && r != nil {
		b, _ := json.Marshal(r)
		if err := json.Unmarshal(b, &c.Roles); err != nil {
			bad("roles", "roles must map chief, grid_worker, police, law_enforcement, property, legal, discipline to user ids")
		}
	}
	switch g := f.Geometry.(type) {
	case orb.Polygon:
		c.Geometry = orb.MultiPolygon{g}
	case orb.MultiPolygon:
		c.Geometry = g
	default:
		bad("geometry", "geometry must be a Polygon or MultiPolygon")
		return c, probs
	}
	for pi, p := range c.Geometry {
		for ri, r := range p {
			if len(r) < 4 {
				bad("geometry", "polygon %d ring %d has %d points; a closed ring needs at least 4", pi, ri, len(r))
				continue
			}
			for _, pt := range r {
				if !chinaBounds.Contains(pt) {
					bad("geometry", "coordinate %v (lon, lat) is outside China's bounds; coordinates are WGS-84 [lon, lat]", [2]float64(pt))
					break
				}
			}
			if a, b, ok := selfIntersection(r); ok && a < 0 {
				bad("geometry", "polygon %d ring %d (%d points) is too intricate to check for self-intersection: simplify it (e.g. to 1 m)", pi, ri, len(r))
			} else if ok {
				bad("geometry", "polygon %d ring %d intersects itself: edge %d crosses edge %d", pi, ri, a, b)
			}
		}
	}
	return c, probs
}

// maxCrossChecks bounds the work of one ring's self-intersection check
// (about a second).
const maxCrossChecks = 50_000_000

// selfIntersection finds two non-adjacent edges of a ring that cross. A
// sweep over x: edges sorted by their left end, each compared only with
// the edges still open at that x whose y ranges meet its own, so a
// boundary of 100,000 vertices takes milliseconds (every pair of a
// quadratic check took 26 s at 40,000).
//
// A ring so tangled that the sweep would compare more than maxCrossChecks
// pairs answers -1, -1, true: refused as too intricate rather than checked
// for minutes.
func selfIntersection(r orb.Ring) (int, int, bool) {
	n := len(r) - 1 // edges
	checks := 0
	type edge struct {
		i                      int
		minX, maxX, minY, maxY float64
	}
	edges := make([]edge, n)
	for i := 0; i < n; i++ {
		a, b := r[i], r[i+1]
		edges[i] = edge{i, min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])}
	}
	sort.Slice(edges, func(x, y int) bool { return edges[x].minX < edges[y].minX })
	adjacent := func(i, j int) bool {
		d := i - j
		return d == 1 || d == -1 || (i == 0 && j == n-1) || (j == 0 && i == n-1)
	}
	var open []edge // edges whose x range reaches the sweep
	for _, e := range edges {
		keep := open[:0]
		for _, o := range open {
			if o.maxX >= e.minX {
				keep = append(keep, o)
			}
		}
		open = keep
		checks += len(open)
		if checks > maxCrossChecks {
			return -1, -1, true
		}
		for _, o := range open {
			if o.maxY < e.minY || o.minY > e.maxY || adjacent(o.i, e.i) {
				continue
			}
			if segmentsCross(r[o.i], r[o.i+1], r[e.i], r[e.i+1]) {
				return min(o.i, e.i), max(o.i, e.i), true
			}
		}
		open = append(open, e)
	}
	return 0, 0, false
}

func segmentsCross(p1, p2, p3, p4 orb.Point) bool {
	d := func(a, b, c orb.Point) float64 { return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0]) }
	d1, d2, d3, d4 := d(p3, p4, p1), d(p3, p4, p2), d(p1, p2, p3), d(p1, p2, p4)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	on := func(a, b, c orb.Point) bool {
		return min(a[0], b[0]) <= c[0] && c[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= c[1] && c[1] <= max(a[1], b[1])
	}
	return (d1 == 0 && on(p3, p4, p1)) || (d2 == 0 && on(p3, p4, p2)) || (d3 == 0 && on(p1, p2, p3)) || (d4 == 0 && on(p1, p2, p4))
}

// Check verifies a whole set: unique codes, known parents, levels one below
// their parent, and base cells that tile their parent without overlap or gap.
// A cell without a parent is a root at any level: an import may cover one
// street's subtree.
func Check(cells []Cell) []Problem {
	if probs := hierarchy(cells); len(probs) > 0 {
		return probs // tiling needs a sound hierarchy
	}
	idx := map[string]int{}
	byCode := map[string]*Cell{}
	for i := range cells {
		idx[cells[i].Code] = i
		byCode[cells[i].Code] = &cells[i]
	}
	var probs []Problem
	children := map[string][]*Cell{}
	for i := range cells {
		if c := &cells[i]; c.Parent != "" && c.Kind == Base {
			children[c.Parent] = append(children[c.Parent], c)
		}
	}
	parents := make([]string, 0, len(children))
	for p := range children {
		parents = append(parents, p)
	}
	sort.Strings(parents)
	for _, p := range parents {
		for _, pr := range checkTiling(byCode[p], children[p]) {
			pr.Feature = idx[pr.Code]
			probs = append(probs, pr)
		}
	}
	return probs
}

// hierarchy checks codes are unique, parents known and levels one below
// their parent; Feature in its problems indexes cells.
func hierarchy(cells []Cell) []Problem {
	var probs []Problem
	idx := map[string]int{}
	byCode := map[string]*Cell{}
	for i := range cells {
		c := &cells[i]
		if j, dup := idx[c.Code]; dup {
			probs = append(probs, Problem{Feature: i, Code: c.Code, Field: "code", Msg: fmt.Sprintf("code %s is used again (first at feature %d)", c.Code, j)})
			continue
		}
		idx[c.Code] = i
		byCode[c.Code] = c
	}
	for i := range cells {
		c := &cells[i]
		switch {
		case c.Level == 1 && c.Parent != "":
			probs = append(probs, Problem{Feature: i, Code: c.Code, Field: "parent", Msg: "a level-1 cell has no parent"})
		case c.Parent != "":
			p, ok := byCode[c.Parent]
			switch {
			case !ok:
				probs = append(probs, Problem{Feature: i, Code: c.Code, Field: "parent", Msg: fmt.Sprintf("unknown parent %s: it is not in this import", c.Parent)})
			case c.Level == 4 && p.Level == 2:
				probs = append(probs, Problem{Feature: i, Code: c.Code, Field: "level", Msg: fmt.Sprintf("level-4 grid %s sits directly under street %s (level 2): put it under a community or village (level 3)", c.Code, p.Code)})
			case c.Level != p.Level+1:
				probs = append(probs, Problem{Feature: i, Code: c.Code, Field: "level", Msg: fmt.Sprintf("level %d is not one below its parent %s (level %d)", c.Level, p.Code, p.Level)})
			}
		}
	}
	if cycle := findCycle(byCode); cycle != "" {
		probs = append(probs, Problem{Feature: idx[cycle], Code: cycle, Field: "parent", Msg: "parents form a cycle through " + cycle})
	}
	return probs
}

func findCycle(byCode map[string]*Cell) string {
	for code := range byCode {
		seen := map[string]bool{}
		for c := byCode[code]; c != nil && c.Parent != ""; c = byCode[c.Parent] {
			if seen[c.Code] {
				return c.Code
			}
			seen[c.Code] = true
		}
	}
	return ""
}
