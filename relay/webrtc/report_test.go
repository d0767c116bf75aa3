package webrtc

import (
	"testing"
	"time"
)

func TestSenderReportMapsRTPTimeToTheWallClock(t *testing.T) {
	var st srStats
	t0 := time.Unix(1_800_000_000, 0)
	if sr := st.report(7, 90000, t0); sr != nil {
		t.Fatalf("a report before any packet was sent: %+v", sr)
	}
	st.sent(1000, t0, 6, 6000)
	st.sent(1000+3600, t0.Add(40*time.Millisecond), 5, 5000) // the next frame
	st.resent(1000)                                          // a NACK answered
	sr := st.report(7, 90000, t0.Add(540*time.Millisecond))
	if sr.SSRC != 7 || sr.PacketCount != 12 || sr.OctetCount != 12000 {
		t.Fatalf("report %+v, want SSRC 7, 12 packets, 12000 octets", sr)
	}
	// 500 ms after the newest frame's first packet, at 90 kHz.
	if want := uint32(1000 + 3600 + 45000); sr.RTPTime != want {
		t.Fatalf("RTP time %d, want %d", sr.RTPTime, want)
	}
	if want := uint64(1_800_000_000+2208988800)<<32 | 0x8a3d70a3; sr.NTPTime != want { // .54 s
		t.Fatalf("NTP time %#x, want %#x", sr.NTPTime, want)
	}
}
