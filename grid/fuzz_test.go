package grid

import "testing"

// FuzzParse: any GeoJSON import is a set of cells or a list of problems,
// never a panic, and accepted cells index.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"S","name":"s","level":2,"kind":"base"},"geometry":{"type":"Polygon","coordinates":[[[119.4,32.4],[119.41,32.4],[119.41,32.41],[119.4,32.41],[119.4,32.4]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"A","level":4,"kind":"special","parent":"X","roles":{"chief":"c"}},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,1],[1,0],[0,1],[0,0]]]]}}]}`))
	f.Add([]byte(`{"type":"Feature"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cells, probs := Parse(b)
		if len(probs) == 0 {
			ix := NewIndex(cells)
			for _, c := range cells {
				ix.Subtree(c.Code)
			}
		}
	})
}
