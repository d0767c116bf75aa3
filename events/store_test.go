package events

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"sharpeyes/sqlstore/sqltest"
)

func stores(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		defer db.Close()
		s, err := NewStore(context.Background(), db, false, DefaultRules())
		if err != nil {
			t.Fatal(err)
		}
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		s := postgresStore(t)
		for _, tbl := range []string{"events", "incidents"} {
			if _, err := s.db.Exec("DELETE FROM " + tbl); err != nil {
				t.Fatal(err)
			}
		}
		f(t, s)
	})
}

// postgresStore is a store in a PostgreSQL schema of its own, dropped at
// the test's end (skipped without a server).
func postgresStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(context.Background(), sqltest.DB(t, "events_test"), true, DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

func ev(cam, kind, phase string, at time.Time, id string) Event {
	e := Event{Source: "isapi", SourceEventID: id, CameraID: cam, Kind: kind, Phase: phase, Time: at}
	_ = e.Normalize(at)
	return e
}

func count(t *testing.T, s *Store, cam, kind string) []Incident {
	t.Helper()
	ins, err := s.Incidents(context.Background(), cam, kind, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

func TestBurstOfRepeatsMakesOneIncidentAndRetriesAreIdempotent(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := 0; i < 1000; i++ {
			if _, err := s.Record(ctx, ev("cam1", Motion, PhaseStart, t0.Add(time.Duration(i)*100*time.Millisecond), fmt.Sprint("m", i)), []string{"G1"}, "", t0); err != nil {
				t.Fatal(err)
			}
		}
		ins := count(t, s, "cam1", Motion)
		if len(ins) != 1 || ins[0].Count != 1000 || ins[0].State != Open {
			t.Fatalf("%d incidents, first %+v; want one open incident of 1000", len(ins), ins)
		}
		// The same event again changes nothing.
		out, err := s.Record(ctx, ev("cam1", Motion, PhaseStart, t0, "m0"), nil, "", t0)
		if err != nil || !out.Duplicate || out.Incident.ID != ins[0].ID {
			t.Fatalf("retry: %+v %v", out, err)
		}
		if n, _ := s.EventCount(ctx); n != 1000 {
			t.Fatalf("%d events stored, want 1000", n)
		}
		if ins := count(t, s, "cam1", Motion); ins[0].Count != 1000 {
			t.Fatalf("a retry changed the count to %d", ins[0].Count)
		}
		// End, then a start within the merge window reopens; after it, a new incident.
		_, _ = s.Record(ctx, ev("cam1", Motion, PhaseEnd, t0.Add(2*time.Minute), "end1"), nil, "", t0)
		out, _ = s.Record(ctx, ev("cam1", Motion, PhaseStart, t0.Add(5*time.Minute), "again"), nil, "", t0)
		if !out.Reopened || out.New || out.Incident.ID != ins[0].ID {
			t.Fatalf("start in the merge window: %+v", out)
		}
		_, _ = s.Record(ctx, ev("cam1", Motion, PhaseEnd, t0.Add(6*time.Minute), "end2"), nil, "", t0)
		out, _ = s.Record(ctx, ev("cam1", Motion, PhaseStart, t0.Add(30*time.Minute), "later"), nil, "", t0)
		if !out.New || out.Incident.ID == ins[0].ID {
			t.Fatalf("start after the merge window reused the old incident: %+v", out)
		}
		// Stale: no end for the kind's stale time closes it.
		if _, err := s.Tick(ctx, t0.Add(36*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if in, _ := s.Incident(ctx, out.Incident.ID); in.State != Closed {
			t.Fatalf("stale motion incident is %s", in.State)
		}
	})
}

func TestFlappingCameraMakesOneOfflineIncident(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// A short blip does not count.
		_, _ = s.Record(ctx, ev("cam2", Offline, PhaseStart, t0, "b0"), nil, "", t0)
		_, _ = s.Record(ctx, ev("cam2", Offline, PhaseEnd, t0.Add(10*time.Second), "b1"), nil, "", t0)
		if _, err := s.Tick(ctx, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ins := count(t, s, "cam2", Offline); len(ins) != 0 {
			t.Fatalf("a 10 s blip made %d incidents", len(ins))
		}
		// Then it flaps: off 10 s, on 10 s, for two minutes.
		opened := 0
		at := t0.Add(3 * time.Minute)
		for i := 0; i < 6; i++ {
			out, _ := s.Record(ctx, ev("cam2", Offline, PhaseStart, at, fmt.Sprint("f", i, "s")), nil, "", at)
			if out.New {
				opened++
			}
			_, _ = s.Record(ctx, ev("cam2", Offline, PhaseEnd, at.Add(10*time.Second), fmt.Sprint("f", i, "e")), nil, "", at)
			at = at.Add(20 * time.Second)
			_, _ = s.Tick(ctx, at)
		}
		ins := count(t, s, "cam2", Offline)
		if len(ins) != 1 || opened != 1 {
			t.Fatalf("flapping made %d incidents (opened %d times), want one", len(ins), opened)
		}
	})
}

func TestSiteOutageMakesOneIncident(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			cam := fmt.Sprint("site-cam", i)
			_, _ = s.Record(ctx, ev(cam, Offline, PhaseStart, t0.Add(time.Duration(i)*5*time.Second), "o"+cam), []string{"G" + cam}, "10.1.2.3", t0)
		}
		_, _ = s.Record(ctx, ev("elsewhere", Offline, PhaseStart, t0, "oe"), nil, "10.9.9.9", t0)
		opened, err := s.Tick(ctx, t0.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(opened) != 2 {
			t.Fatalf("%d incidents opened, want 2 (one per site)", len(opened))
		}
		var site Incident
		for _, in := range opened {
			if in.Site == "10.1.2.3" {
				site = in
			}
		}
		if len(site.Cameras) != 5 || len(site.Grids) != 5 {
			t.Fatalf("site incident %+v, want 5 cameras and their grids", site)
		}
	})
}
