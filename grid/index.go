package grid

import (
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"
)

// Index answers where a point is and what lies under a cell. Immutable once
// built; a re-import builds a new one and swaps it in.
type Index struct {
	cells    map[string]*Cell
	children map[string][]string
	roots    []string
	base     rtree.RTreeG[*Cell]
	special  rtree.RTreeG[*Cell]
}

// NewIndex indexes cells (assumed checked).
func NewIndex(cells []Cell) *Index {
	ix := &Index{cells: map[string]*Cell{}, children: map[string][]string{}}
	for i := range cells {
		c := cells[i]
		ix.cells[c.Code] = &c
		b := c.Geometry.Bound()
		if c.Kind == Special {
			ix.special.Insert(b.Min, b.Max, &c)
		} else {
			ix.base.Insert(b.Min, b.Max, &c)
		}
		if c.Parent == "" {
			ix.roots = append(ix.roots, c.Code)
		} else {
			ix.children[c.Parent] = append(ix.children[c.Parent], c.Code)
		}
	}
	sort.Strings(ix.roots)
	for _, kids := range ix.children {
		sort.Strings(kids)
	}
	return ix
}

// Len is the number of cells.
func (ix *Index) Len() int { return len(ix.cells) }

// Get returns a cell by code.
func (ix *Index) Get(code string) (Cell, bool) {
	c, ok := ix.cells[code]
	if !ok {
		return Cell{}, false
	}
	return *c, true
}

// Children lists the codes directly under parent ("" for the roots), sorted.
func (ix *Index) Children(parent string) []string {
	if parent == "" {
		return ix.roots
	}
	return ix.children[parent]
}

// Subtree lists code and every code below it.
func (ix *Index) Subtree(code string) []string {
	if _, ok := ix.cells[code]; !ok {
		return nil
	}
	out := []string{code}
	for i := 0; i < len(out); i++ {
		out = append(out, ix.children[out[i]]...)
	}
	return out
}

// Within tells whether code is root or lies below it.
func (ix *Index) Within(code, root string) bool {
	for c, ok := ix.cells[code]; ok; c, ok = ix.cells[c.Parent] {
		if c.Code == root {
			return true
		}
		if c.Parent == "" {
			return false
		}
	}
	return false
}

// Cells lists every cell, sorted by code.
func (ix *Index) Cells() []Cell {
	out := make([]Cell, 0, len(ix.cells))
	for _, c := range ix.cells {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Locate finds the deepest base cell containing p and every special cell
// covering it. A point on an edge shared by cells of one level goes to the
// lowest code. lon/lat order, as GeoJSON.
func (ix *Index) Locate(p orb.Point) (base string, special []string) {
	var best *Cell
	ix.base.Search(p, p, func(_, _ [2]float64, c *Cell) bool {
		if !planar.MultiPolygonContains(c.Geometry, p) {
			return true
		}
		if best == nil || c.Level > best.Level || (c.Level == best.Level && c.Code < best.Code) {
			best = c
		}
		return true
	})
	if best != nil {
		base = best.Code
	}
	ix.special.Search(p, p, func(_, _ [2]float64, c *Cell) bool {
		if planar.MultiPolygonContains(c.Geometry, p) {
			special = append(special, c.Code)
		}
		return true
	})
	sort.Strings(special)
	return base, special
}
