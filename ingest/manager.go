package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"sharpeyes/relay"
)

// Variants of a camera stream.
const (
	Main = "main"
	Sub  = "sub"
)

// CameraSpec is what the manager needs to pull a camera.
type CameraSpec struct {
	ID        string
	Main, Sub string // RTSP URLs; Sub may be empty
	Transport string
	OnDemand  bool
	// GB, when set, is the GB/T 28181 channel the camera is (no URLs: its
	// one stream is INVITEd through ManagerConfig.GBOpener).
	GB GBRef
	// Off, when set, says why the camera is known to be down while nobody
	// pulls it (its device's catalog says the channel is OFF). A change of
	// Off alone restarts nothing.
	Off string
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// IdleTimeout stops an on-demand pull this long after its last reader.
	IdleTimeout time.Duration
	// Source settings applied to every pull.
	Timeout                time.Duration
	BackoffMin, BackoffMax time.Duration
	Stream                 relay.StreamConfig
	Logger                 *slog.Logger
	// OnState, if set, is called on every state change of a pull.
	OnState func(cameraID, variant string, st Status)
	// GBOpener INVITEs GB/T 28181 channels (nil: GB/T 28181 is off).
	GBOpener GBOpener
}

// Manager runs the pulls of every known camera: on-demand pulls start with
// their first reader and stop IdleTimeout after the last one; always-on
// cameras are pulled continuously. It implements relay.StreamProvider.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	mu     sync.Mutex
	cams   map[string]*camera
	closed bool
	wg     sync.WaitGroup
}

type camera struct {
	spec  CameraSpec
	pulls map[string]*pull
	// probe is what the last probe found while nobody pulled the camera
	// (nil: not probed since its source last changed).
	probe *probed
}

// probed is a probe's finding (or the last pull's, when it ended) and
// since when the camera has been so.
type probed struct {
	Probe
	at, since time.Time
	// pulled: the finding is a pull's that got no picture (no media, or
	// frozen), which a probe cannot see: a probe that finds the camera
	// answering leaves it; only a pull with frames, or a probe that finds
	// it down, changes it.
	pulled bool
}

type pull struct {
	stream  *relay.Stream
	source  *Source
	cancel  context.CancelFunc
	readers int // viewers (Acquire)
	holders int // readers that are no viewers (Hold: recorders)
	idle    *time.Timer
	done    chan struct{}
}

// NewManager returns an empty manager.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "ingest"), cams: map[string]*camera{}}
}

func (c *camera) url(variant string) string {
	if c.spec.GB.Channel != "" {
		if variant == Main {
			return "gb28181:" + c.spec.GB.Channel // one stream: sub is main
		}
		return ""
	}
	if variant == Sub {
		return c.spec.Sub
	}
	return c.spec.Main
}

// Upsert adds a camera or applies a changed definition. A change to its
// URLs or transport restarts its pulls (viewers reconnect).
func (m *Manager) Upsert(spec CameraSpec) error {
	if spec.GB.Channel != "" {
		if _, err := NewSource(SourceConfig{GB: &spec.GB, GBOpener: m.cfg.GBOpener}, nil); err != nil {
			return err
		}
	}
	for _, u := range []string{spec.Main, spec.Sub} {
		if spec.GB.Channel != "" {
			break
		}
		if u == "" {
			continue
		}
		if _, err := NewSource(SourceConfig{URL: u, Transport: spec.Transport}, nil); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	c, ok := m.cams[spec.ID]
	if ok && c.spec == spec {
		return nil
	}
	if ok && sameSource(c.spec, spec) {
		c.spec = spec
		return nil
	}
	if ok {
		m.stopAllLocked(c)
		c.spec, c.probe = spec, nil // another source: what was probed was another camera's
	} else {
		c = &camera{spec: spec, pulls: map[string]*pull{}}
		m.cams[spec.ID] = c
	}
	if !spec.OnDemand {
		for _, v := range []string{Main, Sub} {
			if c.url(v) != "" {
				m.startLocked(c, v)
			}
		}
	}
	return nil
}

// sameSource tells whether two definitions pull alike (they differ at
// most in what is known of the camera while nobody pulls it).
func sameSource(a, b CameraSpec) bool {
	a.Off, b.Off = "", ""
	return a == b
}

// Remove forgets a camera and stops its pulls; its viewers are disconnected.
func (m *Manager) Remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.cams[id]; ok {
		m.stopAllLocked(c)
		delete(m.cams, id)
	}
}

// Sync makes the manager's cameras exactly specs (after a registry re-list).
func (m *Manager) Sync(specs []CameraSpec) {
	keep := map[string]bool{}
	for _, s := range specs {
		keep[s.ID] = true
		if err := m.Upsert(s); err != nil {
			m.log.Warn("camera not pulled", "camera", s.ID, "error", err)
		}
	}
	m.mu.Lock()
	var gone []string
	for id := range m.cams {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.Remove(id)
	}
}

func (m *Manager) stopAllLocked(c *camera) {
	for v, p := range c.pulls {
		m.stopLocked(c, v, p)
	}
}

func (m *Manager) stopLocked(c *camera, variant string, p *pull) {
	if p.idle != nil {
		p.idle.Stop()
	}
	found := p.source.Status() // before the cancel: a cancelled source soon says nothing
	p.cancel()
	p.stream.Close()
	delete(c.pulls, variant)
	if len(c.pulls) == 0 {
		if f := lastPull(found); f != nil {
			c.probe = f // a pull that found nothing leaves what was known
		}
	}
}

// lastPull is what a camera's last pull found when it ended, kept as its
// finding until the next probe: online, or offline and why (nil while
// it was still connecting: nothing found).
func lastPull(st Status) *probed {
	now := time.Now()
	switch st.State {
	case StateOnline:
		return &probed{Probe: Probe{Online: true}, at: now, since: st.Since}
	case StateOffline:
		why := st.OfflineReason()
		return &probed{Probe: Probe{Reason: why, Detail: st.LastError}, at: now, since: st.Since,
			pulled: why == ReasonNoMedia || why == ReasonFrozen}
	case StateConnecting:
		// Between sessions: the last one's picture never came or froze.
		if st.Reason == ReasonNoMedia || st.Reason == ReasonFrozen {
			return &probed{Probe: Probe{Reason: st.Reason, Detail: st.LastError}, at: now, since: st.Since, pulled: true}
		}
	}
	return nil
}

func (m *Manager) startLocked(c *camera, variant string) *pull {
	if p, ok := c.pulls[variant]; ok {
		return p
	}
	id := c.spec.ID
	stream := relay.NewStream(m.cfg.Stream)
	var gb *GBRef
	if c.spec.GB.Channel != "" {
		ref := c.spec.GB
		gb = &ref
	}
	src, err := NewSource(SourceConfig{
		URL: c.url(variant), Transport: c.spec.Transport, Timeout: m.cfg.Timeout, GB: gb, GBOpener: m.cfg.GBOpener,
		BackoffMin: m.cfg.BackoffMin, BackoffMax: m.cfg.BackoffMax,
		Logger: m.log.With("camera", id, "stream", variant),
		OnState: func(st Status) {
			if m.cfg.OnState != nil {
				m.cfg.OnState(id, variant, st)
			}
		},
	}, stream)
	if err != nil { // validated in Upsert
		m.log.Error("source", "camera", id, "error", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pull{stream: stream, source: src, cancel: cancel, done: make(chan struct{})}
	c.pulls[variant] = p
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(p.done)
		src.Run(ctx)
	}()
	return p
}

// Acquire implements relay.StreamProvider: a viewer's hold on a stream,
// counted in the camera's viewers.
func (m *Manager) Acquire(ctx context.Context, id, variant string) (*relay.Stream, func(), error) {
	return m.acquire(ctx, id, variant, false)
}

// Hold is Acquire for a reader that is no viewer (a recorder): it keeps
// the pull running, as an always-on camera's is, without counting in the
// camera's viewers.
func (m *Manager) Hold(ctx context.Context, id, variant string) (*relay.Stream, func(), error) {
	return m.acquire(ctx, id, variant, true)
}

// Running returns the stream of a camera's pull if one runs now, without
// starting it or keeping it: for a reader that only follows what others
// pull (ok is false when nothing runs).
func (m *Manager) Running(id, variant string) (*relay.Stream, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[id]
	if !ok {
		return nil, false
	}
	if variant == "" {
		variant = Main
	}
	p, ok := c.pulls[variant]
	if !ok || p == nil {
		return nil, false
	}
	return p.stream, true
}

func (m *Manager) acquire(_ context.Context, id, variant string, holder bool) (*relay.Stream, func(), error) {
	if variant == "" {
		variant = Main
	}
	if variant != Main && variant != Sub {
		return nil, nil, relay.ErrUnknownStream
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[id]
	if !ok || m.closed {
		return nil, nil, fmt.Errorf("%w: %s", relay.ErrUnknownCamera, id)
	}
	if c.url(variant) == "" {
		if variant == Sub { // cameras without a sub stream serve main
			variant = Main
		} else {
			return nil, nil, fmt.Errorf("%w: %s has no %s stream", relay.ErrUnknownStream, id, variant)
		}
	}
	p := m.startLocked(c, variant)
	if p == nil {
		return nil, nil, fmt.Errorf("%w: %s", relay.ErrSourceUnavailable, id)
	}
	if p.idle != nil {
		p.idle.Stop()
		p.idle = nil
	}
	if holder {
		p.holders++
	} else {
		p.readers++
	}
	var once sync.Once
	release := func() { once.Do(func() { m.release(c, variant, p, holder) }) }
	return p.stream, release, nil
}

func (m *Manager) release(c *camera, variant string, p *pull, holder bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if holder {
		p.holders--
	} else {
		p.readers--
	}
	if p.readers+p.holders > 0 || !c.spec.OnDemand || c.pulls[variant] != p {
		return
	}
	p.idle = time.AfterFunc(m.cfg.IdleTimeout, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if p.readers+p.holders == 0 && c.pulls[variant] == p {
			m.log.Info("idle stop", "camera", c.spec.ID, "stream", variant)
			m.stopLocked(c, variant, p)
		}
	})
}

// CameraStatus is the health of a camera's pulls.
type CameraStatus struct {
	Status
	Viewers int `json:"viewers"`
}

// Status reports a camera: its main pull if running, else its sub pull
// (live), else what probes and its GB device tell (or unknown); viewers
// count readers of both.
func (m *Manager) Status(id string) (CameraStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[id]
	if !ok {
		return CameraStatus{}, fmt.Errorf("%w: %s", relay.ErrUnknownCamera, id)
	}
	out := CameraStatus{Status: Status{State: StateUnknown}}
	found := false
	for _, v := range []string{Main, Sub} {
		p, ok := c.pulls[v]
		if !ok {
			continue
		}
		out.Viewers += p.readers
		if !found {
			out.Status = p.source.Status()
			out.Live = true
			found = true
		}
	}
	switch {
	case !found:
		out.Status = m.idleStatus(c)
	case out.State != StateOnline:
		// A pull that is not getting video: say why when it is known
		// (its device gone is why every INVITE fails).
		if why := m.knownDown(c.spec); why.State == StateOffline {
			out.State, out.Reason = StateOffline, why.Reason
			break
		}
		if out.State != StateConnecting {
			break
		}
		// Connecting is no news: a pull retrying after a failed session
		// is down for why that session failed; before its first session
		// has ended, the camera is what was last found of it (a viewer
		// opening a camera that refuses does not make it look up).
		if out.LastError != "" {
			out.State = StateOffline
		} else if p := c.probe; p != nil && !p.Online {
			out.State, out.Since, out.Reason, out.LastError, out.Probed = StateOffline, p.since, p.Reason, p.Detail, p.at
		}
	}
	if out.State == StateOffline && out.Reason == "" {
		out.Reason = out.OfflineReason() // a pull's failed connection says why as a probe would
	}
	return out, nil
}

// Reasons a camera nobody pulls is known to be offline.
const (
	ReasonDeviceOffline = "device_offline" // its GB/T 28181 device is not registered
	ReasonChannelOff    = "channel_off"    // its device's catalog says the channel is OFF
)

// idleStatus is what is known of a camera nobody pulls: a GB/T 28181
// channel is online while its device is registered and its catalog says
// the channel is on, offline otherwise; a probed camera is what its last
// probe found; otherwise it is unknown (never checked).
func (m *Manager) idleStatus(c *camera) Status {
	if st := m.knownDown(c.spec); st.State == StateOffline {
		return st
	}
	if c.spec.GB.Channel != "" && m.cfg.GBOpener != nil {
		// Registered (knownDown said so) and not off: its device's
		// registration and keepalives are its health.
		_, since := m.cfg.GBOpener.Presence(c.spec.GB.Device)
		return Status{State: StateOnline, Since: since}
	}
	if p := c.probe; p != nil {
		// Its last probe: online (it answered DESCRIBE) or why not.
		if p.Online {
			return Status{State: StateOnline, Since: p.since, Probed: p.at}
		}
		return Status{State: StateOffline, Since: p.since, Probed: p.at, Reason: p.Reason, LastError: p.Detail}
	}
	return Status{State: StateUnknown}
}

// knownDown is a camera known to be offline without pulling it: a GB/T
// 28181 channel whose device is not registered or whose catalog says it
// is off (else a zero Status).
func (m *Manager) knownDown(spec CameraSpec) Status {
	if spec.GB.Channel != "" && m.cfg.GBOpener != nil {
		if registered, since := m.cfg.GBOpener.Presence(spec.GB.Device); !registered {
			return Status{State: StateOffline, Since: since, Reason: ReasonDeviceOffline,
				LastError: "its device " + spec.GB.Device + " is not registered"}
		}
	}
	if spec.Off != "" {
		return Status{State: StateOffline, Reason: ReasonChannelOff, LastError: spec.Off}
	}
	return Status{}
}

// ProbeTargets are the RTSP cameras nobody pulls now (a GB/T 28181
// channel's health is its device's registration instead; a channel the
// catalog says is off is known).
func (m *Manager) ProbeTargets() []ProbeTarget {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ProbeTarget
	for id, c := range m.cams {
		if len(c.pulls) > 0 || c.spec.GB.Channel != "" || c.spec.Off != "" || c.spec.Main == "" {
			continue
		}
		out = append(out, ProbeTarget{ID: id, URL: c.spec.Main})
	}
	return out
}

// SetProbe keeps what a probe of camera id found; it answers whether the
// camera's state (online, or offline and why) changed. A camera pulled
// meanwhile, or gone, keeps nothing: its stream is its health.
func (m *Manager) SetProbe(id string, p Probe) (changed bool) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[id]
	if !ok || len(c.pulls) > 0 {
		return false
	}
	prev := c.probe
	if prev != nil && prev.pulled && p.Online {
		// It answers DESCRIBE, as it did when its pull got no picture.
		prev.at = now
		return false
	}
	next := &probed{Probe: p, at: now, since: now}
	if prev != nil && prev.Online == p.Online && prev.Reason == p.Reason {
		next.since = prev.since
	}
	c.probe = next
	return prev == nil || next.since == now
}

// PullStat describes one running pull, for metrics.
type PullStat struct {
	Camera, Variant string
	Status          Status
	Relay           relay.Stats
}

// Pulls lists the running pulls, sorted by camera and variant.
func (m *Manager) Pulls() []PullStat {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PullStat
	for id, c := range m.cams {
		for v, p := range c.pulls {
			out = append(out, PullStat{Camera: id, Variant: v, Status: p.source.Status(), Relay: p.stream.Stats()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Camera != out[j].Camera {
			return out[i].Camera < out[j].Camera
		}
		return out[i].Variant < out[j].Variant
	})
	return out
}

// IDs lists the known cameras, sorted.
func (m *Manager) IDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.cams))
	for id := range m.cams {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Close stops every pull and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, c := range m.cams {
		m.stopAllLocked(c)
	}
	m.mu.Unlock()
	m.wg.Wait()
}
