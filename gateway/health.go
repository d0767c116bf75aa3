package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"sharpeyes/health"
	"sharpeyes/ingest"
)

// healthHistory writes the changes of the cameras' health this node
// tells (pulled cameras' streams, probes) to the health store, in order,
// off the caller's path: note never blocks (a full queue drops, counted).
type healthHistory struct {
	store   *health.Store
	log     *slog.Logger
	queue   chan health.Change
	dropped atomic.Int64
	g       group
}

func newHealthHistory(store *health.Store, log *slog.Logger) *healthHistory {
	return &healthHistory{store: store, log: log.With("component", "health"), queue: make(chan health.Change, 4096)}
}

// note queues a camera's status as a change of its health: online, or
// offline with its reason; connecting and unknown say nothing yet.
func (h *healthHistory) note(id string, st ingest.Status) {
	c := health.Change{CameraID: id, At: st.Since}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	switch st.State {
	case ingest.StateOnline:
		c.State = health.Online
	case ingest.StateOffline:
		c.State, c.Reason = health.Offline, st.OfflineReason()
	default:
		return
	}
	select {
	case h.queue <- c:
	default:
		if h.dropped.Add(1) == 1 {
			h.log.Warn("health changes dropped: the store is behind", "camera", id)
		}
	}
}

func (h *healthHistory) Start(ctx context.Context) error {
	h.g.begin(ctx)
	h.g.goRun(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-h.queue:
				if _, err := h.store.Record(ctx, c); err != nil && ctx.Err() == nil {
					h.log.Warn("health change not kept", "camera", c.CameraID, "error", err)
				}
			}
		}
	})
	return nil
}

func (h *healthHistory) Close() { h.g.stop(nil) }
