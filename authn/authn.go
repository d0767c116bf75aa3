// Package authn resolves who a request is, whatever surface it came
// through: a session cookie, an API token (or the admin token), an Open311
// api_key, RTSP credentials, a WHEP redirect ticket, another node's
// cluster key. The HTTP API (playback and evidence included), WHEP and
// the RTSP re-serve share one Authenticator, so a credential means the
// same everywhere and ends everywhere at once; a redirect ticket is bound
// to the credential it was issued for.
//
// Credentials belong to a user's immutable id (registry.User.ID), not
// their name, and a session to the user's credentials epoch: deleting a
// user, or changing their password, role, grids or department, ends what
// was issued before.
package authn

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"sharpeyes/access"
	"sharpeyes/grid"
	"sharpeyes/registry"
)

// Identities is where users, tokens and sessions are looked up: the
// registry's in-memory mirror, which every node keeps current by a watch.
type Identities interface {
	User(name string) (registry.User, bool)
	UserByID(id string) (registry.User, bool)
	Token(id string) (registry.Token, bool)
	Session(idHash string) (registry.Session, bool)
	Ready() <-chan struct{}
}

// Grids gives the grid index in force.
type Grids interface {
	Index() *grid.Index
}

// Catalog gives cameras by id.
type Catalog interface {
	Get(id string) (registry.Camera, bool)
}

// Config is the authenticator's settings.
type Config struct {
	// AdminToken is auth.admin_token, the break-glass admin ("" for none).
	AdminToken string
	// ClusterKey is shared by the nodes of a cluster: it signs WHEP
	// redirect tickets and lets nodes pull each other's RTSP re-serve.
	ClusterKey []byte
	// TokenMaxTTL bounds the life of an API token; a token stored with no
	// expiry (issued before lifetimes existed) ends TokenMaxTTL after it
	// was issued.
	TokenMaxTTL time.Duration
	Logger      *slog.Logger
}

// NodeUser is the RTSP user name gateway nodes use with the cluster key.
const NodeUser = "sharpeyes-node"

// Authenticator resolves credentials into principals.
type Authenticator struct {
	cfg     Config
	ids     Identities
	grids   Grids
	catalog Catalog
	log     *slog.Logger
	limiter *access.Limiter
	juris   jurisCache
	seen    verified
	now     func() time.Time
}

// New returns an authenticator over the identity mirror, the grid index
// (for jurisdictions) and the camera catalog (for camera checks).
func New(cfg Config, ids Identities, grids Grids, catalog Catalog) *Authenticator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{cfg: cfg, ids: ids, grids: grids, catalog: catalog, log: cfg.Logger.With("component", "authn"),
		limiter: access.NewLimiter(), now: time.Now}
}

// Ready is closed once the identity mirror holds its first listing.
func (a *Authenticator) Ready() <-chan struct{} { return a.ids.Ready() }

// Limiter is the login throttle shared by every password check.
func (a *Authenticator) Limiter() *access.Limiter { return a.limiter }

// ClusterKey is the key the nodes share.
func (a *Authenticator) ClusterKey() []byte { return a.cfg.ClusterKey }

func unauthenticated(why string) error { return fmt.Errorf("%w: %s", ErrUnauthenticated, why) }

// Admin is the principal of the admin token.
func (a *Authenticator) Admin() *access.Principal {
	return &access.Principal{Kind: access.KindAdminToken, Username: "admin", DisplayName: "admin token", Role: access.Admin,
		Scopes: access.AllScopes(), Where: access.Everything(), AdminFP: a.AdminFingerprint()}
}

// UserPrincipal is the principal of an enabled user signed in as kind.
func (a *Authenticator) UserPrincipal(u registry.User, kind access.Kind) *access.Principal {
	role := access.Role(u.Role)
	return &access.Principal{Kind: kind, UserID: u.Identity(), Username: u.Username, DisplayName: u.DisplayName, Role: role,
		Department: u.Department, Scopes: access.ScopesOf(role), Where: a.userJurisdiction(u)}
}

// AdminFingerprint identifies the admin token configured without
// revealing it ("" when none is): what a token it issues, and a ticket
// its holder is given, are bound to.
func (a *Authenticator) AdminFingerprint() string {
	if a.cfg.AdminToken == "" {
		return ""
	}
	return access.Sign([]byte("sharpeyes admin token"), a.cfg.AdminToken)[:22]
}

func (a *Authenticator) isAdminToken(tok string) bool {
	return a.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.AdminToken)) == 1
}

// Bearer resolves an API token or the admin token.
func (a *Authenticator) Bearer(tok string) (*access.Principal, error) {
	if a.isAdminToken(tok) {
		return a.Admin(), nil
	}
	id, secret, err := access.ParseToken(tok)
	if err != nil {
		return nil, unauthenticated("not a token this gateway issued")
	}
	t, ok := a.ids.Token(id)
	if !ok || !access.SameHash(t.SecretHash, access.HashSecret(secret)) {
		return nil, unauthenticated("unknown or revoked token")
	}
	return a.tokenPrincipal(t)
}

// Expiry is when a stored token stops working.
func (a *Authenticator) Expiry(t registry.Token) time.Time {
	if t.ExpiresAt != nil {
		return *t.ExpiresAt
	}
	if a.cfg.TokenMaxTTL > 0 {
		return t.CreatedAt.Add(a.cfg.TokenMaxTTL)
	}
	return time.Time{}
}

// Owner finds the user a token belongs to: by id, or for a token stored
// before ids existed, by name, if that user was there when it was issued.
func (a *Authenticator) Owner(t registry.Token) (registry.User, bool) {
	if t.OwnerID != "" {
		return a.ids.UserByID(t.OwnerID)
	}
	u, ok := a.ids.User(t.Owner)
	if !ok || u.ID != "" && u.CreatedAt.After(t.CreatedAt) {
		return registry.User{}, false
	}
	return u, true
}

// tokenPrincipal is the principal of a stored token: never more than its
// owner may do now (a demoted owner's tokens shrink too).
func (a *Authenticator) tokenPrincipal(t registry.Token) (*access.Principal, error) {
	exp := a.Expiry(t)
	if !exp.IsZero() && !a.now().Before(exp) {
		return nil, unauthenticated("token expired")
	}
	var owner *access.Principal
	if t.Owner == "" && t.OwnerID == "" {
		// The admin token's: only while it is the admin token configured.
		if t.AdminFP == "" || a.cfg.AdminToken == "" || !access.SameHash(t.AdminFP, a.AdminFingerprint()) {
			return nil, unauthenticated("issued by an admin token that is no longer configured; issue it again")
		}
		owner = a.Admin()
	} else {
		u, ok := a.Owner(t)
		if !ok || u.Disabled {
			return nil, unauthenticated("the token's owner is disabled or gone")
		}
		owner = a.UserPrincipal(u, access.KindToken)
	}
	var scopes []access.Scope
	for _, sc := range t.Scopes {
		if owner.Can(access.Scope(sc)) {
			scopes = append(scopes, access.Scope(sc))
		}
	}
	where := owner.Where
	if len(t.Grids) > 0 {
		ix := a.grids.Index()
		tj := a.juris.of(ix, "t:"+t.ID, func() access.Jurisdiction { return access.Compute(ix, "", t.Grids) })
		where = tj.Intersect(owner.Where)
	}
	return &access.Principal{Kind: access.KindToken, UserID: owner.UserID, Username: owner.Username, DisplayName: owner.DisplayName,
		Role: owner.Role, Department: owner.Department, Scopes: scopes, Where: where, TokenID: t.ID, TokenName: t.Name,
		TokenExpiry: exp}, nil
}

// MaxSessionCookie bounds a session cookie's length before it is hashed.
const MaxSessionCookie = 128

// Session resolves a session cookie.
func (a *Authenticator) Session(cookie string) (*access.Principal, error) {
	if len(cookie) > MaxSessionCookie {
		return nil, unauthenticated("unknown session")
	}
	return a.sessionByHash(access.HashSecret(cookie))
}

func (a *Authenticator) sessionByHash(h string) (*access.Principal, error) {
	sess, ok := a.ids.Session(h)
	if !ok || !a.now().Before(sess.ExpiresAt) {
		return nil, unauthenticated("session ended; sign in again")
	}
	u, ok := a.ids.UserByID(sess.UserID)
	switch {
	case !ok || sess.UserID == "":
		return nil, unauthenticated("session ended: the account is gone")
	case u.Disabled:
		return nil, unauthenticated("account disabled")
	case u.Epoch != sess.Epoch:
		return nil, unauthenticated("session ended: the account's password, role or grids changed; sign in again")
	}
	p := a.UserPrincipal(u, access.KindSession)
	p.SessionID, p.CSRF = h, sess.CSRF
	return p, nil
}

// CheckPassword checks a username and password under the login throttle.
// Unknown users, wrong passwords and disabled accounts fail alike, after
// the same work.
func (a *Authenticator) CheckPassword(name, pass, addr string) (registry.User, error) {
	if len(name) > 64 {
		name = name[:64] // an invalid name; keeps limiter keys bounded
	}
	if ok, wait := a.limiter.Allow(name, addr); !ok {
		return registry.User{}, &ThrottledError{Wait: wait}
	}
	u, known := a.ids.User(name)
	hash := ""
	if known && !u.Disabled {
		hash = u.PasswordHash
	}
	if !access.VerifyPassword(hash, pass) {
		a.limiter.Fail(name, addr)
		return registry.User{}, fmt.Errorf("%w: %w", ErrUnauthenticated, access.ErrBadCredentials)
	}
	a.limiter.Succeed(name)
	return u, nil
}

// Refresh resolves a principal's credential again: a session or token
// that has ended, or whose owner changed, answers ErrUnauthenticated, and
// a live one answers what it may do now. Long-lived work (event streams,
// live video) calls it to end when the credential does.
func (a *Authenticator) Refresh(p *access.Principal) (*access.Principal, error) {
	switch p.Kind {
	case access.KindSession:
		return a.sessionByHash(p.SessionID)
	case access.KindToken:
		t, ok := a.ids.Token(p.TokenID)
		if !ok {
			return nil, unauthenticated("token revoked")
		}
		return a.tokenPrincipal(t)
	case access.KindAdminToken:
		if fp := a.AdminFingerprint(); fp == "" || !access.SameHash(fp, p.AdminFP) {
			return nil, unauthenticated("the admin token changed")
		}
	}
	return p, nil
}

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
func (a *Authenticator) userJurisdiction(u registry.User) access.Jurisdiction {
	if access.Role(u.Role) == access.Admin {
		return access.Everything()
	}
	ix := a.grids.Index()
	key := fmt.Sprintf("u:%s:%d", u.Identity(), u.Rev)
	return a.juris.of(ix, key, func() access.Jurisdiction {
		j := access.Compute(ix, u.Username, u.Grids)
		if u.Department != "" {
			j.Assignees[u.Department] = true
		}
		return j
	})
}
