package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/events"
)

// TestEveryGBAlarmIsRecorded: a simulated NVR sends every alarm pair of
// GB/T 28181-2016 appendix A.2.5.5 (and each method without a type) for
// its channel, a pair the standard does not list, a method it does not
// know, and an alarm of the device itself: each is an event of the
// channel, of the pair's own kind (or alarm, with method and type kept),
// with none lost (before, 12 of the 24 were logged "not understood").
func TestEveryGBAlarmIsRecorded(t *testing.T) {
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000031", Channels: 1})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool { code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil); return code == 200 })
	ctx := context.Background()
	want := map[string]int{} // kind → events
	pairs := events.GBAlarmPairs()
	for _, p := range pairs {
		if err := dev.Alarm(ctx, 1, p[0], p[1]); err != nil {
			t.Fatalf("alarm %v: %v", p, err)
		}
	}
	for _, p := range [][2]int{{5, 99}, {9, 3}} {
		if err := dev.Alarm(ctx, 1, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := dev.AlarmOf(ctx, dev.Config().DeviceID, 2, 4); err != nil { // the NVR itself is too hot
		t.Fatal(err)
	}
	total := len(pairs) + 3
	var got []map[string]any
	eventually(t, 15*time.Second, fmt.Sprintf("%d events of the channel", total), func() bool {
		_, out := api.json("GET", "/api/v1/events?source=gb28181&camera_id="+ch+"&limit=1000", nil)
		items, _ := out["items"].([]any)
		got = got[:0]
		for _, it := range items {
			got = append(got, it.(map[string]any))
		}
		return len(got) >= total
	})
	if len(got) != total {
		t.Fatalf("%d events, want %d", len(got), total)
	}
	for _, e := range got {
		want[e["kind"].(string)]++
	}
	if want[events.Alarm] != 2 || want[events.VideoAlarm] != 2 || want[events.HighTemperature] != 2 || want[events.ObjectRemoved] != 1 ||
		want[events.Retrograde] != 1 || want[events.FlowCount] != 1 || want[events.FastMotion] != 1 || want[events.PhoneAlarm] != 1 {
		t.Fatalf("kinds: %v", want)
	}
	// The unknown method keeps what was sent.
	for _, e := range got {
		if e["kind"] != events.Alarm {
			continue
		}
		raw, _ := json.Marshal(e["raw"])
		var r struct {
			Method string `json:"alarm_method"`
			Type   string `json:"alarm_type"`
		}
		_ = json.Unmarshal(raw, &r)
		if r.Method != "9" && r.Method != "7" {
			t.Errorf("an alarm of no kind keeps method %q type %q: %s", r.Method, r.Type, raw)
		}
	}
	kinds := make([]string, 0, len(want))
	for k := range want {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t.Logf("%d alarms, %d kinds: %v", len(got), len(kinds), kinds)
}
