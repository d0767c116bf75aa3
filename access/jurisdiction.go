package access

import (
	"maps"
	"sort"

	"sharpeyes/grid"
)

// Jurisdiction is where a principal may look: every cell (All) or a set of
// cell codes, plus the assignees whose cases they handle (a department
// sees the cases dispatched to it, a user those dispatched to them).
type Jurisdiction struct {
	All       bool
	Cells     map[string]bool
	Assignees map[string]bool
}

// Everything is the administrator's jurisdiction.
func Everything() Jurisdiction { return Jurisdiction{All: true} }

// NamedIn lists the cells whose 一长六员 roles name username.
func NamedIn(ix *grid.Index, username string) []string {
	var out []string
	if username == "" {
		return nil
	}
	for _, c := range ix.Cells() {
		for _, role := range grid.RoleNames() {
			if who, _ := c.Roles.Get(role); who == username {
				out = append(out, c.Code)
				break
			}
		}
	}
	return out
}

// Compute is the union of the subtrees of grids and of every cell that
// names username; codes not in the index add nothing.
func Compute(ix *grid.Index, username string, grids []string) Jurisdiction {
	j := Jurisdiction{Cells: map[string]bool{}, Assignees: map[string]bool{}}
	if username != "" {
		j.Assignees[username] = true
	}
	for _, root := range append(append([]string(nil), grids...), NamedIn(ix, username)...) {
		for _, code := range ix.Subtree(root) {
			j.Cells[code] = true
		}
	}
	return j
}

// Intersect narrows j to what o also allows (a token never sees more than
// its owner).
func (j Jurisdiction) Intersect(o Jurisdiction) Jurisdiction {
	switch {
	case o.All:
		return j
	case j.All:
		return o
	}
	out := Jurisdiction{Cells: map[string]bool{}, Assignees: map[string]bool{}}
	for c := range j.Cells {
		if o.Cells[c] {
			out.Cells[c] = true
		}
	}
	for a := range j.Assignees {
		if o.Assignees[a] {
			out.Assignees[a] = true
		}
	}
	return out
}

// HasCell tells whether cell lies inside.
func (j Jurisdiction) HasCell(cell string) bool { return j.All || (cell != "" && j.Cells[cell]) }

// HasAny tells whether any of cells lies inside.
func (j Jurisdiction) HasAny(cells ...string) bool {
	if j.All {
		return true
	}
	for _, c := range cells {
		if c != "" && j.Cells[c] {
			return true
		}
	}
	return false
}

// HandlesAssignee tells whether cases assigned to a are the principal's.
func (j Jurisdiction) HandlesAssignee(a string) bool { return j.All || (a != "" && j.Assignees[a]) }

// CellList lists the cells, sorted (nil for All).
func (j Jurisdiction) CellList() []string {
	if j.All {
		return nil
	}
	out := make([]string, 0, len(j.Cells))
	for c := range j.Cells {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Roots lists the topmost cells of the jurisdiction (those whose parent is
// outside it), for showing it to people.
func (j Jurisdiction) Roots(ix *grid.Index) []string {
	var out []string
	for _, c := range j.CellList() {
		cell, ok := ix.Get(c)
		if ok && !j.Cells[cell.Parent] {
			out = append(out, c)
		}
	}
	return out
}

// Equal tells whether two jurisdictions hold the same cells and assignees.
func (j Jurisdiction) Equal(o Jurisdiction) bool {
	if j.All || o.All {
		return j.All == o.All
	}
	return maps.Equal(j.Cells, o.Cells) && maps.Equal(j.Assignees, o.Assignees)
}
