package webrtc

import (
	"bytes"
	"testing"

	"sharpeyes/relay"
)

func TestSentRingFindsPacketsByFrameAndBoundsResends(t *testing.T) {
	var r sentRing
	big := bytes.Repeat([]byte{5}, 3000) // one NAL in three FU-A fragments
	mk := func(b byte) *relay.Unit {
		return &relay.Unit{Codec: relay.CodecH264, NALUs: [][]byte{append([]byte{0x41}, bytes.Repeat([]byte{b}, 2500)...)}}
	}
	// Every frame is three packets; sequence numbers wrap inside the
	// second newest frame (65535, 0, 1).
	seq := uint16(65535 - 3*(sentFrames+1))
	var units []*relay.Unit
	var firsts []uint16
	for i := range sentFrames + 3 {
		u := mk(byte(i))
		if i == 0 {
			u = &relay.Unit{Codec: relay.CodecH264, NALUs: [][]byte{append([]byte{0x65}, big...)}}
		}
		n := len(payloads(u))
		r.put(u, seq, n, uint32(1000*i))
		units, firsts = append(units, u), append(firsts, seq)
		seq += uint16(n)
	}
	last := len(units) - 1
	// The newest frame's last packet: its payload, time and marker.
	u, f := units[last], firsts[last]
	n := uint16(len(payloads(u)))
	p, ok := r.take(f + n - 1)
	if !ok || !bytes.Equal(p.payload, payloads(u)[n-1]) || p.ts != uint32(1000*last) || !p.marker || p.seq != f+n-1 {
		t.Fatalf("newest last packet: ok=%v ts=%d marker=%v seq=%d", ok, p.ts, p.marker, p.seq)
	}
	// The middle packet of the frame that wrapped past 65535.
	w := last - 1
	if firsts[w] != 65535 || len(payloads(units[w])) != 3 {
		t.Fatalf("frame %d starts at %d with %d packets; the test wants it to wrap", w, firsts[w], len(payloads(units[w])))
	}
	p, ok = r.take(0)
	if !ok || p.marker || p.ts != uint32(1000*w) || !bytes.Equal(p.payload, payloads(units[w])[1]) {
		t.Fatalf("seq 0 (middle of the wrapping frame): ok=%v marker=%v ts=%d", ok, p.marker, p.ts)
	}
	// At most maxResends copies of one packet.
	if _, ok := r.take(f); !ok {
		t.Fatal("first resend refused")
	}
	if _, ok := r.take(f); !ok {
		t.Fatal("second resend refused")
	}
	if _, ok := r.take(f); ok {
		t.Fatalf("third resend of seq %d allowed, want at most %d", f, maxResends)
	}
	// Older than the history, or never sent: nothing.
	if _, ok := r.take(firsts[0]); ok {
		t.Fatalf("a packet of frame 0 (%d frames ago) resent; the history holds %d frames", last, sentFrames)
	}
	if _, ok := r.take(seq + 10); ok {
		t.Fatal("a sequence number never sent was resent")
	}
}
