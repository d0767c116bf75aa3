package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/cases"
	"sharpeyes/events"
)

// dashboard answers the centre's figures for a period (default the last
// 30 days) and optionally a grid subtree.
func (s *Server) dashboard(c *gin.Context) {
	to, from := time.Now(), time.Now().AddDate(0, 0, -30)
	for key, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.Query(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(c, &queryError{key, "must be an RFC 3339 time"})
				return
			}
			*dst = t
		}
	}
	p, ix := principal(c), s.grids.Index()
	var want map[string]bool
	if g := c.Query("grid"); g != "" {
		cells := ix.Subtree(g)
		if cells == nil || !seesGrid(p, ix, g) {
			s.hidden(c, "grid "+g)
			return
		}
		want = map[string]bool{}
		for _, cell := range cells {
			want[cell] = true
		}
	}
	f, err := s.pipe.Cases.FiguresOf(c.Request.Context(), from, to, func(cs cases.Case) bool {
		return seesCase(p, cs) && (want == nil || want[cs.Grid])
	})
	if err != nil {
		writeError(c, err)
		return
	}
	kinds, err := s.pipe.Events.CountByKindOf(c.Request.Context(), from, to, func(in events.Incident) bool {
		if !seesIncident(p, in) {
			return false
		}
		if want == nil {
			return true
		}
		for _, g := range in.Grids {
			if want[g] {
				return true
			}
		}
		return false
	})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"cases": f, "incidents_by_kind": kinds})
}
