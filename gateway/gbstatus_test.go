package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/manscdp"
)

// TestGBChannelStatusAndPTZByType: an NVR's five channels say PTZType 1,
// 2, 3, 4 and nothing, the third is OFF in its catalog. PTZ goes to the
// dome, the remote bullet and the one that does not say; the half-dome
// and the fixed bullet have none (409). The OFF channel is offline
// (channel_off), and once the device is switched off (no unregister)
// every channel is offline (device_offline) in /status, the camera list
// the wall and map draw from and Prometheus; the district platform the
// street shares them with is told OFF in its catalog (notifications
// applied) with each channel's PTZ type; and in Chromium the camera
// tree's dots are those /status gives.
func TestGBChannelStatusAndPTZByType(t *testing.T) {
	ctx := context.Background()
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { plat.Close() }()
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000041", Channels: 5,
		PTZTypes: map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 0}, Off: map[int]bool{3: true}})
	var chs []string
	for i := 1; i <= 5; i++ {
		chs = append(chs, dev.Config().ChannelID(i))
	}
	eventually(t, 10*time.Second, "five channels as cameras", func() bool {
		for _, ch := range chs {
			if code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil); code != 200 {
				return false
			}
		}
		return true
	})
	wantPTZ := []bool{true, false, false, true, true}
	for i, ch := range chs {
		_, cam := api.json("GET", "/api/v1/cameras/"+ch, nil)
		gb, _ := cam["gb"].(map[string]any)
		if st, has := cam["streams"]; has {
			t.Errorf("a GB channel shows streams %v (it has no URL)", st)
		}
		if gb["ptz"] == true != wantPTZ[i] {
			t.Errorf("channel %d (PTZType %d): ptz %v, want %v", i+1, dev.Config().PTZTypes[i+1], gb["ptz"], wantPTZ[i])
		}
		code, raw := api.do("POST", "/api/v1/cameras/"+ch+"/ptz", "application/json", []byte(`{"action":"left","speed":31}`), true)
		if want := map[bool]int{true: 204, false: 409}[wantPTZ[i]]; code != want {
			t.Errorf("PTZ to channel %d: %d %s, want %d", i+1, code, raw, want)
		}
	}
	eventually(t, 5*time.Second, "PTZ at the device", func() bool { return len(dev.PTZ()) == 3 })
	for _, got := range dev.PTZ() {
		if !strings.HasPrefix(got, chs[0]) && !strings.HasPrefix(got, chs[3]) && !strings.HasPrefix(got, chs[4]) {
			t.Errorf("PTZ reached %s", got)
		}
	}
	if st := status(t, api, chs[2]); st["state"] != "offline" || st["reason"] != "channel_off" {
		t.Errorf("the OFF channel: %v", st)
	}
	if st := status(t, api, chs[0]); st["state"] != "online" || st["live"] != false {
		t.Errorf("an ON channel nobody watches, its device registered: %v", st)
	}

	// Shared upward.
	if code, out := api.json("POST", "/api/v1/gb/upstream", map[string]any{"id": "district", "server_id": districtID, "address": plat.Addr(),
		"password": districtPass, "local_id": streetCode, "keepalive_s": 1, "share": map[string]any{"cameras": chs}}); code != 201 {
		t.Fatalf("upstream: %d %v", code, out)
	}
	told := func() map[string]manscdp.Item {
		items, _, _ := plat.Catalog(streetCode)
		out := map[string]manscdp.Item{}
		for _, it := range items {
			out[it.DeviceID] = it
		}
		return out
	}
	eventually(t, 15*time.Second, "the platform's catalog of 5", func() bool {
		_, _, complete := plat.Catalog(streetCode)
		return complete && len(told()) == 5
	})
	for i, ch := range chs {
		it := told()[ch]
		wantType := []int{1, 2, 3, 4, 1}[i]
		if it.PTZType() != wantType || it.Off() != (i == 2) {
			t.Errorf("channel %d upward: PTZType %d, status %q; want %d, OFF %v", i+1, it.PTZType(), it.Status, wantType, i == 2)
		}
	}

	// The device switched off: three keepalives missed.
	dev.Kill()
	eventually(t, 15*time.Second, "every channel offline in /status", func() bool {
		for _, ch := range chs {
			if st := status(t, api, ch); st["state"] != "offline" || st["reason"] != "device_offline" {
				return false
			}
		}
		return true
	})
	_, list := api.json("GET", "/api/v1/cameras?include=status&limit=1000", nil)
	for _, it := range list["items"].([]any) {
		cam := it.(map[string]any)
		if gb, _ := cam["gb"].(map[string]any); gb != nil && gb["device_id"] == dev.Config().DeviceID {
			if st := cam["status"].(map[string]any); st["state"] != "offline" {
				t.Errorf("the wall's list says %s is %v", cam["id"], st)
			}
		}
	}
	_, metrics := api.do("GET", "/metrics", "", nil, true)
	for _, ch := range chs {
		if want := fmt.Sprintf(`sharpeyes_camera_up{camera=%q,stream="main"} 0`, ch); !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	eventually(t, 20*time.Second, "the platform told every channel OFF", func() bool {
		cat := told()
		for _, ch := range chs {
			if !cat[ch].Off() {
				return false
			}
		}
		return true
	})
	if plat.Notifies(streetCode) == 0 {
		t.Error("the platform learnt of it without a notification")
	}

	// In Chromium, the tree's dots are /status's.
	pw := addUser(t, api, "gb-admin", "admin", nil, "")
	var res struct {
		Rows []struct {
			ID, API, Reason, Error, Dot, State, Title string
		} `json:"rows"`
		Error string `json:"error"`
	}
	runE2E(t, 60*time.Second, []string{"SE_USER=gb-admin", "SE_PASS=" + pw, "SE_DEVICE=" + dev.Config().DeviceID, "SE_SHOTS=" + screenshots(t)},
		&res, nil, e2eScript(t, "gbstatus.mjs"), api.base+"/")
	if res.Error != "" || len(res.Rows) != 5 {
		t.Fatalf("gbstatus.mjs: %+v", res)
	}
	for _, r := range res.Rows {
		if r.Dot != "dot offline" || r.API != "offline" || !strings.Contains(r.Title, "所属设备离线") {
			t.Errorf("tree row %+v", r)
		}
	}
}

func status(t *testing.T, api apiClient, id string) map[string]any {
	t.Helper()
	_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
	return st
}

// TestProbedCamerasStatusGoesUpward: two on-demand RTSP cameras nobody
// watches, shared with the district: its catalog says ON while their
// probes find them; when they refuse the platform is told OFF (a
// notification, no re-sync) and ON again when they are back.
func TestProbedCamerasStatusGoesUpward(t *testing.T) {
	ctx := context.Background()
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { plat.Close() }()
	g := startGateway(t, append([]string{"SHARPEYES_HEALTH_INTERVAL=1s", "SHARPEYES_HEALTH_TIMEOUT=500ms"}, gbEnv...)...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	ids := []string{"up-p1", "up-p2"}
	for i, id := range ids {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": true,
			"streams": map[string]string{"main": fleet.URL(i+1, false)}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	eventually(t, 20*time.Second, "both probed online", func() bool { return api.state(ids[0]) == "online" && api.state(ids[1]) == "online" })
	if code, out := api.json("POST", "/api/v1/gb/upstream", map[string]any{"id": "district", "server_id": districtID, "address": plat.Addr(),
		"password": districtPass, "local_id": streetCode, "keepalive_s": 1, "share": map[string]any{"cameras": ids}}); code != 201 {
		t.Fatalf("upstream: %d %v", code, out)
	}
	offs := func() (n int, all int) {
		items, _, _ := plat.Catalog(streetCode)
		for _, it := range items {
			all++
			if it.Off() {
				n++
			}
		}
		return n, all
	}
	eventually(t, 15*time.Second, "the catalog of two, both ON", func() bool {
		_, _, complete := plat.Catalog(streetCode)
		n, all := offs()
		return complete && all == 2 && n == 0
	})
	before := plat.Notifies(streetCode)
	fleet.SetRefuse(true)
	eventually(t, 20*time.Second, "the platform told both OFF", func() bool { n, _ := offs(); return n == 2 })
	if plat.Notifies(streetCode) == before {
		t.Error("OFF reached the platform without a notification")
	}
	fleet.SetRefuse(false)
	eventually(t, 20*time.Second, "the platform told both ON again", func() bool { n, _ := offs(); return n == 0 })
}
