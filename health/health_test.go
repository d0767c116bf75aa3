package health

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"sharpeyes/sqlstore/sqltest"
)

var cst = time.FixedZone("CST", 8*3600)

func at(day int, hh, mm int) time.Time { return time.Date(2026, 12, day, hh, mm, 0, 0, cst) }

// TestRateToTheMinute: a camera unknown until 00:30, then online, offline
// 02:00–03:15 (75 min) and from 22:50 to 00:10 the next day (crossing
// midnight): the 3rd has 30 minutes unknown, 145 offline and a rate of
// (1440-30-145)/(1440-30); the 4th starts with 10 minutes offline.
func TestRateToTheMinute(t *testing.T) {
	cs := []Change{
		{At: at(3, 2, 0), State: Offline, Reason: "timeout"},
		{At: at(3, 0, 30), State: Online},
		{At: at(3, 3, 15), State: Online},
		{At: at(3, 22, 50), State: Offline, Reason: "refused"},
		{At: at(4, 0, 10), State: Online},
	}
	day := Tally(cs, at(3, 0, 0), at(4, 0, 0))
	if day.Unknown != 30*time.Minute || day.Offline != (75+70)*time.Minute || day.Online != (1440-30-145)*time.Minute {
		t.Fatalf("the 3rd: %+v", day)
	}
	if r, ok := day.Rate(); !ok || r != float64(1440-30-145)/float64(1440-30) {
		t.Fatalf("rate %v %v", r, ok)
	}
	days := Days(cs, at(3, 12, 0), at(5, 0, 0), cst)
	if len(days) != 2 || days[0].Offline != 70*time.Minute || days[0].Online != (720-70)*time.Minute ||
		days[1].Offline != 10*time.Minute || days[1].Online != (1440-10)*time.Minute || days[1].Unknown != 0 {
		t.Fatalf("days %+v", days)
	}
	if _, ok := (Share{Unknown: time.Hour}).Rate(); ok {
		t.Fatal("a rate from nothing known")
	}
	cell := day.Add(days[1])
	if cell.Online+cell.Offline+cell.Unknown != 48*time.Hour {
		t.Fatalf("two camera-days add to %v", cell.Online+cell.Offline+cell.Unknown)
	}
}

func TestStoreKeepsChanges(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *Store{"sqlite": sqliteStore, "postgres": postgresStore} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			rec := func(c Change, want bool) {
				t.Helper()
				got, err := s.Record(ctx, c)
				if err != nil || got != want {
					t.Fatalf("record %+v: %v %v, want %v", c, got, err, want)
				}
			}
			rec(Change{CameraID: "c1", At: at(3, 0, 30), State: Online}, true)
			rec(Change{CameraID: "c1", At: at(3, 1, 0), State: Online}, false) // a repeat
			rec(Change{CameraID: "c1", At: at(3, 2, 0), State: Offline, Reason: "timeout"}, true)
			rec(Change{CameraID: "c1", At: at(3, 2, 5), State: Offline, Reason: "refused"}, true) // another reason
			rec(Change{CameraID: "c1", At: at(3, 1, 30), State: Online}, false)                   // older than the last
			rec(Change{CameraID: "c1", At: at(3, 3, 15), State: Online, Reason: "stray"}, true)
			rec(Change{CameraID: "c2", At: at(3, 0, 0), State: Offline, Reason: "unauthorized"}, true)
			if _, err := s.Record(ctx, Change{CameraID: "c1", At: at(3, 4, 0), State: "purple"}); !errors.Is(err, ErrBadState) {
				t.Fatalf("a bad state: %v", err)
			}
			got, err := s.Changes(ctx, "c1", at(3, 2, 1), at(4, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[0].Reason != "timeout" || got[1].Reason != "refused" || got[2].State != Online || got[2].Reason != "" {
				t.Fatalf("changes %+v", got)
			}
			all, _ := s.Changes(ctx, "c1", at(3, 0, 0), at(4, 0, 0))
			sh := Tally(all, at(3, 0, 0), at(4, 0, 0))
			if sh.Unknown != 30*time.Minute || sh.Offline != 75*time.Minute {
				t.Fatalf("tally from the store %+v", sh)
			}
			// The whole street in one pass: each camera led by the change in
			// force at from.
			h, err := s.History(ctx, at(3, 2, 1), at(4, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 2 || len(h["c1"]) != 3 || h["c1"][0].Reason != "timeout" || len(h["c2"]) != 1 || h["c2"][0].Reason != "unauthorized" {
				t.Fatalf("history %+v", h)
			}
		})
	}
}

func sqliteStore(t *testing.T) *Store {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func postgresStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), sqltest.DB(t, "health_test"), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
