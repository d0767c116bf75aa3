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
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.clients {
		if p, ok := want[id]; !ok || !p.Enabled || !reflect.DeepEqual(p, c.Platform()) {
			c.Close()
			delete(m.clients, id)
		}
	}
	for id, p := range want {
		if _, running := m.clients[id]; running || !p.Enabled {
			continue
		}
		c, err := New(p, m.deps, m.log)
		if err == nil {
			err = c.Start(m.ctx)
		}
		if err != nil {
			m.log.Warn("upstream platform not started", "component", "cascade", "platform", id, "error", err)
			continue
		}
		m.clients[id] = c
	}
	m.known = want
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
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.clients {
		c.Close()
		delete(m.clients, id)
	}
}
