package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/authn"
	"sharpeyes/registry"
)

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
	addr := c.ClientIP()
	u, err := s.auth.CheckPassword(name, in.Password, addr)
	var te *authn.ThrottledError
	if errors.As(err, &te) {
		c.Header("Retry-After", strconv.Itoa(int(te.Wait.Seconds())+1))
		s.refuse(c, nil, http.StatusTooManyRequests, "too many failed logins for "+name)
		c.AbortWithStatusJSON(http.StatusTooManyRequests, apiError{Error: te.Error()})
		return
	}
	if err != nil {
		s.refuse(c, nil, http.StatusUnauthorized, "login failed for "+name)
		writeError(c, err)
		return
	}
	id, err1 := access.NewSecret(32)
	csrf, err2 := access.NewSecret(32)
	if err1 != nil || err2 != nil {
		writeError(c, fmt.Errorf("session: %v %v", err1, err2))
		return
	}
	now := time.Now().UTC()
	sess := registry.Session{IDHash: access.HashSecret(id), Username: u.Username, UserID: u.Identity(), Epoch: u.Epoch, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.idStore.PutSession(c.Request.Context(), sess); err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetSession(sess)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secure(c), Expires: sess.ExpiresAt, MaxAge: int(s.cfg.SessionTTL.Seconds())})
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
	out["map"] = gin.H{"tiles": s.cfg.MapTiles, "attribution": s.cfg.MapAttribution}
	if p.Kind == access.KindToken {
		out["token"] = gin.H{"id": p.TokenID, "name": p.TokenName}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) userOf(p *access.Principal) (registry.User, bool) {
	if p.UserID == "" {
		return registry.User{}, false
	}
	return s.ids.UserByID(p.UserID)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
