package relay

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// gsoConn wraps the one UDP socket every WebRTC viewer shares. A session
// holds its viewer's address while it writes one frame: packets to a held
// address are queued and then sent with as few system calls as UDP generic
// segmentation offload allows (Linux UDP_SEGMENT: one sendmsg carries a run
// of equal-size datagrams, the last may be shorter). The per-packet kernel
// path, not the encryption, dominates a relay's CPU, and a frame's FU-A
// fragments are all one size. Everything else passes straight through.
type gsoConn struct {
	*net.UDPConn
	log     *slog.Logger
	enabled atomic.Bool

	mu   sync.Mutex
	held map[netip.AddrPort]*gsoQueue
	pool sync.Pool

	calls   atomic.Uint64 // sendmsg/sendto calls made for held packets
	packets atomic.Uint64 // packets those calls carried
}

type gsoQueue struct {
	buf   []byte
	sizes []int
}

// gsoMaxSegments and gsoMaxBytes are the kernel's limits for one GSO send.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

func newGSOConn(c *net.UDPConn, enable bool, log *slog.Logger) *gsoConn {
	g := &gsoConn{UDPConn: c, log: log, held: map[netip.AddrPort]*gsoQueue{}}
	g.pool.New = func() any { return &gsoQueue{buf: make([]byte, 0, 16<<10)} }
	g.enabled.Store(enable && gsoSupported(c))
	return g
}

func canon(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// WriteTo implements net.PacketConn.
func (g *gsoConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return g.WriteToAddrPort(b, ua.AddrPort())
	}
	return g.UDPConn.WriteTo(b, addr)
}

// WriteToAddrPort queues b when its destination is held, else sends it.
// pion's ICE mux uses this allocation-free form when it is offered.
func (g *gsoConn) WriteToAddrPort(b []byte, ap netip.AddrPort) (int, error) {
	if g.enabled.Load() {
		key := canon(ap)
		g.mu.Lock()
		if q := g.held[key]; q != nil && len(q.sizes) < 4*gsoMaxSegments {
			q.buf = append(q.buf, b...)
			q.sizes = append(q.sizes, len(b))
			g.mu.Unlock()
			return len(b), nil
		}
		g.mu.Unlock()
	}
	return g.UDPConn.WriteToUDPAddrPort(b, ap)
}

// hold starts queueing packets to ap; it reports whether the caller must
// flush (false when GSO is off or ap is already held).
func (g *gsoConn) hold(ap netip.AddrPort) bool {
	if !ap.IsValid() || !g.enabled.Load() {
		return false
	}
	key := canon(ap)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, busy := g.held[key]; busy {
		return false
	}
	q := g.pool.Get().(*gsoQueue)
	q.buf, q.sizes = q.buf[:0], q.sizes[:0]
	g.held[key] = q
	return true
}

// flush sends what was queued for ap and stops holding it.
func (g *gsoConn) flush(ap netip.AddrPort) error {
	key := canon(ap)
	g.mu.Lock()
	q := g.held[key]
	delete(g.held, key)
	g.mu.Unlock()
	if q == nil {
		return nil
	}
	defer g.pool.Put(q)
	off := 0
	for i := 0; i < len(q.sizes); {
		seg := q.sizes[i]
		j, total := i+1, seg
		for j < len(q.sizes) && q.sizes[j] == seg && j-i < gsoMaxSegments && total+seg <= gsoMaxBytes {
			total += seg
			j++
		}
		// One shorter datagram may end a run.
		if j < len(q.sizes) && q.sizes[j] < seg && j-i < gsoMaxSegments && total+q.sizes[j] <= gsoMaxBytes {
			total += q.sizes[j]
			j++
		}
		if err := g.send(q.buf[off:off+total], seg, j-i, ap); err != nil {
			// Fall back to one datagram at a time from here on.
			g.enabled.Store(false)
			g.log.Warn("UDP GSO send failed; sending packets one by one", "error", err)
			for k, o := i, off; k < len(q.sizes); k++ {
				if _, err := g.UDPConn.WriteToUDPAddrPort(q.buf[o:o+q.sizes[k]], ap); err != nil {
					return err
				}
				o += q.sizes[k]
			}
			return nil
		}
		g.calls.Add(1)
		g.packets.Add(uint64(j - i))
		off += total
		i = j
	}
	return nil
}

func (g *gsoConn) send(b []byte, seg, count int, ap netip.AddrPort) error {
	if count == 1 {
		_, err := g.UDPConn.WriteToUDPAddrPort(b, ap)
		return err
	}
	_, _, err := g.UDPConn.WriteMsgUDPAddrPort(b, segmentCmsg(seg), ap)
	return err
}

// ReadFromAddrPort completes pion's allocation-free reader/writer interface.
func (g *gsoConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return g.UDPConn.ReadFromUDPAddrPort(b)
}

// GSOStats reports the system calls made for held packets and the packets
// they carried (their ratio is the batching achieved).
func (g *gsoConn) stats() (calls, packets uint64) { return g.calls.Load(), g.packets.Load() }
