package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
)

// cors lets browser players on other origins use WHEP.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "OPTIONS, POST, PATCH, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, X-CSRF-Token")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Patch")
	c.Next()
}

// whepOptions answers CORS preflights; to a caller that shows credentials
// (the web UI's own OPTIONS) it also lists the STUN/TURN servers: TURN
// credentials are not for anonymous passers-by.
func (s *Server) whepOptions(c *gin.Context) {
	if principal(c) != nil {
		s.iceLinks(c)
	}
	c.Header("Accept-Post", "application/sdp")
	c.Status(http.StatusNoContent)
}

// iceLinks advertises STUN/TURN servers as WHEP Link headers (RFC 9725 4.4).
func (s *Server) iceLinks(c *gin.Context) {
	for _, srv := range s.whep.ICEServers() {
		for _, u := range srv.URLs {
			v := fmt.Sprintf(`<%s>; rel="ice-server"`, u)
			if srv.Username != "" {
				v += fmt.Sprintf(`; username="%s"; credential="%s"; credential-type="password"`, srv.Username, srv.Credential)
			}
			c.Writer.Header().Add("Link", v)
		}
	}
}

func (s *Server) whepOffer(c *gin.Context) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/sdp" {
		writeError(c, fmt.Errorf("%w: WHEP offers must be application/sdp", ErrUnsupportedMedia))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(c, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, mbe.Limit))
			return
		}
		writeError(c, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	variant := c.DefaultQuery("stream", "main")
	if variant != "main" && variant != "sub" {
		writeError(c, &queryError{"stream", "must be main or sub"})
		return
	}
	id := c.Param("id")
	if _, ok := s.visibleCamera(principal(c), id); !ok {
		s.hidden(c, "camera "+id)
		return
	}
	// The node pulling the camera serves its viewers: send them there.
	// 307 keeps the method and the offer (RFC 9110 15.4.8).
	if owner := s.cluster.Owner(id); owner.ID != s.cluster.Self().ID && owner.HTTP != "" {
		u := *c.Request.URL
		q := u.Query()
		q.Set("ticket", s.auth.Ticket(principal(c), id, ticketTTL))
		u.RawQuery = q.Encode()
		c.Redirect(http.StatusTemporaryRedirect, strings.TrimSuffix(owner.HTTP, "/")+u.RequestURI())
		return
	}
	sid, answer, err := s.whep.Offer(c.Request.Context(), id, variant, string(body))
	if err != nil {
		s.log.Info("whep offer refused", "camera", id, "stream", variant, "error", err)
		writeError(c, err)
		return
	}
	s.iceLinks(c)
	s.ownSession(sid, id, principal(c))
	loc := "/api/v1/whep/" + id + "/" + sid
	if principal(c).Ticket {
		// Redirected here with a ticket: the viewer holds no credential of
		// this node, so the Location carries a key that ends this session
		// (and opens nothing; the ticket itself expires in seconds).
		loc += "?end=" + url.QueryEscape(s.auth.EndKey(sid))
	}
	c.Header("Location", loc)
	c.Header("ETag", `"`+sid+`"`)
	c.Data(http.StatusCreated, "application/sdp", []byte(answer))
}

// whepPatch: trickle ICE and ICE restarts are not supported; all candidates
// are in the answer (RFC 9725 allows a 405 here).
func (s *Server) whepPatch(c *gin.Context) {
	c.Header("Allow", "DELETE, OPTIONS")
	writeErrorStatus(c, http.StatusMethodNotAllowed, "trickle ICE is not supported: every candidate is in the answer")
}

func (s *Server) whepDelete(c *gin.Context) {
	if _, ok := s.visibleCamera(principal(c), c.Param("id")); !ok {
		s.hidden(c, "camera "+c.Param("id"))
		return
	}
	// A viewer ends their own sessions; an administrator any.
	if v, ok := s.sessions.Load(c.Param("session")); ok && v.(sessionOwner).p.Username != principal(c).Username && principal(c).Role != access.Admin {
		s.hidden(c, "WHEP session")
		return
	}
	if err := s.whep.Delete(c.Param("session")); err != nil {
		writeError(c, err)
		return
	}
	s.sessions.Delete(c.Param("session"))
	c.Status(http.StatusOK)
}

func writeErrorStatus(c *gin.Context, code int, msg string) {
	c.AbortWithStatusJSON(code, apiError{Error: strings.TrimSpace(msg)})
}

type sessionOwner struct {
	p      *access.Principal
	camera string
	at     time.Time
}

// ownSession records who opened a WHEP session; records older than a day
// are pruned now and then (sessions that ended without a DELETE).
func (s *Server) ownSession(sid, camera string, p *access.Principal) {
	s.sessions.Store(sid, sessionOwner{p, camera, time.Now()})
	if s.sessionCount.Add(1)%1024 == 0 {
		s.sessions.Range(func(k, v any) bool {
			if time.Since(v.(sessionOwner).at) > 24*time.Hour {
				s.sessions.Delete(k)
			}
			return true
		})
	}
}

// Run ends live video that is nobody's any more, every interval until
// ctx ends: a WHEP session whose viewer signed out, whose token was
// revoked or expired, whose user changed (password, role, grids) or may no
// longer see the camera. Sessions that ended by themselves are forgotten.
func (s *Server) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sessions.Range(func(k, v any) bool {
			sid, own := k.(string), v.(sessionOwner)
			np, err := s.auth.Refresh(own.p)
			if err == nil {
				_, err = s.auth.Camera(np, own.camera)
			}
			if err == nil {
				if !np.SameRights(own.p) {
					s.sessions.Store(sid, sessionOwner{np, own.camera, own.at})
				}
				return true
			}
			if derr := s.whep.Delete(sid); derr == nil {
				s.log.Info("live video ended", "camera", own.camera, "who", own.p.Who(), "why", err.Error())
			}
			s.sessions.Delete(sid)
			return true
		})
	}
}
