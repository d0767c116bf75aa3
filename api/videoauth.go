package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"sharpeyes/access"
	"sharpeyes/relay"
)

// verified remembers recent successful RTSP password checks, so the
// several requests of one RTSP session (DESCRIBE, SETUP, PLAY) cost one
// argon2 computation. Keyed by a hash of user and password.
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

// AuthorizeVideo checks RTSP credentials for a camera: a user's name and
// password, or any name with an API token (or the admin token) as the
// password; the node name with the cluster key for another gateway node.
// The principal must hold video and see the camera. addr is the client's
// address, for the login throttle.
func (s *Server) AuthorizeVideo(user, pass, addr, cameraID string) error {
	if user == "" && pass == "" {
		return fmt.Errorf("%w: credentials required", ErrUnauthorized)
	}
	if len(s.cfg.ClusterKey) > 0 && user == NodeUser && access.SameHash(pass, string(s.cfg.ClusterKey)) {
		return nil
	}
	var p *access.Principal
	if tp, err := s.bearerPrincipal(pass); err == nil {
		p = tp
	} else if !strings.HasPrefix(pass, "se_") && s.ids != nil {
		if ok, wait := s.limiter.Allow(user, addr); !ok {
			return fmt.Errorf("%w: too many failed logins; try again in %s", ErrUnauthorized, wait.Round(time.Second))
		}
		u, known := s.ids.User(user)
		key := access.HashSecret(user + "\x00" + pass)
		hash := ""
		if known && !u.Disabled {
			hash = u.PasswordHash
		}
		if hash != "" && s.rtspSeen.ok(key+u.PasswordHash) {
			p = s.userPrincipal(u, access.KindSession)
		} else if access.VerifyPassword(hash, pass) {
			s.rtspSeen.add(key + u.PasswordHash)
			s.limiter.Succeed(user)
			p = s.userPrincipal(u, access.KindSession)
		} else {
			s.limiter.Fail(user, addr)
		}
	}
	if p == nil {
		s.log.Info("access refused", "who", "rtsp:"+user, "addr", addr, "camera", cameraID, "why", "wrong credentials")
		return fmt.Errorf("%w: wrong credentials", ErrUnauthorized)
	}
	if !p.Can(access.Video) {
		s.log.Info("access refused", "who", p.Who(), "addr", addr, "camera", cameraID, "why", "needs video")
		return fmt.Errorf("%w: needs the video scope", ErrForbidden)
	}
	if _, ok := s.visibleCamera(p, cameraID); !ok {
		s.log.Info("access refused", "who", p.Who(), "addr", addr, "camera", cameraID, "why", "camera outside the jurisdiction")
		return fmt.Errorf("camera %q: %w", cameraID, relay.ErrUnknownCamera)
	}
	return nil
}

// NodeUser is the RTSP user name gateway nodes use with the cluster key.
const NodeUser = "sharpeyes-node"

// ticketTTL bounds how long a WHEP redirect ticket may be used.
const ticketTTL = 30 * time.Second

// ticket signs a WHEP redirect to the owning node: the owner cannot see
// the viewer's cookie (another origin) and browsers drop Authorization on
// cross-origin redirects, so the redirect carries a short-lived grant for
// this one camera, signed with the cluster key.
func (s *Server) ticket(p *access.Principal, cameraID string, ttl time.Duration) string {
	exp := strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)
	msg := exp + "." + url.PathEscape(p.Username) + "." + cameraID
	return msg + "." + access.Sign(s.cfg.ClusterKey, msg)
}

// ticketPrincipal checks a ticket for cameraID: a viewer of that camera alone.
func (s *Server) ticketPrincipal(t, cameraID string) (*access.Principal, error) {
	bad := fmt.Errorf("%w: invalid or expired ticket", ErrUnauthorized)
	i := strings.LastIndexByte(t, '.')
	if i < 0 || len(s.cfg.ClusterKey) == 0 || len(t) > 512 {
		return nil, bad
	}
	msg, sig := t[:i], t[i+1:]
	if !access.Verify(s.cfg.ClusterKey, msg, sig) {
		return nil, bad
	}
	parts := strings.SplitN(msg, ".", 3)
	if len(parts) != 3 || parts[2] != cameraID {
		return nil, bad
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return nil, bad
	}
	who, _ := url.PathUnescape(parts[1])
	cam, ok := s.catalog.Get(cameraID)
	if !ok {
		return nil, bad
	}
	cells := locate(s.grids.Index(), cam)
	where := access.Jurisdiction{Cells: map[string]bool{}, Assignees: map[string]bool{}}
	for _, c := range append([]string{cells.Base}, cells.Special...) {
		if c != "" {
			where.Cells[c] = true
		}
	}
	if len(where.Cells) == 0 {
		where = access.Everything() // an unplaced camera: the ticket names it alone
	}
	return &access.Principal{Kind: access.KindNode, Username: who, Role: access.Viewer, Scopes: []access.Scope{access.Video}, Where: where}, nil
}
