package recording

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
	_ "modernc.org/sqlite"

	"sharpeyes/camsim"
	"sharpeyes/model"
	"sharpeyes/relay"
	"sharpeyes/relay/relaytest"
)

// holder adapts the test provider to Holder.
type holder struct{ p *relaytest.Provider }

func (h holder) Hold(ctx context.Context, id, variant string) (*relay.Stream, func(), error) {
	return h.p.Acquire(ctx, id, variant)
}

func testIndex(t testing.TB) *Index {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ix, err := OpenIndex(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// recordFor records the fed camera for d and answers the manager, stopped.
func recordFor(t *testing.T, d time.Duration, cfg Config) (*Manager, *Index) {
	t.Helper()
	s := relay.NewStream(relay.StreamConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relaytest.Feed(ctx, t, s)
	ix := testIndex(t)
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	cfg.Node = "n1"
	m := NewManager(cfg, ix, holder{&relaytest.Provider{Streams: map[string]*relay.Stream{"cam1": s}}})
	m.Apply(model.Camera{ID: "cam1", Streams: model.Streams{Main: "rtsp://x/a"}, Recording: &model.Recording{Mode: "continuous"}}, true)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	m.Close()
	return m, ix
}

// seiTimes are the camsim timestamps of the frames an MP4 shows, in order
// (frames that last no time, before the first shown, are left out).
func seiTimes(t *testing.T, samples []struct {
	dur     uint32
	payload []byte
}) []time.Time {
	t.Helper()
	var out []time.Time
	for _, s := range samples {
		if s.dur == 0 {
			continue
		}
		au, err := (&fmp4.Sample{Payload: s.payload}).GetH264()
		if err != nil {
			t.Fatal(err)
		}
		if ts, ok := camsim.FindTimestamp(au); ok {
			out = append(out, ts)
		}
	}
	return out
}

func ffprobeOK(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
		"-of", "compact=p=0", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "rror") {
		t.Errorf("ffprobe %s: %v\n%s", filepath.Base(path), err, out)
	}
	dec, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", filepath.Base(path), err, dec)
	}
	return strings.TrimSpace(string(out))
}

// TestRecordedSegmentsPlayAndPlaybackStartsAtTheTime: continuous
// recording cuts segments on keyframes; ffprobe and ffmpeg read every one
// without an error; the index spans them; an fMP4 playback and an MP4
// export of a range show exactly the frames of that range (by camsim's
// timestamps), the first at the requested time, not the GOP's first.
func TestRecordedSegmentsPlayAndPlaybackStartsAtTheTime(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe missing: make deps")
	}
	m, ix := recordFor(t, 7*time.Second, Config{Segment: 2 * time.Second, Part: 500 * time.Millisecond})
	ctx := context.Background()
	segs, err := ix.Segments(ctx, "cam1", "main", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 2 {
		t.Fatalf("%d segments in 7 s of 2 s segments", len(segs))
	}
	for _, s := range segs {
		if s.Open || s.Bytes == 0 || !s.End.After(s.Start) {
			t.Errorf("segment %+v after the recorder stopped", s)
		}
		st, err := os.Stat(s.Path)
		if err != nil || st.Size() != s.Bytes {
			t.Errorf("segment %s: file %v (%v), index says %d bytes", s.ID, st, err, s.Bytes)
		}
		t.Logf("segment %s → %s: %s", s.Start.Format("15:04:05.000"), s.End.Format("15:04:05.000"), ffprobeOK(t, s.Path))
	}
	spans := Spans(segs)
	if len(spans) != 1 {
		t.Errorf("spans %+v: consecutive segments are one span", spans)
	}
	// A range starting mid-GOP, inside the second segment.
	from := segs[0].Start.Add(2500 * time.Millisecond)
	d := 3 * time.Second
	win, _, err := m.Resolve(ctx, "cam1", "main", from, d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var fm, pm bytes.Buffer
	if err := m.WriteFMP4(ctx, &fm, win); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteMP4(ctx, &pm, win); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"play.mp4": fm.Bytes(), "export.mp4": pm.Bytes()} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		t.Logf("%s: %s", name, ffprobeOK(t, p))
	}
	// What the fMP4 shows.
	var fmSamples []struct {
		dur     uint32
		payload []byte
	}
	bs, _ := boxes(bytes.NewReader(fm.Bytes()), int64(fm.Len()))
	var parts fmp4.Parts
	for _, x := range bs {
		if x.typ == "moof" {
			if err := parts.Unmarshal(fm.Bytes()[x.offset:]); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	for _, p := range parts {
		for _, s := range p.Tracks[0].Samples {
			fmSamples = append(fmSamples, struct {
				dur     uint32
				payload []byte
			}{s.Duration, s.Payload})
		}
	}
	// What the MP4 shows.
	var pres pmp4.Presentation
	if err := pres.Unmarshal(bytes.NewReader(pm.Bytes())); err != nil {
		t.Fatal(err)
	}
	var pmSamples []struct {
		dur     uint32
		payload []byte
	}
	for _, s := range pres.Tracks[0].Samples {
		pl, _ := s.GetPayload()
		pmSamples = append(pmSamples, struct {
			dur     uint32
			payload []byte
		}{s.Duration, pl})
	}
	for name, ss := range map[string][]struct {
		dur     uint32
		payload []byte
	}{"fmp4": fmSamples, "mp4": pmSamples} {
		if ss[0].dur != 0 {
			t.Errorf("%s: the range starts mid-GOP, so frames before it are needed to decode, lasting no time", name)
		}
		times := seiTimes(t, ss)
		if len(times) < 60 {
			t.Fatalf("%s: %d frames shown for 3 s", name, len(times))
		}
		first, last := times[0], times[len(times)-1]
		// camsim stamps frames when it sends them; the gateway dates them when they arrive.
		if first.Before(from.Add(-50*time.Millisecond)) || first.After(from.Add(90*time.Millisecond)) {
			t.Errorf("%s: first frame shown stamped %s, want the frame at %s", name, first.Format("15:04:05.000"), from.Format("15:04:05.000"))
		}
		if last.After(from.Add(d).Add(50*time.Millisecond)) || last.Before(from.Add(d).Add(-90*time.Millisecond)) {
			t.Errorf("%s: last frame shown stamped %s, want the one before %s", name, last.Format("15:04:05.000"), from.Add(d).Format("15:04:05.000"))
		}
		t.Logf("%s: %d frames shown, stamped %s → %s for the range %s → %s", name, len(times), first.Format("15:04:05.000"),
			last.Format("15:04:05.000"), from.Format("15:04:05.000"), from.Add(d).Format("15:04:05.000"))
	}
}

// TestFramesFromTheKeyframeBefore: a window's frames read back to be sent
// on start at the keyframe at or before its start (led by SPS and PPS),
// run in order to its end, and carry camsim's stamps of when they were
// recorded.
func TestFramesFromTheKeyframeBefore(t *testing.T) {
	m, ix := recordFor(t, 5*time.Second, Config{Segment: 2 * time.Second, Part: 500 * time.Millisecond})
	ctx := context.Background()
	segs, err := ix.Segments(ctx, "cam1", "main", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v %v", segs, err)
	}
	from := segs[0].Start.Add(1500 * time.Millisecond)
	win, _, err := m.Resolve(ctx, "cam1", "main", from, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var frames []Frame
	if err := m.Frames(ctx, win, func(f Frame) error { frames = append(frames, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(frames) < 40 || !frames[0].Key || frames[0].At.After(from) {
		t.Fatalf("%d frames, the first key %v at %v (from %v)", len(frames), frames[0].Key, frames[0].At, from)
	}
	if k := frames[0].NALUs; len(k) < 3 || k[0][0]&0x1F != 7 || k[1][0]&0x1F != 8 {
		t.Fatalf("the first frame does not start with SPS and PPS: %d NAL units", len(k))
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].At.Before(frames[i-1].At) || !frames[i].At.Before(win.To) {
			t.Fatalf("frame %d at %v after %v (to %v)", i, frames[i].At, frames[i-1].At, win.To)
		}
	}
	// The recorded moments are camsim's: each frame's stamp near its time.
	stamped := 0
	for _, f := range frames {
		if at, ok := camsim.FindTimestamp(f.NALUs); ok {
			stamped++
			if at.Sub(f.At).Abs() > 200*time.Millisecond {
				t.Fatalf("a frame recorded at %v stamped %v", f.At, at)
			}
		}
	}
	if stamped < len(frames)/2 {
		t.Fatalf("%d of %d frames carry camsim's stamp", stamped, len(frames))
	}
}
