package authn

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"sharpeyes/access"
	"sharpeyes/registry"
)

// verified remembers recent successful password checks, so the several
// requests of one RTSP session (DESCRIBE, SETUP, PLAY) cost one argon2
// computation. Keyed by a hash of user, password and stored hash.
type verified struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (v *verified) ok(key string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, found := v.seen[key]
	return found && time.Since(t) < time.Minute
}

func (v *verified) add(key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil || len(v.seen) > 10_000 {
		v.seen = map[string]time.Time{}
	}
	v.seen[key] = time.Now()
}

// Node is the principal of another gateway node of the cluster.
func (a *Authenticator) Node() *access.Principal {
	return &access.Principal{Kind: access.KindNode, Username: NodeUser, Role: access.Admin,
		Scopes: []access.Scope{access.Video}, Where: access.Everything()}
}

// Basic resolves credentials given as a user name and password (RTSP
// Basic): a user's own password, any name with an API token (or the admin
// token) as the password, or the node name with the cluster key. addr is
// the client's address, for the login throttle.
func (a *Authenticator) Basic(user, pass, addr string) (*access.Principal, error) {
	if user == "" && pass == "" {
		return nil, unauthenticated("credentials required")
	}
	if len(a.cfg.ClusterKey) > 0 && user == NodeUser && access.SameHash(pass, string(a.cfg.ClusterKey)) {
		return a.Node(), nil
	}
	if a.isAdminToken(pass) || strings.HasPrefix(pass, "se_") {
		return a.Bearer(pass)
	}
	u, known := a.ids.User(user)
	key := access.HashSecret(user + "\x00" + pass + "\x00" + u.PasswordHash)
	if known && !u.Disabled && u.PasswordHash != "" && a.seen.ok(key) {
		return a.UserPrincipal(u, access.KindSession), nil
	}
	u, err := a.CheckPassword(user, pass, addr)
	if err != nil {
		return nil, err
	}
	a.seen.add(access.HashSecret(user + "\x00" + pass + "\x00" + u.PasswordHash))
	return a.UserPrincipal(u, access.KindSession), nil
}

// Sees tells whether a camera lies in the principal's jurisdiction.
func (a *Authenticator) Sees(p *access.Principal, cam registry.Camera) bool {
	if p.Where.All {
		return true
	}
	cells := cam.Cells(a.grids.Index())
	return p.Where.HasAny(cells.All()...)
}

// Camera checks that p may watch camera id: it holds video and sees the
// camera. A camera outside the jurisdiction is ErrHidden, as if unknown.
func (a *Authenticator) Camera(p *access.Principal, id string) (registry.Camera, error) {
	if !p.Can(access.Video) {
		return registry.Camera{}, fmt.Errorf("%w: needs the video scope", ErrForbidden)
	}
	cam, ok := a.catalog.Get(id)
	if !ok || !a.Sees(p, cam) {
		return registry.Camera{}, fmt.Errorf("camera %q: %w", id, ErrHidden)
	}
	return cam, nil
}

// Video resolves RTSP credentials for one camera, logging refusals (never
// the credentials).
func (a *Authenticator) Video(user, pass, addr, cameraID string) (*access.Principal, error) {
	p, err := a.Basic(user, pass, addr)
	if err != nil {
		a.log.Info("access refused", "who", "rtsp:"+user, "addr", addr, "camera", cameraID, "why", err.Error())
		return nil, err
	}
	if _, err := a.Camera(p, cameraID); err != nil {
		a.log.Info("access refused", "who", p.Who(), "addr", addr, "camera", cameraID, "why", err.Error())
		return nil, err
	}
	return p, nil
}

// TicketTTL bounds how long a redirect ticket may be used.
const TicketTTL = 30 * time.Second

// Ticket signs a WHEP redirect to the owning node: the owner cannot see
// the viewer's cookie (another origin) and browsers drop Authorization on
// cross-origin redirects, so the redirect carries a short-lived grant for
// this one camera, signed with the cluster key.
func (a *Authenticator) Ticket(p *access.Principal, cameraID string, ttl time.Duration) string {
	return a.TicketFor(p, cameraID, TicketWHEP, ttl)
}

// Ticket purposes: what a ticket lets its bearer do with its camera.
const (
	TicketWHEP     = "live"     // watch it live
	TicketPlayback = "playback" // play its past
	TicketExport   = "export"   // play and download its past
)

// credentialRef names the credential p proved itself with, for a ticket:
// a session (by its hash), a token (its id), the admin token (its
// fingerprint). A principal with none (another node, an RTSP password)
// gets no ticket.
func (a *Authenticator) credentialRef(p *access.Principal) string {
	switch {
	case p.Kind == access.KindSession && p.SessionID != "":
		return "s" + p.SessionID
	case p.Kind == access.KindToken && p.TokenID != "":
		return "t" + p.TokenID
	case p.Kind == access.KindAdminToken && a.AdminFingerprint() != "":
		return "a" + a.AdminFingerprint()
	}
	return ""
}

// TicketFor signs a redirect to the node that serves a camera, for one
// purpose, bound to the credential p showed: the ticket works only while
// that credential does ("" for a principal without one).
func (a *Authenticator) TicketFor(p *access.Principal, cameraID, purpose string, ttl time.Duration) string {
	ref := a.credentialRef(p)
	if ref == "" || len(a.cfg.ClusterKey) == 0 {
		return ""
	}
	exp := strconv.FormatInt(a.now().Add(ttl).Unix(), 10)
	msg := exp + "." + url.PathEscape(ref) + "." + cameraID + "." + purpose
	return msg + "." + access.Sign(a.cfg.ClusterKey, msg)
}

// FromTicket checks a ticket for cameraID: the credential it was issued
// for, checked again now (a session that ended, a token revoked, a user
// deleted or whose password changed, an admin token replaced: the ticket
// is refused), narrowed to that one camera and the ticket's purpose.
func (a *Authenticator) FromTicket(t, cameraID string) (*access.Principal, error) {
	bad := unauthenticated("invalid or expired ticket")
	i := strings.LastIndexByte(t, '.')
	if i < 0 || len(a.cfg.ClusterKey) == 0 || len(t) > 512 {
		return nil, bad
	}
	msg, sig := t[:i], t[i+1:]
	if !access.Verify(a.cfg.ClusterKey, msg, sig) {
		return nil, bad
	}
	parts := strings.Split(msg, ".")
	if len(parts) != 4 || parts[2] != cameraID {
		return nil, bad
	}
	var scopes []access.Scope
	switch parts[3] {
	case TicketWHEP:
		scopes = []access.Scope{access.Video}
	case TicketPlayback:
		scopes = []access.Scope{access.RecordingsRead}
	case TicketExport:
		scopes = []access.Scope{access.RecordingsRead, access.RecordingsExport}
	default:
		return nil, bad
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || a.now().Unix() > exp {
		return nil, bad
	}
	ref, err := url.PathUnescape(parts[1])
	if err != nil || ref == "" {
		return nil, bad
	}
	var issuer *access.Principal
	switch ref[0] {
	case 's':
		issuer, err = a.sessionByHash(ref[1:])
	case 't':
		tok, ok := a.ids.Token(ref[1:])
		if !ok {
			return nil, unauthenticated("the ticket's token is revoked")
		}
		issuer, err = a.tokenPrincipal(tok)
	case 'a':
		if fp := a.AdminFingerprint(); fp == "" || !access.SameHash(fp, ref[1:]) {
			return nil, unauthenticated("the ticket's admin token is no longer configured")
		}
		issuer = a.Admin()
	default:
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	cam, ok := a.catalog.Get(cameraID)
	if !ok || !a.Sees(issuer, cam) {
		return nil, bad
	}
	p := *issuer
	p.Scopes = nil
	for _, sc := range scopes {
		if issuer.Can(sc) {
			p.Scopes = append(p.Scopes, sc)
		}
	}
	if len(p.Scopes) == 0 {
		return nil, fmt.Errorf("%w: the ticket's credential may no longer do this", ErrForbidden)
	}
	where := access.Jurisdiction{Cells: map[string]bool{}, Assignees: map[string]bool{}}
	for _, c := range cam.Cells(a.grids.Index()).All() {
		if c != "" {
			where.Cells[c] = true
		}
	}
	if len(where.Cells) == 0 {
		where = access.Everything() // an unplaced camera: the ticket names it alone
	}
	p.Where, p.Ticket, p.CSRF = where, true, ""
	return &p, nil
}

// EndKey is what ends WHEP session sid without a credential of this
// node: the Location given a viewer sent here with a ticket carries it.
// It ends that one session and opens nothing.
func (a *Authenticator) EndKey(sid string) string {
	return access.Sign(a.cfg.ClusterKey, "whep-end."+sid)
}

// CheckEndKey tells whether key ends session sid.
func (a *Authenticator) CheckEndKey(sid, key string) bool {
	return len(a.cfg.ClusterKey) > 0 && key != "" && access.Verify(a.cfg.ClusterKey, "whep-end."+sid, key)
}
