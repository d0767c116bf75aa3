package relay

import (
	"sync"
	"time"
)

// Memo slots: each output keeps what it derives from a unit once, shared
// by all its readers (WebRTC's RTP payloads, a recorder's sample).
const (
	MemoWebRTC = iota
	MemoRTSP
	MemoRecord
	memoSlots
)

// Codec names a media codec carried through the relay.
type Codec string

// Codecs the relay carries.
const (
	CodecH264 Codec = "H264"
	CodecH265 Codec = "H265"
	CodecPCMA Codec = "PCMA"
	CodecPCMU Codec = "PCMU"
)

// IsVideo tells whether the codec is a video codec.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// ClockRate is the RTP clock rate of the codec.
func (c Codec) ClockRate() int {
	if c.IsVideo() {
		return 90000
	}
	return 8000
}

// Unit is one access unit (video) or one audio frame. It is immutable once
// written to a Stream and shared by every reader.
type Unit struct {
	Codec Codec
	// PTS is the presentation time relative to the source's start.
	PTS time.Duration
	// Received is the wall-clock time the unit arrived at the gateway.
	Received time.Time
	// NALUs of a video access unit; SPS/PPS (and VPS) lead every keyframe.
	NALUs [][]byte
	// Payload of an audio frame (G.711 samples).
	Payload []byte
	// Key marks a video access unit a decoder can start from.
	Key bool

	seq uint64 // position in its stream's ring
	gen uint64 // the stream's source generation when written

	memo [memoSlots]struct {
		once sync.Once
		v    [][]byte
	}
}

// Seq is the unit's position in its stream: consecutive units have
// consecutive numbers.
func (u *Unit) Seq() uint64 { return u.seq }

// Generation is the source connection the unit came from: it changes when
// the camera reconnects (timestamps start again, the picture may change).
func (u *Unit) Generation() uint64 { return u.gen }

// Memo returns the bytes f derives from the unit (an output's packets or
// sample), computed once per slot and shared by every reader of that
// output.
func (u *Unit) Memo(slot int, f func() [][]byte) [][]byte {
	m := &u.memo[slot]
	m.once.Do(func() { m.v = f() })
	return m.v
}

// Size is the number of media bytes in the unit.
func (u *Unit) Size() int {
	n := len(u.Payload)
	for _, b := range u.NALUs {
		n += len(b)
	}
	return n
}
