package gb28181

import (
	"unicode/utf8"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/model"
)

// Channel is a device's video channel as a camera: what its catalog item
// says of it.
type Channel struct {
	ID       string // the channel's code: the camera's id
	Name     string
	Location *model.Location // nil: the item gave none (keep what is known)
	PTZ      bool
	PTZType  int
	Off      bool
	New      bool // no camera has the code yet
}

// Camera is the channel as a new camera of device (on demand, tagged
// gb28181).
func (ch Channel) Camera(device string) model.Camera {
	return model.Camera{ID: ch.ID, Name: ch.Name, OnDemand: true, Location: ch.Location, Tags: []string{"gb28181"},
		GB: &model.GBChannel{DeviceID: device, ChannelID: ch.ID, PTZ: ch.PTZ, PTZType: ch.PTZType, Off: ch.Off}}
}

// Apply sets what the catalog says on an existing camera of the channel.
func (ch Channel) Apply(c *model.Camera) {
	c.Name, c.GB.PTZ, c.GB.PTZType, c.GB.Off, c.GB.Gone = ch.Name, ch.PTZ, ch.PTZType, ch.Off, false
	if ch.Location != nil {
		c.Location = ch.Location
	}
}

// CatalogPlan is what a device's catalog changes among the cameras.
type CatalogPlan struct {
	Channels []Channel // to create (New) or update, in the catalog's order
	Gone     []string  // the device's cameras a complete catalog no longer lists (to mark gone)
	Capped   int       // channels left out: the device has its maximum of cameras
	Foreign  []string  // codes that are cameras of something else (left alone)
}

// PlanCatalog turns device's catalog (items, whole or not) into the
// cameras it makes or changes, given the cameras there are (camera looks
// one up by id; mine lists the device's own): each video channel is a
// camera (its code the id, never duplicated), named (a missing name is
// its code; at most 200 bytes, cut on a rune), placed where the item
// says, PTZ by its type, offline while it says OFF; at most max cameras
// a device whatever its catalogs say; a whole catalog marks the device's
// cameras it no longer lists gone, never deletes them.
func PlanCatalog(device string, items []manscdp.Item, complete bool, mine []model.Camera,
	camera func(id string) (model.Camera, bool), max int) CatalogPlan {
	var p CatalogPlan
	have := make(map[string]bool, len(mine))
	for _, c := range mine {
		have[c.ID] = true
	}
	count := len(have)
	listed := map[string]bool{}
	for _, it := range items {
		if !manscdp.IsVideoChannel(it.DeviceID) || listed[it.DeviceID] {
			continue
		}
		listed[it.DeviceID] = true
		ch := Channel{ID: it.DeviceID, Name: Clip(it.Name, 200), PTZ: it.Steerable(), PTZType: it.PTZType(), Off: it.Off()}
		if ch.Name == "" {
			ch.Name = it.DeviceID
		}
		if lon, lat, ok := it.Position(); ok {
			ch.Location = &model.Location{Lat: lat, Lon: lon}
		}
		if !have[ch.ID] {
			if c, ok := camera(ch.ID); ok && (c.GB == nil || c.GB.DeviceID != device) {
				p.Foreign = append(p.Foreign, ch.ID)
				continue
			} else if !ok {
				if count >= max {
					p.Capped++
					continue
				}
				ch.New = true
				count++
			}
		}
		p.Channels = append(p.Channels, ch)
	}
	if complete {
		for _, c := range mine {
			if !listed[c.ID] && c.GB != nil && !c.GB.Gone {
				p.Gone = append(p.Gone, c.ID)
			}
		}
	}
	return p
}

// Clip cuts what a device says to at most n bytes, on a rune boundary
// (in one step: a device may send a name of hundreds of kilobytes).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
