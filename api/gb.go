package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

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
	ChannelIDs    []string  `json:"channel_ids"`
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
}

func (s *Server) gbDevices(c *gin.Context) {
	ds, err := s.gb.Devices(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ds})
}

func (s *Server) gbDevice(c *gin.Context) {
	d, err := s.gb.Device(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
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
