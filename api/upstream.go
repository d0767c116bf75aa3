package api

import (
	"context"
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
	CreateUpstream(ctx context.Context, u registry.Upstream) (UpstreamView, error)
	PatchUpstream(ctx context.Context, id string, p UpstreamPatch) (UpstreamView, error)
	DeleteUpstream(ctx context.Context, id string) error
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
	var in registry.Upstream
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	u, err := s.ups.CreateUpstream(c.Request.Context(), in)
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
