package registry

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned for an id that is not in the registry.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating an id that is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid marks a value that failed validation (see FieldError).
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable means etcd could not be reached in time.
	ErrUnavailable = errors.New("registry unavailable")
)

// FieldError is a validation failure of one field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }
