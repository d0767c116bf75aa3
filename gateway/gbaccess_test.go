package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
)

// asToken is an API client that sends tok instead of the admin token.
type asToken struct {
	t    *testing.T
	base string
	tok  string
}

func (a asToken) json(method, path string, v any) (int, map[string]any) {
	a.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestGBManagementStaysInItsJurisdiction: a cameras:write token limited
// to one cell may not add a superior platform or repoint one (403), nor
// may an upstreams:write token so limited; it lists, reads and changes
// only the GB devices whose channels lie in its cell (another cell's
// device is 404). Every upstream field is checked (400 naming it); a
// platform posted without enabled is enabled; a disabled one says why.
func TestGBManagementStaysInItsJurisdiction(t *testing.T) {
	g := startGateway(t, gbEnv...)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	ix := g.Grids()
	latB, lonB := inside(t, ix, cellB)
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000021", Channels: 1, Lon: lonB, Lat: latB})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool { code, _ := admin.json("GET", "/api/v1/cameras/"+ch, nil); return code == 200 })
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	latA, lonA := inside(t, ix, cellA)
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "camA", "name": "A", "on_demand": true,
		"streams": map[string]string{"main": fleet.URL(1, false)}, "location": map[string]float64{"lat": latA, "lon": lonA}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	token := func(grids []string, scopes ...string) asToken {
		code, out := admin.json("POST", "/api/v1/tokens", map[string]any{"name": "integrator", "scopes": scopes, "grids": grids})
		if code != 201 {
			t.Fatalf("token %v %v: %d %v", scopes, grids, code, out)
		}
		return asToken{t, admin.base, out["token"].(string)}
	}
	oneCell := token([]string{cellA}, "cameras:write", "cameras:read")
	upOneCell := token([]string{cellA}, "upstreams:write")
	cellBTok := token([]string{cellB}, "cameras:write")
	platform := map[string]any{"id": "district", "server_id": districtID, "address": "127.0.0.1:9", "password": districtPass,
		"local_id": streetCode, "share": map[string]any{"grids": []string{street}}}

	// The exfiltration: a one-cell token sharing the street upward.
	for name, c := range map[string]asToken{"cameras:write in one cell": oneCell, "upstreams:write in one cell": upOneCell} {
		if code, out := c.json("POST", "/api/v1/gb/upstream", platform); code != 403 {
			t.Errorf("%s: POST /gb/upstream %d %v, want 403", name, code, out)
		}
		if code, _ := c.json("GET", "/api/v1/gb/upstream", nil); code != 403 {
			t.Errorf("%s: GET /gb/upstream %d, want 403", name, code)
		}
	}
	// Every field checked, with the field named.
	bad := []struct {
		field string
		set   map[string]any
	}{
		{"expires_s", map[string]any{"expires_s": -1}},
		{"keepalive_s", map[string]any{"keepalive_s": 0}},
		{"share.grids", map[string]any{"share": map[string]any{"grids": []string{"999999"}}}},
		{"share.cameras", map[string]any{"share": map[string]any{"cameras": []string{"../../x"}}}},
		{"share.cameras", map[string]any{"share": map[string]any{"cameras": []string{"no-such-camera"}}}},
		{"address", map[string]any{"address": "0.0.0.0:5060"}},
		{"address", map[string]any{"address": "127.0.0.1:70000"}},
		{"address", map[string]any{"address": "bad host:5060"}},
		{"server_id", map[string]any{"server_id": "123"}},
		{"local_id", map[string]any{"local_id": districtID}},
		{"transport", map[string]any{"transport": "sctp"}},
		{"id", map[string]any{"id": "../x"}},
		{"name", map[string]any{"name": "a\x00b"}},
	}
	for _, b := range bad {
		body := map[string]any{}
		for k, v := range platform {
			body[k] = v
		}
		for k, v := range b.set {
			body[k] = v
		}
		if code, out := admin.json("POST", "/api/v1/gb/upstream", body); code != 400 || out["field"] != b.field {
			t.Errorf("POST with %v: %d %v, want 400 naming %s", b.set, code, out, b.field)
		}
	}
	if code, out := admin.json("GET", "/api/v1/gb/upstream", nil); code != 200 || len(out["items"].([]any)) != 0 {
		t.Fatalf("refused platforms were stored: %d %v", code, out)
	}
	// Without enabled: enabled.
	code, up := admin.json("POST", "/api/v1/gb/upstream", platform)
	if code != 201 || up["enabled"] != true {
		t.Fatalf("POST without enabled: %d %v", code, up)
	}
	if st, _ := up["status"].(map[string]any); st["state"] == "disabled" {
		t.Fatalf("posted without enabled, its status is %v", st)
	}
	// The one-cell token may not repoint it.
	if code, _ := oneCell.json("PATCH", "/api/v1/gb/upstream/district", map[string]any{"address": "127.0.0.1:6"}); code != 403 {
		t.Errorf("one-cell PATCH of the platform's address: %d, want 403", code)
	}
	if code, out := admin.json("PATCH", "/api/v1/gb/upstream/district", map[string]any{"keepalive_s": 0}); code != 400 || out["field"] != "keepalive_s" {
		t.Errorf("PATCH keepalive_s 0: %d %v", code, out)
	}
	code, up = admin.json("PATCH", "/api/v1/gb/upstream/district", map[string]any{"enabled": false})
	st, _ := up["status"].(map[string]any)
	if code != 200 || st["state"] != "disabled" || st["last_error"] == nil || st["last_error"] == "" {
		t.Fatalf("disabled: %d %v", code, up)
	}

	// GB devices within the token's cells only.
	code, out := oneCell.json("GET", "/api/v1/gb/devices", nil)
	if items, _ := out["items"].([]any); code != 200 || len(items) != 0 {
		t.Errorf("one-cell token lists devices of another cell: %d %v", code, out)
	}
	for _, m := range []string{"GET", "PATCH"} {
		var body any
		if m == "PATCH" {
			body = map[string]any{"enabled": false}
		}
		if code, _ := oneCell.json(m, "/api/v1/gb/devices/"+dev.Config().DeviceID, body); code != 404 {
			t.Errorf("one-cell token %s of another cell's device: %d, want 404", m, code)
		}
	}
	code, out = cellBTok.json("GET", "/api/v1/gb/devices", nil)
	if items, _ := out["items"].([]any); code != 200 || len(items) != 1 {
		t.Fatalf("cell B's token lists %d %v, want its device", code, out)
	}
	if code, out := cellBTok.json("PATCH", "/api/v1/gb/devices/"+dev.Config().DeviceID, map[string]any{"name": "村委会 NVR"}); code != 200 || out["name"] != "村委会 NVR" {
		t.Errorf("cell B's token renames its device: %d %v", code, out)
	}
	_, d := admin.json("GET", "/api/v1/gb/devices/"+dev.Config().DeviceID, nil)
	if ids, _ := d["channel_ids"].([]any); d["channels"] != float64(len(ids)) || len(ids) != 1 {
		t.Errorf("device: channels %v beside channel ids %v", d["channels"], d["channel_ids"])
	}
}
