package relay

import (
	"sync"
	"time"
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

	webrtcOnce sync.Once
	webrtc     [][]byte
}

// Size is the number of media bytes in the unit.
func (u *Unit) Size() int {
	n := len(u.Payload)
	for _, b := range u.NALUs {
		n += len(b)
	}
	return n
}

// WebRTCPayloads returns the RTP payloads for this unit at the WebRTC MTU,
// computed once and shared by every viewer; the last payload carries the marker.
func (u *Unit) WebRTCPayloads() [][]byte {
	u.webrtcOnce.Do(func() {
		switch u.Codec {
		case CodecH264:
			u.webrtc = packetizeH264(u.NALUs, webrtcPayloadMax)
		case CodecH265:
			u.webrtc = packetizeH265(u.NALUs, webrtcPayloadMax)
		default:
			u.webrtc = [][]byte{u.Payload}
		}
	})
	return u.webrtc
}
