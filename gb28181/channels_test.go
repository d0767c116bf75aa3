package gb28181

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/model"
)

// TestClipCutsOnARuneBoundary: what a device says is cut to the limit
// without splitting a character (a 900 kB name: one cut, where cutting a
// rune at a time never ended).
func TestClipCutsOnARuneBoundary(t *testing.T) {
	long := strings.Repeat("瘦西湖", 100_000)
	got := Clip(long, 200)
	if len(got) > 200 || len(got) < 198 || !utf8.ValidString(got) || !strings.HasPrefix(long, got) {
		t.Fatalf("clip to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if Clip("short", 200) != "short" {
		t.Fatal("a short string changed")
	}
}

func item(id, name, status, ptz, lon, lat string) manscdp.Item {
	it := manscdp.Item{DeviceID: id, Name: name, Status: status, Longitude: lon, Latitude: lat}
	if ptz != "-" {
		it.Info = &struct {
			PTZType string `xml:"PTZType"`
		}{PTZType: ptz}
	}
	return it
}

// TestPlanCatalog: a catalog's video channels become cameras (named,
// placed, PTZ by type, off while OFF), an item that is no video channel
// or repeats is left out, a code that is another camera's is left alone,
// the device's cap holds, and only a whole catalog marks what it no
// longer lists gone.
func TestPlanCatalog(t *testing.T) {
	const dev = "32100300001110000001"
	ch := func(i int) string { return fmt.Sprintf("3210030000131%07d", i) }
	mine := []model.Camera{
		{ID: ch(1), Name: "old", GB: &model.GBChannel{DeviceID: dev, ChannelID: ch(1)}},
		{ID: ch(2), GB: &model.GBChannel{DeviceID: dev, ChannelID: ch(2)}},
		{ID: ch(3), GB: &model.GBChannel{DeviceID: dev, ChannelID: ch(3), Gone: true}},
	}
	others := map[string]model.Camera{ch(9): {ID: ch(9)}, ch(8): {ID: ch(8), GB: &model.GBChannel{DeviceID: "32100300001110000002"}}}
	lookup := func(id string) (model.Camera, bool) {
		for _, c := range mine {
			if c.ID == id {
				return c, true
			}
		}
		c, ok := others[id]
		return c, ok
	}
	items := []manscdp.Item{
		item(ch(1), "东门", "ON", "1", "119.42", "32.41"),
		item(ch(4), "", "OFF", "3", "0", "0"),
		item(ch(4), "again", "ON", "1", "", ""),
		item("32100300001340000001", "an alarm input", "ON", "-", "", ""),
		item(ch(9), "an RTSP camera's id", "ON", "-", "", ""),
		item(ch(8), "another device's", "ON", "-", "", ""),
		item(ch(5), "no PTZ info", "ON", "-", "", ""),
		item(ch(6), "over the cap", "ON", "4", "", ""),
	}
	p := PlanCatalog(dev, items, true, mine, lookup, 5)
	got := map[string]Channel{}
	for _, c := range p.Channels {
		got[c.ID] = c
	}
	if len(p.Channels) != 3 {
		t.Fatalf("channels %+v", p.Channels)
	}
	if c := got[ch(1)]; c.New || c.Name != "东门" || c.Location == nil || c.Location.Lat != 32.41 || !c.PTZ || c.PTZType != 1 || c.Off {
		t.Errorf("an existing channel: %+v", c)
	}
	if c := got[ch(4)]; !c.New || c.Name != ch(4) || c.Location != nil || c.PTZ || c.PTZType != 3 || !c.Off {
		t.Errorf("a new OFF fixed bullet without name or place: %+v", c)
	}
	if c := got[ch(5)]; !c.New || !c.PTZ || c.PTZType != 0 {
		t.Errorf("a channel that does not say its PTZ type: %+v", c)
	}
	if p.Capped != 1 || len(p.Foreign) != 2 {
		t.Errorf("capped %d, foreign %v", p.Capped, p.Foreign)
	}
	if len(p.Gone) != 1 || p.Gone[0] != ch(2) {
		t.Errorf("gone %v, want the unlisted %s (not the one already gone)", p.Gone, ch(2))
	}
	if p := PlanCatalog(dev, items[:1], false, mine, lookup, 5); len(p.Gone) != 0 {
		t.Errorf("a partial catalog marked %v gone", p.Gone)
	}
	// Applied to a camera, what the catalog says replaces what it said.
	c := mine[0]
	gb := *c.GB
	gb.Gone = true
	c.GB = &gb
	got[ch(1)].Apply(&c)
	if c.Name != "东门" || c.GB.Gone || !c.GB.PTZ || c.Location == nil {
		t.Errorf("applied: %+v %+v", c, c.GB)
	}
	if cam := got[ch(4)].Camera(dev); !cam.OnDemand || cam.GB.DeviceID != dev || !cam.GB.Off || cam.Tags[0] != "gb28181" {
		t.Errorf("a new camera: %+v %+v", cam, cam.GB)
	}
}
