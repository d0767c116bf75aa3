package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/grid"
	"sharpeyes/registry"
)

// Identities is where the API looks up users, tokens and sessions: the
// registry's in-memory mirror.
type Identities interface {
	User(name string) (registry.User, bool)
	Users() []registry.User
	Token(id string) (registry.Token, bool)
	Tokens() []registry.Token
	Session(idHash string) (registry.Session, bool)
	SetUser(registry.User)
	ForgetUser(string)
	SetToken(registry.Token)
	ForgetToken(string)
	SetSession(registry.Session)
	ForgetSession(string)
	Ready() <-chan struct{}
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

// jurisCache keeps each user's computed jurisdiction for the grid index in
// force, so a request costs a map lookup.
type jurisCache struct {
	mu  sync.Mutex
	ix  *grid.Index
	get map[string]access.Jurisdiction
}

func (j *jurisCache) of(ix *grid.Index, key string, compute func() access.Jurisdiction) access.Jurisdiction {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ix != ix || len(j.get) > 10_000 {
		j.ix, j.get = ix, map[string]access.Jurisdiction{}
	}
	if v, ok := j.get[key]; ok {
		return v
	}
	v := compute()
	j.get[key] = v
	return v
}

// userJurisdiction is the union of the user's grids' subtrees and the cells
// that name them; a department also handles the cases dispatched to it.
func (s *Server) userJurisdiction(u registry.User) access.Jurisdiction {
	if access.Role(u.Role) == access.Admin {
		return access.Everything()
	}
	ix := s.grids.Index()
	key := fmt.Sprintf("u:%s:%d", u.Username, u.Rev)
	return s.juris.of(ix, key, func() access.Jurisdiction {
		j := access.Compute(ix, u.Username, u.Grids)
		if u.Department != "" {
			j.Assignees[u.Department] = true
		}
		return j
	})
}

// userPrincipal builds the principal of an enabled user.
func (s *Server) userPrincipal(u registry.User, kind access.Kind) *access.Principal {
	role := access.Role(u.Role)
	return &access.Principal{Kind: kind, Username: u.Username, DisplayName: u.DisplayName, Role: role,
		Department: u.Department, Scopes: access.ScopesOf(role), Where: s.userJurisdiction(u)}
}

func (s *Server) adminPrincipal() *access.Principal {
	return &access.Principal{Kind: access.KindAdminToken, Username: "admin", DisplayName: "admin token", Role: access.Admin,
		Scopes: access.AllScopes(), Where: access.Everything()}
}

// bearerPrincipal resolves an API token (or the admin token).
func (s *Server) bearerPrincipal(tok string) (*access.Principal, error) {
	if s.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) == 1 {
		return s.adminPrincipal(), nil
	}
	id, secret, err := access.ParseToken(tok)
	if err != nil {
		return nil, fmt.Errorf("%w: not a token this gateway issued", ErrUnauthorized)
	}
	if s.ids == nil {
		return nil, fmt.Errorf("%w: unknown token", ErrUnauthorized)
	}
	t, ok := s.ids.Token(id)
	if !ok || !access.SameHash(t.SecretHash, access.HashSecret(secret)) {
		return nil, fmt.Errorf("%w: unknown or revoked token", ErrUnauthorized)
	}
	if t.ExpiresAt != nil && !time.Now().Before(*t.ExpiresAt) {
		return nil, fmt.Errorf("%w: token expired", ErrUnauthorized)
	}
	var owner *access.Principal
	if t.Owner == "" {
		owner = s.adminPrincipal()
	} else {
		u, ok := s.ids.User(t.Owner)
		if !ok || u.Disabled {
			return nil, fmt.Errorf("%w: the token's owner is disabled or gone", ErrUnauthorized)
		}
		owner = s.userPrincipal(u, access.KindToken)
	}
	// Never more than the owner may do, now: a demoted owner's tokens shrink too.
	var scopes []access.Scope
	for _, sc := range t.Scopes {
		if owner.Can(access.Scope(sc)) {
			scopes = append(scopes, access.Scope(sc))
		}
	}
	where := owner.Where
	if len(t.Grids) > 0 {
		ix := s.grids.Index()
		tj := s.juris.of(ix, "t:"+t.ID, func() access.Jurisdiction {
			j := access.Compute(ix, "", t.Grids)
			return j
		})
		where = tj.Intersect(owner.Where)
	}
	return &access.Principal{Kind: access.KindToken, Username: owner.Username, DisplayName: owner.DisplayName, Role: owner.Role,
		Department: owner.Department, Scopes: scopes, Where: where, TokenID: t.ID, TokenName: t.Name}, nil
}

// sessionPrincipal resolves a session cookie.
func (s *Server) sessionPrincipal(cookie string) (*access.Principal, error) {
	if s.ids == nil || len(cookie) > 128 {
		return nil, fmt.Errorf("%w: unknown session", ErrUnauthorized)
	}
	h := access.HashSecret(cookie)
	sess, ok := s.ids.Session(h)
	if !ok || !time.Now().Before(sess.ExpiresAt) {
		return nil, fmt.Errorf("%w: session ended; sign in again", ErrUnauthorized)
	}
	u, ok := s.ids.User(sess.Username)
	if !ok || u.Disabled {
		return nil, fmt.Errorf("%w: account disabled", ErrUnauthorized)
	}
	p := s.userPrincipal(u, access.KindSession)
	p.SessionID, p.CSRF = h, sess.CSRF
	return p, nil
}

// authenticate finds who the request is, if anyone: a bearer token, a
// session cookie, or (Open311 only) an api_key. A bad credential is an
// error even on routes that need none, so a client learns at once that
// its token is wrong. Cookie-authenticated writes must echo the CSRF token.
func (s *Server) authenticate(c *gin.Context) {
	if s.ids != nil { // right after start: wait for the first listing of users
		select {
		case <-s.ids.Ready():
		case <-time.After(10 * time.Second):
		case <-c.Request.Context().Done():
			c.Abort()
			return
		}
	}
	var p *access.Principal
	var err error
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			err = fmt.Errorf("%w: use Authorization: Bearer TOKEN", ErrUnauthorized)
		} else {
			p, err = s.bearerPrincipal(strings.TrimSpace(tok))
		}
	} else if t := c.Query("ticket"); t != "" && strings.HasPrefix(c.Request.URL.Path, "/api/v1/whep/") {
		cam, _, _ := strings.Cut(strings.TrimPrefix(c.Request.URL.Path, "/api/v1/whep/"), "/")
		p, err = s.ticketPrincipal(t, cam)
	} else if key := s.open311Key(c); key != "" {
		p, err = s.bearerPrincipal(key)
	} else if ck, cerr := c.Cookie(sessionCookie); cerr == nil && ck != "" {
		p, err = s.sessionPrincipal(ck)
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
		SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil})
}
