package relay

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestGSOConnBatchesHeldPacketsAndKeepsThemIntact(t *testing.T) {
	snd, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	rcv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
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
