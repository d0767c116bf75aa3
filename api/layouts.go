package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"sharpeyes/registry"
)

// LayoutStore keeps each user's saved live walls.
type LayoutStore interface {
	PutLayout(ctx context.Context, user string, l registry.Layout) (registry.Layout, error)
	Layouts(ctx context.Context, user string) ([]registry.Layout, error)
	DeleteLayout(ctx context.Context, user, name string) error
}

// listLayouts answers the caller's own layouts.
func (s *Server) listLayouts(c *gin.Context) {
	ls, err := s.layouts.Layouts(c.Request.Context(), principal(c).Username)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ls, "next_cursor": ""})
}

func (s *Server) getLayout(c *gin.Context) {
	ls, err := s.layouts.Layouts(c.Request.Context(), principal(c).Username)
	if err != nil {
		writeError(c, err)
		return
	}
	for _, l := range ls {
		if l.Name == c.Param("name") {
			c.JSON(http.StatusOK, l)
			return
		}
	}
	writeError(c, fmt.Errorf("layout %q: %w", c.Param("name"), registry.ErrNotFound))
}

// putLayout saves a layout under the caller's name. Every camera on it
// must be one the caller may watch.
func (s *Server) putLayout(c *gin.Context) {
	var l registry.Layout
	if err := bindJSON(c, &l); err != nil {
		writeError(c, err)
		return
	}
	if l.Name != "" && l.Name != c.Param("name") {
		writeError(c, &registry.FieldError{Field: "name", Msg: "does not match the URL"})
		return
	}
	l.Name = c.Param("name")
	p := principal(c)
	check := func(field, id string) error {
		if _, ok := s.visibleCamera(p, id); !ok {
			return &registry.FieldError{Field: field, Msg: fmt.Sprintf("unknown camera %q", id)}
		}
		return nil
	}
	for i, id := range l.Tiles {
		if id == "" {
			continue
		}
		if err := check(fmt.Sprintf("tiles[%d]", i), id); err != nil {
			writeError(c, err)
			return
		}
	}
	for i, t := range l.Tours {
		for _, id := range t.Cameras {
			if err := check(fmt.Sprintf("tours[%d].cameras", i), id); err != nil {
				writeError(c, err)
				return
			}
		}
	}
	saved, err := s.layouts.PutLayout(c.Request.Context(), p.Username, l)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, saved)
}

func (s *Server) deleteLayout(c *gin.Context) {
	if err := s.layouts.DeleteLayout(c.Request.Context(), principal(c).Username, c.Param("name")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
