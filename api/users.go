package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/registry"
)

// userView is a user as answered: never the password hash.
type userView struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Grids       []string  `json:"grids"`
	Department  string    `json:"department,omitempty"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewUser(u registry.User) userView {
	g := u.Grids
	if g == nil {
		g = []string{}
	}
	return userView{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Grids: g, Department: u.Department,
		Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type loginInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// login checks a username and password and opens a session: an HttpOnly,
// SameSite=Strict cookie and a CSRF token for writes. Unknown users, wrong
// passwords and disabled accounts get the same answer after the same work.
func (s *Server) login(c *gin.Context) {
	var in loginInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	name := strings.TrimSpace(in.Username)
	if name == "" || in.Password == "" {
		writeError(c, &queryError{"username", "username and password are required"})
		return
	}
	if len(name) > 64 {
		name = name[:64] // an invalid name; keeps limiter keys bounded
	}
	addr := c.ClientIP()
	if ok, wait := s.limiter.Allow(name, addr); !ok {
		secs := int(wait.Seconds()) + 1
		c.Header("Retry-After", strconv.Itoa(secs))
		s.refuse(c, nil, http.StatusTooManyRequests, "too many failed logins for "+name)
		c.AbortWithStatusJSON(http.StatusTooManyRequests, apiError{Error: fmt.Sprintf("too many failed logins; try again in %d s", secs)})
		return
	}
	var u registry.User
	known := false
	if s.ids != nil {
		u, known = s.ids.User(name)
	}
	hash := ""
	if known && !u.Disabled {
		hash = u.PasswordHash
	}
	if !access.VerifyPassword(hash, in.Password) {
		s.limiter.Fail(name, addr)
		s.refuse(c, nil, http.StatusUnauthorized, "login failed for "+name)
		writeError(c, fmt.Errorf("%w: %w", ErrUnauthorized, access.ErrBadCredentials))
		return
	}
	s.limiter.Succeed(name)
	id, err1 := access.NewSecret(32)
	csrf, err2 := access.NewSecret(32)
	if err1 != nil || err2 != nil {
		writeError(c, fmt.Errorf("session: %v %v", err1, err2))
		return
	}
	now := time.Now().UTC()
	sess := registry.Session{IDHash: access.HashSecret(id), Username: u.Username, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.idStore.PutSession(c.Request.Context(), sess); err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetSession(sess)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request.TLS != nil, Expires: sess.ExpiresAt, MaxAge: int(s.cfg.SessionTTL.Seconds())})
	s.log.Info("login", "user", u.Username, "addr", addr)
	c.JSON(http.StatusOK, gin.H{"user": viewUser(u), "csrf_token": csrf, "expires_at": sess.ExpiresAt})
}

// logout ends the session on every node.
func (s *Server) logout(c *gin.Context) {
	p := principal(c)
	if p.Kind != access.KindSession {
		writeError(c, fmt.Errorf("%w: only a signed-in session can log out; revoke tokens with DELETE /tokens/{id}", ErrBadRequest))
		return
	}
	if err := s.idStore.DeleteSession(c.Request.Context(), p.SessionID); err != nil {
		writeError(c, err)
		return
	}
	s.ids.ForgetSession(p.SessionID)
	s.clearCookie(c)
	s.log.Info("logout", "user", p.Username)
	c.Status(http.StatusNoContent)
}

// me says who the caller is, where they may look and what they may do.
func (s *Server) me(c *gin.Context) {
	p := principal(c)
	ix := s.grids.Index()
	j := gin.H{"all": p.Where.All, "grids": orEmpty(p.Where.Roots(ix)), "cells": len(p.Where.Cells)}
	if !p.Where.All {
		var as []string
		for a := range p.Where.Assignees {
			as = append(as, a)
		}
		slices.Sort(as)
		j["assignees"] = orEmpty(as)
	}
	out := gin.H{"kind": p.Kind, "username": p.Username, "display_name": p.DisplayName, "role": p.Role,
		"department": p.Department, "scopes": p.Scopes, "jurisdiction": j}
	if u, ok := s.userOf(p); ok {
		out["user"] = viewUser(u)
	}
	if p.Kind == access.KindSession {
		out["csrf_token"] = p.CSRF
	}
	if p.Kind == access.KindToken {
		out["token"] = gin.H{"id": p.TokenID, "name": p.TokenName}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) userOf(p *access.Principal) (registry.User, bool) {
	if s.ids == nil || p.Kind == access.KindAdminToken {
		return registry.User{}, false
	}
	return s.ids.User(p.Username)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type userInput struct {
	Username    string    `json:"username"`
	DisplayName *string   `json:"display_name"`
	Password    *string   `json:"password"`
	Role        *string   `json:"role"`
	Grids       *[]string `json:"grids"`
	Department  *string   `json:"department"`
	Disabled    *bool     `json:"disabled"`
	// Read-only fields of a user as answered, accepted and ignored.
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// applyUser checks in and applies it to u.
func (s *Server) applyUser(u *registry.User, in userInput) error {
	if in.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*in.DisplayName)
	}
	if in.Role != nil {
		r, err := access.ParseRole(*in.Role)
		if err != nil {
			return &registry.FieldError{Field: "role", Msg: err.Error()}
		}
		u.Role = string(r)
	}
	if in.Grids != nil {
		ix := s.grids.Index()
		for _, g := range *in.Grids {
			if _, ok := ix.Get(g); !ok {
				return &registry.FieldError{Field: "grids", Msg: fmt.Sprintf("unknown grid %q", g)}
			}
		}
		u.Grids = slices.Clone(*in.Grids)
	}
	if in.Department != nil {
		u.Department = strings.TrimSpace(*in.Department)
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if in.Password != nil {
		if err := access.CheckPasswordPolicy(*in.Password); err != nil {
			return &registry.FieldError{Field: "password", Msg: err.Error()}
		}
		h, err := access.HashPassword(*in.Password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	if u.Role == "" {
		return &registry.FieldError{Field: "role", Msg: "is required"}
	}
	if access.Role(u.Role) == access.Department && u.Department == "" {
		return &registry.FieldError{Field: "department", Msg: "is required for the department role (police, law_enforcement, property, legal…)"}
	}
	if len(u.DisplayName) > 128 || len(u.Department) > 64 {
		return &registry.FieldError{Field: "display_name", Msg: "display_name at most 128 bytes, department 64"}
	}
	return nil
}

func (s *Server) createUser(c *gin.Context) {
	var in userInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if in.Password == nil {
		writeError(c, &registry.FieldError{Field: "password", Msg: "is required"})
		return
	}
	u := registry.User{Username: strings.TrimSpace(in.Username), Grids: []string{}}
	if err := s.applyUser(&u, in); err != nil {
		writeError(c, err)
		return
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	u, err := s.idStore.CreateUser(c.Request.Context(), u)
	if err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetUser(u)
	s.log.Info("user created", "user", u.Username, "role", u.Role, "by", principal(c).Who())
	c.Header("Location", "/api/v1/users/"+u.Username)
	c.JSON(http.StatusCreated, viewUser(u))
}

func (s *Server) listUsers(c *gin.Context) {
	users := s.ids.Users()
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

// getUser answers a user to admins, and to the user themselves.
func (s *Server) getUser(c *gin.Context) {
	p := principal(c)
	name := c.Param("username")
	if !p.Can(access.UsersWrite) && name != p.Username {
		s.hidden(c, "user "+name)
		return
	}
	u, ok := s.ids.User(name)
	if !ok {
		writeError(c, fmt.Errorf("user %q: %w", name, registry.ErrNotFound))
		return
	}
	c.JSON(http.StatusOK, viewUser(u))
}

func (s *Server) patchUser(c *gin.Context) {
	var in userInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	name := c.Param("username")
	if in.Username != "" && in.Username != name {
		writeError(c, &registry.FieldError{Field: "username", Msg: "cannot be changed"})
		return
	}
	u, err := s.idStore.UpdateUser(c.Request.Context(), name, func(u *registry.User) error { return s.applyUser(u, in) })
	if err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetUser(u)
	s.log.Info("user changed", "user", u.Username, "role", u.Role, "disabled", u.Disabled,
		"password_changed", in.Password != nil, "by", principal(c).Who())
	c.JSON(http.StatusOK, viewUser(u))
}

func (s *Server) deleteUser(c *gin.Context) {
	name := c.Param("username")
	if err := s.idStore.DeleteUser(c.Request.Context(), name); err != nil {
		writeError(c, err)
		return
	}
	s.ids.ForgetUser(name)
	s.log.Info("user deleted", "user", name, "by", principal(c).Who())
	c.Status(http.StatusNoContent)
}

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

func viewToken(t registry.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Owner: t.Owner, Scopes: orEmpty(t.Scopes), Grids: orEmpty(t.Grids),
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}
}

// createToken issues an API token for the caller: never more scopes or
// grids than the caller has. The secret is answered once.
func (s *Server) createToken(c *gin.Context) {
	p := principal(c)
	if p.Kind == access.KindToken && !p.Can(access.UsersWrite) {
		writeError(c, fmt.Errorf("%w: tokens are issued to signed-in users (or with users:write)", ErrForbidden))
		return
	}
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
	if p.Kind != access.KindAdminToken {
		t.Owner = p.Username
	}
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 {
			writeError(c, &registry.FieldError{Field: "expires_in", Msg: "must be a positive duration such as 720h"})
			return
		}
		exp := now.Add(d)
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
	v := viewToken(t)
	v.Token = full
	c.Header("Location", "/api/v1/tokens/"+t.ID)
	c.JSON(http.StatusCreated, v)
}

func ownsToken(p *access.Principal, t registry.Token) bool {
	return p.Can(access.UsersWrite) || (p.Kind != access.KindAdminToken && t.Owner == p.Username)
}

func (s *Server) listTokens(c *gin.Context) {
	p := principal(c)
	out := []tokenView{}
	for _, t := range s.ids.Tokens() {
		if ownsToken(p, t) {
			out = append(out, viewToken(t))
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

func (s *Server) deleteToken(c *gin.Context) {
	p := principal(c)
	id := c.Param("id")
	t, ok := s.ids.Token(id)
	if !ok || !ownsToken(p, t) {
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
