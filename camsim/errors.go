package camsim

import "errors"

var (
	// errClipIncomplete means a clip lacks access units, SPS or PPS.
	errClipIncomplete = errors.New("no access units, SPS or PPS")
	// errClipNoIDR means a clip does not start on a keyframe, so it cannot loop.
	errClipNoIDR = errors.New("first access unit is not an IDR")
	// ErrNoSuchCamera is returned for a camera index outside the fleet.
	ErrNoSuchCamera = errors.New("no such camera")
)

// errGB is a simulated GB/T 28181 device's request the platform refused.
var errGB = errors.New("gb28181 device")
