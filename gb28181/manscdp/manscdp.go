// Package manscdp reads and writes the MANSCDP XML bodies of GB/T 28181
// SIP MESSAGEs (queries, responses, notifications, controls). It is pure:
// bytes in, values out.
//
// Devices declare GB2312 and mostly send it; some declare it and send
// UTF-8. A body that is valid UTF-8 with non-ASCII text is read as UTF-8
// whatever it declares (GB2312 Chinese is almost never valid UTF-8);
// otherwise the declared charset (GB2312, GBK and GB18030 all read as
// GB18030, their superset).
package manscdp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ErrInvalid is a body that is not MANSCDP XML.
var ErrInvalid = errors.New("not a MANSCDP body")

// MaxBody is the largest body read (a catalog page of a few channels is
// a few kB; devices split larger catalogs over several MESSAGEs).
const MaxBody = 256 << 10

// Message is any MANSCDP body, its root element in Kind (Query, Response,
// Notify, Control) and the fields of the commands the gateway uses.
type Message struct {
	Kind     string `xml:"-"`
	CmdType  string `xml:"CmdType"`
	SN       int    `xml:"SN"`
	DeviceID string `xml:"DeviceID"`

	// Catalog response.
	SumNum     int         `xml:"SumNum"`
	DeviceList *DeviceList `xml:"DeviceList"`

	// DeviceInfo response.
	DeviceName   string `xml:"DeviceName"`
	Manufacturer string `xml:"Manufacturer"`
	Model        string `xml:"Model"`
	Firmware     string `xml:"Firmware"`
	Channel      int    `xml:"Channel"`
	Result       string `xml:"Result"`

	// Keepalive and DeviceStatus.
	Status string `xml:"Status"`
	Online string `xml:"Online"`

	// Control.
	PTZCmd string `xml:"PTZCmd"`

	// MediaStatus notification (121: a Playback or Download sent whole).
	NotifyType string `xml:"NotifyType"`

	// RecordInfo query (StartTime, EndTime, Type) and response
	// (SumNum, RecordList).
	StartTime  string      `xml:"StartTime"`
	EndTime    string      `xml:"EndTime"`
	Type       string      `xml:"Type"`
	RecordList *RecordList `xml:"RecordList"`
}

// RecordList is a page of a RecordInfo answer.
type RecordList struct {
	Num   int          `xml:"Num,attr"`
	Items []RecordItem `xml:"Item"`
}

// RecordItem is one recording a device keeps (GB/T 28181-2016 A.2.6.11):
// its channel, a time span in the device's local time, and its type
// (time, alarm, manual).
type RecordItem struct {
	DeviceID   string `xml:"DeviceID"`
	Name       string `xml:"Name"`
	FilePath   string `xml:"FilePath"`
	Address    string `xml:"Address"`
	StartTime  string `xml:"StartTime"`
	EndTime    string `xml:"EndTime"`
	Secrecy    int    `xml:"Secrecy"`
	Type       string `xml:"Type"`
	RecorderID string `xml:"RecorderID"`
	FileSize   string `xml:"FileSize"`
}

// DeviceList is a catalog page.
type DeviceList struct {
	Num   int    `xml:"Num,attr"`
	Items []Item `xml:"Item"`
}

// Item is one catalog entry: a channel (camera), or a device, an
// organisation or a virtual group.
type Item struct {
	DeviceID     string `xml:"DeviceID"`
	Name         string `xml:"Name"`
	Manufacturer string `xml:"Manufacturer"`
	Model        string `xml:"Model"`
	Owner        string `xml:"Owner"`
	CivilCode    string `xml:"CivilCode"`
	Address      string `xml:"Address"`
	Parental     int    `xml:"Parental"`
	ParentID     string `xml:"ParentID"`
	RegisterWay  int    `xml:"RegisterWay"`
	Secrecy      int    `xml:"Secrecy"`
	Status       string `xml:"Status"`
	Longitude    string `xml:"Longitude"`
	Latitude     string `xml:"Latitude"`
	Info         *struct {
		PTZType string `xml:"PTZType"` // read leniently: PTZType()
	} `xml:"Info"`
	// Event (ADD, DEL, UPDATE, ON, OFF…) in a catalog notification.
	Event string `xml:"Event"`
}

// Online tells whether the item's status says it is up (ON, ONLINE, OK).
func (it Item) Online() bool {
	switch strings.ToUpper(strings.TrimSpace(it.Status)) {
	case "ON", "ONLINE", "OK":
		return true
	}
	return false
}

// PTZ types of GB/T 28181-2016 appendix A.2.6.4 (Info/PTZType).
const (
	PTZUnknown      = 0 // not said (the field is optional)
	PTZDome         = 1 // 球机
	PTZHalfDome     = 2 // 半球
	PTZFixedBullet  = 3 // 固定枪机
	PTZRemoteBullet = 4 // 遥控枪机
)

// PTZType is the item's PTZ type, PTZUnknown when it says none or one
// the standard does not list.
func (it Item) PTZType() int {
	if it.Info == nil {
		return PTZUnknown
	}
	n, err := strconv.Atoi(strings.TrimSpace(it.Info.PTZType))
	if err != nil || n < PTZDome || n > PTZRemoteBullet {
		return PTZUnknown
	}
	return n
}

// Steerable tells whether the channel takes PTZ commands: a dome or a
// remote-controlled bullet, or a channel that does not say (as WVP and
// m7s, which send PTZ to those); a half-dome or a fixed bullet does not.
func (it Item) Steerable() bool {
	switch it.PTZType() {
	case PTZHalfDome, PTZFixedBullet:
		return false
	}
	return true
}

// Off tells whether the item's status says it is down (OFF, OFFLINE):
// a channel the device cannot see. A status the device left out is not
// off.
func (it Item) Off() bool {
	switch strings.ToUpper(strings.TrimSpace(it.Status)) {
	case "OFF", "OFFLINE":
		return true
	}
	return false
}

// Position is the item's longitude and latitude, when it carries valid
// ones (devices often send 0 or nothing).
func (it Item) Position() (lon, lat float64, ok bool) {
	lon, err1 := strconv.ParseFloat(strings.TrimSpace(it.Longitude), 64)
	lat, err2 := strconv.ParseFloat(strings.TrimSpace(it.Latitude), 64)
	if err1 != nil || err2 != nil || (lon == 0 && lat == 0) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
		return 0, 0, false
	}
	return lon, lat, true
}

// IsVideoChannel tells whether a 20-digit GB/T 28181 code names a video
// channel: type code (digits 11-13) 131 camera or 132 network camera.
func IsVideoChannel(id string) bool {
	if !IsCode(id) {
		return false
	}
	switch id[10:13] {
	case "131", "132":
		return true
	}
	return false
}

// IsCode tells whether s is a 20-digit GB/T 28181 code.
func IsCode(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decode reads a MANSCDP body.
func Decode(body []byte) (*Message, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalid, len(body), MaxBody)
	}
	utf := utf8.Valid(body) && hasNonASCII(body)
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if utf {
			return r, nil
		}
		switch strings.ToLower(label) {
		case "gb2312", "gbk", "gb18030", "gb-2312":
			return simplifiedchinese.GB18030.NewDecoder().Reader(r), nil
		case "utf-8", "utf8", "us-ascii", "":
			return r, nil
		}
		return nil, fmt.Errorf("charset %q", label)
	}
	var m Message
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "Query", "Response", "Notify", "Control":
			default:
				return nil, fmt.Errorf("%w: root element %q", ErrInvalid, se.Name.Local)
			}
			if err := dec.DecodeElement(&m, &se); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			m.Kind = se.Name.Local
			m.CmdType = strings.TrimSpace(m.CmdType)
			m.DeviceID = strings.TrimSpace(m.DeviceID)
			if m.CmdType == "" {
				return nil, fmt.Errorf("%w: no CmdType", ErrInvalid)
			}
			return &m, nil
		}
	}
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Encode writes a MANSCDP body of root kind with the given child
// elements in order (name, value), as GB2312 (GB18030) like the devices.
func Encode(kind string, fields ...Field) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<" + kind + ">\r\n")
	for _, f := range fields {
		writeField(&b, f, 1)
	}
	b.WriteString("</" + kind + ">\r\n")
	out, err := simplifiedchinese.GB18030.NewEncoder().String(b.String())
	if err != nil {
		// Only text GB18030 cannot hold (it holds all of Unicode): keep UTF-8.
		return []byte(b.String())
	}
	return []byte(out)
}

// Field is one element of a body: a value, or child elements (with
// attributes) when Children is set.
type Field struct {
	Name     string
	Value    string
	Attrs    [][2]string
	Children []Field
}

// F is a field with a value.
func F(name string, value any) Field { return Field{Name: name, Value: fmt.Sprint(value)} }

func writeField(b *strings.Builder, f Field, depth int) {
	b.WriteString(strings.Repeat("  ", depth) + "<" + f.Name)
	for _, a := range f.Attrs {
		b.WriteString(" " + a[0] + "=\"")
		_ = xml.EscapeText(b, []byte(a[1]))
		b.WriteString("\"")
	}
	b.WriteString(">")
	if f.Children != nil {
		b.WriteString("\r\n")
		for _, c := range f.Children {
			writeField(b, c, depth+1)
		}
		b.WriteString(strings.Repeat("  ", depth))
	} else {
		_ = xml.EscapeText(b, []byte(f.Value))
	}
	b.WriteString("</" + f.Name + ">\r\n")
}

// TimeLayout is how GB/T 28181 writes a time: the device's local time,
// no zone.
const TimeLayout = "2006-01-02T15:04:05"

// ParseTime reads a GB/T 28181 time in loc, the device's zone (some
// devices write a space for the T, or a zone the standard does not have).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{TimeLayout, "2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: time %q", ErrInvalid, s)
}

// RecordInfoQuery asks a device for the recordings of channel over
// [from, to], written in loc (the device's local time).
func RecordInfoQuery(sn int, channel string, from, to time.Time, loc *time.Location) []byte {
	return Encode("Query", F("CmdType", "RecordInfo"), F("SN", sn), F("DeviceID", channel),
		F("StartTime", from.In(loc).Format(TimeLayout)), F("EndTime", to.In(loc).Format(TimeLayout)), F("Secrecy", 0), F("Type", "all"))
}

// RecordInfoPage is one MESSAGE of a RecordInfo answer: sum recordings in
// all, items of them in this page.
func RecordInfoPage(sn int, channel, name string, sum int, items []RecordItem) []byte {
	list := Field{Name: "RecordList", Attrs: [][2]string{{"Num", strconv.Itoa(len(items))}}, Children: []Field{}}
	for _, it := range items {
		list.Children = append(list.Children, Field{Name: "Item", Children: []Field{
			F("DeviceID", it.DeviceID), F("Name", it.Name), F("FilePath", it.FilePath), F("Address", it.Address),
			F("StartTime", it.StartTime), F("EndTime", it.EndTime), F("Secrecy", it.Secrecy), F("Type", it.Type)}})
	}
	return Encode("Response", F("CmdType", "RecordInfo"), F("SN", sn), F("DeviceID", channel), F("Name", name), F("SumNum", sum), list)
}

// Query is a query body (Catalog, DeviceInfo, DeviceStatus…).
func Query(cmd string, sn int, deviceID string) []byte {
	return Encode("Query", F("CmdType", cmd), F("SN", sn), F("DeviceID", deviceID))
}
