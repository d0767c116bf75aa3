package events

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // alarm pictures
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// ErrHeartbeat is a device's periodic "still here" (Hikvision heartBeat):
// accepted, nothing to record.
var ErrHeartbeat = errors.New("heartbeat")

// ErrPicture marks an alarm picture that is too large or not an image.
var ErrPicture = errors.New("alarm picture refused")

// Device identifies the device that pushed an alarm, for a camera that
// cannot add ?camera_id= to its alarm URL.
type Device struct {
	IP, MAC, Channel string
	Code             string // GB/T 28181 device code
}

func (d Device) String() string {
	var parts []string
	for _, kv := range [][2]string{{"ip", d.IP}, {"mac", d.MAC}, {"channel", d.Channel}, {"device", d.Code}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

// normalMAC writes a MAC address as lower-case colon-separated hex.
func normalMAC(s string) string {
	s = strings.ToLower(strings.NewReplacer("-", ":", ".", "").Replace(strings.TrimSpace(s)))
	if len(s) == 12 && !strings.Contains(s, ":") {
		var b strings.Builder
		for i := 0; i < 12; i += 2 {
			if i > 0 {
				b.WriteByte(':')
			}
			b.WriteString(s[i : i+2])
		}
		return b.String()
	}
	return s
}

// SameAddress tells whether a declared device address names the device:
// its IP, its MAC (in any common spelling) or its GB/T 28181 code.
func (d Device) SameAddress(addr string) bool {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return false
	}
	return addr == d.IP || addr == d.Code || (d.MAC != "" && normalMAC(addr) == d.MAC)
}

// MaxPicture is the largest alarm picture kept.
const MaxPicture = 2 << 20

// CheckPicture accepts a JPEG or PNG that decodes, up to MaxPicture, and
// answers its content type.
func CheckPicture(b []byte) (string, error) {
	if len(b) == 0 || len(b) > MaxPicture {
		return "", fmt.Errorf("%w: %d bytes (at most %d)", ErrPicture, len(b), MaxPicture)
	}
	ct := http.DetectContentType(b)
	if ct != "image/jpeg" && ct != "image/png" {
		return "", fmt.Errorf("%w: %s is not a JPEG or PNG picture", ErrPicture, ct)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > 50_000_000 {
		return "", fmt.Errorf("%w: not a readable picture", ErrPicture)
	}
	return ct, nil
}

// SplitISAPI takes an ISAPI alarm as a device posts it: the alert alone,
// or a multipart body with the alert (XML or JSON) and a picture. It
// answers the alert and the picture (nil when there is none).
func SplitISAPI(contentType string, body []byte) (alert, picture []byte, err error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	if !strings.HasPrefix(mt, "multipart/") {
		return body, nil, nil
	}
	if params["boundary"] == "" {
		return nil, nil, fmt.Errorf("%w: multipart alarm without a boundary", ErrInvalid)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for parts := 0; ; parts++ {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil || parts > 16 {
			return nil, nil, fmt.Errorf("%w: multipart alarm: %v", ErrInvalid, err)
		}
		b, err := io.ReadAll(io.LimitReader(p, MaxPicture+1))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: multipart alarm: %v", ErrInvalid, err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(pt, "image/") || strings.HasSuffix(strings.ToLower(p.FileName()), ".jpg"):
			if picture == nil {
				picture = b
			}
		case alert == nil && (strings.Contains(pt, "xml") || strings.Contains(pt, "json") || pt == "" || pt == "text/plain"):
			alert = b
		}
	}
	if alert == nil {
		return nil, nil, fmt.Errorf("%w: multipart alarm without an EventNotificationAlert part", ErrInvalid)
	}
	return alert, picture, nil
}
