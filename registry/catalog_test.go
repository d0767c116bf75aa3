package registry

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestCatalogOrdersWritesByRevisionAndAnswersNear(t *testing.T) {
	c := NewCatalog()
	c.SyncCameras(nil)
	at := func(id string, lat, lon float64, rev int64) Camera {
		return Camera{ID: id, Name: id, Location: &Location{Lat: lat, Lon: lon}, Rev: rev}
	}
	c.PutCamera(at("a", 32.4100, 119.4200, 5))
	c.PutCamera(at("a", 32.0, 119.0, 4)) // stale: ignored
	c.PutCamera(at("b", 32.4109, 119.4200, 6))
	c.PutCamera(at("far", 32.5, 119.5, 7))
	c.DeleteCamera("b", 3) // older than b's write: ignored
	if _, ok := c.Get("b"); !ok {
		t.Fatal("a stale delete removed b")
	}
	near := c.Near(32.4100, 119.4200, 200)
	if len(near) != 2 || near[0].ID != "a" || near[1].ID != "b" || near[1].DistanceM < 95 || near[1].DistanceM > 105 {
		t.Fatalf("near = %+v", near)
	}
	c.DeleteCamera("a", 9)
	c.PutCamera(at("a", 32.41, 119.42, 8)) // older than the delete: stays deleted
	if _, ok := c.Get("a"); ok || len(c.Near(32.41, 119.42, 50)) != 0 {
		t.Fatal("a resurrected by a stale write")
	}
}

// BenchmarkNear100k is a phone's "cameras near me" at 100,000 cameras.
func BenchmarkNear100k(b *testing.B) {
	c := NewCatalog()
	r := rand.New(rand.NewPCG(1, 2))
	cams := make([]Camera, 100_000)
	for i := range cams {
		// A county-sized area around Yangzhou, about 50 x 50 km.
		cams[i] = Camera{ID: fmt.Sprintf("c%06d", i), Location: &Location{Lat: 32.2 + 0.45*r.Float64(), Lon: 119.2 + 0.53*r.Float64()}}
	}
	c.SyncCameras(cams)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		n += len(c.Near(32.2+0.45*r.Float64(), 119.2+0.53*r.Float64(), 1000))
	}
	b.ReportMetric(float64(n)/float64(b.N), "cameras/query")
}
