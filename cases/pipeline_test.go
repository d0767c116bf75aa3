package cases

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sharpeyes/events"
)

func pipeline(t *testing.T, s *Store) *Pipeline {
	db, pg := s.DB()
	es, err := events.NewStore(context.Background(), db, pg, events.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	if pg {
		for _, tbl := range []string{"events", "incidents"} {
			if _, err := db.Exec("DELETE FROM " + tbl); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := func(v float64) *float64 { return &v }
	places := map[string]Place{
		"camA": {Name: "瘦西湖路东口", Grid: "G1", Lat: f(32.4105), Lon: f(119.4188)},
		"camB": {Name: "瘦西湖路西口", Grid: "G1", Lat: f(32.4110), Lon: f(119.4200)}, // ~120 m from camA
		"camC": {Name: "远处", Grid: "G1", Lat: f(32.4200), Lon: f(119.4300)},     // ~1.5 km
	}
	return &Pipeline{Events: es, Cases: s, Policy: DefaultPolicy(), Loc: shanghai(t),
		Place: func(id string) Place { return places[id] }}
}

func event(cam, kind string, at time.Time, id string) events.Event {
	e := events.Event{Source: "isapi", SourceEventID: id, CameraID: cam, Kind: kind, Phase: events.PhaseStart, Time: at}
	_ = e.Normalize(at)
	return e
}

func TestPolicyOpensJoinsAndReconciles(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, _ *fakeClock) {
		ctx := context.Background()
		p := pipeline(t, s)
		day := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)    // 11:00 in Yangzhou
		night := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC) // 23:00
		out, err := p.Intake(ctx, event("camA", events.Tamper, day, "t1"), []string{"G1"}, "")
		if err != nil || out.Incident.CaseID == "" {
			t.Fatalf("tamper opened no case: %+v %v", out, err)
		}
		c, err := s.Get(ctx, out.Incident.CaseID)
		if err != nil || c.State != Received || c.Category != "device_tamper" || c.IncidentID != out.Incident.ID || c.Grid != "G1" {
			t.Fatalf("case %+v %v", c, err)
		}
		// A tamper 120 m away in the same grid joins it; 1.5 km away opens another.
		near, _ := p.Intake(ctx, event("camB", events.Tamper, day, "t2"), []string{"G1"}, "")
		far, _ := p.Intake(ctx, event("camC", events.Tamper, day, "t3"), []string{"G1"}, "")
		if near.Incident.CaseID != c.ID || far.Incident.CaseID == c.ID || far.Incident.CaseID == "" {
			t.Fatalf("join: near %s far %s, first %s", near.Incident.CaseID, far.Incident.CaseID, c.ID)
		}
		rows, _ := s.Audit(ctx, c.ID)
		if len(rows) != 2 || rows[1].Action != "join" {
			t.Fatalf("audit of the joined case: %+v", rows)
		}
		// Motion never; intrusion by day no, by night yes.
		for _, tc := range []struct {
			cam, kind string
			at        time.Time
			want      bool
		}{{"camA", events.Motion, night, false}, {"camA", events.Intrusion, day, false}, {"camC", events.Intrusion, night, true}} {
			out, err := p.Intake(ctx, event(tc.cam, tc.kind, tc.at, fmt.Sprint(tc.kind, tc.at.Hour())), []string{"G1"}, "")
			if err != nil || (out.Incident.CaseID != "") != tc.want {
				t.Errorf("%s at %v: case %q %v, want a case: %v", tc.kind, tc.at, out.Incident.CaseID, err, tc.want)
			}
		}
		// A crash between the event and its case: Reconcile opens it, once.
		rec, err := p.Events.Record(ctx, event("camA", events.FireSmoke, day, "f1"), []string{"G1"}, "", day)
		if err != nil || !rec.New || rec.Incident.CaseID != "" {
			t.Fatalf("record: %+v %v", rec, err)
		}
		for i := 0; i < 2; i++ {
			if _, err := p.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
		}
		in, _ := p.Events.Incident(ctx, rec.Incident.ID)
		if in.CaseID != "C-"+rec.Incident.ID {
			t.Fatalf("reconciled incident has case %q", in.CaseID)
		}
		all, _ := s.List(ctx, Filter{Category: "fire_safety", Escalation: -1})
		if len(all) != 1 {
			t.Fatalf("%d fire cases after reconciling twice, want 1", len(all))
		}
	})
}
