package recording

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sharpeyes/model"
	"sharpeyes/relay"
	"sharpeyes/relay/relaytest"
)

// sizes is every file under root and its size.
func sizes(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				out[p] = info.Size()
			}
		}
		return nil
	})
	return out
}

// TestNothingWritesAfterClose: a recorder whose plan changed is stopped
// aside while a new one starts; Close returns only once both have
// stopped, so no file changes after it, and no goroutine is left.
func TestNothingWritesAfterClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // last: after the index's database closes
	s := relay.NewStream(relay.StreamConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() { defer close(fed); relaytest.Feed(ctx, t, s) }()
	defer func() { cancel(); <-fed }()
	root := t.TempDir()
	m := NewManager(Config{Root: root, Node: "n1"}, testIndex(t), holder{&relaytest.Provider{Streams: map[string]*relay.Stream{"cam1": s}}})
	cam := model.Camera{ID: "cam1", Streams: model.Streams{Main: "rtsp://x/a"}, Recording: &model.Recording{Mode: "continuous"}}
	m.Apply(cam, true)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cam.Recording.RetainDays = 7 // a changed plan: the recorder restarts
	m.Apply(cam, true)
	m.Close()
	before := sizes(t, root)
	if len(before) == 0 {
		t.Fatal("nothing recorded")
	}
	time.Sleep(1500 * time.Millisecond)
	after := sizes(t, root)
	for p, n := range after {
		if before[p] != n {
			t.Errorf("%s changed after Close: %d -> %d bytes", p, before[p], n)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d files after Close, %d when it returned", len(after), len(before))
	}
}
