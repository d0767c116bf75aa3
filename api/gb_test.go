package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"sharpeyes/registry"
)

const (
	nvrID = "34020000001320000001"
	chA   = "34020000001310000001"
	chB   = "34020000001310000002"
)

// gbCameras puts an NVR with a channel in S-A and one in S-B, the first
// with PTZ, as the GB side would have registered them.
func (h *harness) gbCameras() {
	h.t.Helper()
	for _, c := range []struct {
		id, grid string
		ptz      bool
	}{{chA, "S-A", true}, {chB, "S-B", false}} {
		h.catalog.PutCamera(registry.Camera{ID: c.id, Name: "通道 " + c.id[16:], Grid: c.grid, OnDemand: true, Rev: 1,
			GB: &registry.GBChannel{DeviceID: nvrID, ChannelID: c.id, PTZ: c.ptz}})
	}
	h.gb.devices[nvrID] = GBDeviceView{GBDevice: registry.GBDevice{ID: nvrID, Name: "村委会NVR", Enabled: true, Password: "Dev-Secret-9"},
		Online: true, ChannelIDs: []string{chA, chB}}
}

func TestGBDevicesStayInTheirJurisdiction(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.gbCameras()

	var list struct {
		Items []GBDeviceView `json:"items"`
	}
	c := h.must(http.StatusOK, "GET", "/api/v1/gb/devices", adminToken, nil)
	c.json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != nvrID {
		t.Fatalf("devices %+v", list)
	}
	if strings.Contains(string(c.body), "Dev-Secret-9") {
		t.Fatal("a device password was answered")
	}
	// A S-A credential does not hold every channel of the NVR: it sees no
	// device and may not change it.
	east := h.token([]string{"cameras:write", "cameras:read", "cameras:ptz"}, "S-A")
	h.must(http.StatusOK, "GET", "/api/v1/gb/devices", east, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("east sees %+v", list)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/gb/devices/"+nvrID, east, nil)
	h.must(http.StatusNotFound, "PATCH", "/api/v1/gb/devices/"+nvrID, east, map[string]any{"enabled": false})
	if !h.gb.devices[nvrID].Enabled {
		t.Fatal("a device outside the jurisdiction was disabled")
	}
	var d GBDeviceView
	h.must(http.StatusOK, "PATCH", "/api/v1/gb/devices/"+nvrID, adminToken, map[string]any{"name": "新NVR", "password": "Other-secret-1"}).json(t, &d)
	if d.Name != "新NVR" || !d.OwnPassword {
		t.Fatalf("patched device %+v", d)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/gb/devices/00000000000000000000", adminToken, nil)
	h.must(http.StatusBadRequest, "PATCH", "/api/v1/gb/devices/"+nvrID, adminToken, `{"enabled":"yes"}`)

	// PTZ: the channel that has it, within the jurisdiction.
	h.must(http.StatusNoContent, "POST", "/api/v1/cameras/"+chA+"/ptz", east, map[string]any{"action": "left", "speed": 50})
	h.must(http.StatusNotFound, "POST", "/api/v1/cameras/"+chB+"/ptz", east, map[string]any{"action": "left"})
	if c := h.do("POST", "/api/v1/cameras/"+chB+"/ptz", adminToken, map[string]any{"action": "left"}); c.status < 400 {
		t.Fatalf("PTZ on a channel without it: %d", c.status)
	}
	h.must(http.StatusBadRequest, "POST", "/api/v1/cameras/"+chA+"/ptz", east, `{"action":`)
	h.gb.offline = true
	if c := h.do("POST", "/api/v1/cameras/"+chA+"/ptz", east, map[string]any{"action": "stop"}); c.status != http.StatusServiceUnavailable && c.status != http.StatusConflict {
		t.Fatalf("PTZ to an unregistered device: %d %s", c.status, c.body)
	}
	if got := strings.Join(h.gb.ptz, " "); got != chA+"/left/50" {
		t.Fatalf("PTZ sent %q", got)
	}
	// Those who only watch see no stream URL of a GB channel either.
	var cam map[string]any
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA, adminToken, nil).json(t, &cam)
	if _, ok := cam["streams"]; ok {
		t.Fatalf("a GB channel answered streams: %v", cam)
	}
}

func TestUpstreamsAreStreetWideAndWriteOnly(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	up := map[string]any{"id": "district", "name": "区平台", "server_id": "34020000002000000001", "domain": "3402000000",
		"address": "127.0.0.1:15060", "password": "Up-Secret-7", "local_id": "34020000002000000002"}
	c := h.must(http.StatusCreated, "POST", "/api/v1/gb/upstream", adminToken, up)
	if strings.Contains(string(c.body), "Up-Secret-7") {
		t.Fatalf("create answered the password: %s", c.body)
	}
	var v UpstreamView
	c.json(t, &v)
	if !v.HasPassword || !v.Enabled {
		t.Fatalf("upstream %+v", v)
	}
	h.must(http.StatusConflict, "POST", "/api/v1/gb/upstream", adminToken, up)
	for _, bad := range []map[string]any{{"id": "x", "expires_s": 0}, {"id": "x", "keepalive_s": 99999}, {"id": "y"}} {
		h.must(http.StatusBadRequest, "POST", "/api/v1/gb/upstream", adminToken, bad)
	}
	var list struct {
		Items []UpstreamView `json:"items"`
	}
	c = h.must(http.StatusOK, "GET", "/api/v1/gb/upstream", adminToken, nil)
	c.json(t, &list)
	if len(list.Items) != 1 || strings.Contains(string(c.body), "Up-Secret-7") {
		t.Fatalf("list %s", c.body)
	}
	h.must(http.StatusOK, "PATCH", "/api/v1/gb/upstream/district", adminToken, map[string]any{"enabled": false}).json(t, &v)
	if v.Enabled {
		t.Fatal("still enabled")
	}
	h.must(http.StatusOK, "GET", "/api/v1/gb/upstream/district", adminToken, nil)
	// A credential limited to one cell may not send the street upward.
	cell := h.token([]string{"upstreams:write"}, "S-A")
	h.must(http.StatusForbidden, "GET", "/api/v1/gb/upstream", cell, nil)
	h.must(http.StatusForbidden, "POST", "/api/v1/gb/upstream", cell, up)
	h.must(http.StatusForbidden, "DELETE", "/api/v1/gb/upstream/district", cell, nil)
	h.must(http.StatusForbidden, "GET", "/api/v1/gb/upstream", h.token([]string{"cameras:write"}), nil)
	h.must(http.StatusNoContent, "DELETE", "/api/v1/gb/upstream/district", adminToken, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/gb/upstream/district", adminToken, nil)
	h.must(http.StatusNotFound, "PATCH", "/api/v1/gb/upstream/district", adminToken, map[string]any{"name": "x"})
}

// TestDeviceRecordingsBesideTheGateways: ?source=device lists what a
// channel's NVR keeps, ?source=all both told apart and in order, the
// default the gateway's alone as before; a camera with no device, an
// unknown source and a range too long for a device are 400, a device
// not registered 503 (with source=all the gateway's still listed), a
// channel outside the caller's cells 404.
func TestDeviceRecordingsBesideTheGateways(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.gbCameras()
	h.camera("a1", "S-A")
	now := time.Now().UTC().Truncate(time.Second)
	h.gb.records = []DeviceSpan{{Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour), Type: "time"},
		{Start: now.Add(-90 * time.Minute), End: now.Add(-80 * time.Minute), Type: "alarm"}}
	h.rec.mu.Lock()
	h.rec.footage = map[string][]byte{chA: []byte("footage")}
	h.rec.mu.Unlock()
	q := "?from=" + now.Add(-4*time.Hour).Format(time.RFC3339) + "&to=" + now.Format(time.RFC3339)
	type view struct {
		Items []struct {
			Source, Type string
			Start, End   time.Time
		}
		DeviceComplete *bool  `json:"device_complete"`
		DeviceError    string `json:"device_error"`
	}
	var dev, all, gw view
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=device", adminToken, nil).json(t, &dev)
	if len(dev.Items) != 2 || dev.Items[0].Source != "device" || dev.Items[1].Type != "alarm" || dev.DeviceComplete == nil || !*dev.DeviceComplete {
		t.Fatalf("device: %+v", dev)
	}
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=all", adminToken, nil).json(t, &all)
	if len(all.Items) != 3 || all.Items[0].Source != "gateway" || all.Items[1].Source != "device" || all.Items[2].Type != "alarm" || all.Items[1].Start.After(all.Items[2].Start) {
		t.Fatalf("all: %+v", all)
	}
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA+"/recordings"+q, adminToken, nil).json(t, &gw)
	if len(gw.Items) != 1 || gw.Items[0].Source != "" {
		t.Fatalf("the default: %+v", gw)
	}
	h.must(http.StatusBadRequest, "GET", "/api/v1/cameras/a1/recordings"+q+"&source=device", adminToken, nil)
	h.must(http.StatusBadRequest, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=nvr", adminToken, nil)
	long := "?from=" + now.Add(-40*24*time.Hour).Format(time.RFC3339) + "&to=" + now.Format(time.RFC3339)
	h.must(http.StatusBadRequest, "GET", "/api/v1/cameras/"+chA+"/recordings"+long+"&source=all", adminToken, nil)
	west := h.token([]string{"recordings:read"}, "S-B")
	h.must(http.StatusNotFound, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=device", west, nil)
	h.gb.mu.Lock()
	h.gb.offline = true
	h.gb.mu.Unlock()
	h.must(http.StatusServiceUnavailable, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=device", adminToken, nil)
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA+"/recordings"+q+"&source=all", adminToken, nil).json(t, &all)
	if len(all.Items) != 1 || all.Items[0].Source != "gateway" || all.DeviceError == "" {
		t.Fatalf("all, the device away: %+v", all)
	}
}

// TestDevicePlaybackThroughTheAPI: ?source=device plays what the NVR
// keeps (its bytes as they come), at a scale of 1, 2, 4 or 8, logged as
// a look back; bad scales, an export and a camera with no device are
// 400; a device away is 503; the window is cut at now.
func TestDevicePlaybackThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.gbCameras()
	h.camera("a1", "S-A")
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	q := "/api/v1/cameras/" + chA + "/playback?source=device&start=" + start.Format(time.RFC3339) + "&duration=30"
	c := h.must(http.StatusOK, "GET", q+"&scale=4", adminToken, nil)
	if string(c.body) != "ftyp-device-footage" || c.header.Get("Content-Type") != "video/mp4" || c.header.Get("X-Playback-Source") != "device" {
		t.Fatalf("device playback: %q %v", c.body, c.header)
	}
	h.gb.mu.Lock()
	played := append([]string(nil), h.gb.played...)
	h.gb.mu.Unlock()
	if len(played) != 1 || played[0] != chA+"/"+start.Format(time.RFC3339)+"/30s/4" {
		t.Fatalf("played %q", played)
	}
	rows := h.rec.log
	if len(rows) == 0 || rows[len(rows)-1].Stream != "device" || rows[len(rows)-1].CameraID != chA {
		t.Fatalf("access log %+v", rows)
	}
	days := "/api/v1/cameras/" + chA + "/playback?source=device&start=" + start.Add(-48*time.Hour).Format(time.RFC3339) + "&duration=172800"
	future := "/api/v1/cameras/" + chA + "/playback?source=device&start=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + "&duration=30"
	for _, bad := range []string{days, future, q + "&scale=3", q + "&format=mp4", "/api/v1/cameras/a1/playback?source=device&start=" + start.Format(time.RFC3339) + "&duration=30",
		strings.Replace(q, "source=device", "source=nvr", 1)} {
		h.must(http.StatusBadRequest, "GET", bad, adminToken, nil)
	}
	// The end of a window reaching into the future is now.
	recent := time.Now().Add(-10 * time.Second).UTC().Truncate(time.Second)
	h.must(http.StatusOK, "GET", "/api/v1/cameras/"+chA+"/playback?source=device&duration=60&start="+recent.Format(time.RFC3339), adminToken, nil)
	h.gb.mu.Lock()
	last := h.gb.played[len(h.gb.played)-1]
	h.gb.mu.Unlock()
	if strings.HasSuffix(last, "/1m0s/1") {
		t.Fatalf("a window past now was asked whole: %s", last)
	}
	h.gb.mu.Lock()
	h.gb.offline = true
	h.gb.mu.Unlock()
	h.must(http.StatusServiceUnavailable, "GET", q, adminToken, nil)
}

// TestAskingForAClipOfAnyWindow: a dispatcher asks a case for a clip of
// a window of its camera (202, pending, listed with the case's clips); a
// window too long, inverted or in the future is 400; another camera out
// of view 404; a grid worker (no recordings:export) 403.
func TestAskingForAClipOfAnyWindow(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.gbCameras()
	var cs struct{ ID string }
	h.must(http.StatusCreated, "POST", "/api/v1/cases", adminToken, map[string]any{"source": "hotline", "category": "public_order",
		"title": "夜间有人翻墙", "grid": "S-A", "camera_id": chA}).json(t, &cs)
	at := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	var clip struct{ ID, State string }
	body := map[string]any{"start": at.Format(time.RFC3339), "end": at.Add(90 * time.Second).Format(time.RFC3339)}
	h.must(http.StatusAccepted, "POST", "/api/v1/cases/"+cs.ID+"/clips", adminToken, body).json(t, &clip)
	var list struct {
		Items []struct {
			ID, State string
			CameraID  string `json:"camera_id"`
		}
	}
	h.must(http.StatusOK, "GET", "/api/v1/cases/"+cs.ID+"/clips", adminToken, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].State != "pending" || list.Items[0].CameraID != chA {
		t.Fatalf("the case's clips %+v", list)
	}
	for _, bad := range []map[string]any{
		{"start": at.Format(time.RFC3339), "end": at.Add(11 * time.Minute).Format(time.RFC3339)},
		{"start": at.Format(time.RFC3339), "end": at.Add(-time.Minute).Format(time.RFC3339)},
		{"start": time.Now().Add(time.Hour).Format(time.RFC3339), "end": time.Now().Add(61 * time.Minute).Format(time.RFC3339)},
		{"start": at.Format(time.RFC3339)},
	} {
		h.must(http.StatusBadRequest, "POST", "/api/v1/cases/"+cs.ID+"/clips", adminToken, bad)
	}
	west := h.token([]string{"recordings:export", "cases:read"}, "S-B")
	h.must(http.StatusNotFound, "POST", "/api/v1/cases/"+cs.ID+"/clips", west, body)
	worker := h.token([]string{"cases:read", "recordings:read"}, "S-A")
	h.must(http.StatusForbidden, "POST", "/api/v1/cases/"+cs.ID+"/clips", worker, body)
}
