package cases

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sharpeyes/events"
)

// repairRig is the repair loop on a fake clock: the pipeline, the clock
// both it and the case store read, and the events the gateway would send.
type repairRig struct {
	t     *testing.T
	p     *Pipeline
	s     *Store
	clock *fakeClock
	t0    time.Time
	seq   int
}

func newRepairRig(t *testing.T, s *Store, clock *fakeClock, onReturn string) *repairRig {
	p := pipeline(t, s)
	pol := p.Policy[events.Offline]
	pol.OnReturn = onReturn
	p.Policy[events.Offline] = pol
	p.Holder = func(cell, role string) string {
		if cell == "G1" && role == "maintainer" {
			return "yw-contractor"
		}
		return ""
	}
	p.Why = func(string) string { return "timeout" }
	p.Now = clock.Now
	f := func(v float64) *float64 { return &v }
	places := map[string]Place{"site1": {Name: "站点一号", Grid: "G1", Lat: f(32.4105), Lon: f(119.4188)},
		"site2": {Name: "站点二号", Grid: "G1", Lat: f(32.4300), Lon: f(119.4400)}, // 2.9 km away: no join by distance
		"site3": {Name: "站点三号", Grid: "G1", Lat: f(32.4400), Lon: f(119.4500)}}
	base := p.Place
	p.Place = func(id string) Place {
		if pl, ok := places[id]; ok {
			return pl
		}
		return base(id)
	}
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC) // 10:00 in Yangzhou
	clock.Set(t0)
	return &repairRig{t: t, p: p, s: s, clock: clock, t0: t0}
}

// at moves the clock to t0+d, lets the incident clock tick and the
// pipeline reconcile, as the gateway's clock does every 5 s.
func (r *repairRig) at(d time.Duration) {
	r.t.Helper()
	now := r.t0.Add(d)
	r.clock.Set(now)
	ctx := context.Background()
	if _, err := r.p.Events.Tick(ctx, now); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.p.Reconcile(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// send records an offline start (down) or end (up) of cam at t0+d.
func (r *repairRig) send(cam string, down bool, d time.Duration, site string) {
	r.t.Helper()
	r.seq++
	e := event(cam, events.Offline, r.t0.Add(d), fmt.Sprintf("%s-%d", cam, r.seq))
	e.Source = "gateway"
	if !down {
		e.Phase = events.PhaseEnd
	}
	if _, err := r.p.Intake(context.Background(), e, []string{"G1"}, site); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repairRig) faults() []Case {
	r.t.Helper()
	cs, err := r.s.List(context.Background(), Filter{Category: "device_fault", Escalation: -1, Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	return cs
}

func (r *repairRig) returns(d time.Duration, up func(string) bool) int {
	r.t.Helper()
	r.clock.Set(r.t0.Add(d))
	n, err := r.p.Returns(context.Background(), 10*time.Minute, up)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func auditKeys(t *testing.T, s *Store, id string) []string {
	t.Helper()
	rows, err := s.Audit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		key := r.Action
		if strings.Contains(string(r.Detail), `"note_key":"camera_back"`) {
			key = "camera_back"
		}
		out = append(out, key)
	}
	return out
}

// TestRepairCaseOncePerOutage: a camera offline past fault_after (10
// min) opens one device_fault case, registered and dispatched to its
// cell's maintainer, saying since when and why; one back within that
// opens none; a flap within the merge window continues the outage (no
// second case); once it has been back 10 minutes the case records the
// return and asks to be closed, once; a later outage while the case is
// open joins it.
func TestRepairCaseOncePerOutage(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, clock *fakeClock) {
		r := newRepairRig(t, s, clock, ReturnNote)
		// A short outage: 5 minutes, no case.
		r.send("camC", true, 0, "")
		r.at(time.Minute)
		r.at(4 * time.Minute)
		r.send("camC", false, 5*time.Minute, "")
		r.at(20 * time.Minute)
		if n := len(r.faults()); n != 0 {
			t.Fatalf("a 5-minute outage opened %d cases", n)
		}

		// camA down at 30 min: no case at 39, one at 41.
		r.send("camA", true, 30*time.Minute, "")
		r.at(31 * time.Minute)
		r.at(39 * time.Minute)
		if n := len(r.faults()); n != 0 {
			t.Fatalf("a case %d min into the outage: %d", 9, n)
		}
		r.at(41 * time.Minute)
		cs := r.faults()
		if len(cs) != 1 {
			t.Fatalf("cases after 11 minutes: %+v", cs)
		}
		c := cs[0]
		if c.State != Dispatched || c.Assignee != "yw-contractor" || c.CameraID != "camA" ||
			!strings.Contains(c.Description, "2026-11-27 10:30") || !strings.Contains(c.Description, "无响应（超时）") {
			t.Fatalf("the fault case %+v", c)
		}
		// Flapping: back at 50, down at 52 (within the merge window), back at 53.
		r.send("camA", false, 50*time.Minute, "")
		r.send("camA", true, 52*time.Minute, "")
		r.at(53 * time.Minute)
		r.send("camA", false, 53*time.Minute+30*time.Second, "")
		r.at(75 * time.Minute)
		if n := len(r.faults()); n != 1 {
			t.Fatalf("the flap opened another case: %d", n)
		}
		// Back since 53:30: not told at 60, told at 64, and only once.
		if n := r.returns(60*time.Minute, nil); n != 0 {
			t.Fatalf("told %d cases 6.5 minutes after the return", n)
		}
		if n := r.returns(64*time.Minute, nil); n != 1 {
			t.Fatalf("told %d cases 10.5 minutes after the return, want 1", n)
		}
		if n := r.returns(90*time.Minute, nil); n != 0 {
			t.Fatalf("told again: %d", n)
		}
		keys := auditKeys(t, s, c.ID)
		if strings.Join(keys, ",") != "create,register,dispatch,camera_back" {
			t.Fatalf("audit %v", keys)
		}
		if got, _ := s.Get(context.Background(), c.ID); got.State != Dispatched {
			t.Fatalf("note: the case is %s, want it left for its assignee to close", got.State)
		}
		// A new outage while the case is open joins it: still one case.
		r.send("camA", true, 100*time.Minute, "")
		r.at(101 * time.Minute)
		r.at(111 * time.Minute)
		if cs := r.faults(); len(cs) != 1 {
			t.Fatalf("a second outage with the case open: %d cases", len(cs))
		}
		if keys := auditKeys(t, s, c.ID); keys[len(keys)-1] != "join" {
			t.Fatalf("the second outage did not join: %v", keys)
		}
	})
}

// TestRepairSiteIsOneCaseAndClosesByPolicy: three cameras of one site
// (their stream host) going down within the site window, seen by
// different ticks, are one incident and one case; it is told only when
// all three are back, and with on_return close it is closed.
func TestRepairSiteIsOneCaseAndClosesByPolicy(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, clock *fakeClock) {
		r := newRepairRig(t, s, clock, ReturnClose)
		const site = "10.0.8.20"
		r.send("site1", true, 0, site)
		r.send("site2", true, 20*time.Second, site)
		r.at(time.Minute) // site1 counts; site2 not yet
		r.send("site3", true, 90*time.Second, site)
		r.at(85 * time.Second)  // site2 joins site1's incident
		r.at(160 * time.Second) // site3 too
		r.at(11 * time.Minute)
		cs := r.faults()
		if len(cs) != 1 {
			t.Fatalf("a 3-camera site: %d cases %+v", len(cs), cs)
		}
		in, err := r.p.Events.Incident(context.Background(), cs[0].IncidentID)
		if err != nil || len(in.Cameras) != 3 || !strings.Contains(cs[0].Description, "同一站点 3 路摄像机") {
			t.Fatalf("the site's incident %+v %v; case %q", in, err, cs[0].Description)
		}
		// The site's first camera back closes the outage; the others are
		// still down as the health history has it.
		r.send("site1", false, 20*time.Minute, site)
		r.at(21 * time.Minute)
		down := map[string]bool{"site2": true}
		up := func(id string) bool { return !down[id] }
		if n := r.returns(40*time.Minute, up); n != 0 {
			t.Fatalf("told with site2 still down: %d", n)
		}
		delete(down, "site2")
		if n := r.returns(41*time.Minute, up); n != 1 {
			t.Fatalf("told %d, want the site's case", n)
		}
		got, _ := s.Get(context.Background(), cs[0].ID)
		if got.State != Closed || got.ClosedAt == nil {
			t.Fatalf("on_return close: the case is %s", got.State)
		}
		// The next outage of the site is a case of its own.
		r.send("site1", true, 60*time.Minute, site)
		r.at(61 * time.Minute)
		r.at(71 * time.Minute)
		if n := len(r.faults()); n != 2 {
			t.Fatalf("after the close a new outage: %d cases, want 2", n)
		}
	})
}
