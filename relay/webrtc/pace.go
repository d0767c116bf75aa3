package webrtc

import (
	"context"
	"time"
)

// CatchUp configures how a viewer joining mid-GOP is brought to the live
// edge: the cached keyframe at once (the instant first frame), then the
// rest of the cached GOP and whatever arrives meanwhile at a bounded rate,
// merging into live when nothing is left to send.
type CatchUp struct {
	// Off sends no cached GOP: a viewer waits for the next keyframe (what
	// mediamtx and go2rtc do; the benchmarks' baseline).
	Off bool
	// Rate is the catch-up rate as a multiple of the stream's measured
	// bitrate (default 3: a 2 s GOP joined at its end drains in 1 s).
	Rate float64
	// MinRate is the least catch-up rate in bit/s (default 2 Mbit/s), for
	// streams whose measured bitrate is still unknown or tiny.
	MinRate float64
	// Max is the longest a catch-up may take at its rate; a join whose
	// cached GOP would need longer starts at the next keyframe instead
	// (default 1 s).
	Max time.Duration
}

func (c CatchUp) withDefaults() CatchUp {
	if c.Rate <= 1 {
		c.Rate = 3
	}
	if c.MinRate <= 0 {
		c.MinRate = 2e6
	}
	if c.Max <= 0 {
		c.Max = time.Second
	}
	return c
}

// pacer is a token bucket in bytes: send(n) waits until n bytes fit the
// budget (rate bytes a second, at most burst ahead). A congestion signal
// halves the rate, never below floor (the stream's own rate: the catch-up
// must still gain on live).
type pacer struct {
	rate, floor float64 // bytes/s
	burst       float64 // bytes
	tokens      float64
	last        time.Time
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
}

func newPacer(rate, floor float64, now func() time.Time) *pacer {
	burst := max(rate*0.02, 1500) // 20 ms of budget: a frame's packets go together
	return &pacer{rate: rate, floor: floor, burst: burst, tokens: burst, last: now(), now: now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) refill() {
	now := p.now()
	p.tokens = min(p.burst, p.tokens+p.rate*now.Sub(p.last).Seconds())
	p.last = now
}

// wait blocks until n bytes may go, then takes them from the budget. A
// unit larger than the burst goes when the bucket is full, leaving it in
// debt: what follows waits for the debt to be paid.
func (p *pacer) wait(ctx context.Context, n int) error {
	p.refill()
	need := min(float64(n), p.burst)
	if p.tokens < need {
		if err := p.sleep(ctx, time.Duration((need-p.tokens)/p.rate*float64(time.Second))); err != nil {
			return err
		}
		p.refill()
	}
	p.tokens -= float64(n)
	return nil
}

// congested halves the rate (multiplicative decrease on loss).
func (p *pacer) congested() {
	p.rate = max(p.rate/2, p.floor)
}

// estimated caps the rate at what the viewer estimates its path holds
// (REMB, bit/s), never below floor. It never raises the rate: the budget
// stays the upper bound.
func (p *pacer) estimated(bps float64) {
	if bps > 0 {
		p.rate = max(min(p.rate, bps/8), p.floor)
	}
}
