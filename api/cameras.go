package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/grid"
	"sharpeyes/ingest"
	"sharpeyes/registry"
)

// cameraInput is the body of POST and PUT. OnDemand defaults to true.
type cameraInput struct {
	ID        string              `json:"id"`
	Name      string              `json:"name"`
	Streams   registry.Streams    `json:"streams"`
	Transport string              `json:"transport"`
	OnDemand  *bool               `json:"on_demand"`
	Location  *registry.Location  `json:"location"`
	Grid      string              `json:"grid"`
	Tags      []string            `json:"tags"`
	Device    *registry.Device    `json:"device"`
	Recording *registry.Recording `json:"recording"`

	// Read-only fields of a camera as answered; accepted and ignored so
	// that a client can send back what it read.
	Cells     json.RawMessage `json:"cells,omitempty"`
	CreatedAt json.RawMessage `json:"created_at,omitempty"`
	UpdatedAt json.RawMessage `json:"updated_at,omitempty"`
	DistanceM json.RawMessage `json:"distance_m,omitempty"`
}

func (in cameraInput) camera() registry.Camera {
	od := true
	if in.OnDemand != nil {
		od = *in.OnDemand
	}
	return registry.Camera{ID: in.ID, Name: in.Name, Streams: in.Streams, Transport: in.Transport,
		OnDemand: od, Location: in.Location, Grid: in.Grid, Tags: in.Tags, Device: in.Device, Recording: in.Recording}
}

// cameraView is a camera as answered: stream passwords replaced by ***,
// grid the cell in force (set by hand or found from the location) and
// cells the base and special cells it belongs to.
type cameraView struct {
	registry.Camera
	// Streams and Device (where the camera lives on the street's network)
	// are shown to those who may change cameras; people who only watch
	// see neither (they shadow the camera's own fields).
	Streams   *registry.Streams `json:"streams,omitempty"`
	Device    *registry.Device  `json:"device,omitempty"`
	Cells     cellsOf           `json:"cells"`
	DistanceM *float64          `json:"distance_m,omitempty"`
	Status    *statusView       `json:"status,omitempty"` // ?include=status
}

func (s *Server) view(ix *grid.Index, c registry.Camera) cameraView {
	cells := locate(ix, c)
	c.Streams.Main = ingest.RedactURL(c.Streams.Main)
	if c.Streams.Sub != "" {
		c.Streams.Sub = ingest.RedactURL(c.Streams.Sub)
	}
	c.Grid = cells.Base
	v := cameraView{Camera: c, Streams: &c.Streams, Device: c.Device, Cells: cells}
	if c.GB != nil && c.Streams == (registry.Streams{}) {
		v.Streams = nil // a GB/T 28181 channel is reached through its device, not a URL
	}
	return v
}

// shown is a camera view as p may see it: the streams and device only for
// those holding cameras:write.
func shown(p *access.Principal, v cameraView) cameraView {
	if !p.Can(access.CamerasWrite) {
		v.Streams, v.Device = nil, nil
	}
	return v
}

// manualGrid keeps a grid sent back unchanged from a view from becoming a
// manual override: only a grid other than the one found by location is.
func manualGrid(ix *grid.Index, next registry.Camera) string {
	if next.Grid == "" {
		return ""
	}
	probe := next
	probe.Grid = ""
	if found := locate(ix, probe); found.Base == next.Grid {
		return ""
	}
	return next.Grid
}

// keepSecrets lets a client send back a camera as it was shown (secrets
// as ***) without wiping the stored secrets.
func keepSecrets(next, cur *registry.Camera) {
	next.Streams.Main = ingest.KeepSecrets(next.Streams.Main, cur.Streams.Main)
	next.Streams.Sub = ingest.KeepSecrets(next.Streams.Sub, cur.Streams.Sub)
}

func (s *Server) createCamera(c *gin.Context) {
	var in cameraInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	next := in.camera()
	if err := s.checkGrid(next.Grid); err != nil {
		writeError(c, err)
		return
	}
	if p := principal(c); !s.seesCamera(p, s.grids.Index(), next) {
		writeError(c, fmt.Errorf("%w: the camera would lie outside your jurisdiction", ErrForbidden))
		return
	}
	cam, err := s.store.CreateCamera(c.Request.Context(), next)
	if err != nil {
		writeError(c, err)
		return
	}
	s.sync.PutCamera(cam)
	s.log.Info("camera created", "camera", cam.ID, "main", ingest.RedactURL(cam.Streams.Main), "by", principal(c).Who())
	c.Header("Location", "/api/v1/cameras/"+cam.ID)
	c.JSON(http.StatusCreated, s.view(s.grids.Index(), cam))
}

// camera reads one camera from the catalog.
func (s *Server) camera(id string) (registry.Camera, error) {
	cam, ok := s.catalog.Get(id)
	if !ok {
		return registry.Camera{}, fmt.Errorf("camera %q: %w", id, registry.ErrNotFound)
	}
	return cam, nil
}

func (s *Server) getCamera(c *gin.Context) {
	cam, ok := s.visibleCamera(principal(c), c.Param("id"))
	if !ok {
		s.hidden(c, "camera "+c.Param("id"))
		return
	}
	s.sync.PutCamera(cam)
	c.JSON(http.StatusOK, shown(principal(c), s.view(s.grids.Index(), cam)))
}

func (s *Server) putCamera(c *gin.Context) {
	var in cameraInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	id := c.Param("id")
	if _, ok := s.visibleCamera(principal(c), id); !ok {
		s.hidden(c, "camera "+id)
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(c, &registry.FieldError{Field: "id", Msg: "does not match the URL"})
		return
	}
	in.ID = id
	next := in.camera()
	ix := s.grids.Index()
	next.Grid = manualGrid(ix, next)
	if err := s.checkGrid(next.Grid); err != nil {
		writeError(c, err)
		return
	}
	if !s.seesCamera(principal(c), ix, next) {
		writeError(c, fmt.Errorf("%w: the camera would lie outside your jurisdiction", ErrForbidden))
		return
	}
	cam, err := s.store.UpdateCamera(c.Request.Context(), id, func(cur *registry.Camera) error {
		keepSecrets(&next, cur)
		*cur = next
		return nil
	})
	if err != nil {
		writeError(c, err)
		return
	}
	s.sync.PutCamera(cam)
	c.JSON(http.StatusOK, shown(principal(c), s.view(s.grids.Index(), cam)))
}

// patchCamera applies a JSON merge patch (RFC 7396).
func (s *Server) patchCamera(c *gin.Context) {
	var patch map[string]any
	if err := bindJSON(c, &patch); err != nil {
		writeError(c, err)
		return
	}
	if patch == nil {
		writeError(c, fmt.Errorf("%w: want a JSON object", ErrBadRequest))
		return
	}
	for _, ro := range []string{"id", "created_at", "updated_at"} {
		if _, ok := patch[ro]; ok {
			writeError(c, &registry.FieldError{Field: ro, Msg: "cannot be changed"})
			return
		}
	}
	delete(patch, "cells")
	delete(patch, "distance_m")
	ix := s.grids.Index()
	p := principal(c)
	if _, ok := s.visibleCamera(p, c.Param("id")); !ok {
		s.hidden(c, "camera "+c.Param("id"))
		return
	}
	cam, err := s.store.UpdateCamera(c.Request.Context(), c.Param("id"), func(cur *registry.Camera) error {
		b, _ := json.Marshal(cur)
		var doc map[string]any
		_ = json.Unmarshal(b, &doc)
		merged, _ := mergePatch(doc, patch).(map[string]any)
		b, _ = json.Marshal(merged)
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var next registry.Camera
		if err := dec.Decode(&next); err != nil {
			return jsonError(err)
		}
		keepSecrets(&next, cur)
		if _, patched := patch["grid"]; patched {
			next.Grid = manualGrid(ix, next)
		}
		if err := s.checkGrid(next.Grid); err != nil {
			return err
		}
		if !s.seesCamera(p, ix, next) {
			return fmt.Errorf("%w: the camera would lie outside your jurisdiction", ErrForbidden)
		}
		*cur = next
		return nil
	})
	if err != nil {
		writeError(c, err)
		return
	}
	s.sync.PutCamera(cam)
	c.JSON(http.StatusOK, shown(principal(c), s.view(s.grids.Index(), cam)))
}

// checkGrid accepts an empty grid or a known cell code.
func (s *Server) checkGrid(code string) error {
	if code == "" || s.grids.Index().Len() == 0 {
		return nil // before any import, grids are free text
	}
	if _, ok := s.grids.Index().Get(code); !ok {
		return &registry.FieldError{Field: "grid", Msg: "is not a known grid cell code"}
	}
	return nil
}

// mergePatch implements RFC 7396.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func (s *Server) deleteCamera(c *gin.Context) {
	if _, ok := s.visibleCamera(principal(c), c.Param("id")); !ok {
		s.hidden(c, "camera "+c.Param("id"))
		return
	}
	rev, err := s.store.DeleteCamera(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	s.sync.DeleteCamera(c.Param("id"), rev)
	s.log.Info("camera deleted", "camera", c.Param("id"), "by", principal(c).Who())
	c.Status(http.StatusNoContent)
}

// statusView is GET /cameras/{id}/status.
type statusView struct {
	ingest.Status
	Viewers int    `json:"viewers"`
	Node    string `json:"node"`
}

func (s *Server) cameraStatus(c *gin.Context) {
	id := c.Param("id")
	if _, ok := s.visibleCamera(principal(c), id); !ok {
		s.hidden(c, "camera "+id)
		return
	}
	c.JSON(http.StatusOK, s.statusOf(c.Request.Context(), id))
}

// statusOf is a camera's status from the node that pulls it.
func (s *Server) statusOf(ctx context.Context, id string) statusView {
	if owner := s.cluster.Owner(id); owner.ID != s.cluster.Self().ID {
		// Pulled by another node, which publishes the status under its lease.
		view := statusView{Status: ingest.Status{State: ingest.StateUnknown}, Node: owner.ID}
		if rs, err := s.cluster.RemoteStatus(ctx, id); err == nil {
			_ = json.Unmarshal(rs.Status, &view.Status)
			view.Node = rs.Node
		}
		return view
	}
	st, err := s.pulls.Status(id)
	if err != nil { // registered but not yet seen by the watch
		st = ingest.CameraStatus{Status: ingest.Status{State: ingest.StateConnecting}}
	}
	return statusView{Status: st.Status, Viewers: st.Viewers, Node: s.cluster.Self().ID}
}

type listPage struct {
	Items      []cameraView `json:"items"`
	NextCursor string       `json:"next_cursor"`
}

// listCameras filters by grid, status, tag and near=lat,lon&radius=m
// (sorted by distance, with distance_m), and pages with limit and cursor.
func (s *Server) listCameras(c *gin.Context) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	var near *registry.Location
	radius := 0.0
	if v := c.Query("near"); v != "" {
		lat, lon, ok := parseLatLon(v)
		if !ok {
			writeError(c, &queryError{"near", "must be lat,lon in degrees"})
			return
		}
		near = &registry.Location{Lat: lat, Lon: lon}
		radius = 1000
		if r := c.Query("radius"); r != "" {
			radius, err = strconv.ParseFloat(r, 64)
			if err != nil || radius <= 0 || radius > 100_000 {
				writeError(c, &queryError{"radius", "must be metres, between 0 and 100000"})
				return
			}
		}
	}
	offset, after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		writeError(c, err)
		return
	}
	gridCode, state, tag := c.Query("grid"), c.Query("status"), c.Query("tag")
	switch state {
	case "", "online", "offline", "connecting", "unknown":
	default:
		writeError(c, &queryError{"status", "must be online, offline, connecting or unknown"})
		return
	}
	var all []registry.Camera
	dist := map[string]float64{}
	if near != nil {
		for _, n := range s.catalog.Near(near.Lat, near.Lon, radius) {
			all = append(all, n.Camera)
			dist[n.ID] = n.DistanceM
		}
	} else {
		all = s.catalog.All()
	}
	ix := s.grids.Index()
	p := principal(c)
	var rows []cameraView
	for _, cam := range all {
		v := s.view(ix, cam) // locates the camera once, for the jurisdiction and the filters
		if !seesCells(p, v.Cells) {
			continue
		}
		if gridCode != "" && !inGrid(ix, v.Cells, gridCode) {
			continue
		}
		if tag != "" && !contains(cam.Tags, tag) {
			continue
		}
		if state != "" {
			st, err := s.pulls.Status(cam.ID)
			if err != nil || string(st.State) != state {
				continue
			}
		}
		if near != nil {
			d := math.Round(dist[cam.ID]*10) / 10
			v.DistanceM = &d
		}
		rows = append(rows, shown(p, v))
	}
	page := listPage{Items: []cameraView{}}
	if near != nil { // already nearest first
		if offset > len(rows) {
			offset = len(rows)
		}
		rows = rows[offset:]
		if len(rows) > limit {
			page.NextCursor = encodeCursor(offset+limit, "")
			rows = rows[:limit]
		}
	} else {
		start := sort.Search(len(rows), func(i int) bool { return rows[i].ID > after })
		rows = rows[start:]
		if len(rows) > limit {
			rows = rows[:limit]
			page.NextCursor = encodeCursor(0, rows[limit-1].ID)
		}
	}
	if c.Query("include") == "status" { // a wall's status dots in one request
		for i := range rows {
			st := s.statusOf(c.Request.Context(), rows[i].ID)
			rows[i].Status = &st
		}
	}
	page.Items = append(page.Items, rows...)
	c.JSON(http.StatusOK, page)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// pageParams reads limit (1–1000, default 100) and an id cursor; false
// when it answered a bad value.
func pageParams(c *gin.Context) (limit int, after string, ok bool) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err == nil {
		_, after, err = decodeCursor(c.Query("cursor"))
	}
	if err != nil {
		writeError(c, err)
		return 0, "", false
	}
	return limit, after, true
}

func intParam(c *gin.Context, name string, def, lo, hi int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &queryError{name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi)}
	}
	return n, nil
}

func parseLatLon(s string) (float64, float64, bool) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, false
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return 0, 0, false
	}
	return lat, lon, true
}

// Cursors are opaque to clients: "id:<last id>" or "off:<offset>", base64url.
func encodeCursor(offset int, after string) string {
	raw := "id:" + after
	if after == "" {
		raw = "off:" + strconv.Itoa(offset)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (int, string, error) {
	if s == "" {
		return 0, "", nil
	}
	bad := &queryError{"cursor", "is not a cursor this server gave out"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", bad
	}
	kind, val, _ := strings.Cut(string(b), ":")
	switch kind {
	case "id":
		return 0, val, nil
	case "off":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return 0, "", bad
		}
		return n, "", nil
	}
	return 0, "", bad
}
