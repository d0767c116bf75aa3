package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"sharpeyes/registry"
)

// UpstreamView is a superior platform as the API answers it: what is
// set (never the password: only whether one is set) and how the
// registration with it stands.
type UpstreamView struct {
	registry.Upstream
	Password    string `json:"password,omitempty"` // always empty: write-only
	HasPassword bool   `json:"has_password"`
	Status      any    `json:"status"`
}

// UpstreamInput is POST /gb/upstream: a platform as written, where an
// absent enabled means true and an absent expires_s or keepalive_s the
// default (a written 0 is an error, not a default).
type UpstreamInput struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	ServerID   string                 `json:"server_id"`
	Domain     string                 `json:"domain"`
	Address    string                 `json:"address"`
	Password   string                 `json:"password"`
	LocalID    string                 `json:"local_id"`
	Transport  string                 `json:"transport"`
	Share      registry.UpstreamShare `json:"share"`
	Enabled    *bool                  `json:"enabled"`
	ExpiresS   *int                   `json:"expires_s"`
	KeepaliveS *int                   `json:"keepalive_s"`
}

// upstream is the input as the registry keeps it.
func (in UpstreamInput) upstream() (registry.Upstream, error) {
	u := registry.Upstream{ID: in.ID, Name: in.Name, ServerID: in.ServerID, Domain: in.Domain, Address: in.Address, Password: in.Password,
		LocalID: in.LocalID, Transport: in.Transport, Share: in.Share, Enabled: in.Enabled == nil || *in.Enabled}
	if err := setSeconds(&u.ExpiresS, in.ExpiresS, "expires_s", 60, 86400); err != nil {
		return u, err
	}
	if err := setSeconds(&u.KeepaliveS, in.KeepaliveS, "keepalive_s", 1, 3600); err != nil {
		return u, err
	}
	return u, nil
}

// setSeconds sets *dst to a written number of seconds within lo..hi.
func setSeconds(dst *int, v *int, field string, lo, hi int) error {
	if v == nil {
		return nil
	}
	if *v < lo || *v > hi {
		return &registry.FieldError{Field: field, Msg: fmt.Sprintf("must be %d to %d seconds (leave it out for the default)", lo, hi)}
	}
	*dst = *v
	return nil
}

// UpstreamPatch is what PATCH /gb/upstream/{id} may change.
type UpstreamPatch struct {
	Name       *string                 `json:"name"`
	ServerID   *string                 `json:"server_id"`
	Domain     *string                 `json:"domain"`
	Address    *string                 `json:"address"`
	Password   *string                 `json:"password"`
	LocalID    *string                 `json:"local_id"`
	Transport  *string                 `json:"transport"`
	Share      *registry.UpstreamShare `json:"share"`
	Enabled    *bool                   `json:"enabled"`
	ExpiresS   *int                    `json:"expires_s"`
	KeepaliveS *int                    `json:"keepalive_s"`
}

// Cascade manages the superior platforms (nil: GB/T 28181 off).
type Cascade interface {
	Upstreams(ctx context.Context) ([]UpstreamView, error)
	Upstream(ctx context.Context, id string) (UpstreamView, error)
	// CreateUpstream and PatchUpstream answer registry.FieldError for a
	// field that cannot work (a grid or camera that does not exist
	// included).
	CreateUpstream(ctx context.Context, u registry.Upstream) (UpstreamView, error)
	PatchUpstream(ctx context.Context, id string, p UpstreamPatch) (UpstreamView, error)
	DeleteUpstream(ctx context.Context, id string) error
}

// streetWide refuses a principal limited to part of the street: a
// superior platform is sent the cameras of its share, which may lie
// anywhere in the street.
func (s *Server) streetWide(c *gin.Context) {
	if p := principal(c); p == nil || !p.Where.All {
		s.refuse(c, p, http.StatusForbidden, "upstream platforms need a street-wide credential")
		writeError(c, fmt.Errorf("%w: superior platforms are managed street-wide; this credential is limited to grid cells", ErrForbidden))
		return
	}
	c.Next()
}

func (s *Server) listUpstreams(c *gin.Context) {
	us, err := s.ups.Upstreams(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": us})
}

func (s *Server) getUpstream(c *gin.Context) {
	u, err := s.ups.Upstream(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (s *Server) createUpstream(c *gin.Context) {
	var in UpstreamInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	up, err := in.upstream()
	if err != nil {
		writeError(c, err)
		return
	}
	u, err := s.ups.CreateUpstream(c.Request.Context(), up)
	if err != nil {
		writeError(c, err)
		return
	}
	s.log.Info("upstream platform added", "platform", u.ID, "address", u.Address, "by", principal(c).Who())
	c.Header("Location", "/api/v1/gb/upstream/"+u.ID)
	c.JSON(http.StatusCreated, u)
}

func (s *Server) patchUpstream(c *gin.Context) {
	var p UpstreamPatch
	if err := bindJSON(c, &p); err != nil {
		writeError(c, err)
		return
	}
	for _, f := range []struct {
		v      *int
		name   string
		lo, hi int
	}{{p.ExpiresS, "expires_s", 60, 86400}, {p.KeepaliveS, "keepalive_s", 1, 3600}} {
		var dst int
		if err := setSeconds(&dst, f.v, f.name, f.lo, f.hi); err != nil {
			writeError(c, err)
			return
		}
	}
	u, err := s.ups.PatchUpstream(c.Request.Context(), c.Param("id"), p)
	if err != nil {
		writeError(c, err)
		return
	}
	s.log.Info("upstream platform changed", "platform", u.ID, "password_changed", p.Password != nil, "by", principal(c).Who())
	c.JSON(http.StatusOK, u)
}

func (s *Server) deleteUpstream(c *gin.Context) {
	id := c.Param("id")
	if err := s.ups.DeleteUpstream(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	s.log.Info("upstream platform removed", "platform", id, "by", principal(c).Who())
	c.Status(http.StatusNoContent)
}
