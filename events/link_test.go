package events

import (
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

func TestLinkerCells(t *testing.T) {
	sq := func(code, parent string, kind grid.Kind, x, y, w float64) grid.Cell {
		return grid.Cell{Code: code, Parent: parent, Level: 4, Kind: kind, Name: code,
			Geometry: orb.MultiPolygon{{{{x, y}, {x + w, y}, {x + w, y + w}, {x, y + w}, {x, y}}}}}
	}
	ix := grid.NewIndex([]grid.Cell{sq("A", "", grid.Base, 0, 0, 1), sq("B", "", grid.Base, 1, 0, 1), sq("S", "", grid.Special, 0.5, 0, 1)})
	f := func(v float64) *float64 { return &v }
	places := map[string]Place{
		"located": {Lat: f(0.25), Lon: f(0.75), Site: "10.1.2.3"}, // in A and S
		"manual":  {Lat: f(0.25), Lon: f(0.25), Grid: "B"},
	}
	l := Linker{Index: func() *grid.Index { return ix }, Camera: func(id string) (Place, bool) { p, ok := places[id]; return p, ok }}
	for _, tc := range []struct {
		e           Event
		cells, site string
	}{
		{Event{CameraID: "located"}, "A,S", "10.1.2.3"},
		{Event{CameraID: "manual"}, "B", ""},
		{Event{CameraID: "manual", Lat: f(0.5), Lon: f(1.5)}, "B,S", ""}, // its own place wins
		{Event{CameraID: "unknown"}, "", ""},
	} {
		cells, site := l.Cells(tc.e)
		if strings.Join(cells, ",") != tc.cells || site != tc.site {
			t.Errorf("%s: %v %q, want %s %q", tc.e.CameraID, cells, site, tc.cells, tc.site)
		}
	}
}
