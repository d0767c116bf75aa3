package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/registry"
)

// Regression tests for the data-loss and bad-input cases of the
// hardening issue, each through a real gateway.

// An export fed back to import keeps every camera secret, in every place a
// camera URL carries one.
func TestExportImportKeepsSecrets(t *testing.T) {
	var logBuf lockedBuffer
	g := startGatewayLogged(t, &logBuf)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	urls := map[string]string{
		"userinfo": "rtsp://admin:Pa55w0rd-1@10.1.2.3:554/Streaming/Channels/101",
		"xmeye":    "rtsp://10.1.2.4:554/user=admin&password=Xm3yeSecret&channel=1&stream=0.sdp",
		"query":    "rtsp://10.1.2.5/live?channel=1&password=QuerySecret9",
	}
	for id, u := range urls {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "streams": map[string]string{"main": u, "sub": u}}); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, out)
		}
	}
	code, raw := api.do("GET", "/api/v1/cameras", "", nil, true)
	for _, secret := range []string{"Pa55w0rd-1", "Xm3yeSecret", "QuerySecret9"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the camera list shows %s: %s", secret, raw)
		}
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if code != 200 || json.Unmarshal(raw, &page) != nil || len(page.Items) != 3 {
		t.Fatalf("list: %d %s", code, raw)
	}
	export, _ := json.Marshal(page.Items)
	if code, raw := api.do("POST", "/api/v1/cameras/import?mode=upsert", "application/json", export, true); code != 200 {
		t.Fatalf("import the export: %d %s", code, raw)
	}
	for id, u := range urls {
		eventually(t, 5*time.Second, "the import applied", func() bool {
			cam, _ := g.Catalog().Get(id)
			return cam.Streams.Main == u && cam.Streams.Sub == u
		})
	}
	for _, secret := range []string{"Pa55w0rd-1", "Xm3yeSecret", "QuerySecret9"} {
		if strings.Contains(logBuf.String(), secret) {
			t.Errorf("the log shows %s", secret)
		}
	}
}

// A CSV whose first field opens a quote it never closes is a 400 naming the
// row, not a recovered panic.
func TestCSVImportWithBadQuotes(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for _, body := range []string{
		"id,name,main\n\"c1,cam,rtsp://10.1.2.3/a\n",
		"id,name,main\n\"c1\"x,cam,rtsp://10.1.2.3/a\nc2,cam,rtsp://10.1.2.3/b\n",
		"\"id,name,main\n",
	} {
		code, raw := api.do("POST", "/api/v1/cameras/import", "text/csv", []byte(body), true)
		if code != 400 || !strings.Contains(string(raw), "error") {
			t.Errorf("CSV %q: %d %s", body, code, raw)
		}
	}
	if n := len(g.Catalog().All()); n != 0 {
		t.Fatalf("a refused import left %d cameras", n)
	}
}

// A cluster node on a fresh machine creates its data_dir (the SQL store
// lives there) when the registry is an external etcd.
func TestExternalEtcdCreatesDataDir(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	dir := filepath.Join(t.TempDir(), "fresh", "node")
	g := startGateway(t, "SHARPEYES_REGISTRY_ENDPOINTS="+etcd.Endpoint, "SHARPEYES_DATA_DIR="+dir)
	defer g.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := api.do("GET", "/readyz", "", nil, false); code != 200 {
		t.Fatalf("readyz: %d %s", code, raw)
	}
}

// GET /events lists what was received, filtered, page by page; incident
// filters match whole camera ids.
func TestEventListAndExactIncidentFilters(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for _, id := range []string{"C1", "C10"} {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "streams": map[string]string{"main": "rtsp://10.1.2.3/" + id}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var evs []map[string]any
	for i := 0; i < 25; i++ {
		evs = append(evs, map[string]any{"source": "ai", "source_event_id": fmt.Sprint("e", i), "camera_id": "C10",
			"kind": []string{"crowd", "loiter"}[i%2], "phase": "pulse", "time": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)})
	}
	body, _ := json.Marshal(evs)
	if code, raw := api.do("POST", "/api/v1/events", "application/json", body, true); code != 200 {
		t.Fatalf("events: %d %s", code, raw)
	}
	if _, out := api.json("GET", "/api/v1/incidents?camera_id=C1", nil); len(out["items"].([]any)) != 0 {
		t.Errorf("camera_id=C1 matched C10's incidents: %v", out["items"])
	}
	if _, out := api.json("GET", "/api/v1/incidents?camera_id=C10", nil); len(out["items"].([]any)) != 2 {
		t.Errorf("camera_id=C10: %v", out["items"])
	}
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		code, out := api.json("GET", "/api/v1/events?camera_id=C10&kind=crowd&limit=5&cursor="+cursor, nil)
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		for _, it := range out["items"].([]any) {
			got = append(got, it.(map[string]any)["source_event_id"].(string))
		}
		if cursor, _ = out["next_cursor"].(string); cursor == "" {
			break
		}
	}
	if len(got) != 13 || got[0] != "e24" || got[12] != "e0" {
		t.Fatalf("crowd events newest first over pages: %v", got)
	}
	from := base.Add(10 * time.Minute).Format(time.RFC3339)
	to := base.Add(12 * time.Minute).Format(time.RFC3339)
	if _, out := api.json("GET", "/api/v1/events?source=ai&from="+from+"&to="+to, nil); len(out["items"].([]any)) != 2 {
		t.Errorf("from/to: %v", out["items"])
	}
	if _, out := api.json("GET", "/api/v1/events?camera_id=C1", nil); len(out["items"].([]any)) != 0 {
		t.Errorf("camera_id=C1 listed C10's events")
	}
	if code, _ := api.json("GET", "/api/v1/events?cursor=garbage", nil); code != 400 {
		t.Errorf("bad cursor: %d", code)
	}
}

// A GB/T 28181 device that reboots starts its SN again: its next alarms are
// new alarms, while a retransmission of one alarm is still a duplicate.
func TestGB28181AlarmsAfterRebootAreNotDuplicates(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := "32100200001320000009"
	if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": dev, "name": "gb", "streams": map[string]string{"main": "rtsp://10.1.2.9/a"}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	alarm := func(sn int, at time.Time) bool {
		body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>%d</SN><DeviceID>%s</DeviceID><AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>%s</AlarmTime><Info><AlarmType>6</AlarmType></Info></Notify>`,
			sn, dev, at.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05"))
		code, raw := api.do("POST", "/api/v1/events/gb28181", "application/xml", []byte(body), true)
		var out struct {
			Items []struct {
				Duplicate bool `json:"duplicate"`
			} `json:"items"`
		}
		if code != 200 || json.Unmarshal(raw, &out) != nil || len(out.Items) != 1 {
			t.Fatalf("alarm: %d %s", code, raw)
		}
		return out.Items[0].Duplicate
	}
	before := time.Now().Add(-10 * time.Minute)
	if alarm(1, before) {
		t.Fatal("first alarm is a duplicate")
	}
	if !alarm(1, before) {
		t.Fatal("a retransmission is not a duplicate")
	}
	if alarm(1, time.Now().Add(-time.Minute)) { // after a reboot: SN 1 again, a new alarm
		t.Fatal("a new alarm after the device's SN reset was dropped as a duplicate")
	}
}

// Bodies are bounded by the route before anyone reads them, junk WHEP
// offers start no camera pull, and slow, idle and surplus connections are
// let go.
func TestBodiesAndConnectionsAreBounded(t *testing.T) {
	g := startGateway(t, "SHARPEYES_HTTP_READ_TIMEOUT=1s", "SHARPEYES_HTTP_IDLE_TIMEOUT=1s", "SHARPEYES_HTTP_MAX_STREAMS=2")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": "od", "name": "od", "on_demand": true,
		"streams": map[string]string{"main": fleet.URL(1, false)}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	// A 30 MB body to a path that merely ends in /import: 413 at once, unread.
	raw := func(req string) (string, time.Duration) {
		conn, err := net.Dial("tcp", g.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		return string(b), time.Since(start)
	}
	resp, took := raw("POST /api/v1/whep/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/sdp\r\nContent-Length: 31457280\r\n\r\n")
	if !strings.HasPrefix(resp, "HTTP/1.1 413") {
		t.Errorf("30 MB to /api/v1/whep/import: %.60q, want 413", resp)
	}
	// Junk offers do not start the on-demand camera.
	for i := 0; i < 3; i++ {
		if code, _ := api.do("POST", "/api/v1/whep/od", "application/sdp", []byte("v=0\r\nnot an offer"), true); code != 400 {
			t.Fatalf("junk offer: %d", code)
		}
	}
	if st := api.state("od"); st != "unknown" {
		t.Errorf("junk offers started the camera pull: state %s", st)
	}
	// A body that trickles is cut off after read_timeout; so is a connection that says nothing.
	resp, took = raw("POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	if took > 4*time.Second {
		t.Errorf("a slow body held its connection %v", took)
	}
	t.Logf("slow body: closed after %v (%.40q)", took.Round(10*time.Millisecond), resp)
	_, took = raw("")
	if took > 4*time.Second {
		t.Errorf("a silent connection was held %v", took)
	}
	// Event streams are bounded: the third of a limit of two is 503.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() int {
		req, _ := http.NewRequestWithContext(ctx, "GET", api.base+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
		}
		return resp.StatusCode
	}
	if a, b, c := open(), open(), open(); a != 200 || b != 200 || c != 503 {
		t.Errorf("streams: %d %d %d, want 200 200 503", a, b, c)
	}
	// A stream outlives read_timeout and write_timeout.
	time.Sleep(1500 * time.Millisecond)
	if c := open(); c != 503 {
		t.Errorf("the streams ended with the timeouts: a new one got %d", c)
	}
}

// /readyz tells the truth when the registry is gone; /healthz stays alive.
func TestReadyzFollowsTheRegistry(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "SHARPEYES_REGISTRY_ENDPOINTS="+etcd.Endpoint, "SHARPEYES_REGISTRY_DIAL_TIMEOUT=1s")
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, _ := api.do("GET", "/readyz", "", nil, false); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	etcd.Close()
	code, body := api.do("GET", "/readyz", "", nil, false)
	if code != 503 || !strings.Contains(string(body), "registry") {
		t.Errorf("readyz without etcd: %d %s", code, body)
	}
	if code, _ := api.do("GET", "/healthz", "", nil, false); code != 200 {
		t.Errorf("healthz without etcd: %d", code)
	}
	g.Close()
}

// Real devices push what they push: heartbeats are accepted, alarms
// without ?camera_id= find their camera from the device's identity (or
// say clearly that none matches), and an ISAPI alarm's picture is kept.
func TestDeviceAlarmsFindTheirCameraAndKeepThePicture(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for _, c := range []map[string]any{
		{"id": "hik1", "name": "hik1", "streams": map[string]string{"main": "rtsp://admin:pw@10.9.8.7:554/Streaming/Channels/101"}},
		{"id": "nvr-1", "name": "nvr-1", "streams": map[string]string{"main": "rtsp://10.9.8.8:554/Streaming/Channels/101"}, "device": map[string]string{"address": "44-19-B6-00-AA-01", "channel": "1"}},
		{"id": "nvr-2", "name": "nvr-2", "streams": map[string]string{"main": "rtsp://10.9.8.8:554/Streaming/Channels/201"}, "device": map[string]string{"address": "44-19-B6-00-AA-01", "channel": "2"}},
		{"id": "gbcam", "name": "gbcam", "streams": map[string]string{"main": "rtsp://10.9.8.9/a"}, "device": map[string]string{"address": "34020000001320000099"}},
	} {
		if code, out := api.json("POST", "/api/v1/cameras", c); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	alert := func(ip, mac, ch, typ string) string {
		return `<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><ipAddress>` + ip + `</ipAddress><macAddress>` + mac +
			`</macAddress><channelID>` + ch + `</channelID><dateTime>` + now + `</dateTime><activePostCount>1</activePostCount><eventType>` + typ +
			`</eventType><eventState>active</eventState></EventNotificationAlert>`
	}
	post := func(ctype, body string) (int, map[string]any) {
		code, raw := api.do("POST", "/api/v1/events/isapi", ctype, []byte(body), true)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	cameraOf := func(out map[string]any) string {
		items, _ := out["items"].([]any)
		if len(items) != 1 {
			return ""
		}
		_, in := api.json("GET", "/api/v1/incidents/"+items[0].(map[string]any)["incident_id"].(string), nil)
		s, _ := in["camera_id"].(string)
		return s
	}
	hb := `<EventNotificationAlert version="2.0"><ipAddress>10.9.8.7</ipAddress><dateTime>` + now + `</dateTime><eventType>heartBeat</eventType><eventState>inactive</eventState></EventNotificationAlert>`
	if code, out := post("application/xml", hb); code != 200 || out["heartbeat"] != true {
		t.Errorf("heartBeat: %d %v", code, out)
	}
	if code, out := post("application/xml", alert("10.9.8.7", "", "1", "tamperdetection")); code != 200 || cameraOf(out) != "hik1" {
		t.Errorf("alarm from hik1's stream host: %d %v", code, out)
	}
	if code, out := post("application/xml", alert("10.9.8.8", "44:19:b6:00:aa:01", "2", "tamperdetection")); code != 200 || cameraOf(out) != "nvr-2" {
		t.Errorf("alarm from the NVR's channel 2: %d %v", code, out)
	}
	// The same alert sent for two cameras (an alarm relay naming each with
	// ?camera_id=) is two events; sent twice for one, it is one.
	same := alert("10.9.8.6", "44:19:b6:00:aa:09", "1", "shelteralarm")
	var twice []string
	for _, cam := range []string{"hik1", "nvr-1", "nvr-1"} {
		code, raw := api.do("POST", "/api/v1/events/isapi?camera_id="+cam, "application/xml", []byte(same), true)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		items, _ := out["items"].([]any)
		if code != 200 || len(items) != 1 {
			t.Fatalf("the same alert for %s: %d %s", cam, code, raw)
		}
		it := items[0].(map[string]any)
		twice = append(twice, fmt.Sprint(it["duplicate"] == true, " ", cameraOf(out)))
	}
	if fmt.Sprint(twice) != "[false hik1 false nvr-1 true nvr-1]" {
		t.Errorf("the same ISAPI alert for hik1, nvr-1 and nvr-1 again: (duplicate, camera) = %v; want new, new, duplicate", twice)
	}
	if code, out := post("application/xml", alert("10.9.9.9", "00:00:00:00:00:01", "1", "tamperdetection")); code != 400 ||
		out["field"] != "camera_id" || !strings.Contains(out["error"].(string), "no camera matches") {
		t.Errorf("alarm from an unknown device: %d %v", code, out)
	}
	gb := `<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>3</SN><DeviceID>34020000001320000099</DeviceID><AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>` +
		time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05") + `</AlarmTime><Info><AlarmType>11</AlarmType></Info></Notify>`
	code, raw := api.do("POST", "/api/v1/events/gb28181", "application/xml", []byte(gb), true)
	var gbOut map[string]any
	_ = json.Unmarshal(raw, &gbOut)
	if code != 200 || cameraOf(gbOut) != "gbcam" {
		t.Errorf("GB/T 28181 alarm from a declared device code: %d %s", code, raw)
	}

	// A multipart alarm with its picture: the picture becomes the event's
	// media, shown with the case it opens, to those who may see the camera.
	var jpg bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	multipartAlarm := func(picture []byte) (string, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="fireDetection"`)
		h.Set("Content-Type", "application/xml")
		pw, _ := w.CreatePart(h)
		pw.Write([]byte(alert("10.9.8.7", "", "1", "firedetection")))
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="fireDetectionPicture"; filename="fire.jpg"`)
		h.Set("Content-Type", "image/jpeg")
		pw, _ = w.CreatePart(h)
		pw.Write(picture)
		w.Close()
		return w.FormDataContentType(), b.String()
	}
	ct, body := multipartAlarm(jpg.Bytes())
	code, out := post(ct, body)
	if code != 200 {
		t.Fatalf("multipart alarm: %d %v", code, out)
	}
	caseID, _ := out["items"].([]any)[0].(map[string]any)["case_id"].(string)
	_, cs := api.json("GET", "/api/v1/cases/"+caseID, nil)
	media, _ := cs["media"].([]any)
	if len(media) != 1 {
		t.Fatalf("the case shows no picture: %v", cs)
	}
	code, pic := api.do("GET", media[0].(string), "", nil, true)
	if code != 200 || !bytes.Equal(pic, jpg.Bytes()) {
		t.Fatalf("the picture: %d, %d bytes", code, len(pic))
	}
	if code, _ := api.do("GET", media[0].(string), "", nil, false); code != 401 {
		t.Errorf("the picture without credentials: %d", code)
	}
	// Not a picture: the alarm still counts, the "picture" is not kept.
	ct, body = multipartAlarm([]byte("<html>not a picture</html>"))
	body = strings.Replace(body, "<activePostCount>1<", "<activePostCount>2<", 1)
	if code, out := post(ct, body); code != 200 || len(out["items"].([]any)) != 1 {
		t.Errorf("alarm with a bad picture: %d %v", code, out)
	}
}
