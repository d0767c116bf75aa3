package configs

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed demo/cameras.json
var demoCameras []byte

// DemoCamera is one camera of the reference street used by `sharpeyes demo`.
type DemoCamera struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Lat      float64  `json:"lat"`
	Lon      float64  `json:"lon"`
	Tags     []string `json:"tags"`
	AlwaysOn bool     `json:"always_on"`
}

// DemoCameras returns the demo cameras placed around Slender West Lake.
func DemoCameras() ([]DemoCamera, error) {
	var cams []DemoCamera
	if err := json.Unmarshal(demoCameras, &cams); err != nil {
		return nil, fmt.Errorf("demo cameras: %w", err)
	}
	return cams, nil
}

// DemoGrids is the reference street's grid GeoJSON (configs/demo/grids.geojson,
// made by `go run ./configs/demo/gen`).
//
//go:embed demo/grids.geojson
var DemoGrids []byte
