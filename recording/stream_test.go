package recording

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
)

// TestStreamWritesPlayableFMP4: access units fed as they would arrive
// from a device, starting mid-GOP, become fragmented MP4 that ffprobe
// reads whole: the frames before the first keyframe dropped, every one
// after it there, lasting 40 ms each; a stream with no keyframe is
// ErrNoKeyframe.
func TestStreamWritesPlayableFMP4(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe missing: make deps")
	}
	clip, err := camsim.ParseClip(sharpeyes.SubClip)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := NewStream(&out, time.Second)
	skipped := 0
	for n := 3; n < 3+120; n++ {
		u := clip.Units[n%len(clip.Units)]
		if err := s.WriteH264(u, int64(n)*3600); err != nil {
			t.Fatal(err)
		}
		if s.Frames() == 0 {
			skipped++
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if skipped == 0 || s.Frames() != 120-skipped {
		t.Fatalf("%d frames written, %d skipped before the first keyframe", s.Frames(), skipped)
	}
	path := filepath.Join(t.TempDir(), "device.mp4")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,nb_read_frames:format=duration", "-of", "default=nw=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, probe)
	}
	got := string(probe)
	want := "nb_read_frames=" + strconv.Itoa(s.Frames())
	if !strings.Contains(got, "codec_name=h264") || !strings.Contains(got, want) {
		t.Fatalf("ffprobe says\n%s\nwant %s", got, want)
	}
	var dur float64
	for _, l := range strings.Split(got, "\n") {
		if v, ok := strings.CutPrefix(l, "duration="); ok {
			dur, _ = strconv.ParseFloat(v, 64)
		}
	}
	if d := float64(s.Frames()) * 0.04; dur < d-0.05 || dur > d+0.05 {
		t.Fatalf("duration %v, want %v", dur, d)
	}
	// Nothing but frames before a keyframe: nothing written.
	var none bytes.Buffer
	s = NewStream(&none, 0)
	for n := 1; n < 5; n++ {
		_ = s.WriteH264(clip.Units[n], int64(n)*3600)
	}
	if err := s.Close(); !errors.Is(err, ErrNoKeyframe) || none.Len() != 0 {
		t.Fatalf("no keyframe: %v, %d bytes", err, none.Len())
	}
}
