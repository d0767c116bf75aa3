package webrtc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
)

// The payloads must decode with an independent RFC 6184 depacketizer back to
// the same NAL units.
func TestPacketizeH264RoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0xAB}, 5000)
	big[0] = 0x65
	au := [][]byte{{0x67, 1, 2, 3}, {0x68, 4}, {0x06, 5, 5}, big}
	payloads := packetizeH264(au, webrtcPayloadMax)
	if len(payloads) < 5 {
		t.Fatalf("%d payloads, want a STAP-A plus FU-A fragments", len(payloads))
	}
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for i, p := range payloads {
		if len(p) > webrtcPayloadMax {
			t.Fatalf("payload %d is %d bytes, over %d", i, len(p), webrtcPayloadMax)
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Marker: i == len(payloads)-1}, Payload: p}
		nalus, err := dec.Decode(pkt)
		if err != nil && !errors.Is(err, rtph264.ErrMorePacketsNeeded) {
			t.Fatalf("packet %d: %v", i, err)
		}
		got = append(got, nalus...)
	}
	if len(got) != len(au) {
		t.Fatalf("decoded %d NAL units, want %d", len(got), len(au))
	}
	for i := range au {
		if !bytes.Equal(got[i], au[i]) {
			t.Fatalf("NAL unit %d differs", i)
		}
	}
}

func TestPacketizeH265RoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0xCD}, 4000)
	big[0], big[1] = 19<<1, 1 // IDR_W_RADL
	au := [][]byte{{32 << 1, 1, 9}, {33 << 1, 1, 8}, {34 << 1, 1, 7}, big}
	dec := &rtph265.Decoder{}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	payloads := packetizeH265(au, webrtcPayloadMax)
	for i, p := range payloads {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Marker: i == len(payloads)-1}, Payload: p}
		nalus, err := dec.Decode(pkt)
		if err != nil && !errors.Is(err, rtph265.ErrMorePacketsNeeded) {
			t.Fatalf("packet %d: %v", i, err)
		}
		got = append(got, nalus...)
	}
	if len(got) != len(au) || !bytes.Equal(got[3], big) || !bytes.Equal(got[0], au[0]) {
		t.Fatalf("decoded %d NAL units, want %d identical", len(got), len(au))
	}
}
