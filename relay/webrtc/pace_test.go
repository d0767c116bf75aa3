package webrtc

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/relay/whepclient"

	"sharpeyes/relay"
)

// TestPacerKeepsToItsBudget: over any interval, what a pacer lets through
// is at most rate × interval plus its burst (plus the one unit that may put
// it in debt), and a congestion signal halves the rate down to its floor.
func TestPacerKeepsToItsBudget(t *testing.T) {
	now := time.Unix(0, 0)
	p := newPacer(100_000, 30_000, func() time.Time { return now })
	p.sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	type sent struct {
		at time.Time
		n  int
	}
	var log []sent
	for i := 0; i < 200; i++ {
		n := 500 + (i*7919)%6000 // 0.5–6.5 kB units
		if err := p.wait(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		log = append(log, sent{now, n})
	}
	for i := range log {
		total := 0
		for j := i; j < len(log); j++ {
			total += log[j].n
			allowed := 100_000*log[j].at.Sub(log[i].at).Seconds() + p.burst + 6500
			if float64(total) > allowed {
				t.Fatalf("%d bytes from unit %d to %d in %v: over the budget %.0f", total, i, j, log[j].at.Sub(log[i].at), allowed)
			}
		}
	}
	total := 0
	for _, l := range log[1:] {
		total += l.n
	}
	// It is not faster than the rate either, beyond the burst and one unit of debt.
	if took, least := log[len(log)-1].at.Sub(log[0].at), float64(total)-p.burst-6500; took.Seconds()*100_000 < least {
		t.Fatalf("%d bytes at 100 kB/s went in %v", total, took)
	}
	p.congested()
	p.congested()
	if p.rate != 30_000 {
		t.Fatalf("after two congestion signals the rate is %.0f, want the floor 30000", p.rate)
	}
	// A receiver's estimate (REMB) caps the rate, never below the floor
	// and never above the budget.
	q := newPacer(100_000, 30_000, time.Now)
	for _, c := range []struct{ bps, want float64 }{{4e6, 100_000}, {640_000, 80_000}, {0, 80_000}, {100_000, 30_000}} {
		q.estimated(c.bps)
		if q.rate != c.want {
			t.Fatalf("estimate %.0f bit/s: rate %.0f B/s, want %.0f", c.bps, q.rate, c.want)
		}
	}
}

// TestCatchUpKeepsUnderTheViewersEstimate: a viewer's REMB estimate does
// not slow the catch-up while it holds (browsers start low and climb), but
// once it drops — 1.6 to 1.2 Mbit/s — the rest goes at 1.2 Mbit/s, not at
// the 2 Mbit/s budget.
func TestCatchUpKeepsUnderTheViewersEstimate(t *testing.T) {
	w, _, stop := newTestWHEP(t)
	defer stop()
	var mu sync.Mutex
	var rates []float64
	w.onCatchUp = func(_ *relay.Unit, _ time.Time, rate, _ float64) {
		mu.Lock()
		rates = append(rates, rate)
		mu.Unlock()
	}
	time.Sleep(3300 * time.Millisecond) // 1.3 s into the second GOP, a bitrate measured
	ctx, c, _ := join(t, w, whepclient.Options{})
	stopREMB := make(chan struct{})
	go func() { // every 10 ms from the start, as a browser would
		// The drop comes 100 ms after the first estimate, whatever the
		// connection took: well inside the ≈ 370 ms catch-up.
		began := time.Now()
		for {
			bps := float32(1.6e6)
			if time.Since(began) > 100*time.Millisecond {
				bps = 1.2e6
			}
			_ = c.REMB(bps)
			select {
			case <-stopREMB:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	defer close(stopREMB)
	start := time.Now()
	for time.Since(start) < 1500*time.Millisecond {
		select {
		case <-c.Frames():
		case <-ctx.Done():
			t.Fatal("frames stopped")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rates) < 20 {
		t.Fatalf("%d units sent while catching up, want the ~32 cached", len(rates))
	}
	for _, r := range rates {
		if r != 2e6/8 && r != 1.2e6/8 {
			t.Fatalf("a catch-up unit went at %.0f B/s: want the 2 Mbit/s budget, then 1.2 Mbit/s after the drop, nothing else (rates: %v)", r, rates)
		}
	}
	if rates[0] != 2e6/8 {
		t.Fatalf("the catch-up began at %.0f B/s, want the 2 Mbit/s budget", rates[0])
	}
	if last := rates[len(rates)-1]; last != 1.2e6/8 {
		t.Fatalf("the catch-up ended at %.0f B/s after the viewer's estimate fell to 1.2 Mbit/s, want %.0f (rates: %v)", last, 1.2e6/8, rates)
	}
}

// TestCatchUpIsPacedAndMergesIntoLive joins a 2 s GOP 1.3 s in: the
// keyframe comes at once, the rest of the cached GOP never faster than the
// pacing budget, RTP time never goes back, and within a second the viewer
// is at the live edge (frames' capture time stamps are fresh, not 1.3 s old).
func TestCatchUpIsPacedAndMergesIntoLive(t *testing.T) {
	w, _, stop := newTestWHEP(t)
	defer stop()
	type sent struct {
		at          time.Time
		n           int
		rate, burst float64
	}
	var mu sync.Mutex
	var log []sent
	w.onCatchUp = func(u *relay.Unit, at time.Time, rate, burst float64) {
		mu.Lock()
		log = append(log, sent{at, u.Size(), rate, burst})
		mu.Unlock()
	}
	time.Sleep(2300 * time.Millisecond) // a bitrate window has passed; 0.3 s into the second GOP
	time.Sleep(1000 * time.Millisecond) // 1.3 s into it

	ctx, c, joined := join(t, w, whepclient.Options{})
	var frames []whepclient.Frame
	for len(frames) == 0 || time.Since(frames[0].Received) < 2*time.Second {
		select {
		case f := <-c.Frames():
			frames = append(frames, f)
		case <-ctx.Done():
			t.Fatal("frames stopped")
		}
	}
	if !frames[0].Key {
		t.Fatal("the first frame is not the keyframe")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(log) < 20 {
		t.Fatalf("%d units sent while catching up, want the ~32 cached after the keyframe", len(log))
	}
	// The budget: after the keyframe, bytes over any interval ≤ rate ×
	// interval + burst + one unit.
	for i := 1; i < len(log); i++ {
		total := 0
		for j := i; j < len(log); j++ {
			total += log[j].n
			allowed := log[j].rate*log[j].at.Sub(log[i].at).Seconds() + log[j].burst + float64(log[j].n)
			if float64(total) > allowed {
				t.Fatalf("catch-up units %d..%d: %d bytes in %v, over the budget %.0f (rate %.0f B/s)", i, j, total, log[j].at.Sub(log[i].at), allowed, log[j].rate)
			}
		}
	}
	took := log[len(log)-1].at.Sub(log[0].at)
	t.Logf("caught up: %d units, %d ms at %.0f kbit/s; first frame %d ms after the offer", len(log), took.Milliseconds(), log[0].rate*8/1000,
		frames[0].Received.Sub(joined).Milliseconds())
	if took > 1200*time.Millisecond {
		t.Errorf("the catch-up took %v, want within CatchUp.Max (1 s)", took)
	}
	for i := 1; i < len(frames); i++ {
		if int32(frames[i].Timestamp-frames[i-1].Timestamp) <= 0 {
			t.Fatalf("RTP time went back or stood still at frame %d: %d then %d", i, frames[i-1].Timestamp, frames[i].Timestamp)
		}
	}
	// At the live edge: frames received a second in carry fresh capture times.
	for _, f := range frames {
		if f.Received.Sub(frames[0].Received) < 1200*time.Millisecond {
			continue
		}
		for _, n := range f.NALUs {
			// Joined 1.3 s into the GOP, a viewer still behind would see
			// frames ~1.3 s old; live is tens of ms (500 ms leaves room
			// for a loaded -race run).
			if at, ok := camsim.ParseTimestampSEI(n); ok && f.Received.Sub(at) > 500*time.Millisecond {
				t.Fatalf("a frame received %v after the first is %v old: not live", f.Received.Sub(frames[0].Received), f.Received.Sub(at))
			}
		}
	}
}

// TestCatchUpOffWaitsForTheKeyframe: with the GOP cache off (the
// baseline) nothing cached is sent; the first frame is the next keyframe.
func TestCatchUpOffWaitsForTheKeyframe(t *testing.T) {
	w, _, stop := newTestWHEP(t)
	defer stop()
	w.cfg.CatchUp.Off = true
	calls := 0
	var mu sync.Mutex
	w.onCatchUp = func(*relay.Unit, time.Time, float64, float64) { mu.Lock(); calls++; mu.Unlock() }
	time.Sleep(1300 * time.Millisecond)
	ctx, c, joined := join(t, w, whepclient.Options{})
	select {
	case f := <-c.Frames():
		if !f.Key {
			t.Fatal("first frame is not a keyframe")
		}
		t.Logf("first frame %d ms after the offer (the next keyframe)", f.Received.Sub(joined).Milliseconds())
		if f.Received.Sub(joined) < 400*time.Millisecond {
			t.Errorf("the first frame came %v after joining 1.3 s into a 2 s GOP: from the cache", f.Received.Sub(joined))
		}
	case <-ctx.Done():
		t.Fatal("no frame")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Fatalf("%d cached units sent with the cache off", calls)
	}
}

// TestVanishedViewerIsReaped: a viewer whose network goes away without a
// DELETE or a DTLS close (its only socket closed under it) stops costing
// the server within 5 s, and is counted.
func TestVanishedViewerIsReaped(t *testing.T) {
	w, p, stop := newTestWHEP(t)
	defer stop()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, c, _ := join(t, w, whepclient.Options{UDP: conn})
	select {
	case <-c.Frames():
	case <-ctx.Done():
		t.Fatal("no frame")
	}
	// Alive for longer than the timeouts while it is there.
	time.Sleep(4 * time.Second)
	if w.Sessions("cam1") != 1 || w.Reaped() != 0 {
		t.Fatalf("a live viewer: sessions %d, reaped %d", w.Sessions("cam1"), w.Reaped())
	}
	gone := time.Now()
	_ = conn.Close()
	for w.Sessions("cam1") != 0 && time.Since(gone) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(gone)
	t.Logf("reaped %v after the viewer vanished", took.Round(10*time.Millisecond))
	if took > 5*time.Second || w.Reaped() != 1 || p.Held() != 0 {
		t.Fatalf("after %v: sessions %d, reaped %d, stream still held %d times; want reaped within 5 s", took, w.Sessions("cam1"), w.Reaped(), p.Held())
	}
}

// join dials a viewer of cam1, closed with the test; ctx bounds the test's
// waits (10 s), joined is when the offer went.
func join(t *testing.T, w *WHEP, opt whepclient.Options) (context.Context, *whepclient.Client, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	joined := time.Now()
	c, err := whepclient.Dial(ctx, inProcess(w, "cam1"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return ctx, c, joined
}
