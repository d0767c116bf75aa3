// Package gb28181 is the GB/T 28181 side of the gateway: the SIP server
// devices register with (an ingest source for their channels) and, later,
// the registration with superior platforms. Its pure parts are ps (the
// program stream) and manscdp (the XML bodies).
package gb28181

import "errors"

// Sentinel errors.
var (
	// ErrNoCredentials is a request without digest credentials (it gets a
	// challenge).
	ErrNoCredentials = errors.New("no digest credentials")
	// ErrStale is credentials for a nonce that has expired (a new
	// challenge, with stale=true, lets the device retry at once).
	ErrStale = errors.New("nonce expired")
	// ErrReplay is credentials for a nonce already used once.
	ErrReplay = errors.New("nonce already used")
	// ErrBadCredentials is a wrong password, user, realm or a forged nonce.
	ErrBadCredentials = errors.New("bad credentials")
)

// More sentinel errors.
var (
	// ErrConfig is a gb28181 configuration that cannot work.
	ErrConfig = errors.New("bad gb28181 configuration")
	// ErrNotRegistered is a request for a device that is not registered.
	ErrNotRegistered = errors.New("device not registered")
	// ErrRefused is a device answering a request with an error.
	ErrRefused = errors.New("device refused")
)
