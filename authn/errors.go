package authn

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnauthenticated means the credentials shown prove nobody: absent,
	// malformed, unknown, revoked, expired, or of a user who is gone.
	// Callers answer 401 (RTSP 401 too).
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden means the principal is known but may not do this (a
	// scope it lacks). Callers answer 403.
	ErrForbidden = errors.New("forbidden")
	// ErrHidden means the thing asked for lies outside the principal's
	// jurisdiction; callers answer as if it did not exist (404).
	ErrHidden = errors.New("outside the jurisdiction")
)

// ThrottledError is a password check refused because of too many recent
// failures for the name or the address; it unwraps to ErrUnauthenticated.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %d s", int(e.Wait.Seconds())+1)
}

// Unwrap makes errors.Is(err, ErrUnauthenticated) true.
func (e *ThrottledError) Unwrap() error { return ErrUnauthenticated }
