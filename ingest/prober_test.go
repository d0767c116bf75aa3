package ingest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sharpeyes/camsim"
)

// TestProberSchedule: every camera nobody pulls is probed within its
// first interval and then again about every interval (never sooner than
// 0.8 of it), no more probes at once than the concurrency allows, a
// camera that is pulled again (no longer a target) is probed no more, and
// Close returns once the probes under way have ended.
func TestProberSchedule(t *testing.T) {
	const interval = 200 * time.Millisecond
	var mu sync.Mutex
	ids := map[string]bool{}
	for i := range 40 {
		ids[fmt.Sprint("c", i)] = true
	}
	targets := func() []ProbeTarget {
		mu.Lock()
		defer mu.Unlock()
		var out []ProbeTarget
		for id := range ids {
			out = append(out, ProbeTarget{ID: id, URL: "rtsp://10.0.0.1/" + id})
		}
		return out
	}
	var running, most atomic.Int64
	var rmu sync.Mutex
	at := map[string][]time.Time{}
	probe := func(ctx context.Context, url string, timeout time.Duration) Probe {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select { // a slow camera
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		running.Add(-1)
		return Probe{Online: true}
	}
	onResult := func(id string, p Probe) {
		rmu.Lock()
		at[id] = append(at[id], time.Now())
		rmu.Unlock()
	}
	p := NewProber(ProberConfig{Interval: interval, Concurrency: 4, Probe: probe}, targets, onResult)
	start := time.Now()
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	probed := func(id string) int {
		rmu.Lock()
		defer rmu.Unlock()
		return len(at[id])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for i := range 40 {
			all = all && probed(fmt.Sprint("c", i)) >= 3
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not every camera probed three times in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	delete(ids, "c0") // pulled now: its stream is its health
	mu.Unlock()
	gone := probed("c0")
	before := probed("c1")
	for probed("c1") < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("c1 not probed again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Close()
	took := time.Since(start)
	if n := probed("c0"); n > gone+1 { // one may have been under way
		t.Errorf("a camera no longer a target was probed %d more times", n-gone)
	}
	if m := most.Load(); m > 4 {
		t.Errorf("%d probes at once, concurrency 4", m)
	}
	if running.Load() != 0 {
		t.Errorf("%d probes still running after Close", running.Load())
	}
	rmu.Lock()
	defer rmu.Unlock()
	for id, ts := range at {
		// The first probe falls within the first interval, give or take a
		// tick and the first probes' queue (40 of 20 ms, 4 at once): within
		// two, with room for a loaded machine.
		if first := ts[0].Sub(start); first > 2*interval+3*time.Second {
			t.Errorf("%s first probed after %v", id, first)
		}
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < interval*8/10 {
				t.Errorf("%s probed again after %v, sooner than 0.8 of the interval", id, gap)
			}
		}
	}
	t.Logf("40 cameras over %v: at most %d probes at once", took.Round(time.Millisecond), most.Load())
}

// TestManagerKeepsProbes: the cameras to probe are the RTSP ones nobody
// pulls (not one being pulled); a probe's
// finding is the camera's status, since the probe that first found it
// so; a pulled camera keeps no probe (its stream is its health), and a
// camera given another source forgets what was probed of the old one.
func TestManagerKeepsProbes(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	m := NewManager(ManagerConfig{IdleTimeout: time.Minute, Timeout: 2 * time.Second})
	defer m.Close()
	for _, s := range []CameraSpec{
		{ID: "r1", Main: f.URL(1, false), OnDemand: true},
		{ID: "r2", Main: f.URL(2, false), OnDemand: true},
	} {
		if err := m.Upsert(s); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() string {
		var out []string
		for _, tg := range m.ProbeTargets() {
			out = append(out, tg.ID)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := ids(); got != "r1,r2" {
		t.Fatalf("targets %s", got)
	}
	if st, _ := m.Status("r1"); st.State != StateUnknown || !st.Probed.IsZero() {
		t.Fatalf("before a probe: %+v", st)
	}
	if !m.SetProbe("r1", Probe{Online: false, Reason: ReasonUnauthorized, Detail: "describe: 401"}) {
		t.Fatal("the first probe is a change")
	}
	st, _ := m.Status("r1")
	if st.State != StateOffline || st.Reason != ReasonUnauthorized || st.Probed.IsZero() {
		t.Fatalf("after a failed probe: %+v", st)
	}
	since := st.Since
	time.Sleep(5 * time.Millisecond)
	if m.SetProbe("r1", Probe{Online: false, Reason: ReasonUnauthorized}) {
		t.Fatal("the same finding again is no change")
	}
	if st, _ := m.Status("r1"); !st.Since.Equal(since) {
		t.Fatalf("since moved on a repeat: %v → %v", since, st.Since)
	}
	if !m.SetProbe("r1", Probe{Online: true}) {
		t.Fatal("back online is a change")
	}
	if st, _ := m.Status("r1"); st.State != StateOnline || !st.Since.After(since) {
		t.Fatalf("after a good probe: %+v", st)
	}
	// Pulled, r2 is no target and keeps no probe.
	_, release, err := m.Acquire(context.Background(), "r2", Main)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if got := ids(); got != "r1" {
		t.Fatalf("targets while r2 is pulled: %s", got)
	}
	if m.SetProbe("r2", Probe{Online: false, Reason: ReasonTimeout}) {
		t.Fatal("a pulled camera took a probe")
	}
	// Another source: what was probed was another camera's.
	if err := m.Upsert(CameraSpec{ID: "r1", Main: f.URL(3, false), OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status("r1"); st.State != StateUnknown {
		t.Fatalf("after a new source: %+v", st)
	}
	if m.SetProbe("gone", Probe{Online: true}) {
		t.Fatal("a probe of an unknown camera kept")
	}
}

// TestOpeningARefusingCameraKeepsItOffline: a camera probed offline
// (wrong password) that a viewer opens is still offline, for the same
// reason, while its pull connects and retries (connecting is no news),
// and after the idle pull stops it keeps what was known.
func TestOpeningARefusingCameraKeepsItOffline(t *testing.T) {
	f := startFleet(t, camsim.Config{User: "admin", Pass: "Right-Pass-1"})
	m := NewManager(ManagerConfig{IdleTimeout: 200 * time.Millisecond, Timeout: 2 * time.Second})
	defer m.Close()
	wrong := strings.Replace(f.URL(1, false), "Right-Pass-1", "Wrong-Pass-2", 1)
	if err := m.Upsert(CameraSpec{ID: "w1", Main: wrong, OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	m.SetProbe("w1", Probe{Online: false, Reason: ReasonUnauthorized, Detail: "describe: 401"})
	_, release, err := m.Acquire(context.Background(), "w1", Main)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status("w1"); st.State != StateOffline || st.Reason != ReasonUnauthorized || !st.Live {
		t.Fatalf("opened, before its first session ends: %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st, _ := m.Status("w1"); st.Reconnects == 0 && time.Now().Before(deadline); st, _ = m.Status("w1") {
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := m.Status("w1"); st.State != StateOffline || st.Reason != ReasonUnauthorized || st.Reconnects == 0 {
		t.Fatalf("retrying after a refused session: %+v", st)
	}
	release()
	for st, _ := m.Status("w1"); st.Live && time.Now().Before(deadline); st, _ = m.Status("w1") {
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := m.Status("w1"); st.State != StateOffline || st.Reason != ReasonUnauthorized || st.Live {
		t.Fatalf("after the idle stop: %+v", st)
	}
}
