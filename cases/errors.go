package cases

import "errors"

var (
	// ErrTransition means the action is not allowed from the case's state.
	ErrTransition = errors.New("transition not allowed")
	// ErrForbidden means the actor's role may not take the action.
	ErrForbidden = errors.New("not allowed for this role")
	// ErrMissing means a required argument (reason, assignee, rating) is absent or bad.
	ErrMissing = errors.New("missing or invalid argument")
	// ErrNotFound is returned for an unknown case id.
	ErrNotFound = errors.New("case not found")
)
