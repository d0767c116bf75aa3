package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/registry"
)

type tokenInput struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	Grids     []string `json:"grids"`
	ExpiresIn string   `json:"expires_in"`
}

type tokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Owner     string     `json:"owner"`
	Scopes    []string   `json:"scopes"`
	Grids     []string   `json:"grids"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Token     string     `json:"token,omitempty"` // only in the answer that issues it
}

func (s *Server) viewToken(t registry.Token) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Owner: t.Owner, Scopes: orEmpty(t.Scopes), Grids: orEmpty(t.Grids), CreatedAt: t.CreatedAt}
	if exp := s.auth.Expiry(t); !exp.IsZero() {
		v.ExpiresAt = &exp
	}
	return v
}

// createToken issues an API token for the caller: never more scopes or
// grids than the caller has, never longer than auth.token_max_ttl (nor, for
// a token issued by a token, than that token lives). The secret is
// answered once.
func (s *Server) createToken(c *gin.Context) {
	p := principal(c)
	var in tokenInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 128 {
		writeError(c, &registry.FieldError{Field: "name", Msg: "is required (at most 128 bytes): say what uses the token"})
		return
	}
	scopes, err := access.ParseScopes(in.Scopes)
	if err != nil || len(scopes) == 0 {
		msg := "at least one scope is required"
		if err != nil {
			msg = err.Error()
		}
		writeError(c, &registry.FieldError{Field: "scopes", Msg: msg})
		return
	}
	for _, sc := range scopes {
		if !p.Can(sc) {
			s.refuse(c, p, http.StatusForbidden, "token scope "+string(sc)+" beyond the owner's")
			writeError(c, fmt.Errorf("%w: you may not grant %s", ErrForbidden, sc))
			return
		}
	}
	ix := s.grids.Index()
	for _, g := range in.Grids {
		if _, ok := ix.Get(g); !ok {
			writeError(c, &registry.FieldError{Field: "grids", Msg: fmt.Sprintf("unknown grid %q", g)})
			return
		}
		if !p.Where.HasCell(g) {
			writeError(c, fmt.Errorf("%w: grid %s is outside your jurisdiction", ErrForbidden, g))
			return
		}
	}
	if !p.Where.All && len(in.Grids) == 0 {
		in.Grids = p.Where.Roots(ix) // a token of a limited user is limited the same way, visibly
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	t := registry.Token{Name: in.Name, Scopes: make([]string, len(scopes)), Grids: in.Grids, CreatedAt: now}
	for i, sc := range scopes {
		t.Scopes[i] = string(sc)
	}
	if p.UserID != "" {
		t.Owner, t.OwnerID = p.Username, p.UserID
	} else {
		// Issued by the admin token (or a token it issued): it lives only
		// as long as that admin token is the one configured.
		t.AdminFP = s.auth.AdminFingerprint()
	}
	life := s.cfg.TokenDefaultTTL
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 {
			writeError(c, &registry.FieldError{Field: "expires_in", Msg: "must be a positive duration such as 720h"})
			return
		}
		if s.cfg.TokenMaxTTL > 0 && d > s.cfg.TokenMaxTTL {
			writeError(c, &registry.FieldError{Field: "expires_in", Msg: fmt.Sprintf("at most %s (auth.token_max_ttl)", s.cfg.TokenMaxTTL)})
			return
		}
		life = d
	}
	if life > 0 {
		exp := now.Add(life)
		if !p.TokenExpiry.IsZero() && exp.After(p.TokenExpiry) {
			exp = p.TokenExpiry.UTC().Truncate(time.Millisecond) // never outlives the token that issued it
		}
		t.ExpiresAt = &exp
	}
	id, secret, full, err := access.NewToken()
	if err != nil {
		writeError(c, err)
		return
	}
	t.ID, t.SecretHash = id, access.HashSecret(secret)
	if err := s.idStore.PutToken(c.Request.Context(), t); err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetToken(t)
	s.log.Info("token issued", "token", t.ID, "name", t.Name, "owner", t.Owner, "scopes", t.Scopes, "by", p.Who())
	v := s.viewToken(t)
	v.Token = full
	c.Header("Location", "/api/v1/tokens/"+t.ID)
	c.JSON(http.StatusCreated, v)
}

// ownsToken tells whether p manages t: its own tokens (by the owner's
// immutable id), or everyone's with users:write.
func (s *Server) ownsToken(p *access.Principal, t registry.Token) bool {
	if p.Can(access.UsersWrite) {
		return true
	}
	u, ok := s.auth.Owner(t)
	return ok && p.UserID != "" && u.Identity() == p.UserID
}

func (s *Server) listTokens(c *gin.Context) {
	p := principal(c)
	out := []tokenView{}
	for _, t := range s.ids.Tokens() {
		if s.ownsToken(p, t) {
			out = append(out, s.viewToken(t))
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

func (s *Server) deleteToken(c *gin.Context) {
	p := principal(c)
	id := c.Param("id")
	t, ok := s.ids.Token(id)
	if !ok || !s.ownsToken(p, t) {
		s.hidden(c, "token "+id)
		return
	}
	if err := s.idStore.DeleteToken(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	s.ids.ForgetToken(id)
	s.log.Info("token revoked", "token", id, "by", p.Who())
	c.Status(http.StatusNoContent)
}
