package events

import (
	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

// Place is what linking needs to know of a camera: where it stands, the
// cell set on it by hand (if any) and its site (the host of its streams:
// cameras on one host fail together).
type Place struct {
	Lat, Lon *float64
	Grid     string
	Site     string
}

// Linker links events to grid cells: an event takes its own location's
// cells, or its camera's (a cell set by hand, else its location's), at the
// time it happened.
type Linker struct {
	Index  func() *grid.Index            // the grid index in force
	Camera func(id string) (Place, bool) // where a camera is
}

// Cells are the grid cells an event belongs to (one base plus any special
// cells covering it) and its camera's site.
func (l Linker) Cells(e Event) ([]string, string) {
	cam, ok := l.Camera(e.CameraID)
	var pt *orb.Point
	switch {
	case e.Lat != nil && e.Lon != nil:
		pt = &orb.Point{*e.Lon, *e.Lat}
	case ok && cam.Lat != nil && cam.Lon != nil:
		pt = &orb.Point{*cam.Lon, *cam.Lat}
	}
	var cells []string
	if ok && cam.Grid != "" && e.Lat == nil {
		cells = append(cells, cam.Grid)
	}
	if pt != nil {
		base, special := l.Index().Locate(*pt)
		if len(cells) == 0 && base != "" {
			cells = append(cells, base)
		}
		cells = append(cells, special...)
	}
	return cells, cam.Site
}
