package webrtc

import (
	"errors"
	"fmt"
)

var (
	// ErrBadOffer means the SDP offer could not be parsed or used.
	ErrBadOffer = errors.New("bad SDP offer")
	// ErrCodecNotOffered means the viewer's offer lacks the camera's video codec.
	ErrCodecNotOffered = errors.New("offer does not include the camera's video codec")
	// ErrSessionNotFound is returned for an unknown WHEP session id.
	ErrSessionNotFound = errors.New("session not found")
	// ErrTooManySessions is returned when the viewer limit is reached.
	ErrTooManySessions = errors.New("too many sessions")
	// ErrOwnSRTP means a session cannot seal its own SRTP and keeps pion's path.
	ErrOwnSRTP = errors.New("cannot seal SRTP for this viewer")
	// ErrPathLeftUDP means a viewer whose SRTP the session seals moved to a
	// path the session cannot write to (ICE-TCP); the session ends.
	ErrPathLeftUDP = errors.New("viewer's path left UDP")
)

// errNoHandshake: the gateway was not the viewer's DTLS server, so it saw
// no handshake to derive keys from (an expected case of ErrOwnSRTP).
var errNoHandshake = fmt.Errorf("%w: handshake not seen (the gateway was not the DTLS server)", ErrOwnSRTP)
