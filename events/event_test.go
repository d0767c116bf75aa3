package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

var now = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

const onvifNotify = `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">
 <s:Body><wsnt:Notify>
  <wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
   <wsnt:Message><tt:Message UtcTime="2026-11-27T01:30:00Z" PropertyOperation="Changed">
    <tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceToken"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source>
    <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data>
   </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
  <wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:VideoSource/GlobalSceneChange/ImagingService</wsnt:Topic>
   <wsnt:Message><tt:Message UtcTime="2026-11-27T01:31:00Z" PropertyOperation="Changed">
    <tt:Source><tt:SimpleItem Name="Source" Value="VideoSourceToken"/></tt:Source>
    <tt:Data><tt:SimpleItem Name="State" Value="false"/></tt:Data>
   </tt:Message></wsnt:Message>
  </wsnt:NotificationMessage>
 </wsnt:Notify></s:Body></s:Envelope>`

func TestONVIF(t *testing.T) {
	evs, err := FromONVIF([]byte(onvifNotify), "32100200001320000001")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != Motion || evs[0].Phase != PhaseStart || evs[1].Kind != Tamper || evs[1].Phase != PhaseEnd {
		t.Fatalf("events %+v", evs)
	}
	if !evs[0].Time.Equal(time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)) || evs[0].SourceEventID == evs[1].SourceEventID {
		t.Fatalf("time or ids wrong: %+v", evs)
	}
	again, _ := FromONVIF([]byte(onvifNotify), "32100200001320000001")
	if again[0].SourceEventID != evs[0].SourceEventID {
		t.Fatal("the same notification got another id: retries would duplicate")
	}
	for _, e := range evs {
		if err := e.Normalize(now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := FromONVIF([]byte(strings.Replace(onvifNotify, "CellMotionDetector/Motion", "Foo/Bar", 1)), "c"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown topic: %v", err)
	}
}

func TestISAPIXMLAndJSON(t *testing.T) {
	xmlBody := `<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.1.2.3</ipAddress><portNo>80</portNo><protocol>HTTP</protocol><channelID>1</channelID>
<dateTime>2026-11-27T09:30:00+08:00</dateTime><activePostCount>1</activePostCount>
<eventType>tamperdetection</eventType><eventState>active</eventState><eventDescription>Tamper Detection</eventDescription>
</EventNotificationAlert>`
	e, err := FromISAPI([]byte(xmlBody), "cam1")
	if err != nil || e.Kind != Tamper || e.Phase != PhaseStart || !e.Time.Equal(time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", e, err)
	}
	j, err := FromISAPI([]byte(`{"ipAddress":"10.1.2.3","channelID":"1","dateTime":"2026-11-27T09:31:00+08:00","eventType":"linedetection","eventState":"inactive"}`), "cam1")
	if err != nil || j.Kind != LineCross || j.Phase != PhaseEnd {
		t.Fatalf("%+v %v", j, err)
	}
	for typ, kind := range map[string]string{"VMD": Motion, "fielddetection": Intrusion, "videoloss": VideoLoss} {
		e, err := FromISAPI([]byte(strings.Replace(xmlBody, "tamperdetection", typ, 1)), "cam1")
		if err != nil || e.Kind != kind {
			t.Errorf("%s: %s %v, want %s", typ, e.Kind, err, kind)
		}
	}
	if _, err := FromISAPI([]byte(strings.Replace(xmlBody, "2026-11-27T09:30:00+08:00", "yesterday", 1)), "c"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad time: %v", err)
	}
}

func TestGB28181InGB2312(t *testing.T) {
	body := `<?xml version="1.0" encoding="GB2312"?>
<Notify><CmdType>Alarm</CmdType><SN>17430</SN><DeviceID>32100200001320000001</DeviceID><AlarmPriority>1</AlarmPriority>
<AlarmMethod>5</AlarmMethod><AlarmTime>2026-11-27T09:30:00</AlarmTime><AlarmDescription>区域入侵</AlarmDescription>
<Longitude>119.4188</Longitude><Latitude>32.4105</Latitude><Info><AlarmType>6</AlarmType></Info></Notify>`
	gbk, err := simplifiedchinese.GB18030.NewEncoder().String(body)
	if err != nil {
		t.Fatal(err)
	}
	e, err := FromGB28181([]byte(gbk), now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != Intrusion || e.CameraID != "32100200001320000001" || e.Priority != 1 || e.SourceEventID != "32100200001320000001/17430/20261127T013000Z" ||
		!e.Time.Equal(time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC)) || e.Lat == nil || *e.Lat != 32.4105 {
		t.Fatalf("%+v", e)
	}
	if !strings.Contains(string(e.Raw), "区域入侵") {
		t.Fatalf("description not decoded from GB2312: %s", e.Raw)
	}
	if e, err := FromGB28181([]byte(strings.Replace(body, "<AlarmType>6", "<AlarmType>99", 1)), now); err != nil || e.Kind != VideoAlarm {
		t.Fatalf("a video alarm of a type the standard does not list: %+v %v, want a video_alarm", e, err)
	}
	if _, err := FromGB28181([]byte(strings.Replace(body, "Alarm<", "Keepalive<", 1)), now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("not an alarm: %v", err)
	}
}

func TestNormalizeRefusesBadEvents(t *testing.T) {
	good := func() Event {
		return Event{Source: "isapi", SourceEventID: "a1b2", CameraID: "cam1", Kind: Tamper, Phase: PhaseStart, Time: now.Add(-time.Minute)}
	}
	lat := 95.0
	cases := map[string]func(*Event){
		"source":          func(e *Event) { e.Source = "fax" },
		"source_event_id": func(e *Event) { e.SourceEventID = "" },
		"camera_id":       func(e *Event) { e.CameraID = "" },
		"kind":            func(e *Event) { e.Kind = "ufo" },
		"phase":           func(e *Event) { e.Phase = "middle" },
		"time":            func(e *Event) { e.Time = now.Add(time.Hour) },
		"priority":        func(e *Event) { e.Priority = 9 },
		"lat":             func(e *Event) { e.Lat, e.Lon = &lat, &lat },
	}
	for field, mutate := range cases {
		e := good()
		mutate(&e)
		var fe *FieldError
		if err := e.Normalize(now); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	e := good()
	if err := e.Normalize(now); err != nil || e.Priority != 2 {
		t.Fatalf("default priority: %d %v", e.Priority, err)
	}
	old := good()
	old.Time = now.Add(-31 * 24 * time.Hour)
	if err := old.Normalize(now); err == nil {
		t.Fatal("a 31-day-old event was accepted")
	}
}

// TestMediaURLIsAPictureOrALink: an event's media_url is the gateway's own
// picture or an http(s) address; script URLs, data, credentials in the
// URL and oversized ones are refused, so nothing a screen renders from it
// can run.
func TestMediaURLIsAPictureOrALink(t *testing.T) {
	for _, u := range []string{"javascript:alert(document.cookie)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox", "//evil.example/x.jpg", "/api/v1/cameras", "/api/v1/media/../users", "http://user:pw@10.1.2.3/a.jpg",
		"https://" + strings.Repeat("a", 2050) + ".example/", "http://10.1.2.3/a b.jpg", "file:///etc/passwd", "http:///nohost"} {
		e := Event{Source: "ai", SourceEventID: "m1", CameraID: "cam1", Kind: Tamper, Time: now.Add(-time.Minute), MediaURL: u}
		var fe *FieldError
		if err := e.Normalize(now); !errors.As(err, &fe) || fe.Field != "media_url" {
			t.Errorf("media_url %.60q: %v, want refused on media_url", u, err)
		}
	}
	for _, u := range []string{"/api/v1/media/0a1b2c", "https://ai-box.local/snap/17.jpg", "http://10.1.2.3:8080/ISAPI/pic?id=1"} {
		e := Event{Source: "ai", SourceEventID: "m1", CameraID: "cam1", Kind: Tamper, Time: now.Add(-time.Minute), MediaURL: u}
		if err := e.Normalize(now); err != nil || e.MediaURL != u {
			t.Errorf("media_url %q: %v (kept %q)", u, err, e.MediaURL)
		}
	}
}
