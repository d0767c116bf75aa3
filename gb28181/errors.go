// Package gb28181 is the GB/T 28181 device side of the gateway: the SIP
// server devices register with (digest; only an authenticated REGISTER
// binds a device to its address), keepalives, catalogs, device info,
// INVITE/BYE of their channels and the one media port their PS arrives
// on, by SSRC. It signals through gb28181/sipstack, which it shares with
// gb28181/cascade (the street registered with superior platforms); its
// pure parts are ps (the program stream), manscdp (the XML bodies) and
// sdp (the INVITE's description).
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
	// ErrNoAnswer is a device that took a query and sent no answer in
	// time.
	ErrNoAnswer = errors.New("device sent no answer")
)
