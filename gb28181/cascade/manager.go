package cascade

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"
)

// Manager keeps one client per enabled platform, following the list of
// platforms as it changes.
type Manager struct {
	ctx  context.Context
	deps Deps
	log  *slog.Logger

	apply   sync.Mutex // one Apply (or Close) at a time
	mu      sync.Mutex
	clients map[string]*Client
	known   map[string]Platform // every platform, enabled or not
}

// NewManager makes a manager whose clients run until ctx ends or Close.
func NewManager(ctx context.Context, deps Deps, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{ctx: ctx, deps: deps, log: log, clients: map[string]*Client{}, known: map[string]Platform{}}
}

// Apply makes the running clients those of ps: a platform removed or
// disabled is unregistered, one added or changed (registered) anew. The
// list is checked whole before anything changes.
func (m *Manager) Apply(ps []Platform) error {
	want := map[string]Platform{}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return err
		}
		if _, dup := want[p.ID]; dup {
			return errors.Join(ErrConfig, errors.New("platform "+p.ID+" twice"))
		}
		want[p.ID] = p
	}
	// Clients are closed (unregistering: network) and started outside the
	// lock, so Status and Alarm never wait on a platform.
	m.apply.Lock()
	defer m.apply.Unlock()
	m.mu.Lock()
	var gone []*Client
	for id, c := range m.clients {
		if p, ok := want[id]; !ok || !p.Enabled || !reflect.DeepEqual(p, c.Platform()) {
			gone = append(gone, c)
			delete(m.clients, id)
		}
	}
	var start []Platform
	for id, p := range want {
		if _, running := m.clients[id]; !running && p.Enabled {
			start = append(start, p)
		}
	}
	m.known = want
	m.mu.Unlock()
	for _, c := range gone {
		c.Close()
	}
	for _, p := range start {
		c, err := New(p, m.deps, m.log)
		if err == nil {
			err = c.Start(m.ctx)
		}
		if err != nil {
			m.log.Warn("upstream platform not started", "component", "cascade", "platform", p.ID, "error", err)
			continue
		}
		m.mu.Lock()
		m.clients[p.ID] = c
		m.mu.Unlock()
	}
	return nil
}

// Status answers a platform's status (disabled ones included).
func (m *Manager) Status(id string) (Status, bool) {
	m.mu.Lock()
	c, running := m.clients[id]
	p, known := m.known[id]
	m.mu.Unlock()
	switch {
	case running:
		return c.Status(), true
	case known && !p.Enabled:
		return Status{State: "disabled", LastError: "enabled is false: the street does not register with this platform"}, true
	case known:
		return Status{State: "failed", LastError: "not started (see the log)"}, true
	}
	return Status{}, false
}

// Alarm tells every platform that is shown the camera of an alarm on it.
func (m *Manager) Alarm(ctx context.Context, cameraID string, at time.Time, priority, method, typ int, description string) {
	m.mu.Lock()
	cs := make([]*Client, 0, len(m.clients))
	for _, c := range m.clients {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	for _, c := range cs {
		err := c.Alarm(ctx, cameraID, at, priority, method, typ, description)
		if err != nil && !errors.Is(err, ErrNotShared) && !errors.Is(err, ErrNotRegistered) {
			m.log.Warn("alarm not forwarded", "component", "cascade", "platform", c.p.ID, "camera", cameraID, "error", err)
		}
	}
}

// Close unregisters from every platform.
func (m *Manager) Close() {
	m.apply.Lock()
	defer m.apply.Unlock()
	m.mu.Lock()
	cs := make([]*Client, 0, len(m.clients))
	for id, c := range m.clients {
		cs = append(cs, c)
		delete(m.clients, id)
	}
	m.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}
