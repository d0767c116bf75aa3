package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
)

// ErrNoKeyframe is a stream that ended before its first keyframe (with
// its parameter sets): nothing could be written.
var ErrNoKeyframe = errors.New("no keyframe with its parameter sets")

// Stream writes H.264 access units as they arrive as fragmented MP4, for
// footage that is not on the gateway's disk (a GB/T 28181 device's,
// played back through the gateway): the initialization once the first
// keyframe brings its SPS and PPS (what comes before it is dropped), the
// first fragment as soon as that frame is in (so a player paints it at
// once), then a fragment every part. Time 0 is the first frame's; each
// frame lasts until the next one's timestamp.
type Stream struct {
	w    io.Writer
	part time.Duration

	started bool
	first   int64 // PTS (90 kHz) of the first frame written
	seq     uint32
	base    int64 // decode time of the fragment in progress
	pend    *fmp4.Sample
	pendAt  int64
	samples []fmp4.Sample
	out     []byte
	frames  int
}

// NewStream writes to w, a fragment every part (default 1 s).
func NewStream(w io.Writer, part time.Duration) *Stream {
	if part <= 0 {
		part = time.Second
	}
	return &Stream{w: w, part: part, seq: 1}
}

// Frames is how many frames have been written.
func (s *Stream) Frames() int { return s.frames }

// WriteH264 takes one access unit (NAL units without start codes) at
// pts, in 90 kHz units.
func (s *Stream) WriteH264(nalus [][]byte, pts int64) error {
	key, sps, pps := false, []byte(nil), []byte(nil)
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1F {
		case 5:
			key = true
		case 7:
			sps = n
		case 8:
			pps = n
		}
	}
	if !s.started {
		if !key || sps == nil || pps == nil {
			return nil // a player can begin only at a keyframe it can decode
		}
		init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: videoTimescale, Codec: &mp4.CodecH264{SPS: sps, PPS: pps}}}}
		var buf seekablebuffer.Buffer
		if err := init.Marshal(&buf); err != nil {
			return fmt.Errorf("fMP4 init: %w", err)
		}
		if _, err := s.w.Write(buf.Bytes()); err != nil {
			return err
		}
		s.started, s.first = true, pts
	}
	at := pts - s.first
	if s.pend != nil {
		if at <= s.pendAt { // a timestamp that does not move on: a frame's worth
			at = s.pendAt + videoTimescale/25
		}
		s.pend.Duration = uint32(at - s.pendAt)
		s.samples = append(s.samples, *s.pend)
		if s.seq == 1 || fromTicks(at-s.base) >= s.part {
			if err := s.flush(at); err != nil {
				return err
			}
		}
	}
	var payload []byte
	for _, n := range nalus {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(n)))
		payload = append(payload, n...)
	}
	s.pend = &fmp4.Sample{IsNonSyncSample: !key, Payload: payload, Duration: videoTimescale / 25}
	s.pendAt = at
	s.frames++
	return nil
}

func (s *Stream) flush(next int64) error {
	if len(s.samples) == 0 {
		return nil
	}
	s.out = appendFragment(s.out[:0], s.seq, uint64(s.base), s.samples)
	s.seq++
	s.base = next
	s.samples = s.samples[:0]
	_, err := s.w.Write(s.out)
	return err
}

// Close writes what is in progress (the last frame lasting as the one
// before it); ErrNoKeyframe when nothing could be written at all.
func (s *Stream) Close() error {
	if !s.started {
		return ErrNoKeyframe
	}
	if s.pend != nil {
		if n := len(s.samples); n > 0 {
			s.pend.Duration = s.samples[n-1].Duration
		}
		s.samples = append(s.samples, *s.pend)
		s.pend = nil
	}
	return s.flush(s.pendAt)
}
