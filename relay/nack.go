package relay

import (
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sentRingSize is how many packets a viewer can ask to be resent: about
// three seconds of a 1.5 Mbps camera, plenty for any RTT a NACK can fix.
const sentRingSize = 512

// sentRing answers NACKs (RFC 4585) from the packets already sent. pion's
// NACK responder copies every outgoing packet into a per-viewer buffer;
// our payloads are immutable and shared across viewers, so keeping a
// reference costs neither a copy nor the memory.
type sentRing struct {
	mu      sync.Mutex
	entries [sentRingSize]sentPacket
}

type sentPacket struct {
	payload []byte
	ts      uint32
	seq     uint16
	marker  bool
	resends uint8
}

// maxResends bounds how often one packet is resent, so a viewer that keeps
// asking (a broken NACK generator, or an attacker) cannot multiply our load.
const maxResends = 2

func (r *sentRing) put(h *rtp.Header, payload []byte) {
	r.mu.Lock()
	r.entries[h.SequenceNumber%sentRingSize] = sentPacket{seq: h.SequenceNumber, ts: h.Timestamp, marker: h.Marker, payload: payload}
	r.mu.Unlock()
}

// take returns the packet with seq for resending, counting the resend.
func (r *sentRing) take(seq uint16) (sentPacket, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &r.entries[seq%sentRingSize]
	if e.payload == nil || e.seq != seq || e.resends >= maxResends {
		return sentPacket{}, false
	}
	e.resends++
	return *e, true
}

// readRTCP reads a sender's RTCP (the report interceptor needs it read) and
// resends what NACKs ask for, on the same SSRC as pion's responder does.
// Each NACK also counts in losses: the catch-up pacer backs off on it.
func readRTCP(snd *webrtc.RTPSender, track *outTrack, sent *sentRing, retransmits, losses *uint64Counter) {
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		if track == nil || sent == nil {
			continue
		}
		for _, p := range pkts {
			nack, ok := p.(*rtcp.TransportLayerNack)
			if !ok {
				continue
			}
			losses.add(1)
			for _, pair := range nack.Nacks {
				pair.Range(func(seq uint16) bool {
					if e, ok := sent.take(seq); ok {
						h := rtp.Header{Version: 2, SequenceNumber: e.seq, Timestamp: e.ts, Marker: e.marker}
						if _, err := track.write(&h, e.payload); err == nil {
							retransmits.add(1)
						}
					}
					return true
				})
			}
		}
	}
}
