package recording

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
)

// MaxPlayback is the longest stretch one playback or export request
// covers; a player asks again from where it ended.
const MaxPlayback = time.Hour

// footage is one segment's samples, read from its file.
type footage struct {
	seg     Segment
	init    fmp4.Init
	samples []timed
}

// timed is a sample with the wall-clock time it shows, its place in its
// segment and its size (its payload may not be read).
type timed struct {
	at   time.Time
	i    int
	size uint32
	*fmp4.Sample
}

// load reads a segment file: its initialization and every whole fragment
// (a segment being written may end in one that is not).
func load(seg Segment, payloads bool) (*footage, error) {
	b, err := os.ReadFile(seg.Path)
	if err != nil {
		return nil, err
	}
	bs, err := boxes(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	initEnd, partsEnd := int64(0), int64(0)
	for i, x := range bs {
		switch {
		case x.typ == "moov":
			initEnd = x.offset + x.size
		case x.typ == "mdat" && i > 0 && bs[i-1].typ == "moof":
			partsEnd = x.offset + x.size
		}
	}
	if initEnd == 0 {
		return nil, fmt.Errorf("segment %s: no initialization", seg.ID)
	}
	f := &footage{seg: seg}
	if err := f.init.Unmarshal(bytes.NewReader(b[:initEnd])); err != nil {
		return nil, fmt.Errorf("segment %s: %w", seg.ID, err)
	}
	if partsEnd <= initEnd {
		return f, nil
	}
	// The fragments read by hand, their payloads slices of the file: the
	// library's reflective reader was most of a seek's time.
	for i, x := range bs {
		if x.typ != "moof" || i+1 >= len(bs) || bs[i+1].typ != "mdat" || x.offset >= partsEnd {
			continue
		}
		base, samples, sizes, err := readFragment(b, x.offset, b[x.offset:x.offset+x.size], payloads)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", seg.ID, err)
		}
		dts := int64(base)
		for j := range samples {
			s := &samples[j]
			f.samples = append(f.samples, timed{at: seg.Start.Add(fromTicks(dts)), i: len(f.samples), size: sizes[j], Sample: s})
			dts += int64(s.Duration)
		}
	}
	return f, nil
}

// segmentEnd is where a segment's footage ends, read from its file.
func segmentEnd(s Segment) (time.Time, error) {
	f, err := load(s, false)
	if err != nil {
		return time.Time{}, err
	}
	if len(f.samples) == 0 {
		return s.Start, nil
	}
	last := f.samples[len(f.samples)-1]
	return last.at.Add(fromTicks(int64(last.Duration))), nil
}

// Window is a playback request resolved against the index.
type Window struct {
	Segments []Segment // this node's, in order, of one media format
	From, To time.Time // what is shown: From is the first frame's time
}

// Resolve finds the footage of camera stream from start for d: the
// segments this node holds, from the one showing start, as long as they
// follow each other in one format. ErrNoFootage when nothing is recorded
// in the range; ErrOtherNode (with the node) when the footage is on
// another node's disk.
func (m *Manager) Resolve(ctx context.Context, camera, stream string, start time.Time, d time.Duration) (Window, string, error) {
	if d <= 0 || d > MaxPlayback {
		return Window{}, "", fmt.Errorf("%w: the duration must be above 0 and at most %s", ErrBadRange, MaxPlayback)
	}
	end := start.Add(d)
	segs, err := m.idx.Segments(ctx, camera, stream, start, end)
	if err != nil {
		return Window{}, "", err
	}
	if len(segs) == 0 {
		return Window{}, "", ErrNoFootage
	}
	if segs[0].Node != m.cfg.Node {
		return Window{}, segs[0].Node, ErrOtherNode
	}
	w := Window{From: start, To: end}
	if segs[0].Start.After(start) {
		w.From = segs[0].Start // nothing recorded at start: from the first footage after it
	}
	first := segs[0]
	for _, s := range segs {
		if s.Node != m.cfg.Node || s.Codec != first.Codec || s.Width != first.Width || s.Height != first.Height {
			break // another node's, or another format: the player asks again from there
		}
		w.Segments = append(w.Segments, s)
	}
	return w, "", nil
}

// frames walks the window's samples in order and hands on those to show,
// preceded by the ones since the keyframe before From that a decoder needs
// (show false). It stops at the window's end.
func (w Window) frames(payloads bool, each func(f *footage, t timed, show bool) error) error {
	var gop []timed
	var gopOf *footage
	started := false
	for _, seg := range w.Segments {
		f, err := load(seg, payloads)
		if err != nil {
			return err
		}
		for _, t := range f.samples {
			if !t.at.Before(w.To) {
				return nil
			}
			if t.at.Before(w.From) {
				if !t.IsNonSyncSample {
					gop, gopOf = gop[:0], f
				}
				if gopOf != nil {
					gop = append(gop, t)
				}
				continue
			}
			if !started {
				started = true
				if t.IsNonSyncSample && len(gop) == 0 {
					continue // no keyframe to start from yet
				}
				for _, g := range gop {
					if err := each(gopOf, g, false); err != nil {
						return err
					}
				}
			}
			if err := each(f, t, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteFMP4 writes the window as fragmented MP4, a fragment about every
// second: the frames before From (needed to decode the first) last no
// time, so the first frame shown is the one at From.
func (m *Manager) WriteFMP4(ctx context.Context, w io.Writer, win Window) error {
	var init *fmp4.Init
	var seq uint32 = 1
	var part []fmp4.Sample
	var base, last int64 = 0, -1
	var pend *fmp4.Sample
	var out []byte
	flush := func() error {
		if len(part) == 0 {
			return nil
		}
		out = appendFragment(out[:0], seq, uint64(base), part)
		seq++
		for _, s := range part {
			base += int64(s.Duration)
		}
		part = part[:0]
		_, err := w.Write(out)
		return err
	}
	err := win.frames(true, func(f *footage, t timed, show bool) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if init == nil {
			init = &f.init
			var buf seekablebuffer.Buffer
			if err := init.Marshal(&buf); err != nil {
				return err
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		s := &fmp4.Sample{IsNonSyncSample: t.IsNonSyncSample, Payload: t.Payload}
		if !show {
			part = append(part, *s) // Duration 0
			return nil
		}
		dts := ticks(t.at.Sub(win.From))
		if pend != nil {
			pend.Duration = uint32(max(0, dts-last))
			part = append(part, *pend)
			// The first fragment ends at the first frame shown, so the
			// player has all it needs to paint it without waiting for a
			// second of footage; then a fragment every part duration.
			if seq == 1 || fromTicks(dts-base) >= m.cfg.Part {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		pend, last = s, dts
		s.Duration = t.Duration // until the next one says otherwise
		return nil
	})
	if err != nil {
		return err
	}
	if init == nil {
		return ErrNoFootage
	}
	if pend != nil {
		if end := ticks(win.To.Sub(win.From)); last+int64(pend.Duration) > end {
			pend.Duration = uint32(max(1, end-last))
		}
		part = append(part, *pend)
	}
	return flush()
}

// WriteMP4 writes the window as one progressive MP4 file (a download or
// an evidence clip), its first shown frame the one at From.
func (m *Manager) WriteMP4(ctx context.Context, w io.Writer, win Window) error {
	var track *pmp4.Track
	var pend *pmp4.Sample
	var last int64 = -1
	var cache struct {
		seg string
		f   *footage
	}
	// Payloads are read when the file body is written, a segment at a time.
	payload := func(seg Segment, i int) func() ([]byte, error) {
		return func() ([]byte, error) {
			if cache.seg != seg.ID {
				f, err := load(seg, true)
				if err != nil {
					return nil, err
				}
				cache.seg, cache.f = seg.ID, f
			}
			return cache.f.samples[i].Payload, nil
		}
	}
	err := win.frames(false, func(f *footage, t timed, show bool) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if track == nil {
			track = &pmp4.Track{ID: 1, TimeScale: videoTimescale, Codec: f.init.Tracks[0].Codec}
		}
		s := &pmp4.Sample{IsNonSyncSample: t.IsNonSyncSample, PayloadSize: t.size, GetPayload: payload(f.seg, t.i)}
		if !show {
			track.Samples = append(track.Samples, s)
			return nil
		}
		dts := ticks(t.at.Sub(win.From))
		if pend != nil {
			pend.Duration = uint32(max(0, dts-last))
			track.Samples = append(track.Samples, pend)
		}
		pend, last = s, dts
		s.Duration = t.Duration
		return nil
	})
	if err != nil {
		return err
	}
	if track == nil || pend == nil {
		return ErrNoFootage
	}
	if end := ticks(win.To.Sub(win.From)); last+int64(pend.Duration) > end {
		pend.Duration = uint32(max(1, end-last))
	}
	track.Samples = append(track.Samples, pend)
	return pmp4.Presentation{Tracks: []*pmp4.Track{track}}.Marshal(w)
}

// Frame is a recorded H.264 frame read back to be sent elsewhere (a
// superior platform's Playback): the time it was recorded, whether it is
// a keyframe, and its NAL units (a keyframe's led by the SPS and PPS, so
// a receiver can start on it).
type Frame struct {
	At    time.Time
	Key   bool
	NALUs [][]byte
}

// Frames hands on the window's frames in order, from the keyframe at or
// before From (as a device starts a playback where it can) to To.
func (m *Manager) Frames(ctx context.Context, win Window, each func(Frame) error) error {
	return win.frames(true, func(f *footage, t timed, _ bool) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var codec *mp4.CodecH264
		if len(f.init.Tracks) > 0 {
			codec, _ = f.init.Tracks[0].Codec.(*mp4.CodecH264)
		}
		if codec == nil {
			return fmt.Errorf("%w: only H.264 footage is sent on", ErrNotRecordable)
		}
		fr := Frame{At: t.at, Key: !t.IsNonSyncSample}
		if fr.Key {
			fr.NALUs = append(fr.NALUs, codec.SPS, codec.PPS)
		}
		for p := t.Payload; len(p) >= 4; {
			n := int(binary.BigEndian.Uint32(p))
			if n <= 0 || n > len(p)-4 {
				return fmt.Errorf("recording: a sample of %s with a NAL unit of %d bytes in %d", f.seg.ID, n, len(p)-4)
			}
			fr.NALUs = append(fr.NALUs, p[4:4+n])
			p = p[4+n:]
		}
		return each(fr)
	})
}
