package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"go.uber.org/goleak"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/manscdp"
)

const (
	districtID   = "34020000002000000001"
	districtPass = "district-pass-1"
	streetCode   = "32100300002000000001" // the gateway's own gb28181.server_id
)

// TestStreetSharesUpward: the street registers with a district platform
// added through the API (its password never answered), answers its
// catalog query with exactly the 60 shared cameras over several MESSAGEs
// (stable 20-digit codes), streams a camera on INVITE over UDP and TCP
// both ways (ffprobe reads the PS as the camera's 1280x720 H.264 with
// the frames the time holds), refuses a camera it does not share without
// pulling it, registers again within its backoff when the platform
// restarts (the catalog then current), forwards an alarm of a shared
// camera, hands the platform's PTZ to a GB channel's device (and refuses
// it for an RTSP camera), and says so in the status when the password is
// wrong.
func TestStreetSharesUpward(t *testing.T) {
	// Last of the cleanups: every goroutine of the gateway (its components
	// GB/T 28181, cascade, recording, the bus) has ended once it closed.
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	ctx := context.Background()
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { plat.Close() }()
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 4})
	defer fleet.Close()
	var shared []string
	for i := 1; i <= 61; i++ {
		id := fmt.Sprintf("street%02d", i)
		k := (i-1)%fleet.Cameras() + 1
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": fmt.Sprintf("街道点位%02d", i), "on_demand": true,
			"streams":  map[string]string{"main": fleet.URL(k, false), "sub": fleet.URL(k, true)},
			"location": map[string]float64{"lat": 32.39, "lon": 119.40 + float64(i)/1000}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
		if i <= 60 {
			shared = append(shared, id)
		}
	}
	code, up := api.json("POST", "/api/v1/gb/upstream", map[string]any{"id": "district", "name": "区公安视频平台", "server_id": districtID,
		"address": plat.Addr(), "password": districtPass, "local_id": streetCode, "enabled": true, "keepalive_s": 1,
		"share": map[string]any{"cameras": shared}})
	if code != 201 || up["password"] != nil || up["has_password"] != true || up["transport"] != "udp" {
		t.Fatalf("POST upstream: %d %v", code, up)
	}
	status := func() map[string]any {
		_, u := api.json("GET", "/api/v1/gb/upstream/district", nil)
		st, _ := u["status"].(map[string]any)
		return st
	}
	eventually(t, 15*time.Second, "registered, in the API", func() bool { return status()["state"] == "registered" })
	eventually(t, 15*time.Second, "the catalog of 60", func() bool {
		items, _, complete := plat.Catalog(streetCode)
		return complete && len(items) == 60
	})
	items, pages, _ := plat.Catalog(streetCode)
	codes := map[string]string{} // camera name → code
	for _, it := range items {
		if !manscdp.IsVideoChannel(it.DeviceID) || !strings.HasPrefix(it.DeviceID, "3210030000131") || codes[it.Name] != "" {
			t.Errorf("catalog item %+v", it)
		}
		codes[it.Name] = it.DeviceID
	}
	if pages < 2 || codes["街道点位61"] != "" || codes["街道点位01"] == "" {
		t.Fatalf("catalog: %d items in %d MESSAGEs: %v", len(items), pages, codes)
	}
	t.Logf("catalog of %d cameras in %d MESSAGEs", len(items), pages)

	for _, mode := range []string{"udp", "tcp-passive", "tcp-active"} {
		path := filepath.Join(t.TempDir(), mode+".ps")
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		call, err := plat.Play(ctx, streetCode, codes["街道点位01"], mode, out)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		time.Sleep(3 * time.Second)
		if err := call.Bye(ctx); err != nil {
			t.Errorf("%s BYE: %v", mode, err)
		}
		out.Close()
		_, bytes, first := call.Packets()
		played := time.Since(first)
		p := probePS(t, path)
		want := int(played.Seconds() * 25)
		if p.Codec != "h264" || p.Width != 1280 || p.Height != 720 || p.Frames < want-5 || p.Frames > want+110 {
			t.Errorf("%s: ffprobe %+v, want 1280x720 H.264, about %d frames (%v)", mode, p, want, played.Round(time.Millisecond))
		}
		t.Logf("%s: first packet %v after the INVITE, %d bytes, %+v", mode, first.Sub(call.Invited).Round(time.Millisecond), bytes, p)
	}
	// An alarm on a shared camera reaches the platform as its channel's.
	if code, out := api.json("POST", "/api/v1/events", map[string]any{"source": "ai", "source_event_id": "up-1", "camera_id": "street03",
		"kind": "tamper", "phase": "start", "time": time.Now().UTC().Format(time.RFC3339)}); code != 200 {
		t.Fatalf("event: %d %v", code, out)
	}
	eventually(t, 10*time.Second, "the alarm at the platform", func() bool {
		for _, a := range plat.Alarms() {
			if a.DeviceID == codes["街道点位03"] {
				return true
			}
		}
		return false
	})
	// A GB/T 28181 channel shared too: the platform's PTZ reaches its
	// device; an RTSP camera takes none.
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000001", Channels: 1, Lon: 119.45, Lat: 32.39})
	gbCh := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool { code, _ := api.json("GET", "/api/v1/cameras/"+gbCh, nil); return code == 200 })
	if code, out := api.json("PATCH", "/api/v1/gb/upstream/district", map[string]any{"share": map[string]any{
		"cameras": append(append([]string{}, shared...), gbCh), "grids": []string{}}}); code != 200 {
		t.Fatalf("share the channel: %d %v", code, out)
	}
	eventually(t, 15*time.Second, "the channel in the platform's catalog, as its own code", func() bool {
		items, _, _ := plat.Catalog(streetCode)
		for _, it := range items {
			if it.DeviceID == gbCh {
				return len(items) == 61
			}
		}
		return false
	})
	left, _ := manscdp.PTZCmd("left", 31)
	if err := plat.Control(ctx, streetCode, gbCh, left); err != nil {
		t.Fatalf("PTZ from the platform: %v", err)
	}
	eventually(t, 5*time.Second, "the PTZCmd at the device", func() bool {
		p := dev.PTZ()
		return len(p) == 1 && p[0] == gbCh+" "+left
	})
	if err := plat.Control(ctx, streetCode, codes["街道点位01"], left); err == nil {
		t.Error("PTZ to an RTSP camera was taken")
	}

	// Not shared: refused, and never pulled.
	if _, err := plat.Play(ctx, streetCode, "32100300001319999999", "udp", os.Stdout); err == nil {
		t.Error("a code the street does not share was played")
	}
	if st, err := g.manager.Status("street61"); err != nil || st.Viewers != 0 || st.State != "unknown" {
		t.Errorf("the camera not shared: %+v %v", st, err)
	}

	// The platform restarts; meanwhile a camera is renamed.
	if code, _ := api.json("PATCH", "/api/v1/cameras/street02", map[string]any{"name": "西门"}); code != 200 {
		t.Fatal("rename")
	}
	addr := plat.Addr()
	plat.Close()
	time.Sleep(time.Second)
	plat, err = gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{Listen: addr, ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	eventually(t, 15*time.Second, "registered again", func() bool { return plat.Registered(streetCode) })
	took := time.Since(back)
	eventually(t, 15*time.Second, "the catalog again, current", func() bool {
		items, _, _ := plat.Catalog(streetCode)
		for _, it := range items {
			if it.Name == "西门" {
				return len(items) == 61 && it.DeviceID == codes["街道点位02"]
			}
		}
		return false
	})
	t.Logf("registered again %v after the platform came back", took.Round(time.Millisecond))

	// A wrong password: in the status, tried again after a backoff.
	if code, _ := api.json("PATCH", "/api/v1/gb/upstream/district", map[string]any{"password": "not-the-password"}); code != 200 {
		t.Fatal("patch password")
	}
	eventually(t, 15*time.Second, "the wrong password in the status", func() bool {
		st := status()
		msg, _ := st["last_error"].(string)
		return st["state"] == "failed" && strings.Contains(msg, "password")
	})
	_, refused := plat.Registrations(streetCode)
	time.Sleep(3 * time.Second)
	if _, again := plat.Registrations(streetCode); again-refused > 4 {
		t.Errorf("%d refused REGISTERs in 3 s: a tight loop", again-refused)
	}
	// Listed, never with the password.
	if code, raw := api.do("GET", "/api/v1/gb/upstream", "", nil, true); code != 200 || strings.Contains(string(raw), "not-the-password") || strings.Contains(string(raw), districtPass) {
		t.Errorf("GET /gb/upstream: %d %s", code, raw)
	}
}

type psProbe struct {
	Codec         string `json:"codec_name"`
	Width, Height int
	Frames        int
	NbReadFrames  string `json:"nb_read_frames"`
}

// probePS reads a program stream file as ffprobe sees its video.
func probePS(t *testing.T, path string) psProbe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-f", "mpeg", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var res struct{ Streams []psProbe }
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) != 1 {
		t.Fatalf("ffprobe %s: %v", out, err)
	}
	p := res.Streams[0]
	fmt.Sscan(p.NbReadFrames, &p.Frames)
	return p
}

// TestChromiumShowsUpstreamStatus: the admin's wall lists the superior
// platforms under the camera tree; a registered one has a green dot and
// what it is shown, a name written as markup is text, and one that
// refuses the password is red with the reason.
func TestChromiumShowsUpstreamStatus(t *testing.T) {
	script := e2eScript(t, "upstream.mjs")
	ctx := context.Background()
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close()
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": "up-cam", "name": "上传点位", "on_demand": true,
		"streams": map[string]string{"main": "rtsp://127.0.0.1:1/x"}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	for _, u := range []map[string]any{
		{"id": "district", "name": "区平台" + xss, "password": districtPass},
		{"id": "city", "name": "市平台", "password": "wrong-password-1"},
	} {
		u["server_id"], u["address"], u["local_id"], u["enabled"] = districtID, plat.Addr(), streetCode, true
		u["share"] = map[string]any{"cameras": []string{"up-cam"}}
		if code, out := api.json("POST", "/api/v1/gb/upstream", u); code != 201 {
			t.Fatalf("upstream: %d %v", code, out)
		}
	}
	pw := addUser(t, api, "up-admin", "admin", nil, "")
	var res struct {
		Rows []struct {
			ID, State, Dot, Name, Facts, Error string
		} `json:"rows"`
		Visible  bool     `json:"visible"`
		Injected int      `json:"injected"`
		CSP      []string `json:"csp"`
		Dialog   string   `json:"dialog"`
		Error    string   `json:"error"`
	}
	eventually(t, 20*time.Second, "the wrong password in the status", func() bool {
		_, u := api.json("GET", "/api/v1/gb/upstream/city", nil)
		st, _ := u["status"].(map[string]any)
		return st["state"] == "failed"
	})
	// The district told of its one camera (the catalog's first sync comes
	// a moment after the registration; later on a loaded machine).
	eventually(t, 20*time.Second, "the district's shared camera in the status", func() bool {
		_, u := api.json("GET", "/api/v1/gb/upstream/district", nil)
		st, _ := u["status"].(map[string]any)
		return st["state"] == "registered" && st["channels"] == 1.0
	})
	runE2E(t, 60*time.Second, []string{"SE_USER=up-admin", "SE_PASS=" + pw, "SE_PLATFORM=district", "SE_SHOTS=" + screenshots(t)}, &res, nil, script, api.base+"/")
	if res.Error != "" {
		t.Fatalf("upstream.mjs: %s", res.Error)
	}
	if !res.Visible || len(res.Rows) != 2 || res.Injected > 0 || res.Dialog != "" || len(res.CSP) > 0 {
		t.Fatalf("panel: %+v", res)
	}
	for _, r := range res.Rows {
		switch r.ID {
		case "district":
			if r.State != "registered" || !strings.Contains(r.Dot, "online") || r.Name != "区平台"+xss || !strings.Contains(r.Facts, "共享 1 路") {
				t.Errorf("registered platform: %+v", r)
			}
		case "city":
			if r.State != "failed" || !strings.Contains(r.Dot, "offline") || !strings.Contains(r.Error, "password") {
				t.Errorf("refused platform: %+v", r)
			}
		}
	}
	t.Logf("panel: %+v", res.Rows)
}
