package recording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"sharpeyes/relay"
)

// Plan is what a recorder records: a camera's stream, how, and what it keeps.
type Plan struct {
	Camera string
	Stream string // main or sub
	Mode   string // continuous or events
	Retain time.Duration
	Pre    time.Duration
	Post   time.Duration
}

// recorder writes one camera stream's footage: a reader of the relay
// stream like any other output, which keeps the pull running (Hold) but is
// no viewer. In events mode it keeps the last Pre of video in memory and
// writes from there while an incident lasts and Post after it ends.
type recorder struct {
	m    *Manager
	plan Plan
	log  *slog.Logger

	mu      sync.Mutex
	open    int       // incidents of the camera still open (events mode)
	until   time.Time // record until then (events mode; zero: not recording)
	cancel  context.CancelFunc
	done    chan struct{}
	writing bool // a segment is open (for tests and status)

	// The segment being written; owned by the run goroutine.
	cur      *segmentFile
	curID    string
	curInfo  relay.Info
	curGen   uint64
	startPTS time.Duration
	pending  *relay.Unit
	lastDur  uint32
	preroll  []*relay.Unit // events mode: the units of the last Pre, from a keyframe
	waitKey  bool
	failing  bool      // the last write failed (logged once until one succeeds)
	span     string    // the span the last segment was in
	spanEnd  time.Time // where the last segment ended
}

// start runs the recorder in a goroutine of the manager's (its Close
// waits for it).
func (r *recorder) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	r.m.wg.Add(1)
	go func() {
		defer r.m.wg.Done()
		defer close(r.done)
		r.run(ctx)
	}()
}

func (r *recorder) stop() {
	r.cancel()
	<-r.done
}

// run holds the camera stream and follows it, again after each end of the
// pull (the camera went away, the node lost it).
func (r *recorder) run(ctx context.Context) {
	for ctx.Err() == nil {
		st, release, err := r.m.streams.Hold(ctx, r.plan.Camera, r.plan.Stream)
		if err != nil {
			r.log.Debug("stream not available for recording", "error", err)
			sleep(ctx, 2*time.Second)
			continue
		}
		err = r.follow(ctx, st)
		release()
		r.finish(false)
		if ctx.Err() == nil && !errors.Is(err, relay.ErrStreamClosed) {
			r.log.Warn("recording interrupted", "error", err)
		}
		sleep(ctx, 200*time.Millisecond)
	}
	r.finish(true)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (r *recorder) follow(ctx context.Context, st *relay.Stream) error {
	if err := st.WaitReady(ctx); err != nil {
		return err
	}
	rd := st.UncountedFromGOP()
	r.waitKey = true
	for {
		u, err := rd.Next(ctx)
		if err != nil {
			return err
		}
		if !u.Codec.IsVideo() {
			continue // audio is not recorded (G.711 has no place in MP4)
		}
		if rd.Gap() > 0 {
			r.finish(false) // what was skipped is a gap, not a corrupt file
			r.waitKey = true
		}
		if err := r.unit(ctx, u, st.Info()); err != nil {
			if !r.failing {
				r.log.Warn("recording stopped for now", "error", err)
			}
			r.failing = true
			r.finish(false)
			r.waitKey = true
			r.m.sweepSoon()
		} else if r.cur != nil && r.failing {
			r.failing = false
			r.log.Info("recording again")
		}
	}
}

// active tells whether footage at t is to be written.
func (r *recorder) active(t time.Time) bool {
	if r.plan.Mode != "events" {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open > 0 || (!r.until.IsZero() && !t.After(r.until))
}

// trigger starts (end nil) or ends an incident of the camera, for events mode.
func (r *recorder) trigger(end *time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if end == nil {
		r.open++
		return
	}
	if r.open > 0 {
		r.open--
	}
	if u := end.Add(r.plan.Post); u.After(r.until) {
		r.until = u
	}
}

// unit takes one video unit.
func (r *recorder) unit(ctx context.Context, u *relay.Unit, info relay.Info) error {
	if r.m.paused() {
		r.finish(false)
		r.waitKey = true
		return nil
	}
	if r.plan.Mode == "events" && !r.active(u.Received) {
		r.finish(false)
		r.keepPreroll(u)
		return nil
	}
	if r.cur != nil && (u.Generation() != r.curGen || !sameMedia(info, r.curInfo)) {
		r.finish(false) // a reconnection or a new picture: a new segment
		r.waitKey = true
	}
	if r.cur != nil && u.Key && u.Received.Sub(r.cur.start) >= r.m.cfg.Segment {
		r.finish(false)
	}
	if r.cur == nil {
		if r.plan.Mode == "events" && len(r.preroll) > 0 {
			// Start from the pre-roll: the footage before the incident.
			pre := r.preroll
			r.preroll = nil
			r.waitKey = false
			if err := r.open_(ctx, pre[0], info); err != nil {
				return err
			}
			for _, p := range pre[1:] {
				if err := r.add(ctx, p); err != nil {
					return err
				}
			}
			return r.add(ctx, u)
		}
		if !u.Key {
			return nil // a segment starts on a keyframe
		}
		r.waitKey = false
		return r.open_(ctx, u, info)
	}
	return r.add(ctx, u)
}

// keepPreroll keeps the units of the last Pre, starting on a keyframe.
func (r *recorder) keepPreroll(u *relay.Unit) {
	if len(r.preroll) == 0 && !u.Key {
		return
	}
	if len(r.preroll) > 0 && u.Generation() != r.preroll[0].Generation() {
		r.preroll = nil
		if !u.Key {
			return
		}
	}
	r.preroll = append(r.preroll, u)
	// Drop whole GOPs from the front while the next keyframe is old enough.
	for {
		next := -1
		for i := 1; i < len(r.preroll); i++ {
			if r.preroll[i].Key {
				next = i
				break
			}
		}
		if next < 0 || u.Received.Sub(r.preroll[next].Received) < r.plan.Pre {
			return
		}
		r.preroll = r.preroll[next:]
	}
}

// open_ starts a segment with keyframe u.
func (r *recorder) open_(ctx context.Context, u *relay.Unit, info relay.Info) error {
	init, err := initOf(info)
	if err != nil {
		return err
	}
	start := u.Received.UTC()
	id := newID("s")
	path := filepath.Join(r.m.cfg.Root, safe(r.plan.Camera), r.plan.Stream, start.Format("20060102"),
		start.Format("150405.000")+"-"+id[1:9]+".mp4")
	seg, err := createSegment(path, init, start)
	if err != nil {
		return fmt.Errorf("segment %s: %w", path, err)
	}
	// A segment that follows the last one within SpanGap continues its
	// span; after a gap (a reconnect, a pause, a restart) a new one starts.
	span := id
	if r.span != "" && !start.After(r.spanEnd.Add(SpanGap)) && !start.Before(r.spanEnd.Add(-SpanGap)) {
		span = r.span
	}
	if err := r.m.idx.Add(ctx, Segment{ID: id, CameraID: r.plan.Camera, Stream: r.plan.Stream, Start: start, End: start,
		Bytes: seg.bytes, Node: r.m.cfg.Node, Path: path, Codec: string(info.Video), Width: info.Width, Height: info.Height, Open: true, Span: span}); err != nil {
		_ = seg.close()
		return fmt.Errorf("index: %w", err)
	}
	r.cur, r.curID, r.curInfo, r.curGen, r.startPTS, r.pending = seg, id, info, u.Generation(), u.PTS, u
	r.span = span
	r.setWriting(true)
	r.log.Debug("segment started", "path", path)
	return nil
}

// add writes the pending unit, now that the next one gives its duration.
func (r *recorder) add(_ context.Context, u *relay.Unit) error {
	if r.pending != nil {
		d := ticks(u.PTS - r.pending.PTS)
		if d <= 0 || d > 10*videoTimescale {
			d = int64(r.lastDur) // timestamps that jump: keep the last frame duration
			if d <= 0 {
				d = videoTimescale / 25
			}
		}
		r.lastDur = uint32(d)
		if err := r.write(r.pending, uint32(d)); err != nil {
			return err
		}
	}
	r.pending = u
	if r.cur.partLength() >= r.m.cfg.Part {
		if err := r.cur.flush(); err != nil {
			return err
		}
		r.m.progress(Progress{ID: r.curID, End: r.cur.endTime(), Bytes: r.cur.bytes})
	}
	return nil
}

// write appends unit u of duration d to the segment.
func (r *recorder) write(u *relay.Unit, d uint32) error {
	s := fmp4.Sample{Duration: d}
	switch u.Codec {
	case relay.CodecH265:
		s.IsNonSyncSample = !h265.IsRandomAccess(u.NALUs)
	default:
		s.IsNonSyncSample = !h264.IsRandomAccess(u.NALUs)
	}
	s.Payload = r.cur.avcc(u.NALUs)
	r.cur.add(s, ticks(u.PTS-r.startPTS))
	return nil
}

// finish closes the segment being written (its last frame lasting as
// long as the one before), and says how far it reaches.
func (r *recorder) finish(final bool) {
	if r.cur == nil {
		return
	}
	if r.pending != nil {
		d := r.lastDur
		if d == 0 {
			d = videoTimescale / 25
		}
		if err := r.write(r.pending, d); err != nil {
			r.log.Warn("last frame not written", "error", err)
		}
	}
	err := r.cur.close()
	if err != nil {
		r.log.Warn("segment not closed cleanly", "path", r.cur.path, "error", err)
	}
	if r.cur.done == 0 {
		// Not one fragment reached the disk (it was full, or the stream
		// stopped at once): a file with nothing to play is no segment.
		_ = os.Remove(r.cur.path)
		if err := r.m.idx.Remove(context.Background(), r.curID); err != nil {
			r.log.Warn("empty segment left in the index", "path", r.cur.path, "error", err)
		}
		r.cur, r.pending, r.curID = nil, nil, ""
		r.setWriting(false)
		return
	}
	r.m.progress(Progress{ID: r.curID, End: r.cur.endTime(), Bytes: r.cur.bytes, Closed: true})
	r.spanEnd = r.cur.endTime()
	if final {
		r.m.flushProgress(context.Background())
	}
	r.cur, r.pending, r.curID = nil, nil, ""
	r.setWriting(false)
}

func (r *recorder) setWriting(v bool) {
	r.mu.Lock()
	r.writing = v
	r.mu.Unlock()
}

// safe keeps a camera id usable as a directory name (ids are
// [A-Za-z0-9_-], checked by the registry; this is belt and braces).
func safe(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
