package events

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Kinds of GB/T 28181-2016 alarms (appendix A.2.5.5, the AlarmMethod
// and AlarmType of an Alarm notification) the other sources have no word
// for.
const (
	PhoneAlarm      = "phone_alarm"      // AlarmMethod 1, 电话报警
	SMSAlarm        = "sms_alarm"        // 3, 短信报警
	GPSAlarm        = "gps_alarm"        // 4, GPS 报警
	ManualAlarm     = "manual_alarm"     // 5/1, 人工视频报警
	ObjectRemoved   = "object_removed"   // 5/4, 物体移除检测
	Retrograde      = "retrograde"       // 5/7, 逆行检测
	FlowCount       = "flow_count"       // 5/9, 流量统计报警
	FastMotion      = "fast_motion"      // 5/12, 快速移动
	HighTemperature = "high_temperature" // 2/4, 设备高温报警
	LowTemperature  = "low_temperature"  // 2/5, 设备低温报警
	FanFault        = "fan_fault"        // 6/2, 存储设备风扇故障
	DeviceAlarm     = "device_alarm"     // 2 without a type (GB/T 28181-2011 has none)
	VideoAlarm      = "video_alarm"      // 5 without a type
	DeviceFault     = "fault"            // 6 without a type
	// Alarm is any alarm of no known kind: AlarmMethod 7 (其他报警), and a
	// method or type the standard does not list. Its raw payload keeps
	// the method and type as sent.
	Alarm = "alarm"
)

// gbAlarms is GB/T 28181-2016 appendix A.2.5.5: by AlarmMethod, the kind
// of each AlarmType (0: the method's kind when no type is given).
var gbAlarms = map[int]map[int]string{
	1: {0: PhoneAlarm},
	2: {0: DeviceAlarm, 1: VideoLoss, 2: Tamper, 3: StorageFault, 4: HighTemperature, 5: LowTemperature},
	3: {0: SMSAlarm},
	4: {0: GPSAlarm},
	5: {0: VideoAlarm, 1: ManualAlarm, 2: Motion, 3: ObjectLeft, 4: ObjectRemoved, 5: LineCross, 6: Intrusion, 7: Retrograde,
		8: Loiter, 9: FlowCount, 10: Crowd, 11: Tamper, 12: FastMotion},
	6: {0: DeviceFault, 1: StorageFault, 2: FanFault},
	7: {0: Alarm},
}

// GBAlarmPairs lists every AlarmMethod/AlarmType pair the standard names
// (type 0: a method sent without a type).
func GBAlarmPairs() [][2]int {
	var out [][2]int
	for m := 1; m <= 7; m++ {
		for t := 0; t <= 12; t++ {
			if _, ok := gbAlarms[m][t]; ok {
				out = append(out, [2]int{m, t})
			}
		}
	}
	return out
}

// gbKind maps an AlarmMethod and AlarmType to a kind: the standard's
// pairs to theirs, a known method with a type it does not list to the
// method's kind, anything else to Alarm.
func gbKind(method, typ int) string {
	types, ok := gbAlarms[method]
	if !ok {
		return Alarm
	}
	if k, ok := types[typ]; ok {
		return k
	}
	return types[0]
}

// GBAlarm is how a kind is told upward as a GB/T 28181 alarm: its
// AlarmMethod and AlarmType (7 and 0, other, for a kind the standard has
// no pair for).
func GBAlarm(kind string) (method, typ int) {
	switch kind {
	case Tamper:
		return 5, 11 // 视频异常: the picture covered or turned away
	case StorageFault:
		return 6, 1
	case VideoAlarm:
		return 5, 0
	}
	for _, p := range GBAlarmPairs() {
		if gbAlarms[p[0]][p[1]] == kind {
			return p[0], p[1]
		}
	}
	switch kind {
	case Offline, StorageFull:
		return 6, 0 // device faults
	}
	return 7, 0
}

// gbNotify is an Alarm notification as devices send it: numbers are read
// leniently (a space, a GB/T 28181-2011 notification without Info).
type gbNotify struct {
	CmdType   string   `xml:"CmdType"`
	SN        string   `xml:"SN"`
	DeviceID  string   `xml:"DeviceID"`
	Priority  string   `xml:"AlarmPriority"`
	Method    string   `xml:"AlarmMethod"`
	Time      string   `xml:"AlarmTime"`
	Desc      string   `xml:"AlarmDescription"`
	InfoType  string   `xml:"Info>AlarmType"`
	Type      string   `xml:"AlarmType"` // some devices put it outside Info
	Param     string   `xml:"Info>AlarmTypeParam>EventType"`
	Longitude *float64 `xml:"Longitude"`
	Latitude  *float64 `xml:"Latitude"`
}

// gbRaw is what an alarm's raw payload keeps.
type gbRaw struct {
	DeviceID    string `json:"device_id"`
	SN          string `json:"sn"`
	AlarmMethod string `json:"alarm_method"`
	AlarmType   string `json:"alarm_type,omitempty"`
	EventType   string `json:"event_type,omitempty"`
	Priority    string `json:"alarm_priority,omitempty"`
	AlarmTime   string `json:"alarm_time,omitempty"`
	Description string `json:"description,omitempty"`
	// TimeNote says why the time is the gateway's, not the device's.
	TimeNote string `json:"time_note,omitempty"`
}

// beijing is the zone GB/T 28181 devices keep their clocks in.
var beijing = time.FixedZone("CST", 8*3600)

// FromGB28181 reads a GB/T 28181 alarm notification (MANSCDP Notify with
// CmdType Alarm), received at received. DeviceID is the camera's 20-digit
// code, our camera id. No alarm is lost for what it says: a method or type
// without a mapping is kind Alarm with both kept in its raw payload; an
// AlarmTime missing, malformed or too far off the gateway's clock (a
// device whose clock is wrong) is the time it was received; a priority
// out of 1-4 is the kind's. Only a body that is no alarm is an error.
func FromGB28181(body []byte, received time.Time) (Event, error) {
	var n gbNotify
	// MANSCDP bodies are usually GB2312/GBK (GB18030 covers both).
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "gb2312", "gbk", "gb18030":
			return simplifiedchinese.GB18030.NewDecoder().Reader(r), nil
		case "utf-8", "utf8":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	if err := dec.Decode(&n); err != nil {
		return Event{}, fmt.Errorf("%w: GB/T 28181 alarm: %v", ErrInvalid, err)
	}
	if !strings.EqualFold(strings.TrimSpace(n.CmdType), "Alarm") {
		return Event{}, &FieldError{"CmdType", fmt.Sprintf("want Alarm, got %q", clipRaw(n.CmdType))}
	}
	n.DeviceID, n.SN = strings.TrimSpace(n.DeviceID), strings.TrimSpace(n.SN)
	if n.DeviceID == "" {
		return Event{}, &FieldError{"DeviceID", "is required: the channel or device the alarm is of"}
	}
	typ := n.InfoType
	if strings.TrimSpace(typ) == "" {
		typ = n.Type
	}
	method, typeNum := number(n.Method), number(typ)
	kind := gbKind(method, typeNum)
	raw := gbRaw{DeviceID: n.DeviceID, SN: clipRaw(n.SN), AlarmMethod: clipRaw(n.Method), AlarmType: clipRaw(typ), EventType: clipRaw(n.Param),
		Priority: clipRaw(n.Priority), AlarmTime: clipRaw(n.Time), Description: clipRaw(n.Desc)}
	// AlarmTime is local time without a zone (GB/T 28181 uses Beijing time).
	t, err := time.ParseInLocation("2006-01-02T15:04:05", strings.TrimSpace(n.Time), beijing)
	switch {
	case err != nil:
		t, raw.TimeNote = received, "AlarmTime missing or not 2006-01-02T15:04:05: the time received"
	case t.After(received.Add(5*time.Minute)) || t.Before(received.Add(-24*time.Hour)):
		t, raw.TimeNote = received, "AlarmTime too far from the gateway's clock: the time received"
	}
	prio := number(n.Priority)
	if prio < 1 || prio > 4 {
		prio = 0 // the kind's
	}
	b, _ := json.Marshal(raw)
	// One alarm is (device, SN, alarm time as sent): a retransmission
	// repeats all three, while a device that reboots starts its SN again
	// at a later time.
	id := n.DeviceID + "/" + clipRaw(n.SN) + "/"
	if raw.TimeNote == "" {
		id += t.UTC().Format("20060102T150405Z")
	} else {
		id += digest(n.Time, n.Method, typ)
	}
	if len(id) > 128 {
		id = digest(id)
	}
	e := Event{Source: "gb28181", SourceEventID: id, CameraID: n.DeviceID, Kind: kind, Phase: PhasePulse, Time: t, Priority: prio, Raw: b}
	if n.Latitude != nil && n.Longitude != nil && (*n.Latitude != 0 || *n.Longitude != 0) &&
		*n.Latitude >= -90 && *n.Latitude <= 90 && *n.Longitude >= -180 && *n.Longitude <= 180 {
		e.Lat, e.Lon = n.Latitude, n.Longitude
	}
	return e, nil
}

// number reads a decimal number devices wrote (-1 when it is none).
func number(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

// clipRaw bounds what a device wrote to 256 bytes.
func clipRaw(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.ToValidUTF8(s, "")
}
