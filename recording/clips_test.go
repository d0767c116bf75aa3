package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"sharpeyes/model"
)

// TestEvidenceClipsFromTheIndex: a clip held for an incident inside the
// recorded footage is made once due, its bytes exactly those its SHA-256
// names, read by ffprobe; a clip of a time nothing was recorded is empty,
// not failed; holding a clip again changes nothing; a pending clip is not
// served, nor one made on another node.
func TestEvidenceClipsFromTheIndex(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe missing: make deps")
	}
	m, ix := recordFor(t, 6*time.Second, Config{Segment: 2 * time.Second, Part: 500 * time.Millisecond})
	ctx := context.Background()
	segs, err := ix.Segments(ctx, "cam1", "main", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v %v", segs, err)
	}
	cam := model.Camera{ID: "cam1", Streams: model.Streams{Main: "rtsp://x/a"},
		Recording: &model.Recording{Mode: "continuous", PreSeconds: 1, PostSeconds: 1}}
	started := segs[0].Start.Add(2 * time.Second)
	ended := started.Add(time.Second)
	if err := m.HoldClip(ctx, "case-1", "inc-1", cam, started, &ended); err != nil {
		t.Fatal(err)
	}
	if err := m.HoldClip(ctx, "case-1", "inc-1", cam, started, &ended); err != nil {
		t.Fatal("holding it again:", err)
	}
	long := time.Now().Add(-48 * time.Hour)
	longEnd := long.Add(time.Second)
	if err := m.HoldClip(ctx, "case-2", "inc-2", cam, long, &longEnd); err != nil {
		t.Fatal(err)
	}
	// Before it is due, a clip is pending and not served.
	pending, err := ix.Clips(ctx, "case-1")
	if err != nil || len(pending) != 1 || pending[0].State != ClipPending {
		t.Fatalf("held clips %+v %v", pending, err)
	}
	if _, err := m.OpenClip(pending[0]); !errors.Is(err, ErrClipNotReady) {
		t.Fatalf("a pending clip opened: %v", err)
	}
	// Its footage is all there already (the incident is in the past).
	m.MakeDueClips(ctx)
	clip, err := ix.ClipOf(ctx, "case-1", pending[0].ID)
	if err != nil || clip.State != ClipReady || clip.Bytes == 0 || clip.Node != "n1" {
		t.Fatalf("clip %+v %v", clip, err)
	}
	f, err := m.OpenClip(clip)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != clip.SHA256 || int64(len(b)) != clip.Bytes {
		t.Fatalf("clip bytes %d (sha %x) differ from its row %d (%s)", len(b), sum, clip.Bytes, clip.SHA256)
	}
	if d := clip.End.Sub(clip.Start); d != 3*time.Second {
		t.Errorf("clip %v long, want 3 s (1 s before the incident, its 1 s, 1 s after)", d)
	}
	t.Logf("clip: %d bytes, %s", clip.Bytes, ffprobeOK(t, clip.path))
	empty, _ := ix.Clips(ctx, "case-2")
	if len(empty) != 1 || empty[0].State != ClipEmpty || empty[0].Error == "" {
		t.Fatalf("a clip of an unrecorded time: %+v", empty)
	}
	other := clip
	other.Node = "n2"
	if _, err := m.OpenClip(other); !errors.Is(err, ErrOtherNode) {
		t.Fatalf("a clip of another node opened here: %v", err)
	}
	if n, err := ix.ClipBytes(ctx, "n1"); err != nil || n != clip.Bytes {
		t.Fatalf("clip bytes of the node %d %v, want %d", n, err, clip.Bytes)
	}
}
