package cases

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sharpeyes/sqlstore/sqltest"
)

// stores runs f against SQLite and PostgreSQL (CASES_TEST_POSTGRES_DSN, set
// by `make test`, which starts a local PostgreSQL).
func stores(t *testing.T, f func(t *testing.T, s *Store, clock *fakeClock)) {
	cal := testCalendar(t)
	t.Run("sqlite", func(t *testing.T) {
		s, err := Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "cases.db"), cal)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		clock := &fakeClock{t: time.Date(2026, 9, 30, 1, 0, 0, 0, time.UTC)}
		s.now = clock.Now
		f(t, s, clock)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := sqltest.Schema(context.Background(), sqltest.DSN(t), "cases_test")
		if err != nil {
			t.Fatal(err)
		}
		defer drop()
		s, err := Open(context.Background(), "pgx", dsn, cal)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, tbl := range []string{"case_audit", "cases"} {
			if _, err := s.db.Exec("DELETE FROM " + tbl); err != nil {
				t.Fatal(err)
			}
		}
		clock := &fakeClock{t: time.Date(2026, 9, 30, 1, 0, 0, 0, time.UTC)}
		s.now = clock.Now
		f(t, s, clock)
	})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func testCalendar(t *testing.T) *Calendar {
	cal, err := NewCalendar(shanghai(t),
		[]string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		[]string{"2026-10-10"})
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func newCase(t *testing.T, s *Store) Case {
	c, err := s.Create(context.Background(), Case{Source: "event", Category: "tamper", Title: "摄像机遮挡", Grid: "32100300100101",
		Priority: 2, LimitDays: 3}, Actor{ID: "gateway", Role: System}, "from incident I-1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFiveHandlingsLifecycleWithAudit(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, _ *fakeClock) {
		ctx := context.Background()
		c := newCase(t, s)
		centre := Actor{ID: "centre-1", Role: Dispatcher}
		police := Actor{ID: "dept-police", Role: Department}
		steps := []struct {
			act  Action
			who  Actor
			args Args
			want State
		}{
			{Register, centre, Args{Note: "登记"}, Registered},
			{Dispatch, centre, Args{Assignee: "dept-police"}, Dispatched},
			{Return, police, Args{Reason: "非本部门"}, Returned},
			{Dispatch, centre, Args{Assignee: "dept-police"}, Dispatched},
			{Accept, police, Args{}, Accepted},
			{Start, police, Args{}, InProgress},
			{Resolve, police, Args{Note: "已清理遮挡物"}, Verifying},
			{Verify, centre, Args{}, Closed},
			{Evaluate, Actor{ID: "chief-1", Role: GridChief}, Args{Rating: 5}, Evaluated},
		}
		for _, st := range steps {
			got, err := s.Act(ctx, c.ID, st.act, st.who, st.args)
			if err != nil || got.State != st.want {
				t.Fatalf("%s: %s %v, want %s", st.act, got.State, err, st.want)
			}
		}
		// Refused: nothing is written.
		if _, err := s.Act(ctx, c.ID, Accept, police, Args{}); !errors.Is(err, ErrTransition) {
			t.Fatalf("accept on an evaluated case: %v", err)
		}
		rows, err := s.Audit(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(steps)+1 {
			t.Fatalf("%d audit rows, want %d", len(rows), len(steps)+1)
		}
		prev := Received
		for i, st := range steps {
			r := rows[i+1]
			if r.N != i+2 || r.Action != string(st.act) || r.From != prev || r.To != st.want || r.Actor != st.who.ID {
				t.Fatalf("audit row %d = %+v, want %s %s→%s by %s", i+1, r, st.act, prev, st.want, st.who.ID)
			}
			prev = st.want
		}
		got, _ := s.Get(ctx, c.ID)
		if got.Assignee != "dept-police" || got.Rating == nil || *got.Rating != 5 || got.ClosedAt == nil {
			t.Fatalf("stored case %+v", got)
		}
	})
}

func TestSLAEscalationWithFakeClock(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, clock *fakeClock) {
		ctx := context.Background()
		loc := shanghai(t)
		at := func(v string) time.Time {
			x, _ := time.ParseInLocation("2006-01-02 15:04", v, loc)
			return x
		}
		clock.Set(at("2026-09-30 09:00"))
		c := newCase(t, s)
		paused := newCase(t, s)
		if _, err := s.Act(ctx, paused.ID, Register, Actor{ID: "c", Role: Dispatcher}, Args{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Act(ctx, paused.ID, Suspend, Actor{ID: "c", Role: Dispatcher}, Args{Reason: "等待业主"}); err != nil {
			t.Fatal(err)
		}
		cal := testCalendar(t)
		var levels []string
		for _, now := range []string{"2026-10-05 12:00", "2026-10-09 18:37", "2026-10-09 20:00", "2026-10-10 09:01", "2026-10-16 09:00", "2026-10-20 09:00"} {
			raised, err := s.Escalate(ctx, cal, at(now))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range raised {
				if r.ID == paused.ID {
					t.Fatalf("a suspended case escalated at %s", now)
				}
				levels = append(levels, fmt.Sprintf("%s:%d", now, r.Escalation))
			}
		}
		want := "[2026-10-09 18:37:1 2026-10-10 09:01:2 2026-10-16 09:00:3]"
		if fmt.Sprint(levels) != want {
			t.Fatalf("escalations %v, want %s", levels, want)
		}
		rows, _ := s.Audit(ctx, c.ID)
		if len(rows) != 4 || rows[3].Action != "escalate" || rows[3].Escalation != 3 || rows[3].Note == "" {
			t.Fatalf("audit %+v", rows)
		}
	})
}

func TestConcurrentActionsOneWins(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, _ *fakeClock) {
		ctx := context.Background()
		c := newCase(t, s)
		var wg sync.WaitGroup
		var ok, refused int
		var mu sync.Mutex
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Act(ctx, c.ID, Register, Actor{ID: "c", Role: Dispatcher}, Args{})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if errors.Is(err, ErrTransition) {
					refused++
				} else {
					t.Errorf("unexpected: %v", err)
				}
			}()
		}
		wg.Wait()
		rows, _ := s.Audit(ctx, c.ID)
		if ok != 1 || refused != 7 || len(rows) != 2 {
			t.Fatalf("%d registered, %d refused, %d audit rows; want 1, 7, 2", ok, refused, len(rows))
		}
	})
}

func TestDashboardFigures(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, clock *fakeClock) {
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)) // a Monday
		centre := Actor{ID: "c", Role: Dispatcher}
		mk := func(grid string) Case {
			c, err := s.Create(ctx, Case{Source: "hotline", Category: "environment", Title: "t", Grid: grid, Priority: 3, LimitDays: 3}, centre, "")
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		// G1: registered at once, closed, rated 5. G1: registered two days later, open.
		// G2: rejected at once. G2: closed, rated 2 (reopened), then closed and rated 4.
		a, b, c2, d := mk("G1"), mk("G1"), mk("G2"), mk("G2")
		must := func(_ Case, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		worker := Actor{ID: "w", Role: GridWorker}
		must(s.Act(ctx, a.ID, Register, centre, Args{}))
		must(s.Act(ctx, a.ID, Resolve, worker, Args{}))
		must(s.Act(ctx, a.ID, Verify, centre, Args{}))
		must(s.Act(ctx, a.ID, Evaluate, centre, Args{Rating: 5}))
		must(s.Act(ctx, c2.ID, Reject, centre, Args{Reason: "不属实"}))
		must(s.Act(ctx, d.ID, Register, centre, Args{}))
		must(s.Act(ctx, d.ID, Resolve, worker, Args{}))
		must(s.Act(ctx, d.ID, Verify, centre, Args{}))
		must(s.Act(ctx, d.ID, Evaluate, centre, Args{Rating: 2})) // reopened
		must(s.Act(ctx, d.ID, Resolve, worker, Args{}))
		must(s.Act(ctx, d.ID, Verify, centre, Args{}))
		must(s.Act(ctx, d.ID, Evaluate, centre, Args{Rating: 4}))
		clock.Set(time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)) // two working days later
		must(s.Act(ctx, b.ID, Register, centre, Args{}))

		f, err := s.Figures(ctx, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Response: a, c2, d in time, b late: 3/4. Resolution: a and d of a, b, d: 2/3. Satisfaction: a=5, d=4 (last rating): 2/2.
		if f.Cases != 4 || f.ResponseRate != 0.75 || f.ResolutionRate != 2.0/3 || f.SatisfactionRate != 1 || f.Evaluations != 2 {
			t.Fatalf("figures %+v", f)
		}
		if f.ByState["evaluated"] != 2 || f.ByState["registered"] != 1 || f.ByState["rejected"] != 1 || f.OpenByEscalation[0] != 1 {
			t.Fatalf("counts %+v", f)
		}
		g2, _ := s.Figures(ctx, f.From, f.To, []string{"G2"})
		if g2.Cases != 2 || g2.ResolutionRate != 1 || len(g2.ByGrid) != 1 {
			t.Fatalf("G2 figures %+v", g2)
		}
	})
}

func TestSeedMakesABelievableHistory(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, _ *fakeClock) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
		if err := Seed(ctx, s, SeedOptions{Closed: 200, Open: 20, Grids: []string{"G1", "G2", "G3"}, Now: now, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		f, err := s.Figures(ctx, now.AddDate(-1, 0, -10), now.Add(time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		done := f.ByState["closed"] + f.ByState["evaluated"]
		if f.Cases != 220 || done < 200 || done > 215 {
			t.Fatalf("cases %d, closed or evaluated %d; want 220 and about 200", f.Cases, done)
		}
		if f.ResponseRate < 0.9 || f.ResponseRate > 0.995 || f.SatisfactionRate < 0.75 || f.SatisfactionRate > 0.99 || f.Evaluations < 120 {
			t.Fatalf("rates not believable: %+v", f)
		}
		// History is not news: nothing of it is in the outbox (event
		// stream, webhook); the departments are the users' own names.
		var published int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&published); err != nil || published != 0 {
			t.Errorf("seeding published %d outbox messages (%v), want none", published, err)
		}
		var depts []string
		rows, err := s.db.Query(`SELECT DISTINCT assignee FROM cases WHERE assignee <> '' AND assignee NOT LIKE 'worker-%' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d string
			_ = rows.Scan(&d)
			depts = append(depts, d)
		}
		rows.Close()
		if fmt.Sprint(depts) != "[housing law_enforcement legal police property]" {
			t.Errorf("seeded departments %v, want the department names users carry", depts)
		}
		// Started again on the same store: the history is kept, not doubled.
		if err := Seed(ctx, s, SeedOptions{Closed: 200, Open: 20, Grids: []string{"G1"}, Now: now, Seed: 7}); !errors.Is(err, ErrSeeded) {
			t.Errorf("seeding a store with cases: %v, want ErrSeeded", err)
		}
		if n, _ := s.Count(ctx); n != 220 {
			t.Errorf("%d cases after seeding twice, want 220", n)
		}
	})
}

// TestSQLiteAcknowledgesDurably: an acknowledged event survives a power
// failure only if every commit reaches the disk (synchronous=FULL).
func TestSQLiteAcknowledgesDurably(t *testing.T) {
	s, err := Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "cases.db"), testCalendar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode int
	if err := s.db.QueryRow("PRAGMA synchronous").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 { // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
		t.Fatalf("PRAGMA synchronous = %d, want 2 (FULL)", mode)
	}
}
