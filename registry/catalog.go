package registry

import (
	"math"
	"sort"
	"sync"

	"github.com/tidwall/rtree"
)

// Catalog is the in-memory mirror of the registry's cameras, fed by the
// watch (and by the API's own writes, ordered by etcd revision). Reads are
// served from it: fast at 100,000 cameras, and still answered from the last
// known state while etcd is unreachable.
type Catalog struct {
	mu      sync.RWMutex
	cams    map[string]Camera
	revs    map[string]int64 // newest revision seen per id, deletions included
	where   rtree.RTreeG[string]
	ready   chan struct{}
	readyMu sync.Once
}

// NewCatalog returns an empty catalog; Ready closes at the first sync.
func NewCatalog() *Catalog {
	return &Catalog{cams: map[string]Camera{}, revs: map[string]int64{}, ready: make(chan struct{})}
}

// Ready is closed once the catalog holds a full listing.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

func point(cam Camera) ([2]float64, bool) {
	if cam.Location == nil {
		return [2]float64{}, false
	}
	return [2]float64{cam.Location.Lon, cam.Location.Lat}, true
}

func (c *Catalog) indexLocked(cam Camera) {
	if p, ok := point(cam); ok {
		c.where.Insert(p, p, cam.ID)
	}
}

func (c *Catalog) unindexLocked(cam Camera) {
	if p, ok := point(cam); ok {
		c.where.Delete(p, p, cam.ID)
	}
}

// SyncCameras replaces the whole catalog (a list or re-list).
func (c *Catalog) SyncCameras(cams []Camera) {
	c.mu.Lock()
	c.cams, c.revs = make(map[string]Camera, len(cams)), make(map[string]int64, len(cams))
	c.where.Clear()
	for _, cam := range cams {
		c.cams[cam.ID], c.revs[cam.ID] = cam, cam.Rev
		c.indexLocked(cam)
	}
	c.mu.Unlock()
	c.readyMu.Do(func() { close(c.ready) })
}

// PutCamera applies a write unless a newer one was already seen.
func (c *Catalog) PutCamera(cam Camera) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cam.Rev != 0 && cam.Rev <= c.revs[cam.ID] {
		return
	}
	if old, ok := c.cams[cam.ID]; ok {
		c.unindexLocked(old)
	}
	c.cams[cam.ID], c.revs[cam.ID] = cam, cam.Rev
	c.indexLocked(cam)
}

// DeleteCamera applies a deletion unless a newer write was already seen.
func (c *Catalog) DeleteCamera(id string, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev != 0 && rev <= c.revs[id] {
		return
	}
	if old, ok := c.cams[id]; ok {
		c.unindexLocked(old)
		delete(c.cams, id)
	}
	c.revs[id] = rev
}

// Get returns one camera.
func (c *Catalog) Get(id string) (Camera, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cam, ok := c.cams[id]
	return cam, ok
}

// All lists every camera, sorted by id.
func (c *Catalog) All() []Camera {
	c.mu.RLock()
	out := make([]Camera, 0, len(c.cams))
	for _, cam := range c.cams {
		out = append(out, cam)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Len is the number of cameras.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cams)
}

// NearCamera is a camera with its distance from the query point.
type NearCamera struct {
	Camera
	DistanceM float64
}

// Near lists cameras within radius metres of (lat, lon), nearest first
// (ties by id).
func (c *Catalog) Near(lat, lon, radius float64) []NearCamera {
	dLat := radius / 110540
	dLon := radius / (111320 * math.Max(math.Cos(lat*math.Pi/180), 1e-6))
	c.mu.RLock()
	var out []NearCamera
	c.where.Search([2]float64{lon - dLon, lat - dLat}, [2]float64{lon + dLon, lat + dLat},
		func(_, _ [2]float64, id string) bool {
			cam := c.cams[id]
			if d := Haversine(lat, lon, cam.Location.Lat, cam.Location.Lon); d <= radius {
				out = append(out, NearCamera{Camera: cam, DistanceM: d})
			}
			return true
		})
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].DistanceM != out[j].DistanceM {
			return out[i].DistanceM < out[j].DistanceM
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Haversine is the great-circle distance in metres between two WGS-84 points.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}
