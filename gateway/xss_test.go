package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
)

// xss is the payload written into every string: markup a screen that
// built HTML from text would turn into an element carrying data-xss whose
// handler opens a dialog. 39 bytes, so it fits every field whole (an
// Open311 title keeps 40 characters, a department 64 bytes).
const xss = `<img src=x data-xss=1 onerror=alert(1)>`

// TestChromiumShowsEveryStringAsText writes the payload into every string
// a user, a device or an integrator can set — camera and cell names, case
// titles, descriptions, notes, reasons, reporters, hotline (Open311)
// descriptions and addresses, display names, departments, tour names,
// attachment file names, alarm media URLs — then visits every screen in
// Chromium: the wall (tree, tiles, tours, a live alarm), the map with every
// tooltip open, the desk and the case page, the reviews, the
// notifications and the phone's tabs. No dialog opens, no element is
// injected, the policy reports no violation, and the payload is on the
// screens as text.
func TestChromiumShowsEveryStringAsText(t *testing.T) {
	script := e2eScript(t, "xss.mjs")
	g := startGateway(t)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	// The cell's name, from a GeoJSON import.
	var geo map[string]any
	_ = json.Unmarshal(configs.DemoGrids, &geo)
	for _, f := range geo["features"].([]any) {
		if props := f.(map[string]any)["properties"].(map[string]any); props["code"] == cellA {
			props["name"] = "格" + xss
		}
	}
	b, _ := json.Marshal(geo)
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", b, true); code != 200 {
		t.Fatalf("grids: %d %.300s", code, raw)
	}
	ix := g.Grids()
	a, _ := ix.Get(cellA)
	lat, lon := inside(t, ix, cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	// The camera's name and tags.
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "xss-cam", "name": "摄像机" + xss, "on_demand": true,
		"tags":     []string{xss},
		"streams":  map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	// People: display names, a department named with the payload.
	user := func(name, role string, grids []string, dept string) string {
		pw := "pw-" + name + "-0123"
		code, out := admin.json("POST", "/api/v1/users", map[string]any{"username": name, "password": pw, "role": role, "grids": grids,
			"department": dept, "display_name": "名" + xss})
		if code != 201 {
			t.Fatalf("user %s: %d %v", name, code, out)
		}
		return pw
	}
	centrePW := user("xss-centre", "dispatcher", []string{street}, "")
	workerPW := user(a.Roles.GridWorker, "grid_worker", []string{}, "")
	user("xss-dept", "department", []string{}, xss)

	// A hotline case with everything a person types, taken along the pipeline with notes and reasons.
	code, cs := admin.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "environment", "title": "案" + xss,
		"description": "述" + xss, "reporter": "报" + xss, "grid": cellA, "camera_id": "xss-cam", "lat": lat, "lon": lon})
	if code != 201 {
		t.Fatalf("case: %d %v", code, cs)
	}
	id := cs["id"].(string)
	for _, step := range []struct {
		action string
		body   map[string]any
	}{{"register", map[string]any{"note": "注" + xss}}, {"dispatch", map[string]any{"assignee": xss, "note": "派" + xss}},
		{"return", map[string]any{"reason": "因" + xss, "note": "退" + xss}}, {"dispatch", map[string]any{"assignee": xss}},
		{"accept", map[string]any{"note": "收" + xss}}, {"extend", map[string]any{"reason": "延" + xss, "extend_days": 2}}} {
		if code, out := admin.json("POST", "/api/v1/cases/"+id+"/"+step.action, step.body); code != 200 {
			t.Fatalf("%s: %d %v", step.action, code, out)
		}
	}
	// A photo whose file name is the payload.
	var jpg, body bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 32, 24)), nil)
	w := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+xss+`.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	pw, _ := w.CreatePart(h)
	_, _ = pw.Write(jpg.Bytes())
	w.Close()
	if code, raw := admin.do("POST", "/api/v1/cases/"+id+"/attachments", w.FormDataContentType(), body.Bytes(), true); code != 200 && code != 201 {
		t.Fatalf("attachment: %d %s", code, raw)
	}
	// A 12345 request through Open311: no user account at all.
	hotline := issueToken(t, admin, "12345", "open311")
	resp, err := http.PostForm(admin.base+"/open311/v2/requests.json", url.Values{"api_key": {hotline}, "service_code": {"environment"},
		"lat": {ftoa(lat)}, "long": {ftoa(lon)}, "description": {xss}, "address_string": {"址" + xss}, "first_name": {xss}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("open311: %d", resp.StatusCode)
	}
	// A saved wall with a tour named with the payload.
	centre := signIn(t, admin.base, "xss-centre", centrePW)
	if code, out := centre.json("PUT", "/api/v1/layouts/巡查", map[string]any{"layout": 4, "tiles": []string{"xss-cam"},
		"tours": []map[string]any{{"name": "巡" + xss, "cameras": []string{"xss-cam", "xss-cam"}, "interval_s": 60, "tile": 0}}}); code != 200 {
		t.Fatalf("layout: %d %v", code, out)
	}

	// A device's alarm on the camera once the wall is up, with a media URL
	// carrying the payload.
	alarm := func(line string, reply io.Writer) {
		if line != "ready" {
			return
		}
		body := fmt.Sprintf(`{"source":"ai","source_event_id":"xss-1","camera_id":"xss-cam","kind":"fire_smoke","phase":"start","time":%q,"media_url":%q}`,
			time.Now().UTC().Format(time.RFC3339), `https://evil.example/a.jpg?q="><img/src=x/data-xss=1/onerror=alert(1)>`)
		if code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Errorf("alarm: %d %s", code, raw)
		}
		fmt.Fprintln(reply, "posted")
	}
	var res struct {
		Dialogs  []string `json:"dialogs"`
		Tooltips int      `json:"tooltips"`
		Checks   []struct {
			Where    string   `json:"where"`
			Injected int      `json:"injected"`
			Scripts  int      `json:"scripts"`
			Shown    bool     `json:"shown"`
			CSP      []string `json:"csp"`
		} `json:"checks"`
		Error string `json:"error"`
	}
	runE2E(t, 150*time.Second, []string{"SE_USER=xss-centre", "SE_PASS=" + centrePW, "SE_WORKER=" + a.Roles.GridWorker,
		"SE_WORKER_PASS=" + workerPW, "SE_LAT=" + ftoa(lat), "SE_LON=" + ftoa(lon), "SE_SHOTS=" + screenshots(t)}, &res, alarm, script, admin.base, id)
	if res.Error != "" {
		t.Fatalf("xss.mjs: %s", res.Error)
	}
	if len(res.Dialogs) > 0 {
		t.Errorf("dialogs opened: %v", res.Dialogs)
	}
	if len(res.Checks) != 9 || res.Tooltips < 3 {
		t.Errorf("visited %d screens with %d map tooltips open, want 9 screens and every tooltip", len(res.Checks), res.Tooltips)
	}
	var shown []string
	for _, c := range res.Checks {
		if c.Injected > 0 || c.Scripts > 0 || len(c.CSP) > 0 {
			t.Errorf("%s: %d injected elements, %d inline scripts, CSP violations %v", c.Where, c.Injected, c.Scripts, c.CSP)
		}
		if !c.Shown && !strings.HasPrefix(c.Where, "phone report") {
			t.Errorf("%s: the payload is not on the screen as text", c.Where)
		}
		shown = append(shown, fmt.Sprintf("%s=%v", c.Where, c.Shown))
	}
	t.Logf("every screen visited (%s), %d map tooltips opened: no dialog, no injected element, no violation", strings.Join(shown, ", "), res.Tooltips)
	if _, m := admin.do("GET", "/metrics", "", nil, true); !strings.Contains(string(m), "sharpeyes_csp_violations_total 0") {
		t.Errorf("the gateway received violation reports:\n%s", grepLines(string(m), "csp"))
	}
}
