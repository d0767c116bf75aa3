package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"math"
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

// TestChromiumShowsEveryCamerasHealth: five probed cameras in two cells
// of the demo street, one of them known from the history to have been
// down since 30 hours ago. In Chromium the dispatcher's tree shows each
// camera's dot as /status gives it; 设备在线率 draws the 30 days the API
// answers (a bar per known day at its rate) and lists the offline
// cameras longest first, the one from the history first; the grid
// worker's phone lists exactly the offline cameras of his cell.
func TestChromiumShowsEveryCamerasHealth(t *testing.T) {
	g, admin := demoStreet(t, "SHARPEYES_HEALTH_INTERVAL=1s", "SHARPEYES_HEALTH_TIMEOUT=500ms")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2, User: "admin", Pass: "Health-Pass-3"})
	defer fleet.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	nothing := "rtsp://" + closed.Addr().String() + "/cam1"
	closed.Close()
	good1, good2 := fleet.URL(1, false), fleet.URL(2, false)
	latA, lonA := inside(t, g.Grids(), cellA)
	latB, lonB := inside(t, g.Grids(), cellB)
	type cam struct{ url, cell string }
	cams := map[string]cam{
		"hc-a-good":    {good1, cellA},
		"hc-a-wrong":   {strings.Replace(good1, "Health-Pass-3", "Wrong-Pass-9", 1), cellA},
		"hc-a-refused": {nothing, cellA},
		"hc-b-good":    {good2, cellB},
		"hc-b-missing": {strings.Replace(good2, "/cam2", "/cam9", 1), cellB},
	}
	// The history before this gateway: hc-a-wrong online three days ago,
	// down since 30 hours ago; hc-a-good online since three days ago.
	db, pg := dbOf(g)
	store, err := health.Open(context.Background(), db, pg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range []health.Change{
		{CameraID: "hc-a-good", At: now.Add(-72 * time.Hour), State: health.Online},
		{CameraID: "hc-a-wrong", At: now.Add(-72 * time.Hour), State: health.Online},
		{CameraID: "hc-a-wrong", At: now.Add(-30 * time.Hour), State: health.Offline, Reason: "unauthorized"},
	} {
		if _, err := store.Record(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	for id, c := range cams {
		lat, lon := latA, lonA
		if c.cell == cellB {
			lat, lon = latB, lonB
		}
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": "摄像机 " + id, "on_demand": true,
			"location": map[string]any{"lat": lat, "lon": lon}, "streams": map[string]string{"main": c.url}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	eventually(t, 30*time.Second, "every camera probed", func() bool {
		for id := range cams {
			if st := status(t, admin, id); st["probed"] == nil || st["state"] == "unknown" {
				return false
			}
		}
		return true
	})
	dispatcherPw := addUser(t, admin, "hc-dispatcher", "dispatcher", []string{street}, "")
	workerPw := addUser(t, admin, "hc-worker", "grid_worker", []string{cellA}, "")
	var res struct {
		Tree []struct {
			ID, API, Reason, Dot, Title string
		}
		APIDays []struct {
			Date string
			Rate *float64
		} `json:"apiDays"`
		Bars []struct {
			Date  string
			Rate  *float64
			Cls   string
			Title string
		}
		APIOffline []string `json:"apiOffline"`
		Offline    []struct {
			ID    string
			Cells []string
		}
		Today string
		Phone []struct {
			ID, Text string
		}
		PhoneHead string `json:"phoneHead"`
		Error     string
		Page      string
	}
	runE2E(t, 90*time.Second, []string{"SE_USER=hc-dispatcher", "SE_PASS=" + dispatcherPw, "SE_WORKER=hc-worker", "SE_WORKER_PASS=" + workerPw,
		"SE_SHOTS=" + screenshots(t)}, &res, nil, e2eScript(t, "health.mjs"), admin.base+"/")
	if res.Error != "" {
		t.Fatalf("health.mjs: %s (the page: %s)", res.Error, res.Page)
	}
	// The tree: every camera, each dot the API's state.
	if len(res.Tree) != len(cams) {
		t.Fatalf("tree rows %+v", res.Tree)
	}
	for _, r := range res.Tree {
		if r.Dot != "dot "+r.API || (r.API == "offline" && r.Reason == "") {
			t.Errorf("tree row %+v", r)
		}
		if r.ID == "hc-a-good" && r.API != "online" || r.ID == "hc-a-refused" && r.Reason != "refused" {
			t.Errorf("tree row %+v", r)
		}
	}
	// The plot: the API's 30 days, a bar each at the API's rate.
	if len(res.Bars) != 30 || len(res.APIDays) != 30 {
		t.Fatalf("%d bars, %d days", len(res.Bars), len(res.APIDays))
	}
	known := 0
	for i, b := range res.Bars {
		d := res.APIDays[i]
		// Today's rate moves while it is read (the page and the test ask
		// moments apart); the days before are fixed.
		today := i == len(res.Bars)-1
		if b.Date != d.Date || (b.Rate == nil) != (d.Rate == nil) || b.Rate != nil && !today && *b.Rate != *d.Rate ||
			b.Rate != nil && today && math.Abs(*b.Rate-*d.Rate) > 0.05 {
			t.Errorf("bar %d %+v, the API's day %+v", i, b, d)
		}
		if d.Rate != nil {
			known++
			if !strings.Contains(b.Title, d.Date) || !strings.Contains(b.Cls, "bar") {
				t.Errorf("bar %+v", b)
			}
		}
	}
	if known < 2 || known > 4 {
		t.Errorf("%d days with a rate: the history spans three days and today", known)
	}
	// Offline, longest first: the one down since the history's 30 hours first.
	var shown []string
	for _, r := range res.Offline {
		shown = append(shown, r.ID)
	}
	if strings.Join(shown, ",") != strings.Join(res.APIOffline, ",") || len(shown) != 3 || shown[0] != "hc-a-wrong" {
		t.Errorf("offline shown %v, the API's %v", shown, res.APIOffline)
	}
	if len(res.Offline) > 0 && !strings.Contains(strings.Join(res.Offline[0].Cells, " "), "用户名或密码不对") {
		t.Errorf("the first offline row %v says no reason", res.Offline[0].Cells)
	}
	// The phone: exactly the worker's cell's offline cameras, longest first.
	var phone []string
	for _, r := range res.Phone {
		phone = append(phone, r.ID)
	}
	if strings.Join(phone, ",") != "hc-a-wrong,hc-a-refused" {
		t.Errorf("the worker's phone lists %v (%q), want hc-a-wrong, hc-a-refused", phone, res.PhoneHead)
	}
	t.Logf("today %s; phone %q; offline %v", res.Today, res.PhoneHead, shown)
}

// TestRepairLoopOpensOneCaseForASite: three probed cameras of one camsim
// (one stream host: one site) start refusing; the outage past
// health.fault_after opens one device_fault case for the three, registered
// and dispatched to the street's maintainer named in the demo grids, with
// the reason; once they have been back for health.back_after the case
// records the return and the maintainer is told to close it.
func TestRepairLoopOpensOneCaseForASite(t *testing.T) {
	g, admin := demoStreet(t, "SHARPEYES_HEALTH_INTERVAL=1s", "SHARPEYES_HEALTH_TIMEOUT=500ms", "SHARPEYES_HEALTH_FAULT_AFTER=3s",
		"SHARPEYES_HEALTH_BACK_AFTER=2s", "SHARPEYES_EVENTS_MIN_OUTAGE=1s", "SHARPEYES_EVENTS_MERGE_WINDOW=2s")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 3})
	defer fleet.Close()
	lat, lon := inside(t, g.Grids(), cellA)
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("rp-%d", i)
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": "运维 " + id, "on_demand": true,
			"location": map[string]any{"lat": lat + float64(i)*0.0001, "lon": lon}, "streams": map[string]string{"main": fleet.URL(i, false)}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	eventually(t, 20*time.Second, "three cameras probed online", func() bool {
		return admin.state("rp-1") == "online" && admin.state("rp-2") == "online" && admin.state("rp-3") == "online"
	})
	st, _ := g.Grids().Get(street)
	maintainer := st.Roles.Maintainer
	if maintainer == "" {
		t.Fatal("the demo street names no maintainer")
	}
	fleet.SetRefuse(true)
	var cs map[string]any
	eventually(t, 60*time.Second, "the site's fault case", func() bool {
		_, out := admin.json("GET", "/api/v1/cases?category=device_fault", nil)
		items, _ := out["items"].([]any)
		if len(items) == 0 {
			return false
		}
		if len(items) > 1 {
			t.Fatalf("%d device_fault cases for one site: %v", len(items), items)
		}
		cs = items[0].(map[string]any)
		return cs["state"] == "dispatched"
	})
	desc, _ := cs["description"].(string)
	if cs["assignee"] != maintainer || cs["state"] != "dispatched" || !strings.Contains(desc, "同一站点 3 路摄像机") || strings.Contains(desc, "127.0.0.1") || !strings.Contains(desc, "拒绝连接") {
		t.Fatalf("the fault case %v", cs)
	}
	fleet.SetRefuse(false)
	id := cs["id"].(string)
	eventually(t, 60*time.Second, "the return recorded on the case", func() bool {
		_, out := admin.json("GET", "/api/v1/cases/"+id+"/audit", nil)
		for _, r := range out["items"].([]any) {
			if strings.Contains(fmt.Sprint(r.(map[string]any)["detail"]), "camera_back") {
				return true
			}
		}
		return false
	})
	_, out := admin.json("GET", "/api/v1/cases?category=device_fault", nil)
	if n := len(out["items"].([]any)); n != 1 {
		t.Fatalf("%d device_fault cases after the return", n)
	}
	who := signIn(t, admin.base, maintainer, addUser(t, admin, maintainer, "grid_worker", nil, ""))
	eventually(t, 10*time.Second, "the maintainer told to close", func() bool {
		_, n := who.json("GET", "/api/v1/notifications", nil)
		return strings.Contains(fmt.Sprint(n["items"]), "camera_back")
	})
}
