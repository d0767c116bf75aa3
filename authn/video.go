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

// TicketTTL bounds how long a WHEP redirect ticket may be used.
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
	TicketWHEP     = ""         // watch it live
	TicketPlayback = "playback" // play its past
	TicketExport   = "export"   // play and download its past
)

// TicketFor signs a redirect to the node that serves a camera, for one
// purpose.
func (a *Authenticator) TicketFor(p *access.Principal, cameraID, purpose string, ttl time.Duration) string {
	exp := strconv.FormatInt(a.now().Add(ttl).Unix(), 10)
	msg := exp + "." + url.PathEscape(p.Username) + "." + cameraID
	if purpose != "" {
		msg += "." + purpose
	}
	return msg + "." + access.Sign(a.cfg.ClusterKey, msg)
}

// FromTicket checks a ticket for cameraID: a viewer of that camera alone.
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
	parts := strings.SplitN(msg, ".", 4)
	if len(parts) < 3 || parts[2] != cameraID {
		return nil, bad
	}
	scopes := []access.Scope{access.Video}
	if len(parts) == 4 {
		switch parts[3] {
		case TicketPlayback:
			scopes = []access.Scope{access.RecordingsRead}
		case TicketExport:
			scopes = []access.Scope{access.RecordingsRead, access.RecordingsExport}
		default:
			return nil, bad
		}
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || a.now().Unix() > exp {
		return nil, bad
	}
	who, _ := url.PathUnescape(parts[1])
	cam, ok := a.catalog.Get(cameraID)
	if !ok {
		return nil, bad
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
	return &access.Principal{Kind: access.KindNode, Username: who, Role: access.Viewer, Scopes: scopes, Where: where}, nil
}
