package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
)

// Notification is something a user should hear of: a case assigned to them
// (or their department), a 督办 warning or overdue notice on a case of a
// cell that names them grid chief (or assigned to them), an evaluation of
// a case they handled, a camera fault of theirs whose camera is back (to
// close); and for the command centre, a report filed by hand waiting to be
// registered and a case resolved waiting to be verified.
type Notification struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // assignment, escalation, overdue, evaluation, report, verification, camera_back
	CaseID string    `json:"case_id"`
	Title  string    `json:"title"`
	// CaseKind and CameraID let screens name a case the gateway opened in
	// the reader's language.
	CaseKind string `json:"case_kind,omitempty"`
	CameraID string `json:"camera_id,omitempty"`
	Grid     string `json:"grid"`
	Level    int    `json:"level,omitempty"` // 督办 level of escalations
	Rating   int    `json:"rating,omitempty"`
	Note     string `json:"note,omitempty"`
}

// notificationScan is how far back the feed looks, in outbox messages.
const notificationScan = 5000

// notificationOf tells whether a case message is a notification for p.
func (s *Server) notificationOf(ctx context.Context, p *access.Principal, m events.Message, load func(string) (cases.Case, bool)) (Notification, bool) {
	if !strings.HasPrefix(m.Topic, "case.") || p.Kind == access.KindAdminToken {
		return Notification{}, false
	}
	var row cases.AuditRow
	if json.Unmarshal(m.Body, &row) != nil || row.CaseID == "" || row.Actor == p.Username {
		return Notification{}, false // nobody is told of what they did themselves
	}
	cs, ok := load(row.CaseID)
	if !ok {
		return Notification{}, false
	}
	isMe := func(a string) bool { return a != "" && (a == p.Username || (p.Department != "" && a == p.Department)) }
	mine := isMe(cs.Assignee)
	var args cases.Args // what the action said, as it was then
	_ = json.Unmarshal(row.Detail, &args)
	n := Notification{Seq: m.Seq, At: row.At, CaseID: cs.ID, Title: cs.Title, CaseKind: cs.Kind, CameraID: cs.CameraID, Grid: cs.Grid, Note: row.Note}
	switch row.Action {
	case string(cases.Dispatch):
		n.Kind = "assignment"
		return n, isMe(args.Assignee)
	case "escalate":
		n.Kind, n.Level = "escalation", row.Escalation
		if row.Escalation >= 2 {
			n.Kind = "overdue"
		}
		cell, _ := s.grids.Index().Get(cs.Grid)
		return n, mine || (cell.Roles.Chief != "" && cell.Roles.Chief == p.Username)
	case string(cases.Evaluate):
		n.Kind, n.Rating = "evaluation", args.Rating
		return n, mine
	case string(cases.Resolve):
		n.Kind = "verification"
		return n, row.To == cases.Verifying && centre(p) && seesCase(p, cs)
	case "camera_back": // the repair loop: the camera is back, close the case
		n.Kind = "camera_back"
		return n, mine || (cs.Assignee == "" && centre(p) && seesCase(p, cs))
	case "create":
		n.Kind = "report"
		return n, row.To == cases.Received && cs.Source != "event" && centre(p) && seesCase(p, cs)
	}
	return Notification{}, false
}

// centre tells whether p works at the command centre, which registers and
// verifies cases.
func centre(p *access.Principal) bool {
	return p.Role == access.Dispatcher
}

// caseLoader reads cases once per request or stream.
func (s *Server) caseLoader(ctx context.Context) func(string) (cases.Case, bool) {
	seen := map[string]*cases.Case{}
	return func(id string) (cases.Case, bool) {
		if c, ok := seen[id]; ok {
			return *c, c != nil && c.ID != ""
		}
		c, err := s.cases.Get(ctx, id)
		if len(seen) > 10_000 {
			clear(seen)
		}
		if err != nil {
			seen[id] = &cases.Case{}
			return cases.Case{}, false
		}
		seen[id] = &c
		return c, true
	}
}

// notifications answers the caller's feed, newest first, from the latest
// outbox messages (after=SEQ for only newer ones).
func (s *Server) notifications(c *gin.Context) {
	limit, err := intParam(c, "limit", 50, 1, 500)
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	// The store, not the bus: what the caller just did is in its answer.
	last, err := s.events.LastSeq(ctx)
	if err != nil {
		writeError(c, err)
		return
	}
	from := max(last-notificationScan, 0)
	if v := c.Query("after"); v != "" {
		n, err := intParam(c, "after", 0, 0, 1<<62)
		if err != nil {
			writeError(c, err)
			return
		}
		from = max(int64(n), from)
	}
	p, load := principal(c), s.caseLoader(ctx)
	out := []Notification{}
	for from < last {
		msgs, err := s.events.Messages(ctx, from, 500)
		if err != nil {
			writeError(c, err)
			return
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			from = m.Seq
			if n, ok := s.notificationOf(ctx, p, m, load); ok {
				out = append(out, n)
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > limit {
		out = out[:limit]
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}
