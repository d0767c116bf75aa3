package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"sharpeyes/api"
	"sharpeyes/configs"
	"sharpeyes/events"
	"sharpeyes/gb28181/cascade"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/grid"
	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// cascadeSide is the street registered with its superior platforms: the
// node that leads the "cascade" election runs one client per enabled
// platform (read from the registry, where the API and the config put
// them) and publishes their status for every node's API.
type cascadeSide struct {
	cascadeDeps
	log    *slog.Logger
	prefix string // 13 digits: the gateway's domain and type 131, for codes of RTSP cameras
	every  time.Duration
	g      group

	mu    sync.Mutex
	codes map[string]string // camera → its upward code (allocated once, in the registry)
	mgr   *cascade.Manager  // while leading
}

// cascadeDeps is what the cascade side works with.
type cascadeDeps struct {
	Config  configs.GB28181Config
	Store   *registry.Store
	Catalog *registry.Catalog
	Grids   *grid.Live
	Pulls   *ingest.Manager // the channels' state and their streams
	GB      *gbSide         // its SIP stack; PTZ to a GB channel's device
	Bus     *events.Bus     // incidents told upward as alarms; nil: none
	// Health is the cameras' health history: the state of a camera
	// another node owns, as last recorded (nil: none kept).
	Health *health.Store
	// Rec is the recordings (nil: none): a shared camera's spans answer
	// the platform's RecordInfo; Loc is the platform's local time.
	Rec     *recording.Manager
	Loc     *time.Location
	Node    string        // this node, for the election
	TTL     time.Duration // the election's lease
	Unstick func()
	Log     *slog.Logger
}

func newCascadeSide(d cascadeDeps) *cascadeSide {
	return &cascadeSide{cascadeDeps: d, log: d.Log.With("component", "cascade"), prefix: d.Config.Domain + "131", every: 2 * time.Second,
		codes: map[string]string{}}
}

// Start puts the platforms of gb28181.upstream in the registry and
// campaigns to lead; while it leads, its clients register until Close,
// which waits for them to have unregistered.
func (s *cascadeSide) Start(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.seed(sctx, s.Config.Upstream); err != nil {
		return err
	}
	s.g.begin(ctx)
	s.g.goRun(func(ctx context.Context) { s.Store.Lead(ctx, "cascade", s.Node, s.TTL, s.lead) })
	return nil
}

func (s *cascadeSide) Close() { s.g.stop(s.Unstick) }

func (g *Gateway) startCascade(ctx context.Context) error {
	if g.gb == nil {
		return nil
	}
	g.cascade = newCascadeSide(cascadeDeps{Config: g.cfg.GB28181, Store: g.store, Catalog: g.catalog, Grids: &g.grids, Pulls: g.manager,
		GB: g.gb, Bus: g.bus, Health: g.healthStore(), Rec: g.rec, Loc: g.location(), Node: g.self.ID, TTL: g.cfg.Registry.LeaseTTL.D(), Unstick: g.unstick, Log: g.log})
	return g.parts.start(ctx, "cascade", g.cascade)
}

// seed puts the platforms of gb28181.upstream into the registry (the
// config's version of one replaces what is stored).
func (s *cascadeSide) seed(ctx context.Context, ups []configs.Upstream) error {
	for _, u := range ups {
		want := registry.Upstream{ID: u.ID, Name: u.Name, ServerID: u.ServerID, Domain: u.Domain, Address: u.Address, Password: u.Password,
			LocalID: u.LocalID, Transport: u.Transport, Share: registry.UpstreamShare{Grids: u.Share.Grids, Cameras: u.Share.Cameras},
			Enabled: u.Enabled == nil || *u.Enabled, ExpiresS: u.ExpiresS, KeepaliveS: u.KeepaliveS}
		var rev int64
		if cur, err := s.Store.Upstream(ctx, u.ID); err == nil {
			rev = cur.Rev
		} else if !errors.Is(err, registry.ErrNotFound) {
			return err
		}
		if _, err := s.Store.PutUpstream(ctx, want, rev, checkUpstream); err != nil {
			return fmt.Errorf("gb28181.upstream %s: %w", u.ID, err)
		}
	}
	return nil
}

// checkUpstream validates a platform as the cascade does, filling in
// its defaults.
func checkUpstream(u *registry.Upstream) error {
	p := platformOf(*u)
	if err := p.Validate(); err != nil {
		var fe *cascade.FieldError
		if errors.As(err, &fe) {
			return &registry.FieldError{Field: fe.Field, Msg: fe.Msg}
		}
		return &registry.FieldError{Field: "upstream", Msg: err.Error()}
	}
	u.Domain, u.Transport = p.Domain, p.Transport
	u.ExpiresS, u.KeepaliveS = int(p.Expires.Seconds()), int(p.Keepalive.Seconds())
	if u.Share.Grids == nil {
		u.Share.Grids = []string{}
	}
	if u.Share.Cameras == nil {
		u.Share.Cameras = []string{}
	}
	return nil
}

func platformOf(u registry.Upstream) cascade.Platform {
	return cascade.Platform{ID: u.ID, Name: u.Name, ServerID: u.ServerID, Domain: u.Domain, Address: u.Address, Password: u.Password,
		LocalID: u.LocalID, Transport: u.Transport, Share: cascade.Share{Grids: u.Share.Grids, Cameras: u.Share.Cameras}, Enabled: u.Enabled,
		Expires: time.Duration(u.ExpiresS) * time.Second, Keepalive: time.Duration(u.KeepaliveS) * time.Second}
}

// lead runs the clients while this node leads: the platforms followed
// from the registry every few seconds, their status published.
func (s *cascadeSide) lead(ctx context.Context) {
	mgr := cascade.NewManager(ctx, cascade.Deps{SIP: s.GB.stack, Catalog: s, Streams: s.Pulls, PTZ: s.ptz, Name: "sharpeyes", Manufacturer: "sharpeyes",
		Model: "sharpeyes gateway", Records: s.records, Location: s.Loc, Footage: s.footage, Looked: s.looked}, s.Log)
	s.mu.Lock()
	s.mgr = mgr
	s.mu.Unlock()
	var alarms sync.WaitGroup
	defer func() {
		s.mu.Lock()
		s.mgr = nil
		s.mu.Unlock()
		alarms.Wait() // ctx is over: no alarm is being told when the clients close
		mgr.Close()
	}()
	alarms.Add(1)
	go func() {
		defer alarms.Done()
		s.followAlarms(ctx, mgr)
	}()
	var applied []cascade.Platform
	published := map[string]cascade.Status{}
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if ups, err := s.Store.Upstreams(ctx); err == nil {
			ps := make([]cascade.Platform, 0, len(ups))
			for _, u := range ups {
				ps = append(ps, platformOf(u))
			}
			if !reflect.DeepEqual(ps, applied) {
				if err := mgr.Apply(ps); err != nil {
					s.log.Warn("upstream platforms not applied", "error", err)
				} else {
					applied = ps
				}
			}
			for _, p := range applied {
				st, _ := mgr.Status(p.ID)
				st.LastKeepalive = st.LastKeepalive.Truncate(time.Second)
				if old, ok := published[p.ID]; ok && old == st {
					continue
				}
				b, _ := json.Marshal(st)
				if s.Store.PutUpstreamStatus(ctx, p.ID, b) == nil {
					published[p.ID] = st
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordedStream is the stream a camera's plan records.
func (s *cascadeSide) recordedStream(cameraID string) string {
	if cam, ok := s.Catalog.Get(cameraID); ok {
		if p, ok := s.Rec.PlanOf(cam); ok && p.Stream != "" {
			return p.Stream
		}
	}
	return "main"
}

// records are a camera's spans on the gateway's disks (every node's, from
// the shared index), of the stream its plan records, for RecordInfo.
func (s *cascadeSide) records(ctx context.Context, cameraID string, from, to time.Time) ([]cascade.Span, error) {
	if s.Rec == nil {
		return nil, nil
	}
	stream := s.recordedStream(cameraID)
	spans, err := s.Rec.Index().Spans(ctx, cameraID, stream, from, to)
	out := make([]cascade.Span, 0, len(spans))
	for _, sp := range spans {
		out = append(out, cascade.Span{Start: sp.Start, End: sp.End})
	}
	return out, err
}

// footage reads a camera's recorded frames over [from, to] for a
// platform's Playback or Download: window by window (an hour at most
// each, or until the format changes), from the keyframe at or before
// from; a frame handed on once only (a later window's lead-in is not
// sent again). Footage on another node's disk is skipped: the leader,
// which runs the cascade, serves what it holds.
func (s *cascadeSide) footage(ctx context.Context, cameraID string, from, to time.Time, each func(cascade.Frame) error) error {
	if s.Rec == nil {
		return nil
	}
	stream := s.recordedStream(cameraID)
	var last time.Time // the newest frame handed on
	for at := from; at.Before(to); {
		d := min(to.Sub(at), recording.MaxPlayback)
		win, _, err := s.Rec.Resolve(ctx, cameraID, stream, at, d)
		switch {
		case errors.Is(err, recording.ErrNoFootage):
			at = at.Add(d)
			continue
		case errors.Is(err, recording.ErrOtherNode):
			segs, err := s.Rec.Index().Segments(ctx, cameraID, stream, at, at.Add(d))
			if err != nil {
				return err
			}
			if len(segs) == 0 || !segs[0].End.After(at) {
				at = at.Add(d)
			} else {
				at = segs[0].End
			}
			continue
		case err != nil:
			return err
		}
		err = s.Rec.Frames(ctx, win, func(f recording.Frame) error {
			if !last.IsZero() && !f.At.After(last) {
				return nil
			}
			last = f.At
			return each(cascade.Frame{At: f.At, Key: f.Key, NALUs: f.NALUs})
		})
		if err != nil {
			return err
		}
		next := win.To
		if end := win.Segments[len(win.Segments)-1].End; end.After(at) && end.Before(next) {
			next = end // another format, or another node's, follows
		}
		if !next.After(at) {
			next = at.Add(d)
		}
		at = next
	}
	return nil
}

// looked writes a platform's Playback or Download in the access log, as
// a person's look back is: who is the platform (upstream:ID), a Download
// an export.
func (s *cascadeSide) looked(ctx context.Context, l cascade.Look) error {
	if s.Rec == nil {
		return nil
	}
	kind := "playback"
	if l.Session == "Download" {
		kind = "export"
	}
	return s.Rec.Index().LogAccess(ctx, recording.Access{At: time.Now(), Who: "upstream:" + l.Platform, CameraID: l.CameraID,
		Stream: s.recordedStream(l.CameraID), From: l.From, To: l.To, Kind: kind, Addr: l.Addr})
}

// Channels implements cascade.Catalog: the cameras of the share's grid
// subtrees and its camera ids, each with its upward code (a GB channel
// keeps its own) and its real status (OFF when this node's pull or
// probe, or for a camera another node owns the health history, says it
// is offline), sorted by code.
func (s *cascadeSide) Channels(ctx context.Context, share cascade.Share) ([]cascade.Channel, error) {
	var last map[string][]health.Change
	if s.Health != nil {
		now := time.Now()
		var err error
		if last, err = s.Health.History(ctx, now, now); err != nil {
			s.log.Warn("catalog: health history", "error", err) // the node's own states still count
		}
	}
	ix := s.Grids.Index()
	named := map[string]bool{}
	for _, id := range share.Cameras {
		named[id] = true
	}
	var out []cascade.Channel
	for _, c := range s.Catalog.All() {
		if c.GB != nil && c.GB.Gone {
			continue
		}
		in := named[c.ID]
		cells := c.Cells(ix)
		for _, cell := range cells.All() {
			for _, root := range share.Grids {
				in = in || ix.Within(cell, root)
			}
		}
		if !in {
			continue
		}
		code, err := s.code(ctx, c)
		if err != nil {
			return nil, err
		}
		ch := cascade.Channel{ID: code, CameraID: c.ID, Name: c.Name, Online: true}
		st, err := s.Pulls.Status(c.ID)
		switch {
		case err == nil && st.State == ingest.StateOffline:
			ch.Online = false
		case err == nil && st.State == ingest.StateOnline:
		default: // not known here (another node's, or not checked yet)
			if h := last[c.ID]; len(h) > 0 && h[len(h)-1].State == health.Offline {
				ch.Online = false
			}
		}
		if c.Location != nil {
			ch.Lon, ch.Lat, ch.HasPosition = c.Location.Lon, c.Location.Lat, true
		}
		if c.GB != nil {
			ch.PTZ, ch.PTZType = c.GB.PTZ, c.GB.PTZType
		}
		if cell, ok := ix.Get(cells.Base); ok {
			ch.Address = cell.Name
		}
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// code is a camera's upward code: a GB channel's own, else the one the
// registry allocated it.
func (s *cascadeSide) code(ctx context.Context, c registry.Camera) (string, error) {
	if c.GB != nil && manscdp.IsCode(c.GB.ChannelID) {
		return c.GB.ChannelID, nil
	}
	if manscdp.IsCode(c.ID) {
		return c.ID, nil
	}
	s.mu.Lock()
	code, ok := s.codes[c.ID]
	s.mu.Unlock()
	if ok {
		return code, nil
	}
	code, err := s.Store.GBCode(ctx, c.ID, s.prefix, func(code string) bool { _, used := s.Catalog.Get(code); return used })
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.codes[c.ID] = code
	s.mu.Unlock()
	return code, nil
}

// ptz hands a platform's PTZCmd to a GB channel's device.
func (s *cascadeSide) ptz(ctx context.Context, cameraID, cmd string) error {
	c, ok := s.Catalog.Get(cameraID)
	if !ok || c.GB == nil {
		return fmt.Errorf("%w: %s takes no PTZ", api.ErrNoPTZ, cameraID)
	}
	b := s.GB
	return b.server.Message(ctx, c.GB.DeviceID, c.GB.ChannelID, manscdp.Control(int(b.sn.Add(1)), c.GB.ChannelID, cmd))
}

// status answers what the registering node published of platform id.
func (s *cascadeSide) status(ctx context.Context, id string) cascade.Status {
	b, err := s.Store.UpstreamStatus(ctx, id)
	var st cascade.Status
	if err != nil || b == nil || json.Unmarshal(b, &st) != nil {
		return cascade.Status{State: "registering"}
	}
	return st
}

// view is a platform as the API answers it (its password never).
func (s *cascadeSide) view(ctx context.Context, u registry.Upstream) api.UpstreamView {
	v := api.UpstreamView{Upstream: u, HasPassword: u.Password != "", Status: s.status(ctx, u.ID)}
	v.Upstream.Password = ""
	if !u.Enabled {
		v.Status = cascade.Status{State: "disabled", LastError: disabledWhy}
	}
	return v
}

// disabledWhy is the status reason of a platform set not to register.
const disabledWhy = "enabled is false: the street does not register with this platform"

// Upstreams implements api.Cascade.
func (s *cascadeSide) Upstreams(ctx context.Context) ([]api.UpstreamView, error) {
	us, err := s.Store.Upstreams(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.UpstreamView, len(us))
	for i, u := range us {
		out[i] = s.view(ctx, u)
	}
	return out, nil
}

// Upstream implements api.Cascade.
func (s *cascadeSide) Upstream(ctx context.Context, id string) (api.UpstreamView, error) {
	u, err := s.Store.Upstream(ctx, id)
	if err != nil {
		return api.UpstreamView{}, err
	}
	return s.view(ctx, u), nil
}

// checkShare refuses a share naming a grid cell or a camera that does
// not exist (a typo would share nothing, silently).
func (s *cascadeSide) checkShare(u *registry.Upstream) error {
	if err := checkUpstream(u); err != nil {
		return err
	}
	ix := s.Grids.Index()
	for _, code := range u.Share.Grids {
		if _, ok := ix.Get(code); !ok {
			return &registry.FieldError{Field: "share.grids", Msg: fmt.Sprintf("no grid cell %q", code)}
		}
	}
	for _, id := range u.Share.Cameras {
		if _, ok := s.Catalog.Get(id); !ok {
			return &registry.FieldError{Field: "share.cameras", Msg: fmt.Sprintf("no camera %q", id)}
		}
	}
	return nil
}

// CreateUpstream implements api.Cascade.
func (s *cascadeSide) CreateUpstream(ctx context.Context, u registry.Upstream) (api.UpstreamView, error) {
	u, err := s.Store.PutUpstream(ctx, u, 0, s.checkShare)
	if err != nil {
		return api.UpstreamView{}, err
	}
	return s.view(ctx, u), nil
}

// PatchUpstream implements api.Cascade.
func (s *cascadeSide) PatchUpstream(ctx context.Context, id string, p api.UpstreamPatch) (api.UpstreamView, error) {
	u, err := s.Store.Upstream(ctx, id)
	if err != nil {
		return api.UpstreamView{}, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Name, p.Name)
	set(&u.ServerID, p.ServerID)
	set(&u.Domain, p.Domain)
	set(&u.Address, p.Address)
	set(&u.Password, p.Password)
	set(&u.LocalID, p.LocalID)
	set(&u.Transport, p.Transport)
	if p.Share != nil {
		u.Share = *p.Share
	}
	if p.Enabled != nil {
		u.Enabled = *p.Enabled
	}
	if p.ExpiresS != nil {
		u.ExpiresS = *p.ExpiresS
	}
	if p.KeepaliveS != nil {
		u.KeepaliveS = *p.KeepaliveS
	}
	if u, err = s.Store.PutUpstream(ctx, u, u.Rev, s.checkShare); err != nil {
		return api.UpstreamView{}, err
	}
	return s.view(ctx, u), nil
}

// DeleteUpstream implements api.Cascade.
func (s *cascadeSide) DeleteUpstream(ctx context.Context, id string) error {
	return s.Store.DeleteUpstream(ctx, id)
}

// followAlarms forwards the incidents that open on shared cameras to the
// platforms, from the outbox (whichever node opened them).
func (s *cascadeSide) followAlarms(ctx context.Context, mgr *cascade.Manager) {
	bus := s.Bus
	if bus == nil {
		return
	}
	after, _ := bus.LastSeq(ctx)
	for ctx.Err() == nil {
		msgs, err := bus.Messages(ctx, after, 200)
		if err != nil || len(msgs) == 0 {
			_ = bus.Wait(ctx, after)
			continue
		}
		for _, m := range msgs {
			after = m.Seq
			if m.Topic != "incident.opened" {
				continue
			}
			var in events.Incident
			if json.Unmarshal(m.Body, &in) != nil || in.CameraID == "" {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			method, typ := events.GBAlarm(in.Kind)
			mgr.Alarm(actx, in.CameraID, in.FirstSeen, max(1, min(4, in.Priority)), method, typ, in.Kind)
			cancel()
		}
	}
}

// upstreamsOrNil is the upstream platforms for the API (a nil interface
// when GB/T 28181 is off).
func (g *Gateway) upstreamsOrNil() api.Cascade {
	if g.cascade == nil {
		return nil
	}
	return g.cascade
}
