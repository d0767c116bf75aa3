package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
)

// screenshots is where the screen tests leave their pictures (README:
// "Screenshots"); SHARPEYES_SCREENSHOTS moves it.
func screenshots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SHARPEYES_SCREENSHOTS")
	if dir == "" {
		dir, _ = filepath.Abs("../web/e2e/screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// e2eScript finds a web/e2e script and checks that chromium and
// playwright-core are installed.
func e2eScript(t *testing.T, name string) string {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("../web/e2e", name))
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("CHROMIUM") == "" {
		t.Fatal("/usr/bin/chromium missing: run `make deps`")
	}
	return script
}

// runE2E runs a node script; each line it prints goes to onLine as it
// comes, with the script's standard input (for scripts that ask the test
// to act: "ready", and the test answers a line); the last is decoded into
// out.
func runE2E(t *testing.T, timeout time.Duration, env []string, out any, onLine func(line string, reply io.Writer), script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		last = sc.Text()
		if onLine != nil {
			onLine(last, stdin)
		}
	}
	werr := cmd.Wait()
	if err := json.Unmarshal([]byte(last), out); err != nil {
		t.Fatalf("%s: %v; said %q", filepath.Base(script), werr, last)
	}
	if werr != nil {
		t.Fatalf("%s: %v; said %s", filepath.Base(script), werr, last)
	}
}

// TestChromiumDispatcherWall is the command centre's wall at 1920x1080:
// 16 tiles all decoding, a tile's main stream full screen on double-click,
// a camera dragged onto a tile; then on 4 tiles a
// tour switching a tile, the layout saved for the user, and an alarm from
// an integrator putting its camera on the wall within 2 s, highlighted and
// listed, whose case opens from the alarm list.
func TestChromiumDispatcherWall(t *testing.T) {
	script := e2eScript(t, "screens-wall.mjs")
	g, admin := demoStreet(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 18})
	defer fleet.Close()
	lat, lon := inside(t, g.Grids(), cellA)
	var ids []string
	for i := 1; i <= 16; i++ {
		ids = append(ids, fmt.Sprintf("w%02d", i))
	}
	ids = append(ids, "x-drag", "y-alarm")
	for i, id := range ids {
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": "路口" + id, "on_demand": false,
			"streams":  map[string]string{"main": fleet.URL(i+1, false), "sub": fleet.URL(i+1, true)},
			"location": map[string]float64{"lat": lat + float64(i)*2e-5, "lon": lon}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	eventually(t, 20*time.Second, "cameras online", func() bool {
		for _, id := range ids {
			if admin.state(id) != "online" {
				return false
			}
		}
		return true
	})
	pw := addUser(t, admin, "centre", "dispatcher", []string{street}, "")
	var res struct {
		Tiles   int    `json:"tiles"`
		FramesA []int  `json:"frames_a"`
		FramesB []int  `json:"frames_b"`
		Dragged string `json:"dragged"`
		Full    struct {
			Camera string `json:"camera"`
			Stream string `json:"stream"`
			Frames int    `json:"frames"`
		} `json:"full"`
		Tile0 string `json:"tile0"`
		Tour  []struct {
			Tile   int    `json:"tile"`
			Camera string `json:"camera"`
			MS     int    `json:"ms"`
		} `json:"tour"`
		EventStatus    int `json:"event_status"`
		AlarmOnWallMS  int `json:"alarm_on_wall_ms"`
		AlarmPlayingMS int `json:"alarm_playing_ms"`
		Alarm          struct {
			CaseID       string `json:"case_id"`
			CameraID     string `json:"camera_id"`
			Tile         int    `json:"tile"`
			FirstFrameMS int    `json:"firstFrameMs"`
			RaisedMS     int    `json:"raisedMs"`
		} `json:"alarm"`
		AlarmTiles []struct {
			Tile   int    `json:"tile"`
			Camera string `json:"camera"`
			Case   string `json:"case"`
		} `json:"alarm_tiles"`
		AlarmList []string `json:"alarm_list"`
		Opened    string   `json:"opened"`
	}
	want, _ := json.Marshal(map[string]any{"drag": "x-drag", "tour": []string{"w05", "x-drag", "w09"}, "alarm": "y-alarm"})
	runE2E(t, 150*time.Second, []string{"SE_USER=centre", "SE_PASS=" + pw, "SE_TOKEN=" + token, "SE_SHOTS=" + screenshots(t)},
		&res, nil, script, admin.base+"/?layout=16", string(want))
	t.Logf("wall: %d tiles, frames %v then %v", res.Tiles, res.FramesA, res.FramesB)
	t.Logf("full screen on double-click: %+v", res.Full)
	t.Logf("tour switches (tile, camera, ms to the first painted frame): %+v", res.Tour)
	t.Logf("alarm: case %s on tile %d %d ms after the event was posted (playing at %d ms; case read in %d ms, first frame %d ms after the stream message)",
		res.Alarm.CaseID, res.Alarm.Tile, res.AlarmOnWallMS, res.AlarmPlayingMS, res.Alarm.RaisedMS, res.Alarm.FirstFrameMS)

	if res.Tiles != 16 || len(res.FramesB) != 16 {
		t.Fatalf("%d tiles, frames %v: want 16", res.Tiles, res.FramesB)
	}
	for i := range res.FramesB {
		if res.FramesA[i] <= 0 || res.FramesB[i] <= res.FramesA[i] {
			t.Errorf("tile %d: frames %d then %d, want decoding and rising", i, res.FramesA[i], res.FramesB[i])
		}
	}
	if res.Full.Camera != "w02" || res.Full.Stream != "main" || res.Full.Frames <= 0 {
		t.Errorf("double-click on tile 1: %+v, want w02's main stream decoding full screen", res.Full)
	}
	if res.Dragged != "x-drag" {
		t.Errorf("the tile dropped on shows %q, want x-drag", res.Dragged)
	}
	if len(res.Tour) < 3 {
		t.Fatalf("tour: %d switches, want 3", len(res.Tour))
	}
	for i, s := range res.Tour[:3] {
		// Painted before the next switch; how fast (the GOP cache) is a
		// benchmark's business: docs/benchmarks.md.
		if want := []string{"w05", "w09", "x-drag"}[i]; s.Tile != 0 || s.Camera != want || s.MS < 0 || s.MS >= 5000 {
			t.Errorf("tour switch %d: %+v, want %s on tile 0 painted before the next switch (5 s)", i, s, want)
		}
	}
	if res.EventStatus != 200 || res.Alarm.CameraID != "y-alarm" || res.Alarm.CaseID == "" {
		t.Fatalf("alarm: event %d, %+v", res.EventStatus, res.Alarm)
	}
	if res.AlarmOnWallMS > 2000 {
		t.Errorf("the alarm's camera came onto the wall %d ms after the event, want within 2 s", res.AlarmOnWallMS)
	}
	if res.Alarm.FirstFrameMS < 0 {
		t.Error("the alarm's camera did not play")
	}
	if len(res.AlarmTiles) != 1 || res.AlarmTiles[0].Camera != "y-alarm" || res.AlarmTiles[0].Case != res.Alarm.CaseID || res.AlarmTiles[0].Tile == 0 {
		t.Errorf("alarmed tiles %+v: want one (not the touring tile 0) showing y-alarm for case %s", res.AlarmTiles, res.Alarm.CaseID)
	}
	if fmt.Sprint(res.AlarmList) != "["+res.Alarm.CaseID+"]" || res.Opened != res.Alarm.CaseID {
		t.Errorf("alarm list %v, opened %q: want the alarm's case listed and opened", res.AlarmList, res.Opened)
	}
	// The layout was saved for this user, with the tour.
	centre := signIn(t, admin.base, "centre", pw)
	code, l := centre.json("GET", "/api/v1/layouts/"+"早班", nil)
	if code != 200 || l["layout"] != float64(4) || !strings.Contains(fmt.Sprint(l["tours"]), "东区轮巡") {
		t.Errorf("saved layout: %d %v", code, l)
	}
}

// TestChromiumPhoneResolvesDeskVerifies: a grid worker on a phone (390x844,
// geolocation at the heart of their cell) sees the nearest of their
// cameras first and none of the next cell's, plays one, and resolves a case
// dispatched to them with a photo (a file that is not one refused, nothing
// kept); the dispatcher's desk, open all along, shows the case to verify and
// a notification without a reload, and closes it.
func TestChromiumPhoneResolvesDeskVerifies(t *testing.T) {
	script := e2eScript(t, "screens-phone.mjs")
	g, admin := demoStreet(t)
	ix := g.Grids()
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 4})
	defer fleet.Close()
	clat, clon := inside(t, ix, cellA)
	a, _ := ix.Get(cellA)
	corner := a.Geometry[0][0][0] // a vertex of the (convex) cell: points between it and the centre are inside
	blat, blon := inside(t, ix, cellB)
	cams := []struct {
		id       string
		lat, lon float64
	}{
		{"a-far", clat + 0.6*(corner[1]-clat), clon + 0.6*(corner[0]-clon)},
		{"a-near", clat + 0.1*(corner[1]-clat), clon + 0.1*(corner[0]-clon)},
		{"b-next-cell", blat, blon},
		{"a-mid", clat + 0.3*(corner[1]-clat), clon + 0.3*(corner[0]-clon)},
	}
	for i, c := range cams {
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": c.id, "name": "摄像机" + c.id, "on_demand": false,
			"streams":  map[string]string{"main": fleet.URL(i+1, false), "sub": fleet.URL(i+1, true)},
			"location": map[string]float64{"lat": c.lat, "lon": c.lon}}); code != 201 {
			t.Fatalf("camera %s: %d %v", c.id, code, out)
		}
	}
	eventually(t, 15*time.Second, "cameras online", func() bool { return admin.state("a-near") == "online" })
	workerPW := addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, "")
	centrePW := addUser(t, admin, "centre", "dispatcher", []string{street}, "")
	centre := signIn(t, admin.base, "centre", centrePW)
	code, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "environment",
		"title": "占道经营", "grid": cellA, "limit_days": 3})
	if code != 201 {
		t.Fatalf("case: %d %v", code, cs)
	}
	id := cs["id"].(string)
	for _, step := range []struct {
		act  string
		body map[string]any
	}{{"register", nil}, {"dispatch", map[string]any{"assignee": "role:grid_worker"}}} {
		if code, out := centre.json("POST", "/api/v1/cases/"+id+"/"+step.act, step.body); code != 200 {
			t.Fatalf("%s: %d %v", step.act, code, out)
		}
	}
	dir := t.TempDir()
	var jpg bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	_ = jpeg.Encode(&jpg, img, nil)
	photo, notPhoto := filepath.Join(dir, "scene.jpg"), filepath.Join(dir, "notes.jpg")
	_ = os.WriteFile(photo, jpg.Bytes(), 0o644)
	_ = os.WriteFile(notPhoto, []byte("<html>these are notes, not a photo</html>"), 0o644)

	var res struct {
		DeskBefore string `json:"desk_before"`
		Nearby     []struct {
			ID   string `json:"id"`
			Dist string `json:"dist"`
		} `json:"nearby"`
		Playing struct {
			Camera string `json:"camera"`
			Frames int    `json:"frames"`
		} `json:"playing"`
		TimeLeft           string   `json:"time_left"`
		Refused            string   `json:"refused"`
		StateAfterRefusal  string   `json:"state_after_refusal"`
		DeskQueueMS        int      `json:"desk_queue_ms"`
		DeskNotificationMS int      `json:"desk_notification_ms"`
		Unread             string   `json:"unread"`
		DeskPhotos         int      `json:"desk_photos"`
		DeskState          string   `json:"desk_state"`
		NoReload           bool     `json:"no_reload"`
		MyCells            []string `json:"my_cells"`
		Reported           string   `json:"reported"`
		Direct             struct {
			Camera string `json:"camera"`
			Frames int    `json:"frames"`
		} `json:"direct"`
		Forbidden struct {
			Camera string `json:"camera"`
			Hidden bool   `json:"hidden"`
		} `json:"forbidden"`
	}
	arg, _ := json.Marshal(map[string]any{"point": map[string]float64{"lat": clat, "lon": clon}, "case": id, "photo": photo, "notphoto": notPhoto,
		"direct": "a-mid", "forbidden": "b-next-cell"})
	runE2E(t, 150*time.Second, []string{"SE_WORKER=" + a.Roles.GridWorker, "SE_WORKER_PASS=" + workerPW, "SE_DESK=centre",
		"SE_DESK_PASS=" + centrePW, "SE_SHOTS=" + screenshots(t)}, &res, nil, script, admin.base+"/", string(arg))
	t.Logf("phone nearby %+v; playing %+v; case %s: %s", res.Nearby, res.Playing, id, res.TimeLeft)
	t.Logf("not a photo: %q (case %s); desk queue updated %d ms and notified %d ms after resolve; %d photo(s) on the desk; verified: %s",
		res.Refused, res.StateAfterRefusal, res.DeskQueueMS, res.DeskNotificationMS, res.DeskPhotos, res.DeskState)

	var order []string
	for _, n := range res.Nearby {
		order = append(order, n.ID)
	}
	if fmt.Sprint(order) != "[a-near a-mid a-far]" {
		t.Errorf("nearby %v, want the worker's cameras nearest first and nothing of the next cell: [a-near a-mid a-far]", order)
	}
	if res.Playing.Camera != "a-near" || res.Playing.Frames <= 0 {
		t.Errorf("one tap played %+v, want a-near decoding", res.Playing)
	}
	if !strings.Contains(res.Refused, "notes.jpg") || res.StateAfterRefusal != "in_progress" {
		t.Errorf("not-a-photo: message %q, case %s; want the file named and the case still in progress", res.Refused, res.StateAfterRefusal)
	}
	if res.DeskBefore != "dispatched" || res.DeskPhotos != 1 || !res.NoReload || res.Unread == "" || res.DeskState != "已办结" {
		t.Errorf("desk: before %q, photos %d, no reload %v, unread %q, after verifying %q (want 已办结)", res.DeskBefore, res.DeskPhotos, res.NoReload, res.Unread, res.DeskState)
	}
	if fmt.Sprint(res.MyCells) != "[a-far a-mid a-near]" {
		t.Errorf("my cells %v, want the worker's three cameras only", res.MyCells)
	}
	if res.Direct.Camera != "a-mid" || res.Direct.Frames <= 0 || res.Forbidden.Camera != "" || !res.Forbidden.Hidden {
		t.Errorf("/m/?camera=: %+v for a-mid, %+v for the next cell's camera (want playing, then nothing)", res.Direct, res.Forbidden)
	}
	code, rep := centre.json("GET", "/api/v1/cases/"+res.Reported, nil)
	if code != 200 || rep["state"] != "verifying" || rep["source"] != "grid-report" || rep["grid"] != cellA || rep["lat"] == nil {
		t.Errorf("the phone's 即办 report %q: %d %v", res.Reported, code, rep)
	} else if _, ra := centre.json("GET", "/api/v1/cases/"+res.Reported+"/attachments", nil); len(ra["items"].([]any)) != 1 {
		t.Errorf("the report's photos: %v", ra["items"])
	}
	_, now := centre.json("GET", "/api/v1/cases/"+id, nil)
	if now["state"] != "closed" {
		t.Errorf("case after the desk verified it: %v", now["state"])
	}
	_, atts := centre.json("GET", "/api/v1/cases/"+id+"/attachments", nil)
	if items, _ := atts["items"].([]any); len(items) != 1 {
		t.Errorf("attachments %v: want the one photo (the refused file left nothing)", atts["items"])
	}
	_, audit := centre.json("GET", "/api/v1/cases/"+id+"/audit", nil)
	var trail []string
	for _, r := range audit["items"].([]any) {
		row := r.(map[string]any)
		trail = append(trail, fmt.Sprintf("%s:%s", row["action"], row["actor"]))
	}
	wantTrail := fmt.Sprintf("[create:centre register:centre dispatch:centre accept:%[1]s start:%[1]s attach:%[1]s resolve:%[1]s verify:centre]", a.Roles.GridWorker)
	if fmt.Sprint(trail) != wantTrail {
		t.Errorf("audit %v, want %s", trail, wantTrail)
	}
}
