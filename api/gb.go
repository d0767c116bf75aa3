package api

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/registry"
)

// GBDeviceView is a GB/T 28181 device as the API answers it: what is set
// and what it said of itself (never its password: only whether it has
// one of its own), and how it stands now.
type GBDeviceView struct {
	registry.GBDevice
	Password      string    `json:"password,omitempty"` // always empty: write-only
	OwnPassword   bool      `json:"own_password"`
	Online        bool      `json:"online"`
	Address       string    `json:"address,omitempty"`
	Transport     string    `json:"transport,omitempty"` // SIP over UDP or TCP
	LastKeepalive time.Time `json:"last_keepalive,omitzero"`
	Expires       time.Time `json:"expires,omitzero"`
	// ChannelIDs are the device's channels the gateway has as cameras
	// (Channels counts them); ReportedChannels is what its DeviceInfo said.
	ChannelIDs       []string `json:"channel_ids"`
	ReportedChannels int      `json:"reported_channels"`
}

// GBDevicePatch is what PATCH /gb/devices/{id} may change.
type GBDevicePatch struct {
	Name           *string `json:"name"`
	Password       *string `json:"password"`
	MediaTransport *string `json:"media_transport"`
	Enabled        *bool   `json:"enabled"`
}

// GB is the gateway's GB/T 28181 side as the API reaches it (nil: off).
type GB interface {
	Devices(ctx context.Context) ([]GBDeviceView, error)
	Device(ctx context.Context, id string) (GBDeviceView, error)
	PatchDevice(ctx context.Context, id string, p GBDevicePatch) (GBDeviceView, error)
	// PTZ sends a channel's device a PTZ command (ErrBusy when the device
	// is not registered).
	PTZ(ctx context.Context, cam registry.Camera, action string, speed int) error
	// Records asks a channel's device what footage it keeps over
	// [from, to] (RecordInfo); complete is false when some of its answer
	// did not arrive. ErrBusy: the device is not registered; ErrNoAnswer:
	// it did not answer.
	Records(ctx context.Context, cam registry.Camera, from, to time.Time) (spans []DeviceSpan, complete bool, err error)
	// PlayDevice plays d of what a channel's device keeps from start, at
	// scale, to w as fragmented MP4 (time 0: the first frame), until the
	// window ends or ctx does. ErrBusy: the device is not registered or
	// refused; ErrNoAnswer: it sent nothing.
	PlayDevice(ctx context.Context, cam registry.Camera, start time.Time, d time.Duration, scale float64, w io.Writer) error
}

// DeviceSpan is a span of footage a GB/T 28181 device keeps (设备录像).
type DeviceSpan struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Type  string    `json:"type,omitempty"` // time, alarm, manual, as the device says
}

// seesDevice tells whether a device lies in p's jurisdiction: all the
// street for a street-wide principal; otherwise every one of its
// channels must be p's (its password and whether it may register decide
// for all of them), and a device with no channel yet is the street's.
func (s *Server) seesDevice(p *access.Principal, d GBDeviceView) bool {
	if p.Where.All {
		return true
	}
	if len(d.ChannelIDs) == 0 {
		return false
	}
	for _, id := range d.ChannelIDs {
		if _, ok := s.visibleCamera(p, id); !ok {
			return false
		}
	}
	return true
}

func (s *Server) gbDevices(c *gin.Context) {
	ds, err := s.gb.Devices(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	out := make([]GBDeviceView, 0, len(ds))
	for _, d := range ds {
		if s.seesDevice(principal(c), d) {
			out = append(out, d)
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// visibleDevice answers device id if it lies in the caller's
// jurisdiction (else it answers 404, as for a device never seen).
func (s *Server) visibleDevice(c *gin.Context, id string) (GBDeviceView, bool) {
	d, err := s.gb.Device(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return d, false
	}
	if !s.seesDevice(principal(c), d) {
		s.hidden(c, "GB/T 28181 device "+id)
		return d, false
	}
	return d, true
}

func (s *Server) gbDevice(c *gin.Context) {
	d, ok := s.visibleDevice(c, c.Param("id"))
	if !ok {
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) patchGBDevice(c *gin.Context) {
	var p GBDevicePatch
	if err := bindJSON(c, &p); err != nil {
		writeError(c, err)
		return
	}
	if _, ok := s.visibleDevice(c, c.Param("id")); !ok {
		return
	}
	d, err := s.gb.PatchDevice(c.Request.Context(), c.Param("id"), p)
	if err != nil {
		writeError(c, err)
		return
	}
	s.log.Info("GB/T 28181 device changed", "device", d.ID, "password_changed", p.Password != nil, "by", principal(c).Who())
	c.JSON(http.StatusOK, d)
}

// ptz moves a GB/T 28181 channel's camera: 204 once its device took the
// command; 409 for a camera that takes none.
func (s *Server) ptz(c *gin.Context) {
	id := c.Param("id")
	cam, ok := s.visibleCamera(principal(c), id)
	if !ok {
		s.hidden(c, "camera "+id)
		return
	}
	var in struct {
		Action string `json:"action"`
		Speed  *int   `json:"speed"`
	}
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	speed := 128
	if in.Speed != nil {
		speed = *in.Speed
	}
	if cam.GB == nil || !cam.GB.PTZ {
		writeError(c, ErrNoPTZ)
		return
	}
	if err := s.gb.PTZ(c.Request.Context(), cam, in.Action, speed); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
