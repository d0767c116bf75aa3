package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
)

// TestChromiumPlaysCameraFromWebPage loads the live wall in headless
// Chromium (Debian's, driven by playwright-core) and requires a decoded
// video frame within 2 s of navigation start.
func TestChromiumPlaysCameraFromWebPage(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	script, _ := filepath.Abs("../web/e2e/play.mjs")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s missing: run `make deps` (installs chromium)", chromium)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	// The page must use the ICE servers the gateway announces (TURN for
	// phones behind a carrier's NAT); a STUN server that does not answer
	// costs nothing on loopback.
	g := startGateway(t, `SHARPEYES_WEBRTC_ICE_SERVERS=[{"urls":["stun:127.0.0.1:3478"]}]`)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": "32100200001320000001", "name": "瘦西湖路东口",
		"on_demand": false, "streams": map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)}}); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, r)
	}
	eventually(t, 10*time.Second, "camera online", func() bool { return api.state("32100200001320000001") == "online" })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pw := addUser(t, api, "wall-1", "admin", nil, "")
	cmd := exec.CommandContext(ctx, "node", script, api.base+"/?layout=1")
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "SE_USER=wall-1", "SE_PASS="+pw)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("play.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		FirstDecodedMS int      `json:"first_decoded_ms"`
		FramesDecoded  int      `json:"frames_decoded"`
		ICEServers     []string `json:"ice_servers"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("play.mjs output %q: %v", out, err)
	}
	if fmt.Sprint(res.ICEServers) != "[stun:127.0.0.1:3478]" {
		t.Errorf("the page's peer connection uses ICE servers %v, want the announced stun:127.0.0.1:3478", res.ICEServers)
	}
	t.Logf("first frame decoded %d ms after navigation start (%d frames)", res.FirstDecodedMS, res.FramesDecoded)
	if res.FirstDecodedMS <= 0 || res.FirstDecodedMS > 2000 {
		t.Fatalf("framesDecoded > 0 at %d ms after load, want within 2000 ms", res.FirstDecodedMS)
	}
	// The browser decoded packets the gateway sealed itself (relay/srtp.go),
	// not pion: the keys it derived are the ones Chromium negotiated.
	_, m := api.do("GET", "/metrics", "", nil, true)
	if !strings.Contains(string(m), `sharpeyes_webrtc_srtp_sessions_total{sealer="gateway"} 1`) ||
		!strings.Contains(string(m), `sharpeyes_webrtc_srtp_sessions_total{sealer="pion"} 0`) {
		t.Fatalf("the browser's SRTP was not sealed by the gateway:\n%s", m)
	}
}

// TestChromiumShowsIncidentsLive opens the case desk, posts an alarm, and
// requires the case it opens to appear in the queue without a reload (SSE).
func TestChromiumShowsIncidentsLive(t *testing.T) {
	script, _ := filepath.Abs("../web/e2e/cases.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	api.json("POST", "/api/v1/cameras", map[string]any{"id": "cam1", "name": "c", "streams": map[string]string{"main": "rtsp://10.1.2.3/a"}})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pw := addUser(t, api, "centre-1", "admin", nil, "")
	cmd := exec.CommandContext(ctx, "node", script, api.base+"/")
	cmd.Env = append(os.Environ(), "SE_USER=centre-1", "SE_PASS="+pw)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var result string
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			code, raw := api.do("POST", "/api/v1/events", "application/json", []byte(`{"source":"ai","source_event_id":"f1","camera_id":"cam1","kind":"fire_smoke","phase":"start","time":"`+
				time.Now().UTC().Format(time.RFC3339)+`"}`), true)
			if code != 200 {
				t.Fatalf("event: %d %s", code, raw)
			}
			continue
		}
		result = line
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cases.mjs: %v (%s)", err, result)
	}
	var res struct {
		SeenMS int      `json:"seen_ms"`
		Rates  []string `json:"rates"`
		CaseID string   `json:"case_id"`
	}
	if err := json.Unmarshal([]byte(result), &res); err != nil || len(res.Rates) != 5 || res.CaseID == "" {
		t.Fatalf("cases.mjs said %q", result)
	}
	t.Logf("case %s in the desk's queue %d ms after the event was posted; rates %v", res.CaseID, res.SeenMS, res.Rates)
}

// TestChromiumGridWorkerSeesOnlyTheirCells signs a grid worker in through
// the login page in headless Chromium: the wall lists and plays only the
// cameras of the cell that names them, and a WHEP offer they forge from
// the signed-in page for another cell's camera is refused.
func TestChromiumGridWorkerSeesOnlyTheirCells(t *testing.T) {
	script, _ := filepath.Abs("../web/e2e/wall.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	g := startGateway(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 3})
	defer fleet.Close()
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	ix := g.Grids()
	for i, c := range []struct{ id, cell string }{{"mine-1", cellA}, {"mine-2", cellA}, {"theirs", cellB}} {
		lat, lon := inside(t, ix, c.cell)
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": c.id, "name": c.id, "on_demand": false,
			"streams":  map[string]string{"main": fleet.URL(i+1, false), "sub": fleet.URL(i+1, true)},
			"location": map[string]float64{"lat": lat + float64(i)*1e-5, "lon": lon}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	a, _ := ix.Get(cellA)
	pw := addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, admin.base+"/?layout=4", "theirs")
	cmd.Env = append(os.Environ(), "SE_USER="+a.Roles.GridWorker, "SE_PASS="+pw)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wall.mjs: %v\n%s", err, out)
	}
	var res struct {
		Listed       []string `json:"listed"`
		Tiles        []string `json:"tiles"`
		Playing      int      `json:"playing"`
		ForgedStatus int      `json:"forged_status"`
		Map          []string `json:"map"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("wall.mjs said %q", out)
	}
	t.Logf("grid worker's wall: listed %v, tiles %v, %d playing; forged offer answered %d", res.Listed, res.Tiles, res.Playing, res.ForgedStatus)
	if fmt.Sprint(res.Listed) != "[mine-1 mine-2]" || fmt.Sprint(res.Tiles) != "[mine-1 mine-2]" || fmt.Sprint(res.Map) != "[mine-1 mine-2]" {
		t.Errorf("the wall shows %v (tiles %v, map %v), want the cell's cameras mine-1 and mine-2 only", res.Listed, res.Tiles, res.Map)
	}
	if res.Playing < 1 {
		t.Error("no tile played")
	}
	if res.ForgedStatus != 404 {
		t.Errorf("forged WHEP offer for another cell's camera: %d, want 404", res.ForgedStatus)
	}
}
