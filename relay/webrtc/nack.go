package webrtc

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"sharpeyes/relay"
)

// sentFrames is how many frames a viewer can ask packets of to be resent:
// 2.5 s at 25 fps whatever the bitrate, plenty for any RTT a NACK can fix.
// sentSlots bounds the resends of a packet (resends counted per slot).
const (
	sentFrames = 64
	sentSlots  = 512
)

// sentRing answers NACKs (RFC 4585) from the frames already sent. pion's
// NACK responder copies every outgoing packet into a per-viewer buffer;
// our payloads are immutable and shared across viewers, so a viewer keeps
// only, per frame, where its sequence numbers start, its RTP time and the
// unit (≈ 1.5 KB for the whole history, not a copy or a slot per packet).
type sentRing struct {
	mu      sync.Mutex
	frames  [sentFrames]sentFrame
	next    int // slot of the next frame
	resends [sentSlots]uint8
}

type sentFrame struct {
	u     *relay.Unit
	ts    uint32
	first uint16 // sequence number of its first packet
	n     uint16 // packets
}

type sentPacket struct {
	payload []byte
	ts      uint32
	seq     uint16
	marker  bool
}

// maxResends bounds how often one packet is resent, so a viewer that keeps
// asking (a broken NACK generator, or an attacker) cannot multiply our load.
const maxResends = 2

// put records a video unit sent as n packets from sequence number first.
func (r *sentRing) put(u *relay.Unit, first uint16, n int, ts uint32) {
	r.mu.Lock()
	r.frames[r.next] = sentFrame{u: u, ts: ts, first: first, n: uint16(n)}
	r.next = (r.next + 1) % sentFrames
	for i := range uint16(n) {
		r.resends[(first+i)%sentSlots] = 0
	}
	r.mu.Unlock()
}

// take returns the packet with seq for resending, counting the resend.
func (r *sentRing) take(seq uint16) (sentPacket, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := 1; k <= sentFrames; k++ { // newest first: NACKs ask for recent packets
		f := &r.frames[(r.next-k+sentFrames)%sentFrames]
		if f.u == nil {
			break
		}
		i := seq - f.first
		if i >= f.n {
			continue
		}
		c := &r.resends[seq%sentSlots]
		if *c >= maxResends {
			return sentPacket{}, false
		}
		*c++
		return sentPacket{payload: payloads(f.u)[i], ts: f.ts, seq: seq, marker: i == f.n-1}, true
	}
	return sentPacket{}, false
}

// feedback is where a video sender's RTCP feedback goes.
type feedback struct {
	s           *session // resends go the way the session sends
	sent        *sentRing
	retransmits *uint64Counter // packets resent, for the metrics
	losses      *uint64Counter // NACKs: the catch-up pacer backs off on each
	remb        *atomic.Uint64 // the viewer's estimate of its path (REMB), bit/s
}

// readRTCP reads a sender's RTCP (pion needs it read; nil fb: that is all)
// and resends what NACKs ask for, on the same SSRC as pion's responder
// does. Each NACK counts as a loss and each REMB is kept: the catch-up
// pacer backs off on the one and keeps under the other.
func readRTCP(snd *webrtc.RTPSender, fb *feedback) {
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		if fb == nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				fb.remb.Store(uint64(p.Bitrate))
			case *rtcp.TransportLayerNack:
				fb.losses.add(1)
				for _, pair := range p.Nacks {
					pair.Range(func(seq uint16) bool {
						if e, ok := fb.sent.take(seq); ok {
							h := rtp.Header{Version: 2, SequenceNumber: e.seq, Timestamp: e.ts, Marker: e.marker}
							if n, err := fb.s.writeRTP(fb.s.video, &h, e.payload, nil); err == nil && n > 0 {
								fb.retransmits.add(1)
								fb.s.vstats.resent(len(e.payload))
							}
						}
						return true
					})
				}
			}
		}
	}
}
