package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gop writes n units where every gopLen-th is a keyframe, starting with one.
func writeUnits(s *Stream, from, n, gopLen int) {
	for i := from; i < from+n; i++ {
		s.Write(&Unit{Codec: CodecH264, PTS: time.Duration(i) * 40 * time.Millisecond,
			NALUs: [][]byte{{0x65, byte(i)}}, Key: i%gopLen == 0})
	}
}

func TestReaderFromGOPStartsOnKeyframe(t *testing.T) {
	s := NewStream(StreamConfig{RingSize: 256})
	writeUnits(s, 0, 37, 25) // keyframes at 0 and 25
	gop := s.GOP()
	if len(gop) != 12 || !gop[0].Key || gop[0].PTS != 25*40*time.Millisecond {
		t.Fatalf("GOP = %d units, first key=%v; want 12 starting at the keyframe 25", len(gop), len(gop) > 0 && gop[0].Key)
	}
	r := s.NewReaderFromGOP()
	defer r.Close()
	u, err := r.Next(context.Background())
	if err != nil || !u.Key || u.PTS != gop[0].PTS {
		t.Fatalf("first unit key=%v pts=%v err=%v; want the cached keyframe", u != nil && u.Key, u, err)
	}
}

func TestGOPEmptyBeforeFirstKeyframe(t *testing.T) {
	s := NewStream(StreamConfig{})
	s.Write(&Unit{Codec: CodecH264, NALUs: [][]byte{{0x41}}})
	if g := s.GOP(); g != nil {
		t.Fatalf("GOP before any keyframe = %d units, want none", len(g))
	}
}

func TestSlowReaderSkipsToKeyframeAndWriterNeverBlocks(t *testing.T) {
	s := NewStream(StreamConfig{RingSize: 64, MaxLag: 16})
	r := s.NewReader()
	defer r.Close()
	done := make(chan struct{})
	go func() { writeUnits(s, 0, 200, 10); close(done) }() // reader reads nothing meanwhile
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writer blocked on a reader that does not read")
	}
	u, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !u.Key {
		t.Fatalf("after lagging, first unit is not a keyframe (pts %v)", u.PTS)
	}
	if r.Dropped() == 0 || s.Stats().Dropped != r.Dropped() {
		t.Fatalf("dropped reader=%d stream=%d, want equal and > 0", r.Dropped(), s.Stats().Dropped)
	}
	// From the keyframe on, units follow without gaps.
	prev := u.PTS
	for i := 0; i < 5; i++ {
		u, err := r.Next(context.Background())
		if err != nil {
			break
		}
		if u.PTS != prev+40*time.Millisecond {
			t.Fatalf("gap after skip: %v then %v", prev, u.PTS)
		}
		prev = u.PTS
	}
}

func TestLaggingPastKeyframeWaitsForNextKey(t *testing.T) {
	s := NewStream(StreamConfig{RingSize: 64, MaxLag: 8})
	r := s.NewReader()
	defer r.Close()
	writeUnits(s, 0, 30, 100) // one keyframe at 0, then 29 P-frames: key is out of reach
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if u, err := r.Next(ctx); err == nil {
		t.Fatalf("got unit pts %v key=%v, want to wait for the next keyframe", u.PTS, u.Key)
	}
	writeUnits(s, 30, 3, 100)
	writeUnits(s, 100, 1, 100) // a keyframe
	u, err := r.Next(context.Background())
	if err != nil || !u.Key {
		t.Fatalf("want the new keyframe, got %v err=%v", u, err)
	}
	if r.Dropped() != 33 {
		t.Fatalf("dropped %d, want 33", r.Dropped())
	}
}

func TestCloseEndsReadersAfterDrain(t *testing.T) {
	s := NewStream(StreamConfig{})
	r := s.NewReader()
	writeUnits(s, 0, 2, 1)
	s.Close()
	for i := 0; i < 2; i++ {
		if _, err := r.Next(context.Background()); err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("err = %v, want ErrStreamClosed", err)
	}
	r.Close()
	if s.Readers() != 0 {
		t.Fatalf("readers = %d after close", s.Readers())
	}
}

func TestConcurrentReadersSeeEveryUnitInOrder(t *testing.T) {
	s := NewStream(StreamConfig{RingSize: 4096, MaxLag: 4000})
	const n, readers = 2000, 8
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		r := s.NewReader()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for want := 0; want < n; want++ {
				u, err := r.Next(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if got := int(u.PTS / (40 * time.Millisecond)); got != want {
					errs <- fmt.Errorf("got unit %d, want %d", got, want)
					return
				}
			}
		}()
	}
	writeUnits(s, 0, n, 50)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestStreamReleasesByTime: a stream keeps the current GOP and the last
// LagSeconds of units, not its whole ring; a reader left behind that
// window skips to the newest keyframe.
func TestStreamReleasesByTime(t *testing.T) {
	s := NewStream(StreamConfig{LagSeconds: 1})
	slow := s.NewReader()
	defer slow.Close()
	t0 := time.Now()
	held := func() int {
		n := 0
		for i := range s.ring {
			if s.ring[i].Load() != nil {
				n++
			}
		}
		return n
	}
	// 10 s of 25 fps video with a 2 s GOP, each unit 1 kB.
	for i := 0; i < 250; i++ {
		s.Write(&Unit{Codec: CodecH264, PTS: time.Duration(i) * 40 * time.Millisecond, Key: i%50 == 0,
			NALUs: [][]byte{make([]byte, 1000)}, Received: t0.Add(time.Duration(i) * 40 * time.Millisecond)})
		if i == 249 || i == 229 {
			// At 249 the GOP (200–249) is longer than the 1 s window: it
			// alone is held. At 229 the window reaches back to 204, the
			// GOP to 200: the GOP's 30 units are held, nothing before.
			want := map[int]int{249: 50, 229: 30}[i]
			if n := held(); n != want {
				t.Fatalf("after unit %d the stream holds %d units, want %d", i, n, want)
			}
		}
	}
	gop := s.GOP()
	if len(gop) != 50 || !gop[0].Key {
		t.Fatalf("GOP cache: %d units (key %v), want the 50 of the current GOP", len(gop), len(gop) > 0 && gop[0].Key)
	}
	u, err := slow.Next(context.Background())
	if err != nil || !u.Key || u.PTS != 200*40*time.Millisecond || slow.Dropped() != 200 {
		t.Fatalf("the reader left behind got %v (key %v, dropped %d), want the newest keyframe at unit 200", u.PTS, u != nil && u.Key, slow.Dropped())
	}
}

// TestReaderGapsGenerationsAndUncounted: a reader says how many units it
// skipped since it last asked; units carry the source generation, raised
// by every SetInfo (a reconnection); an uncounted reader is no viewer.
func TestReaderGapsGenerationsAndUncounted(t *testing.T) {
	s := NewStream(StreamConfig{RingSize: 64, MaxLag: 16})
	s.SetInfo(Info{Video: CodecH264})
	r := s.Uncounted()
	if s.Readers() != 0 {
		t.Fatalf("an uncounted reader counts: %d", s.Readers())
	}
	writeUnits(s, 0, 40, 10) // far more than MaxLag: the reader falls behind
	ctx := context.Background()
	u, err := r.Next(ctx)
	if err != nil || !u.Key {
		t.Fatalf("after falling behind: %+v %v, want a keyframe", u, err)
	}
	if g := r.Gap(); g == 0 || g != u.Seq() {
		t.Errorf("gap %d, want the %d units skipped", g, u.Seq())
	}
	if g := r.Gap(); g != 0 {
		t.Errorf("a second Gap says %d, want 0", g)
	}
	gen := u.Generation()
	s.SetInfo(Info{Video: CodecH264, Width: 640}) // the camera reconnected
	writeUnits(s, 40, 1, 10)
	for r.Pending() {
		u, _ = r.Next(ctx)
	}
	if u.Generation() != gen+1 {
		t.Errorf("generation %d after a reconnection, want %d", u.Generation(), gen+1)
	}
	at := s.ReaderAt(u.Seq())
	if v, _ := at.Next(ctx); v != u || at.Position() != u.Seq()+1 {
		t.Errorf("ReaderAt(%d) read %+v, position %d", u.Seq(), v, at.Position())
	}
}
