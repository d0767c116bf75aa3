package grid

import (
	"fmt"
	"math"
	"sort"

	"github.com/paulmach/orb"
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

// crossings lists, for each of rows lattice rows from y0 every dLat, the
// x where g's rings cross the row, sorted. An edge counts for the rows in
// [its lower y, its upper y): each crossing once, as ray casting wants.
func crossings(g orb.MultiPolygon, y0, dLat float64, rows int) [][]float64 {
	out := make([][]float64, rows)
	for _, poly := range g {
		for _, ring := range poly {
			for i := 0; i+1 < len(ring); i++ {
				a, b := ring[i], ring[i+1]
				if a[1] == b[1] {
					continue
				}
				lo, hi := min(a[1], b[1]), max(a[1], b[1])
				for r := max(0, int(math.Ceil((lo-y0)/dLat))); r < rows; r++ {
					y := y0 + dLat*float64(r)
					if y >= hi {
						break
					}
					if y < lo {
						continue
					}
					out[r] = append(out[r], a[0]+(y-a[1])*(b[0]-a[0])/(b[1]-a[1]))
				}
			}
		}
	}
	for _, r := range out {
		sort.Float64s(r)
	}
	return out
}

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
	// Scanlines: for each lattice row, where each cell's boundary crosses
	// it; a point is inside when an odd number of crossings lie left of it.
	// Each row costs the crossings and the points, whatever the number of
	// vertices (a 100,000-point boundary crosses a row a few times).
	y0, x0 := box.Min[1]+dLat*phase, box.Min[0]+dLon*phase
	rows := int(math.Ceil((box.Max[1] - y0) / dLat))
	cols := int(math.Ceil((box.Max[0] - x0) / dLon))
	pc := crossings(parent.Geometry, y0, dLat, rows)
	kc := make([][][]float64, len(kids))
	for i, k := range kids {
		kc[i] = crossings(k.Geometry, y0, dLat, rows)
	}
	type cursor struct{ kid, at int }
	var active []cursor
	var hits []int
	for r := 0; r < rows; r++ {
		y := y0 + dLat*float64(r)
		prow, pat := pc[r], 0
		active = active[:0]
		for i := range kids {
			if len(kc[i][r]) > 0 {
				active = append(active, cursor{i, 0})
			}
		}
		for c := 0; c < cols; c++ {
			x := x0 + dLon*float64(c)
			for pat < len(prow) && prow[pat] < x {
				pat++
			}
			inParent := pat%2 == 1
			hits = hits[:0]
			for j := range active {
				row := kc[active[j].kid][r]
				for active[j].at < len(row) && row[active[j].at] < x {
					active[j].at++
				}
				if active[j].at%2 == 1 {
					hits = append(hits, active[j].kid)
				}
			}
			switch {
			case inParent && len(hits) == 0:
				if gaps == 0 {
					gapAt = orb.Point{x, y}
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
