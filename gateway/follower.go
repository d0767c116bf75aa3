package gateway

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"sharpeyes/ingest"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// follower applies registry changes to the ingest manager. It sees each
// change twice, from the API that made it and from the watch, in either
// order, and keeps the newest by etcd revision. A camera this node owns is
// pulled from the camera; one owned by another node becomes an on-demand
// relay of that node's RTSP re-serve, so RTSP viewers here still get it.
type follower struct {
	m        *ingest.Manager
	rec      *recording.Manager // nil: no recording
	catalog  *registry.Catalog
	members  atomic.Pointer[registry.Membership] // set once Join returns
	emit     func(id string, st ingest.Status)   // the gateway's own events
	log      *slog.Logger
	statusMu sync.Mutex
	pending  map[string]ingest.Status // statuses to publish, newest per camera
	wake     chan struct{}            // one token: there is something to publish
	// nodeAuth are the credentials this node shows another node's RTSP re-serve.
	nodeAuth *url.Userinfo

	mu   sync.Mutex
	revs map[string]int64 // newest revision applied per camera (deletions too)
}

// owned tells whether this node pulls the camera itself.
func (f *follower) owned(id string) (bool, registry.Node) {
	m := f.members.Load()
	if m == nil {
		return true, registry.Node{}
	}
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
	if u, err := url.Parse(o.RTSP); err == nil && f.nodeAuth != nil {
		u.User = f.nodeAuth
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
	f.catalog.SyncCameras(cs)
	specs := make([]ingest.CameraSpec, len(cs))
	ids := make(map[string]bool, len(cs))
	for i, c := range cs {
		specs[i] = f.spec(c)
		ids[c.ID] = true
	}
	f.m.Sync(specs) // a full listing: what it lacks is gone
	if f.rec != nil {
		f.rec.Keep(ids)
		for _, c := range cs {
			f.record(c)
		}
	}
}

// record has the camera recorded here if this node pulls it and its plan
// says so (the owner records; after a failover the new owner does).
func (f *follower) record(c registry.Camera) {
	if f.rec == nil {
		return
	}
	own, _ := f.owned(c.ID)
	f.rec.Apply(c, own)
}

// rebalance re-applies every camera after the node set changed; pulls whose
// owner did not change are left alone (Upsert of an unchanged spec is a no-op).
func (f *follower) rebalance() {
	if f.m == nil || f.members.Load() == nil {
		return
	}
	// Re-spec only: removing what a snapshot of the catalog lacks would
	// race with cameras being added; deletions arrive as events.
	for _, c := range f.catalog.All() {
		if err := f.m.Upsert(f.spec(c)); err != nil {
			f.log.Warn("camera not pulled", "camera", c.ID, "error", err)
		}
		f.record(c)
	}
}

func (f *follower) PutCamera(c registry.Camera) {
	f.catalog.PutCamera(c)
	if !f.newer(c.ID, c.Rev) {
		return
	}
	if err := f.m.Upsert(f.spec(c)); err != nil {
		f.log.Warn("camera not pulled", "camera", c.ID, "error", err)
	}
	f.record(c)
}

func (f *follower) DeleteCamera(id string, rev int64) {
	f.catalog.DeleteCamera(id, rev)
	if f.newer(id, rev) {
		if f.rec != nil {
			f.rec.Forget(id)
		}
		f.m.Remove(id)
	}
}

// publish writes the status of cameras this node pulls, under its lease.
func (f *follower) publish(id, variant string, st ingest.Status) {
	m := f.members.Load()
	if m == nil || variant != ingest.Main {
		return
	}
	if own, _ := f.owned(id); !own {
		return
	}
	if f.emit != nil {
		f.emit(id, st) // queued in order; never blocks
	}
	f.statusMu.Lock()
	if f.pending == nil {
		f.pending = map[string]ingest.Status{}
	}
	f.pending[id] = st // a newer status replaces one not yet written
	f.statusMu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// publishStatuses writes the newest status of each camera, one writer, so
// an older status never lands after a newer one; it runs until ctx ends.
func (f *follower) publishStatuses(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		f.statusMu.Lock()
		batch := f.pending
		f.pending = nil
		f.statusMu.Unlock()
		m := f.members.Load()
		for id, st := range batch {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := m.PutStatus(wctx, id, st); err != nil {
				f.log.Debug("status not published", "camera", id, "error", err)
			}
			cancel()
		}
	}
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
