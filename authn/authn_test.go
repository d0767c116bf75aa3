package authn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/access"
	"sharpeyes/grid"
	"sharpeyes/registry"
)

// ids is an identity mirror in memory.
type ids struct {
	users    map[string]registry.User
	tokens   map[string]registry.Token
	sessions map[string]registry.Session
	ready    chan struct{}
}

func newIDs() *ids {
	r := make(chan struct{})
	close(r)
	return &ids{users: map[string]registry.User{}, tokens: map[string]registry.Token{}, sessions: map[string]registry.Session{}, ready: r}
}

func (i *ids) User(n string) (registry.User, bool) { u, ok := i.users[n]; return u, ok }
func (i *ids) UserByID(id string) (registry.User, bool) {
	for _, u := range i.users {
		if u.Identity() == id {
			return u, true
		}
	}
	return registry.User{}, false
}
func (i *ids) Token(id string) (registry.Token, bool)    { t, ok := i.tokens[id]; return t, ok }
func (i *ids) Session(h string) (registry.Session, bool) { s, ok := i.sessions[h]; return s, ok }
func (i *ids) Ready() <-chan struct{}                    { return i.ready }

type grids struct{ ix *grid.Index }

func (g grids) Index() *grid.Index { return g.ix }

type catalog map[string]registry.Camera

func (c catalog) Get(id string) (registry.Camera, bool) { cam, ok := c[id]; return cam, ok }

func square(x, y float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{x, y}, {x + 0.01, y}, {x + 0.01, y + 0.01}, {x, y + 0.01}, {x, y}}}}
}

func fixture(t *testing.T) (*Authenticator, *ids) {
	t.Helper()
	ix := grid.NewIndex([]grid.Cell{
		{Code: "A", Name: "a", Level: 4, Kind: grid.Base, Geometry: square(119.40, 32.40)},
		{Code: "B", Name: "b", Level: 4, Kind: grid.Base, Geometry: square(119.42, 32.40)},
	})
	cams := catalog{
		"in-a": {ID: "in-a", Location: &registry.Location{Lat: 32.405, Lon: 119.405}},
		"in-b": {ID: "in-b", Location: &registry.Location{Lat: 32.405, Lon: 119.425}},
	}
	m := newIDs()
	a := New(Config{AdminToken: "admin-token-0123456789", ClusterKey: []byte("k3y"), TokenMaxTTL: 30 * 24 * time.Hour}, m, grids{ix}, cams)
	return a, m
}

func addUser(m *ids, name, role string, g ...string) registry.User {
	h, _ := access.HashPassword("password-" + name)
	u := registry.User{ID: registry.NewUserID(), Epoch: 1, Username: name, Role: role, Grids: g, PasswordHash: h,
		CreatedAt: time.Now().Add(-time.Hour)}
	m.users[name] = u
	return u
}

func addToken(m *ids, owner registry.User, scopes []string, created time.Time, exp *time.Time) string {
	id, secret, full, _ := access.NewToken()
	m.tokens[id] = registry.Token{ID: id, Name: "t", Owner: owner.Username, OwnerID: owner.ID, SecretHash: access.HashSecret(secret),
		Scopes: scopes, CreatedAt: created, ExpiresAt: exp}
	return full
}

func TestTokensBelongToTheOwnersIDAndExpire(t *testing.T) {
	a, m := fixture(t)
	u := addUser(m, "lin", "viewer", "A")
	tok := addToken(m, u, []string{"cameras:read", "video", "cases:read"}, time.Now(), nil)
	p, err := a.Bearer(tok)
	if err != nil || p.UserID != u.ID || strings.Join(scopeNames(p.Scopes), " ") != "cameras:read video" {
		t.Fatalf("token: %+v %v (cases:read is beyond a viewer)", p, err)
	}
	// The name reused by a new user: the token is nobody's.
	addUser(m, "lin", "dispatcher", "A", "B")
	if _, err := a.Bearer(tok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a deleted user's token as the new user of that name: %v", err)
	}
	// Legacy tokens (no owner id): their owner's only if the owner was there first.
	u2 := m.users["lin"]
	old := addToken(m, registry.User{Username: "lin"}, []string{"cameras:read"}, u2.CreatedAt.Add(-time.Minute), nil)
	if _, err := a.Bearer(old); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a legacy token older than its owner accepted: %v", err)
	}
	later := addToken(m, registry.User{Username: "lin"}, []string{"cameras:read"}, u2.CreatedAt.Add(time.Minute), nil)
	if p, err := a.Bearer(later); err != nil || p.UserID != u2.ID {
		t.Errorf("a legacy token issued after its owner: %+v %v", p, err)
	}
	// Expiry: explicit, and for tokens stored without one, the maximum after issue.
	past := time.Now().Add(-time.Second)
	if _, err := a.Bearer(addToken(m, u2, []string{"cameras:read"}, time.Now().Add(-time.Hour), &past)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an expired token: %v", err)
	}
	if _, err := a.Bearer(addToken(m, u2, []string{"cameras:read"}, time.Now().Add(-31*24*time.Hour), nil)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a token with no expiry issued past token_max_ttl: %v", err)
	}
	if p, err := a.Bearer("admin-token-0123456789"); err != nil || !p.Where.All {
		t.Errorf("the admin token: %+v %v", p, err)
	}
}

func scopeNames(ss []access.Scope) []string {
	var out []string
	for _, s := range ss {
		out = append(out, string(s))
	}
	return out
}

func TestSessionsEndWithTheirUsersEpoch(t *testing.T) {
	a, m := fixture(t)
	u := addUser(m, "mei", "dispatcher", "A")
	m.sessions[access.HashSecret("cookie")] = registry.Session{IDHash: access.HashSecret("cookie"), Username: "mei", UserID: u.ID, Epoch: u.Epoch,
		CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}
	p, err := a.Session("cookie")
	if err != nil || p.Username != "mei" || p.CSRF != "c" {
		t.Fatalf("session: %+v %v", p, err)
	}
	u.Epoch++ // a password, role or grid change
	m.users["mei"] = u
	if _, err := a.Session("cookie"); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("a session of an older epoch: %v", err)
	}
	if _, err := a.Refresh(p); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("refreshing the session's principal: %v", err)
	}
	if _, err := a.Session(strings.Repeat("x", 200)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an oversized cookie: %v", err)
	}
}

func TestVideoCredentialsAndTickets(t *testing.T) {
	a, m := fixture(t)
	addUser(m, "worker", "grid_worker", "A")
	if _, err := a.Video("worker", "password-worker", "10.0.0.1", "in-a"); err != nil {
		t.Errorf("the worker's own camera over RTSP: %v", err)
	}
	if _, err := a.Video("worker", "password-worker", "10.0.0.1", "in-b"); !errors.Is(err, ErrHidden) {
		t.Errorf("another cell's camera: %v, want ErrHidden", err)
	}
	if _, err := a.Video("worker", "wrong", "10.0.0.1", "in-a"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a wrong password: %v", err)
	}
	if p, err := a.Basic(NodeUser, "k3y", "10.0.0.2"); err != nil || p.Kind != access.KindNode {
		t.Errorf("another node: %+v %v", p, err)
	}
	if _, err := a.Basic(NodeUser, "k3z", "10.0.0.2"); err == nil {
		t.Error("a wrong cluster key accepted")
	}
	v := addUser(m, "v", "viewer", "A", "B")
	m.sessions["h-v"] = registry.Session{IDHash: "h-v", Username: "v", UserID: v.ID, Epoch: v.Epoch, ExpiresAt: time.Now().Add(time.Hour)}
	viewer, err := a.sessionByHash("h-v")
	if err != nil {
		t.Fatal(err)
	}
	tk := a.Ticket(viewer, "in-a", time.Minute)
	if p, err := a.FromTicket(tk, "in-a"); err != nil || !p.Can(access.Video) || !p.Ticket || p.Can(access.CamerasRead) || p.Where.HasCell("B") {
		t.Errorf("a ticket for its camera: %+v %v (video for that camera only)", p, err)
	}
	if _, err := a.FromTicket(tk, "in-b"); err == nil {
		t.Error("a ticket for another camera accepted")
	}
	if _, err := a.FromTicket(tk[:len(tk)-2]+"xx", "in-a"); err == nil {
		t.Error("a forged ticket accepted")
	}
	if _, err := a.FromTicket(a.Ticket(viewer, "in-a", -time.Minute), "in-a"); err == nil {
		t.Error("an expired ticket accepted")
	}
	if _, err := a.FromTicket(a.TicketFor(viewer, "in-a", TicketExport, time.Minute), "in-a"); err == nil {
		t.Error("an export ticket for a viewer, who may not export, accepted")
	}
	// The ticket dies with its credential: the session ended, the user's
	// password changed (a new epoch), the user deleted.
	delete(m.sessions, "h-v")
	if _, err := a.FromTicket(tk, "in-a"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a ticket of a session that ended: %v", err)
	}
	m.sessions["h-v"] = registry.Session{IDHash: "h-v", Username: "v", UserID: v.ID, Epoch: v.Epoch, ExpiresAt: time.Now().Add(time.Hour)}
	v.Epoch++
	m.users["v"] = v
	if _, err := a.FromTicket(tk, "in-a"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a ticket of a user whose password changed: %v", err)
	}
	delete(m.users, "v")
	if _, err := a.FromTicket(tk, "in-a"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a ticket of a deleted user: %v", err)
	}
	// A token's ticket ends when the token is revoked; an RTSP password's
	// principal (no credential to check again) gets none.
	w := addUser(m, "w", "grid_worker", "A")
	tok := addToken(m, w, []string{"video"}, time.Now(), nil)
	tp, err := a.Bearer(tok)
	if err != nil {
		t.Fatal(err)
	}
	ttk := a.Ticket(tp, "in-a", time.Minute)
	if _, err := a.FromTicket(ttk, "in-a"); err != nil {
		t.Errorf("a token's ticket: %v", err)
	}
	delete(m.tokens, tp.TokenID)
	if _, err := a.FromTicket(ttk, "in-a"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a revoked token's ticket: %v", err)
	}
	if a.Ticket(a.UserPrincipal(w, access.KindSession), "in-a", time.Minute) != "" {
		t.Error("a principal without a session got a ticket")
	}
	// The end key ends one session and is nothing else.
	if !a.CheckEndKey("sid1", a.EndKey("sid1")) || a.CheckEndKey("sid2", a.EndKey("sid1")) {
		t.Error("end keys")
	}
	if _, err := a.FromTicket(a.EndKey("sid1"), "in-a"); err == nil {
		t.Error("an end key accepted as a ticket")
	}
}

// TestAdminTokenRotation: what the admin token issued — API tokens,
// tickets — ends when auth.admin_token changes.
func TestAdminTokenRotation(t *testing.T) {
	a, m := fixture(t)
	id, secret, full, _ := access.NewToken()
	m.tokens[id] = registry.Token{ID: id, Name: "by admin", SecretHash: access.HashSecret(secret), Scopes: []string{"video"},
		CreatedAt: time.Now(), AdminFP: a.AdminFingerprint()}
	if _, err := a.Bearer(full); err != nil {
		t.Fatalf("a token the admin token issued: %v", err)
	}
	legacyID, legacySecret, legacy, _ := access.NewToken()
	m.tokens[legacyID] = registry.Token{ID: legacyID, Name: "old", SecretHash: access.HashSecret(legacySecret), Scopes: []string{"video"}, CreatedAt: time.Now()}
	if _, err := a.Bearer(legacy); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an admin-issued token without the admin token's fingerprint: %v", err)
	}
	admin := a.Admin()
	tk := a.Ticket(admin, "in-b", time.Minute)
	if _, err := a.FromTicket(tk, "in-b"); err != nil {
		t.Fatalf("the admin token's ticket: %v", err)
	}
	// Rotated: the same stores, another admin token.
	b := New(Config{AdminToken: "admin-token-rotated-0000", ClusterKey: []byte("k3y"), TokenMaxTTL: 30 * 24 * time.Hour}, m, a.grids, a.catalog)
	if _, err := b.Bearer(full); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a token the old admin token issued, after rotation: %v", err)
	}
	if _, err := b.FromTicket(tk, "in-b"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the old admin token's ticket, after rotation: %v", err)
	}
	if _, err := b.Refresh(admin); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("what the old admin token opened, after rotation: %v", err)
	}
}

func TestThrottleRefusesAfterFiveFailures(t *testing.T) {
	a, m := fixture(t)
	addUser(m, "zhou", "viewer")
	for i := 0; i < 5; i++ {
		if _, err := a.CheckPassword("zhou", "wrong", "10.0.0.9"); err == nil {
			t.Fatal("a wrong password accepted")
		}
	}
	_, err := a.CheckPassword("zhou", "password-zhou", "10.0.0.9")
	var te *ThrottledError
	if !errors.As(err, &te) || te.Wait <= 0 || !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the sixth try: %v, want throttled", err)
	}
}
