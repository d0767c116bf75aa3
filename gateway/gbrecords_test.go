package gateway

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"sharpeyes/camsim"
)

// TestDeviceRecordingsThroughTheAPI: a simulated NVR's channel's
// recordings (ten-minute files, fifty minutes an hour) come through
// GET /cameras/{id}/recordings?source=device as the device keeps them,
// ?source=all beside the gateway's (none here), asked once for two
// listings of the same range (kept briefly); a device switched off is
// 503 for source=device.
func TestDeviceRecordingsThroughTheAPI(t *testing.T) {
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000061", Channels: 1})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool {
		code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil)
		return code == 200
	})
	to := time.Now().Truncate(time.Minute)
	from := to.Add(-3 * time.Hour)
	q := fmt.Sprintf("/api/v1/cameras/%s/recordings?from=%s&to=%s", ch, url.QueryEscape(from.Format(time.RFC3339)), url.QueryEscape(to.Format(time.RFC3339)))
	code, out := api.json("GET", q+"&source=device", nil)
	if code != 200 {
		t.Fatalf("source=device: %d %v", code, out)
	}
	want := dev.Recordings(1, from, to)
	items := out["items"].([]any)
	if len(items) != len(want) || len(want) < 15 || out["device_complete"] != true {
		t.Fatalf("%d spans, the device keeps %d: %v", len(items), len(want), out)
	}
	for i, it := range items {
		m := it.(map[string]any)
		start, _ := time.Parse(time.RFC3339, m["start"].(string))
		end, _ := time.Parse(time.RFC3339, m["end"].(string))
		if m["source"] != "device" || !start.Equal(want[i].Start) || !end.Equal(want[i].End.Truncate(time.Second)) { // devices write seconds
			t.Fatalf("span %d %v, the device's %v–%v", i, m, want[i].Start, want[i].End)
		}
	}
	if code, out := api.json("GET", q+"&source=all", nil); code != 200 || len(out["items"].([]any)) != len(want) {
		t.Fatalf("source=all: %d %v", code, out)
	}
	if n := len(dev.RecordQueries()); n != 1 {
		t.Fatalf("the device was asked %d times for one range", n)
	}
	dev.Kill()
	eventually(t, 15*time.Second, "the device offline", func() bool { return api.state(ch) == "offline" })
	other := fmt.Sprintf("/api/v1/cameras/%s/recordings?source=device&from=%s&to=%s", ch, url.QueryEscape(from.Add(-time.Hour).Format(time.RFC3339)), url.QueryEscape(to.Format(time.RFC3339)))
	if code, out := api.json("GET", other, nil); code != 503 {
		t.Fatalf("a device switched off: %d %v", code, out)
	}
}
