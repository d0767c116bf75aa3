package grid

import (
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"
)

// tilingSamples is how many points the tiling check tests per parent. The
// check samples a regular lattice over the parent (in a local metric
// projection) instead of computing polygon intersections: robust where
// neighbours share edges exactly, which is where clipping algorithms
// break. Areas are therefore estimates, good to about one lattice step
// times the length of the boundary concerned; anything under three lattice
// points (a sliver from digitising) is not reported.
const tilingSamples = 40000

// minReportSamples is the smallest defect reported, in lattice points.
const minReportSamples = 3

func checkTiling(parent *Cell, kids []*Cell) []Problem {
	box := parent.Geometry.Bound()
	for _, k := range kids {
		box = box.Union(k.Geometry.Bound())
	}
	lat0 := (box.Min[1] + box.Max[1]) / 2
	mPerLon := 111320 * math.Cos(lat0*math.Pi/180)
	const mPerLat = 110540.0
	wM, hM := (box.Max[0]-box.Min[0])*mPerLon, (box.Max[1]-box.Min[1])*mPerLat
	step := math.Max(math.Sqrt(wM*hM/tilingSamples), 0.25) // metres
	dLon, dLat := step/mPerLon, step/mPerLat
	cellArea := step * step

	// An irrational start keeps lattice points off edges drawn on round coordinates.
	const phase = 0.3819660113
	type pair struct{ a, b int }
	overlaps := map[pair]int{}
	spills := make([]int, len(kids))
	gaps := 0
	var gapAt orb.Point
	pBound := parent.Geometry.Bound()
	var tree rtree.RTreeG[int]
	for i, k := range kids {
		b := k.Geometry.Bound()
		tree.Insert(b.Min, b.Max, i)
	}
	var hits []int
	for y := box.Min[1] + dLat*phase; y < box.Max[1]; y += dLat {
		for x := box.Min[0] + dLon*phase; x < box.Max[0]; x += dLon {
			pt := orb.Point{x, y}
			inParent := pBound.Contains(pt) && planar.MultiPolygonContains(parent.Geometry, pt)
			hits = hits[:0]
			tree.Search(pt, pt, func(_, _ [2]float64, i int) bool {
				if planar.MultiPolygonContains(kids[i].Geometry, pt) {
					hits = append(hits, i)
				}
				return true
			})
			sort.Ints(hits)
			switch {
			case inParent && len(hits) == 0:
				if gaps == 0 {
					gapAt = pt
				}
				gaps++
			case !inParent:
				for _, i := range hits {
					spills[i]++
				}
			}
			for a := 0; a < len(hits); a++ {
				for b := a + 1; b < len(hits); b++ {
					overlaps[pair{hits[a], hits[b]}]++
				}
			}
		}
	}
	var probs []Problem
	area := func(n int) float64 { return math.Round(float64(n) * cellArea) }
	keys := make([]pair, 0, len(overlaps))
	for k := range overlaps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].a != keys[j].a {
			return keys[i].a < keys[j].a
		}
		return keys[i].b < keys[j].b
	})
	for _, k := range keys {
		if n := overlaps[k]; n >= minReportSamples {
			a, b := kids[k.a], kids[k.b]
			if a.Code > b.Code {
				a, b = b, a
			}
			probs = append(probs, Problem{Code: a.Code, Field: "geometry", AreaM2: area(n),
				Msg: fmt.Sprintf("base cells %s and %s of %s overlap by about %.0f m²", a.Code, b.Code, parent.Code, area(n))})
		}
	}
	for i, n := range spills {
		if n >= minReportSamples {
			probs = append(probs, Problem{Code: kids[i].Code, Field: "geometry", AreaM2: area(n),
				Msg: fmt.Sprintf("base cell %s extends about %.0f m² outside its parent %s", kids[i].Code, area(n), parent.Code)})
		}
	}
	if gaps >= minReportSamples {
		probs = append(probs, Problem{Code: parent.Code, Field: "geometry", AreaM2: area(gaps),
			Msg: fmt.Sprintf("the base cells of %s leave about %.0f m² of it uncovered (one spot: lat %.6f, lon %.6f)",
				parent.Code, area(gaps), gapAt[1], gapAt[0])})
	}
	return probs
}
