package gateway

import (
	"context"
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/health"
)

// TestCamerasNobodyWatchesAreProbed: with health.interval 1 s, on-demand
// cameras nobody watches reach their state within two intervals, as
// /status tells it: a good camera online, one registered with a wrong
// password offline (unauthorized), one whose path the camera lacks
// offline (not_found), one where nothing listens offline (refused). The
// probes play nothing at the camera; the password is in no answer; a
// camera that comes back is online again.
func TestCamerasNobodyWatchesAreProbed(t *testing.T) {
	g := startGateway(t, "SHARPEYES_HEALTH_INTERVAL=1s", "SHARPEYES_HEALTH_TIMEOUT=500ms")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2, User: "admin", Pass: "Health-Pass-3"})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	nothing := "rtsp://" + closed.Addr().String() + "/cam1"
	closed.Close()
	good := fleet.URL(1, false)
	cams := map[string]string{
		"h-good":    good,
		"h-wrong":   strings.Replace(good, "Health-Pass-3", "Wrong-Pass-9", 1),
		"h-missing": strings.Replace(good, "/cam1", "/cam9", 1),
		"h-nothing": nothing,
	}
	for id, u := range cams {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": true,
			"streams": map[string]string{"main": u}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	want := map[string][2]string{"h-good": {"online", ""}, "h-wrong": {"offline", "unauthorized"},
		"h-missing": {"offline", "not_found"}, "h-nothing": {"offline", "refused"}}
	start := time.Now()
	eventually(t, 30*time.Second, "every camera's probed state", func() bool {
		for id, w := range want {
			_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
			if st["state"] != w[0] || (w[1] != "" && st["reason"] != w[1]) || st["probed"] == nil {
				return false
			}
		}
		return true
	})
	t.Logf("every camera's state known %v after they were added (interval 1 s)", time.Since(start).Round(time.Millisecond))
	code, raw := api.do("GET", "/api/v1/cameras?include=status", "", nil, true)
	if code != 200 || strings.Contains(string(raw), "Health-Pass-3") || strings.Contains(string(raw), "Wrong-Pass-9") {
		t.Fatalf("list with status: %d, a password shown: %v", code, strings.Contains(string(raw), "Pass-"))
	}
	if n := fleet.Sessions(0); n != 0 {
		t.Fatalf("%d playing sessions at the cameras: a probe must not play", n)
	}
	// The camera refuses for a while, then comes back.
	fleet.SetRefuse(true)
	eventually(t, 30*time.Second, "the good camera refusing", func() bool {
		_, st := api.json("GET", "/api/v1/cameras/h-good/status", nil)
		return st["state"] == "offline" && st["reason"] == "refused"
	})
	fleet.SetRefuse(false)
	eventually(t, 30*time.Second, "the good camera back", func() bool { return api.state("h-good") == "online" })

	// The history kept each change once: online, offline (refused), online;
	// the wrong password's camera offline (unauthorized) since its probe.
	db, pg := dbOf(g)
	store, err := health.Open(context.Background(), db, pg)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	eventually(t, 10*time.Second, "the changes in the history", func() bool {
		cs, err := store.Changes(context.Background(), "h-good", start.Add(-time.Minute), time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, c := range cs {
			parts = append(parts, string(c.State)+"/"+c.Reason)
		}
		got = strings.Join(parts, " ")
		return got == "online/ offline/refused online/"
	})
	cs, _ := store.Changes(context.Background(), "h-wrong", start.Add(-time.Minute), time.Now().Add(time.Minute))
	if len(cs) != 1 || cs[0].State != health.Offline || cs[0].Reason != "unauthorized" {
		t.Fatalf("the wrong password's history %+v", cs)
	}
	sh := health.Tally(cs, start, time.Now())
	if r, ok := sh.Rate(); !ok || r != 0 || sh.Unknown <= 0 {
		t.Fatalf("its rate %v %v (%+v): never online, unknown until its first probe", r, ok, sh)
	}
}

// dbOf is the gateway's case store database.
func dbOf(g *Gateway) (*sql.DB, bool) { return g.cases.DB() }
