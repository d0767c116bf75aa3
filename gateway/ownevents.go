package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"sharpeyes/events"
)

// ownEvents records the gateway's own events (offline, online, video
// loss) one at a time in the order the camera states changed: an online
// recorded before the offline it ends would leave the outage open for
// ever. A write that fails is retried, in order, until it succeeds or the
// gateway stops.
type ownEvents struct {
	record func(ctx context.Context, e events.Event) error
	log    *slog.Logger
	max    int // queue bound; the oldest are dropped past it, with a warning

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []events.Event
	closed bool
	done   chan struct{}
}

func newOwnEvents(record func(ctx context.Context, e events.Event) error, log *slog.Logger) *ownEvents {
	o := &ownEvents{record: record, log: log.With("component", "own-events"), max: 100_000, done: make(chan struct{})}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// push queues events; it never blocks the caller (an ingest callback).
func (o *ownEvents) push(evs ...events.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.queue = append(o.queue, evs...)
	if n := len(o.queue) - o.max; n > 0 {
		o.log.Warn("own events dropped: the store has not accepted writes for long", "dropped", n)
		o.queue = append([]events.Event(nil), o.queue[n:]...)
	}
	o.cond.Signal()
}

// pending is the number of events not yet recorded.
func (o *ownEvents) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// run records queued events until ctx ends.
func (o *ownEvents) run(ctx context.Context) {
	defer close(o.done)
	stop := context.AfterFunc(ctx, func() {
		o.mu.Lock()
		o.closed = true
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	defer stop()
	backoff := 200 * time.Millisecond
	for {
		o.mu.Lock()
		for len(o.queue) == 0 && !o.closed {
			o.cond.Wait()
		}
		if o.closed {
			o.mu.Unlock()
			return
		}
		e := o.queue[0]
		o.mu.Unlock()

		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := o.record(wctx, e)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.log.Warn("own event not recorded yet; retrying", "camera", e.CameraID, "kind", e.Kind, "phase", e.Phase,
				"retry_in", backoff, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		o.mu.Lock()
		o.queue = o.queue[1:]
		o.mu.Unlock()
	}
}
