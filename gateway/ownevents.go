package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sharpeyes/events"
	"sharpeyes/ingest"
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

	g group

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []events.Event
	closed bool
}

func newOwnEvents(record func(ctx context.Context, e events.Event) error, log *slog.Logger) *ownEvents {
	o := &ownEvents{record: record, log: log.With("component", "own-events"), max: 100_000}
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

// Start records the queued events, in order, until Close.
func (o *ownEvents) Start(ctx context.Context) error {
	o.g.begin(ctx)
	o.g.goRun(o.run)
	return nil
}

// Close stops recording; what is still queued is dropped (the pulls
// have stopped: no event of theirs is true any more).
func (o *ownEvents) Close() { o.g.stop(nil) }

// cameraState turns a pulled camera's state changes into own events:
// offline start/end, and video_loss when media stops flowing.
func (o *ownEvents) cameraState(cameraID string, st ingest.Status) {
	at := st.Since
	mk := func(kind, phase string) events.Event {
		return events.Event{Source: "gateway", SourceEventID: fmt.Sprintf("%s/%s/%s/%d", cameraID, kind, phase, at.UnixMilli()),
			CameraID: cameraID, Kind: kind, Phase: phase, Time: at}
	}
	switch st.State {
	case ingest.StateOffline:
		if st.Stalled {
			o.push(mk(events.VideoLoss, events.PhaseStart))
		} else {
			o.push(mk(events.Offline, events.PhaseStart))
		}
	case ingest.StateOnline:
		o.push(mk(events.Offline, events.PhaseEnd), mk(events.VideoLoss, events.PhaseEnd))
	}
}

// storageFull raises storage_full on the cameras whose recording stopped.
func (o *ownEvents) storageFull(cams []string) {
	at := time.Now()
	for _, id := range cams {
		o.push(events.Event{Source: "gateway", SourceEventID: fmt.Sprintf("%s/storage_full/%d", id, at.UnixMilli()), CameraID: id,
			Kind: events.StorageFull, Phase: events.PhasePulse, Time: at})
	}
}

// offline raises (start) or clears (end) offline on cameras (a GB/T
// 28181 device's channels, when it unregisters or comes back).
func (o *ownEvents) offline(cams []string, phase string) {
	now := time.Now()
	for _, id := range cams {
		o.push(events.Event{Source: "gateway", SourceEventID: fmt.Sprintf("%s/%s/%s/%d", id, events.Offline, phase, now.UnixMilli()),
			CameraID: id, Kind: events.Offline, Phase: phase, Time: now})
	}
}

// run records queued events until ctx ends.
func (o *ownEvents) run(ctx context.Context) {
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
