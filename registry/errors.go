package registry

import (
	"errors"

	"sharpeyes/model"
)

var (
	// ErrNotFound is returned for an id that is not in the registry.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating an id that is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid marks a value that failed validation (see FieldError).
	ErrInvalid = model.ErrInvalid
	// ErrUnavailable means etcd could not be reached in time.
	ErrUnavailable = errors.New("registry unavailable")
)

// FieldError is a validation failure of one field (model's: one type
// wherever a value is checked).
type FieldError = model.FieldError
