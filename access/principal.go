package access

import "slices"

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
	Username    string // the user, or the token's owner
	DisplayName string
	Role        Role
	Department  string
	Scopes      []Scope
	Where       Jurisdiction
	TokenID     string // for tokens
	TokenName   string
	SessionID   string // the hashed session id, for sessions
	CSRF        string // the session's CSRF token
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
