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
// message published, in order, while the store is read as often as with
// one reader; a reader further behind than the bus's memory is answered
// from the store; LastSeq and Wait follow what was read.
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
		bus := NewBus(src, BusConfig{Every: 50 * time.Millisecond, Keep: 64})
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
		before := src.reads.Load()
		for i := 0; i < msgs; i += 10 {
			publish(10)
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d readers saw the outbox out of order or gave up", bad.Load())
		}
		reads := src.reads.Load() - before
		// The bus polls every 50 ms for about a second: some tens of reads,
		// never one per reader.
		if reads > 200 {
			t.Fatalf("%d store reads for %d readers", reads, readers)
		}
		t.Logf("%d readers, %d messages each, %d store reads", readers, msgs, reads)
		// A reader behind the memory (64 kept) is answered from the store.
		old, err := bus.Messages(ctx, 0, 1000)
		if err != nil || len(old) != 5+msgs {
			t.Fatalf("from the start: %d messages, %v", len(old), err)
		}
		if last, _ := bus.LastSeq(ctx); last != old[len(old)-1].Seq {
			t.Fatalf("LastSeq %d, the newest %d", last, old[len(old)-1].Seq)
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
