package webrtc

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// srStats is what a sender report says of one SSRC (RFC 3550 6.4.1): the
// RTP time of the newest frame against the wall-clock time its first
// packet left, and the packets and payload octets sent so far.
type srStats struct {
	mu      sync.Mutex
	ts      uint32
	at      time.Time
	packets uint32
	octets  uint32
}

// sent records packets of a frame with RTP time ts sent at at; a frame
// already recorded (a resend) only adds to the counts.
func (st *srStats) sent(ts uint32, at time.Time, packets, octets int) {
	st.mu.Lock()
	if st.packets == 0 || ts != st.ts {
		st.ts, st.at = ts, at
	}
	st.packets += uint32(packets)
	st.octets += uint32(octets)
	st.mu.Unlock()
}

// resent counts a packet sent again (RFC 3550: every packet transmitted).
func (st *srStats) resent(octets int) {
	st.mu.Lock()
	st.packets++
	st.octets += uint32(octets)
	st.mu.Unlock()
}

// report is the sender report at now for ssrc with the given clock rate;
// nil before the first packet (RFC 3550 6.4: no SR without data sent).
func (st *srStats) report(ssrc uint32, clock float64, now time.Time) *rtcp.SenderReport {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.packets == 0 {
		return nil
	}
	return &rtcp.SenderReport{
		SSRC:        ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     st.ts + uint32(now.Sub(st.at).Seconds()*clock),
		PacketCount: st.packets,
		OctetCount:  st.octets,
	}
}

// ntpTime is t as a 64-bit NTP timestamp (seconds since 1900, 32.32).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	return uint64(t.Unix()+unixToNTP)<<32 | uint64(t.Nanosecond())<<32/1e9
}

// reportInterval is how often each viewer gets sender reports.
const reportInterval = time.Second

// reportLoop sends every viewer a sender report per SSRC each second, as
// pion's report interceptor did with a goroutine per viewer: the browser
// maps RTP time to wall-clock time with it (lip sync) and measures the
// round trip from the receiver reports that answer it.
func (w *WHEP) reportLoop() {
	defer w.wg.Done()
	t := time.NewTicker(reportInterval)
	defer t.Stop()
	var all []*session
	for {
		var now time.Time
		select {
		case <-w.ctx.Done():
			return
		case now = <-t.C:
		}
		w.mu.Lock()
		all = all[:0]
		for _, s := range w.sessions {
			all = append(all, s)
		}
		w.mu.Unlock()
		for _, s := range all {
			if pkts := s.reports(now); len(pkts) > 0 {
				_ = s.pc.WriteRTCP(pkts) // a viewer that just left: nothing to do
			}
		}
		clear(all)
	}
}

// reports are the session's sender reports at now.
func (s *session) reports(now time.Time) []rtcp.Packet {
	var pkts []rtcp.Packet
	if _, ssrc, ok := s.video.params(); ok {
		if sr := s.vstats.report(ssrc, 90000, now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	if s.audio != nil {
		if _, ssrc, ok := s.audio.params(); ok {
			if sr := s.astats.report(ssrc, 8000, now); sr != nil {
				pkts = append(pkts, sr)
			}
		}
	}
	return pkts
}
