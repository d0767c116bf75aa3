package ingest

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// ProbeTarget is a camera to probe: its id and main stream URL.
type ProbeTarget struct {
	ID, URL string
}

// ProberConfig configures a Prober.
type ProberConfig struct {
	// Interval between two probes of a camera (jittered ±20 %; the first
	// probe of a camera falls within its first interval). Default 60 s.
	Interval time.Duration
	// Concurrency bounds the probes under way at once (default 16).
	Concurrency int
	// Timeout bounds one probe (default 5 s, and at most Interval).
	Timeout time.Duration
	// Probe checks one camera (default ProbeRTSP).
	Probe  func(ctx context.Context, url string, timeout time.Duration) Probe
	Logger *slog.Logger
}

// Prober probes, on a schedule, the cameras nobody pulls: Targets says
// which they are now (a camera pulled again drops out, and its stream is
// its health); each result goes to OnResult.
type Prober struct {
	cfg      ProberConfig
	targets  func() []ProbeTarget
	onResult func(id string, p Probe)
	log      *slog.Logger

	mu   sync.Mutex
	next map[string]time.Time // when each known camera is probed next
	busy map[string]bool      // probes under way

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewProber makes a prober; Start runs it.
func NewProber(cfg ProberConfig, targets func() []ProbeTarget, onResult func(id string, p Probe)) *Prober {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.Timeout = min(cfg.Timeout, cfg.Interval)
	if cfg.Probe == nil {
		cfg.Probe = ProbeRTSP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Prober{cfg: cfg, targets: targets, onResult: onResult, log: cfg.Logger.With("component", "health"),
		next: map[string]time.Time{}, busy: map[string]bool{}}
}

// Start probes until Close.
func (p *Prober) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(ctx)
	}()
	return nil
}

// Close stops probing and waits for the probes under way (each bounded
// by its timeout, and ended at once by the cancel).
func (p *Prober) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

// tick is how often the schedule is looked at: a twentieth of the
// interval, at most a second.
func (p *Prober) tick() time.Duration { return min(p.cfg.Interval/20, time.Second) }

func (p *Prober) run(ctx context.Context) {
	slots := make(chan struct{}, p.cfg.Concurrency)
	t := time.NewTicker(p.tick())
	defer t.Stop()
	for {
		for _, tg := range p.due(time.Now()) {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() { <-slots }()
				res := p.cfg.Probe(ctx, tg.URL, p.cfg.Timeout)
				if ctx.Err() != nil {
					return // closing: not a finding about the camera
				}
				p.done(tg.ID, time.Now())
				p.onResult(tg.ID, res)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// due lists the targets whose probe is due at now, and forgets cameras
// that are no longer targets; a new camera gets its first probe at a
// random time within one interval, so a thousand do not go at once.
func (p *Prober) due(now time.Time) []ProbeTarget {
	ts := p.targets()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[string]bool, len(ts))
	var out []ProbeTarget
	for _, tg := range ts {
		seen[tg.ID] = true
		at, known := p.next[tg.ID]
		if !known {
			p.next[tg.ID] = now.Add(time.Duration(rand.Int64N(int64(p.cfg.Interval))))
			continue
		}
		if p.busy[tg.ID] || now.Before(at) {
			continue
		}
		p.busy[tg.ID] = true
		out = append(out, tg)
	}
	for id := range p.next {
		if !seen[id] && !p.busy[id] {
			delete(p.next, id)
		}
	}
	return out
}

// done schedules a camera's next probe an interval (±20 %) after this one.
func (p *Prober) done(id string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, id)
	p.next[id] = now.Add(jitter(p.cfg.Interval))
}
