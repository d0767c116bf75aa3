package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/authn"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/grid"
	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/recording"
	"sharpeyes/registry"
	"sharpeyes/relay"
	"sharpeyes/relay/webrtc"
)

// The API's tests run its handlers through httptest against fakes of what
// lies across the network (etcd, the pulls, WebRTC, GB/T 28181) and real
// in-memory or file-backed parts where those are cheap: the camera
// catalog and identity mirror, the grid index, the authenticator, and the
// event and case stores on SQLite in a temporary directory.

const adminToken = "test-admin-token-0123456789abcdef"

// harness is an API server over fakes, served by httptest.
type harness struct {
	t       *testing.T
	srv     *Server
	http    *httptest.Server
	catalog *registry.Catalog
	ids     readyIdentities
	cams    *memCameras
	grids   *grid.Live
	pulls   *fakePulls
	whep    *fakeWHEP
	idStore *memIdentities
	cases   *cases.Store
	events  *events.Store
	pipe    *cases.Pipeline
	bus     *events.Bus
	gb      *fakeGB
	ups     *fakeCascade
	rec     *fakeRecordings
	health  *health.Store
}

// harnessOpt changes the deps before the server is made.
type harnessOpt func(*harness, *Config, *Deps)

// withoutCases leaves events and cases out (their routes off).
func withoutCases() harnessOpt {
	return func(h *harness, _ *Config, d *Deps) { d.Cases, d.Events, d.Intake, d.Outbox = nil, nil, nil, nil }
}

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, catalog: registry.NewCatalog(), ids: readyIdentities{registry.NewIdentities()}, grids: &grid.Live{},
		pulls: &fakePulls{status: map[string]ingest.Status{}}, whep: &fakeWHEP{}, gb: newFakeGB(), ups: newFakeCascade()}
	h.cams = &memCameras{catalog: h.catalog, rev: 1}
	h.idStore = &memIdentities{users: map[string]registry.User{}}
	h.rec = &fakeRecordings{}
	h.catalog.SyncCameras(nil) // the first listing: the API answers
	ctx := context.Background()
	loc := time.FixedZone("CST", 8*3600)
	cal, err := cases.NewCalendar(loc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.cases, err = cases.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "cases.db"), cal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.cases.Close() })
	db, pg := h.cases.DB()
	if h.events, err = events.NewStore(ctx, db, pg, events.DefaultRules()); err != nil {
		t.Fatal(err)
	}
	if h.health, err = health.Open(ctx, db, pg); err != nil {
		t.Fatal(err)
	}
	h.bus = events.NewBus(h.events, events.BusConfig{Every: 20 * time.Millisecond})
	if err := h.bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.bus.Close)
	places := events.Linker{Index: h.grids.Index, Camera: func(id string) (events.Place, bool) {
		c, ok := h.catalog.Get(id)
		if !ok {
			return events.Place{}, false
		}
		p := events.Place{Grid: c.Grid}
		if c.Location != nil {
			p.Lat, p.Lon = &c.Location.Lat, &c.Location.Lon
		}
		return p, true
	}}
	h.pipe = &cases.Pipeline{Events: h.events, Cases: h.cases, Policy: cases.DefaultPolicy(), Loc: loc, Place: func(id string) cases.Place {
		c, _ := h.catalog.Get(id)
		return cases.Place{Name: c.Name, Grid: c.Grid}
	}}
	auth := authn.New(authn.Config{AdminToken: adminToken, ClusterKey: []byte("cluster-key-for-tests-0123456789"), TokenMaxTTL: 90 * 24 * time.Hour},
		h.ids, h.grids, h.catalog)
	cfg := Config{NodeID: "node-a", SessionTTL: time.Hour, TokenDefaultTTL: 24 * time.Hour, TokenMaxTTL: 90 * 24 * time.Hour, MaxStreams: 8, Location: loc}
	d := Deps{Cameras: h.cams, Catalog: h.catalog, GridStore: gridImporter{h.grids}, Grids: h.grids, Pulls: h.pulls, WHEP: h.whep,
		Sync: h.catalog, Cases: h.cases, Events: h.events, Intake: h.pipe, Places: places, Identities: h.ids, IdentityStore: h.idStore,
		Auth: auth, Layouts: &memLayouts{}, Outbox: h.bus, Recordings: h.rec, GB: h.gb, Cascade: h.ups, Health: h.health,
		Ready: func(context.Context) error { return nil }}
	for _, o := range opts {
		o(h, &cfg, &d)
	}
	h.srv = New(cfg, d)
	h.http = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.http.Close)
	return h
}

// noRedirects answers redirects as they are.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// call is one request: its answer's status, headers and body.
type call struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer's body into v.
func (c call) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(c.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", c.status, err, c.body)
	}
}

// errField is the error body's field and message.
func (c call) errField(t *testing.T) (field, msg string) {
	t.Helper()
	var e apiError
	c.json(t, &e)
	return e.Field, e.Error
}

// do sends method path with token (as a bearer; "" for none) and body (a
// string or []byte as is, anything else as JSON).
func (h *harness) do(method, path, token string, body any, header ...string) call {
	h.t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r, ct = strings.NewReader(b), "application/json"
	case []byte:
		r, ct = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, h.http.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return call{status: res.StatusCode, header: res.Header, body: b}
}

// must is do that fails the test unless the answer has status want.
func (h *harness) must(want int, method, path, token string, body any, header ...string) call {
	h.t.Helper()
	c := h.do(method, path, token, body, header...)
	if c.status != want {
		h.t.Fatalf("%s %s: %d, want %d: %s", method, path, c.status, want, c.body)
	}
	return c
}

// token issues an API token (as the admin) with scopes, limited to grids
// when any are given.
func (h *harness) token(scopes []string, grids ...string) string {
	h.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	h.must(http.StatusCreated, "POST", "/api/v1/tokens", adminToken, map[string]any{"name": "test " + strings.Join(scopes, ","),
		"scopes": scopes, "grids": grids}).json(h.t, &out)
	return out.Token
}

// streetGrids imports a street S of two communities, S-A (east,
// lon 120.00–120.01) and S-B (west, 120.01–120.02), lat 30.00–30.01.
func (h *harness) streetGrids() {
	h.t.Helper()
	rect := func(x0, y0, x1, y1 float64) orb.MultiPolygon {
		return orb.MultiPolygon{{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}}
	}
	cells := []grid.Cell{
		{Code: "S", Name: "街道", Level: 2, Kind: grid.Base, Geometry: rect(120.00, 30.00, 120.02, 30.01)},
		{Code: "S-A", Name: "东社区", Level: 3, Kind: grid.Base, Parent: "S", Geometry: rect(120.00, 30.00, 120.01, 30.01)},
		{Code: "S-B", Name: "西社区", Level: 3, Kind: grid.Base, Parent: "S", Geometry: rect(120.01, 30.00, 120.02, 30.01)},
	}
	b, err := json.Marshal(grid.FeatureCollection(cells))
	if err != nil {
		h.t.Fatal(err)
	}
	h.must(http.StatusOK, "POST", "/api/v1/grids/import", adminToken, b, "Content-Type", "application/geo+json")
}

// camera registers a camera in cell grid (its location inside the cell).
func (h *harness) camera(id, grid string) {
	h.t.Helper()
	lon := 120.005
	if grid == "S-B" {
		lon = 120.015
	}
	h.must(http.StatusCreated, "POST", "/api/v1/cameras", adminToken, map[string]any{"id": id, "name": "摄像机 " + id, "grid": grid,
		"location": map[string]any{"lat": 30.005, "lon": lon},
		"streams":  map[string]any{"main": "rtsp://admin:Cam-Secret-1@10.0.0.1:554/" + id}})
}

// readyIdentities is the identity mirror after its first listing.
type readyIdentities struct{ *registry.Identities }

func (readyIdentities) Ready() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// memCameras is the camera store in memory: validated as the registry
// validates, applied to the catalog as the watch would.
type memCameras struct {
	mu      sync.Mutex
	catalog *registry.Catalog
	rev     int64
	fail    error // every write fails with it when set (etcd away)
}

func (m *memCameras) CreateCamera(_ context.Context, c registry.Camera) (registry.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return registry.Camera{}, m.fail
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return registry.Camera{}, err
	}
	if _, ok := m.catalog.Get(c.ID); ok {
		return registry.Camera{}, fmt.Errorf("camera %s: %w", c.ID, registry.ErrExists)
	}
	m.rev++
	c.Rev, c.CreatedAt, c.UpdatedAt = m.rev, time.Now().UTC(), time.Now().UTC()
	m.catalog.PutCamera(c)
	return c, nil
}

func (m *memCameras) UpdateCamera(_ context.Context, id string, change func(*registry.Camera) error) (registry.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return registry.Camera{}, m.fail
	}
	cur, ok := m.catalog.Get(id)
	if !ok {
		return registry.Camera{}, fmt.Errorf("camera %s: %w", id, registry.ErrNotFound)
	}
	next := cur
	next.Tags = append([]string(nil), cur.Tags...)
	if err := change(&next); err != nil {
		return registry.Camera{}, err
	}
	next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
	next.Normalize()
	if err := next.Validate(); err != nil {
		return registry.Camera{}, err
	}
	m.rev++
	next.Rev, next.UpdatedAt = m.rev, time.Now().UTC()
	m.catalog.PutCamera(next)
	return next, nil
}

func (m *memCameras) DeleteCamera(_ context.Context, id string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.catalog.Get(id); !ok {
		return 0, fmt.Errorf("camera %s: %w", id, registry.ErrNotFound)
	}
	m.rev++
	m.catalog.DeleteCamera(id, m.rev)
	return m.rev, nil
}

func (m *memCameras) ImportCameras(ctx context.Context, cams []registry.Camera, upsert bool) (created, updated int, err error) {
	for _, c := range cams {
		if _, ok := m.catalog.Get(c.ID); ok {
			if !upsert {
				return created, updated, fmt.Errorf("camera %s: %w", c.ID, registry.ErrExists)
			}
			if _, err := m.UpdateCamera(ctx, c.ID, func(x *registry.Camera) error { *x = c; return nil }); err != nil {
				return created, updated, err
			}
			updated++
			continue
		}
		if _, err := m.CreateCamera(ctx, c); err != nil {
			return created, updated, err
		}
		created++
	}
	return created, updated, nil
}

// gridImporter stores a grid import straight into the index in force.
type gridImporter struct{ live *grid.Live }

func (g gridImporter) ImportGrids(_ context.Context, cells []grid.Cell) (registry.GridSet, error) {
	v := fmt.Sprintf("v%d", time.Now().UnixNano())
	g.live.Set(v, cells)
	return registry.GridSet{Version: v, Cells: len(cells)}, nil
}

// fakePulls answers the states set in status.
type fakePulls struct {
	mu     sync.Mutex
	status map[string]ingest.Status
}

func (f *fakePulls) set(id string, st ingest.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = ingest.Status{State: st, Since: time.Now()}
}

func (f *fakePulls) Status(id string) (ingest.CameraStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	if !ok {
		return ingest.CameraStatus{}, fmt.Errorf("%w: %s", relay.ErrUnknownCamera, id)
	}
	return ingest.CameraStatus{Status: st}, nil
}

// Pulls are the cameras online (pulled); the others are known, not pulled.
func (f *fakePulls) Pulls() []ingest.PullStat {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ingest.PullStat
	for id, st := range f.status {
		if st.State == ingest.StateOnline {
			out = append(out, ingest.PullStat{Camera: id, Variant: "main", Status: st})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Camera < out[j].Camera })
	return out
}

func (f *fakePulls) IDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.status))
	for id := range f.status {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// fakeWHEP answers an offer with a fixed answer and counts sessions.
type fakeWHEP struct {
	mu       sync.Mutex
	sessions map[string]string // session → camera
	n        int
	refuse   error
}

func (f *fakeWHEP) Offer(_ context.Context, cameraID, variant, offer string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return "", "", f.refuse
	}
	if f.sessions == nil {
		f.sessions = map[string]string{}
	}
	f.n++
	id := fmt.Sprintf("sess%d", f.n)
	f.sessions[id] = cameraID
	return id, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", nil
}

func (f *fakeWHEP) Delete(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[id]; !ok {
		return fmt.Errorf("session %s: %w", id, webrtc.ErrSessionNotFound)
	}
	delete(f.sessions, id)
	return nil
}

func (f *fakeWHEP) Sessions(cameraID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.sessions {
		if c == cameraID || cameraID == "" {
			n++
		}
	}
	return n
}

func (f *fakeWHEP) ICEServers() []webrtc.ICEServer {
	return []webrtc.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}
}
func (f *fakeWHEP) SendStats() (uint64, uint64) { return 3, 300 }
func (f *fakeWHEP) Retransmits() uint64         { return 0 }
func (f *fakeWHEP) Reaped() uint64              { return 0 }
func (f *fakeWHEP) SRTPSealed() (uint64, uint64) {
	return 0, 0
}

// memIdentities is the identity store in memory (the API keeps the
// mirror itself).
type memIdentities struct {
	mu    sync.Mutex
	users map[string]registry.User
	n     int
}

func (m *memIdentities) CreateUser(_ context.Context, u registry.User) (registry.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !registry.ValidUsername(u.Username) {
		return registry.User{}, &registry.FieldError{Field: "username", Msg: "must be 1-64 of A-Z a-z 0-9 _ . @ -"}
	}
	if _, ok := m.users[u.Username]; ok {
		return registry.User{}, fmt.Errorf("user %s: %w", u.Username, registry.ErrExists)
	}
	m.n++
	u.ID, u.Epoch, u.Rev = fmt.Sprintf("u%d", m.n), 1, int64(m.n)
	u.CreatedAt = time.Now().UTC()
	m.users[u.Username] = u
	return u, nil
}

func (m *memIdentities) UpdateUser(_ context.Context, name string, change func(*registry.User) error) (registry.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return registry.User{}, fmt.Errorf("user %s: %w", name, registry.ErrNotFound)
	}
	old := u
	old.Grids = append([]string(nil), u.Grids...)
	if err := change(&u); err != nil {
		return registry.User{}, err
	}
	// As the registry: a change of what the user may do moves the epoch on.
	if old.PasswordHash != u.PasswordHash || old.Role != u.Role || old.Department != u.Department ||
		old.Disabled != u.Disabled || strings.Join(old.Grids, ",") != strings.Join(u.Grids, ",") {
		u.Epoch++
	}
	m.n++
	u.ID, u.Username, u.Rev = old.ID, name, int64(m.n)
	m.users[name] = u
	return u, nil
}

func (m *memIdentities) DeleteUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return fmt.Errorf("user %s: %w", name, registry.ErrNotFound)
	}
	delete(m.users, name)
	return nil
}

func (m *memIdentities) PutToken(context.Context, registry.Token) error          { return nil }
func (m *memIdentities) DeleteToken(context.Context, string) error               { return nil }
func (m *memIdentities) PutSession(context.Context, registry.Session) error      { return nil }
func (m *memIdentities) DeleteSession(context.Context, string) error             { return nil }
func (m *memIdentities) EndSessions(context.Context, string, int64) (int, error) { return 0, nil }

// memLayouts keeps layouts per user.
type memLayouts struct {
	mu sync.Mutex
	m  map[string][]registry.Layout
}

func (m *memLayouts) PutLayout(_ context.Context, user string, l registry.Layout) (registry.Layout, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]registry.Layout{}
	}
	ls := m.m[user]
	for i := range ls {
		if ls[i].Name == l.Name {
			ls[i] = l
			return l, nil
		}
	}
	m.m[user] = append(ls, l)
	return l, nil
}

func (m *memLayouts) Layouts(_ context.Context, user string) ([]registry.Layout, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]registry.Layout{}, m.m[user]...), nil
}

func (m *memLayouts) DeleteLayout(_ context.Context, user, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := m.m[user]
	for i := range ls {
		if ls[i].Name == name {
			m.m[user] = append(ls[:i], ls[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("layout %s: %w", name, registry.ErrNotFound)
}

// fakeGB is a GB/T 28181 side with devices set by the test.
type fakeGB struct {
	mu      sync.Mutex
	devices map[string]GBDeviceView
	ptz     []string // camera/action/speed sent
	offline bool     // PTZ and Records answer the device is not registered
	records []DeviceSpan
	played  []string // camera/start/duration/scale of device playbacks
}

func newFakeGB() *fakeGB { return &fakeGB{devices: map[string]GBDeviceView{}} }

func (f *fakeGB) Devices(context.Context) ([]GBDeviceView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]GBDeviceView, 0, len(f.devices))
	for _, d := range f.devices {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeGB) Device(_ context.Context, id string) (GBDeviceView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[id]
	if !ok {
		return GBDeviceView{}, fmt.Errorf("device %s: %w", id, registry.ErrNotFound)
	}
	return d, nil
}

func (f *fakeGB) PatchDevice(_ context.Context, id string, p GBDevicePatch) (GBDeviceView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[id]
	if !ok {
		return GBDeviceView{}, fmt.Errorf("device %s: %w", id, registry.ErrNotFound)
	}
	if p.Name != nil {
		d.Name = *p.Name
	}
	if p.Password != nil {
		d.OwnPassword = *p.Password != ""
	}
	if p.Enabled != nil {
		d.Enabled = *p.Enabled
	}
	f.devices[id] = d
	return d, nil
}

func (f *fakeGB) PTZ(_ context.Context, cam registry.Camera, action string, speed int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offline {
		return fmt.Errorf("%w: device %s is not registered", ErrBusy, cam.GB.DeviceID)
	}
	f.ptz = append(f.ptz, fmt.Sprintf("%s/%s/%d", cam.ID, action, speed))
	return nil
}

func (f *fakeGB) Records(_ context.Context, cam registry.Camera, from, to time.Time) ([]DeviceSpan, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offline {
		return nil, false, fmt.Errorf("%w: device %s is not registered", ErrBusy, cam.GB.DeviceID)
	}
	var out []DeviceSpan
	for _, sp := range f.records {
		if sp.End.After(from) && sp.Start.Before(to) {
			out = append(out, sp)
		}
	}
	return out, true, nil
}

func (f *fakeGB) PlayDevice(_ context.Context, cam registry.Camera, start time.Time, d time.Duration, scale float64, w io.Writer) error {
	f.mu.Lock()
	off := f.offline
	f.played = append(f.played, fmt.Sprintf("%s/%s/%v/%v", cam.ID, start.UTC().Format(time.RFC3339), d, scale))
	f.mu.Unlock()
	if off {
		return fmt.Errorf("%w: device %s is not registered", ErrBusy, cam.GB.DeviceID)
	}
	_, err := w.Write([]byte("ftyp-device-footage"))
	return err
}

// fakeCascade keeps superior platforms in memory.
type fakeCascade struct {
	mu  sync.Mutex
	ups map[string]registry.Upstream
}

func newFakeCascade() *fakeCascade { return &fakeCascade{ups: map[string]registry.Upstream{}} }

func (f *fakeCascade) view(u registry.Upstream) UpstreamView {
	v := UpstreamView{Upstream: u, HasPassword: u.Password != "", Status: map[string]string{"state": "registering"}}
	v.Upstream.Password = ""
	return v
}

func (f *fakeCascade) Upstreams(context.Context) ([]UpstreamView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []UpstreamView{}
	for _, u := range f.ups {
		out = append(out, f.view(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeCascade) Upstream(_ context.Context, id string) (UpstreamView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.ups[id]
	if !ok {
		return UpstreamView{}, fmt.Errorf("upstream %s: %w", id, registry.ErrNotFound)
	}
	return f.view(u), nil
}

func (f *fakeCascade) CreateUpstream(_ context.Context, u registry.Upstream) (UpstreamView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.ups[u.ID]; ok {
		return UpstreamView{}, fmt.Errorf("upstream %s: %w", u.ID, registry.ErrExists)
	}
	if u.Address == "" {
		return UpstreamView{}, &registry.FieldError{Field: "address", Msg: "is required"}
	}
	f.ups[u.ID] = u
	return f.view(u), nil
}

func (f *fakeCascade) PatchUpstream(_ context.Context, id string, p UpstreamPatch) (UpstreamView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.ups[id]
	if !ok {
		return UpstreamView{}, fmt.Errorf("upstream %s: %w", id, registry.ErrNotFound)
	}
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Password != nil {
		u.Password = *p.Password
	}
	if p.Enabled != nil {
		u.Enabled = *p.Enabled
	}
	f.ups[id] = u
	return f.view(u), nil
}

func (f *fakeCascade) DeleteUpstream(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.ups[id]; !ok {
		return fmt.Errorf("upstream %s: %w", id, registry.ErrNotFound)
	}
	delete(f.ups, id)
	return nil
}

// fakeRecordings holds footage as fixed bytes per camera and clips in
// files under dir; the access log is kept in memory.
type fakeRecordings struct {
	mu        sync.Mutex
	footage   map[string][]byte // camera → bytes written for any window
	elsewhere map[string]string // camera → the node whose disk holds it
	clips     []recording.Clip
	files     map[string]string // clip id → file
	log       []recording.Access
	logFails  error
}

func (f *fakeRecordings) Resolve(_ context.Context, camera, stream string, start time.Time, d time.Duration) (recording.Window, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.elsewhere[camera]; ok {
		return recording.Window{}, n, fmt.Errorf("%w: %s", recording.ErrOtherNode, n)
	}
	if _, ok := f.footage[camera]; !ok {
		return recording.Window{}, "", fmt.Errorf("%w: %s", recording.ErrNoFootage, camera)
	}
	return recording.Window{Segments: []recording.Segment{{CameraID: camera, Stream: stream}}, From: start, To: start.Add(d)}, "", nil
}

func (f *fakeRecordings) write(w io.Writer, win recording.Window) error {
	f.mu.Lock()
	b := f.footage[win.Segments[0].CameraID]
	f.mu.Unlock()
	_, err := w.Write(b)
	return err
}

func (f *fakeRecordings) WriteFMP4(_ context.Context, w io.Writer, win recording.Window) error {
	return f.write(w, win)
}
func (f *fakeRecordings) WriteMP4(_ context.Context, w io.Writer, win recording.Window) error {
	return f.write(w, win)
}

func (f *fakeRecordings) OpenClip(c recording.Clip) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.files[c.ID]
	if !ok {
		return nil, fmt.Errorf("%w: clip %s", recording.ErrNoFootage, c.ID)
	}
	return os.Open(p)
}

func (f *fakeRecordings) PlanOf(c registry.Camera) (recording.Plan, bool) {
	return recording.Plan{Camera: c.ID, Stream: "main", Mode: "continuous"}, true
}

func (f *fakeRecordings) HoldWindowClip(_ context.Context, caseID, who string, cam registry.Camera, start, end time.Time) (recording.Clip, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := recording.Clip{ID: fmt.Sprintf("clip-asked-%d", len(f.clips)+1), CaseID: caseID, IncidentID: "asked:" + who, CameraID: cam.ID, Stream: "main",
		Start: start, End: end, State: recording.ClipPending}
	f.clips = append(f.clips, c)
	return c, nil
}

func (f *fakeRecordings) Recording() []string { return nil }
func (f *fakeRecordings) StorageFull() bool   { return false }
func (f *fakeRecordings) Written() int64      { return 0 }

func (f *fakeRecordings) Spans(_ context.Context, camera, stream string, from, to time.Time) ([]recording.Span, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.footage[camera]; !ok {
		return nil, nil
	}
	return []recording.Span{{Start: from.Add(time.Minute), End: to.Add(-time.Minute), Stream: stream, Node: "node-a", Bytes: 1000}}, nil
}

func (f *fakeRecordings) Clips(_ context.Context, caseID string) ([]recording.Clip, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recording.Clip
	for _, c := range f.clips {
		if c.CaseID == caseID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeRecordings) ClipOf(_ context.Context, caseID, id string) (recording.Clip, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clips {
		if c.CaseID == caseID && c.ID == id {
			return c, nil
		}
	}
	return recording.Clip{}, fmt.Errorf("%w: clip %s", recording.ErrNotFound, id)
}

func (f *fakeRecordings) LogAccess(_ context.Context, a recording.Access) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logFails != nil {
		return f.logFails
	}
	f.log = append(f.log, a)
	return nil
}

func (f *fakeRecordings) Accesses(_ context.Context, camera string, from, to time.Time, limit int) ([]recording.Access, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recording.Access
	for _, a := range f.log {
		if (camera == "" || a.CameraID == camera) && !a.At.Before(from) && a.At.Before(to) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeRecordings) looks() []recording.Access {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recording.Access(nil), f.log...)
}
