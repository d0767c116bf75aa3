package access

import (
	"slices"
	"time"
)

// Kind of principal: how the request proved who it is.
type Kind string

// Kinds.
const (
	KindSession    Kind = "session"     // a person, by session cookie
	KindToken      Kind = "token"       // a system, by API token
	KindAdminToken Kind = "admin_token" // auth.admin_token, the break-glass admin
	KindNode       Kind = "node"        // another gateway node of the cluster
)

// Principal is who a request is: a user (directly or through a token).
type Principal struct {
	Kind        Kind
	UserID      string // the user's immutable id ("" for the admin token and nodes)
	Username    string // the user, or the token's owner
	DisplayName string
	Role        Role
	Department  string
	Scopes      []Scope
	Where       Jurisdiction
	TokenID     string // for tokens
	TokenName   string
	TokenExpiry time.Time // for tokens: when the token stops working
	SessionID   string    // the hashed session id, for sessions
	CSRF        string    // the session's CSRF token
	// AdminFP is, for the admin token, its fingerprint: what it opened
	// ends when it changes.
	AdminFP string
	// Ticket is set when the request came with a redirect ticket: the
	// principal is its issuer's credential, checked again, narrowed to
	// one camera and one purpose.
	Ticket bool
}

// Can tells whether the principal holds scope.
func (p *Principal) Can(s Scope) bool { return p != nil && slices.Contains(p.Scopes, s) }

// Who names the principal in logs and audit rows.
func (p *Principal) Who() string {
	if p == nil {
		return "anonymous"
	}
	switch p.Kind {
	case KindToken:
		return p.Username + " (token " + p.TokenID + ")"
	case KindAdminToken:
		return "admin-token"
	case KindNode:
		return "node"
	}
	return p.Username
}

// SameRights tells whether o may do and see exactly what p may: a
// credential checked again that changed nothing.
func (p *Principal) SameRights(o *Principal) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.Kind == o.Kind && p.UserID == o.UserID && p.Role == o.Role && p.Department == o.Department &&
		slices.Equal(p.Scopes, o.Scopes) && p.Where.Equal(o.Where)
}
