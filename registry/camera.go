package registry

import "sharpeyes/model"

// The camera's value types live in model (no etcd there); the registry
// keeps them under these names.
type (
	Streams   = model.Streams
	Location  = model.Location
	Device    = model.Device
	Recording = model.Recording
	Camera    = model.Camera
	GBChannel = model.GBChannel
	Cells     = model.Cells
)

// Recording modes.
const (
	RecordOff        = model.RecordOff
	RecordContinuous = model.RecordContinuous
	RecordEvents     = model.RecordEvents
)

// ValidID tells whether id may name a camera (or another registry
// object).
func ValidID(id string) bool { return model.ValidID(id) }
