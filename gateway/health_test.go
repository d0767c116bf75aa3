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
// offline (not_found), one where nothing listens offline (refused), one
// that takes the connection and never answers offline (timeout). The
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
		"h-hang":    "rtsp://" + hangingCamera(t) + "/cam1",
	}
	for id, u := range cams {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": true,
			"streams": map[string]string{"main": u}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	want := map[string][2]string{"h-good": {"online", ""}, "h-wrong": {"offline", "unauthorized"},
		"h-missing": {"offline", "not_found"}, "h-nothing": {"offline", "refused"}, "h-hang": {"offline", "timeout"}}
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

// hangingCamera is an address that takes TCP connections and never
// answers (a camera whose firmware hung): it is closed with the test.
func hangingCamera(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read by nobody: held open
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestPulledCamerasTellNoMediaFromFrozen: a camera that answers DESCRIBE
// and PLAY and sends nothing is offline (no_media) when pulled, one whose
// frames stop while its session lives is offline (frozen); after the
// pulls end their verdict stands although probes find both answering
// DESCRIBE, until a pull gets frames again (online, live false once it
// ends).
func TestPulledCamerasTellNoMediaFromFrozen(t *testing.T) {
	g := startGateway(t, "SHARPEYES_HEALTH_INTERVAL=1s", "SHARPEYES_HEALTH_TIMEOUT=500ms")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for i, id := range []string{"p-silent", "p-frozen"} {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": true,
			"streams": map[string]string{"main": fleet.URL(i+1, false)}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	eventually(t, 20*time.Second, "both probed online", func() bool {
		return api.state("p-silent") == "online" && api.state("p-frozen") == "online"
	})
	if err := fleet.SetStalled(1, true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, releaseSilent, err := g.manager.Acquire(ctx, "p-silent", "main")
	if err != nil {
		t.Fatal(err)
	}
	_, releaseFrozen, err := g.manager.Acquire(ctx, "p-frozen", "main")
	if err != nil {
		t.Fatal(err)
	}
	statusOf := func(id string) map[string]any {
		_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
		return st
	}
	eventually(t, 20*time.Second, "the silent camera offline (no_media) while pulled", func() bool {
		st := statusOf("p-silent")
		return st["state"] == "offline" && st["reason"] == "no_media" && st["live"] == true
	})
	eventually(t, 20*time.Second, "the other camera online while pulled", func() bool {
		st := statusOf("p-frozen")
		return st["state"] == "online" && st["live"] == true
	})
	if err := fleet.SetStalled(2, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the camera frozen while pulled", func() bool {
		st := statusOf("p-frozen")
		return st["state"] == "offline" && st["reason"] == "frozen"
	})
	releaseSilent()
	releaseFrozen()
	eventually(t, 20*time.Second, "the pulls ended", func() bool {
		return statusOf("p-silent")["live"] == false && statusOf("p-frozen")["live"] == false
	})
	// Probes (every second) find both answering DESCRIBE: the verdicts stand.
	probedAt := statusOf("p-silent")["probed"]
	eventually(t, 20*time.Second, "a probe after the pulls", func() bool { return statusOf("p-silent")["probed"] != probedAt })
	for id, why := range map[string]string{"p-silent": "no_media", "p-frozen": "frozen"} {
		if st := statusOf(id); st["state"] != "offline" || st["reason"] != why {
			t.Fatalf("%s after its pull and a probe: %v, want offline (%s)", id, st, why)
		}
	}
	// Mended: a pull with frames is online again, and stays so after it.
	if err := fleet.SetStalled(2, false); err != nil {
		t.Fatal(err)
	}
	_, release, err := g.manager.Acquire(ctx, "p-frozen", "main")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the mended camera online", func() bool { return statusOf("p-frozen")["state"] == "online" })
	release()
	eventually(t, 20*time.Second, "the mended camera online after its pull", func() bool {
		st := statusOf("p-frozen")
		return st["state"] == "online" && st["live"] == false
	})
}
