package recording

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sharpeyes/model"
)

// TestSweepByAgeThenBudget: footage past its camera's retention goes,
// then the oldest while the disk budget is exceeded; a segment being
// written stays; when only that is left, recording stops (storage full,
// told once) and resumes once there is room.
func TestSweepByAgeThenBudget(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	ix := testIndex(t)
	var full [][]string
	m := NewManager(Config{Root: root, Node: "n1", Defaults: model.Recording{Mode: "off", RetainDays: 30},
		OnStorageFull: func(cams []string) { full = append(full, cams) }}, ix, nil)
	// Camera a keeps two days, b the default thirty.
	m.Apply(model.Camera{ID: "a", Recording: &model.Recording{Mode: "continuous", RetainDays: 2}}, false)
	now := time.Now()
	add := func(cam string, age time.Duration, bytes int64, open bool) Segment {
		t.Helper()
		s := Segment{ID: fmt.Sprintf("%s-%d", cam, age/time.Hour), CameraID: cam, Stream: "main", Node: "n1",
			Start: now.Add(-age), End: now.Add(-age + time.Minute), Bytes: bytes, Open: open, Codec: "H264", Width: 640, Height: 360}
		s.Path = filepath.Join(root, cam, s.ID+".mp4")
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.Path, make([]byte, bytes), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := ix.Add(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a3 := add("a", 72*time.Hour, 1000, false) // past a's two days
	a1 := add("a", 24*time.Hour, 1000, false)
	b10 := add("b", 240*time.Hour, 1000, false)
	b0 := add("b", time.Hour, 1000, true) // being written
	exists := func(s Segment) bool { _, err := os.Stat(s.Path); return err == nil }

	m.Sweep(ctx)
	if exists(a3) || !exists(a1) || !exists(b10) || !exists(b0) {
		t.Fatalf("by age: a 3 days %v, a 1 day %v, b 10 days %v, b open %v; want only the first gone", exists(a3), exists(a1), exists(b10), exists(b0))
	}
	if len(full) != 0 {
		t.Fatalf("storage full with room: %v", full)
	}
	// A budget of 2,500 bytes: the oldest closed segment (b's) goes.
	m.cfg.MaxBytes = 2500
	m.Sweep(ctx)
	if exists(b10) || !exists(a1) || !exists(b0) {
		t.Fatalf("by budget: b 10 days %v, a 1 day %v, open %v; want the oldest gone", exists(b10), exists(a1), exists(b0))
	}
	// A budget nothing closed can meet: what is left is being written.
	m.cfg.MaxBytes = 500
	m.Sweep(ctx)
	m.Sweep(ctx)
	if exists(a1) || !exists(b0) || len(full) != 1 || !m.StorageFull() {
		t.Fatalf("over with only the open segment: a %v, open %v, told %v, full %v", exists(a1), exists(b0), full, m.StorageFull())
	}
	m.cfg.MaxBytes = 0
	m.Sweep(ctx)
	if m.StorageFull() {
		t.Fatal("room again, still full")
	}
}
