// Package recording records cameras' relay streams to fragmented MP4 (one
// file per segment, each starting on a keyframe, fragments of about a
// second synced as they close), keeps an index of the segments in SQL,
// deletes footage by age and by disk space without touching evidence,
// plays footage back from an exact time, and makes the evidence clips of
// cases.
package recording

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"sharpeyes/model"
	"sharpeyes/relay"
)

// Holder gives a recorder a camera's stream, keeping the pull running
// without counting as a viewer (ingest.Manager.Hold).
type Holder interface {
	Hold(ctx context.Context, cameraID, variant string) (*relay.Stream, func(), error)
}

// Config is the recording settings (recording.* in the config).
type Config struct {
	Root         string // where segment files go
	Node         string // this node's id, in the index
	Segment      time.Duration
	Part         time.Duration
	MaxBytes     int64 // 0: no limit
	MinFreeBytes int64 // 0: no limit
	EvidenceHold time.Duration
	// Defaults fill what a camera's recording field leaves out.
	Defaults model.Recording
	Logger   *slog.Logger
	// OnStorageFull is called (from the retention loop) with the cameras
	// whose recording stopped because nothing more may be deleted.
	OnStorageFull func(cameras []string)
	// CaseHold says whether a case still holds its clips.
	CaseHold CaseHold
	// DeviceFootage fetches an evidence clip's window from the camera's
	// own device when the gateway recorded nothing of it (nil: none).
	DeviceFootage DeviceFootage
}

// DeviceFootage writes a window of what a camera's own device keeps (a
// GB/T 28181 channel's NVR: a Download) to w, and says where it came
// from. ErrNoFootage: the camera has no device to ask, or it has nothing
// of the window; ErrOtherNode: another node reaches the device.
type DeviceFootage func(ctx context.Context, cameraID string, from, to time.Time, w io.Writer) (provenance string, err error)

// Manager runs a recorder for every camera this node records.
type Manager struct {
	cfg     Config
	idx     *Index
	streams Holder
	log     *slog.Logger
	full    atomic.Bool // nothing more may be deleted: recording stopped
	kick    chan struct{}

	mu        sync.Mutex
	ctx       context.Context
	cancel    context.CancelFunc
	recorders map[string]*recorder
	waiting   map[string]Plan          // planned before Start
	retain    map[string]time.Duration // per camera, the last plan's

	pmu     sync.Mutex
	pending map[string]Progress // per segment, the newest report not yet in the index
	sizes   map[string]int64    // per open segment, the bytes reported so far
	written atomic.Int64        // bytes written to segments since the start

	wg sync.WaitGroup
}

// NewManager returns a manager writing under cfg.Root and indexing in idx.
func NewManager(cfg Config, idx *Index, streams Holder) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Segment <= 0 {
		cfg.Segment = time.Minute
	}
	if cfg.Part <= 0 {
		cfg.Part = time.Second
	}
	if cfg.Defaults.Mode == "" {
		cfg.Defaults.Mode = model.RecordOff
	}
	if cfg.Defaults.Stream == "" {
		cfg.Defaults.Stream = "main"
	}
	if cfg.Defaults.RetainDays <= 0 {
		cfg.Defaults.RetainDays = 30
	}
	return &Manager{cfg: cfg, idx: idx, streams: streams, log: cfg.Logger.With("component", "recording"), kick: make(chan struct{}, 1),
		recorders: map[string]*recorder{}, waiting: map[string]Plan{}, retain: map[string]time.Duration{}, pending: map[string]Progress{}, sizes: map[string]int64{}}
}

// Index is the segment index.
func (m *Manager) Index() *Index { return m.idx }

// PlanOf is a camera's recording plan, its own settings over the
// defaults; ok is false when it is not recorded.
func (m *Manager) PlanOf(c model.Camera) (Plan, bool) {
	r := m.cfg.Defaults
	if c.Recording != nil {
		r.Mode = c.Recording.Mode
		if c.Recording.Stream != "" {
			r.Stream = c.Recording.Stream
		}
		if c.Recording.RetainDays > 0 {
			r.RetainDays = c.Recording.RetainDays
		}
		if c.Recording.PreSeconds > 0 {
			r.PreSeconds = c.Recording.PreSeconds
		}
		if c.Recording.PostSeconds > 0 {
			r.PostSeconds = c.Recording.PostSeconds
		}
	}
	p := Plan{Camera: c.ID, Stream: r.Stream, Mode: r.Mode, Retain: time.Duration(r.RetainDays) * 24 * time.Hour,
		Pre: time.Duration(r.PreSeconds) * time.Second, Post: time.Duration(r.PostSeconds) * time.Second}
	if p.Stream == "sub" && c.Streams.Sub == "" {
		p.Stream = "main"
	}
	return p, r.Mode == model.RecordContinuous || r.Mode == model.RecordEvents
}

// Apply records camera c on this node if own and its plan says so, and
// stops recording it otherwise; a changed plan restarts its recorder.
func (m *Manager) Apply(c model.Camera, own bool) {
	p, on := m.PlanOf(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retain[c.ID] = p.Retain
	cur, running := m.recorders[c.ID]
	if running && (!on || !own || cur.plan != p) {
		delete(m.recorders, c.ID)
		// Stopped aside (it closes its segment), but waited for by Close:
		// nothing writes after Close returns.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			cur.stop()
		}()
		running = false
	}
	delete(m.waiting, c.ID)
	if on && own && !running {
		if m.ctx == nil {
			m.waiting[c.ID] = p
			return
		}
		m.startLocked(p)
	}
}

func (m *Manager) startLocked(p Plan) {
	r := &recorder{m: m, plan: p, log: m.log.With("camera", p.Camera, "stream", p.Stream)}
	m.recorders[p.Camera] = r
	r.start(m.ctx)
	r.log.Info("recording", "mode", p.Mode)
}

// Forget stops recording a deleted camera (its footage stays, for its
// retention time).
func (m *Manager) Forget(id string) {
	m.mu.Lock()
	r, ok := m.recorders[id]
	delete(m.recorders, id)
	delete(m.waiting, id)
	m.mu.Unlock()
	if ok {
		r.stop()
	}
}

// Keep stops recording the cameras not in ids (a full listing of the
// registry: what it lacks is gone).
func (m *Manager) Keep(ids map[string]bool) {
	m.mu.Lock()
	var gone []*recorder
	for id, r := range m.recorders {
		if !ids[id] {
			gone = append(gone, r)
			delete(m.recorders, id)
		}
	}
	for id := range m.waiting {
		if !ids[id] {
			delete(m.waiting, id)
		}
	}
	m.mu.Unlock()
	for _, r := range gone {
		r.stop()
	}
}

// Recording lists the cameras being recorded now.
func (m *Manager) Recording() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.recorders))
	for id := range m.recorders {
		out = append(out, id)
	}
	return out
}

// Writing tells whether camera id has a segment open now.
func (m *Manager) Writing(id string) bool {
	m.mu.Lock()
	r, ok := m.recorders[id]
	m.mu.Unlock()
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writing
}

// Incident tells an events-mode recorder that an incident of its camera
// started (end nil) or ended.
func (m *Manager) Incident(camera string, end *time.Time) {
	m.mu.Lock()
	r, ok := m.recorders[camera]
	m.mu.Unlock()
	if ok {
		r.trigger(end)
	}
}

// StorageFull tells whether recording stopped because the disk budget is
// spent on footage that may not be deleted.
func (m *Manager) StorageFull() bool { return m.full.Load() }

// Written is the bytes written to segments since the manager started.
func (m *Manager) Written() int64 { return m.written.Load() }

func (m *Manager) paused() bool { return m.full.Load() }

// progress takes a segment's progress report (the index gets it within
// a second, in one transaction with every other recorder's).
func (m *Manager) progress(p Progress) {
	m.pmu.Lock()
	if old, ok := m.pending[p.ID]; ok && old.Closed && !p.Closed {
		p.Closed = true
	}
	m.pending[p.ID] = p
	if d := p.Bytes - m.sizes[p.ID]; d > 0 {
		m.written.Add(d)
	}
	if p.Closed {
		delete(m.sizes, p.ID)
	} else {
		m.sizes[p.ID] = p.Bytes
	}
	m.pmu.Unlock()
}

func (m *Manager) flushProgress(ctx context.Context) {
	m.pmu.Lock()
	ps := make([]Progress, 0, len(m.pending))
	for _, p := range m.pending {
		ps = append(ps, p)
	}
	m.pending = map[string]Progress{}
	m.pmu.Unlock()
	if err := m.idx.Update(ctx, ps); err != nil {
		m.log.Warn("segment index not updated; trying again", "error", err)
		m.pmu.Lock()
		for _, p := range ps {
			if _, newer := m.pending[p.ID]; !newer {
				m.pending[p.ID] = p
			}
		}
		m.pmu.Unlock()
	}
}

// Start repairs what the last run left open, then runs the recorders
// planned from now on, the index updates and retention until ctx ends.
func (m *Manager) Start(ctx context.Context) error {
	if err := os.MkdirAll(m.cfg.Root, 0o750); err != nil {
		return err
	}
	m.recover(ctx)
	ctx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	m.ctx, m.cancel = ctx, cancel
	for _, p := range m.waiting {
		m.startLocked(p)
	}
	m.waiting = map[string]Plan{}
	m.mu.Unlock()
	m.wg.Add(3)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.MakeDueClips(ctx)
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.flushProgress(ctx)
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		m.retention(ctx)
	}()
	return nil
}

// Close stops every recorder (closing their segments) and waits.
func (m *Manager) Close() {
	m.mu.Lock()
	rs := make([]*recorder, 0, len(m.recorders))
	for _, r := range m.recorders {
		rs = append(rs, r)
	}
	m.recorders = map[string]*recorder{}
	m.ctx = nil
	cancel := m.cancel
	m.mu.Unlock()
	for _, r := range rs {
		r.stop()
	}
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	m.flushProgress(context.Background())
}

// recover closes the segments this node was writing when it stopped: each
// file is cut after its last whole fragment, and the index learns where
// the footage really ends.
func (m *Manager) recover(ctx context.Context) {
	open, err := m.idx.Open(ctx, m.cfg.Node)
	if err != nil {
		m.log.Warn("segments left open not read", "error", err)
		return
	}
	for _, s := range open {
		size, err := repair(s.Path)
		if err != nil {
			m.log.Warn("segment left open is unreadable; dropped from the index", "path", s.Path, "error", err)
			_ = m.idx.Remove(ctx, s.ID)
			continue
		}
		end := s.End
		if e, err := segmentEnd(s); err == nil && e.After(end) {
			end = e
		}
		if !end.After(s.Start) { // cut before its first fragment: nothing to play
			_ = os.Remove(s.Path)
			_ = m.idx.Remove(ctx, s.ID)
			continue
		}
		if err := m.idx.Update(ctx, []Progress{{ID: s.ID, End: end, Bytes: size, Closed: true}}); err != nil {
			m.log.Warn("segment left open not closed in the index", "path", s.Path, "error", err)
			continue
		}
		m.log.Info("segment left open repaired", "path", filepath.Base(s.Path), "end", end)
	}
}
