package relay

import "errors"

var (
	// ErrStreamClosed is returned to readers of a stream that has ended.
	ErrStreamClosed = errors.New("stream closed")
	// ErrNotReady means the stream has no media description yet (source still connecting).
	ErrNotReady = errors.New("stream not ready")
	// ErrUnknownCamera is returned for a camera id the gateway does not know.
	ErrUnknownCamera = errors.New("unknown camera")
	// ErrUnknownStream is returned for a stream name other than main or sub.
	ErrUnknownStream = errors.New("unknown stream (want main or sub)")
	// ErrSourceUnavailable means the camera could not be reached in time.
	ErrSourceUnavailable = errors.New("camera stream unavailable")
)
