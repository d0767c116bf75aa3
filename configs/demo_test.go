package configs

import (
	"testing"

	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

func TestDemoGridsAndCamerasAreConsistent(t *testing.T) {
	cells, probs := grid.Parse(DemoGrids)
	if len(probs) > 0 {
		t.Fatalf("demo grids have problems: %+v", probs)
	}
	count := map[grid.Kind]int{}
	for _, c := range cells {
		if c.Level == 4 {
			count[c.Kind]++
		}
	}
	if count[grid.Base] != 40 || count[grid.Special] != 19 {
		t.Fatalf("level-4 cells: %d base, %d special; the reference street has 40 and 19", count[grid.Base], count[grid.Special])
	}
	ix := grid.NewIndex(cells)
	cams, err := DemoCameras()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cams {
		base, _ := ix.Locate(orb.Point{c.Lon, c.Lat})
		cell, ok := ix.Get(base)
		if !ok || cell.Level != 4 {
			t.Errorf("demo camera %s (%s) is not inside a level-4 grid (got %q)", c.ID, c.Name, base)
		}
	}
}
