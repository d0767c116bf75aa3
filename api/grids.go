package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"sharpeyes/grid"
	"sharpeyes/registry"
)

// GridStore is what the API needs to store grid imports.
type GridStore interface {
	ImportGrids(ctx context.Context, cells []grid.Cell) (registry.GridSet, error)
}

// Grids gives the grid index in force.
type Grids interface {
	Index() *grid.Index
	Set(version string, cells []grid.Cell)
}

// cellsOf are the cells a camera belongs to.
type cellsOf = registry.Cells

func locate(ix *grid.Index, cam registry.Camera) cellsOf { return cam.Cells(ix) }

// inGrid tells whether a camera's cells lie in the subtree of root.
func inGrid(ix *grid.Index, c cellsOf, root string) bool {
	if c.Base != "" && (c.Base == root || ix.Within(c.Base, root)) {
		return true
	}
	for _, s := range c.Special {
		if ix.Within(s, root) {
			return true
		}
	}
	return false
}

type importReport struct {
	Error    string         `json:"error,omitempty"`
	Problems []grid.Problem `json:"problems,omitempty"`
	Version  string         `json:"version,omitempty"`
	Cells    int            `json:"cells"`
	Relinked int            `json:"cameras_relinked"`
}

// importGrids replaces the whole grid set from a GeoJSON FeatureCollection,
// all or nothing, and reports every defect found.
func (s *Server) importGrids(c *gin.Context) {
	if p := principal(c); !p.Where.All {
		writeError(c, fmt.Errorf("%w: replacing the grid set needs a jurisdiction over every cell", ErrForbidden))
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/geo+json" && mt != "application/json" {
		writeError(c, fmt.Errorf("%w: want application/geo+json", ErrUnsupportedMedia))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, jsonError(err))
		return
	}
	cells, probs := grid.Parse(body)
	if len(probs) > 0 {
		c.JSON(http.StatusBadRequest, importReport{
			Error:    fmt.Sprintf("grid import refused: %d problem(s); nothing was changed", len(probs)),
			Problems: probs,
		})
		return
	}
	before := map[string]cellsOf{}
	cams := s.catalog.All()
	old := s.grids.Index()
	for _, cam := range cams {
		before[cam.ID] = locate(old, cam)
	}
	set, err := s.gridStore.ImportGrids(c.Request.Context(), cells)
	if err != nil {
		writeError(c, err)
		return
	}
	s.grids.Set(set.Version, cells) // the watch will bring the same set
	ix := s.grids.Index()
	relinked := 0
	for _, cam := range cams {
		if fmt.Sprint(locate(ix, cam)) != fmt.Sprint(before[cam.ID]) {
			relinked++
		}
	}
	s.log.Info("grids imported", "version", set.Version, "cells", set.Cells, "cameras_relinked", relinked, "by", principal(c).Who())
	c.JSON(http.StatusOK, importReport{Version: set.Version, Cells: set.Cells, Relinked: relinked})
}

// cellView is a cell without its geometry, for lists and trees.
type cellView struct {
	Code     string     `json:"code"`
	Name     string     `json:"name"`
	Level    int        `json:"level"`
	Kind     grid.Kind  `json:"kind"`
	Parent   string     `json:"parent"`
	Roles    grid.Roles `json:"roles"`
	Children int        `json:"children"`
}

func cellViewOf(ix *grid.Index, c grid.Cell) cellView {
	return cellView{Code: c.Code, Name: c.Name, Level: c.Level, Kind: c.Kind, Parent: c.Parent, Roles: c.Roles,
		Children: len(ix.Children(c.Code))}
}

// listGrids: ?parent=CODE lists one level (parent= the roots); without it,
// every cell. format=geojson answers a FeatureCollection with geometry.
func (s *Server) listGrids(c *gin.Context) {
	ix := s.grids.Index()
	var cells []grid.Cell
	if parent, ok := c.GetQuery("parent"); ok {
		if parent != "" {
			if _, known := ix.Get(parent); !known {
				writeError(c, fmt.Errorf("grid %s: %w", parent, registry.ErrNotFound))
				return
			}
		}
		for _, code := range ix.Children(parent) {
			cell, _ := ix.Get(code)
			cells = append(cells, cell)
		}
	} else {
		cells = ix.Cells()
	}
	p := principal(c)
	kept := cells[:0:0]
	for _, cell := range cells {
		if seesGrid(p, ix, cell.Code) {
			kept = append(kept, cell)
		}
	}
	cells = kept
	switch c.Query("format") {
	case "geojson":
		c.Header("Content-Type", "application/geo+json")
		c.JSON(http.StatusOK, grid.FeatureCollection(cells))
		return
	case "":
	default:
		writeError(c, &queryError{"format", "must be geojson or absent"})
		return
	}
	items := make([]cellView, 0, len(cells))
	for _, cell := range cells {
		items = append(items, cellViewOf(ix, cell))
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
}

func (s *Server) getGrid(c *gin.Context) {
	ix := s.grids.Index()
	cell, ok := ix.Get(c.Param("code"))
	if ok && !seesGrid(principal(c), ix, cell.Code) {
		s.hidden(c, "grid "+cell.Code)
		return
	}
	if !ok {
		writeError(c, fmt.Errorf("grid %s: %w", c.Param("code"), registry.ErrNotFound))
		return
	}
	c.Header("Content-Type", "application/geo+json")
	c.JSON(http.StatusOK, cell.Feature())
}

// gridCameras lists the cameras of a cell's whole subtree, by id.
func (s *Server) gridCameras(c *gin.Context) {
	ix := s.grids.Index()
	code := c.Param("code")
	p := principal(c)
	if _, ok := ix.Get(code); !ok || !seesGrid(p, ix, code) {
		s.hidden(c, "grid "+code)
		return
	}
	limit, after, ok := pageParams(c)
	if !ok {
		return
	}
	cams := s.catalog.All()
	page := listPage{Items: []cameraView{}}
	for _, cam := range cams {
		if cam.ID <= after {
			continue
		}
		v := s.view(ix, cam) // locates the camera once, for the jurisdiction and the filters
		if !seesCells(p, v.Cells) {
			continue
		}
		if !inGrid(ix, v.Cells, code) {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = encodeCursor(0, page.Items[limit-1].ID)
			break
		}
		page.Items = append(page.Items, shown(p, v))
	}
	c.JSON(http.StatusOK, page)
}
