package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"sharpeyes/events"
)

func (s *Server) listIncidents(c *gin.Context) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	state := c.Query("state")
	if c.Query("open") == "true" {
		state = events.Open
	}
	p, ix, g := principal(c), s.grids.Index(), c.Query("grid")
	keep := func(in events.Incident) bool {
		if !seesIncident(p, in) {
			return false
		}
		if g == "" {
			return true
		}
		for _, cell := range in.Grids {
			if cell == g || ix.Within(cell, g) {
				return true
			}
		}
		return false
	}
	items, err := s.events.IncidentsOf(c.Request.Context(), c.Query("camera_id"), c.Query("kind"), state, limit, keep)
	if err != nil {
		writeError(c, err)
		return
	}
	out := make([]events.Incident, len(items))
	for i, in := range items {
		out[i] = s.incidentFor(p, in)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

func (s *Server) getIncident(c *gin.Context) {
	in, err := s.events.Incident(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	p := principal(c)
	if !seesIncident(p, in) {
		s.hidden(c, "incident "+in.ID)
		return
	}
	c.JSON(http.StatusOK, s.incidentFor(p, in))
}
