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
	p := principal(c)
	want, ok := s.gridFilter(c, p)
	if !ok {
		return
	}
	f, err := s.cases.FiguresOf(c.Request.Context(), from, to, func(cs cases.Case) bool {
		return seesCase(p, cs) && want.keeps(cs.Grid)
	})
	if err != nil {
		writeError(c, err)
		return
	}
	kinds, err := s.events.CountByKindOf(c.Request.Context(), from, to, func(in events.Incident) bool {
		return seesIncident(p, in) && want.keeps(in.Grids...)
	})
	if err != nil {
		writeError(c, err)
		return
	}
	out := gin.H{"cases": f, "incidents_by_kind": kinds}
	if s.health != nil {
		h, err := s.healthFigures(c.Request.Context(), p, want, from, to)
		if err != nil {
			writeError(c, err)
			return
		}
		out["cameras"] = h
	}
	c.JSON(http.StatusOK, out)
}
