package events

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingOutbox counts the store reads made through it.
type countingOutbox struct {
	s     *Store
	reads atomic.Int64
}

func (c *countingOutbox) Messages(ctx context.Context, after int64, limit int) ([]Message, error) {
	c.reads.Add(1)
	return c.s.Messages(ctx, after, limit)
}

func (c *countingOutbox) LastSeq(ctx context.Context) (int64, error) {
	c.reads.Add(1)
	return c.s.LastSeq(ctx)
}

// TestBusReadsOncePerNode: 200 readers waiting on the bus see every
// message published, in order, while the store is read only by the bus's
// own polls (as often as with one reader); a reader further behind than
// the bus's memory is answered from the store; LastSeq and Wait follow
// what was read.
func TestBusReadsOncePerNode(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		publish := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO outbox (at, topic, body) VALUES (?, ?, ?)`),
					time.Now().Add(-2*time.Second).UnixMilli(), "incident.opened", fmt.Sprintf(`{"n":%d}`, i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		publish(5) // history: before the bus
		src := &countingOutbox{s: s}
		// The memory holds all that is published here, so no reader
		// needs the store: every read counted is one of the bus's polls.
		const every = 50 * time.Millisecond
		bus := NewBus(src, BusConfig{Every: every, Keep: 1024})
		if err := bus.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		start, _ := bus.LastSeq(ctx)
		const readers, msgs = 200, 100
		var wg sync.WaitGroup
		var bad atomic.Int64
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				after, got := start, 0
				for got < msgs {
					ms, err := bus.Messages(rctx, after, 1000)
					if err != nil {
						bad.Add(1)
						return
					}
					if len(ms) == 0 {
						if bus.Wait(rctx, after) != nil {
							bad.Add(1)
							return
						}
						continue
					}
					for _, m := range ms {
						if m.Seq <= after {
							bad.Add(1)
						}
						after = m.Seq
						got++
					}
				}
			}()
		}
		before, began := src.reads.Load(), time.Now()
		for i := 0; i < msgs; i += 10 {
			publish(10)
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d readers saw the outbox out of order or gave up", bad.Load())
		}
		reads := src.reads.Load() - before
		// At most one read a tick (a loaded machine drops ticks, never
		// adds them), however long the readers took: never one per reader.
		polls := int64(time.Since(began)/every) + 2
		if reads > polls {
			t.Fatalf("%d store reads for %d readers in %d polls", reads, readers, polls)
		}
		t.Logf("%d readers, %d messages each, %d store reads", readers, msgs, reads)
		// A reader from before the bus began is answered from the store.
		old, err := bus.Messages(ctx, 0, 1000)
		if err != nil || len(old) != 5+msgs {
			t.Fatalf("from the start: %d messages, %v", len(old), err)
		}
		if last, _ := bus.LastSeq(ctx); last != old[len(old)-1].Seq {
			t.Fatalf("LastSeq %d, the newest %d", last, old[len(old)-1].Seq)
		}
		// A reader further behind than a small memory (8 kept) is
		// answered from the store, in full.
		small := NewBus(src, BusConfig{Every: 20 * time.Millisecond, Keep: 8})
		if err := small.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer small.Close()
		from, _ := small.LastSeq(ctx)
		publish(20)
		target, err := s.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for {
			last, _ := small.LastSeq(ctx)
			if last >= target {
				break
			}
			if err := small.Wait(rctx, last); err != nil {
				t.Fatalf("the small bus read up to %d, want %d: %v", last, target, err)
			}
		}
		stored := src.reads.Load()
		behind, err := small.Messages(ctx, from, 1000)
		if err != nil || len(behind) != 20 || behind[0].Seq <= from {
			t.Fatalf("behind the memory: %d messages, %v", len(behind), err)
		}
		if src.reads.Load() == stored {
			t.Fatal("a reader behind the memory was answered without the store")
		}
	})
}

// TestBusWokenByPostgres: with PostgreSQL a bus that never polls (every
// hour) hears of a commit through LISTEN/NOTIFY and reads it once the
// store's grace has passed.
func TestBusWokenByPostgres(t *testing.T) {
	s := postgresStore(t)
	db := s.db
	ctx := context.Background()
	bus := NewBus(s, BusConfig{Every: time.Hour, Settle: OutboxGrace + 100*time.Millisecond,
		Listen: func(ctx context.Context, notify func()) error { return ListenOutbox(ctx, db, notify) }})
	if err := bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	after, _ := bus.LastSeq(ctx)
	time.Sleep(300 * time.Millisecond) // the listener's LISTEN is in
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Publish(ctx, tx, true, "incident.opened", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bus.Wait(wctx, after); err != nil {
		t.Fatal("the commit was not heard:", err)
	}
	msgs, _ := bus.Messages(ctx, after, 10)
	if len(msgs) != 1 || msgs[0].Topic != "incident.opened" {
		t.Fatalf("read %v", msgs)
	}
}
