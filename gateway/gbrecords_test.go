package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/mansrtsp"
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

// devicePlayback GETs a device playback and answers its body, the time it
// took and its frames' camsim stamps (read from the H.264 ffmpeg copies
// out of the fMP4, which must be whole).
func devicePlayback(t *testing.T, api apiClient, ch string, start time.Time, secs, scale int) ([]byte, time.Duration, []time.Time) {
	t.Helper()
	q := fmt.Sprintf("/api/v1/cameras/%s/playback?source=device&start=%s&duration=%d&scale=%d", ch, url.QueryEscape(start.Format(time.RFC3339)), secs, scale)
	began := time.Now()
	code, body := api.do("GET", q, "", nil, true)
	took := time.Since(began)
	if code != 200 {
		t.Fatalf("device playback: %d %s", code, body)
	}
	return body, took, seiStamps(t, body)
}

// seiStamps are the camsim stamps of an MP4's frames, read from the H.264
// ffmpeg copies out of it (which must be whole).
func seiStamps(t *testing.T, body []byte) []time.Time {
	t.Helper()
	path := filepath.Join(t.TempDir(), "footage.mp4")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	annexb, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg cannot read the footage: %v", err)
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(annexb); err != nil {
		t.Fatal(err)
	}
	var stamps []time.Time
	for _, n := range nalus {
		if at, ok := camsim.ParseTimestampSEI(n); ok {
			stamps = append(stamps, at)
		}
	}
	return stamps
}

// TestDevicePlaybackThroughTheGateway: a window of the simulated NVR's
// recording plays through GET /cameras/{id}/playback?source=device as
// fMP4 ffmpeg reads whole, its frames stamped from the time asked to the
// window's end; scale 4 takes a quarter of the time; a viewer who leaves
// ends the device's session (BYE) within a second or two; a window with
// nothing recorded is refused.
func TestDevicePlaybackThroughTheGateway(t *testing.T) {
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000062", Channels: 1})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool {
		code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil)
		return code == 200
	})
	start := time.Now().Truncate(time.Hour).Add(-time.Hour + 12*time.Minute + 7*time.Second)
	_, took, stamps := devicePlayback(t, api, ch, start, 4, 1)
	if len(stamps) < 95 || stamps[0].Sub(start).Abs() > 40*time.Millisecond || start.Add(4*time.Second).Sub(stamps[len(stamps)-1]) > 100*time.Millisecond {
		t.Fatalf("%d frames stamped %v … %v; asked %v + 4 s", len(stamps), stamps[0], stamps[len(stamps)-1], start)
	}
	if took < 3*time.Second {
		t.Fatalf("4 s at 1x took %v", took)
	}
	_, took4, stamps4 := devicePlayback(t, api, ch, start, 8, 4)
	if len(stamps4) < 190 || took4 > 6*time.Second { // at 1x: 8 s
		t.Fatalf("8 s at 4x: %d frames in %v", len(stamps4), took4)
	}
	t.Logf("4 s at 1x in %v; 8 s at 4x in %v", took.Round(time.Millisecond), took4.Round(time.Millisecond))

	// The viewer leaves a minute-long playback after a second.
	byes := dev.Byes()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", api.base+fmt.Sprintf("/api/v1/cameras/%s/playback?source=device&start=%s&duration=60", ch,
		url.QueryEscape(start.Format(time.RFC3339))), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := io.ReadAtLeast(resp.Body, buf, 1024); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	eventually(t, 5*time.Second, "the device's session ended", func() bool { return dev.Byes() > byes })

	// Nothing recorded: ten days ago (the NVR keeps seven).
	old := time.Now().Add(-10 * 24 * time.Hour)
	q := fmt.Sprintf("/api/v1/cameras/%s/playback?source=device&start=%s&duration=5", ch, url.QueryEscape(old.Format(time.RFC3339)))
	if code, _ := api.json("GET", q, nil); code != 503 && code != 404 {
		t.Fatalf("a window the device does not keep: %d", code)
	}
}

// recordedMoment is a time about a minute ago at which camsim's NVR has
// footage (it records fifty minutes of every hour).
func recordedMoment() time.Time {
	t := time.Now().Add(-70 * time.Second).Truncate(time.Second)
	if t.Minute() >= 48 || t.Minute() < 1 {
		t = t.Truncate(time.Hour).Add(-time.Hour + 30*time.Minute)
	}
	return t
}

// TestAnUnrecordedGBChannelsCaseGetsTheDevicesClip: an alarm on a GB
// channel the gateway does not record opens a case; its evidence clip is
// downloaded from the NVR (s=Download) once the post-roll is past, kept
// with its SHA-256 and its provenance; the bytes served are those the
// hash names, and the clip's frames are stamped from the pre-roll to the
// post-roll.
func TestAnUnrecordedGBChannelsCaseGetsTheDevicesClip(t *testing.T) {
	g := startGateway(t, append([]string{"SHARPEYES_RECORDING_PRE_SECONDS=3", "SHARPEYES_RECORDING_POST_SECONDS=3"}, gbEnv...)...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000063", Channels: 1})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool {
		code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil)
		return code == 200
	})
	at := recordedMoment()
	for i, phase := range []string{"start", "end"} {
		body := fmt.Sprintf(`{"source":"ai","source_event_id":"dl-%d","camera_id":%q,"kind":"fire_smoke","phase":%q,"time":%q}`,
			i, ch, phase, at.Add(time.Duration(i)*4*time.Second).UTC().Format(time.RFC3339))
		if code, raw := api.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Fatalf("event %s: %d %s", phase, code, raw)
		}
	}
	var caseID string
	eventually(t, 10*time.Second, "the alarm's case", func() bool {
		_, out := api.json("GET", "/api/v1/cases?camera_id="+ch, nil)
		if items, _ := out["items"].([]any); len(items) > 0 {
			caseID = items[0].(map[string]any)["id"].(string)
		}
		return caseID != ""
	})
	var clip map[string]any
	eventually(t, 40*time.Second, "the device's clip", func() bool {
		_, out := api.json("GET", "/api/v1/cases/"+caseID+"/clips", nil)
		items, _ := out["items"].([]any)
		if len(items) == 1 && items[0].(map[string]any)["state"] != "pending" {
			clip = items[0].(map[string]any)
			return true
		}
		return false
	})
	prov, _ := clip["provenance"].(string)
	if clip["state"] != "ready" || !strings.Contains(prov, dev.Config().DeviceID) || !strings.Contains(prov, ch) || !strings.Contains(prov, "Download") {
		t.Fatalf("the clip %v", clip)
	}
	code, body := api.do("GET", clip["url"].(string), "", nil, true)
	sum := sha256.Sum256(body)
	if code != 200 || hex.EncodeToString(sum[:]) != clip["sha256"] {
		t.Fatalf("clip download: %d, %d bytes, sha256 %x, the case lists %v", code, len(body), sum, clip["sha256"])
	}
	stamps := seiStamps(t, body)
	from, to := at.Add(-3*time.Second), at.Add(7*time.Second)
	if len(stamps) < 200 || stamps[0].Sub(from).Abs() > 100*time.Millisecond || to.Sub(stamps[len(stamps)-1]) > 100*time.Millisecond {
		t.Fatalf("%d frames stamped %v … %v; the window %v … %v", len(stamps), stamps[0], stamps[len(stamps)-1], from, to)
	}
	if n := dev.HistoryInvites(); n != 1 {
		t.Fatalf("%d Downloads asked of the device", n)
	}
	t.Logf("the device's clip: %d bytes, %d frames %s … %s, %s", len(body), len(stamps), stamps[0].Format("15:04:05.000"), stamps[len(stamps)-1].Format("15:04:05.000"), prov)

	// The dispatcher asks for 5 s of the camera from a moment before the alarm.
	from2 := at.Add(-20 * time.Second)
	ask := fmt.Sprintf(`{"start":%q,"end":%q}`, from2.UTC().Format(time.RFC3339), from2.Add(5*time.Second).UTC().Format(time.RFC3339))
	if code, raw := api.do("POST", "/api/v1/cases/"+caseID+"/clips", "application/json", []byte(ask), true); code != 202 {
		t.Fatalf("asking for a clip: %d %s", code, raw)
	}
	var asked map[string]any
	eventually(t, 40*time.Second, "the clip asked for", func() bool {
		_, out := api.json("GET", "/api/v1/cases/"+caseID+"/clips", nil)
		for _, it := range out["items"].([]any) {
			m := it.(map[string]any)
			if m["id"] != clip["id"] && m["state"] != "pending" {
				asked = m
				return true
			}
		}
		return false
	})
	if asked["state"] != "ready" || !strings.Contains(fmt.Sprint(asked["provenance"]), "Download") {
		t.Fatalf("the clip asked for: %v", asked)
	}
	_, body2 := api.do("GET", asked["url"].(string), "", nil, true)
	stamps2 := seiStamps(t, body2)
	if len(stamps2) < 120 || stamps2[0].Sub(from2).Abs() > 100*time.Millisecond || from2.Add(5*time.Second).Sub(stamps2[len(stamps2)-1]) > 100*time.Millisecond {
		t.Fatalf("the clip asked for: %d frames %v … %v, the window %v + 5 s", len(stamps2), stamps2[0], stamps2[len(stamps2)-1], from2)
	}
}

// TestUpstreamRecordingsFromTheSegments: the district's RecordInfo of a
// shared camera the gateway records lists the gateway's spans (as
// /recordings has them, to the second, in the platform's local time); a
// camera not shared gets nothing. Its Playback of a 30 s window is sent
// from the segments on disk as PS that ffprobe reads, the camera's own
// time stamps (SEI) from the keyframe before the window's start to its
// end, PTS following them; Scale 4 sends the rest four times faster, and
// a Download at downloadspeed 4 takes a quarter of the window and ends
// with MediaStatus 121; both are in the access log as the platform's.
// A camera not shared cannot be played back.
func TestUpstreamRecordingsFromTheSegments(t *testing.T) {
	ctx := context.Background()
	plat, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: districtID, Password: districtPass})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { plat.Close() }()
	g := startGateway(t, append(append([]string{}, gbEnv...), recordingEnv...)...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	for i, id := range []string{"up-rec", "up-not-shared"} {
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "streams": map[string]string{"main": fleet.URL(i+1, false)},
			"recording": map[string]any{"mode": "continuous"}}); code != 201 {
			t.Fatalf("camera %s: %d %v", id, code, out)
		}
	}
	footageThrough(t, api, "up-rec", time.Now().Add(33*time.Second))
	if code, out := api.json("POST", "/api/v1/gb/upstream", map[string]any{"id": "district", "server_id": districtID, "address": plat.Addr(),
		"password": districtPass, "local_id": streetCode, "keepalive_s": 1, "share": map[string]any{"cameras": []string{"up-rec"}}}); code != 201 {
		t.Fatalf("upstream: %d %v", code, out)
	}
	var code string
	eventually(t, 15*time.Second, "the platform's catalog", func() bool {
		items, _, complete := plat.Catalog(streetCode)
		if complete && len(items) == 1 {
			code = items[0].DeviceID
		}
		return code != ""
	})
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	recs, err := plat.RecordInfo(ctx, streetCode, code, from, to)
	if err != nil || !recs.Complete || len(recs.Items) == 0 {
		t.Fatalf("RecordInfo of the shared camera: %+v %v", recs, err)
	}
	_, tl := api.json("GET", fmt.Sprintf("/api/v1/cameras/up-rec/recordings?from=%s&to=%s", url.QueryEscape(from.Format(time.RFC3339)), url.QueryEscape(to.Format(time.RFC3339))), nil)
	spans := tl["items"].([]any)
	if len(spans) != len(recs.Items) {
		t.Fatalf("%d spans upward, %d in the API", len(recs.Items), len(spans))
	}
	first, _ := time.Parse(time.RFC3339Nano, spans[0].(map[string]any)["start"].(string))
	if !recs.Items[0].Start.Equal(first.Truncate(time.Second)) {
		t.Fatalf("the first span starts %v upward, %v in the index", recs.Items[0].Start, first)
	}
	// A camera not shared: its code is not the platform's to ask.
	other := strings.Replace(code, code[len(code)-3:], "999", 1)
	if recs, err := plat.RecordInfo(ctx, streetCode, other, from, to); err != nil || len(recs.Items) != 0 {
		t.Fatalf("an unshared code: %+v %v", recs, err)
	}

	// Playback of 30 s of the first span: 2 s at 1x, then Scale 4.
	w0 := recs.Items[0].Start.Add(2 * time.Second)
	w1 := w0.Add(30 * time.Second)
	var ps bytes.Buffer
	var mu sync.Mutex
	call, err := plat.History(ctx, streetCode, code, "tcp-passive", "Playback", w0, w1, 0, lockedWriter{&mu, &ps})
	if err != nil {
		t.Fatalf("Playback: %v", err)
	}
	time.Sleep(2 * time.Second)
	fast := time.Now()
	if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Play, Scale: 4}); err != nil {
		t.Fatal(err)
	}
	waitSent(t, call)
	took := time.Since(fast)
	_ = call.Bye(ctx)
	mu.Lock()
	frames, err := gbplatform.ReadPS(ctx, ps.Bytes())
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	checkUpwardWindow(t, frames, w0, w1)
	// 28 s of footage at 4x: 7 s (it would be 28 at 1x).
	if took < 4*time.Second || took > 14*time.Second {
		t.Errorf("28 s of footage at Scale 4 took %v", took)
	}
	t.Logf("Playback of 30 s: %d frames, the 28 s at 4x in %v", len(frames), took.Round(time.Millisecond))

	// Download at 4x.
	ps.Reset()
	call, err = plat.History(ctx, streetCode, code, "tcp-active", "Download", w0, w1, 4, lockedWriter{&mu, &ps})
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	waitSent(t, call)
	took = time.Since(call.Invited)
	_ = call.Bye(ctx)
	mu.Lock()
	frames, err = gbplatform.ReadPS(ctx, ps.Bytes())
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	checkUpwardWindow(t, frames, w0, w1)
	if took < 5*time.Second || took > 15*time.Second {
		t.Errorf("a 30 s Download at 4x took %v", took)
	}
	t.Logf("Download of 30 s at 4x: %d frames in %v", len(frames), took.Round(time.Millisecond))
	if _, err := plat.History(ctx, streetCode, other, "udp", "Playback", w0, w1, 0, io.Discard); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Playback of an unshared code: %v, want 404", err)
	}
	_, acc := api.json("GET", "/api/v1/recordings/access?camera_id=up-rec", nil)
	kinds := map[string]int{}
	for _, r := range acc["items"].([]any) {
		if m := r.(map[string]any); m["who"] == "upstream:district" {
			kinds[m["kind"].(string)]++
		}
	}
	if kinds["playback"] != 1 || kinds["export"] != 1 {
		t.Errorf("the platform's looks in the access log: %v", kinds)
	}
}

// lockedWriter writes to a buffer under a lock (a platform call writes
// from its receiving goroutine).
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitSent waits for a platform call's MediaStatus 121, then for the
// media in flight to be read (no packet for 300 ms).
func waitSent(t *testing.T, call *gbplatform.PlatformCall) {
	t.Helper()
	select {
	case <-call.Sent():
	case <-time.After(60 * time.Second):
		t.Fatal("no MediaStatus 121")
	}
	n, _, _ := call.Packets()
	for quiet := 0; quiet < 3; {
		time.Sleep(100 * time.Millisecond)
		m, _, _ := call.Packets()
		if m == n {
			quiet++
		} else {
			quiet, n = 0, m
		}
	}
}

// checkUpwardWindow checks PS received upward is the window's footage:
// from a keyframe at most a GOP (camsim's, 2 s) before w0 to w1's last
// frame, every frame stamped, about 25 a second, the PTS following the
// time stamps (the recording's clock against the camera's, so within a
// few frames over the window).
func checkUpwardWindow(t *testing.T, frames []gbplatform.PSFrame, w0, w1 time.Time) {
	t.Helper()
	if len(frames) < 700 {
		t.Fatalf("%d frames for 30 s", len(frames))
	}
	first, last := frames[0], frames[len(frames)-1]
	if !first.Key || first.Stamp.IsZero() || first.Stamp.After(w0.Add(100*time.Millisecond)) || w0.Sub(first.Stamp) > 2100*time.Millisecond {
		t.Fatalf("the first frame (key %v) stamped %v, the window from %v", first.Key, first.Stamp, w0)
	}
	if last.Stamp.Sub(w1).Abs() > 300*time.Millisecond {
		t.Fatalf("the last frame stamped %v, the window to %v", last.Stamp, w1)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].PTS <= frames[i-1].PTS || !frames[i].Stamp.After(frames[i-1].Stamp) {
			t.Fatalf("frame %d: PTS %v after %v, stamped %v after %v", i, frames[i].PTS, frames[i-1].PTS, frames[i].Stamp, frames[i-1].Stamp)
		}
	}
	if d := (last.PTS - first.PTS) - last.Stamp.Sub(first.Stamp); d.Abs() > 200*time.Millisecond {
		t.Fatalf("PTS span %v, time stamps span %v", last.PTS-first.PTS, last.Stamp.Sub(first.Stamp))
	}
}

// TestDevicePlaybackWithoutMediaStatusEnds: a device that never says its
// Playback is sent whole leaves no session behind: the gateway ends it
// (BYE) once the device has sent nothing for 10 s, and the viewer gets
// the window's footage.
func TestDevicePlaybackWithoutMediaStatusEnds(t *testing.T) {
	g := startGateway(t, gbEnv...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	dev := startGBDevice(t, g, camsim.GBConfig{DeviceID: "32100300001110000064", Channels: 1, NoMediaStatus: true})
	ch := dev.Config().ChannelID(1)
	eventually(t, 10*time.Second, "the channel as a camera", func() bool {
		code, _ := api.json("GET", "/api/v1/cameras/"+ch, nil)
		return code == 200
	})
	start := recordedMoment()
	_, took, stamps := devicePlayback(t, api, ch, start, 2, 1)
	if len(stamps) < 45 || took > 40*time.Second { // 10 s of silence ends it, not never
		t.Fatalf("%d frames in %v", len(stamps), took)
	}
	eventually(t, 5*time.Second, "no session left at the device", func() bool { return dev.HistorySessions() == 0 })
	t.Logf("a 2 s window with no MediaStatus ended after %v", took.Round(time.Millisecond))
}
