// Command gen writes configs/demo/grids.geojson: the reference street
// around Slender West Lake, Yangzhou, with 10 communities and villages,
// 40 level-4 base grids tiling them and 19 level-4 special grids.
// The geometry is synthetic but plausible: a jittered lattice, so
// neighbours share their edges exactly and every parent is tiled.
//
//	go run ./configs/demo/gen > configs/demo/grids.geojson
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

const (
	cols, rows = 10, 4 // level-4 base grids: 10 x 4 = 40
	lon0, lon1 = 119.400, 119.440
	lat0, lat1 = 32.395, 32.427
	street     = "321003001"
)

var communities = []string{
	"念四社区", "友谊社区", "荷花池社区", "石塔社区", "凤凰桥社区",
	"蜀冈村", "平山村", "梅岭社区", "红园社区", "大虹桥社区",
}

var specials = []string{
	"扬州大学附属小学", "瘦西湖景区北门广场", "念四桥农贸市场", "友谊路菜场", "荷花池公园",
	"石塔寺", "凤凰桥幼儿园", "蜀冈生态公园", "平山堂景区", "梅岭中学",
	"红园花市", "大虹桥游船码头", "北门街商业街", "宋夹城体育公园", "扬州市第一人民医院",
	"汽车西站", "冶春茶社", "长春路养老院", "蜀冈西路村民活动中心",
}

func main() {
	r := rand.New(rand.NewPCG(20261127, 1))
	dx, dy := (lon1-lon0)/cols, (lat1-lat0)/rows
	// Lattice points; interior points jittered in both axes, edge points
	// only along their edge, corners fixed.
	var p [cols + 1][rows + 1]orb.Point
	for i := 0; i <= cols; i++ {
		for j := 0; j <= rows; j++ {
			x, y := lon0+dx*float64(i), lat0+dy*float64(j)
			if i > 0 && i < cols {
				x += dx * 0.22 * (r.Float64()*2 - 1)
			}
			if j > 0 && j < rows {
				y += dy * 0.22 * (r.Float64()*2 - 1)
			}
			p[i][j] = orb.Point{round(x), round(y)}
		}
	}
	// ring walks the lattice boundary of the block [i0,i1] x [j0,j1].
	ring := func(i0, j0, i1, j1 int) orb.MultiPolygon {
		var r orb.Ring
		for i := i0; i < i1; i++ {
			r = append(r, p[i][j0])
		}
		for j := j0; j < j1; j++ {
			r = append(r, p[i1][j])
		}
		for i := i1; i > i0; i-- {
			r = append(r, p[i][j1])
		}
		for j := j1; j > j0; j-- {
			r = append(r, p[i0][j])
		}
		r = append(r, r[0])
		return orb.MultiPolygon{{r}}
	}
	cells := []grid.Cell{{Code: street, Name: "瘦西湖街道", Level: 2, Kind: grid.Base, Geometry: ring(0, 0, cols, rows),
		Roles: grid.Roles{Maintainer: "yw-" + street}}} // the street's camera maintenance contractor
	// Communities are 2x2 blocks of grids: 5 across, 2 up.
	for k, name := range communities {
		ci, cj := (k%5)*2, (k/5)*2
		code := fmt.Sprintf("%s%03d", street, k+1)
		cells = append(cells, grid.Cell{Code: code, Name: name, Level: 3, Kind: grid.Base, Parent: street,
			Geometry: ring(ci, cj, ci+2, cj+2)})
		for g := 0; g < 4; g++ {
			gi, gj := ci+g%2, cj+g/2
			gcode := fmt.Sprintf("%s%02d", code, g+1)
			cells = append(cells, grid.Cell{Code: gcode, Name: fmt.Sprintf("%s第%d网格", name, g+1), Level: 4, Kind: grid.Base,
				Parent: code, Geometry: ring(gi, gj, gi+1, gj+1),
				Roles: grid.Roles{Chief: "chief-" + gcode, GridWorker: "worker-" + gcode, Police: "police-" + code,
					LawEnforcement: "cg-" + street, Property: "wy-" + code, Legal: "fw-" + street, Discipline: "jj-" + street}})
		}
	}
	// Special grids: small quadrilaterals inside a community (around the
	// centre of one of its grids), two per community, one community gets one.
	for k, name := range specials {
		com := k % len(communities)
		ci, cj := (com%5)*2, (com/5)*2
		g := (k / len(communities)) * 3 // grid 0 or 3 of the community
		gi, gj := ci+g%2, cj+g/2
		c := orb.Point{(p[gi][gj][0] + p[gi+1][gj+1][0]) / 2, (p[gi][gj][1] + p[gi+1][gj+1][1]) / 2}
		w, h := dx*0.18, dy*0.12
		code := fmt.Sprintf("%s%03dS%02d", street, com+1, k/len(communities)+1)
		cells = append(cells, grid.Cell{Code: code, Name: name, Level: 4, Kind: grid.Special,
			Parent: fmt.Sprintf("%s%03d", street, com+1),
			Geometry: orb.MultiPolygon{{{
				{round(c[0] - w), round(c[1] - h)}, {round(c[0] + w), round(c[1] - h*0.8)},
				{round(c[0] + w*0.9), round(c[1] + h)}, {round(c[0] - w), round(c[1] + h*0.9)}, {round(c[0] - w), round(c[1] - h)},
			}}}})
	}
	if probs := grid.Check(cells); len(probs) > 0 {
		for _, pr := range probs {
			fmt.Fprintln(os.Stderr, pr.Msg)
		}
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(grid.FeatureCollection(cells)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func round(v float64) float64 {
	const k = 1e6
	return float64(int64(v*k+0.5)) / k
}
