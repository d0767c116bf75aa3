package ps

import "github.com/pion/rtp"

// reorderWindow is how many packets may arrive ahead of a missing one
// before it is given up as lost (at a few Mbit/s, tens of milliseconds).
const reorderWindow = 32

// Depacketizer feeds a program stream carried over RTP (GB/T 28181: PS
// split across packets, one RTP timestamp per frame, the marker bit on a
// frame's last packet) into a Demuxer: packets are put back in order
// within reorderWindow, a packet that never comes is loss (the demuxer
// resynchronises at the next pack header), and the marker bit and a new
// timestamp are frame boundaries for the demuxer to follow once they
// prove right (Demuxer.Boundary).
type Depacketizer struct {
	d       *Demuxer
	started bool
	next    uint16 // sequence number expected
	lastTS  uint32
	haveTS  bool
	pending map[uint16]*rtp.Packet
	// Lost and Late count packets given up on and packets that came too
	// late (or twice) to be used.
	Lost, Late uint64
}

// NewDepacketizer feeds d.
func NewDepacketizer(d *Demuxer) *Depacketizer {
	return &Depacketizer{d: d, pending: map[uint16]*rtp.Packet{}}
}

// Timestamp is the RTP timestamp of the packet being demultiplexed (for
// frames whose PES carries no PTS).
func (p *Depacketizer) Timestamp() uint32 { return p.lastTS }

// Push takes one RTP packet. The packet's payload must stay valid until
// Push returns for it or, if it arrived early, until it is used.
func (p *Depacketizer) Push(pkt *rtp.Packet) {
	if !p.started {
		p.started, p.next = true, pkt.SequenceNumber
	}
	switch diff := int16(pkt.SequenceNumber - p.next); {
	case diff < 0:
		p.Late++
		return
	case diff > 0:
		if _, dup := p.pending[pkt.SequenceNumber]; dup {
			p.Late++
			return
		}
		p.pending[pkt.SequenceNumber] = pkt
		if len(p.pending) >= reorderWindow {
			p.skip()
		}
		return
	}
	p.use(pkt)
	p.drain()
}

// skip gives up on the missing packets before the earliest one waiting.
func (p *Depacketizer) skip() {
	first, best := uint16(0), 1<<16
	for seq := range p.pending {
		if d := int(seq - p.next); d < best {
			first, best = seq, d
		}
	}
	p.Lost += uint64(best)
	p.d.Lost()
	p.haveTS = false
	p.next = first
	p.drain()
}

func (p *Depacketizer) drain() {
	for {
		pkt, ok := p.pending[p.next]
		if !ok {
			return
		}
		delete(p.pending, p.next)
		p.use(pkt)
	}
}

func (p *Depacketizer) use(pkt *rtp.Packet) {
	p.next = pkt.SequenceNumber + 1
	if p.haveTS && pkt.Timestamp != p.lastTS {
		p.d.Boundary()
	}
	p.lastTS, p.haveTS = pkt.Timestamp, true
	p.d.Write(pkt.Payload)
	if pkt.Marker {
		p.d.Boundary()
	}
}

// Packetizer splits a program stream into RTP packets.
type Packetizer struct {
	PayloadType uint8 // 96 in GB/T 28181
	SSRC        uint32
	MTU         int // payload bytes per packet (default 1400)
	seq         uint16
}

// Packets splits one frame's program stream bytes into packets with the
// frame's timestamp, the marker bit on the last. The packets' payloads
// are slices of ps.
func (p *Packetizer) Packets(ps []byte, ts uint32) []*rtp.Packet {
	mtu := p.MTU
	if mtu <= 0 {
		mtu = 1400
	}
	var out []*rtp.Packet
	for len(ps) > 0 {
		n := min(mtu, len(ps))
		out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.PayloadType, SequenceNumber: p.seq,
			Timestamp: ts, SSRC: p.SSRC, Marker: n == len(ps)}, Payload: ps[:n]})
		p.seq++
		ps = ps[n:]
	}
	return out
}
