package api

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sharpeyes/registry"
)

const onvifMotion = `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">
 <s:Body><wsnt:Notify><wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
   <wsnt:Message><tt:Message UtcTime="2026-11-27T01:30:00Z" PropertyOperation="Changed">
    <tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceToken"/></tt:Source>
    <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>
   </tt:Message></wsnt:Message>
 </wsnt:NotificationMessage></wsnt:Notify></s:Body></s:Envelope>`

func TestDeviceAlarmsFindTheirCamera(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.gbCameras()

	// ONVIF with ?camera_id=, and from the sender's address (the camera's
	// stream host is 10.0.0.1, not the test's 127.0.0.1: no match).
	xml := []byte(onvifMotion)
	h.must(http.StatusOK, "POST", "/api/v1/events/onvif?camera_id=a1", adminToken, xml, "Content-Type", "application/soap+xml")
	if c := h.do("POST", "/api/v1/events/onvif", adminToken, xml, "Content-Type", "application/soap+xml"); c.status != http.StatusBadRequest {
		t.Fatalf("ONVIF from an unknown address: %d %s", c.status, c.body)
	} else if f, _ := c.errField(t); f != "camera_id" {
		t.Fatalf("field %q", f)
	}
	h.must(http.StatusBadRequest, "POST", "/api/v1/events/onvif?camera_id=a1", adminToken, []byte("<not-xml"), "Content-Type", "application/xml")

	// GB/T 28181: the channel code names the camera.
	at := time.Now().Format("2006-01-02T15:04:05")
	gb := `<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>7</SN><DeviceID>` + chA +
		`</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>2</AlarmMethod><AlarmTime>` + at + `</AlarmTime></Notify>`
	var out struct {
		Items []eventResult `json:"items"`
	}
	h.must(http.StatusOK, "POST", "/api/v1/events/gb28181", adminToken, []byte(gb), "Content-Type", "application/MANSCDP+xml").json(t, &out)
	if len(out.Items) != 1 || out.Items[0].IncidentID == "" {
		t.Fatalf("GB alarm %+v", out)
	}
	// A S-B token may not raise the S-A channel's alarm.
	west := h.token([]string{"events:write"}, "S-B")
	if c := h.do("POST", "/api/v1/events/gb28181", west, []byte(strings.Replace(gb, "<SN>7", "<SN>8", 1)), "Content-Type", "application/MANSCDP+xml"); c.status != http.StatusBadRequest {
		t.Fatalf("GB alarm of a channel outside: %d %s", c.status, c.body)
	}
	// ISAPI heartbeat: accepted, recorded nowhere.
	hb := `<EventNotificationAlert><ipAddress>10.0.0.1</ipAddress><eventType>videoloss</eventType><eventState>inactive</eventState><dateTime>` +
		time.Now().Format(time.RFC3339) + `</dateTime><activePostCount>0</activePostCount></EventNotificationAlert>`
	c := h.do("POST", "/api/v1/events/isapi?camera_id=a1", adminToken, []byte(hb), "Content-Type", "application/xml")
	if c.status != http.StatusOK {
		t.Fatalf("ISAPI heartbeat: %d %s", c.status, c.body)
	}
}

func TestOpen311(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	key := h.token([]string{"open311"})
	var svcs []map[string]any
	h.must(http.StatusOK, "GET", "/open311/v2/services.json?api_key="+key, "", nil).json(t, &svcs)
	if len(svcs) == 0 || svcs[0]["service_code"] == nil {
		t.Fatalf("services %+v", svcs)
	}
	if c := h.must(http.StatusOK, "GET", "/open311/v2/services.xml?api_key="+key, "", nil); !strings.Contains(string(c.body), "<services>") {
		t.Fatalf("services.xml %s", c.body)
	}
	post := func(form url.Values) call {
		form.Set("api_key", key)
		return h.do("POST", "/open311/v2/requests.json", "", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	c := post(url.Values{"service_code": {"public_order"}, "lat": {"30.005"}, "long": {"120.015"}, "description": {"<script>噪音</script>"}})
	if c.status != http.StatusOK {
		t.Fatalf("create: %d %s", c.status, c.body)
	}
	var made []struct {
		ID string `json:"service_request_id"`
	}
	c.json(t, &made)
	var one []struct {
		ID          string `json:"service_request_id"`
		Status      string `json:"status"`
		Description string `json:"description"`
	}
	h.must(http.StatusOK, "GET", "/open311/v2/requests/"+made[0].ID+".json?api_key="+key, "", nil).json(t, &one)
	if len(one) != 1 || one[0].Status != "open" || !strings.Contains(one[0].Description, "<script>") {
		t.Fatalf("request %+v", one)
	}
	cs, _ := h.cases.Get(t.Context(), made[0].ID)
	if cs.Grid != "S-B" {
		t.Fatalf("the case lies in %q", cs.Grid)
	}
	for _, form := range []url.Values{{"service_code": {"nope"}, "address_string": {"x"}}, {"service_code": {"public_order"}},
		{"service_code": {"public_order"}, "lat": {"200"}, "long": {"1"}}} {
		if c := post(form); c.status != http.StatusBadRequest {
			t.Errorf("%v: %d", form, c.status)
		}
	}
	var list []map[string]any
	h.must(http.StatusOK, "GET", "/open311/v2/requests.json?api_key="+key, "", nil).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("requests %+v", list)
	}
	h.must(http.StatusUnauthorized, "GET", "/open311/v2/requests.json", "", nil)
	h.must(http.StatusForbidden, "GET", "/open311/v2/requests.json?api_key="+h.token([]string{"cases:read"}), "", nil)
	h.must(http.StatusNotFound, "GET", "/open311/v2/services.csv?api_key="+key, "", nil)
	h.must(http.StatusNotFound, "GET", "/open311/v2/requests/nope.json?api_key="+key, "", nil)
}

func TestCasePhotos(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	r := h.event(adminToken, "a1", "crowd", "e-1")
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cases/" + r.CaseID + "/attachments"
	h.must(http.StatusUnsupportedMediaType, "POST", path, adminToken, []byte("hello"), "Content-Type", "text/plain")
	h.must(http.StatusUnsupportedMediaType, "POST", path, adminToken, []byte("not a png"), "Content-Type", "image/png")
	var saved struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.must(http.StatusCreated, "POST", path+"?name=scene.png", adminToken, buf.Bytes(), "Content-Type", "image/png").json(t, &saved)
	if len(saved.Items) != 1 {
		t.Fatalf("saved %+v", saved)
	}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", path, adminToken, nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("attachments %+v", list)
	}
	c := h.must(http.StatusOK, "GET", path+"/"+saved.Items[0].ID, adminToken, nil)
	if !bytes.Equal(c.body, buf.Bytes()) || c.header.Get("Content-Type") != "image/png" {
		t.Fatalf("photo back: %d bytes %v", len(c.body), c.header)
	}
	h.must(http.StatusNotFound, "GET", path+"/nope", adminToken, nil)
	h.must(http.StatusNotFound, "GET", path, h.token([]string{"cases:read"}, "S-B"), nil)
}

func TestEveryAnswerIsGuarded(t *testing.T) {
	h := newHarness(t, func(_ *harness, cfg *Config, d *Deps) {
		cfg.MaxBodyBytes = 4096
		d.Ready = func(context.Context) error { return registry.ErrUnavailable }
	})
	c := h.do("GET", "/api/v1/cameras", adminToken, nil)
	for _, hd := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if c.header.Get(hd) == "" {
			t.Errorf("no %s", hd)
		}
	}
	if csp := c.header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") && strings.Contains(csp, "script-src") &&
		strings.Contains(csp[strings.Index(csp, "script-src"):], "'unsafe-inline'") {
		t.Errorf("CSP allows inline script: %s", csp)
	}
	// Oversized bodies are refused before they are read; nothing changes.
	big := `{"id":"c1","name":"` + strings.Repeat("x", 8000) + `","streams":{"main":"rtsp://10.0.0.1/x"}}`
	h.must(http.StatusRequestEntityTooLarge, "POST", "/api/v1/cameras", adminToken, big)
	if _, ok := h.catalog.Get("c1"); ok {
		t.Fatal("an oversized body created a camera")
	}
	// Not ready: /readyz says so with 503, /healthz is still alive.
	h.must(http.StatusServiceUnavailable, "GET", "/readyz", "", nil)
	h.must(http.StatusOK, "GET", "/healthz", "", nil)
	// A CSP report is counted, with no credentials.
	h.must(http.StatusNoContent, "POST", cspReportPath, "", []byte(`{"csp-report":{"blocked-uri":"inline","violated-directive":"script-src"}}`),
		"Content-Type", "application/csp-report")
	if !strings.Contains(string(h.must(http.StatusOK, "GET", "/metrics", adminToken, nil).body), "sharpeyes_csp_violations_total 1") {
		t.Fatal("the CSP report was not counted")
	}
	// Without events and cases, their routes are not there.
	bare := newHarness(t, withoutCases())
	bare.must(http.StatusNotFound, "GET", "/api/v1/cases", adminToken, nil)
}
