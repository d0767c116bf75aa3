package gateway

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"sharpeyes/ingest"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// follower applies registry changes to the ingest manager and the
// recorders. It sees each change twice, from the API that made it and
// from the watch, in either order, and keeps the newest by etcd
// revision. A camera this node owns is pulled from the camera; one owned
// by another node becomes an on-demand relay of that node's RTSP
// re-serve, so RTSP viewers here still get it. When the node set changes
// every camera is applied again.
type follower struct {
	followerDeps
	g group

	mu   sync.Mutex
	revs map[string]int64 // newest revision applied per camera (deletions too)
}

// followerDeps is what a follower works with.
type followerDeps struct {
	Pulls     *ingest.Manager
	Recorders *recording.Manager // nil: no recording
	Catalog   *registry.Catalog
	Store     *registry.Store // the camera watch
	Members   *registry.Membership
	Nodes     <-chan struct{} // a token: the node set changed
	// NodeAuth are the credentials this node shows another node's RTSP re-serve.
	NodeAuth *url.Userinfo
	// ReadyWithin bounds the wait for the node list before the first
	// cameras are taken (a joining node takes only its share).
	ReadyWithin time.Duration
	Unstick     func()
	Log         *slog.Logger
}

func newFollower(d followerDeps) *follower { return &follower{followerDeps: d} }

// Start waits for the node list (at most ReadyWithin), then follows the
// registry's cameras and the node set until Close.
func (f *follower) Start(ctx context.Context) error {
	select {
	case <-f.Members.Ready():
	case <-time.After(f.ReadyWithin):
		f.Log.Warn("node list not read in time; starting with what is known")
	}
	f.g.begin(ctx)
	f.g.goRun(func(ctx context.Context) { f.Store.WatchCameras(ctx, f) })
	f.g.goRun(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-f.Nodes:
				f.rebalance()
			}
		}
	})
	return nil
}

func (f *follower) Close() { f.g.stop(f.Unstick) }

// owned tells whether this node pulls the camera itself.
func (f *follower) owned(id string) (bool, registry.Node) { return owns(f.Members, id) }

// owns tells whether the node of m pulls camera id, and which node does.
func owns(m *registry.Membership, id string) (bool, registry.Node) {
	o := m.Owner(id)
	return o.ID == m.Self().ID, o
}

func (f *follower) spec(c registry.Camera) ingest.CameraSpec {
	if g := c.GB; g != nil {
		// A GB/T 28181 channel is INVITEd through its device's
		// registration, which is with this node's SIP server.
		spec := ingest.CameraSpec{ID: c.ID, OnDemand: c.OnDemand, GB: ingest.GBRef{Device: g.DeviceID, Channel: g.ChannelID}}
		if g.Off {
			spec.Off = "its device's catalog says the channel is OFF"
		}
		return spec
	}
	own, o := f.owned(c.ID)
	if own || o.RTSP == "" {
		return ingest.CameraSpec{ID: c.ID, Main: c.Streams.Main, Sub: c.Streams.Sub, Transport: c.Transport, OnDemand: c.OnDemand}
	}
	base := o.RTSP
	if u, err := url.Parse(o.RTSP); err == nil && f.NodeAuth != nil {
		u.User = f.NodeAuth
		base = u.String()
	}
	relay := ingest.CameraSpec{ID: c.ID, Main: base + "/" + c.ID, Transport: "tcp", OnDemand: true}
	if c.Streams.Sub != "" {
		relay.Sub = base + "/" + c.ID + "/sub"
	}
	return relay
}

// newer records rev for id and reports whether it is newer than what was applied.
func (f *follower) newer(id string, rev int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revs == nil {
		f.revs = map[string]int64{}
	}
	if rev != 0 && rev <= f.revs[id] {
		return false
	}
	f.revs[id] = rev
	return true
}

func (f *follower) SyncCameras(cs []registry.Camera) {
	f.mu.Lock()
	f.revs = map[string]int64{}
	for _, c := range cs {
		f.revs[c.ID] = c.Rev
	}
	f.mu.Unlock()
	f.Catalog.SyncCameras(cs)
	specs := make([]ingest.CameraSpec, len(cs))
	ids := make(map[string]bool, len(cs))
	for i, c := range cs {
		specs[i] = f.spec(c)
		ids[c.ID] = true
	}
	f.Pulls.Sync(specs) // a full listing: what it lacks is gone
	if f.Recorders != nil {
		f.Recorders.Keep(ids)
		for _, c := range cs {
			f.record(c)
		}
	}
}

// record has the camera recorded here if this node pulls it and its plan
// says so (the owner records; after a failover the new owner does).
func (f *follower) record(c registry.Camera) {
	if f.Recorders == nil {
		return
	}
	own, _ := f.owned(c.ID)
	f.Recorders.Apply(c, own)
}

// rebalance re-applies every camera after the node set changed; pulls whose
// owner did not change are left alone (Upsert of an unchanged spec is a no-op).
func (f *follower) rebalance() {
	// Re-spec only: removing what a snapshot of the catalog lacks would
	// race with cameras being added; deletions arrive as events.
	for _, c := range f.Catalog.All() {
		if err := f.Pulls.Upsert(f.spec(c)); err != nil {
			f.Log.Warn("camera not pulled", "camera", c.ID, "error", err)
		}
		f.record(c)
	}
}

func (f *follower) PutCamera(c registry.Camera) {
	f.Catalog.PutCamera(c)
	if !f.newer(c.ID, c.Rev) {
		return
	}
	if err := f.Pulls.Upsert(f.spec(c)); err != nil {
		f.Log.Warn("camera not pulled", "camera", c.ID, "error", err)
	}
	f.record(c)
}

func (f *follower) DeleteCamera(id string, rev int64) {
	f.Catalog.DeleteCamera(id, rev)
	if f.newer(id, rev) {
		if f.Recorders != nil {
			f.Recorders.Forget(id)
		}
		f.Pulls.Remove(id)
	}
}

// statuses publishes the state of the cameras this node pulls under its
// lease, one writer, so an older status never lands after a newer one;
// each state change of an owned camera is also told to emit (the
// gateway's own events).
type statuses struct {
	members *registry.Membership
	emit    func(id string, st ingest.Status) // nil: none
	note    func(id string, st ingest.Status) // the health history (nil: none)
	log     *slog.Logger
	g       group

	mu      sync.Mutex
	pending map[string]ingest.Status // newest per camera, not yet written
	wake    chan struct{}            // one token: there is something to write
}

func newStatuses(m *registry.Membership, emit, note func(string, ingest.Status), log *slog.Logger) *statuses {
	return &statuses{members: m, emit: emit, note: note, log: log, wake: make(chan struct{}, 1)}
}

// publish is ingest's OnState: it queues the status of a camera this node
// owns (its main stream's) and never blocks.
func (s *statuses) publish(id, variant string, st ingest.Status) {
	if variant != ingest.Main {
		return
	}
	if own, _ := owns(s.members, id); !own {
		return
	}
	if s.emit != nil {
		s.emit(id, st) // queued in order; never blocks
	}
	s.store(id, st)
}

// store queues a status of a camera this node owns to be written, with no
// event raised (a probe's finding).
func (s *statuses) store(id string, st ingest.Status) {
	if own, _ := owns(s.members, id); !own {
		return
	}
	if s.note != nil {
		s.note(id, st)
	}
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]ingest.Status{}
	}
	s.pending[id] = st // a newer status replaces one not yet written
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start writes the queued statuses until Close.
func (s *statuses) Start(ctx context.Context) error {
	s.g.begin(ctx)
	s.g.goRun(s.write)
	return nil
}

// Close stops writing (a status not written is gone with the lease).
func (s *statuses) Close() { s.g.stop(nil) }

func (s *statuses) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		for id, st := range batch {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := s.members.PutStatus(wctx, id, st); err != nil {
				s.log.Debug("status not published", "camera", id, "error", err)
			}
			cancel()
		}
	}
}

// membership is this node in the cluster's node list, kept under its
// lease until Close (which revokes it); a change of the list leaves a
// token on changed.
type membership struct {
	store   *registry.Store
	self    registry.Node
	ttl     time.Duration
	changed chan<- struct{}
	unstick func()

	m      *registry.Membership
	cancel context.CancelFunc
}

func (m *membership) Start(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.m = m.store.Join(ctx, m.self, m.ttl, func([]registry.Node) {
		select {
		case m.changed <- struct{}{}:
		default:
		}
	})
	return nil
}

func (m *membership) Close() {
	m.cancel()
	done := make(chan struct{})
	go func() {
		m.m.Wait()
		close(done)
	}()
	waitOrUnstick(done, m.unstick, 0)
}

// cluster answers the API's questions about ownership.
type cluster struct {
	members *registry.Membership
	store   *registry.Store
}

func (c *cluster) Self() registry.Node           { return c.members.Self() }
func (c *cluster) Owner(id string) registry.Node { return c.members.Owner(id) }
func (c *cluster) Nodes() []registry.Node        { return c.members.Nodes() }
func (c *cluster) RemoteStatus(ctx context.Context, id string) (registry.CameraStatus, error) {
	return c.store.Status(ctx, id)
}
