package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go.uber.org/goleak"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
)

// recordingEnv records quickly: 10 s segments, half-second fragments.
var recordingEnv = []string{"SHARPEYES_RECORDING_SEGMENT_SECONDS=10", "SHARPEYES_RECORDING_PART_DURATION=500ms"}

// recorded is how much footage cam's timeline (the last day) holds, and
// where its newest span ends.
func recorded(admin apiClient, cam string) (total time.Duration, last time.Time) {
	_, tl := admin.json("GET", "/api/v1/cameras/"+cam+"/recordings", nil)
	spans, _ := tl["items"].([]any)
	for _, s := range spans {
		m, _ := s.(map[string]any)
		a, _ := m["start"].(string)
		b, _ := m["end"].(string)
		start, err1 := time.Parse(time.RFC3339Nano, a)
		end, err2 := time.Parse(time.RFC3339Nano, b)
		if err1 == nil && err2 == nil {
			total += end.Sub(start)
			if end.After(last) {
				last = end
			}
		}
	}
	return total, last
}

// footageThrough waits until cam's timeline holds footage up to at: time
// passed that the recorder wrote and indexed, not a fixed sleep (its
// progress reaches the index about once a second).
func footageThrough(t *testing.T, admin apiClient, cam string, at time.Time) {
	t.Helper()
	eventually(t, time.Until(at)+30*time.Second, "footage of "+cam+" through "+at.Format("15:04:05.000"), func() bool {
		_, last := recorded(admin, cam)
		if !last.Before(at) {
			return true
		}
		time.Sleep(100 * time.Millisecond) // one request in 125 ms is plenty
		return false
	})
}

// ffprobeFile checks that ffprobe and ffmpeg read an MP4 without an error
// and answers its video stream's description.
func ffprobeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.mp4")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
		"-of", "compact=p=0", p).CombinedOutput()
	if err != nil || strings.Contains(string(out), "rror") {
		t.Errorf("ffprobe: %v\n%s", err, out)
	}
	dec, err := exec.Command("ffmpeg", "-v", "error", "-i", p, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Errorf("ffmpeg decoding: %v\n%s", err, dec)
	}
	return strings.TrimSpace(string(out))
}

// getBytes GETs path as p (nil: the admin token) and answers status, body and headers.
func getBytes(t *testing.T, base, path string, p *person) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if p == nil {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: p.cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestRecordingPlaybackAndEvidenceThroughTheAPI: a camera recorded
// continuously shows one span on its timeline; playback from a time and an
// MP4 export are read by ffprobe and ffmpeg without an error; who may see
// the camera's past is checked (grid workers play, only dispatchers
// export, viewers neither, other cells' cameras are not found); bad ranges
// get clear 4xx; an alarm's case gets its evidence clip, whose bytes are
// exactly those its SHA-256 names; every look back is in the access log.
func TestRecordingPlaybackAndEvidenceThroughTheAPI(t *testing.T) {
	// Last of the cleanups: every goroutine of the gateway (its components
	// GB/T 28181, cascade, recording, the bus) has ended once it closed.
	running := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, running) })
	g, admin := demoStreet(t)
	_ = g
	base := admin.base
	lat, lon := inside(t, g.Grids(), cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	rec := map[string]any{"mode": "continuous", "pre_seconds": 2, "post_seconds": 2}
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "rec1", "name": "录像一", "on_demand": true,
		"streams":  map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location": map[string]float64{"lat": lat, "lon": lon}, "recording": rec}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	eventually(t, 15*time.Second, "recording under way", func() bool { return g.Recordings().Writing("rec1") })
	a, _ := g.Grids().Get(cellA)
	centre := signIn(t, base, "rec-centre", addUser(t, admin, "rec-centre", "dispatcher", []string{street}, ""))
	worker := signIn(t, base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	viewer := signIn(t, base, "rec-viewer", addUser(t, admin, "rec-viewer", "viewer", []string{street}, ""))
	other := signIn(t, base, "rec-other", addUser(t, admin, "rec-other", "dispatcher", []string{cellB}, ""))

	// An alarm while recording: tamper for two seconds.
	alarm := func(phase string) time.Time {
		at := time.Now().UTC()
		body := fmt.Sprintf(`{"source":"ai","source_event_id":"rt-%s","camera_id":"rec1","kind":"tamper","phase":%q,"time":%q}`,
			phase, phase, at.Format(time.RFC3339Nano))
		if code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Fatalf("alarm %s: %d %s", phase, code, raw)
		}
		return at
	}
	footageThrough(t, admin, "rec1", time.Now().Add(3*time.Second)) // more than the 2 s kept before an alarm
	alarmStart := alarm("start")
	footageThrough(t, admin, "rec1", time.Now().Add(2*time.Second))
	// Two seconds later, or more on a loaded machine (the footage lags).
	alarmEnd := alarm("end")
	footageThrough(t, admin, "rec1", time.Now().Add(3*time.Second)) // more than the 2 s kept after it

	code, tl := admin.json("GET", "/api/v1/cameras/rec1/recordings", nil)
	spans, _ := tl["items"].([]any)
	if code != 200 || len(spans) != 1 {
		t.Fatalf("timeline: %d %v, want one span", code, tl)
	}
	span := spans[0].(map[string]any)
	start, _ := time.Parse(time.RFC3339Nano, span["start"].(string))
	end, _ := time.Parse(time.RFC3339Nano, span["end"].(string))
	if end.Sub(start) < 6*time.Second || time.Since(end) > 3*time.Second {
		t.Errorf("span %s → %s (%v), want about 9 s up to now", start, end, end.Sub(start))
	}

	// The node's recording figures for Prometheus: one camera recorded,
	// about as many bytes written as received.
	_, m := admin.do("GET", "/metrics", "", nil, true)
	metric := func(name string) float64 {
		for _, line := range strings.Split(string(m), "\n") {
			if strings.HasPrefix(line, name+" ") {
				v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				return v
			}
		}
		t.Errorf("no %s in /metrics", name)
		return 0
	}
	written, received := metric("sharpeyes_recording_written_bytes_total"), metric(`sharpeyes_camera_received_bytes_total{camera="rec1",stream="main"}`)
	if metric("sharpeyes_recording_cameras") != 1 || metric("sharpeyes_recording_storage_full") != 0 || written < received/2 || written > received*1.1 {
		t.Errorf("recording metrics: %d cameras, written %.0f of %.0f bytes received", int(metric("sharpeyes_recording_cameras")), written, received)
	}

	// Playback and export, with who may.
	from := url.QueryEscape(start.Add(2300 * time.Millisecond).Format(time.RFC3339Nano))
	play := "/api/v1/cameras/rec1/playback?start=" + from + "&duration=3"
	export := play + "&format=mp4"
	for _, c := range []struct {
		who  string
		p    *person
		path string
		want int
	}{{"dispatcher", centre, play, 200}, {"dispatcher", centre, export, 200}, {"grid worker", worker, play, 200},
		{"grid worker", worker, export, 403}, {"viewer", viewer, play, 403}, {"another cell's dispatcher", other, play, 404},
		{"another cell's dispatcher", other, "/api/v1/cameras/rec1/recordings", 404}} {
		code, body, h := getBytes(t, base, c.path, c.p)
		if code != c.want {
			t.Errorf("%s GET %s: %d %.200s, want %d", c.who, c.path, code, body, c.want)
			continue
		}
		if code == 200 {
			if h.Get("Content-Type") != "video/mp4" {
				t.Errorf("%s: Content-Type %q", c.path, h.Get("Content-Type"))
			}
			t.Logf("%s %s: %d bytes, %s", c.who, strings.TrimPrefix(c.path, "/api/v1/cameras/rec1/"), len(body), ffprobeFile(t, body))
		}
	}
	if _, _, h := getBytes(t, base, export, centre); !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Errorf("export without Content-Disposition attachment: %v", h)
	}

	// Bad ranges: clear errors, nothing started.
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	before := url.QueryEscape(start.Add(-24 * time.Hour).Format(time.RFC3339))
	for _, q := range []struct {
		query string
		want  int
	}{{"start=" + future + "&duration=10", 400}, {"start=" + before + "&duration=10", 404}, {"start=" + from + "&duration=0", 400},
		{"start=" + from + "&duration=172800", 400}, {"start=yesterday&duration=10", 400}, {"duration=10", 400},
		{"start=" + from + "&duration=abc", 400}, {"start=" + from + "&duration=0.0001", 400}, {"start=" + from + "&duration=1_0", 400},
		{"start=" + from + "&duration=1e1", 400}, {"start=" + from + "&duration=Inf", 400}, {"start=" + from + "&duration=10&format=avi", 400}, {"start=" + from + "&duration=10&stream=third", 400}} {
		code, body, _ := getBytes(t, base, "/api/v1/cameras/rec1/playback?"+q.query, centre)
		if code != q.want || !strings.Contains(string(body), `"error"`) {
			t.Errorf("playback?%s: %d %.200s, want %d with an error", q.query, code, body, q.want)
		}
	}

	// The alarm's case and its clip.
	var caseID string
	eventually(t, 10*time.Second, "the alarm's case", func() bool {
		_, out := admin.json("GET", "/api/v1/cases?camera_id=rec1", nil)
		items, _ := out["items"].([]any)
		if len(items) > 0 {
			caseID = items[0].(map[string]any)["id"].(string)
		}
		return caseID != ""
	})
	var clip map[string]any
	eventually(t, 20*time.Second, "the evidence clip made", func() bool {
		_, out := admin.json("GET", "/api/v1/cases/"+caseID+"/clips", nil)
		items, _ := out["items"].([]any)
		if len(items) == 1 && items[0].(map[string]any)["state"] == "ready" {
			clip = items[0].(map[string]any)
			return true
		}
		return false
	})
	cs, _ := time.Parse(time.RFC3339Nano, clip["start"].(string))
	ce, _ := time.Parse(time.RFC3339Nano, clip["end"].(string))
	// The alarm with 2 s before and after, to the footage's frames.
	if cs.Sub(alarmStart.Add(-2*time.Second)).Abs() > time.Second || ce.Sub(alarmEnd.Add(2*time.Second)).Abs() > time.Second {
		t.Errorf("clip %s → %s: want the alarm %s → %s with 2 s before and after", cs, ce, alarmStart, alarmEnd)
	}
	code, body, h := getBytes(t, base, clip["url"].(string), worker) // the grid worker of the case's cell
	sum := sha256.Sum256(body)
	if code != 200 || hex.EncodeToString(sum[:]) != clip["sha256"] || int64(len(body)) != int64(clip["bytes"].(float64)) {
		t.Fatalf("clip download: %d, %d bytes, sha256 %x; the case lists %v bytes, %v", code, len(body), sum, clip["bytes"], clip["sha256"])
	}
	if !strings.HasPrefix(h.Get("Repr-Digest"), "sha-256=:") {
		t.Errorf("no Repr-Digest on the clip: %v", h)
	}
	t.Logf("clip %s: %d bytes, sha256 %s, %s", clip["id"], len(body), clip["sha256"], ffprobeFile(t, body))
	if code, _, _ := getBytes(t, base, clip["url"].(string), other); code != 404 {
		t.Errorf("another cell's dispatcher downloads the clip: %d", code)
	}

	// Every answer carrying the clip's bytes is a look in the log, whatever
	// its Range form (before, only "bytes=0-" was): one dispatcher per form,
	// each asking twice (the second is the same look).
	size := int(clip["bytes"].(float64))
	forms := []string{"bytes= 0-", "bytes=00-", fmt.Sprintf("bytes=-%d", size+10), "bytes=1-,0-0", "bytes=100-200", fmt.Sprintf("bytes=%d-", size-5)}
	for i, form := range forms {
		name := fmt.Sprintf("rec-range%d", i)
		p := signIn(t, base, name, addUser(t, admin, name, "dispatcher", []string{street}, ""))
		for try := 0; try < 2; try++ {
			req, _ := http.NewRequest("GET", base+clip["url"].(string), nil)
			req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: p.cookie})
			req.Header.Set("Range", form)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if (resp.StatusCode != 200 && resp.StatusCode != 206) || len(b) == 0 {
				t.Errorf("Range %q: %d with %d bytes", form, resp.StatusCode, len(b))
			}
		}
	}
	_, log := admin.json("GET", "/api/v1/recordings/access?camera_id=rec1&limit=1000", nil)
	looks := map[string]int{}
	for _, it := range log["items"].([]any) {
		row := it.(map[string]any)
		if row["kind"] == "clip" {
			looks[row["who"].(string)]++
		}
	}
	for i, form := range forms {
		if n := looks[fmt.Sprintf("rec-range%d", i)]; n != 1 {
			t.Errorf("Range %q twice: %d access rows, want 1", form, n)
		}
	}

	// Every look back is in the access log.
	_, log = admin.json("GET", "/api/v1/recordings/access?camera_id=rec1", nil)
	kinds := map[string]int{}
	for _, it := range log["items"].([]any) {
		row := it.(map[string]any)
		kinds[row["kind"].(string)+" by "+row["who"].(string)]++
	}
	for _, want := range []string{"playback by rec-centre", "export by rec-centre", "playback by " + a.Roles.GridWorker, "clip by " + a.Roles.GridWorker} {
		if kinds[want] == 0 {
			t.Errorf("the access log lacks %q: %v", want, kinds)
		}
	}
	if code, _, _ := getBytes(t, base, "/api/v1/recordings/access", centre); code != 403 {
		t.Errorf("a dispatcher reads the access log: %d, want 403 (auditors: audit:read)", code)
	}
}

// TestKill9WhileRecordingLosesAtMostTheFragmentInProgress: four cameras
// recorded by a gateway process that is killed with SIGKILL; after a
// restart on the same data every segment file plays to its end (ffprobe
// and ffmpeg read them without an error), and each camera's footage before
// the kill reaches within 2 s of it.
func TestKill9WhileRecordingLosesAtMostTheFragmentInProgress(t *testing.T) {
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 4})
	defer fleet.Close()
	data := t.TempDir()
	env := append([]string{"SHARPEYES_RECORDING_MODE=continuous"}, recordingEnv...)
	gw := serveProcess(t, data, env...)
	admin := apiClient{t, gw.base}
	var ids []string
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("k%d", i)
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": true,
			"streams": map[string]string{"main": fleet.URL(i, false), "sub": fleet.URL(i, true)}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
		ids = append(ids, id)
	}
	// More than a segment of each: one closed, one open at the kill.
	eventually(t, 60*time.Second, "12 s of footage of every camera", func() bool {
		for _, id := range ids {
			if d, _ := recorded(admin, id); d < 12*time.Second {
				return false
			}
		}
		return true
	})
	killed := time.Now()
	gw.kill()
	gw = serveProcess(t, data, env...)
	admin = apiClient{t, gw.base}
	// The restarted gateway repaired the open segments before recording
	// again: every camera has footage (a fragment on disk) after the kill.
	eventually(t, 15*time.Second, "recording again", func() bool {
		for _, id := range ids {
			_, out := admin.json("GET", "/api/v1/cameras/"+id+"/recordings", nil)
			items, _ := out["items"].([]any)
			again := false
			for _, it := range items {
				span := it.(map[string]any)
				s, _ := time.Parse(time.RFC3339Nano, span["start"].(string))
				e, _ := time.Parse(time.RFC3339Nano, span["end"].(string))
				again = again || (s.After(killed) && e.Sub(s) >= time.Second)
			}
			if !again {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		_, out := admin.json("GET", "/api/v1/cameras/"+id+"/recordings", nil)
		var reach time.Time
		for _, it := range out["items"].([]any) {
			span := it.(map[string]any)
			s, _ := time.Parse(time.RFC3339Nano, span["start"].(string))
			e, _ := time.Parse(time.RFC3339Nano, span["end"].(string))
			if s.Before(killed) && e.After(reach) {
				reach = e
			}
		}
		if lost := killed.Sub(reach); lost > 2*time.Second || lost < -time.Second {
			t.Errorf("%s: footage before the kill reaches %s, %v before it; want within 2 s", id, reach.Format("15:04:05.000"), lost)
		} else {
			t.Logf("%s: footage before the kill reaches %v before it", id, lost.Round(10*time.Millisecond))
		}
	}
	// Stopped (not killed) before its files are read: it closes what it writes.
	_ = gw.cmd.Process.Signal(os.Interrupt)
	_, _ = gw.cmd.Process.Wait()
	var files []string
	_ = filepath.Walk(filepath.Join(data, "recordings"), func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".mp4") && !strings.Contains(p, string(filepath.Separator)+"clips"+string(filepath.Separator)) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 8 {
		t.Fatalf("%d segment files for 4 cameras recorded across a kill", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ffprobeFile(t, b)
	}
	t.Logf("%d segment files read by ffprobe and ffmpeg without an error", len(files))
}

// smallDisk mounts a tmpfs of size megabytes for the test (root, or sudo
// without a password, as make test has).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", dir}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo", "-n"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		umount := []string{"umount", "-l", dir}
		if os.Geteuid() != 0 {
			umount = append([]string{"sudo", "-n"}, umount...)
		}
		_ = exec.Command(umount[0], umount[1:]...).Run()
	})
	return dir
}

// TestDiskFullKeepsEvidenceAndLiveVideo: recordings on a 48 MB tmpfs.
// When the disk runs short the oldest footage goes, an open case's clip
// stays byte for byte; when something else fills the disk so that nothing
// more may go, storage_full is raised (and opens a case), recording stops,
// live video goes on and the gateway keeps serving; given room, recording
// resumes.
func TestDiskFullKeepsEvidenceAndLiveVideo(t *testing.T) {
	disk := smallDisk(t, 48)
	g, admin := demoStreet(t, append([]string{"SHARPEYES_RECORDING_PATH=" + disk, "SHARPEYES_RECORDING_MIN_FREE_BYTES=8388608"}, recordingEnv...)...)
	lat, lon := inside(t, g.Grids(), cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 6})
	defer fleet.Close()
	for i := 1; i <= 6; i++ {
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": fmt.Sprintf("d%d", i), "name": fmt.Sprintf("d%d", i),
			"on_demand": true, "streams": map[string]string{"main": fleet.URL(i, false), "sub": fleet.URL(i, true)},
			"location":  map[string]float64{"lat": lat, "lon": lon},
			"recording": map[string]any{"mode": "continuous", "pre_seconds": 2, "post_seconds": 2}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	eventually(t, 15*time.Second, "recording", func() bool { return g.Recordings().Writing("d1") })
	// The evidence: a fire alarm on d1 and its clip.
	post := func(id, phase string) {
		body := fmt.Sprintf(`{"source":"ai","source_event_id":"df-%s","camera_id":"d1","kind":"fire_smoke","phase":%q,"time":%q}`, id, phase,
			time.Now().UTC().Format(time.RFC3339Nano))
		if code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Fatalf("event: %d %s", code, raw)
		}
	}
	footageThrough(t, admin, "d1", time.Now().Add(3*time.Second))
	post("a", "start")
	footageThrough(t, admin, "d1", time.Now().Add(2*time.Second))
	post("b", "end")
	var caseID string
	eventually(t, 10*time.Second, "the fire case", func() bool {
		_, out := admin.json("GET", "/api/v1/cases?camera_id=d1&category=fire_safety", nil)
		if items, _ := out["items"].([]any); len(items) > 0 {
			caseID = items[0].(map[string]any)["id"].(string)
		}
		return caseID != ""
	})
	var clip map[string]any
	eventually(t, 20*time.Second, "the clip", func() bool {
		_, out := admin.json("GET", "/api/v1/cases/"+caseID+"/clips", nil)
		if items, _ := out["items"].([]any); len(items) == 1 && items[0].(map[string]any)["state"] == "ready" {
			clip = items[0].(map[string]any)
		}
		return clip != nil
	})
	download := func() [32]byte {
		_, b, _ := getBytes(t, admin.base, clip["url"].(string), nil)
		return sha256.Sum256(b)
	}
	want := download()
	if hex.EncodeToString(want[:]) != clip["sha256"] {
		t.Fatalf("clip bytes differ from its SHA-256 already")
	}
	firstSpan := func() time.Time {
		_, out := admin.json("GET", "/api/v1/cameras/d2/recordings", nil)
		items, _ := out["items"].([]any)
		if len(items) == 0 {
			return time.Time{}
		}
		s, _ := time.Parse(time.RFC3339Nano, items[0].(map[string]any)["start"].(string))
		return s
	}
	oldest := firstSpan()
	// Six main streams fill the disk: the oldest footage goes.
	eventually(t, 90*time.Second, "the oldest footage deleted", func() bool { return firstSpan().After(oldest.Add(5 * time.Second)) })
	t.Logf("the oldest footage of d2 moved from %s to %s", oldest.Format("15:04:05"), firstSpan().Format("15:04:05"))
	if got := download(); got != want {
		t.Fatal("the open case's clip changed when old footage was deleted")
	}
	// Something else takes the disk: nothing more may go.
	v, err := watch(t, admin.base, "d3", "sub")
	if err != nil {
		t.Fatal(err)
	}
	defer v.c.Close()
	// Another program takes whatever room the disk has, as it frees.
	filler := filepath.Join(disk, "other-data")
	ff, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	eventually(t, 60*time.Second, "storage full", func() bool {
		for i := 0; i < 8; i++ {
			if _, err := ff.Write(chunk); err != nil {
				break
			}
		}
		return g.Recordings().StorageFull()
	})
	ff.Close()
	eventually(t, 15*time.Second, "the storage_full incident", func() bool {
		_, out := admin.json("GET", "/api/v1/incidents?kind=storage_full", nil)
		items, _ := out["items"].([]any)
		return len(items) > 0
	})
	// The policy opens its case from the incident, a moment later.
	eventually(t, 10*time.Second, "storage_full opening a device_fault case", func() bool {
		_, cs := admin.json("GET", "/api/v1/cases?category=device_fault", nil)
		items, _ := cs["items"].([]any)
		return len(items) > 0
	})
	n := v.frames.Load()
	eventually(t, 10*time.Second, "live video going on while the disk is full", func() bool { return v.frames.Load() > n+10 })
	if code, _ := admin.json("GET", "/healthz", nil); code != 200 {
		t.Errorf("healthz with the disk full: %d", code)
	}
	if got := download(); got != want {
		t.Fatal("the open case's clip changed when the disk was full")
	}
	// Room again: recording resumes.
	os.Remove(filler)
	eventually(t, 30*time.Second, "recording again", func() bool { return !g.Recordings().StorageFull() && g.Recordings().Writing("d2") })
	// Every file left plays, the ones cut short by the full disk included.
	g.Close()
	n = 0
	_ = filepath.Walk(disk, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".mp4") {
			b, _ := os.ReadFile(p)
			ffprobeFile(t, b)
			n++
		}
		return nil
	})
	t.Logf("%d files left on the disk, each read by ffprobe and ffmpeg without an error", n)
}

// TestChromiumPlaysRecordingsAndClips drives the screens in headless
// Chromium: 回放 on a wall tile paints the frame at the time asked after
// every click on the timeline, 4× plays four seconds a second, a click on
// the alarm's marker plays from ten seconds before it, 直播 goes back to
// live; an exported MP4 plays in a <video>; the case page plays its clip
// and shows the hash the API lists; the map opens a camera's recordings;
// the grid worker's phone plays the case's clip.
func TestChromiumPlaysRecordingsAndClips(t *testing.T) {
	script, _ := filepath.Abs("../web/e2e/playback.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core missing: run `make deps` (npm ci in web/e2e)")
	}
	g, admin := demoStreet(t, recordingEnv...)
	lat, lon := inside(t, g.Grids(), cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "pb1", "name": "回放一", "on_demand": true,
		"streams":   map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location":  map[string]float64{"lat": lat, "lon": lon},
		"recording": map[string]any{"mode": "continuous", "stream": "sub", "pre_seconds": 2, "post_seconds": 2}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	eventually(t, 15*time.Second, "recording under way", func() bool { return g.Recordings().Writing("pb1") })
	a, _ := g.Grids().Get(cellA)
	centrePW := addUser(t, admin, "pb-centre", "dispatcher", []string{street}, "")
	workerPW := addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, "")
	footageThrough(t, admin, "pb1", time.Now().Add(6*time.Second))
	for _, phase := range []string{"start", "end"} {
		body := fmt.Sprintf(`{"source":"ai","source_event_id":"pb-%s","camera_id":"pb1","kind":"tamper","phase":%q,"time":%q}`,
			phase, phase, time.Now().UTC().Format(time.RFC3339Nano))
		if code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true); code != 200 {
			t.Fatalf("alarm %s: %d %s", phase, code, raw)
		}
		footageThrough(t, admin, "pb1", time.Now().Add(2*time.Second))
	}
	var caseID, sum string
	eventually(t, 20*time.Second, "the alarm's clip made", func() bool {
		_, out := admin.json("GET", "/api/v1/cases?camera_id=pb1", nil)
		if items, _ := out["items"].([]any); len(items) > 0 {
			caseID = items[0].(map[string]any)["id"].(string)
			_, cl := admin.json("GET", "/api/v1/cases/"+caseID+"/clips", nil)
			if clips, _ := cl["items"].([]any); len(clips) == 1 && clips[0].(map[string]any)["state"] == "ready" {
				sum = clips[0].(map[string]any)["sha256"].(string)
			}
		}
		return sum != ""
	})
	footageThrough(t, admin, "pb1", time.Now().Add(8*time.Second)) // footage on both sides of the alarm to seek in

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "SE_BASE="+admin.base, "SE_CAMERA=pb1", "SE_CASE="+caseID, "SE_USER=pb-centre", "SE_PASS="+centrePW,
		"SE_WORKER="+a.Roles.GridWorker, "SE_WORKER_PASS="+workerPW, "SE_SEEKS=10")
	if dir := os.Getenv("SE_SHOTS"); dir != "" {
		cmd.Env = append(cmd.Env, "SE_SHOTS="+dir)
	}
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("playback.mjs: %v\n%s", err, raw)
	}
	type seek struct {
		MS     float64 `json:"ms"`
		Offset float64 `json:"offset"`
		Asked  float64 `json:"asked"`
		At     float64 `json:"at"`
	}
	type video struct {
		OK       bool    `json:"ok"`
		Duration float64 `json:"duration"`
		Frames   int     `json:"frames"`
		Error    *int    `json:"error"`
		Width    int     `json:"width"`
		Playing  bool    `json:"playing"`
		SHA256   string  `json:"sha256"`
		Download string  `json:"download"`
	}
	var res struct {
		First       seek    `json:"first"`
		ViewMinutes float64 `json:"viewMinutes"`
		Seeks       []seek  `json:"seeks"`
		Speed       struct {
			Rate   float64 `json:"rate"`
			Played float64 `json:"played"`
		} `json:"speed"`
		MarkSeek *struct {
			Mark float64 `json:"mark"`
			Want float64 `json:"want"` // ten seconds before, or where the footage starts
			At   float64 `json:"at"`
		} `json:"markSeek"`
		ExportHref string `json:"exportHref"`
		Exported   video  `json:"exported"`
		BackLive   bool   `json:"backLive"`
		Clip       video  `json:"clip"`
		MapSeek    int    `json:"mapSeek"`
		Phone      video  `json:"phone"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("playback.mjs said %q: %v", raw, err)
	}
	if res.First.MS <= 0 || res.First.Offset > 0.05 {
		t.Errorf("回放 opened with %+v, want a frame painted at media time 0 (the time asked)", res.First)
	}
	if res.ViewMinutes != 3 {
		t.Errorf("four zooms in show %v minutes, want 3", res.ViewMinutes)
	}
	if len(res.Seeks) < 6 {
		t.Fatalf("only %d seeks clear of the markers: %+v", len(res.Seeks), res.Seeks)
	}
	var ms []float64
	for _, s := range res.Seeks {
		// One pixel of a three-minute timeline is about 0.15 s.
		if s.MS <= 0 || s.Offset > 0.05 || math.Abs(s.At-s.Asked) > 200 {
			t.Errorf("seek %+v: want the frame at the time clicked painted first", s)
		}
		ms = append(ms, s.MS)
	}
	sort.Float64s(ms)
	t.Logf("%d seeks by click, click to first painted frame: median %.0f ms, max %.0f ms", len(ms), ms[len(ms)/2], ms[len(ms)-1])
	if res.Speed.Rate != 4 || res.Speed.Played < 3 || res.Speed.Played > 5 {
		t.Errorf("4× played %+v seconds a second", res.Speed)
	}
	if m := res.MarkSeek; m == nil || m.Want < m.Mark-10000 || m.Want > m.Mark || math.Abs(m.At-m.Want) > 1 {
		t.Errorf("the alarm marker's click played from %+v, want ten seconds before it", res.MarkSeek)
	}
	if !strings.Contains(res.ExportHref, "format=mp4") || !strings.Contains(res.ExportHref, "duration=300") {
		t.Errorf("export link %q", res.ExportHref)
	}
	if e := res.Exported; !e.OK || e.Error != nil || math.Abs(e.Duration-4) > 0.2 || e.Frames < 60 || e.Width == 0 {
		t.Errorf("the exported MP4 in a <video>: %+v, want 4 s played to its end", e)
	}
	if !res.BackLive {
		t.Error("直播 did not go back to live")
	}
	if c := res.Clip; c.Frames == 0 || c.Error != nil || c.SHA256 != sum || !strings.HasSuffix(c.Download, "?download=1") {
		t.Errorf("the case page's clip: %+v, want it playing with sha256 %s", c, sum)
	}
	if res.MapSeek <= 0 {
		t.Errorf("回放 from the map: %d", res.MapSeek)
	}
	if p := res.Phone; p.Frames == 0 || p.Error != nil || !p.Playing {
		t.Errorf("the phone's clip: %+v", p)
	}
	t.Logf("export %+v; clip %+v; phone %+v; map %d ms", res.Exported, res.Clip, res.Phone, res.MapSeek)
}
