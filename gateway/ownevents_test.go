package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sharpeyes/events"
)

// TestOwnEventsKeepOrderAndSurviveFailedWrites: a burst of state changes
// is recorded in the order it happened, and writes that fail (the store
// is away) are retried in order rather than dropped.
func TestOwnEventsKeepOrderAndSurviveFailedWrites(t *testing.T) {
	var mu sync.Mutex
	var got []string
	fails := 3
	record := func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return errors.New("database is locked")
		}
		got = append(got, e.SourceEventID)
		return nil
	}
	o := newOwnEvents(record, slog.New(slog.DiscardHandler))
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var want []string
	for i := 0; i < 50; i++ {
		phase := events.PhaseStart
		if i%2 == 1 {
			phase = events.PhaseEnd
		}
		id := fmt.Sprintf("cam1/offline/%s/%d", phase, i)
		want = append(want, id)
		o.push(events.Event{SourceEventID: id, CameraID: "cam1", Kind: events.Offline, Phase: phase})
	}
	eventually(t, 20*time.Second, "every event recorded", func() bool { return o.pending() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recorded %v, want in order %v", got, want)
	}
}
