package relay

// webrtcPayloadMax keeps SRTP packets under a 1280-byte path MTU with room
// for the RTP header, extensions and the SRTP auth tag.
const webrtcPayloadMax = 1160

// packetizeH264 splits an access unit into RFC 6184 payloads: small NAL units
// are aggregated into STAP-A packets, large ones fragmented into FU-A.
func packetizeH264(nalus [][]byte, max int) [][]byte {
	var out [][]byte
	var batch [][]byte
	batchSize := 1 // STAP-A header
	flush := func() {
		switch len(batch) {
		case 0:
		case 1:
			out = append(out, batch[0])
		default:
			p := make([]byte, 0, batchSize)
			nri := byte(0)
			for _, n := range batch {
				nri = max8(nri, n[0]&0x60)
			}
			p = append(p, nri|24)
			for _, n := range batch {
				p = append(p, byte(len(n)>>8), byte(len(n)))
				p = append(p, n...)
			}
			out = append(out, p)
		}
		batch, batchSize = batch[:0], 1
	}
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if len(n)+2+1 > max {
			flush()
			out = appendFUA(out, n, max)
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

func appendFUA(out [][]byte, n []byte, max int) [][]byte {
	indicator := n[0]&0xe0 | 28
	typ := n[0] & 0x1f
	body := n[1:]
	chunk := max - 2
	frags := (len(body) + chunk - 1) / chunk
	buf := make([]byte, len(body)+2*frags) // one allocation for every fragment
	for first := true; len(body) > 0; first = false {
		size := min(chunk, len(body))
		hdr := typ
		if first {
			hdr |= 0x80
		}
		if size == len(body) {
			hdr |= 0x40
		}
		p := buf[: 2+size : 2+size]
		buf = buf[2+size:]
		p[0], p[1] = indicator, hdr
		copy(p[2:], body[:size])
		out = append(out, p)
		body = body[size:]
	}
	return out
}

// packetizeH265 splits an access unit into RFC 7798 payloads: single NAL unit
// packets, aggregation packets (type 48) and fragmentation units (type 49).
func packetizeH265(nalus [][]byte, max int) [][]byte {
	var out [][]byte
	var batch [][]byte
	batchSize := 2
	flush := func() {
		switch len(batch) {
		case 0:
		case 1:
			out = append(out, batch[0])
		default:
			p := make([]byte, 0, batchSize)
			// F, LayerId and TID from the first unit, type 48 (AP).
			p = append(p, batch[0][0]&0x81|48<<1, batch[0][1])
			for _, n := range batch {
				p = append(p, byte(len(n)>>8), byte(len(n)))
				p = append(p, n...)
			}
			out = append(out, p)
		}
		batch, batchSize = batch[:0], 2
	}
	for _, n := range nalus {
		if len(n) < 2 {
			continue
		}
		if len(n)+2+2 > max {
			flush()
			typ := (n[0] >> 1) & 0x3f
			h0, h1 := n[0]&0x81|49<<1, n[1]
			body := n[2:]
			chunk := max - 3
			for first := true; len(body) > 0; first = false {
				size := min(chunk, len(body))
				fu := typ
				if first {
					fu |= 0x80
				}
				if size == len(body) {
					fu |= 0x40
				}
				p := make([]byte, 3+size)
				p[0], p[1], p[2] = h0, h1, fu
				copy(p[3:], body[:size])
				out = append(out, p)
				body = body[size:]
			}
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

func max8(a, b byte) byte {
	if a > b {
		return a
	}
	return b
}
