// Package grid is the street's grid geometry and hierarchy: cells, GeoJSON
// import checks, point-in-polygon lookup and subtree queries. Pure: no I/O.
package grid

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Kind of a cell: base cells tile their parent; special cells (a school, a
// market, a scenic area) overlay base cells.
type Kind string

// Cell kinds.
const (
	Base    Kind = "base"
	Special Kind = "special"
)

// Roles are the grid chief and the six officers (一长六员) as user ids.
type Roles struct {
	Chief          string `json:"chief,omitempty"`           // 网格长
	GridWorker     string `json:"grid_worker,omitempty"`     // 专职网格员
	Police         string `json:"police,omitempty"`          // 民警
	LawEnforcement string `json:"law_enforcement,omitempty"` // 城管执法
	Property       string `json:"property,omitempty"`        // 物业
	Legal          string `json:"legal,omitempty"`           // 法律服务
	Discipline     string `json:"discipline,omitempty"`      // 纪检监督
	// Maintainer keeps the cell's cameras working (设备运维: the street's
	// maintenance contractor); camera faults are dispatched to them.
	Maintainer string `json:"maintainer,omitempty"`
}

// RoleNames are the cell roles, as JSON and policies name them.
func RoleNames() []string {
	return []string{"chief", "grid_worker", "police", "law_enforcement", "property", "legal", "discipline", "maintainer"}
}

// Get is who holds a role ("" when nobody); known is false for a name
// that is not a role.
func (r Roles) Get(role string) (who string, known bool) {
	switch role {
	case "chief":
		return r.Chief, true
	case "grid_worker":
		return r.GridWorker, true
	case "police":
		return r.Police, true
	case "law_enforcement":
		return r.LawEnforcement, true
	case "property":
		return r.Property, true
	case "legal":
		return r.Legal, true
	case "discipline":
		return r.Discipline, true
	case "maintainer":
		return r.Maintainer, true
	}
	return "", false
}

// Holder is who holds role in cell code or the nearest cell above it.
func (ix *Index) Holder(code, role string) string {
	for depth := 0; code != "" && depth < 32; depth++ {
		c, ok := ix.cells[code]
		if !ok {
			return ""
		}
		if who, _ := c.Roles.Get(role); who != "" {
			return who
		}
		code = c.Parent
	}
	return ""
}

// Cell is one grid cell.
type Cell struct {
	Code     string           `json:"code"`
	Name     string           `json:"name"`
	Level    int              `json:"level"` // 1 district … 2 street … 3 community/village … 4 grid
	Kind     Kind             `json:"kind"`
	Parent   string           `json:"parent,omitempty"`
	Roles    Roles            `json:"roles"`
	Geometry orb.MultiPolygon `json:"-"`
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Feature is the cell as a GeoJSON feature (properties code, name, level,
// kind, parent, roles).
func (c Cell) Feature() *geojson.Feature {
	f := geojson.NewFeature(c.Geometry)
	f.Properties = geojson.Properties{"code": c.Code, "name": c.Name, "level": c.Level, "kind": string(c.Kind)}
	if c.Parent != "" {
		f.Properties["parent"] = c.Parent
	}
	if c.Roles != (Roles{}) {
		f.Properties["roles"] = c.Roles
	}
	return f
}

// MarshalJSON writes the cell as a GeoJSON feature.
func (c Cell) MarshalJSON() ([]byte, error) { return json.Marshal(c.Feature()) }

// UnmarshalJSON reads a cell from a GeoJSON feature, without checks (Check does them).
func (c *Cell) UnmarshalJSON(b []byte) error {
	f, err := geojson.UnmarshalFeature(b)
	if err != nil {
		return err
	}
	cell, probs := fromFeature(0, f)
	if len(probs) > 0 {
		return fmt.Errorf("%s", probs[0].Msg)
	}
	*c = cell
	return nil
}

// FeatureCollection writes cells as GeoJSON, sorted by code.
func FeatureCollection(cells []Cell) *geojson.FeatureCollection {
	sorted := append([]Cell(nil), cells...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Code < sorted[j].Code })
	fc := geojson.NewFeatureCollection()
	for _, c := range sorted {
		fc.Append(c.Feature())
	}
	return fc
}
