package cascade

import "errors"

// Sentinel errors.
var (
	// ErrConfig is an upstream platform that cannot be registered with.
	ErrConfig = errors.New("bad upstream platform")
	// ErrRefused is the platform answering a request with an error.
	ErrRefused = errors.New("platform refused")
	// ErrNotShared is a request for a camera the platform is not shown.
	ErrNotShared = errors.New("camera not shared with this platform")
	// ErrNotRegistered is a request while the platform has not accepted
	// the registration.
	ErrNotRegistered = errors.New("not registered with the platform")
)
