package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// gbAlarmBody is an Alarm notification of channel id: method and typ as
// written ("" leaves the element out), at the time given.
func gbAlarmBody(id, method, typ, at string) string {
	info := ""
	if typ != "" {
		info = "<Info><AlarmType>" + typ + "</AlarmType></Info>"
	}
	m := ""
	if method != "" {
		m = "<AlarmMethod>" + method + "</AlarmMethod>"
	}
	return `<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>7</SN><DeviceID>` + id +
		`</DeviceID><AlarmPriority>2</AlarmPriority>` + m + `<AlarmTime>` + at + `</AlarmTime>` + info + `</Notify>`
}

// TestEveryGBAlarmIsAnEvent: every AlarmMethod/AlarmType pair of GB/T
// 28181-2016 appendix A.2.5.5 (and each method without a type, as
// GB/T 28181-2011 sends them) is an event of its own kind that the intake
// takes; a pair the standard does not list, a method that is no number,
// no method at all, a missing or wrong AlarmTime, a priority out of range:
// each is still an event (kind alarm for what has no kind, with method
// and type kept), never an error.
func TestEveryGBAlarmIsAnEvent(t *testing.T) {
	at := now.In(beijing).Format("2006-01-02T15:04:05")
	kinds := map[string][2]int{}
	for _, p := range GBAlarmPairs() {
		typ := ""
		if p[1] != 0 {
			typ = fmt.Sprint(p[1])
		}
		e, err := FromGB28181([]byte(gbAlarmBody("32100300001310000001", fmt.Sprint(p[0]), typ, at)), now)
		if err != nil {
			t.Fatalf("method %d type %d: %v", p[0], p[1], err)
		}
		if err := e.Normalize(now); err != nil {
			t.Fatalf("method %d type %d: %+v refused by the intake: %v", p[0], p[1], e, err)
		}
		if e.Kind == Alarm && p[0] != 7 {
			t.Errorf("method %d type %d has no kind of its own", p[0], p[1])
		}
		if prev, dup := kinds[e.Kind]; dup && e.Kind != Tamper && e.Kind != StorageFault {
			t.Errorf("method %d type %d and %v are both %s", p[0], p[1], prev, e.Kind)
		}
		kinds[e.Kind] = p
		if !e.Time.Equal(now) {
			t.Errorf("method %d type %d: time %v, want %v", p[0], p[1], e.Time, now)
		}
		// Told upward, a kind is a pair the standard lists.
		m, ty := GBAlarm(e.Kind)
		if back := gbKind(m, ty); back != e.Kind {
			t.Errorf("kind %s goes upward as %d/%d, which reads back as %s", e.Kind, m, ty, back)
		}
	}
	if len(GBAlarmPairs()) < 25 {
		t.Fatalf("only %d pairs", len(GBAlarmPairs()))
	}
	odd := map[string]string{
		"type 99 of device alarms":  gbAlarmBody("32100300001310000001", "2", "99", at),
		"method 9":                  gbAlarmBody("32100300001310000001", "9", "1", at),
		"method not a number":       gbAlarmBody("32100300001310000001", "video", "2", at),
		"no method":                 gbAlarmBody("32100300001310000001", "", "", at),
		"no time":                   gbAlarmBody("32100300001310000001", "5", "2", ""),
		"a time in 2099":            gbAlarmBody("32100300001310000001", "5", "2", "2099-01-01T00:00:00"),
		"a time in 2000":            gbAlarmBody("32100300001310000001", "5", "2", "2000-01-01T00:00:00"),
		"priority 9":                strings.Replace(gbAlarmBody("32100300001310000001", "5", "2", at), "<AlarmPriority>2", "<AlarmPriority>9", 1),
		"type outside Info":         strings.Replace(gbAlarmBody("32100300001310000001", "5", "", at), "</Notify>", "<AlarmType>6</AlarmType></Notify>", 1),
		"method and type with room": gbAlarmBody("32100300001310000001", " 5 ", " 4 ", at),
	}
	want := map[string]string{"type 99 of device alarms": DeviceAlarm, "method 9": Alarm, "method not a number": Alarm, "no method": Alarm,
		"no time": Motion, "a time in 2099": Motion, "a time in 2000": Motion, "priority 9": Motion, "type outside Info": Intrusion,
		"method and type with room": ObjectRemoved}
	for name, body := range odd {
		e, err := FromGB28181([]byte(body), now)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := e.Normalize(now); err != nil {
			t.Errorf("%s: the intake refuses %+v: %v", name, e, err)
		}
		if e.Kind != want[name] {
			t.Errorf("%s: kind %s, want %s", name, e.Kind, want[name])
		}
		var raw gbRaw
		if err := json.Unmarshal(e.Raw, &raw); err != nil || raw.DeviceID != "32100300001310000001" {
			t.Errorf("%s: raw %s", name, e.Raw)
		}
		if e.Kind == Alarm && strings.Contains(body, "<AlarmMethod>") && !strings.Contains(body, "<AlarmMethod>"+raw.AlarmMethod+"</AlarmMethod>") {
			t.Errorf("%s: the method sent is not kept: %s", name, e.Raw)
		}
		if strings.Contains(name, "time") && (raw.TimeNote == "" || !e.Time.Equal(now)) {
			t.Errorf("%s: time %v (%q), want the time received", name, e.Time, raw.TimeNote)
		}
	}
	// A retransmission is the same event; the next alarm is another.
	a, _ := FromGB28181([]byte(gbAlarmBody("32100300001310000001", "5", "2", "")), now)
	b, _ := FromGB28181([]byte(gbAlarmBody("32100300001310000001", "5", "2", "")), now.Add(3*time.Second))
	c, _ := FromGB28181([]byte(strings.Replace(gbAlarmBody("32100300001310000001", "5", "2", ""), "<SN>7", "<SN>8", 1)), now)
	if a.SourceEventID != b.SourceEventID || a.SourceEventID == c.SourceEventID {
		t.Errorf("ids: %s, retransmitted %s, next %s", a.SourceEventID, b.SourceEventID, c.SourceEventID)
	}
}
