// Package events takes camera events in, normalises them (ONVIF, Hikvision
// ISAPI, GB/T 28181 and the gateway's own), links them to grid cells and
// folds repeats into incidents.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kinds of events, normalised whatever the source.
const (
	Offline      = "offline"
	VideoLoss    = "video_loss"
	Tamper       = "tamper"
	Motion       = "motion"
	Intrusion    = "intrusion"
	LineCross    = "line_cross"
	Loiter       = "loiter"
	Crowd        = "crowd"
	FireSmoke    = "fire_smoke"
	ObjectLeft   = "object_left"
	IO           = "io"
	StorageFault = "storage_fault"
	// StorageFull is the gateway's own: recording stopped because the disk
	// budget is spent on footage that may not be deleted (evidence).
	StorageFull = "storage_full"
)

// Phases.
const (
	PhaseStart = "start"
	PhaseEnd   = "end"
	PhasePulse = "pulse" // a moment, with no end to wait for
)

// Sources.
var sources = map[string]bool{"onvif": true, "isapi": true, "gb28181": true, "ai": true, "gateway": true, "hotline": true, "grid-report": true}

// defaultPriority by kind, 1 most urgent … 4.
var defaultPriority = map[string]int{
	Offline: 3, VideoLoss: 3, Tamper: 2, Motion: 4, Intrusion: 2, LineCross: 3, Loiter: 3, Crowd: 2,
	FireSmoke: 1, ObjectLeft: 2, IO: 3, StorageFault: 3, StorageFull: 2,
	PhoneAlarm: 2, SMSAlarm: 2, GPSAlarm: 3, ManualAlarm: 2, ObjectRemoved: 2, Retrograde: 3, FlowCount: 3, FastMotion: 3,
	HighTemperature: 3, LowTemperature: 3, FanFault: 3, DeviceAlarm: 3, VideoAlarm: 3, DeviceFault: 3, Alarm: 3,
}

// Kinds lists the known kinds.
func Kinds() []string {
	return []string{Offline, VideoLoss, Tamper, Motion, Intrusion, LineCross, Loiter, Crowd, FireSmoke, ObjectLeft, IO, StorageFault, StorageFull,
		PhoneAlarm, SMSAlarm, GPSAlarm, ManualAlarm, ObjectRemoved, Retrograde, FlowCount, FastMotion, HighTemperature, LowTemperature,
		FanFault, DeviceAlarm, VideoAlarm, DeviceFault, Alarm}
}

// Event is one normalised event.
type Event struct {
	Source        string          `json:"source"`
	SourceEventID string          `json:"source_event_id"`
	CameraID      string          `json:"camera_id"`
	Kind          string          `json:"kind"`
	Phase         string          `json:"phase"`
	Time          time.Time       `json:"time"`
	Priority      int             `json:"priority"`
	Lat           *float64        `json:"lat,omitempty"`
	Lon           *float64        `json:"lon,omitempty"`
	MediaURL      string          `json:"media_url,omitempty"`
	Raw           json.RawMessage `json:"raw,omitempty"`
}

// ErrInvalid marks an event that fails validation (see FieldError).
var ErrInvalid = errors.New("invalid event")

// FieldError names the field at fault.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Normalize fills defaults and checks every field; now bounds the time
// (events from the future beyond clock skew, or older than 30 days, are
// refused: they would open stale cases).
func (e *Event) Normalize(now time.Time) error {
	if !sources[e.Source] {
		return &FieldError{"source", fmt.Sprintf("unknown source %q (onvif, isapi, gb28181, ai, gateway, hotline, grid-report)", e.Source)}
	}
	if e.SourceEventID == "" || len(e.SourceEventID) > 128 {
		return &FieldError{"source_event_id", "is required (1-128 characters): it makes retries safe"}
	}
	if e.CameraID == "" {
		return &FieldError{"camera_id", "is required"}
	}
	if _, ok := defaultPriority[e.Kind]; !ok {
		return &FieldError{"kind", fmt.Sprintf("unknown kind %q", e.Kind)}
	}
	switch e.Phase {
	case "":
		e.Phase = PhasePulse
	case PhaseStart, PhaseEnd, PhasePulse:
	default:
		return &FieldError{"phase", "must be start, end or pulse"}
	}
	switch {
	case e.Time.IsZero():
		return &FieldError{"time", "is required (RFC 3339)"}
	case e.Time.After(now.Add(5 * time.Minute)):
		return &FieldError{"time", "is in the future (more than 5 minutes ahead of the gateway's clock)"}
	case e.Time.Before(now.Add(-30 * 24 * time.Hour)):
		return &FieldError{"time", "is more than 30 days old"}
	}
	if e.Priority == 0 {
		e.Priority = defaultPriority[e.Kind]
	}
	if e.Priority < 1 || e.Priority > 4 {
		return &FieldError{"priority", "must be 1 (most urgent) to 4"}
	}
	if (e.Lat == nil) != (e.Lon == nil) {
		return &FieldError{"lat", "give both lat and lon, or neither"}
	}
	if e.Lat != nil && (*e.Lat < -90 || *e.Lat > 90 || *e.Lon < -180 || *e.Lon > 180) {
		return &FieldError{"lat", "lat must be -90..90 and lon -180..180"}
	}
	if e.MediaURL != "" {
		u, err := checkMediaURL(e.MediaURL)
		if err != nil {
			return err
		}
		e.MediaURL = u
	}
	e.Time = e.Time.UTC()
	return nil
}

// mediaPath is where the gateway serves the pictures it keeps.
const mediaPath = "/api/v1/media/"

// checkMediaURL accepts a picture the gateway keeps (/api/v1/media/ID) or
// an absolute http(s) URL of at most 2,048 bytes, written back in its
// normal form. Screens show a foreign URL as a link, never load it.
func checkMediaURL(s string) (string, error) {
	bad := &FieldError{"media_url", "must be an http:// or https:// URL (at most 2048 bytes) or a /api/v1/media/ path"}
	if len(s) > 2048 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", bad
	}
	if id, ok := strings.CutPrefix(s, mediaPath); ok {
		if id == "" || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			return "", bad
		}
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", bad
	}
	return u.String(), nil
}

// Key is the event's idempotency key.
func (e *Event) Key() string { return e.Source + "/" + e.SourceEventID }
