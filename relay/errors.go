package relay

import (
	"errors"
	"fmt"
)

var (
	// ErrStreamClosed is returned to readers of a stream that has ended.
	ErrStreamClosed = errors.New("stream closed")
	// ErrNotReady means the stream has no media description yet (source still connecting).
	ErrNotReady = errors.New("stream not ready")
	// ErrUnknownCamera is returned for a camera id the gateway does not know.
	ErrUnknownCamera = errors.New("unknown camera")
	// ErrUnknownStream is returned for a stream name other than main or sub.
	ErrUnknownStream = errors.New("unknown stream (want main or sub)")
	// ErrBadOffer means the SDP offer could not be parsed or used.
	ErrBadOffer = errors.New("bad SDP offer")
	// ErrCodecNotOffered means the viewer's offer lacks the camera's video codec.
	ErrCodecNotOffered = errors.New("offer does not include the camera's video codec")
	// ErrSessionNotFound is returned for an unknown WHEP session id.
	ErrSessionNotFound = errors.New("session not found")
	// ErrTooManySessions is returned when the viewer limit is reached.
	ErrTooManySessions = errors.New("too many sessions")
	// ErrSourceUnavailable means the camera could not be reached in time.
	ErrSourceUnavailable = errors.New("camera stream unavailable")
	// ErrOwnSRTP means a session cannot seal its own SRTP and keeps pion's path.
	ErrOwnSRTP = errors.New("cannot seal SRTP for this viewer")
	// ErrPathLeftUDP means a viewer whose SRTP the session seals moved to a
	// path the session cannot write to (ICE-TCP); the session ends.
	ErrPathLeftUDP = errors.New("viewer's path left UDP")
)

// errNoHandshake: the gateway was not the viewer's DTLS server, so it saw
// no handshake to derive keys from (an expected case of ErrOwnSRTP).
var errNoHandshake = fmt.Errorf("%w: handshake not seen (the gateway was not the DTLS server)", ErrOwnSRTP)
