package webrtc

import "sharpeyes/relay"

// webrtcPayloadMax keeps SRTP packets under a 1280-byte path MTU with room
// for the RTP header, extensions and the SRTP auth tag.
const webrtcPayloadMax = 1160

// payloads are a unit's RTP payloads at the WebRTC MTU, computed once and
// shared by every viewer; the last carries the marker.
func payloads(u *relay.Unit) [][]byte {
	return u.Memo(relay.MemoWebRTC, func() [][]byte {
		switch u.Codec {
		case relay.CodecH264:
			return packetizeH264(u.NALUs, webrtcPayloadMax)
		case relay.CodecH265:
			return packetizeH265(u.NALUs, webrtcPayloadMax)
		}
		return [][]byte{u.Payload}
	})
}

// rtpScheme describes how one codec's NAL units go into RTP payloads:
// small units aggregated, large ones fragmented.
type rtpScheme struct {
	nalHeader int                       // bytes of NAL unit header (1 for H.264, 2 for H.265)
	aggHeader func(first []byte) []byte // aggregation packet header
	fuHeader  func(n []byte) []byte     // fragmentation unit header without the S/E byte
	fuType    func(n []byte) byte       // the original NAL type for the FU header
}

// H.264, RFC 6184: STAP-A (24) and FU-A (28).
var h264Scheme = rtpScheme{
	nalHeader: 1,
	aggHeader: func(first []byte) []byte { return []byte{first[0]&0x60 | 24} },
	fuHeader:  func(n []byte) []byte { return []byte{n[0]&0xe0 | 28} },
	fuType:    func(n []byte) byte { return n[0] & 0x1f },
}

// H.265, RFC 7798: aggregation packets (48) and fragmentation units (49);
// F, LayerId and TID are kept from the unit.
var h265Scheme = rtpScheme{
	nalHeader: 2,
	aggHeader: func(first []byte) []byte { return []byte{first[0]&0x81 | 48<<1, first[1]} },
	fuHeader:  func(n []byte) []byte { return []byte{n[0]&0x81 | 49<<1, n[1]} },
	fuType:    func(n []byte) byte { return (n[0] >> 1) & 0x3f },
}

func packetizeH264(nalus [][]byte, max int) [][]byte { return h264Scheme.packetize(nalus, max) }
func packetizeH265(nalus [][]byte, max int) [][]byte { return h265Scheme.packetize(nalus, max) }

// packetize splits an access unit into payloads of at most max bytes.
func (sc rtpScheme) packetize(nalus [][]byte, max int) [][]byte {
	var out [][]byte
	var batch [][]byte
	aggLen := len(sc.aggHeader(make([]byte, sc.nalHeader)))
	batchSize := aggLen
	flush := func() {
		switch len(batch) {
		case 0:
		case 1:
			out = append(out, batch[0])
		default:
			p := make([]byte, 0, batchSize)
			p = append(p, sc.aggHeader(batch[0])...)
			for _, n := range batch {
				p = append(p, byte(len(n)>>8), byte(len(n)))
				p = append(p, n...)
			}
			out = append(out, p)
		}
		batch, batchSize = batch[:0], aggLen
	}
	for _, n := range nalus {
		if len(n) < sc.nalHeader {
			continue
		}
		if len(n)+2+aggLen > max {
			flush()
			out = sc.fragment(out, n, max)
			continue
		}
		if batchSize+2+len(n) > max {
			flush()
		}
		batch = append(batch, n)
		batchSize += 2 + len(n)
	}
	flush()
	return out
}

// fragment splits one NAL unit into fragmentation units sharing one buffer.
func (sc rtpScheme) fragment(out [][]byte, n []byte, max int) [][]byte {
	hdr := sc.fuHeader(n)
	typ := sc.fuType(n)
	body := n[sc.nalHeader:]
	over := len(hdr) + 1
	chunk := max - over
	frags := (len(body) + chunk - 1) / chunk
	buf := make([]byte, len(body)+over*frags) // one allocation for every fragment
	for first := true; len(body) > 0; first = false {
		size := min(chunk, len(body))
		fu := typ
		if first {
			fu |= 0x80
		}
		if size == len(body) {
			fu |= 0x40
		}
		p := buf[: over+size : over+size]
		buf = buf[over+size:]
		copy(p, hdr)
		p[len(hdr)] = fu
		copy(p[over:], body[:size])
		out = append(out, p)
		body = body[size:]
	}
	return out
}
