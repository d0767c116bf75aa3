package cases

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// SeedOptions shape a demo history.
type SeedOptions struct {
	Closed   int       // cases closed through the pipeline (the reference street: 2,946)
	Open     int       // cases still being handled
	Grids    []string  // level-4 base cells to spread them over
	Now      time.Time // the history ends here
	Seed     uint64
	Progress func(done, total int)
}

type seedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *seedClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *seedClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var seedCategories = []struct {
	code  string
	title string
	share int
}{
	{"environment", "占道经营、乱堆乱放", 35}, {"public_order", "噪音扰民", 20}, {"device_fault", "监控设备离线", 15},
	{"public_security", "可疑人员徘徊", 12}, {"device_tamper", "摄像机被遮挡", 8}, {"fire_safety", "消防通道堵塞", 5},
	{"environment", "路灯损坏", 5},
}

// departments are the department names users of the department role
// carry (registry.User.Department), so the seeded cases are theirs.
var departments = []string{"police", "law_enforcement", "property", "legal", "housing"}

// ErrSeeded is returned by Seed when the store holds cases already (a
// demo started again on its data directory keeps the history it has).
var ErrSeeded = errors.New("the case store holds cases already; not seeding")

// Seed writes a believable history: cases that went through the five
// handlings (即办 on the spot, 申办/转办 through departments, some returned,
// some reopened after a poor rating) over the past year, and open ones.
// History is not news: none of it reaches the event stream or the
// webhook. A store that holds cases already is left alone (ErrSeeded).
func Seed(ctx context.Context, s *Store, o SeedOptions) error {
	if len(o.Grids) == 0 {
		return fmt.Errorf("%w: seeding needs grids", ErrMissing)
	}
	if n, err := s.Count(ctx); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("%w (%d)", ErrSeeded, n)
	}
	clock := &seedClock{}
	w := *s // same database, its own clock, writing history
	w.now, w.history = clock.now, true
	r := rand.New(rand.NewPCG(o.Seed, 2946))
	total := o.Closed + o.Open
	centre := Actor{ID: "centre-duty", Role: Dispatcher}
	for i := 0; i < total; i++ {
		closed := i < o.Closed
		var at time.Time
		if closed {
			at = o.Now.Add(-time.Duration(r.Int64N(int64(360*24*time.Hour))) - 48*time.Hour)
		} else {
			at = o.Now.Add(-time.Duration(r.Int64N(int64(6 * 24 * time.Hour))))
		}
		pick := r.IntN(100)
		cat := seedCategories[0]
		for _, c := range seedCategories {
			if pick < c.share {
				cat = c
				break
			}
			pick -= c.share
		}
		grid := o.Grids[r.IntN(len(o.Grids))]
		worker := Actor{ID: "worker-" + grid, Role: GridWorker}
		source := []string{"hotline", "grid-report", "event"}[r.IntN(3)]
		clock.set(at)
		c, err := w.Create(ctx, Case{Source: source, Category: cat.code, Title: cat.title, Grid: grid,
			Priority: 2 + r.IntN(3), LimitDays: 3 + r.IntN(3), Reporter: source}, centre, "")
		if err != nil {
			return err
		}
		step := func(act Action, who Actor, a Args, after time.Duration) error {
			at = at.Add(after)
			clock.set(at)
			_, err := w.Act(ctx, c.ID, act, who, a)
			return err
		}
		mins := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Minute }
		var steps []func() error
		add := func(act Action, who Actor, a Args, after time.Duration) {
			steps = append(steps, func() error { return step(act, who, a, after) })
		}
		late := r.IntN(100) < 4 // a few first responses take longer than a working day
		first := mins(5, 240)
		if late {
			first = mins(26*60, 50*60)
		}
		add(Register, centre, Args{Note: "登记"}, first)
		var assignee Actor
		if r.IntN(100) < 40 { // 即办
			assignee = worker
		} else { // 申办/转办
			dept := departments[r.IntN(len(departments))]
			assignee = Actor{ID: dept + "-duty", Role: Department, Department: dept}
			add(Dispatch, centre, Args{Assignee: dept}, mins(10, 120))
			if r.IntN(100) < 5 {
				add(Return, assignee, Args{Reason: "不属于本部门职责"}, mins(30, 300))
				dept = departments[r.IntN(len(departments))]
				assignee = Actor{ID: dept + "-duty", Role: Department, Department: dept}
				add(Dispatch, centre, Args{Assignee: dept}, mins(10, 60))
			}
			add(Accept, assignee, Args{}, mins(10, 180))
			add(Start, assignee, Args{}, mins(10, 600))
		}
		add(Resolve, assignee, Args{Note: "已处置"}, mins(60, 2*24*60))
		add(Verify, centre, Args{}, mins(30, 600))
		if r.IntN(100) < 70 {
			rating := []int{5, 5, 5, 4, 4, 4, 3, 5, 4, 2}[r.IntN(10)]
			add(Evaluate, Actor{ID: "chief-" + grid, Role: GridChief}, Args{Rating: rating}, mins(60, 3*24*60))
			if rating <= 2 { // reopened: handled again and rated again
				add(Resolve, assignee, Args{Note: "再次处置"}, mins(120, 24*60))
				add(Verify, centre, Args{}, mins(30, 300))
				add(Evaluate, Actor{ID: "chief-" + grid, Role: GridChief}, Args{Rating: 4}, mins(60, 24*60))
			}
		}
		if !closed { // still being handled: stop somewhere along the way
			steps = steps[:1+r.IntN(max(1, len(steps)-3))]
		}
		for _, f := range steps {
			if err := f(); err != nil {
				return fmt.Errorf("seeding case %s: %w", c.ID, err)
			}
		}
		if o.Progress != nil && (i+1)%250 == 0 {
			o.Progress(i+1, total)
		}
	}
	if _, err := w.Escalate(ctx, s.cal, o.Now); err != nil {
		return err
	}
	if o.Progress != nil {
		o.Progress(total, total)
	}
	return nil
}
