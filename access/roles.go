package access

import (
	"fmt"
	"slices"
	"sort"
)

// Role of a user.
type Role string

// Roles, as in DESIGN.md "Access".
const (
	Admin      Role = "admin"
	Dispatcher Role = "dispatcher"  // the command centre
	GridWorker Role = "grid_worker" // and the other 一长六员 named on cells
	Department Role = "department"  // police, law enforcement, property, legal…
	Viewer     Role = "viewer"      // live video only, e.g. a leader's screen
)

// Roles lists every role.
func Roles() []Role { return []Role{Admin, Dispatcher, GridWorker, Department, Viewer} }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w %q (one of admin, dispatcher, grid_worker, department, viewer)", ErrUnknownRole, s)
}

// Scope is one kind of thing a principal may do.
type Scope string

// Scopes.
const (
	CamerasRead  Scope = "cameras:read"
	CamerasWrite Scope = "cameras:write"
	Video        Scope = "video"
	EventsRead   Scope = "events:read"
	EventsWrite  Scope = "events:write"
	CasesRead    Scope = "cases:read"
	CasesWrite   Scope = "cases:write"
	GridsWrite   Scope = "grids:write"
	UsersWrite   Scope = "users:write"
	// TokensWrite lets a principal issue, list and revoke its owner's API
	// tokens. Every person holds it; a token holds it only when granted.
	TokensWrite Scope = "tokens:write"
	// RecordingsRead is the timeline and playback of cameras' past.
	RecordingsRead Scope = "recordings:read"
	// RecordingsExport is MP4 downloads of cameras' past.
	RecordingsExport Scope = "recordings:export"
	// AuditRead is the record of every look back (who played what, when).
	AuditRead Scope = "audit:read"
	// CamerasPTZ moves cameras that take PTZ (pan, tilt, zoom).
	CamerasPTZ Scope = "cameras:ptz"
	// UpstreamsWrite manages the superior platforms the street registers
	// with (GB/T 28181 cascade): they are sent cameras out of the street,
	// so only a principal whose jurisdiction is the whole street may use it.
	UpstreamsWrite Scope = "upstreams:write"
	Open311        Scope = "open311"
	Metrics        Scope = "metrics"
)

// AllScopes lists every scope.
func AllScopes() []Scope {
	return []Scope{CamerasRead, CamerasWrite, Video, EventsRead, EventsWrite, CasesRead, CasesWrite, GridsWrite, UsersWrite, TokensWrite,
		RecordingsRead, RecordingsExport, AuditRead, CamerasPTZ, UpstreamsWrite, Open311, Metrics}
}

// roleScopes is what each role may do. Writes to the street's set-up
// (cameras, grids, users) and the machine interfaces (Open311, metrics)
// are the administrator's; the people who work cases read and act on
// them; a viewer only watches.
var roleScopes = map[Role][]Scope{
	Admin:      AllScopes(),
	Dispatcher: {CamerasRead, Video, EventsRead, EventsWrite, CasesRead, CasesWrite, TokensWrite, RecordingsRead, RecordingsExport, CamerasPTZ},
	GridWorker: {CamerasRead, Video, EventsRead, CasesRead, CasesWrite, TokensWrite, RecordingsRead},
	Department: {CamerasRead, Video, EventsRead, CasesRead, CasesWrite, TokensWrite},
	Viewer:     {CamerasRead, Video, TokensWrite},
}

// ScopesOf lists the scopes of a role.
func ScopesOf(r Role) []Scope { return slices.Clone(roleScopes[r]) }

// ParseScopes checks scope names, de-duplicated and sorted.
func ParseScopes(names []string) ([]Scope, error) {
	seen := map[Scope]bool{}
	for _, n := range names {
		if !slices.Contains(AllScopes(), Scope(n)) {
			return nil, fmt.Errorf("%w %q", ErrUnknownScope, n)
		}
		seen[Scope(n)] = true
	}
	out := make([]Scope, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
