package api

import (
	"context"
	"time"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/registry"
)

// CaseStore is what the handlers need of the case store.
type CaseStore interface {
	Get(ctx context.Context, id string) (cases.Case, error)
	List(ctx context.Context, f cases.Filter) ([]cases.Case, error)
	CreateNoted(ctx context.Context, c cases.Case, who cases.Actor, n cases.Note) (cases.Case, error)
	Act(ctx context.Context, id string, act cases.Action, who cases.Actor, a cases.Args) (cases.Case, error)
	Audit(ctx context.Context, id string) ([]cases.AuditRow, error)
	Attach(ctx context.Context, caseID string, who cases.Actor, atts []cases.Attachment) ([]cases.Attachment, error)
	Attachments(ctx context.Context, caseID string) ([]cases.Attachment, error)
	AttachmentOf(ctx context.Context, caseID, id string) (cases.Attachment, error)
	// Deadline is when a case's time limit runs out (working days).
	Deadline(c cases.Case) time.Time
	FiguresOf(ctx context.Context, from, to time.Time, keep func(cases.Case) bool) (cases.Figures, error)
	Report(ctx context.Context, from, to, now time.Time, keep func(cases.Case) bool) ([]cases.GridReport, error)
}

// EventStore is what the handlers need of the event store.
type EventStore interface {
	Events(ctx context.Context, f events.Filter, keep func(events.Stored) bool) ([]events.Stored, error)
	Incident(ctx context.Context, id string) (events.Incident, error)
	IncidentsOf(ctx context.Context, cameraID, kind, state string, limit int, keep func(events.Incident) bool) ([]events.Incident, error)
	CountByKindOf(ctx context.Context, from, to time.Time, keep func(events.Incident) bool) (map[string]int, error)
	PutMedia(ctx context.Context, cameraID, contentType string, body []byte, at time.Time) (string, error)
	MediaByID(ctx context.Context, id string) (events.Media, error)
	MediaOfIncident(ctx context.Context, incidentID string, limit int) ([]string, error)
	// Messages and LastSeq read the outbox itself (the notifications,
	// which must see what the request before them did).
	Messages(ctx context.Context, after int64, limit int) ([]events.Message, error)
	LastSeq(ctx context.Context) (int64, error)
}

// Intake records an event: its incident, and the case its kind's policy
// opens (cases.Pipeline).
type Intake interface {
	Intake(ctx context.Context, e events.Event, grids []string, site string) (events.Outcome, error)
}

// Authenticator is who a request is (authn.Authenticator): sessions,
// tokens, passwords, tickets for video, and what a principal may watch.
type Authenticator interface {
	Ready() <-chan struct{}
	Session(cookie string) (*access.Principal, error)
	Bearer(tok string) (*access.Principal, error)
	CheckPassword(name, pass, addr string) (registry.User, error)
	// Refresh is a principal as its user or token is now (rights
	// changed, revoked).
	Refresh(p *access.Principal) (*access.Principal, error)
	Camera(p *access.Principal, id string) (registry.Camera, error)
	Ticket(p *access.Principal, cameraID string, ttl time.Duration) string
	TicketFor(p *access.Principal, cameraID, purpose string, ttl time.Duration) string
	FromTicket(t, cameraID string) (*access.Principal, error)
	EndKey(sid string) string
	CheckEndKey(sid, key string) bool
	Owner(t registry.Token) (registry.User, bool)
	Expiry(t registry.Token) time.Time
	AdminFingerprint() string
}
