// Package relay is the per-camera stream hub between the pulls (ingest)
// and the outputs: a Stream keeps the current GOP and a ring of recent
// units, never blocks its writer, and gives each reader its own cursor
// (a reader that falls behind skips to the next keyframe, the gap
// counted); units memoize what each output derives from them. The outputs
// (relay/webrtc, relay/rtspserve, recorders, the GB/T 28181 cascade) get
// streams through StreamProvider and never import each other.
package relay

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Info describes the media of a stream, known once its source has connected.
type Info struct {
	Video Codec // H264 or H265; empty when the camera sends no video
	Audio Codec // PCMA, PCMU or empty
	// Parameter sets from the SDP or in-band, for re-serving.
	VPS, SPS, PPS []byte
	Width, Height int
}

// StreamProvider gives an output the stream of a camera, starting its
// source if needed; release is called when the output is done with it.
type StreamProvider interface {
	Acquire(ctx context.Context, cameraID, variant string) (stream *Stream, release func(), err error)
}

// StreamConfig configures a Stream.
type StreamConfig struct {
	// RingSize is how many units the stream keeps (a power of two; default
	// 1024). It bounds how far a reader may lag and the GOP cache.
	RingSize int `yaml:"ring_size"`
	// MaxLag is how many units a reader may fall behind before it skips to
	// the newest keyframe (default 256, about 10 s of 25 fps video with audio).
	MaxLag int `yaml:"max_lag"`
	// LagSeconds is how much older than the newest unit the stream keeps,
	// for a reader that falls behind (default 1 s); the current GOP is
	// kept whatever its age. Older units are released: memory follows
	// time, not the ring's size.
	LagSeconds float64 `yaml:"lag_seconds"`
}

// Stream is the fan-out hub of one camera stream. The source writes units;
// any number of readers follow at their own pace. Write never blocks and
// costs the same whatever the number of readers: units go into one shared
// ring and each reader keeps its own cursor into it. A reader that falls
// more than MaxLag behind skips to the newest keyframe (dropping P-frames
// alone would corrupt the picture) and the skipped units are counted.
type Stream struct {
	mask   uint64
	maxLag uint64
	ring   []atomic.Pointer[Unit]
	next   atomic.Uint64 // sequence number of the next unit to be written
	// lastKey is 1 + the sequence number of the newest keyframe (0: none yet).
	lastKey atomic.Uint64
	wake    atomic.Pointer[chan struct{}]
	closed  atomic.Bool

	wmu     sync.Mutex    // serialises writers
	gen     atomic.Uint64 // source generation, raised by each SetInfo
	lagTime time.Duration
	tail    uint64 // oldest unit still held (under wmu)
	mu      sync.Mutex
	info    Info
	ready   chan struct{} // closed when info is first set
	readers int

	bytesIn   atomic.Uint64
	rate      atomic.Uint64 // bit/s over the last full window (rateWindow)
	winStart  time.Time     // under wmu
	winBytes  uint64        // under wmu
	unitsIn   atomic.Uint64
	keysIn    atomic.Uint64
	dropped   atomic.Uint64
	startedAt time.Time
}

// NewStream creates an empty stream.
func NewStream(cfg StreamConfig) *Stream {
	size := cfg.RingSize
	if size <= 0 {
		size = 1024
	}
	if size&(size-1) != 0 {
		p := 1
		for p < size {
			p <<= 1
		}
		size = p
	}
	lag := cfg.MaxLag
	if lag <= 0 || lag >= size {
		lag = min(256, size/2)
	}
	lagTime := time.Duration(cfg.LagSeconds * float64(time.Second))
	if lagTime <= 0 {
		lagTime = time.Second
	}
	s := &Stream{
		mask:      uint64(size - 1),
		maxLag:    uint64(lag),
		lagTime:   lagTime,
		ring:      make([]atomic.Pointer[Unit], size),
		ready:     make(chan struct{}),
		startedAt: time.Now(),
	}
	ch := make(chan struct{})
	s.wake.Store(&ch)
	return s
}

// SetInfo records the stream's media description and marks it ready. A
// source calls it on every (re)connection: units written after it carry a
// new Generation.
func (s *Stream) SetInfo(info Info) {
	s.gen.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info = info
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// Info returns the media description (zero until the source connects).
func (s *Stream) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// WaitReady waits until the source has described the stream, or ctx ends.
func (s *Stream) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ErrNotReady
	}
}

// Write publishes a unit to every reader. It never blocks. The unit must
// not be modified afterwards.
func (s *Stream) Write(u *Unit) {
	s.wmu.Lock() // audio and video may arrive on different goroutines
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return
	}
	seq := s.next.Load()
	u.seq, u.gen = seq, s.gen.Load()
	s.ring[seq&s.mask].Store(u)
	if u.Key {
		s.lastKey.Store(seq + 1)
		s.keysIn.Add(1)
	}
	s.next.Store(seq + 1)
	s.unitsIn.Add(1)
	size := uint64(u.Size())
	s.bytesIn.Add(size)
	s.measure(size)
	s.release(u)
	s.broadcast()
}

// release lets go of units no reader needs (under wmu): those before both
// the newest keyframe (the GOP cache) and the lag window ending at u.
func (s *Stream) release(u *Unit) {
	keep := s.next.Load() - 1
	if k := s.lastKey.Load(); k > 0 {
		keep = k - 1
	}
	if min := s.next.Load() - min(s.next.Load(), uint64(len(s.ring))); s.tail < min {
		s.tail = min // overwritten by the ring already
	}
	for s.tail < keep {
		slot := &s.ring[s.tail&s.mask]
		old := slot.Load()
		if old != nil && old.seq == s.tail && u.Received.Sub(old.Received) < s.lagTime {
			break // inside the lag window: a late reader may still want it
		}
		if old != nil && old.seq == s.tail {
			slot.CompareAndSwap(old, nil)
		}
		s.tail++
	}
}

// rateWindow is how long the bitrate is measured over.
const rateWindow = 2 * time.Second

// measure adds a unit's bytes to the bitrate window (under wmu).
func (s *Stream) measure(n uint64) {
	now := time.Now()
	if s.winStart.IsZero() {
		s.winStart = now
	}
	s.winBytes += n
	if d := now.Sub(s.winStart); d >= rateWindow {
		s.rate.Store(uint64(float64(s.winBytes*8) / d.Seconds()))
		s.winStart, s.winBytes = now, 0
	}
}

// Bitrate is the stream's measured rate in bit/s (0 until a window has
// passed).
func (s *Stream) Bitrate() float64 { return float64(s.rate.Load()) }

func (s *Stream) broadcast() {
	ch := make(chan struct{})
	old := s.wake.Swap(&ch)
	close(*old)
}

// Close ends the stream; readers get ErrStreamClosed once they are drained.
func (s *Stream) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.broadcast()
}

// Closed tells whether Close was called.
func (s *Stream) Closed() bool { return s.closed.Load() }

// GOP returns the cached units from the newest keyframe to the newest unit,
// so a new viewer can start decoding at once. It is empty before the first
// keyframe or when the GOP is longer than a reader may lag.
func (s *Stream) GOP() []*Unit {
	gop, r := s.Join()
	r.Close()
	return gop
}

// Reader follows a stream from a position. A Reader is used by one goroutine.
type Reader struct {
	s        *Stream
	cursor   uint64
	dropped  uint64
	gap      uint64 // units skipped since the last Gap
	untilKey bool   // skipping everything until the next keyframe
	done     bool
}

// NewReader returns a reader positioned after the newest unit; callers that
// want the GOP cache take GOP() first and then read from the reader. The
// reader counts towards Readers until Close.
func (s *Stream) NewReader() *Reader {
	s.mu.Lock()
	s.readers++
	s.mu.Unlock()
	return &Reader{s: s, cursor: s.next.Load()}
}

// ReaderAt returns a reader at unit seq that does not count in Readers
// (the stream's viewers): a live shard's, whose sessions keep their own
// readers open and so are counted; a recorder's, which is no viewer.
func (s *Stream) ReaderAt(seq uint64) *Reader {
	return &Reader{s: s, cursor: seq, done: true}
}

// Uncounted returns a reader positioned after the newest unit that does
// not count in Readers.
func (s *Stream) Uncounted() *Reader { return s.ReaderAt(s.next.Load()) }

// UncountedFromGOP returns an uncounted reader at the newest keyframe, so
// its first unit starts the cached GOP (or it waits for the next keyframe).
func (s *Stream) UncountedFromGOP() *Reader {
	r := s.Uncounted()
	if k := s.lastKey.Load(); k > 0 && r.cursor-(k-1) < s.maxLag {
		r.cursor = k - 1
	} else {
		r.untilKey = true
	}
	return r
}

// Position is the sequence number of the next unit the reader reads.
func (r *Reader) Position() uint64 { return r.cursor }

// Seek moves the reader to unit seq (a later Next skips what is gone).
func (r *Reader) Seek(seq uint64) { r.cursor = seq }

// Gap is how many units the reader skipped since the last call (it fell
// behind and jumped to a keyframe, or waited for one): a recorder's gap.
func (r *Reader) Gap() uint64 {
	g := r.gap
	r.gap = 0
	return g
}

// NewReaderFromGOP returns a reader positioned at the newest keyframe, so
// its first unit is the start of the cached GOP (or the next keyframe).
func (s *Stream) NewReaderFromGOP() *Reader {
	r := s.NewReader()
	if k := s.lastKey.Load(); k > 0 && r.cursor-(k-1) < s.maxLag {
		r.cursor = k - 1
	} else {
		r.untilKey = true // no keyframe in reach: start at the next one
	}
	return r
}

// Readers is the number of open readers.
func (s *Stream) Readers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readers
}

// Close releases the reader.
func (r *Reader) Close() {
	if r.done {
		return
	}
	r.done = true
	r.s.mu.Lock()
	r.s.readers--
	r.s.mu.Unlock()
}

// WaitKey drops whatever is cached ahead of the reader's position: it
// starts at the next keyframe.
func (r *Reader) WaitKey() { r.untilKey = true }

// Pending tells whether a unit is waiting to be read (the reader is
// behind the live edge).
func (r *Reader) Pending() bool { return r.cursor < r.s.next.Load() }

// Dropped is the number of units this reader skipped because it lagged.
func (r *Reader) Dropped() uint64 { return r.dropped }

// Next returns the next unit, waiting for one if needed. A reader more than
// MaxLag behind first skips to the newest keyframe.
func (r *Reader) Next(ctx context.Context) (*Unit, error) {
	s := r.s
	for {
		wake := s.wake.Load()
		end := s.next.Load()
		if r.cursor < end {
			if end-r.cursor > s.maxLag {
				r.skip(end)
				continue
			}
			u := s.ring[r.cursor&s.mask].Load()
			if u == nil || u.seq != r.cursor { // overwritten under us
				r.skip(end)
				continue
			}
			r.cursor++
			if r.untilKey {
				if !u.Key {
					r.dropped++
					r.gap++
					s.dropped.Add(1)
					continue
				}
				r.untilKey = false
			}
			return u, nil
		}
		if s.closed.Load() {
			return nil, ErrStreamClosed
		}
		select {
		case <-*wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// skip moves a lagging reader to the newest keyframe, or, when that is not
// ahead of it within reach, to the live edge where it waits for the next one.
func (r *Reader) skip(end uint64) {
	s := r.s
	target := end
	if k := s.lastKey.Load(); k > 0 && k-1 > r.cursor && end-(k-1) <= s.maxLag {
		target = k - 1
	} else {
		r.untilKey = true
	}
	n := target - r.cursor
	r.dropped += n
	r.gap += n
	s.dropped.Add(n)
	r.cursor = target
}

// Stats is a snapshot of a stream's counters.
type Stats struct {
	Units, Keyframes, Bytes, Dropped uint64
	Readers                          int
}

// Stats returns the stream's counters.
func (s *Stream) Stats() Stats {
	return Stats{
		Units: s.unitsIn.Load(), Keyframes: s.keysIn.Load(), Bytes: s.bytesIn.Load(),
		Dropped: s.dropped.Load(), Readers: s.Readers(),
	}
}

// Join returns the cached GOP and a reader positioned right after it, taken
// at one instant so nothing is lost or repeated between the two. Without a
// cached keyframe the reader starts at the next keyframe.
func (s *Stream) Join() ([]*Unit, *Reader) {
	r := s.NewReader()
	end := r.cursor
	k := s.lastKey.Load()
	if k == 0 || end-(k-1) > s.maxLag {
		r.untilKey = true
		return nil, r
	}
	gop := make([]*Unit, 0, end-(k-1))
	for seq := k - 1; seq < end; seq++ {
		u := s.ring[seq&s.mask].Load()
		if u == nil || u.seq != seq {
			r.untilKey = true
			return nil, r
		}
		gop = append(gop, u)
	}
	return gop, r
}
