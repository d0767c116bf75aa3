// Package model holds the camera's value types the registry keeps and
// the rest of the gateway reads (the camera, its streams, location,
// recording plan and GB/T 28181 channel), with their validation: no etcd,
// no network, so recording, configs and gb28181 need not import the
// registry to know a camera.
package model

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

// Streams are a camera's RTSP URLs.
type Streams struct {
	Main string `json:"main"`
	Sub  string `json:"sub,omitempty"`
}

// Location is a WGS-84 position.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Device says which device pushes a camera's alarms, for devices that
// cannot add ?camera_id= to their alarm URL: its address (IP or MAC
// address, or GB/T 28181 device code) and, for an NVR or a multi-channel
// camera, its channel.
type Device struct {
	Address string `json:"address"`
	Channel string `json:"channel,omitempty"`
}

// Recording says whether and how a camera is recorded. Zero fields take
// the defaults under recording.* in the config (Recording nil: all of them).
type Recording struct {
	// Mode is off, continuous, or events (a pre-roll kept in memory, then
	// recorded from there until a post-roll after each incident ends).
	Mode        string `json:"mode"`
	Stream      string `json:"stream,omitempty"`       // main or sub
	RetainDays  int    `json:"retain_days,omitempty"`  // footage older is deleted
	PreSeconds  int    `json:"pre_seconds,omitempty"`  // before an incident
	PostSeconds int    `json:"post_seconds,omitempty"` // after it ends
}

// Recording modes.
const (
	RecordOff        = "off"
	RecordContinuous = "continuous"
	RecordEvents     = "events"
)

// Validate checks a recording setting.
func (r *Recording) Validate() error {
	switch r.Mode {
	case RecordOff, RecordContinuous, RecordEvents:
	default:
		return &FieldError{"recording.mode", "must be off, continuous or events"}
	}
	switch r.Stream {
	case "", "main", "sub":
	default:
		return &FieldError{"recording.stream", "must be main or sub"}
	}
	switch {
	case r.RetainDays < 0 || r.RetainDays > 3650:
		return &FieldError{"recording.retain_days", "must be 1 to 3650 days (0: the default)"}
	case r.PreSeconds < 0 || r.PreSeconds > 60:
		return &FieldError{"recording.pre_seconds", "must be 0 to 60 seconds"}
	case r.PostSeconds < 0 || r.PostSeconds > 600:
		return &FieldError{"recording.post_seconds", "must be 0 to 600 seconds"}
	}
	return nil
}

// Camera is a registered camera as stored in etcd.
type Camera struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Streams   Streams    `json:"streams"`
	Transport string     `json:"transport"`
	OnDemand  bool       `json:"on_demand"`
	Location  *Location  `json:"location,omitempty"`
	Grid      string     `json:"grid"`
	Tags      []string   `json:"tags"`
	Device    *Device    `json:"device,omitempty"`
	Recording *Recording `json:"recording,omitempty"`
	// GB is set on a GB/T 28181 device's channel: it has no stream URLs,
	// the gateway INVITEs it through the device's registration.
	GB        *GBChannel `json:"gb,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Rev is the etcd revision this version was written at (not stored):
	// it orders writes seen directly and through the watch.
	Rev int64 `json:"-"`
}

// GBChannel is a camera's GB/T 28181 identity: the device (NVR or IP
// camera) it registers through and its own 20-digit channel code.
type GBChannel struct {
	DeviceID  string `json:"device_id"`
	ChannelID string `json:"channel_id"`
	// PTZ says the channel takes PTZ commands: its catalog's PTZType is 1
	// (dome) or 4 (remote-controlled bullet), or it does not say.
	PTZ bool `json:"ptz,omitempty"`
	// PTZType is the catalog's (GB/T 28181-2016 A.2.6.4; 0: not said).
	PTZType int `json:"ptz_type,omitempty"`
	// Off is set while the device's catalog says the channel is OFF.
	Off bool `json:"off,omitempty"`
	// Gone is set when the device's catalog no longer lists the channel
	// (it is kept, and marked, rather than deleted).
	Gone bool `json:"gone,omitempty"`
}

// gbCode is a 20-digit GB/T 28181 code.
var gbCode = regexp.MustCompile(`^[0-9]{20}$`)

// IsGBCode tells whether s is a 20-digit GB/T 28181 code.
func IsGBCode(s string) bool { return gbCode.MatchString(s) }

// ErrInvalid marks a value that failed validation (see FieldError).
var ErrInvalid = errors.New("invalid")

// FieldError is a validation failure of one field.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// idPattern accepts GB/T 28181 20-digit codes and simpler operator ids.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID tells whether id is an acceptable camera id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Normalize fills defaults (transport auto, empty tags) and trims names.
func (c *Camera) Normalize() {
	c.Name = strings.TrimSpace(c.Name)
	if c.Transport == "" {
		c.Transport = "auto"
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
}

// Validate checks every field and reports the first at fault.
func (c *Camera) Validate() error {
	if d := c.Device; d != nil && (d.Address == "" || len(d.Address) > 64 || len(d.Channel) > 16) {
		return &FieldError{"device", "needs an address (IP, MAC or GB/T 28181 code, at most 64 characters) and an optional channel (at most 16)"}
	}
	if !ValidID(c.ID) {
		return &FieldError{"id", "must be 1-64 characters of A-Z a-z 0-9 _ - (a GB/T 28181 20-digit code is recommended)"}
	}
	if c.Name == "" {
		return &FieldError{"name", "is required"}
	}
	if len(c.Name) > 200 {
		return &FieldError{"name", "must be at most 200 bytes"}
	}
	switch g := c.GB; {
	case g != nil:
		if !gbCode.MatchString(g.DeviceID) || !gbCode.MatchString(g.ChannelID) {
			return &FieldError{"gb", "needs a device_id and a channel_id of 20 digits each"}
		}
		if c.Streams.Main != "" || c.Streams.Sub != "" {
			return &FieldError{"streams", "must be empty for a GB/T 28181 channel (the gateway INVITEs it)"}
		}
	case c.Streams.Main == "":
		return &FieldError{"streams.main", "is required"}
	default:
		if err := checkRTSP(c.Streams.Main); err != "" {
			return &FieldError{"streams.main", err}
		}
		if c.Streams.Sub != "" {
			if err := checkRTSP(c.Streams.Sub); err != "" {
				return &FieldError{"streams.sub", err}
			}
		}
	}
	switch c.Transport {
	case "auto", "tcp", "udp":
	default:
		return &FieldError{"transport", "must be auto, tcp or udp"}
	}
	if l := c.Location; l != nil {
		if l.Lat < -90 || l.Lat > 90 {
			return &FieldError{"location.lat", "must be between -90 and 90"}
		}
		if l.Lon < -180 || l.Lon > 180 {
			return &FieldError{"location.lon", "must be between -180 and 180"}
		}
	}
	if len(c.Tags) > 32 {
		return &FieldError{"tags", "at most 32 tags"}
	}
	for _, t := range c.Tags {
		if t == "" || len(t) > 64 {
			return &FieldError{"tags", "each tag must be 1-64 bytes"}
		}
	}
	if len(c.Grid) > 64 {
		return &FieldError{"grid", "must be at most 64 bytes"}
	}
	if c.Recording != nil {
		if err := c.Recording.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// checkRTSP returns a message for a bad stream URL, never echoing the URL
// (it may hold a password).
func checkRTSP(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return "must be an rtsp:// or rtsps:// URL"
	}
	if u.Host == "" || u.Hostname() == "" {
		return "must name a host"
	}
	return ""
}

// Cells are the grid cells a camera belongs to: its base cell (set by
// hand, or found from its location) and every special cell covering it.
type Cells struct {
	Base    string   `json:"base"`
	Special []string `json:"special"`
	Source  string   `json:"source"` // manual, location or none
}

// All lists the cells, base first.
func (c Cells) All() []string {
	if c.Base == "" {
		return c.Special
	}
	return append([]string{c.Base}, c.Special...)
}

// Cells locates the camera in the grid index.
func (c Camera) Cells(ix *grid.Index) Cells {
	out := Cells{Special: []string{}, Source: "none"}
	if c.Location != nil {
		base, special := ix.Locate(orb.Point{c.Location.Lon, c.Location.Lat})
		out.Base, out.Source = base, "location"
		if base == "" {
			out.Source = "none"
		}
		if special != nil {
			out.Special = special
		}
	}
	if c.Grid != "" {
		out.Base, out.Source = c.Grid, "manual"
	}
	return out
}
