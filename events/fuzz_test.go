package events

import (
	"errors"
	"testing"
	"time"
)

func checkAdapterError(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrHeartbeat) {
		t.Fatalf("error %v is neither ErrInvalid nor ErrHeartbeat", err)
	}
}

// FuzzONVIF: any notification body is events or ErrInvalid, never a panic.
func FuzzONVIF(f *testing.F) {
	f.Add([]byte(onvifNotify))
	f.Add([]byte(`<s:Envelope><s:Body/></s:Envelope>`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := FromONVIF(b, "cam1")
		checkAdapterError(t, err)
		for _, e := range evs {
			_ = e.Normalize(time.Now())
		}
	})
}

// FuzzISAPI: XML, JSON and multipart alarms parse or are ErrInvalid.
func FuzzISAPI(f *testing.F) {
	f.Add("application/xml", []byte(`<EventNotificationAlert><ipAddress>10.1.2.3</ipAddress><macAddress>44-19-b6-00-aa-01</macAddress><channelID>1</channelID><dateTime>2026-11-27T09:30:00+08:00</dateTime><eventType>tamperdetection</eventType><eventState>active</eventState></EventNotificationAlert>`))
	f.Add("application/json", []byte(`{"ipAddress":"10.1.2.3","channelID":"1","dateTime":"2026-11-27T09:31:00+08:00","eventType":"heartBeat","eventState":"inactive"}`))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Type: application/xml\r\n\r\n<EventNotificationAlert><eventType>VMD</eventType><dateTime>2026-11-27T09:30:00Z</dateTime></EventNotificationAlert>\r\n--X\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--X--\r\n"))
	f.Add("multipart/mixed", []byte("--"))
	f.Fuzz(func(t *testing.T, ctype string, b []byte) {
		alert, picture, err := SplitISAPI(ctype, b)
		checkAdapterError(t, err)
		if err != nil {
			return
		}
		if picture != nil {
			if _, err := CheckPicture(picture); err != nil && !errors.Is(err, ErrPicture) {
				t.Fatalf("picture error %v is not ErrPicture", err)
			}
		}
		_, _, err = ParseISAPI(alert)
		checkAdapterError(t, err)
	})
}

// FuzzGB28181: MANSCDP alarms in UTF-8 or GB2312 parse or are ErrInvalid.
func FuzzGB28181(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>34020000001320000001</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-11-27T09:30:00</AlarmTime><Info><AlarmType>6</AlarmType></Info></Notify>`))
	f.Add(append([]byte(`<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Alarm</CmdType><AlarmDescription>`), 0xc7, 0xf8, 0xd3, 0xf2, '<', '/', 'A', 'l', 'a', 'r', 'm', 'D', 'e', 's', 'c', 'r', 'i', 'p', 't', 'i', 'o', 'n', '>', '<', '/', 'N', 'o', 't', 'i', 'f', 'y', '>'))
	f.Add([]byte(`<?xml version="1.0" encoding="EBCDIC"?><Notify/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		at := time.Now()
		e, err := FromGB28181(b, at)
		checkAdapterError(t, err)
		if err == nil {
			// What parses as an alarm is one the intake takes.
			if err := e.Normalize(at); err != nil {
				t.Fatalf("alarm %q parsed into %+v, which the intake refuses: %v", b, e, err)
			}
		}
	})
}
