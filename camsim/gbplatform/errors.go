package gbplatform

import "errors"

// ErrPlatform is a request the simulated platform cannot make.
var ErrPlatform = errors.New("gbplatform")
