package ingest

import "errors"

var (
	// ErrNoVideo means the camera's SDP has no H.264 or H.265 track.
	ErrNoVideo = errors.New("camera offers no H.264 or H.265 video")
	// ErrBadURL means a stream URL is not a usable rtsp:// or rtsps:// URL.
	ErrBadURL = errors.New("bad RTSP URL")
	// ErrStalled means the camera stopped sending media.
	ErrStalled = errors.New("no media received")
)
