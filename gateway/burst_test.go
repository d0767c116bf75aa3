package gateway

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
	"sharpeyes/grid"
)

// burstCameras registers n cameras, one in each of the first n level-4
// base cells, on the fleet's streams (round robin), on demand.
func burstCameras(t *testing.T, ix *grid.Index, admin apiClient, fleet *camsim.Fleet, n int) []string {
	t.Helper()
	var cells []string
	for _, c := range ix.Cells() {
		if c.Level == 4 && c.Kind == grid.Base {
			cells = append(cells, c.Code)
		}
	}
	sort.Strings(cells)
	if len(cells) < n {
		t.Fatalf("the demo street has %d base cells, want %d", len(cells), n)
	}
	var ids []string
	for i := 0; i < n; i++ {
		lat, lon := inside(t, ix, cells[i])
		id := fmt.Sprintf("burst%02d", i)
		k := i%fleet.Cameras() + 1
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": "巡查点" + id[5:], "on_demand": true,
			"streams":  map[string]string{"main": fleet.URL(k, false), "sub": fleet.URL(k, true)},
			"location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestChromiumWallThroughAnEventBurst: a dispatcher's 16-tile wall is open
// in Chromium while 5,000 case events arrive in about 10 s (128 camera
// alarms opening cases, and hotline cases taken through the pipeline),
// from a gateway process built as it ships (under -race the gateway takes
// four times as long to record them, and the burst would not be one).
// Every tile still decodes afterwards, every alarm is in the alarm list,
// no batch of alarms switches more tiles than the wall has, and switches
// take spare peer connections. How long the page's longest task is, is
// logged: its 200 ms bar is bench/burst.sh's, not this test's.
func TestChromiumWallThroughAnEventBurst(t *testing.T) {
	script := e2eScript(t, "burst.mjs")
	// The gateway, the simulated cameras and the clients sending the burst
	// run on servers and devices of their own in service; here they share
	// two cores with the browser, so they take what the browser leaves
	// (nice 10) instead of taking turns with its page and video threads.
	gw := serveProcessNice(t, t.TempDir(), 10)
	base, data := gw.base, gw.data
	admin := apiClient{t, base}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	cells, _ := grid.Parse(configs.DemoGrids)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 16})
	defer fleet.Close()
	cams := burstCameras(t, grid.NewIndex(cells), admin, fleet, 32)
	addUser(t, admin, "police-duty", "department", nil, "police")
	pw := addUser(t, admin, "duty", "dispatcher", []string{street}, "")

	// The case store, read beside the gateway (SQLite in WAL mode).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "cases.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var caseEvents int
	var alarms []string
	burst := func(line string, reply io.Writer) {
		if line != "ready" {
			return
		}
		var before int64
		_ = db.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM outbox`).Scan(&before)
		start := time.Now()
		var hotline int
		restore := niceThreads(t, 10) // the browser is running: what starts now is ours
		alarms, hotline = runBurst(t, admin.base, cams, 10*time.Second)
		restore()
		took := time.Since(start)
		_ = db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE seq > ? AND topic LIKE 'case.%'`, before).Scan(&caseEvents)
		t.Logf("burst: %d case events (%d camera alarms, %d hotline cases taken through 7 steps) in %v",
			caseEvents, len(alarms), hotline, took.Round(time.Millisecond))
		msg, _ := json.Marshal(map[string]any{"alarms": alarms, "burst_ms": took.Milliseconds()})
		fmt.Fprintf(reply, "%s\n", msg)
	}
	var res struct {
		TilesBefore        int    `json:"tiles_before"`
		Tiles              int    `json:"tiles"`
		TilesDecoding      int    `json:"tiles_decoding"`
		AlarmsExpected     int    `json:"alarms_expected"`
		AlarmsListed       int    `json:"alarms_listed"`
		AlarmRows          int    `json:"alarm_rows"`
		AlarmMore          string `json:"alarm_more"`
		ProbeMaxMS         int    `json:"probe_max_ms"`
		ProbeN             int    `json:"probe_n"`
		LongtasksSupported bool   `json:"longtasks_supported"`
		Longtasks          int    `json:"longtasks"`
		LongtaskMaxMS      int    `json:"longtask_max_ms"`
		Switches           int    `json:"switches"`
		SwitchLog          []struct {
			At     int `json:"at"`
			Alarms int `json:"alarms"`
			Tiles  int `json:"tiles"`
		} `json:"switch_log"`
		WHEP struct {
			Warm   int `json:"warm"`
			Cold   int `json:"cold"`
			WarmMS struct {
				Median int `json:"median"`
				Max    int `json:"max"`
			} `json:"warm_ms"`
			ColdMS struct {
				Median int `json:"median"`
				Max    int `json:"max"`
			} `json:"cold_ms"`
		} `json:"whep"`
		CSP        []string          `json:"csp"`
		LongFrames []json.RawMessage `json:"long_frames"`
		Error      string            `json:"error"`
	}
	runE2E(t, 150*time.Second, []string{"SE_USER=duty", "SE_PASS=" + pw, "SE_SHOTS=" + screenshots(t)}, &res, burst, script, admin.base+"/?layout=16")
	if res.Error != "" {
		t.Fatalf("burst.mjs: %s", res.Error)
	}
	// bench/burst.sh reads this line: the 200 ms bar on the longest task
	// is a benchmark's (timing on a loaded machine is not a test's).
	t.Logf("page: longest task %d ms (%d over 50 ms), script calls answered within %d ms (%d probes); %d of %d tiles decoding; %d of %d alarms listed (%d rows drawn, %q); %d alarms took a tile; peer connections %d spare, %d new; offer ready in %d ms median, %d longest with a spare, %d / %d new",
		res.LongtaskMaxMS, res.Longtasks, res.ProbeMaxMS, res.ProbeN, res.TilesDecoding, res.Tiles, res.AlarmsListed, res.AlarmsExpected,
		res.AlarmRows, res.AlarmMore, res.Switches, res.WHEP.Warm, res.WHEP.Cold,
		res.WHEP.WarmMS.Median, res.WHEP.WarmMS.Max, res.WHEP.ColdMS.Median, res.WHEP.ColdMS.Max)
	for _, f := range res.LongFrames {
		t.Logf("long frame: %s", f)
	}
	if caseEvents < 5000 {
		t.Errorf("the burst made %d case events, want at least 5,000", caseEvents)
	}
	if !res.LongtasksSupported {
		t.Error("Chromium did not observe long tasks")
	}
	if res.WHEP.Warm == 0 {
		t.Errorf("no tile switch took a spare peer connection (%d made new)", res.WHEP.Cold)
	}
	if res.TilesBefore != 16 || res.Tiles != 16 || res.TilesDecoding != 16 {
		t.Errorf("tiles decoding: %d before, %d of %d after the burst; want all 16", res.TilesBefore, res.TilesDecoding, res.Tiles)
	}
	if res.AlarmsListed != len(alarms) || len(alarms) != 128 {
		t.Errorf("%d of %d alarm cases in the alarm list (want 128)", res.AlarmsListed, len(alarms))
	}
	for _, b := range res.SwitchLog {
		if b.Tiles > 16 {
			t.Errorf("a batch of %d alarms took %d tiles, more than the wall has", b.Alarms, b.Tiles)
		}
	}
	if len(res.CSP) > 0 {
		t.Errorf("content security policy violations: %v", res.CSP)
	}
}

// niceThreads sets every thread of this process to niceness n (Linux
// keeps one per thread; threads started later inherit it) and answers a
// function that puts them back.
func niceThreads(t *testing.T, n int) (restore func()) {
	t.Helper()
	set := func(n int) {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Logf("niceness unchanged: %v", err)
			return
		}
		for _, task := range tasks {
			if tid, err := strconv.Atoi(task.Name()); err == nil {
				_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, n)
			}
		}
	}
	set(n)
	return func() { set(0) }
}

// runBurst sends, evenly over about d: one alarm event per camera and
// kind (each opens a case), and hotline cases each taken through create,
// register, dispatch, accept, start, resolve and verify, from 12
// concurrent clients. It answers the alarm cases' ids and how many
// hotline cases it made.
func runBurst(t *testing.T, base string, cams []string, d time.Duration) ([]string, int) {
	kinds := []string{"tamper", "fire_smoke", "crowd", "object_left"}
	const hotline = 700
	type job struct {
		alarm     string // camera id, or "" for a hotline case
		kind      string
		hotlineID int
	}
	var jobs []job
	for i := 0; i < hotline; i++ {
		jobs = append(jobs, job{hotlineID: i})
	}
	n := 0
	for _, k := range kinds {
		for _, c := range cams {
			// one alarm among every few hotline cases, spread over the burst
			at := (n*len(jobs)/(len(kinds)*len(cams)) + n) % (len(jobs) + 1)
			jobs = append(jobs[:at], append([]job{{alarm: c, kind: k}}, jobs[at:]...)...)
			n++
		}
	}
	cli := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := cli.Do(req)
		if err != nil {
			return 0, map[string]any{"error": err.Error()}
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	var mu sync.Mutex
	var alarmCases []string
	var failures []string
	fail := func(s string) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
		mu.Unlock()
	}
	queue := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if j.alarm != "" {
					body := fmt.Sprintf(`{"source":"ai","source_event_id":"burst-%s-%s","camera_id":%q,"kind":%q,"phase":"start","time":%q}`,
						j.alarm, j.kind, j.alarm, j.kind, time.Now().UTC().Format(time.RFC3339))
					code, out := call("POST", "/api/v1/events", body)
					items, _ := out["items"].([]any)
					if code != 200 || len(items) != 1 {
						fail(fmt.Sprintf("alarm %s %s: %d %v", j.alarm, j.kind, code, out))
						continue
					}
					if id, _ := items[0].(map[string]any)["case_id"].(string); id != "" {
						mu.Lock()
						alarmCases = append(alarmCases, id)
						mu.Unlock()
					} else {
						fail(fmt.Sprintf("alarm %s %s opened no case: %v", j.alarm, j.kind, out))
					}
					continue
				}
				code, cs := call("POST", "/api/v1/cases", fmt.Sprintf(`{"source":"hotline","category":"environment","title":"12345 工单 %d","grid":%q}`, j.hotlineID, cellA))
				id, _ := cs["id"].(string)
				if code != 201 || id == "" {
					fail(fmt.Sprintf("hotline case: %d %v", code, cs))
					continue
				}
				for _, step := range []struct{ action, body string }{{"register", `{}`}, {"dispatch", `{"assignee":"police"}`}, {"accept", `{}`},
					{"start", `{}`}, {"resolve", `{"note":"已处置"}`}, {"verify", `{}`}} {
					if code, out := call("POST", "/api/v1/cases/"+id+"/"+step.action, step.body); code != 200 {
						fail(fmt.Sprintf("%s %s: %d %v", step.action, id, code, out))
						break
					}
				}
			}
		}()
	}
	every := d / time.Duration(len(jobs))
	next := time.Now()
	for _, j := range jobs {
		time.Sleep(time.Until(next))
		queue <- j
		next = next.Add(every)
	}
	close(queue)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("burst requests failed: %v", failures)
	}
	return alarmCases, hotline
}
