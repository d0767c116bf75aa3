package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/webrtc/v4"

	"sharpeyes/camsim"
	"sharpeyes/configs"
)

// roles in the order the matrix tries them; the admin goes last so its
// successful deletions do not take away what the others are refused.
var matrixRoles = []string{"anonymous", "viewer", "department", "grid_worker", "dispatcher", "admin"}

// want lists the expected status per role, in matrixRoles order.
func want(codes ...int) map[string]int {
	m := map[string]int{}
	for i, r := range matrixRoles {
		m[r] = codes[i]
	}
	return m
}

type matrixCase struct {
	method, route string // the router's method and path pattern
	path          string
	ctype         string
	body          func(role string) string
	stream        bool // read only the head (an endless event stream)
	want          map[string]int
}

const (
	cellA  = "32100300100101" // the grid worker's cell; the viewer's grid
	cellB  = "32100300100201" // another community
	street = "321003001"
)

// TestAccessMatrix tries every route of the router as every role and as
// anonymous, on a real gateway with the demo street: each allowed request
// succeeds, every other is 401, 403 or 404 as DESIGN.md "Access" says. A
// route without an entry here fails the test. WHEP, the RTSP re-serve and
// the event stream are tried too, with what each role is shown.
func TestAccessMatrix(t *testing.T) {
	g := startGateway(t, gbEnv...)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	base := admin.base
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	ix := g.Grids()
	a, _ := ix.Get(cellA)
	camera := func(id string, n int, cell string) map[string]any {
		lat, lon := inside(t, ix, cell)
		return map[string]any{"id": id, "name": id, "on_demand": true,
			"streams":  map[string]string{"main": fleet.URL(n, false), "sub": fleet.URL(n, true)},
			"location": map[string]float64{"lat": lat, "lon": lon}}
	}
	for _, c := range []map[string]any{camera("camIn", 1, cellA), camera("camOut", 2, cellB), camera("del-1", 1, cellA)} {
		if code, out := admin.json("POST", "/api/v1/cameras", c); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	// A GB/T 28181 NVR whose PTZ channel stands in cell A.
	gbLat, gbLon := inside(t, ix, cellA)
	gbDev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000009", Channels: 1, Lon: gbLon, Lat: gbLat})
	gbCh := gbDev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the NVR's channel as a camera", func() bool {
		code, _ := admin.json("GET", "/api/v1/cameras/"+gbCh, nil)
		return code == 200
	})
	// One user per role. The grid worker is whoever cell A names; the
	// department user is named nowhere and sees what is dispatched to it.
	names := map[string]string{"admin": "u-admin", "dispatcher": "u-dispatcher", "grid_worker": a.Roles.GridWorker,
		"department": "u-police", "viewer": "u-viewer"}
	people := map[string]*person{}
	for role, name := range names {
		var grids []string
		dept := ""
		switch role {
		case "dispatcher":
			grids = []string{street}
		case "viewer":
			grids = []string{cellA}
		case "department":
			dept = "police"
		}
		people[role] = signIn(t, base, name, addUser(t, admin, name, role, grids, dept))
	}
	addUser(t, admin, "u-victim", "viewer", nil, "")
	addUser(t, admin, "u-victim2", "viewer", nil, "")

	now := time.Now().UTC().Format(time.RFC3339)
	event := func(cam, id, kind string) (incident, kase string) {
		code, out := admin.json("POST", "/api/v1/events", map[string]any{"source": "ai", "source_event_id": id, "camera_id": cam,
			"kind": kind, "phase": "start", "time": now})
		if code != 200 {
			t.Fatalf("event: %d %v", code, out)
		}
		it := out["items"].([]any)[0].(map[string]any)
		inc, _ := it["incident_id"].(string)
		cs, _ := it["case_id"].(string)
		return inc, cs
	}
	_, caseIn := event("camIn", "in-1", "fire_smoke")
	incOut, caseOut := event("camOut", "out-1", "fire_smoke")
	if caseIn == "" || caseOut == "" {
		t.Fatal("fire_smoke opened no case")
	}
	// The centre dispatches the other community's case to the police.
	for _, step := range []struct{ action, body string }{{"register", `{}`}, {"dispatch", `{"assignee":"police"}`}} {
		if code, raw := admin.do("POST", "/api/v1/cases/"+caseOut+"/"+step.action, "application/json", []byte(step.body), true); code != 200 {
			t.Fatalf("%s: %d %s", step.action, code, raw)
		}
	}
	_, tok := admin.json("POST", "/api/v1/tokens", map[string]any{"name": "to revoke", "scopes": []string{"cameras:read"}})
	adminTokenID := tok["id"].(string)

	// A WHEP session the admin opened, for DELETE.
	offer := browserOffer(t)
	code, raw := admin.do("POST", "/api/v1/whep/camIn", "application/sdp", []byte(offer), true)
	if code != 201 {
		t.Fatalf("admin WHEP: %d %s", code, raw)
	}
	sessionPath := whepLocation(t, admin, "camIn", offer)

	onvif := `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><s:Body><wsnt:Notify><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic><wsnt:Message><tt:Message UtcTime="` + now + `" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="Rule" Value="r"/></tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></wsnt:Notify></s:Body></s:Envelope>`
	isapi := `{"ipAddress":"10.1.2.3","channelID":"1","dateTime":"` + now + `","eventType":"VMD","eventState":"active"}`
	gb := `<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>7</SN><DeviceID>camIn</DeviceID><AlarmPriority>3</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>` +
		time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05") + `</AlarmTime><Info><AlarmType>2</AlarmType></Info></Notify>`
	cam := func(id string) string {
		b, _ := json.Marshal(camera(id, 1, cellA))
		return string(b)
	}
	fixed := func(s string) func(string) string { return func(string) string { return s } }
	perRole := func(f func(role string) string) func(string) string { return f }

	const (
		ok, created, nocontent = 200, 201, 204
		u, f, n                = 401, 403, 404
	)
	matrix := []matrixCase{
		{method: "GET", route: "/healthz", path: "/healthz", want: want(ok, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/readyz", path: "/readyz", want: want(ok, ok, ok, ok, ok, ok)},
		// Browsers report what the page policy blocked without credentials.
		{method: "POST", route: "/api/v1/csp-reports", path: "/api/v1/csp-reports", ctype: "application/csp-report",
			body: fixed(`{"csp-report":{"document-uri":"http://x/","violated-directive":"img-src","blocked-uri":"http://evil/"}}`),
			want: want(nocontent, nocontent, nocontent, nocontent, nocontent, nocontent)},
		{method: "GET", route: "/metrics", path: "/metrics", want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/", path: "/", want: want(ok, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/assets/*file", path: "/assets/app.css", want: want(ok, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/m/", path: "/m/", want: want(ok, ok, ok, ok, ok, ok)},
		{method: "POST", route: "/api/v1/login", path: "/api/v1/login", ctype: "application/json", body: perRole(func(role string) string {
			if role == "anonymous" {
				return `{"username":"u-admin","password":"not-the-password"}`
			}
			return fmt.Sprintf(`{"username":%q,"password":%q}`, people[role].name, people[role].password)
		}), want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/me", path: "/api/v1/me", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/openapi.yaml", path: "/api/v1/openapi.yaml", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cameras", path: "/api/v1/cameras", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id", path: "/api/v1/cameras/camIn", want: want(u, ok, n, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id", path: "/api/v1/cameras/camOut", want: want(u, n, n, n, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id/status", path: "/api/v1/cameras/camIn/status", want: want(u, ok, n, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id/status", path: "/api/v1/cameras/camOut/status", want: want(u, n, n, n, ok, ok)},
		{method: "GET", route: "/api/v1/nodes", path: "/api/v1/nodes", want: want(u, ok, ok, ok, ok, ok)},
		{method: "POST", route: "/api/v1/cameras", path: "/api/v1/cameras", ctype: "application/json", body: fixed(cam("new-1")), want: want(u, f, f, f, f, created)},
		{method: "POST", route: "/api/v1/cameras/import", path: "/api/v1/cameras/import", ctype: "application/json", body: fixed("[" + cam("imp-1") + "]"), want: want(u, f, f, f, f, ok)},
		{method: "PUT", route: "/api/v1/cameras/:id", path: "/api/v1/cameras/new-1", ctype: "application/json", body: fixed(cam("new-1")), want: want(u, f, f, f, f, ok)},
		{method: "PATCH", route: "/api/v1/cameras/:id", path: "/api/v1/cameras/new-1", ctype: "application/json", body: fixed(`{"tags":["x"]}`), want: want(u, f, f, f, f, ok)},
		{method: "DELETE", route: "/api/v1/cameras/:id", path: "/api/v1/cameras/del-1", want: want(u, f, f, f, f, nocontent)},
		{method: "GET", route: "/api/v1/grids", path: "/api/v1/grids", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/health/online-rate", path: "/api/v1/health/online-rate", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/grids/:code", path: "/api/v1/grids/" + cellB, want: want(u, n, n, n, ok, ok)},
		{method: "GET", route: "/api/v1/grids/:code", path: "/api/v1/grids/" + street, want: want(u, ok, n, ok, ok, ok)},
		{method: "GET", route: "/api/v1/grids/:code/cameras", path: "/api/v1/grids/" + cellA + "/cameras", want: want(u, ok, n, ok, ok, ok)},
		{method: "POST", route: "/api/v1/grids/import", path: "/api/v1/grids/import", ctype: "application/geo+json", body: fixed(string(configs.DemoGrids)), want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/api/v1/incidents", path: "/api/v1/incidents", want: want(u, f, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/incidents/:id", path: "/api/v1/incidents/" + incOut, want: want(u, f, n, n, ok, ok)},
		{method: "GET", route: "/api/v1/cases", path: "/api/v1/cases", want: want(u, f, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cases/:id", path: "/api/v1/cases/" + caseOut, want: want(u, f, ok, n, ok, ok)},
		{method: "GET", route: "/api/v1/cases/:id", path: "/api/v1/cases/" + caseIn, want: want(u, f, n, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cases/:id/audit", path: "/api/v1/cases/" + caseIn + "/audit", want: want(u, f, n, ok, ok, ok)},
		{method: "GET", route: "/api/v1/dashboard", path: "/api/v1/dashboard", want: want(u, f, ok, ok, ok, ok)},
		// A camera's past: grid workers (their cells) and dispatchers play it,
		// viewers and departments do not (departments see their cases' clips);
		// nothing is recorded here, so an allowed playback finds no footage.
		{method: "GET", route: "/api/v1/cameras/:id/recordings", path: "/api/v1/cameras/camIn/recordings", want: want(u, f, f, ok, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id/recordings", path: "/api/v1/cameras/camOut/recordings", want: want(u, f, f, n, ok, ok)},
		{method: "GET", route: "/api/v1/cameras/:id/playback", path: "/api/v1/cameras/camIn/playback?start=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)) + "&duration=10",
			want: want(u, f, f, n, n, n)},
		{method: "GET", route: "/api/v1/cameras/:id/playback", path: "/api/v1/cameras/camIn/playback?format=mp4&start=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)) + "&duration=10",
			want: want(u, f, f, f, n, n)},
		{method: "GET", route: "/api/v1/cases/:id/clips", path: "/api/v1/cases/" + caseOut + "/clips", want: want(u, f, ok, n, ok, ok)},
		// Asking for a clip of a window: whoever may export footage, of a case and a camera in view.
		{method: "POST", route: "/api/v1/cases/:id/clips", path: "/api/v1/cases/" + caseIn + "/clips", ctype: "application/json",
			body: fixed(`{"start":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `","end":"` + time.Now().Add(-59*time.Minute).UTC().Format(time.RFC3339) + `"}`),
			want: want(u, f, f, f, 202, 202)},
		{method: "GET", route: "/api/v1/cases/:id/clips/:clip", path: "/api/v1/cases/" + caseOut + "/clips/clip-none", want: want(u, f, n, n, n, n)},
		{method: "GET", route: "/api/v1/recordings/access", path: "/api/v1/recordings/access", want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/api/v1/notifications", path: "/api/v1/notifications", want: want(u, f, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/reports", path: "/api/v1/reports?period=week", want: want(u, f, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/stream", path: "/api/v1/stream", stream: true, want: want(u, f, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/media/:id", path: "/api/v1/media/Mnope", want: want(u, f, n, n, n, n)},
		{method: "GET", route: "/api/v1/events", path: "/api/v1/events?camera_id=camOut", want: want(u, f, ok, ok, ok, ok)},
		{method: "POST", route: "/api/v1/events", path: "/api/v1/events", ctype: "application/json", body: perRole(func(role string) string {
			return `{"source":"ai","source_event_id":"m-` + role + `","camera_id":"camIn","kind":"crowd","phase":"start","time":"` + now + `"}`
		}), want: want(u, f, f, f, ok, ok)},
		{method: "POST", route: "/api/v1/events/onvif", path: "/api/v1/events/onvif?camera_id=camIn", ctype: "application/soap+xml", body: fixed(onvif), want: want(u, f, f, f, ok, ok)},
		{method: "POST", route: "/api/v1/events/isapi", path: "/api/v1/events/isapi?camera_id=camIn", ctype: "application/json", body: fixed(isapi), want: want(u, f, f, f, ok, ok)},
		{method: "POST", route: "/api/v1/events/gb28181", path: "/api/v1/events/gb28181", ctype: "application/xml", body: fixed(gb), want: want(u, f, f, f, ok, ok)},
		{method: "POST", route: "/api/v1/cases", path: "/api/v1/cases", ctype: "application/json",
			body: fixed(`{"source":"grid-report","category":"environment","title":"井盖缺失","grid":"` + cellA + `"}`), want: want(u, f, f, created, created, created)},
		// The state machine decides with the real role: the grid worker may not register, the
		// department does not see the case, the admin finds it registered already.
		{method: "POST", route: "/api/v1/cases/:id/:action", path: "/api/v1/cases/" + caseIn + "/register", ctype: "application/json", body: fixed(`{"note":"登记"}`), want: want(u, f, n, f, ok, 409)},
		{method: "POST", route: "/api/v1/cases/:id/:action", path: "/api/v1/cases/" + caseOut + "/accept", ctype: "application/json", body: fixed(`{}`), want: want(u, f, ok, n, 409, 409)},
		{method: "POST", route: "/api/v1/cases/:id/attachments", path: "/api/v1/cases/" + caseIn + "/attachments", ctype: "image/jpeg",
			body: fixed(jpegPhoto(t)), want: want(u, f, n, created, created, created)},
		{method: "GET", route: "/api/v1/cases/:id/attachments", path: "/api/v1/cases/" + caseOut + "/attachments", want: want(u, f, ok, n, ok, ok)},
		{method: "GET", route: "/api/v1/cases/:id/attachments/:att", path: "/api/v1/cases/" + caseOut + "/attachments/Anope", want: want(u, f, n, n, n, n)},
		{method: "POST", route: "/api/v1/users", path: "/api/v1/users", ctype: "application/json",
			body: fixed(`{"username":"made","password":"made-password","role":"viewer"}`), want: want(u, f, f, f, f, created)},
		{method: "GET", route: "/api/v1/users", path: "/api/v1/users", want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/api/v1/users/:username", path: "/api/v1/users/u-victim", want: want(u, n, n, n, n, ok)},
		{method: "GET", route: "/api/v1/users/:username", path: "/api/v1/users/u-viewer", want: want(u, ok, n, n, n, ok)},
		{method: "PATCH", route: "/api/v1/users/:username", path: "/api/v1/users/u-victim", ctype: "application/json", body: fixed(`{"display_name":"x"}`), want: want(u, f, f, f, f, ok)},
		{method: "DELETE", route: "/api/v1/users/:username", path: "/api/v1/users/u-victim2", want: want(u, f, f, f, f, nocontent)},
		{method: "POST", route: "/api/v1/tokens", path: "/api/v1/tokens", ctype: "application/json", body: fixed(`{"name":"wall script","scopes":["cameras:read"]}`), want: want(u, created, created, created, created, created)},
		{method: "POST", route: "/api/v1/tokens", path: "/api/v1/tokens", ctype: "application/json", body: fixed(`{"name":"more than me","scopes":["users:write"]}`), want: want(u, f, f, f, f, created)},
		{method: "PUT", route: "/api/v1/layouts/:name", path: "/api/v1/layouts/wall", ctype: "application/json",
			body: fixed(`{"layout":4,"tiles":["camIn"]}`), want: want(u, ok, 400, ok, ok, ok)},
		{method: "PUT", route: "/api/v1/layouts/:name", path: "/api/v1/layouts/other", ctype: "application/json",
			body: fixed(`{"layout":4,"tiles":["camOut"]}`), want: want(u, 400, 400, 400, ok, ok)},
		{method: "GET", route: "/api/v1/layouts", path: "/api/v1/layouts", want: want(u, ok, ok, ok, ok, ok)},
		{method: "GET", route: "/api/v1/layouts/:name", path: "/api/v1/layouts/wall", want: want(u, ok, n, ok, ok, ok)},
		{method: "DELETE", route: "/api/v1/layouts/:name", path: "/api/v1/layouts/wall", want: want(u, nocontent, n, nocontent, nocontent, nocontent)},
		{method: "GET", route: "/api/v1/tokens", path: "/api/v1/tokens", want: want(u, ok, ok, ok, ok, ok)},
		{method: "DELETE", route: "/api/v1/tokens/:id", path: "/api/v1/tokens/" + adminTokenID, want: want(u, n, n, n, n, nocontent)},
		{method: "OPTIONS", route: "/api/v1/whep/:id", path: "/api/v1/whep/camIn", want: want(nocontent, nocontent, nocontent, nocontent, nocontent, nocontent)},
		{method: "POST", route: "/api/v1/whep/:id", path: "/api/v1/whep/camIn?stream=sub", ctype: "application/sdp", body: fixed(offer), want: want(u, created, n, created, created, created)},
		{method: "POST", route: "/api/v1/whep/:id", path: "/api/v1/whep/camOut?stream=sub", ctype: "application/sdp", body: fixed(offer), want: want(u, n, n, n, created, created)},
		{method: "OPTIONS", route: "/api/v1/whep/:id/:session", path: sessionPath, want: want(nocontent, nocontent, nocontent, nocontent, nocontent, nocontent)},
		{method: "PATCH", route: "/api/v1/whep/:id/:session", path: sessionPath, ctype: "application/trickle-ice-sdpfrag", body: fixed("a=x"), want: want(u, 405, 405, 405, 405, 405)},
		{method: "DELETE", route: "/api/v1/whep/:id/:session", path: sessionPath, want: want(u, n, n, n, n, ok)},
		{method: "GET", route: "/open311/v2/:file", path: "/open311/v2/services.json", want: want(u, f, f, f, f, ok)},
		{method: "POST", route: "/open311/v2/:file", path: "/open311/v2/requests.json", ctype: "application/x-www-form-urlencoded",
			body: fixed(url.Values{"service_code": {"environment"}, "lat": {"32.4105"}, "long": {"119.4188"}, "description": {"路灯不亮"}}.Encode()), want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/open311/v2/requests/:file", path: "/open311/v2/requests/" + caseIn + ".json", want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/api/v1/gb/devices", path: "/api/v1/gb/devices", want: want(u, f, f, f, f, ok)},
		{method: "GET", route: "/api/v1/gb/devices/:id", path: "/api/v1/gb/devices/32100300001110000009", want: want(u, f, f, f, f, ok)},
		{method: "PATCH", route: "/api/v1/gb/devices/:id", path: "/api/v1/gb/devices/32100300001110000009", ctype: "application/json", body: fixed(`{"name":"村委会 NVR"}`), want: want(u, f, f, f, f, ok)},
		{method: "POST", route: "/api/v1/cameras/:id/ptz", path: "/api/v1/cameras/" + gbCh + "/ptz", ctype: "application/json", body: fixed(`{"action":"left","speed":31}`), want: want(u, f, f, f, nocontent, nocontent)},
		{method: "GET", route: "/api/v1/gb/upstream", path: "/api/v1/gb/upstream", want: want(u, f, f, f, f, ok)},
		{method: "POST", route: "/api/v1/gb/upstream", path: "/api/v1/gb/upstream", ctype: "application/json",
			body: fixed(`{"id":"district","server_id":"34020000002000000001","address":"127.0.0.1:9","password":"district-pass","local_id":"32100300002000000001","share":{"cameras":["camIn"]}}`),
			want: want(u, f, f, f, f, created)},
		{method: "GET", route: "/api/v1/gb/upstream/:id", path: "/api/v1/gb/upstream/district", want: want(u, f, f, f, f, ok)},
		{method: "PATCH", route: "/api/v1/gb/upstream/:id", path: "/api/v1/gb/upstream/district", ctype: "application/json", body: fixed(`{"name":"区平台"}`), want: want(u, f, f, f, f, ok)},
		{method: "DELETE", route: "/api/v1/gb/upstream/:id", path: "/api/v1/gb/upstream/district", want: want(u, f, f, f, f, nocontent)},
		// Last: signing out ends each session.
		{method: "POST", route: "/api/v1/logout", path: "/api/v1/logout", want: want(u, nocontent, nocontent, nocontent, nocontent, nocontent)},
	}

	covered := map[string]bool{}
	for _, mc := range matrix {
		covered[mc.method+" "+mc.route] = true
	}
	for _, r := range g.Routes() {
		if !covered[r.Method+" "+r.Path] {
			t.Errorf("route %s %s has no entry in the access matrix", r.Method, r.Path)
		}
	}

	var sessions []string // WHEP sessions made by the matrix, ended at the end
	for _, mc := range matrix {
		for _, role := range matrixRoles {
			var body string
			if mc.body != nil {
				body = mc.body(role)
			}
			code, loc, raw := matrixDo(t, base, people[role], mc, body)
			if code != mc.want[role] {
				t.Errorf("%s %s as %s: %d, want %d (%s)", mc.method, mc.path, role, code, mc.want[role], raw)
			}
			if loc != "" && strings.HasPrefix(mc.route, "/api/v1/whep/") {
				sessions = append(sessions, loc)
			}
		}
	}
	for _, s := range sessions {
		admin.do("DELETE", s, "", nil, true)
	}

	// The RTSP re-serve as every role, with the user's name and password.
	for _, tc := range []struct {
		path string
		want map[string]int
	}{
		{"camIn", want(u, ok, n, ok, ok, ok)},
		{"camOut/sub", want(u, n, n, n, ok, ok)},
	} {
		for _, role := range matrixRoles {
			user, pass := "", ""
			if p := people[role]; p != nil {
				user, pass = p.name, p.password
			}
			if got := rtspDescribe(t, g.RTSPAddr(), user, pass, tc.path); got != tc.want[role] {
				t.Errorf("RTSP DESCRIBE %s as %s: %d, want %d", tc.path, role, got, tc.want[role])
			}
		}
	}
}

// matrixDo sends one request as role's person (nil: anonymous) and returns
// status, Location and body.
func matrixDo(t *testing.T, base string, p *person, mc matrixCase, body string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, mc.method, base+mc.path, strings.NewReader(body))
	if mc.ctype != "" {
		req.Header.Set("Content-Type", mc.ctype)
	}
	if p != nil && mc.route != "/api/v1/login" {
		req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: p.cookie})
		req.Header.Set("X-CSRF-Token", p.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", mc.method, mc.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" && mc.route != "/api/v1/login" {
		t.Errorf("%s %s: 401 without WWW-Authenticate", mc.method, mc.path)
	}
	if mc.stream {
		return resp.StatusCode, "", ""
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(raw)
}

// browserOffer makes a real recvonly WebRTC offer, as a browser would send.
func browserOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// whepLocation opens a WHEP session as the admin and returns its URL path.
func whepLocation(t *testing.T, a apiClient, cam, offer string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", a.base+"/api/v1/whep/"+cam, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Location") == "" {
		t.Fatalf("WHEP: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// rtspDescribe asks the RTSP re-serve for a camera with credentials and
// returns the RTSP status (200 when the description came).
func rtspDescribe(t *testing.T, addr, user, pass, path string) int {
	t.Helper()
	c := gortsplib.Client{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if err := c.Start("rtsp", addr); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := "rtsp://" + addr + "/" + path
	if user != "" || pass != "" {
		raw = "rtsp://" + url.UserPassword(user, pass).String() + "@" + addr + "/" + path
	}
	u, err := base.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := c.Describe(u)
	var bad liberrors.ErrClientBadStatusCode
	switch {
	case err == nil:
		return int(res.StatusCode)
	case errors.As(err, &bad):
		return int(bad.Code)
	}
	t.Logf("describe %s as %q: %v", path, user, err)
	return -1
}

// TestVideoAndStreamFollowJurisdiction: the RTSP re-serve asks for
// credentials and serves only cameras the user may see; the event stream
// carries only what lies in the user's cells.
func TestVideoAndStreamFollowJurisdiction(t *testing.T) {
	g := startGateway(t)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	ix := g.Grids()
	a, _ := ix.Get(cellA)
	for i, c := range []struct{ id, cell string }{{"camIn", cellA}, {"camOut", cellB}} {
		lat, lon := inside(t, ix, c.cell)
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": c.id, "name": c.id,
			"streams": map[string]string{"main": fleet.URL(i+1, false), "sub": fleet.URL(i+1, true)}, "location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	worker := a.Roles.GridWorker
	wpw := addUser(t, admin, worker, "grid_worker", nil, "")
	dpw := addUser(t, admin, "u-police", "department", nil, "police")
	addUser(t, admin, "u-off", "viewer", []string{street}, "")
	video := issueToken(t, admin, "nvr", "video")
	noVideo := issueToken(t, admin, "reader", "cameras:read")

	rtsp := g.RTSPAddr()
	for _, tc := range []struct {
		name, user, pass, path string
		want                   int
	}{
		{"anonymous", "", "", "camIn", 401},
		{"grid worker, own cell", worker, wpw, "camIn", 200},
		{"grid worker, sub stream", worker, wpw, "camIn/sub", 200},
		{"grid worker, other cell", worker, wpw, "camOut", 404},
		{"department without cells", "u-police", dpw, "camIn", 404},
		{"wrong password", worker, "wrong-password", "camIn", 401},
		{"any name + video token", "nvr", video, "camOut", 200},
		{"token without video", "x", noVideo, "camIn", 401},
		{"admin token", "admin", token, "camOut", 200},
		{"unknown camera", worker, wpw, "nope", 404},
	} {
		if got := rtspDescribe(t, rtsp, tc.user, tc.pass, tc.path); got != tc.want {
			t.Errorf("RTSP %s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// A disabled user is refused at once, on RTSP too.
	if code, out := admin.json("PATCH", "/api/v1/users/"+worker, map[string]any{"disabled": true}); code != 200 {
		t.Fatalf("disable: %d %v", code, out)
	}
	if got := rtspDescribe(t, rtsp, worker, wpw, "camIn"); got != 401 {
		t.Errorf("RTSP as a disabled user: %d", got)
	}
	admin.json("PATCH", "/api/v1/users/"+worker, map[string]any{"disabled": false})

	// The event stream: the grid worker hears of their cell only.
	events := signIn(t, admin.base, worker, wpw).stream("")
	now := time.Now().UTC().Format(time.RFC3339)
	for _, ev := range []struct{ id, cam string }{{"o1", "camOut"}, {"i1", "camIn"}} {
		if code, out := admin.json("POST", "/api/v1/events", map[string]any{"source": "ai", "source_event_id": ev.id, "camera_id": ev.cam,
			"kind": "fire_smoke", "phase": "start", "time": now}); code != 200 {
			t.Fatalf("event: %d %v", code, out)
		}
	}
	sc := bufio.NewScanner(events)
	var seen []string
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			seen = append(seen, d)
			if strings.Contains(d, `"camera_id":"camIn"`) && strings.Contains(d, "fire_smoke") {
				break
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("the grid worker's stream carried nothing")
	}
	for _, d := range seen {
		if strings.Contains(d, "camOut") || strings.Contains(d, cellB) {
			t.Errorf("the grid worker's stream carried another cell's message: %s", d)
		}
	}
}

func jpegPhoto(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 16, 12)), nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
