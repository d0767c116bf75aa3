package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
)

// stream is a server-sent-event stream of incidents and case changes
// (text/event-stream): each message's id is its outbox sequence number, so
// a client that reconnects with Last-Event-ID misses nothing.
// ?topics=case,incident keeps only those prefixes.
func (s *Server) stream(c *gin.Context) {
	if n := s.streams.Add(1); n > int64(s.cfg.MaxStreams) {
		s.streams.Add(-1)
		writeError(c, fmt.Errorf("%w: %d event streams are open, the most this node serves", ErrBusy, s.cfg.MaxStreams))
		return
	}
	defer s.streams.Add(-1)
	// A stream outlives the server's read and write timeouts.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ctx := c.Request.Context()
	es := s.outbox
	p := principal(c)
	caseCache := map[string]bool{}
	var seq int64 // the message being sent
	load := func(id string) (cases.Case, bool) {
		// Fresh (a stream outlives the state it saw), and read once per
		// message for every stream.
		return s.caseAt.get(seq, id, func() (cases.Case, bool) {
			cs, err := s.cases.Get(context.WithoutCancel(ctx), id) // shared: not this stream's to cancel
			return cs, err == nil
		})
	}
	after, err := strconv.ParseInt(c.GetHeader("Last-Event-ID"), 10, 64)
	if err != nil || after < 0 {
		if after, err = es.LastSeq(ctx); err != nil {
			writeError(c, err)
			return
		}
	}
	var prefixes []string
	for _, p := range strings.Split(c.Query("topics"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefixes = append(prefixes, p+".")
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.Flush()
	// The node's bus follows the outbox (other nodes write it too) and
	// says when there is more: every stream reads it from memory.
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	// The stream is somebody's for as long as it lasts: it ends within a
	// second of a logout, a revoked token, or a change of the user's
	// password, role or grids (and then follows what they may see now).
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	// Taken before each read, so what arrives during a read wakes the next.
	now := make(chan struct{})
	close(now)
	var changed <-chan struct{} = now // a reconnecting client catches up at once
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C:
			np, err := s.auth.Refresh(p)
			if err != nil {
				s.log.Info("event stream ended", "who", p.Who(), "why", err.Error())
				fmt.Fprintf(c.Writer, "event: ended\ndata: %s\n\n", mustJSON(gin.H{"error": err.Error()}))
				c.Writer.Flush()
				return
			}
			if !np.SameRights(p) {
				clear(caseCache)
			}
			p = np
		case <-beat.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			c.Writer.Flush()
		case <-changed:
			changed = es.Changed()
			msgs, err := es.Messages(ctx, after, 1000)
			if err != nil {
				continue
			}
			if len(msgs) == 1000 {
				changed = now // more to read
			}
			for _, m := range msgs {
				after, seq = m.Seq, m.Seq
				if len(prefixes) > 0 && !hasPrefix(m.Topic, prefixes) {
					continue
				}
				if !s.seesMessage(ctx, p, m, caseCache, load) {
					continue
				}
				body := []byte(m.Body)
				if strings.HasPrefix(m.Topic, "incident.") {
					var in events.Incident
					if json.Unmarshal(m.Body, &in) == nil {
						body = mustJSON(s.incidentFor(p, in))
					}
				}
				fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", m.Seq, m.Topic, body)
				if n, ok := s.notificationOf(ctx, p, m, load); ok {
					b, _ := json.Marshal(n)
					fmt.Fprintf(c.Writer, "event: notify\ndata: %s\n\n", b)
				}
			}
			if len(msgs) > 0 {
				c.Writer.Flush()
			}
		}
	}
}

// caseMemo is each case as read for an outbox message: every stream told
// of that message shares one read of the case.
type caseMemo struct {
	mu sync.Mutex
	m  map[caseKey]*caseRead
}

type caseKey struct {
	seq int64
	id  string
}

type caseRead struct {
	once sync.Once
	cs   cases.Case
	ok   bool
}

// get answers the case id as read for message seq, reading it once.
func (c *caseMemo) get(seq int64, id string, read func() (cases.Case, bool)) (cases.Case, bool) {
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[caseKey]*caseRead{}
	}
	e := c.m[caseKey{seq, id}]
	if e == nil {
		e = &caseRead{}
		c.m[caseKey{seq, id}] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.cs, e.ok = read() })
	return e.cs, e.ok
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func hasPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// seesMessage tells whether a stream message is the principal's to see:
// incidents by their cells (with events:read), case changes by the case
// (with cases:read). Case visibility is looked up once per stream.
func (s *Server) seesMessage(ctx context.Context, p *access.Principal, m events.Message, seen map[string]bool, load func(string) (cases.Case, bool)) bool {
	switch {
	case strings.HasPrefix(m.Topic, "incident."):
		if !p.Can(access.EventsRead) {
			return false
		}
		var in events.Incident
		return json.Unmarshal(m.Body, &in) == nil && seesIncident(p, in)
	case strings.HasPrefix(m.Topic, "case."):
		if !p.Can(access.CasesRead) {
			return false
		}
		var row struct {
			CaseID string `json:"case_id"`
		}
		if json.Unmarshal(m.Body, &row) != nil || row.CaseID == "" {
			return false
		}
		if p.Where.All {
			return true
		}
		if strings.HasSuffix(m.Topic, ".dispatch") || strings.HasSuffix(m.Topic, ".join") {
			delete(seen, row.CaseID) // assignee or place may have changed
		}
		ok, known := seen[row.CaseID]
		if !known {
			cs, found := load(row.CaseID)
			ok = found && seesCase(p, cs)
			if len(seen) > 10_000 {
				clear(seen)
			}
			seen[row.CaseID] = ok
		}
		return ok
	}
	return p.Where.All
}
