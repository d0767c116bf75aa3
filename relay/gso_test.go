package relay

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// loopbackUDP opens a UDP socket on 127.0.0.1 closed with the test.
func loopbackUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGSOConnBatchesHeldPacketsAndKeepsThemIntact(t *testing.T) {
	snd, rcv := loopbackUDP(t), loopbackUDP(t)
	g := newGSOConn(snd, true, slog.New(slog.DiscardHandler))
	if !g.enabled.Load() {
		t.Skip("kernel without UDP_SEGMENT") // every Linux since 4.18 has it
	}
	dst := rcv.LocalAddr().(*net.UDPAddr).AddrPort()

	// A frame: equal FU-A fragments and a shorter last one, then a second run.
	sizes := []int{1200, 1200, 1200, 1200, 1200, 1200, 700, 300, 300}
	var sent [][]byte
	if !g.hold(dst) {
		t.Fatal("hold refused")
	}
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		sent = append(sent, p)
		if _, err := g.WriteTo(p, net.UDPAddrFromAddrPort(dst)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing leaves before the flush.
	rcv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 2000)
	if n, _, err := rcv.ReadFromUDP(buf); err == nil {
		t.Fatalf("a %d-byte datagram left before flush", n)
	}
	if err := g.flush(dst); err != nil {
		t.Fatal(err)
	}
	rcv.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i, want := range sent {
		n, _, err := rcv.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d: %d bytes starting %d, want %d bytes of %d", i, n, buf[0], len(want), want[0])
		}
	}
	calls, packets := g.stats()
	if calls != 2 || packets != uint64(len(sizes)) {
		t.Fatalf("%d calls for %d packets, want 2 calls for %d", calls, packets, len(sizes))
	}

	// Unheld destinations pass straight through.
	other := netip.MustParseAddrPort(dst.String())
	if _, err := g.WriteToAddrPort([]byte("direct"), other); err != nil {
		t.Fatal(err)
	}
	n, _, err := rcv.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "direct" {
		t.Fatalf("direct write: %q %v", buf[:n], err)
	}
}

func TestGSOBatchSendsManyViewersInOneSendmmsg(t *testing.T) {
	g := newGSOConn(loopbackUDP(t), true, slog.New(slog.DiscardHandler))
	if !g.enabled.Load() {
		t.Skip("kernel without UDP_SEGMENT")
	}
	const viewers = 4
	var rcvs []*net.UDPConn
	want := make([][][]byte, viewers)
	for range viewers {
		rcvs = append(rcvs, loopbackUDP(t))
	}
	b := gsoBatch{g: g}
	// Each viewer gets a frame of its own shape: equal fragments and a
	// short last one, then (for some) a second run.
	shapes := [][]int{{1200, 1200, 1200, 500}, {900}, {1200, 1200, 700, 300, 300}, {1100, 1100}}
	for v, rcv := range rcvs {
		ap := rcv.LocalAddr().(*net.UDPAddr).AddrPort()
		if !b.hold(ap) {
			t.Fatalf("viewer %d: hold refused", v)
		}
		for i, n := range shapes[v] {
			p := bytes.Repeat([]byte{byte(16*v + i + 1)}, n)
			want[v] = append(want[v], p)
			if _, err := g.WriteToAddrPort(p, ap); err != nil {
				t.Fatal(err)
			}
		}
		b.done()
	}
	// Nothing leaves before the batch is sent; then one system call.
	rcvs[0].SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 2000)
	if n, _, err := rcvs[0].ReadFromUDP(buf); err == nil {
		t.Fatalf("a %d-byte datagram left before the batch was sent", n)
	}
	calls0, pkts0 := g.stats()
	b.send()
	calls, pkts := g.stats()
	total := 0
	for _, s := range shapes {
		total += len(s)
	}
	if calls-calls0 != 1 || pkts-pkts0 != uint64(total) {
		t.Fatalf("%d system calls for %d packets, want 1 for %d", calls-calls0, pkts-pkts0, total)
	}
	for v, rcv := range rcvs {
		rcv.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i, p := range want[v] {
			n, _, err := rcv.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("viewer %d datagram %d: %v", v, i, err)
			}
			if !bytes.Equal(buf[:n], p) {
				t.Fatalf("viewer %d datagram %d: %d bytes of %d, want %d bytes of %d", v, i, n, buf[0], len(p), p[0])
			}
		}
	}
	if len(b.arena.buf) != 0 || len(g.held) != 0 {
		t.Fatalf("after send: arena %d bytes, %d addresses still held", len(b.arena.buf), len(g.held))
	}
	// A link-local peer's scope cannot ride in the batch: not held, so its
	// packets go out with their zone through the ordinary path.
	if b.hold(netip.MustParseAddrPort("[fe80::1%lo]:5000")) {
		t.Fatal("a zoned link-local address was held for the batch")
	}
}

func TestGSOBatchArenaStaysBounded(t *testing.T) {
	snd, rcv := loopbackUDP(t), loopbackUDP(t)
	rcv.SetReadBuffer(4 << 20)
	g := newGSOConn(snd, true, slog.New(slog.DiscardHandler))
	if !g.enabled.Load() {
		t.Skip("kernel without UDP_SEGMENT")
	}
	b := gsoBatch{g: g}
	ap := rcv.LocalAddr().(*net.UDPAddr).AddrPort()
	frame := 50 * 1200 // a keyframe
	p := make([]byte, 1200)
	peak := 0
	for v := 0; v < 20; v++ { // 20 viewers of the same address, one after the other
		if !b.hold(ap) {
			t.Fatal("hold refused")
		}
		for i := 0; i < frame/1200; i++ {
			if _, err := g.WriteToAddrPort(p, ap); err != nil {
				t.Fatal(err)
			}
		}
		peak = max(peak, len(b.arena.buf))
		b.done()
	}
	b.send()
	if peak > gsoBatchMax+frame {
		t.Fatalf("arena peaked at %d bytes for 20 keyframes, want at most %d", peak, gsoBatchMax+frame)
	}
	if _, pkts := g.stats(); pkts != 20*50 {
		t.Fatalf("%d packets sent, want %d", pkts, 20*50)
	}
}
