package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sharpeyes/relay/whepclient"

	"sharpeyes/relay"
	"sharpeyes/relay/relaytest"
)

func newTestWHEP(t *testing.T) (*WHEP, *relaytest.Provider, context.CancelFunc) {
	t.Helper()
	return newTestWHEPMax(t, 0)
}

func newTestWHEPMax(t *testing.T, max int) (*WHEP, *relaytest.Provider, context.CancelFunc) {
	t.Helper()
	s := relay.NewStream(relay.StreamConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var fed sync.WaitGroup
	fed.Add(1)
	go func() { defer fed.Done(); relaytest.Feed(ctx, t, s) }()
	p := &relaytest.Provider{Streams: map[string]*relay.Stream{"cam1": s}}
	w, err := NewWHEP(WebRTCConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", ReadyTimeout: time.Second, MaxSessions: max}, p)
	if err != nil {
		t.Fatal(err)
	}
	return w, p, func() { w.Close(); cancel(); fed.Wait() }
}

func inProcess(w *WHEP, camera string) whepclient.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		_, answer, err := w.Offer(ctx, camera, "main", offer)
		return answer, err
	}
}

func TestWHEPViewerStartsOnKeyframeAndReceivesFrames(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w, p, stop := newTestWHEP(t)
	defer stop()
	time.Sleep(1300 * time.Millisecond) // join mid-GOP

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, inProcess(w, "cam1"), whepclient.Options{AcceptReplays: true})
	if err != nil {
		t.Fatal(err)
	}
	var first whepclient.Frame
	select {
	case first = <-c.Frames():
	case <-ctx.Done():
		t.Fatal("no frame")
	}
	if !first.Key || !first.HasParams {
		t.Fatalf("first frame key=%v params=%v; want an IDR with SPS/PPS", first.Key, first.HasParams)
	}
	// Count live frames for 2 s after the burst.
	start := time.Now()
	n := 0
	var last whepclient.Frame
	for time.Since(start) < 2*time.Second {
		select {
		case last = <-c.Frames():
			n++
		case <-ctx.Done():
			t.Fatal("frames stopped")
		}
	}
	if n < 45 { // 90% of 50, plus the burst
		t.Fatalf("%d frames in 2 s, want >= 45", n)
	}
	// Sender reports (reportLoop, one a second) map RTP time to the wall
	// clock as the frames arrived, and count what was sent.
	nsr, sr, _ := c.SenderReports()
	if nsr < 1 || sr.PacketCount < 100 || sr.OctetCount < 100*sr.PacketCount {
		t.Fatalf("%d sender reports, the newest %+v; want one a second counting the packets sent", nsr, sr)
	}
	at := time.Unix(int64(sr.NTPTime>>32)-2208988800, int64((sr.NTPTime&0xffffffff)*1e9>>32))
	want := last.Timestamp + uint32(at.Sub(last.Received).Seconds()*90000)
	if d := int32(sr.RTPTime - want); d > 9000 || d < -9000 {
		t.Fatalf("sender report: RTP time %d at %v, want %d (from the frame at %d received %v) within 100 ms", sr.RTPTime, at, want, last.Timestamp, last.Received)
	}
	// NACK: ask for two packets already received; both come again.
	seq := c.LastSeq()
	if err := c.NACK(seq-1, seq-2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for c.Duplicates() < 2 && time.Now().Before(deadline) {
		select {
		case <-c.Frames():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if c.Duplicates() < 2 || w.Retransmits() < 2 {
		t.Fatalf("NACK answered with %d resends (server counted %d), want 2", c.Duplicates(), w.Retransmits())
	}
	// Asking again and again gets at most maxResends copies.
	for i := 0; i < 5; i++ {
		_ = c.NACK(seq - 1)
	}
	time.Sleep(200 * time.Millisecond)
	if n := w.Retransmits(); n != 3 {
		t.Fatalf("server resent %d packets in all, want 3 (seq-1 twice, seq-2 once)", n)
	}
	if calls, pkts := w.SendStats(); w.gso.enabled.Load() && (calls == 0 || pkts <= calls) {
		t.Fatalf("UDP GSO: %d packets in %d calls, want batching", pkts, calls)
	}
	if w.Sessions("cam1") != 1 || p.Held() != 1 {
		t.Fatalf("sessions=%d held=%d, want 1 and 1", w.Sessions("cam1"), p.Held())
	}
	c.Close()
	deadline = time.Now().Add(15 * time.Second)
	for (w.Sessions("") != 0 || p.Held() != 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if w.Sessions("") != 0 || p.Held() != 0 {
		t.Fatalf("after the viewer left: sessions=%d held=%d", w.Sessions(""), p.Held())
	}
}

func TestWHEPRefusesBadOffers(t *testing.T) {
	w, p, stop := newTestWHEP(t)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, _, err := w.Offer(ctx, "cam1", "main", "v=0\r\nthis is not sdp"); !errors.Is(err, ErrBadOffer) {
		t.Errorf("garbage SDP: err = %v, want ErrBadOffer", err)
	}
	// A real browser offer (video and audio) repeated to 500 media sections.
	var many strings.Builder
	many.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&many, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:%d\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n", i)
	}
	if _, _, err := w.Offer(ctx, "cam1", "main", many.String()); !errors.Is(err, ErrBadOffer) || !strings.Contains(err.Error(), "500 media sections") {
		t.Errorf("500 media sections: err = %v, want ErrBadOffer saying so", err)
	}
	if p.Acquired() != 0 {
		t.Errorf("a junk offer acquired (started) the camera %d time(s)", p.Acquired())
	}
	if _, err := whepclient.Dial(ctx, inProcess(w, "nope"), whepclient.Options{}); !errors.Is(err, relay.ErrUnknownCamera) {
		t.Errorf("unknown camera: err = %v, want ErrUnknownCamera", err)
	}
	if _, err := whepclient.Dial(ctx, inProcess(w, "cam1"), whepclient.Options{Codecs: []string{"VP8"}}); !errors.Is(err, ErrCodecNotOffered) {
		t.Errorf("VP8-only offer: err = %v, want ErrCodecNotOffered", err)
	}
	if p.Held() != 0 || w.Sessions("") != 0 {
		t.Fatalf("refused offers left held=%d sessions=%d", p.Held(), w.Sessions(""))
	}
}

func TestWHEPDeleteUnknownSession(t *testing.T) {
	w, _, stop := newTestWHEP(t)
	defer stop()
	if err := w.Delete("does-not-exist"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("err = %v", err)
	}
}

// TestWHEPCapHoldsUnderConcurrentOffers: twenty offers at once against a
// cap of three make exactly three sessions.
func TestWHEPCapHoldsUnderConcurrentOffers(t *testing.T) {
	w, _, stop := newTestWHEPMax(t, 3)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, full int
	var clients []*whepclient.Client
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := whepclient.Dial(ctx, inProcess(w, "cam1"), whepclient.Options{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				clients = append(clients, c)
			case errors.Is(err, ErrTooManySessions):
				full++
			default:
				t.Errorf("offer: %v", err)
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	if ok != 3 || full != 17 {
		t.Fatalf("%d sessions and %d refused, want 3 and 17", ok, full)
	}
}

// realOffer is a pion viewer's offer (video and audio, its candidates in).
func realOffer(t *testing.T) string {
	t.Helper()
	var offer string
	errStop := errors.New("offer taken")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := whepclient.Dial(ctx, func(_ context.Context, o string) (string, error) { offer = o; return "", errStop }, whepclient.Options{})
	if !errors.Is(err, errStop) {
		t.Fatal(err)
	}
	return offer
}

// withCandidates is offer with its candidates replaced by a UDP host
// candidate for each address.
func withCandidates(offer string, addrs []*net.UDPAddr) string {
	var b strings.Builder
	first := true
	for _, line := range strings.Split(strings.TrimRight(offer, "\r\n"), "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") || strings.HasPrefix(line, "a=end-of-candidates") {
			continue
		}
		b.WriteString(line + "\r\n")
		if strings.HasPrefix(line, "m=") && first {
			first = false
			for i, a := range addrs {
				fmt.Fprintf(&b, "a=candidate:%d 1 udp %d %s %d typ host\r\n", i+1, 2130706431-i, a.IP, a.Port)
			}
		}
	}
	return b.String()
}

// TestWHEPOffersAreBounded: an offer naming 200 ICE candidates, a 100 kB
// ufrag, a section with port 0 or 70 kB of SDP is refused before anything
// starts and no STUN goes anywhere (before, 200 candidates made the
// gateway send 1,600 STUN packets to 200 addresses in 10 s); an offer
// naming three candidates is answered and checks only those three.
func TestWHEPOffersAreBounded(t *testing.T) {
	w, p, stop := newTestWHEP(t)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer := realOffer(t)
	// 200 sockets standing in for 200 hosts: what reaches each.
	var socks []net.PacketConn
	var addrs []*net.UDPAddr
	got := make([]atomic.Int64, 203)
	for i := 0; i < 203; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		socks = append(socks, pc)
		addrs = append(addrs, pc.LocalAddr().(*net.UDPAddr))
		go func(i int) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
				got[i].Add(1)
			}
		}(i)
	}
	ufrag := regexp.MustCompile(`a=ice-ufrag:[^\r]*`)
	bad := map[string]string{
		"200 candidates":  withCandidates(offer, addrs[:200]),
		"100 kB ufrag":    ufrag.ReplaceAllString(withCandidates(offer, addrs[:1]), "a=ice-ufrag:"+strings.Repeat("u", 100_000)),
		"port 0":          strings.Replace(withCandidates(offer, addrs[:1]), "m=video 9 ", "m=video 0 ", 1),
		"70 kB of offer":  withCandidates(offer, addrs[:1]) + "a=x-pad:" + strings.Repeat("p", 70_000) + "\r\n",
		"a 2-byte ufrag":  ufrag.ReplaceAllString(withCandidates(offer, addrs[:1]), "a=ice-ufrag:ab"),
		"33 candidates":   withCandidates(offer, addrs[:33]),
		"bad SDP as well": "v=0\r\nnot sdp",
	}
	for name, o := range bad {
		if _, _, err := w.Offer(ctx, "cam1", "main", o); !errors.Is(err, ErrBadOffer) {
			t.Errorf("%s: %v, want ErrBadOffer", name, err)
		}
	}
	if p.Acquired() != 0 || w.Sessions("") != 0 {
		t.Fatalf("refused offers started %d pulls, %d sessions", p.Acquired(), w.Sessions(""))
	}
	// Three candidates: answered, and STUN goes to those three alone.
	if _, _, err := w.Offer(ctx, "cam1", "main", withCandidates(offer, addrs[200:203])); err != nil {
		t.Fatalf("an offer with 3 candidates: %v", err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) && (got[200].Load() == 0 || got[201].Load() == 0 || got[202].Load() == 0) {
		time.Sleep(50 * time.Millisecond)
	}
	var elsewhere int64
	for i := 0; i < 200; i++ {
		elsewhere += got[i].Load()
	}
	if elsewhere != 0 || got[200].Load() == 0 || got[201].Load() == 0 || got[202].Load() == 0 {
		t.Fatalf("STUN to the refused offers' candidates: %d packets; to the three named: %d %d %d", elsewhere, got[200].Load(), got[201].Load(), got[202].Load())
	}
	t.Logf("STUN to the three named candidates: %d, %d, %d packets; to the 200 of refused offers: 0", got[200].Load(), got[201].Load(), got[202].Load())
}
