// Package cases is the street's closed-loop service pipeline (五办联动):
// the case state machine, the SLA clock on a working-day calendar with
// escalation (督办), evaluation (评办), the audit trail and their store.
package cases

import (
	"fmt"
	"strings"
)

// State of a case.
type State string

// Main line: received → registered → dispatched → accepted → in_progress →
// verifying → closed → evaluated; side states rejected, duplicate,
// returned, extended, suspended. "resolved" is the act of finishing the
// work: the case then rests in verifying until the centre checks it.
const (
	Received   State = "received"
	Registered State = "registered"
	Dispatched State = "dispatched"
	Accepted   State = "accepted"
	InProgress State = "in_progress"
	Verifying  State = "verifying"
	Closed     State = "closed"
	Evaluated  State = "evaluated"
	Rejected   State = "rejected"
	Duplicate  State = "duplicate"
	Returned   State = "returned"
	Extended   State = "extended"
	Suspended  State = "suspended"
)

// Open tells whether the case still needs work (and runs the SLA clock).
func (s State) Open() bool {
	switch s {
	case Closed, Evaluated, Rejected, Duplicate:
		return false
	}
	return true
}

// Action is a verb of POST /cases/{id}/{action}.
type Action string

// Actions.
const (
	Register Action = "register"
	Reject   Action = "reject"
	Dispatch Action = "dispatch"
	Accept   Action = "accept"
	Return   Action = "return"
	Start    Action = "start"
	Resolve  Action = "resolve"
	Verify   Action = "verify"
	Reopen   Action = "reopen"
	Evaluate Action = "evaluate"
	Extend   Action = "extend"
	Suspend  Action = "suspend"
	// MarkDuplicate is taken by the gateway when a new case joins an open one.
	MarkDuplicate Action = "mark_duplicate"
	// Close is taken by the gateway alone, by policy, when what a case is
	// about ended by itself (its cameras back online): no verification.
	Close Action = "close"
)

// Role of the actor.
type Role string

// Roles, as in DESIGN.md "Access".
const (
	Admin      Role = "admin"
	Dispatcher Role = "dispatcher" // the command centre
	GridWorker Role = "grid_worker"
	Department Role = "department" // police, law enforcement, property, legal…
	Reporter   Role = "reporter"   // the citizen or hotline that reported it
	GridChief  Role = "grid_chief"
	System     Role = "system" // the gateway itself
)

// Actor is who takes an action. ID names them in the audit trail; User
// and Department say whose work they do: a case assigned to either is
// theirs. User defaults to ID.
type Actor struct {
	ID         string `json:"id"`
	Role       Role   `json:"role"`
	User       string `json:"-"`
	Department string `json:"-"`
}

// handler is the name a case is assigned to when the actor takes it on.
func (a Actor) handler() string {
	if a.User != "" {
		return a.User
	}
	return a.ID
}

// Handles tells whether a case assigned to assignee is the actor's: it
// names them, or their department.
func (a Actor) Handles(assignee string) bool {
	if assignee == "" {
		return false
	}
	return assignee == a.handler() || (a.Department != "" && assignee == a.Department)
}

// Args are an action's arguments.
type Args struct {
	Note     string `json:"note,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Assignee string `json:"assignee,omitempty"`
	Rating   int    `json:"rating,omitempty"`
	Pass     *bool  `json:"pass,omitempty"`
	// ExtendDays lengthens the time limit (extend), in working days.
	ExtendDays int    `json:"extend_days,omitempty"`
	Of         string `json:"of,omitempty"` // mark_duplicate: the case joined
}

// rule is one allowed transition: roles may take it whoever the case is
// assigned to; assignee, the case's assignee may take it whatever their
// role (and nobody else of a working role: a police officer does not
// accept the housing department's case).
type rule struct {
	to       State
	roles    []Role
	assignee bool
}

// rules[action][from] says where an action leads and who may take it.
// The five handlings: 即办 a grid worker resolves a registered case on the
// spot; 申办 a worker files a case the centre registers and dispatches; 转办
// the centre dispatches to a department, which accepts or returns it; 督办 is
// escalation (not a state); 评办 the reporter or grid chief rates the result.
var rules = map[Action]map[State]rule{
	// The gateway registers and dispatches what its policy says (a camera
	// fault to the cell's maintainer).
	Register: {Received: {Registered, []Role{Dispatcher, System}, false}},
	Reject: {
		Received:   {Rejected, []Role{Dispatcher}, false},
		Registered: {Rejected, []Role{Dispatcher}, false},
		Returned:   {Rejected, []Role{Dispatcher}, false},
	},
	Dispatch: {
		Registered: {Dispatched, []Role{Dispatcher, System}, false},
		Returned:   {Dispatched, []Role{Dispatcher}, false},
	},
	// The work itself is the assignee's alone: accept or return what was
	// dispatched, start it, resolve it.
	Accept: {Dispatched: {Accepted, nil, true}},
	Return: {Dispatched: {Returned, nil, true}},
	Start: {
		Accepted:  {InProgress, nil, true},
		Extended:  {InProgress, nil, true},
		Suspended: {InProgress, []Role{Dispatcher}, true}, // the centre lifts its own suspension
	},
	Resolve: {
		Registered: {Verifying, []Role{GridWorker}, false}, // 即办, by a worker of the case's cell (the API checks the cell)
		InProgress: {Verifying, nil, true},
		Extended:   {Verifying, nil, true},
	},
	Verify:   {Verifying: {Closed, []Role{Dispatcher}, false}}, // pass=false: back to in_progress
	Evaluate: {Closed: {Evaluated, []Role{Reporter, GridChief, Dispatcher}, false}},
	Reopen: {
		Closed:    {InProgress, []Role{Dispatcher}, false},
		Evaluated: {InProgress, []Role{Dispatcher}, false},
	},
	Extend: {
		Dispatched: {Extended, []Role{Dispatcher}, false},
		Accepted:   {Extended, []Role{Dispatcher}, false},
		InProgress: {Extended, []Role{Dispatcher}, false},
	},
	Suspend: {
		Registered: {Suspended, []Role{Dispatcher}, false},
		Dispatched: {Suspended, []Role{Dispatcher}, false},
		Accepted:   {Suspended, []Role{Dispatcher}, false},
		InProgress: {Suspended, []Role{Dispatcher}, false},
		Extended:   {Suspended, []Role{Dispatcher}, false},
	},
	MarkDuplicate: {Received: {Duplicate, []Role{System}, false}, Registered: {Duplicate, []Role{System, Dispatcher}, false}},
	Close: {
		Received: {Closed, []Role{System}, false}, Registered: {Closed, []Role{System}, false}, Dispatched: {Closed, []Role{System}, false},
		Accepted: {Closed, []Role{System}, false}, InProgress: {Closed, []Role{System}, false}, Extended: {Closed, []Role{System}, false},
		Verifying: {Closed, []Role{System}, false}, Returned: {Closed, []Role{System}, false}, Suspended: {Closed, []Role{System}, false},
	},
}

// Actions lists every action, for routes and documentation.
func Actions() []Action {
	return []Action{Register, Reject, Dispatch, Accept, Return, Start, Resolve, Verify, Reopen, Evaluate, Extend, Suspend}
}

// Allowed lists the actions who may take on a case in from whose
// assignee is assignee, in the order of Actions: what a case page offers.
func Allowed(from State, who Actor, assignee string) []Action {
	var out []Action
	for _, act := range Actions() {
		r, ok := rules[act][from]
		if ok && r.may(who, assignee) {
			out = append(out, act)
		}
	}
	return out
}

// Next decides a transition: the state a case in from reaches by taking
// act, or an error saying why not. assignee is the case's current assignee.
func Next(from State, act Action, who Actor, assignee string, a Args) (State, error) {
	byState, known := rules[act]
	if !known {
		return "", fmt.Errorf("%w: unknown action %q", ErrTransition, act)
	}
	r, ok := byState[from]
	if !ok {
		return "", fmt.Errorf("%w: cannot %s a case that is %s (allowed from: %s)", ErrTransition, act, from, allowedFrom(byState))
	}
	if !r.may(who, assignee) {
		if r.assignee && assignee != "" && len(r.roles) == 0 {
			return "", fmt.Errorf("%w: only the assignee (%s) may %s this case", ErrForbidden, assignee, act)
		}
		return "", fmt.Errorf("%w: %s may not %s (who may: %s)", ErrForbidden, who.Role, act, joinRoles(r.roles, r.assignee))
	}
	switch act {
	case Reject, Return, Extend, Suspend, Reopen:
		if strings.TrimSpace(a.Reason) == "" {
			return "", fmt.Errorf("%w: %s needs a reason", ErrMissing, act)
		}
	case Dispatch:
		if strings.TrimSpace(a.Assignee) == "" {
			return "", fmt.Errorf("%w: dispatch needs an assignee", ErrMissing)
		}
	case Evaluate:
		if a.Rating < 1 || a.Rating > 5 {
			return "", fmt.Errorf("%w: rating must be 1 to 5", ErrMissing)
		}
	case MarkDuplicate:
		if a.Of == "" {
			return "", fmt.Errorf("%w: mark_duplicate needs the case it joins", ErrMissing)
		}
	}
	if act == Extend && a.ExtendDays < 1 {
		return "", fmt.Errorf("%w: extend needs extend_days of at least 1", ErrMissing)
	}
	if act == Verify && a.Pass != nil && !*a.Pass {
		return InProgress, nil // the work is sent back
	}
	if act == Evaluate && a.Rating <= 2 {
		return InProgress, nil // dissatisfied: reopened
	}
	return r.to, nil
}

// may tells whether who may take the rule's action on a case assigned to
// assignee. The administrator may do anything (break-glass, audited as
// such).
func (r rule) may(who Actor, assignee string) bool {
	return who.Role == Admin || roleIn(who.Role, r.roles) || (r.assignee && who.Handles(assignee))
}

func roleIn(r Role, rs []Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func joinRoles(rs []Role, assignee bool) string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	if assignee {
		out = append(out, "the assignee")
	}
	return strings.Join(out, ", ")
}

func allowedFrom(m map[State]rule) string {
	var out []string
	for _, s := range []State{Received, Registered, Dispatched, Accepted, InProgress, Verifying, Closed, Evaluated, Rejected, Duplicate, Returned, Extended, Suspended} {
		if _, ok := m[s]; ok {
			out = append(out, string(s))
		}
	}
	return strings.Join(out, ", ")
}
