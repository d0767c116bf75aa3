package api

import (
	"slices"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/grid"
	"sharpeyes/registry"
)

// What a principal may see. A camera, event or incident lies inside a
// jurisdiction when one of its cells does; a case when its cell does or it
// is assigned to the principal (or their department). Cases filed with no
// place are the command centre's until it places them.

func (s *Server) seesCamera(p *access.Principal, ix *grid.Index, cam registry.Camera) bool {
	if p.Where.All {
		return true
	}
	return seesCells(p, locate(ix, cam))
}

// seesCells tells whether a camera's located cells lie in the jurisdiction
// (for listings that have located the camera already).
func seesCells(p *access.Principal, cells cellsOf) bool {
	return p.Where.HasAny(cells.Base) || p.Where.HasAny(cells.Special...)
}

// visibleCamera reads a camera the principal may see; others are not found.
func (s *Server) visibleCamera(p *access.Principal, id string) (registry.Camera, bool) {
	cam, ok := s.catalog.Get(id)
	if !ok || !s.seesCamera(p, s.grids.Index(), cam) {
		return registry.Camera{}, false
	}
	return cam, true
}

func seesCase(p *access.Principal, cs cases.Case) bool {
	w := p.Where
	return w.All || w.HasCell(cs.Grid) || w.HandlesAssignee(cs.Assignee) || (cs.Grid == "" && p.Role == access.Dispatcher)
}

// caseWithin is the store's form of seesCase (nil: everything).
func caseWithin(p *access.Principal) *cases.Within {
	if p.Where.All {
		return nil
	}
	w := &cases.Within{Cells: p.Where.CellList(), Unplaced: p.Role == access.Dispatcher}
	for a := range p.Where.Assignees {
		w.Assignees = append(w.Assignees, a)
	}
	return w
}

func seesIncident(p *access.Principal, in events.Incident) bool {
	return p.Where.HasAny(in.Grids...)
}

// incidentFor is an incident as p may see it: one that groups cameras of
// several cells (a site outage) shows only p's cameras and cells, and the
// site (the stream host the cameras share) only to those who may change
// cameras.
func (s *Server) incidentFor(p *access.Principal, in events.Incident) events.Incident {
	if !p.Can(access.CamerasWrite) {
		in.Site = ""
	}
	if p.Where.All {
		return in
	}
	ix := s.grids.Index()
	cams := []string{}
	for _, id := range in.Cameras {
		if cam, ok := s.catalog.Get(id); ok && s.seesCamera(p, ix, cam) {
			cams = append(cams, id)
		}
	}
	grids := []string{}
	for _, g := range in.Grids {
		if p.Where.HasCell(g) {
			grids = append(grids, g)
		}
	}
	in.Cameras, in.Grids = cams, grids
	if !slices.Contains(cams, in.CameraID) {
		in.CameraID = ""
		if len(cams) > 0 {
			in.CameraID = cams[0]
		}
	}
	return in
}

// seesGrid tells whether a cell is in the jurisdiction or above it (the
// tree down to one's own cells is shown, nothing beside them).
func seesGrid(p *access.Principal, ix *grid.Index, code string) bool {
	if p.Where.All || p.Where.HasCell(code) {
		return true
	}
	for c := range p.Where.Cells {
		if ix.Within(c, code) {
			return true
		}
	}
	return false
}

// cellFilter is a ?grid= filter: the cells of one subtree (nil: no filter).
type cellFilter map[string]bool

// gridFilter reads ?grid=; a cell the principal may not see (or none)
// answers 404 and false.
func (s *Server) gridFilter(c *gin.Context, p *access.Principal) (cellFilter, bool) {
	g := c.Query("grid")
	if g == "" {
		return nil, true
	}
	ix := s.grids.Index()
	cells := ix.Subtree(g)
	if cells == nil || !seesGrid(p, ix, g) {
		s.hidden(c, "grid "+g)
		return nil, false
	}
	f := cellFilter{}
	for _, cell := range cells {
		f[cell] = true
	}
	return f, true
}

// list is the filter's cells, sorted (nil: no filter).
func (f cellFilter) list() []string {
	if f == nil {
		return nil
	}
	out := make([]string, 0, len(f))
	for c := range f {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// keeps tells whether something linked to cells passes the filter.
func (f cellFilter) keeps(cells ...string) bool {
	if f == nil {
		return true
	}
	for _, c := range cells {
		if f[c] {
			return true
		}
	}
	return false
}
