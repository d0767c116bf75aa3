package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// OutboxReader is where a bus reads: the store's outbox.
type OutboxReader interface {
	Messages(ctx context.Context, after int64, limit int) ([]Message, error)
	LastSeq(ctx context.Context) (int64, error)
}

// Bus is the node's one follower of the outbox: it reads what was
// committed (on this node or another) every so often or when woken, keeps
// the latest messages in memory and hands them to every reader in process
// — the event streams, notifications, recorders, the cascade, the webhook —
// so the outbox is read once per node whatever the number of readers. It
// is an OutboxReader itself: a reader asks for what follows its cursor
// and waits for more; one further behind than the memory reaches is
// answered from the store.
type Bus struct {
	src    OutboxReader
	every  time.Duration
	keep   int
	listen func(ctx context.Context, notify func()) error
	settle time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	ring    []Message // oldest first: every message with from < Seq <= last
	from    int64
	last    int64
	started bool
	changed chan struct{} // closed (and replaced) when messages arrive

	wake  chan struct{}
	reads atomic.Uint64 // reads of the store

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// BusConfig tunes a bus.
type BusConfig struct {
	// Every is how often the outbox is read when nothing wakes the bus
	// (default 200 ms: an alarm's way to the wall well inside its 2 s).
	Every time.Duration
	// Keep is how many of the latest messages stay in memory (default
	// 8,192).
	Keep int
	// Listen, when set, tells of commits to the outbox on any node
	// (ListenOutbox: PostgreSQL's LISTEN); each is read Settle after (the
	// store holds back what is younger than its grace). It runs again
	// after a second when it fails; Every is then only the safety net.
	Listen func(ctx context.Context, notify func()) error
	Settle time.Duration
	Logger *slog.Logger
}

// NewBus makes a bus over src; Start starts it.
func NewBus(src OutboxReader, cfg BusConfig) *Bus {
	if cfg.Every <= 0 {
		cfg.Every = 200 * time.Millisecond
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 8192
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{src: src, every: cfg.Every, keep: cfg.Keep, listen: cfg.Listen, settle: cfg.Settle,
		log: cfg.Logger.With("component", "bus"), changed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Start begins at the newest message (what came before is the store's;
// ctx bounds that first read) and follows the outbox until Close.
func (b *Bus) Start(ctx context.Context) error {
	last, err := b.src.LastSeq(ctx)
	b.reads.Add(1)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	b.mu.Lock()
	b.from, b.last, b.started = last, last, true
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.run(ctx)
	}()
	if b.listen != nil {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.listening(ctx)
		}()
	}
	return nil
}

// listening runs the commit listener (again after a failure), each
// commit read settle after.
func (b *Bus) listening(ctx context.Context) {
	// A read settle after each commit; commits within 100 ms of each
	// other share one (a burst costs ten timers a second, not one each).
	var mu sync.Mutex
	var next time.Time
	notify := func() {
		want := time.Now().Add(b.settle)
		mu.Lock()
		defer mu.Unlock()
		if want.Sub(next) < 100*time.Millisecond {
			return
		}
		next = want.Add(100 * time.Millisecond)
		time.AfterFunc(b.settle+100*time.Millisecond, b.Wake)
	}
	for ctx.Err() == nil {
		if err := b.listen(ctx, notify); err != nil && ctx.Err() == nil {
			b.log.Warn("outbox commits not heard; listening again", "error", err)
		}
		sleep(ctx, time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Close stops following and waits.
func (b *Bus) Close() {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
}

// Wake has the outbox read now (something was just committed here).
func (b *Bus) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Reads counts the bus's reads of the store (its own and those of
// readers further behind than its memory).
func (b *Bus) Reads() uint64 { return b.reads.Load() }

func (b *Bus) run(ctx context.Context) {
	t := time.NewTicker(b.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
		b.read(ctx)
	}
}

// read takes in what the outbox has after the last message read.
func (b *Bus) read(ctx context.Context) {
	for {
		b.mu.Lock()
		after := b.last
		b.mu.Unlock()
		msgs, err := b.src.Messages(ctx, after, 500)
		b.reads.Add(1)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Debug("outbox not read", "error", err)
			}
			return
		}
		if len(msgs) == 0 {
			return
		}
		b.mu.Lock()
		b.ring = append(b.ring, msgs...)
		b.last = msgs[len(msgs)-1].Seq
		if n := len(b.ring) - b.keep; n > 0 {
			b.from = b.ring[n-1].Seq
			b.ring = append(b.ring[:0:0], b.ring[n:]...)
		}
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
		if len(msgs) < 500 {
			return
		}
	}
}

// LastSeq implements OutboxReader: the newest message the bus has read.
func (b *Bus) LastSeq(ctx context.Context) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		return 0, fmt.Errorf("outbox: the bus is not started")
	}
	return b.last, nil
}

// Messages implements OutboxReader: the messages after seq, oldest first,
// from memory when it reaches that far back, else from the store.
func (b *Bus) Messages(ctx context.Context, after int64, limit int) ([]Message, error) {
	b.mu.Lock()
	if b.started && after >= b.from {
		// The ring is sorted: find the first message after the cursor.
		i, j := 0, len(b.ring)
		for i < j {
			h := (i + j) / 2
			if b.ring[h].Seq <= after {
				i = h + 1
			} else {
				j = h
			}
		}
		n := min(limit, len(b.ring)-i)
		out := make([]Message, n)
		copy(out, b.ring[i:i+n])
		b.mu.Unlock()
		return out, nil
	}
	b.mu.Unlock()
	b.reads.Add(1)
	return b.src.Messages(ctx, after, limit)
}

// Changed is closed when the next messages arrive (for a select).
func (b *Bus) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Wait returns once the bus has read a message after seq, or ctx ends.
func (b *Bus) Wait(ctx context.Context, after int64) error {
	for {
		b.mu.Lock()
		last, ch := b.last, b.changed
		b.mu.Unlock()
		if last > after {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
