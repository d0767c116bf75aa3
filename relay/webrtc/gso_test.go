package webrtc

import (
	"bytes"
	"errors"
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

// The media socket's raw reads and sends (gso_linux.go) on a dual-stack
// socket, the default ":8189": an IPv4 peer's address reads v4-mapped,
// exactly as the standard library gives it, an IPv6 peer's as itself, and
// a datagram sent back to either address arrives intact.
func TestGSOConnRawCallsOnADualStackSocket(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	g := newGSOConn(srv, true, slog.New(slog.DiscardHandler))
	if g.raw == nil || !g.v6 {
		t.Fatalf("raw connection %v, IPv6 socket %v: want both", g.raw != nil, g.v6)
	}
	port := uint16(srv.LocalAddr().(*net.UDPAddr).Port)
	peers := []struct {
		name, listen string
		to           netip.AddrPort
	}{
		{"IPv4", "127.0.0.1:0", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)},
		{"IPv6", "[::1]:0", netip.AddrPortFrom(netip.IPv6Loopback(), port)},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			c, err := net.ListenPacket("udp", p.listen)
			if err != nil {
				t.Fatalf("%s loopback: %v", p.name, err)
			}
			defer c.Close()
			if _, err := c.WriteTo([]byte("ping "+p.name), net.UDPAddrFromAddrPort(p.to)); err != nil {
				t.Fatal(err)
			}
			_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			n, from, err := g.ReadFromAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			local := c.LocalAddr().(*net.UDPAddr).AddrPort()
			want := netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), local.Port()) // v4-mapped for IPv4
			if string(buf[:n]) != "ping "+p.name || from != want {
				t.Fatalf("read %q from %v, want %q from %v", buf[:n], from, "ping "+p.name, want)
			}
			msg := bytes.Repeat([]byte{0xab}, 1200)
			if n, err := g.WriteToAddrPort(msg, from); err != nil || n != len(msg) {
				t.Fatalf("raw send to %v: %d bytes, %v", from, n, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err = c.ReadFrom(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("the peer got %d bytes (%v), want the 1200 sent", n, err)
			}
		})
	}
	// A closed socket ends a read with an error, as the UDP mux expects.
	srv.Close()
	if _, _, err := g.ReadFromAddrPort(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed socket: %v, want net.ErrClosed", err)
	}
}
