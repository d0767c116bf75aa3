package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FromONVIF reads a WS-BaseNotification Notify (or one NotificationMessage)
// from an ONVIF device. The message does not name our camera, so the
// integrator gives cameraID (e.g. in the URL it configured on the device).
func FromONVIF(body []byte, cameraID string) ([]Event, error) {
	var doc struct {
		Messages []struct {
			Topic   string `xml:"Topic"`
			Message struct {
				Msg struct {
					UtcTime   string `xml:"UtcTime,attr"`
					Operation string `xml:"PropertyOperation,attr"`
					Source    []item `xml:"Source>SimpleItem"`
					Data      []item `xml:"Data>SimpleItem"`
				} `xml:"Message"`
			} `xml:"Message"`
		} `xml:"Body>Notify>NotificationMessage"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: ONVIF notification is not XML: %v", ErrInvalid, err)
	}
	var out []Event
	for i, m := range doc.Messages {
		topic := strings.TrimSpace(m.Topic)
		kind := onvifKind(topic)
		if kind == "" {
			return nil, &FieldError{"kind", fmt.Sprintf("message %d: ONVIF topic %q has no mapping", i, topic)}
		}
		t, err := time.Parse(time.RFC3339Nano, m.Message.Msg.UtcTime)
		if err != nil {
			return nil, &FieldError{"time", fmt.Sprintf("message %d: UtcTime %q is not a time", i, m.Message.Msg.UtcTime)}
		}
		phase := PhasePulse
		for _, d := range m.Message.Msg.Data {
			switch strings.ToLower(d.Value) {
			case "true":
				phase = PhaseStart
			case "false":
				phase = PhaseEnd
			}
		}
		if m.Message.Msg.Operation == "Initialized" && phase == PhaseEnd {
			continue // the initial "all quiet" a device sends on subscription
		}
		src := ""
		for _, s := range m.Message.Msg.Source {
			src += s.Name + "=" + s.Value + ";"
		}
		raw, _ := json.Marshal(map[string]any{"topic": topic, "source": src, "data": m.Message.Msg.Data})
		out = append(out, Event{Source: "onvif", SourceEventID: digest(cameraID, topic, src, m.Message.Msg.UtcTime, phase),
			CameraID: cameraID, Kind: kind, Phase: phase, Time: t, Raw: raw})
	}
	if len(out) == 0 && len(doc.Messages) == 0 {
		return nil, fmt.Errorf("%w: no NotificationMessage in the ONVIF body", ErrInvalid)
	}
	return out, nil
}

type item struct {
	Name  string `xml:"Name,attr" json:"name"`
	Value string `xml:"Value,attr" json:"value"`
}

func onvifKind(topic string) string {
	t := strings.ToLower(topic)
	switch {
	case strings.Contains(t, "globalscenechange"), strings.Contains(t, "tamper"):
		return Tamper
	case strings.Contains(t, "signalloss"):
		return VideoLoss
	case strings.Contains(t, "motionalarm"), strings.Contains(t, "cellmotiondetector"), strings.Contains(t, "motiondetector"):
		return Motion
	case strings.Contains(t, "linedetector"):
		return LineCross
	case strings.Contains(t, "fielddetector"):
		return Intrusion
	case strings.Contains(t, "loitering"):
		return Loiter
	case strings.Contains(t, "device/trigger/digitalinput"):
		return IO
	case strings.Contains(t, "storage"):
		return StorageFault
	}
	return ""
}

// FromISAPI reads a Hikvision EventNotificationAlert, XML or JSON, for a
// camera; ISAPI alerts carry no unique id, so one is derived from the content.
func FromISAPI(body []byte, cameraID string) (Event, error) {
	e, _, err := ParseISAPI(body)
	e.CameraID = cameraID
	return e, err
}

// ParseISAPI reads a Hikvision EventNotificationAlert and the identity of
// the device that sent it; the event's camera is left for the caller to
// find. A heartbeat is ErrHeartbeat.
func ParseISAPI(body []byte) (Event, Device, error) {
	var a struct {
		IPAddress   string `xml:"ipAddress" json:"ipAddress"`
		MACAddress  string `xml:"macAddress" json:"macAddress"`
		ChannelID   string `xml:"channelID" json:"channelID"`
		DateTime    string `xml:"dateTime" json:"dateTime"`
		EventType   string `xml:"eventType" json:"eventType"`
		EventState  string `xml:"eventState" json:"eventState"`
		Description string `xml:"eventDescription" json:"eventDescription"`
		PostCount   int    `xml:"activePostCount" json:"activePostCount"`
	}
	trimmed := strings.TrimSpace(string(body))
	var err error
	if strings.HasPrefix(trimmed, "{") {
		err = json.Unmarshal(body, &a)
	} else {
		err = xml.Unmarshal(body, &a)
	}
	if err != nil {
		return Event{}, Device{}, fmt.Errorf("%w: ISAPI EventNotificationAlert: %v", ErrInvalid, err)
	}
	dev := Device{IP: strings.TrimSpace(a.IPAddress), MAC: normalMAC(a.MACAddress), Channel: strings.TrimSpace(a.ChannelID)}
	if strings.EqualFold(a.EventType, "heartBeat") {
		return Event{}, dev, ErrHeartbeat
	}
	kind, ok := isapiKinds[strings.ToLower(a.EventType)]
	if !ok {
		return Event{}, dev, &FieldError{"kind", fmt.Sprintf("ISAPI eventType %q has no mapping", a.EventType)}
	}
	t, err := time.Parse(time.RFC3339, a.DateTime)
	if err != nil {
		return Event{}, dev, &FieldError{"time", fmt.Sprintf("ISAPI dateTime %q is not RFC 3339", a.DateTime)}
	}
	phase := PhasePulse
	switch strings.ToLower(a.EventState) {
	case "active":
		phase = PhaseStart
	case "inactive":
		phase = PhaseEnd
	}
	raw, _ := json.Marshal(a)
	return Event{Source: "isapi", SourceEventID: digest(a.IPAddress, a.MACAddress, a.ChannelID, a.EventType, a.DateTime, a.EventState, strconv.Itoa(a.PostCount)),
		Kind: kind, Phase: phase, Time: t, Raw: raw}, dev, nil
}

var isapiKinds = map[string]string{
	"vmd": Motion, "linedetection": LineCross, "fielddetection": Intrusion, "regionentrance": Intrusion,
	"tamperdetection": Tamper, "shelteralarm": Tamper, "videoloss": VideoLoss, "loitering": Loiter,
	"peoplegathering": Crowd, "firedetection": FireSmoke, "smokedetection": FireSmoke, "unattendedbaggage": ObjectLeft,
	"io": IO, "diskfull": StorageFault, "diskerror": StorageFault, "hdfull": StorageFault, "hderror": StorageFault,
}

// ForCamera gives a device-format event its camera. Hikvision and ONVIF
// alerts carry no unique id, so the one derived from their content is
// made the camera's own: the same alert sent for two cameras (an NVR's
// channels, two cameras of one model behind one relay) is two events, a
// retry of one is still one.
func (e *Event) ForCamera(cameraID string) {
	e.CameraID = cameraID
	if e.Source == "isapi" || e.Source == "onvif" {
		e.SourceEventID = digest(cameraID, e.SourceEventID)
	}
}

func digest(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}
