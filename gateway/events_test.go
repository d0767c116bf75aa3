package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sharpeyes/configs"
)

func TestEventsIncidentsAndCasesThroughAPI(t *testing.T) {
	g, api := demoStreet(t)
	if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": "cam1", "name": "瘦西湖路东口",
		"streams": map[string]string{"main": "rtsp://10.1.2.3/a"}, "location": map[string]float64{"lat": 32.4105, "lon": 119.4188}}); code != 201 {
		t.Fatalf("camera: %d %v", code, r)
	}
	// The people of the camera's cell act under their own names.
	_, cam := api.json("GET", "/api/v1/cameras/cam1", nil)
	cell, _ := g.Grids().Get(cam["cells"].(map[string]any)["base"].(string))
	if cell.Roles.GridWorker == "" || cell.Roles.Chief == "" {
		t.Fatalf("cell %s names no grid worker and chief", cell.Code)
	}
	centre := signIn(t, api.base, "centre-1", addUser(t, api, "centre-1", "dispatcher", []string{cell.Parent}, ""))
	worker := signIn(t, api.base, cell.Roles.GridWorker, addUser(t, api, cell.Roles.GridWorker, "grid_worker", nil, ""))
	chief := signIn(t, api.base, cell.Roles.Chief, addUser(t, api, cell.Roles.Chief, "grid_worker", nil, ""))
	now := time.Now().UTC().Format(time.RFC3339)
	post := func(body string) (int, map[string]any) {
		code, raw := api.do("POST", "/api/v1/events", "application/json", []byte(body), true)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	// A tamper event opens an incident and a case.
	code, out := post(`{"source":"isapi","source_event_id":"a1b2","camera_id":"cam1","kind":"tamper","phase":"start","time":"` + now + `","priority":2}`)
	if code != 200 {
		t.Fatalf("event: %d %v", code, out)
	}
	item := out["items"].([]any)[0].(map[string]any)
	caseID, _ := item["case_id"].(string)
	if item["incident_id"] == "" || caseID == "" || item["duplicate"] != false {
		t.Fatalf("result %v", item)
	}
	// Retrying is safe.
	_, again := post(`{"source":"isapi","source_event_id":"a1b2","camera_id":"cam1","kind":"tamper","phase":"start","time":"` + now + `"}`)
	if again["items"].([]any)[0].(map[string]any)["duplicate"] != true {
		t.Fatalf("retry: %v", again)
	}
	// A batch of repeated motion: one incident, no case.
	var batch []string
	for i := 0; i < 200; i++ {
		batch = append(batch, fmt.Sprintf(`{"source":"ai","source_event_id":"m%d","camera_id":"cam1","kind":"motion","phase":"start","time":"%s"}`, i, now))
	}
	if code, out := post("[" + strings.Join(batch, ",") + "]"); code != 200 {
		t.Fatalf("batch: %d %v", code, out)
	}
	_, inc := api.json("GET", "/api/v1/incidents?camera_id=cam1&kind=motion", nil)
	items := inc["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["count"].(float64) != 200 || items[0].(map[string]any)["case_id"] != nil {
		t.Fatalf("motion incidents %v", inc)
	}

	// The case through 即办 → 评办, with its audit trail.
	actAs := func(who *person, action, body string) (int, map[string]any) {
		code, raw := who.do("POST", "/api/v1/cases/"+caseID+"/"+action, "application/json", []byte(body))
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	act := func(action, body string) (int, map[string]any) {
		code, raw := api.do("POST", "/api/v1/cases/"+caseID+"/"+action, "application/json", []byte(body), true)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	// A body cannot name who acts.
	if code, c := actAs(worker, "register", `{"note":"x","actor":{"id":"centre-1","role":"dispatcher"}}`); code != 400 || c["field"] != "actor" {
		t.Fatalf("actor in the body: %d %v", code, c)
	}
	// The state machine checks the real role: a grid worker cannot register.
	if code, c := actAs(worker, "register", `{"note":"登记"}`); code != 403 {
		t.Fatalf("grid worker registering: %d %v", code, c)
	}
	for _, st := range []struct {
		who                 *person
		action, body, state string
	}{
		{centre, "register", `{"note":"登记"}`, "registered"},
		{worker, "resolve", `{"note":"现场已处置"}`, "verifying"},
		{centre, "verify", `{}`, "closed"},
		{chief, "evaluate", `{"rating":5}`, "evaluated"},
	} {
		if code, c := actAs(st.who, st.action, st.body); code != 200 || c["state"] != st.state {
			t.Fatalf("%s by %s: %d %v", st.action, st.who.name, code, c)
		}
	}
	_, audit := api.json("GET", "/api/v1/cases/"+caseID+"/audit", nil)
	rows := audit["items"].([]any)
	if len(rows) != 5 {
		t.Fatalf("%d audit rows, want 5", len(rows))
	}
	for i, want := range []struct{ actor, role string }{{"gateway", "system"}, {"centre-1", "dispatcher"}, {worker.name, "grid_worker"},
		{"centre-1", "dispatcher"}, {chief.name, "grid_chief"}} {
		r := rows[i].(map[string]any)
		if i > 0 && (r["actor"] != want.actor || r["role"] != want.role) {
			t.Errorf("audit row %d: %v by %v, want %s as %s", i, r["actor"], r["role"], want.actor, want.role)
		}
	}

	// Bad input: a clear error each, nothing half-written.
	bad := []struct {
		name, body, want string
		code             int
	}{
		{"unknown camera", `{"source":"isapi","source_event_id":"x1","camera_id":"nope","kind":"tamper","time":"` + now + `"}`, "unknown camera", 400},
		{"unknown kind", `{"source":"isapi","source_event_id":"x2","camera_id":"cam1","kind":"ufo","time":"` + now + `"}`, "unknown kind", 400},
		{"bad time", `{"source":"isapi","source_event_id":"x3","camera_id":"cam1","kind":"tamper","time":"yesterday"}`, "time", 400},
		{"future time", `{"source":"isapi","source_event_id":"x4","camera_id":"cam1","kind":"tamper","time":"2099-01-01T00:00:00Z"}`, "future", 400},
		{"duplicate ids in a batch", `[{"source":"ai","source_event_id":"d1","camera_id":"cam1","kind":"crowd","time":"` + now + `"},{"source":"ai","source_event_id":"d1","camera_id":"cam1","kind":"crowd","time":"` + now + `"}]`, "repeats event 0", 400},
		{"one bad in a batch", `[{"source":"ai","source_event_id":"ok1","camera_id":"cam1","kind":"crowd","time":"` + now + `"},{"source":"ai","source_event_id":"bad1","camera_id":"cam1","kind":"crowd","time":"` + now + `","priority":9}]`, "nothing was recorded", 400},
	}
	for _, b := range bad {
		code, raw := api.do("POST", "/api/v1/events", "application/json", []byte(b.body), true)
		if code != b.code || !strings.Contains(string(raw), b.want) {
			t.Errorf("%s: %d %s", b.name, code, raw)
		}
	}
	var big []string
	for i := 0; i < 1001; i++ {
		big = append(big, fmt.Sprintf(`{"source":"ai","source_event_id":"b%d","camera_id":"cam1","kind":"crowd","time":"%s"}`, i, now))
	}
	if code, raw := api.do("POST", "/api/v1/events", "application/json", []byte("["+strings.Join(big, ",")+"]"), true); code != 400 || !strings.Contains(string(raw), "at most 1000") {
		t.Errorf("oversized batch: %d %s", code, raw)
	}
	_, crowd := api.json("GET", "/api/v1/incidents?kind=crowd", nil)
	if n := len(crowd["items"].([]any)); n != 0 {
		t.Fatalf("refused batches left %d crowd incidents", n)
	}
	if code, raw := act("accept", `{}`); code != 409 || !strings.Contains(fmt.Sprint(raw), "evaluated") {
		t.Errorf("invalid transition: %d %v", code, raw)
	}
	if code, _ := act("reopen", `{}`); code != 400 {
		t.Errorf("reopen without a reason: %d", code)
	}
	if code, _ := act("dance", `{}`); code != 409 {
		t.Errorf("unknown action: %d", code)
	}
	// Device formats.
	gb := `<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>cam1</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>` +
		time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05") + `</AlarmTime><Info><AlarmType>10</AlarmType></Info></Notify>`
	if code, raw := api.do("POST", "/api/v1/events/gb28181", "application/xml", []byte(gb), true); code != 200 || !strings.Contains(string(raw), "case_id") {
		t.Fatalf("GB/T 28181 crowd alarm: %d %s", code, raw)
	}
	// A hotline case by hand.
	if code, c := api.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "environment", "title": "路灯不亮",
		"lat": 32.4105, "lon": 119.4188, "reporter": "12345-20261127-001"}); code != 201 || c["state"] != "received" {
		t.Fatalf("hotline case: %d %v", code, c)
	}
}

func TestConfiguredPolicyOpensCasesForMotion(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/policy.yaml"
	if err := os.WriteFile(file, []byte("cases:\n  policy:\n    motion: {opens_case: true, category: public_security, priority: 4, limit_days: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(file, []string{"SHARPEYES_DATA_DIR=" + dir, "SHARPEYES_HTTP_ADDR=127.0.0.1:0", "SHARPEYES_RTSP_ADDR=127.0.0.1:0",
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:0", "SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:0", "SHARPEYES_AUTH_ADMIN_TOKEN=" + token})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Start(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	api.json("POST", "/api/v1/cameras", map[string]any{"id": "cam1", "name": "c", "streams": map[string]string{"main": "rtsp://10.1.2.3/a"}})
	code, raw := api.do("POST", "/api/v1/events", "application/json", []byte(`{"source":"ai","source_event_id":"m1","camera_id":"cam1","kind":"motion","phase":"start","time":"`+
		time.Now().UTC().Format(time.RFC3339)+`"}`), true)
	if code != 200 || !strings.Contains(string(raw), `"case_id":"C-`) {
		t.Fatalf("motion with a policy that opens cases: %d %s", code, raw)
	}
}
