// Package cascade registers the street with its superior platforms as a
// lower platform (GB/T 28181 级联, section 9.1 and 9.3 from the other side):
// REGISTER with digest, refreshed before it expires, keepalives, and a
// new registration with backoff when the platform forgets it; answers to
// the platform's Catalog, DeviceInfo and DeviceStatus queries with the
// cameras it is shown; live video on its INVITE as MPEG-PS over RTP (UDP,
// or TCP either side connecting) read from the relay; alarms forwarded
// and PTZ handed to the camera. It is a reader of relay streams, like the
// RTSP re-serve.
package cascade

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/emiago/sipgo"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
	"sharpeyes/relay"
)

// Platform is one superior platform the street registers with.
type Platform struct {
	ID        string `json:"id" yaml:"id"`
	Name      string `json:"name,omitempty" yaml:"name"`
	ServerID  string `json:"server_id" yaml:"server_id"` // the platform's 20-digit code
	Domain    string `json:"domain" yaml:"domain"`       // its realm (10 digits)
	Address   string `json:"address" yaml:"address"`     // host:port of its SIP
	Password  string `json:"password,omitempty" yaml:"password"`
	LocalID   string `json:"local_id" yaml:"local_id"`   // the 20-digit code the street registers as
	Transport string `json:"transport" yaml:"transport"` // udp or tcp (SIP)
	Share     Share  `json:"share" yaml:"share"`
	Enabled   bool   `json:"enabled" yaml:"enabled"`
	// Expires is the registration asked for (default 3600 s); Keepalive the
	// interval of keepalive MESSAGEs (default 60 s).
	Expires   time.Duration `json:"expires,omitempty" yaml:"expires"`
	Keepalive time.Duration `json:"keepalive,omitempty" yaml:"keepalive"`
}

// Share is what a platform is shown: the cameras in these grid subtrees
// and these cameras.
type Share struct {
	Grids   []string `json:"grids" yaml:"grids"`
	Cameras []string `json:"cameras" yaml:"cameras"`
}

// Validate checks a platform and fills in its defaults.
func (p *Platform) Validate() error {
	bad := func(field, why string) error { return &FieldError{Field: field, Msg: why} }
	switch {
	case !validID(p.ID):
		return bad("id", "must be 1-64 letters, digits, '-' or '_'")
	case len(p.Name) > 128 || strings.ContainsFunc(p.Name, unicode.IsControl):
		return bad("name", "must be at most 128 bytes without control characters")
	case !manscdp.IsCode(p.ServerID):
		return bad("server_id", "must be 20 digits")
	case !manscdp.IsCode(p.LocalID):
		return bad("local_id", "must be 20 digits")
	case p.LocalID == p.ServerID:
		return bad("local_id", "must differ from server_id")
	case len(p.Password) > 128:
		return bad("password", "must be at most 128 bytes")
	}
	if p.Domain == "" {
		p.Domain = p.ServerID[:10]
	}
	if len(p.Domain) != 10 || !manscdp.IsCode(p.Domain+"0000000000") {
		return bad("domain", "must be 10 digits")
	}
	if err := checkAddress(p.Address); err != nil {
		return bad("address", err.Error())
	}
	switch p.Transport = strings.ToLower(p.Transport); p.Transport {
	case "":
		p.Transport = "udp"
	case "udp", "tcp":
	default:
		return bad("transport", "must be udp or tcp")
	}
	switch {
	case p.Expires == 0:
		p.Expires = time.Hour
	case p.Expires < time.Minute || p.Expires > 24*time.Hour:
		return bad("expires_s", "must be 60 to 86400 seconds")
	}
	switch {
	case p.Keepalive == 0:
		p.Keepalive = time.Minute
	case p.Keepalive < 0 || p.Keepalive > time.Hour:
		return bad("keepalive_s", "must be 1 to 3600 seconds")
	}
	if len(p.Share.Grids)+len(p.Share.Cameras) > 10_000 {
		return bad("share", "lists more than 10,000 grids and cameras")
	}
	for _, g := range p.Share.Grids {
		if !validID(g) {
			return bad("share.grids", fmt.Sprintf("%q is not a grid code", clipText(g)))
		}
	}
	for _, c := range p.Share.Cameras {
		if !validID(c) {
			return bad("share.cameras", fmt.Sprintf("%q is not a camera id", clipText(c)))
		}
	}
	return nil
}

// validID tells whether s is 1-64 letters, digits, '-' or '_' (camera
// ids, grid codes and platform ids alike).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// checkAddress checks a platform's SIP address: host:port with a port
// 1-65535 and a host that is a unicast IP address or a DNS name.
func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("must have a port 1-65535")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return errors.New("must be a unicast address")
		}
		return nil
	}
	if len(host) == 0 || len(host) > 253 {
		return errors.New("must have a host")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return errors.New("must have an IP address or a DNS name as its host")
		}
	}
	return nil
}

// FieldError is a platform field that cannot work (it wraps ErrConfig).
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s %s", ErrConfig, e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *FieldError) Unwrap() error { return ErrConfig }

// Channel is a shared camera as the platform sees it.
type Channel struct {
	ID           string // 20 digits, stable
	CameraID     string // in the registry
	Name         string
	Manufacturer string
	Model        string
	CivilCode    string
	Address      string
	Lon, Lat     float64
	HasPosition  bool
	Online       bool
	PTZ          bool
	// PTZType is told upward (GB/T 28181-2016 A.2.6.4); 0: 1 (dome) for
	// a channel that takes PTZ, 3 (fixed bullet) for one that does not.
	PTZType int
}

// Catalog answers the channels a share holds, in a stable order.
type Catalog interface {
	Channels(ctx context.Context, share Share) ([]Channel, error)
}

// SIP is the SIP stack a client signals through: the gateway's one, on
// gb28181.sip_addr (a *sipstack.Stack).
type SIP interface {
	Client(remote, network string) (*sipgo.Client, sipstack.Contact, error)
	Attach(r sipstack.Route, host string) (detach func())
}

// Deps are what a platform's client works with.
type Deps struct {
	SIP     SIP
	Catalog Catalog
	// Streams gives a camera's relay stream (the camera pulled once,
	// however many read it).
	Streams relay.StreamProvider
	// PTZ sends a PTZCmd (16 hex digits) to the camera; nil: no camera
	// takes PTZ.
	PTZ func(ctx context.Context, cameraID, cmd string) error
	// Records lists the gateway's recorded spans of a camera over
	// [from, to], oldest first (nil: nothing is recorded); Location is
	// the platform's local time, in which RecordInfo is written (default:
	// China's, UTC+8).
	Records  func(ctx context.Context, cameraID string, from, to time.Time) ([]Span, error)
	Location *time.Location
	// Footage reads a camera's recorded video over [from, to], from the
	// keyframe at or before from, handing each frame in order to each
	// (whose error stops it; nothing recorded is no error and no frame);
	// nil: Playback and Download are refused (488).
	Footage func(ctx context.Context, cameraID string, from, to time.Time, each func(Frame) error) error
	// Looked records a platform's Playback or Download before its
	// footage is sent (the access log); its error refuses the INVITE
	// (500): no look back the log does not keep. nil: not recorded.
	Looked func(ctx context.Context, l Look) error
	// Name, Manufacturer, Model and Firmware answer DeviceInfo.
	Name, Manufacturer, Model, Firmware string
	// CatalogEvery is how often the shared set is compared with what the
	// platform was told (default 5 s); PageSize how many items a catalog
	// MESSAGE carries (default 20).
	CatalogEvery time.Duration
	PageSize     int
	// BackoffMin and BackoffMax bound the wait between registrations that
	// failed (default 1 s and 60 s).
	BackoffMin, BackoffMax time.Duration
	// InviteWait bounds how long an INVITE waits for the camera's first
	// frame (default 10 s).
	InviteWait time.Duration
	// ByeWait is how long the platform has to end a Playback or Download
	// once told it was sent whole (MediaStatus 121) before the street
	// ends it (default 30 s).
	ByeWait time.Duration
}

// Look is a platform's Playback or Download of a camera's footage.
type Look struct {
	Platform string // the platform's id
	CameraID string
	Session  string // Playback or Download
	From, To time.Time
	Addr     string // where the platform's SIP comes from
}

// Span is a stretch of a camera's footage on the gateway's disk.
type Span struct{ Start, End time.Time }

func (d *Deps) defaults() {
	if d.Location == nil {
		d.Location = time.FixedZone("CST", 8*3600)
	}
	if d.CatalogEvery <= 0 {
		d.CatalogEvery = 5 * time.Second
	}
	if d.PageSize <= 0 {
		d.PageSize = 20
	}
	if d.BackoffMin <= 0 {
		d.BackoffMin = time.Second
	}
	if d.BackoffMax < d.BackoffMin {
		d.BackoffMax = max(60*time.Second, d.BackoffMin)
	}
	if d.InviteWait <= 0 {
		d.InviteWait = 10 * time.Second
	}
	if d.ByeWait <= 0 {
		d.ByeWait = 30 * time.Second
	}
	if d.Manufacturer == "" {
		d.Manufacturer = "sharpeyes"
	}
	if d.Model == "" {
		d.Model = "sharpeyes gateway"
	}
}

// Status is where a platform's registration stands.
type Status struct {
	State         string    `json:"state"` // disabled, registering, registered, failed
	Registered    bool      `json:"registered"`
	Since         time.Time `json:"since,omitzero"`
	LastKeepalive time.Time `json:"last_keepalive,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	NextTry       time.Time `json:"next_try,omitzero"`
	Registrations int       `json:"registrations"`
	Streams       int       `json:"streams"`
	Channels      int       `json:"channels"`
}
