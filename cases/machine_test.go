package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var allStates = []State{Received, Registered, Dispatched, Accepted, InProgress, Verifying, Closed, Evaluated, Rejected, Duplicate, Returned, Extended, Suspended}

// expected is written out by hand from DESIGN.md, independently of rules.
var expected = map[string]State{
	"received register": Registered, "received reject": Rejected, "received mark_duplicate": Duplicate,
	"registered reject": Rejected, "registered dispatch": Dispatched, "registered resolve": Verifying,
	"registered suspend": Suspended, "registered mark_duplicate": Duplicate,
	"dispatched accept": Accepted, "dispatched return": Returned, "dispatched extend": Extended, "dispatched suspend": Suspended,
	"accepted start": InProgress, "accepted extend": Extended, "accepted suspend": Suspended,
	"in_progress resolve": Verifying, "in_progress extend": Extended, "in_progress suspend": Suspended,
	"verifying verify": Closed,
	"closed evaluate":  Evaluated, "closed reopen": InProgress,
	"evaluated reopen": InProgress,
	"returned reject":  Rejected, "returned dispatch": Dispatched,
	"extended start": InProgress, "extended resolve": Verifying, "extended suspend": Suspended,
	"suspended start": InProgress,
}

func fullArgs() Args {
	pass := true
	return Args{Reason: "r", Assignee: "dept-police", Rating: 4, Pass: &pass, ExtendDays: 2, Of: "C-1"}
}

func TestEveryTransitionAllowedOrRefusedWithReason(t *testing.T) {
	admin := Actor{ID: "root", Role: Admin}
	for _, from := range allStates {
		for _, act := range append(Actions(), MarkDuplicate) {
			key := string(from) + " " + string(act)
			to, err := Next(from, act, admin, "", fullArgs())
			want, allowed := expected[key]
			switch {
			case allowed && err != nil:
				t.Errorf("%s: refused: %v", key, err)
			case allowed && to != want:
				t.Errorf("%s: went to %s, want %s", key, to, want)
			case !allowed && err == nil:
				t.Errorf("%s: allowed (to %s), want refused", key, to)
			case !allowed && (!errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), string(from))):
				t.Errorf("%s: refused with %v, want ErrTransition naming the state", key, err)
			}
		}
	}
}

func TestRolesAssigneesAndArguments(t *testing.T) {
	worker := Actor{ID: "w1", Role: GridWorker}
	police := Actor{ID: "dept-police", Role: Department}
	centre := Actor{ID: "c1", Role: Dispatcher}
	chief := Actor{ID: "chief", Role: GridChief}
	no := false
	cases := []struct {
		name     string
		from     State
		act      Action
		who      Actor
		assignee string
		args     Args
		want     State
		err      error
	}{
		{"即办: worker resolves a registered case", Registered, Resolve, worker, "", Args{}, Verifying, nil},
		{"worker may not register", Received, Register, worker, "", Args{}, "", ErrForbidden},
		{"转办: department accepts", Dispatched, Accept, police, "dept-police", Args{}, Accepted, nil},
		{"the assignee accepts whatever its role", Dispatched, Accept, Actor{ID: "dept-police", Role: Reporter}, "dept-police", Args{}, Accepted, nil},
		{"centre may not accept", Dispatched, Accept, centre, "dept-police", Args{}, "", ErrForbidden},
		{"return needs a reason", Dispatched, Return, police, "dept-police", Args{}, "", ErrMissing},
		{"return with a reason", Dispatched, Return, police, "dept-police", Args{Reason: "不属于本部门职责"}, Returned, nil},
		{"dispatch needs an assignee", Registered, Dispatch, centre, "", Args{}, "", ErrMissing},
		{"reject needs a reason", Received, Reject, centre, "", Args{Reason: "  "}, "", ErrMissing},
		{"extend needs days", InProgress, Extend, centre, "", Args{Reason: "材料待补"}, "", ErrMissing},
		{"verify without pass sends work back", Verifying, Verify, centre, "", Args{Pass: &no}, InProgress, nil},
		{"verify passes by default", Verifying, Verify, centre, "", Args{}, Closed, nil},
		{"评办: satisfied archives", Closed, Evaluate, chief, "", Args{Rating: 5}, Evaluated, nil},
		{"评办: rating 2 reopens", Closed, Evaluate, Actor{ID: "citizen", Role: Reporter}, "", Args{Rating: 2}, InProgress, nil},
		{"rating out of range", Closed, Evaluate, chief, "", Args{Rating: 6}, "", ErrMissing},
		{"worker may not evaluate", Closed, Evaluate, worker, "", Args{Rating: 5}, "", ErrForbidden},
		{"unknown action", Received, Action("teleport"), centre, "", Args{}, "", ErrTransition},
	}
	for _, tc := range cases {
		got, err := Next(tc.from, tc.act, tc.who, tc.assignee, tc.args)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || err.Error() == "" {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestOnlyTheAssigneeDoesTheWork is the case machine per role and per
// assignee: accept, return, start and resolve a dispatched case are the
// assignee's alone (the department it was dispatched to, or the 一长六员
// user the cell names), whatever the others' roles; the administrator is
// the break-glass exception; the centre only lifts its own suspension.
func TestOnlyTheAssigneeDoesTheWork(t *testing.T) {
	actors := map[string]Actor{
		"police officer":                 {ID: "li", Role: Department, Department: "police"},
		"another police officer":         {ID: "wang", Role: Department, Department: "police"},
		"housing officer":                {ID: "zhao", Role: Department, Department: "housing"},
		"grid worker named on the cell":  {ID: "worker-1", Role: GridWorker},
		"another grid worker":            {ID: "worker-2", Role: GridWorker},
		"dispatcher":                     {ID: "centre", Role: Dispatcher},
		"reporter":                       {ID: "citizen", Role: Reporter},
		"admin":                          {ID: "root", Role: Admin},
		"token of the named grid worker": {ID: "worker-1/token:ab12", User: "worker-1", Role: GridWorker},
	}
	// Who may, for a case assigned to each assignee; everyone else is refused.
	may := map[string]map[string]bool{
		"police":   {"police officer": true, "another police officer": true, "admin": true},
		"housing":  {"housing officer": true, "admin": true},
		"worker-1": {"grid worker named on the cell": true, "token of the named grid worker": true, "admin": true},
	}
	work := []struct {
		from State
		act  Action
		to   State
	}{
		{Dispatched, Accept, Accepted}, {Dispatched, Return, Returned}, {Accepted, Start, InProgress}, {Extended, Start, InProgress},
		{InProgress, Resolve, Verifying}, {Extended, Resolve, Verifying},
	}
	for assignee, allowed := range may {
		for name, who := range actors {
			for _, w := range work {
				key := fmt.Sprintf("%s %s a %s case assigned to %s", name, w.act, w.from, assignee)
				got, err := Next(w.from, w.act, who, assignee, Args{Reason: "不属于本部门职责"})
				offered := slices.Contains(Allowed(w.from, who, assignee), w.act)
				switch {
				case allowed[name] && (err != nil || got != w.to):
					t.Errorf("%s: %s %v, want %s", key, got, err, w.to)
				case !allowed[name] && !errors.Is(err, ErrForbidden):
					t.Errorf("%s: %s %v, want refused (ErrForbidden)", key, got, err)
				case offered != allowed[name]:
					t.Errorf("%s: offered on the case page = %v, allowed = %v", key, offered, allowed[name])
				}
			}
			// Resuming a suspended case: the centre (its own suspension) or the assignee.
			_, err := Next(Suspended, Start, who, assignee, Args{})
			if want := allowed[name] || who.Role == Dispatcher; (err == nil) != want {
				t.Errorf("%s starts a suspended case assigned to %s: %v, want allowed=%v", name, assignee, err, want)
			}
		}
	}
	// A case nobody was dispatched to is nobody's work: only 即办 (a grid
	// worker resolving a registered case) and the admin.
	for name, who := range actors {
		_, err := Next(InProgress, Resolve, who, "", Args{})
		if (err == nil) != (who.Role == Admin) {
			t.Errorf("%s resolves an unassigned case: %v", name, err)
		}
		_, err = Next(Registered, Resolve, who, "", Args{})
		if want := who.Role == GridWorker || who.Role == Admin; (err == nil) != want {
			t.Errorf("%s resolves a registered case on the spot (即办): %v, want allowed=%v", name, err, want)
		}
	}
}
