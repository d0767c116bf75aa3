package registry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func startStore(t *testing.T) (*Store, *Embedded) {
	t.Helper()
	e, err := StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cli, err := Connect([]string{e.Endpoint}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return NewStore(cli, "/test/", 5*time.Second, nil), e
}

func cam(id string) Camera {
	return Camera{ID: id, Name: "瘦西湖路东口", Streams: Streams{Main: "rtsp://admin:pw@127.0.0.1:554/101"},
		Location: &Location{Lat: 32.41, Lon: 119.42}}
}

func TestCameraCRUD(t *testing.T) {
	s, _ := startStore(t)
	ctx := context.Background()
	c, err := s.CreateCamera(ctx, cam("32100200001320000001"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport != "auto" || c.CreatedAt.IsZero() || c.Tags == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if _, err := s.CreateCamera(ctx, cam("32100200001320000001")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	up, err := s.UpdateCamera(ctx, c.ID, func(c *Camera) error { c.Name = "new"; c.ID = "hijack"; return nil })
	if err != nil || up.Name != "new" || up.ID != c.ID || !up.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := s.UpdateCamera(ctx, c.ID, func(c *Camera) error { c.Location.Lat = 91; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid update accepted: %v", err)
	}
	got, _ := s.GetCamera(ctx, c.ID)
	if got.Location.Lat != 32.41 {
		t.Fatalf("a refused update changed the stored camera: %+v", got.Location)
	}
	if _, err := s.DeleteCamera(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCamera(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetCamera(ctx, "../../etc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad id get: %v", err)
	}
}

func TestCameraValidationNamesTheField(t *testing.T) {
	cases := map[string]func(*Camera){
		"id":           func(c *Camera) { c.ID = "has space" },
		"name":         func(c *Camera) { c.Name = " " },
		"streams.main": func(c *Camera) { c.Streams.Main = "http://x/y" },
		"streams.sub":  func(c *Camera) { c.Streams.Sub = "rtsp://" },
		"transport":    func(c *Camera) { c.Transport = "sctp" },
		"location.lat": func(c *Camera) { c.Location.Lat = -91 },
		"location.lon": func(c *Camera) { c.Location.Lon = 181 },
		"gb": func(c *Camera) {
			c.Streams = Streams{}
			c.GB = &GBChannel{DeviceID: "3210030000111000000", ChannelID: "32100300001310000001"}
		},
		"streams": func(c *Camera) {
			c.GB = &GBChannel{DeviceID: "32100300001110000001", ChannelID: "32100300001310000001"}
		},
	}
	for field, mutate := range cases {
		c := cam("c1")
		mutate(&c)
		c.Normalize()
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
}

// TestGBChannelNeedsNoStreams: a GB/T 28181 channel is valid with its
// two codes and no URLs.
func TestGBChannelNeedsNoStreams(t *testing.T) {
	c := cam("32100300001310000001")
	c.Streams = Streams{}
	c.GB = &GBChannel{DeviceID: "32100300001110000001", ChannelID: "32100300001310000001", PTZ: true}
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.GB = nil
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "streams.main" {
		t.Fatalf("no GB and no streams: %v", err)
	}
}

type recorder struct {
	mu   sync.Mutex
	cams map[string]Camera
	sync int
}

func (r *recorder) SyncCameras(cs []Camera) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sync++
	r.cams = map[string]Camera{}
	for _, c := range cs {
		r.cams[c.ID] = c
	}
}
func (r *recorder) PutCamera(c Camera) { r.mu.Lock(); r.cams[c.ID] = c; r.mu.Unlock() }
func (r *recorder) DeleteCamera(id string, _ int64) {
	r.mu.Lock()
	delete(r.cams, id)
	r.mu.Unlock()
}
func (r *recorder) has(id, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cams[id]
	return ok && (name == "" || c.Name == name)
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchListsThenFollowsAndRelistsAfterCompaction(t *testing.T) {
	s, _ := startStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.CreateCamera(ctx, cam("before")); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	done := make(chan struct{})
	go func() { s.WatchCameras(ctx, r); close(done) }()
	eventually(t, "initial list", func() bool { return r.has("before", "") })
	s.CreateCamera(ctx, cam("after"))
	eventually(t, "put", func() bool { return r.has("after", "") })
	s.DeleteCamera(ctx, "before")
	eventually(t, "delete", func() bool { return !r.has("before", "") })

	// Compact past the watcher's position while it is cut off: it must re-list.
	cancel()
	<-done
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	_, rev, _ := s.AllCameras(ctx2)
	s.UpdateCamera(ctx2, "after", func(c *Camera) error { c.Name = "renamed"; return nil })
	s.CreateCamera(ctx2, cam("third"))
	if _, err := s.cli.Compact(ctx2, rev+2); err != nil {
		t.Fatal(err)
	}
	r2 := &recorder{}
	err := s.watchFrom(ctx2, rev+1, &recorder{cams: map[string]Camera{}})
	if err == nil {
		t.Fatal("watch from a compacted revision did not fail")
	}
	go s.WatchCameras(ctx2, r2)
	eventually(t, "re-list", func() bool { return r2.has("after", "renamed") && r2.has("third", "") })
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(dir, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cli, _ := Connect([]string{e.Endpoint}, 5*time.Second)
	s := NewStore(cli, "/t/", 5*time.Second, nil)
	if _, err := s.CreateCamera(context.Background(), cam("kept")); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	e.Close()

	e2, err := StartEmbedded(dir, 10*time.Second)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer e2.Close()
	cli2, err := Connect([]string{e2.Endpoint}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cli2.Close()
	if _, err := NewStore(cli2, "/t/", 5*time.Second, nil).GetCamera(context.Background(), "kept"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
