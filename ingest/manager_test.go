package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/relay"
)

func TestManagerOnDemandStartsWithReaderAndStopsWhenIdle(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	m := NewManager(ManagerConfig{IdleTimeout: 300 * time.Millisecond, Timeout: 2 * time.Second})
	defer m.Close()
	if err := m.Upsert(CameraSpec{ID: "c1", Main: f.URL(1, false), Sub: f.URL(1, true), OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := f.Sessions(1); n != 0 {
		t.Fatalf("on-demand camera pulled with no viewer: %d sessions", n)
	}
	st, release, err := m.Acquire(context.Background(), "c1", Sub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for f.Sessions(1) != 1 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if s, _ := m.Status("c1"); s.State == StateUnknown || s.Viewers != 1 {
		t.Fatalf("status %+v, want pulling with 1 viewer", s)
	}
	// Online once its first frame is decoded (up to a GOP after PLAY).
	for s, _ := m.Status("c1"); s.State != StateOnline && ctx.Err() == nil; s, _ = m.Status("c1") {
		time.Sleep(20 * time.Millisecond)
	}
	release()
	release() // idempotent
	deadline := time.Now().Add(3 * time.Second)
	for f.Sessions(1) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if f.Sessions(1) != 0 || !st.Closed() {
		t.Fatalf("idle pull not stopped: sessions=%d closed=%v", f.Sessions(1), st.Closed())
	}
	// What the last pull found (it played) is the camera's state until a
	// probe says otherwise: online, nothing pulled.
	if s, _ := m.Status("c1"); s.State != StateOnline || s.Live || s.Viewers != 0 {
		t.Fatalf("status %+v after idle stop, want online (the last pull's finding), not live", s)
	}
}

func TestManagerAlwaysOnAndRemove(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	m := NewManager(ManagerConfig{Timeout: 2 * time.Second})
	defer m.Close()
	spec := CameraSpec{ID: "c2", Main: f.URL(2, false), OnDemand: false}
	if err := m.Upsert(spec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Sessions(2) != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if f.Sessions(2) != 1 {
		t.Fatalf("always-on camera: %d sessions, want 1", f.Sessions(2))
	}
	_ = m.Upsert(spec)                                             // unchanged: no restart
	st, release, err := m.Acquire(context.Background(), "c2", Sub) // no sub: serves main
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m.Remove("c2")
	if !st.Closed() {
		t.Fatal("stream of a removed camera still open")
	}
	for f.Sessions(2) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if f.Sessions(2) != 0 {
		t.Fatal("removed camera still pulled")
	}
	if _, _, err := m.Acquire(context.Background(), "c2", Main); !errors.Is(err, relay.ErrUnknownCamera) {
		t.Fatalf("err = %v, want ErrUnknownCamera", err)
	}
	if _, _, err := m.Acquire(context.Background(), "c2", "third"); !errors.Is(err, relay.ErrUnknownStream) {
		t.Fatalf("err = %v, want ErrUnknownStream", err)
	}
}

// TestHoldersAreNoViewersAndRunningKeepsNothing: a recorder's Hold keeps
// an on-demand pull running without counting as a viewer; Running follows
// a running pull without starting or keeping one.
func TestHoldersAreNoViewersAndRunningKeepsNothing(t *testing.T) {
	f := startFleet(t, camsim.Config{})
	m := NewManager(ManagerConfig{IdleTimeout: 300 * time.Millisecond, Timeout: 2 * time.Second})
	defer m.Close()
	if err := m.Upsert(CameraSpec{ID: "c1", Main: f.URL(1, false), OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Running("c1", Main); ok {
		t.Fatal("Running found a pull nobody started")
	}
	time.Sleep(200 * time.Millisecond)
	if f.Sessions(1) != 0 {
		t.Fatal("Running started a pull")
	}
	st, release, err := m.Hold(context.Background(), "c1", Main)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Status("c1"); s.State == StateUnknown || s.Viewers != 0 {
		t.Fatalf("status %+v, want pulling with no viewers", s)
	}
	if running, ok := m.Running("c1", Main); !ok || running != st {
		t.Fatal("Running does not find the held pull")
	}
	// A viewer comes and goes; the holder keeps the pull.
	_, vrelease, err := m.Acquire(context.Background(), "c1", Main)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Status("c1"); s.Viewers != 1 {
		t.Fatalf("viewers %d, want the one viewer", s.Viewers)
	}
	vrelease()
	time.Sleep(600 * time.Millisecond)
	if st.Closed() || f.Sessions(1) != 1 {
		t.Fatalf("the holder's pull stopped when the viewer left: closed=%v sessions=%d", st.Closed(), f.Sessions(1))
	}
	release()
	deadline := time.Now().Add(3 * time.Second)
	for !st.Closed() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !st.Closed() {
		t.Fatal("the pull outlived its last holder")
	}
}
