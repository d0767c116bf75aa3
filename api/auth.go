package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/registry"
)

// Identities is the registry's in-memory mirror of users, tokens and
// sessions, for the handlers that manage them.
type Identities interface {
	User(name string) (registry.User, bool)
	UserByID(id string) (registry.User, bool)
	Users() []registry.User
	Token(id string) (registry.Token, bool)
	Tokens() []registry.Token
	SetUser(registry.User)
	ForgetUser(string)
	SetToken(registry.Token)
	ForgetToken(string)
	SetSession(registry.Session)
	ForgetSession(string)
}

// IdentityStore is what the API needs to write identities.
type IdentityStore interface {
	CreateUser(ctx context.Context, u registry.User) (registry.User, error)
	UpdateUser(ctx context.Context, name string, change func(*registry.User) error) (registry.User, error)
	DeleteUser(ctx context.Context, name string) error
	PutToken(ctx context.Context, t registry.Token) error
	DeleteToken(ctx context.Context, id string) error
	PutSession(ctx context.Context, s registry.Session) error
	DeleteSession(ctx context.Context, idHash string) error
	EndSessions(ctx context.Context, userID string, epoch int64) (int, error)
}

// sessionCookie is the name of the session cookie.
const sessionCookie = "sharpeyes_session"

// principalKey is where authenticate leaves the principal in the gin context.
const principalKey = "sharpeyes.principal"

// anyAuth is the policy of routes any authenticated principal may use;
// public routes need nobody.
const (
	anyAuth access.Scope = "authenticated"
	public  access.Scope = "public"
)

// Policy is who may call one route: a scope (any of several), any
// authenticated principal, or everybody.
type Policy struct {
	Method, Path string
	Scopes       []access.Scope
}

// handle registers a route with its policy: the route's handlers run only
// for a principal that holds one of scopes.
func (s *Server) handle(g gin.IRoutes, method, path string, scopes []access.Scope, h ...gin.HandlerFunc) {
	full := path
	if rg, ok := g.(*gin.RouterGroup); ok {
		full = strings.TrimSuffix(rg.BasePath(), "/") + path
	}
	s.policies = append(s.policies, Policy{Method: method, Path: full, Scopes: scopes})
	g.Handle(method, path, append([]gin.HandlerFunc{s.need(scopes...)}, h...)...)
}

// Policies lists every route with who may call it.
func (s *Server) Policies() []Policy { return s.policies }

// authenticate finds who the request is, if anyone: a bearer token, a
// session cookie, or (Open311 only) an api_key. A bad credential is an
// error even on routes that need none, so a client learns at once that
// its token is wrong. Cookie-authenticated writes must echo the CSRF token.
func (s *Server) authenticate(c *gin.Context) {
	select { // right after start: wait for the first listing of users
	case <-s.auth.Ready():
	case <-time.After(10 * time.Second):
	case <-c.Request.Context().Done():
		c.Abort()
		return
	}
	var p *access.Principal
	var err error
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			err = fmt.Errorf("%w: use Authorization: Bearer TOKEN", ErrUnauthorized)
		} else {
			p, err = s.auth.Bearer(strings.TrimSpace(tok))
		}
	} else if t, cam := c.Query("ticket"), ticketCamera(c.Request.URL.Path); t != "" && cam != "" {
		p, err = s.auth.FromTicket(t, cam)
	} else if key, sid := c.Query("end"), endableSession(c.Request); key != "" && sid != "" {
		// The key a ticket's WHEP session was given ends it: its viewer
		// is whoever opened it.
		if !s.auth.CheckEndKey(sid, key) {
			err = fmt.Errorf("%w: not this session's end key", ErrUnauthorized)
		} else if v, ok := s.sessions.Load(sid); ok {
			p = v.(sessionOwner).p
		}
	} else if key := s.open311Key(c); key != "" {
		p, err = s.auth.Bearer(key)
	} else if ck, cerr := c.Cookie(sessionCookie); cerr == nil && ck != "" {
		p, err = s.auth.Session(ck)
		if err != nil && (c.Request.Method == http.MethodGet || c.FullPath() == "/api/v1/login") {
			// A stale cookie on a page load or a new login is no reason to fail:
			// carry on as anonymous (the login page) and drop the cookie.
			s.clearCookie(c)
			p, err = nil, nil
		}
		if p != nil && unsafeMethod(c.Request.Method) {
			got := c.GetHeader("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
				s.refuse(c, p, http.StatusForbidden, "missing or wrong X-CSRF-Token")
				writeError(c, fmt.Errorf("%w: a signed-in write must send the X-CSRF-Token given at login", ErrForbidden))
				return
			}
		}
	}
	if err != nil {
		s.refuse(c, nil, http.StatusUnauthorized, err.Error())
		challenge(c)
		if strings.HasPrefix(c.Request.URL.Path, "/open311/") {
			o311Refuse(c, http.StatusUnauthorized, "api_key or token not accepted")
			return
		}
		writeError(c, err)
		return
	}
	if p != nil {
		c.Set(principalKey, p)
	}
	c.Next()
}

// endableSession is the WHEP session a DELETE names ("" for any other
// request).
func endableSession(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/whep/")
	if !ok || r.Method != http.MethodDelete {
		return ""
	}
	_, sid, ok := strings.Cut(rest, "/")
	if !ok || sid == "" || strings.Contains(sid, "/") {
		return ""
	}
	return sid
}

// ticketCamera is the camera of a path a redirect ticket may be used on:
// WHEP, and a camera's playback ("" for any other path).
func ticketCamera(path string) string {
	if rest, ok := strings.CutPrefix(path, "/api/v1/whep/"); ok {
		cam, _, _ := strings.Cut(rest, "/")
		return cam
	}
	if rest, ok := strings.CutPrefix(path, "/api/v1/cameras/"); ok {
		if cam, tail, _ := strings.Cut(rest, "/"); tail == "playback" {
			return cam
		}
	}
	return ""
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

func challenge(c *gin.Context) {
	c.Header("WWW-Authenticate", `Bearer realm="sharpeyes"`)
}

// principal is the request's principal (nil when anonymous).
func principal(c *gin.Context) *access.Principal {
	v, ok := c.Get(principalKey)
	if !ok {
		return nil
	}
	p, _ := v.(*access.Principal)
	return p
}

// need lets the request through when its principal holds one of scopes:
// 401 without one, 403 when it may not.
func (s *Server) need(scopes ...access.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		if len(scopes) == 1 && scopes[0] == public {
			c.Next()
			return
		}
		p := principal(c)
		o311 := strings.HasPrefix(c.Request.URL.Path, "/open311/")
		if p == nil {
			s.refuse(c, nil, http.StatusUnauthorized, "no credentials")
			challenge(c)
			if o311 {
				o311Refuse(c, http.StatusUnauthorized, "api_key is required (an API token with the open311 scope)")
				return
			}
			writeError(c, fmt.Errorf("%w: sign in or send Authorization: Bearer TOKEN", ErrUnauthorized))
			return
		}
		for _, sc := range scopes {
			if sc == anyAuth || p.Can(sc) {
				c.Next()
				return
			}
		}
		s.refuse(c, p, http.StatusForbidden, fmt.Sprintf("needs %s", joinScopes(scopes)))
		if o311 {
			o311Refuse(c, http.StatusForbidden, "this api_key may not use Open311 (needs the open311 scope)")
			return
		}
		writeError(c, fmt.Errorf("%w: %s may not do this (needs %s)", ErrForbidden, p.Role, joinScopes(scopes)))
	}
}

func joinScopes(ss []access.Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, " or ")
}

// refuse logs a refusal: who, what, why; never a credential.
func (s *Server) refuse(c *gin.Context, p *access.Principal, status int, why string) {
	s.log.Info("access refused", "who", p.Who(), "addr", c.ClientIP(), "method", c.Request.Method,
		"path", c.Request.URL.Path, "status", status, "why", why)
}

// hidden answers 404 for a resource outside the principal's jurisdiction,
// as if it did not exist, and logs why.
func (s *Server) hidden(c *gin.Context, what string) {
	s.refuse(c, principal(c), http.StatusNotFound, what+" outside the jurisdiction")
	writeError(c, fmt.Errorf("%s: %w", what, registry.ErrNotFound))
}

func (s *Server) clearCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure(c)})
}
