package recording

import "errors"

var (
	// ErrNotRecordable means a stream cannot be recorded: no video, or
	// video without its parameter sets.
	ErrNotRecordable = errors.New("stream cannot be recorded")
	// ErrNoFootage means nothing is recorded in the range asked for.
	ErrNoFootage = errors.New("no footage in that range")
	// ErrBadRange means a playback range is malformed or too long.
	ErrBadRange = errors.New("bad time range")
	// ErrOtherNode means the footage is on another node's disk.
	ErrOtherNode = errors.New("footage on another node")
	// ErrClipNotReady means an evidence clip is not made yet.
	ErrClipNotReady = errors.New("clip not ready")
	// ErrNotFound is an unknown clip.
	ErrNotFound = errors.New("not found")
)
