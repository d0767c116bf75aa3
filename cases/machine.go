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

// Actor is who takes an action.
type Actor struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
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

// rule is one allowed transition.
type rule struct {
	to       State
	roles    []Role
	assignee bool // the assignee may take it too, whatever their role
}

// rules[action][from] says where an action leads and who may take it.
// The five handlings: 即办 a grid worker resolves a registered case on the
// spot; 申办 a worker files a case the centre registers and dispatches; 转办
// the centre dispatches to a department, which accepts or returns it; 督办 is
// escalation (not a state); 评办 the reporter or grid chief rates the result.
var rules = map[Action]map[State]rule{
	Register: {Received: {Registered, []Role{Dispatcher}, false}},
	Reject: {
		Received:   {Rejected, []Role{Dispatcher}, false},
		Registered: {Rejected, []Role{Dispatcher}, false},
		Returned:   {Rejected, []Role{Dispatcher}, false},
	},
	Dispatch: {
		Registered: {Dispatched, []Role{Dispatcher}, false},
		Returned:   {Dispatched, []Role{Dispatcher}, false},
	},
	Accept: {Dispatched: {Accepted, []Role{Department, GridWorker}, true}},
	Return: {Dispatched: {Returned, []Role{Department, GridWorker}, true}},
	Start: {
		Accepted:  {InProgress, []Role{Department, GridWorker}, true},
		Extended:  {InProgress, []Role{Department, GridWorker, Dispatcher}, true},
		Suspended: {InProgress, []Role{Dispatcher}, true},
	},
	Resolve: {
		Registered: {Verifying, []Role{GridWorker}, false}, // 即办
		InProgress: {Verifying, []Role{Department, GridWorker}, true},
		Extended:   {Verifying, []Role{Department, GridWorker}, true},
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
		if ok && (who.Role == Admin || roleIn(who.Role, r.roles) || (r.assignee && who.ID != "" && who.ID == assignee)) {
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
	if who.Role != Admin && !roleIn(who.Role, r.roles) && !(r.assignee && who.ID != "" && who.ID == assignee) {
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
