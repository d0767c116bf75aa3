package webrtc

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pion/rtp"
)

// gsoConn wraps the one UDP socket every WebRTC viewer shares. A sender
// holds a viewer's address while it writes one frame: packets to a held
// address are queued and then sent with as few system calls as UDP generic
// segmentation offload allows (Linux UDP_SEGMENT: one message carries a
// run of equal-size datagrams, the last may be shorter). The live fan-out
// (fanout.go) holds every viewer of a shard at once and sends all their
// queues with one sendmmsg. The per-packet kernel path, not the
// encryption, dominates a relay's CPU, and a frame's FU-A fragments are
// all one size. Everything else passes straight through.
type gsoConn struct {
	*net.UDPConn
	raw     syscall.RawConn // for system calls made without the runtime's syscall bookkeeping (gso_linux.go)
	log     *slog.Logger
	enabled atomic.Bool
	v6      bool // an AF_INET6 socket: IPv4 peers are addressed v4-mapped

	mu   sync.Mutex
	held map[netip.AddrPort]*gsoQueue
	taps map[netip.AddrPort]*rtpTap // under mu
	pool sync.Pool

	ntaps atomic.Int32 // len(taps), read without the lock
	zones sync.Map     // interface index -> name, for scoped IPv6 senders (gso_linux.go)

	calls   atomic.Uint64 // system calls made for held packets
	packets atomic.Uint64 // packets those calls carried
}

type gsoQueue struct {
	buf   []byte
	sizes []int
	arena bool // a batch's buffer shared by many viewers: never sent early
}

// gsoMaxSegments and gsoMaxBytes are the kernel's limits for one GSO send.
// A held queue is sent early once it holds gsoQueueMax bytes (a keyframe),
// so a queue never grows past that.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
	gsoQueueMax    = 32 << 10
)

func newGSOConn(c *net.UDPConn, enable bool, log *slog.Logger) *gsoConn {
	g := &gsoConn{UDPConn: c, log: log, held: map[netip.AddrPort]*gsoQueue{}, v6: socketIsV6(c)}
	g.raw, _ = c.SyscallConn() // nil: the standard library's calls
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
	if g.ntaps.Load() > 0 {
		g.tapped(canon(ap), b)
	}
	if g.enabled.Load() {
		key := canon(ap)
		g.mu.Lock()
		if q := g.held[key]; q != nil {
			var full *gsoQueue
			if !q.arena && len(q.buf)+len(b) > gsoQueueMax && len(q.sizes) > 0 {
				// Send what is queued now, in order, and queue on afresh.
				full, q = q, g.newQueue()
				g.held[key] = q
			}
			q.buf = append(q.buf, b...)
			q.sizes = append(q.sizes, len(b))
			g.mu.Unlock()
			if full != nil {
				err := g.sendQueue(full, ap)
				g.putQueue(full)
				if err != nil {
					return 0, err
				}
			}
			return len(b), nil
		}
		g.mu.Unlock()
	}
	return g.writeTo(b, ap)
}

// rtpTap keeps a copy of the first RTP packet of one SSRC sent to an
// address: what pion sealed, for a session to check its own keys against.
type rtpTap struct {
	key  netip.AddrPort
	ssrc uint32
	seq  uint16
	pkt  []byte // nil until seen
}

// tap starts watching for the first RTP packet of ssrc sent to ap.
func (g *gsoConn) tap(ap netip.AddrPort, ssrc uint32) *rtpTap {
	t := &rtpTap{key: canon(ap), ssrc: ssrc}
	g.mu.Lock()
	if g.taps == nil {
		g.taps = map[netip.AddrPort]*rtpTap{}
	}
	g.taps[t.key] = t
	g.ntaps.Store(int32(len(g.taps)))
	g.mu.Unlock()
	return t
}

// untap stops t watching and returns what it saw: the packet (nil if
// none) and its sequence number.
func (g *gsoConn) untap(t *rtpTap) ([]byte, uint16) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.taps[t.key] == t {
		delete(g.taps, t.key)
		g.ntaps.Store(int32(len(g.taps)))
	}
	return t.pkt, t.seq
}

func (g *gsoConn) tapped(key netip.AddrPort, b []byte) {
	// RTP version 2 with an SSRC; payload types 64-95 are RTCP's (RFC 5761).
	if len(b) < 12 || b[0]>>6 != 2 {
		return
	}
	if pt := b[1] & 0x7f; pt >= 64 && pt < 96 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.taps[key]; t != nil && t.pkt == nil && binary.BigEndian.Uint32(b[8:12]) == t.ssrc {
		t.pkt, t.seq = slices.Clone(b), binary.BigEndian.Uint16(b[2:4])
	}
}

func (g *gsoConn) newQueue() *gsoQueue {
	q := g.pool.Get().(*gsoQueue)
	q.buf, q.sizes = q.buf[:0], q.sizes[:0]
	return q
}

func (g *gsoConn) putQueue(q *gsoQueue) {
	if cap(q.buf) <= 2*gsoQueueMax {
		g.pool.Put(q)
	}
}

// hold starts queueing packets to ap; it reports whether the caller must
// flush (false when GSO is off or ap is already held).
func (g *gsoConn) hold(ap netip.AddrPort) bool {
	return g.holdInto(ap, nil)
}

// holdInto holds ap with packets going into q (a fresh queue when nil).
func (g *gsoConn) holdInto(ap netip.AddrPort, q *gsoQueue) bool {
	if !ap.IsValid() || !g.enabled.Load() {
		return false
	}
	key := canon(ap)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, busy := g.held[key]; busy {
		return false
	}
	if q == nil {
		q = g.newQueue()
	}
	g.held[key] = q
	return true
}

// release stops holding ap and returns what was queued for it (nil when
// nothing was held).
func (g *gsoConn) release(ap netip.AddrPort) *gsoQueue {
	key := canon(ap)
	g.mu.Lock()
	q := g.held[key]
	delete(g.held, key)
	g.mu.Unlock()
	return q
}

// flush sends what was queued for ap and stops holding it.
func (g *gsoConn) flush(ap netip.AddrPort) error {
	q := g.release(ap)
	if q == nil {
		return nil
	}
	defer g.putQueue(q)
	return g.sendQueue(q, ap)
}

// gsoRun is a run of datagrams one GSO message carries: bytes [off,
// off+n) of a queue, cut into seg-byte segments (the last may be shorter).
type gsoRun struct{ off, n, seg, count int }

// cutRuns cuts datagrams of the given sizes, starting at byte off of
// their buffer, into GSO messages.
func cutRuns(sizes []int, off int, out []gsoRun) []gsoRun {
	for i := 0; i < len(sizes); {
		seg := sizes[i]
		j, total := i+1, seg
		for j < len(sizes) && sizes[j] == seg && j-i < gsoMaxSegments && total+seg <= gsoMaxBytes {
			total += seg
			j++
		}
		// One shorter datagram may end a run.
		if j < len(sizes) && sizes[j] < seg && j-i < gsoMaxSegments && total+sizes[j] <= gsoMaxBytes {
			total += sizes[j]
			j++
		}
		out = append(out, gsoRun{off: off, n: total, seg: seg, count: j - i})
		off += total
		i = j
	}
	return out
}

// sendQueue sends a queue with one system call per run.
func (g *gsoConn) sendQueue(q *gsoQueue, ap netip.AddrPort) error {
	var buf [8]gsoRun
	for _, r := range cutRuns(q.sizes, 0, buf[:0]) {
		if err := g.sendRun(q.buf, r, ap); err != nil {
			return err
		}
	}
	return nil
}

// sendRun sends one run; should GSO fail, it is switched off and the run
// goes out one datagram at a time.
func (g *gsoConn) sendRun(buf []byte, r gsoRun, ap netip.AddrPort) error {
	b := buf[r.off : r.off+r.n]
	if r.count == 1 || !g.enabled.Load() {
		return g.sendEach(b, r.seg, ap)
	}
	if err := g.writeMsg(b, segmentCmsg(r.seg), ap); err != nil {
		g.enabled.Store(false)
		g.log.Warn("UDP GSO send failed; sending packets one by one", "error", err)
		return g.sendEach(b, r.seg, ap)
	}
	g.calls.Add(1)
	g.packets.Add(uint64(r.count))
	return nil
}

// sendEach sends b as seg-byte datagrams (the last may be shorter).
func (g *gsoConn) sendEach(b []byte, seg int, ap netip.AddrPort) error {
	for len(b) > 0 {
		n := min(seg, len(b))
		if _, err := g.writeTo(b[:n], ap); err != nil {
			return err
		}
		g.calls.Add(1)
		g.packets.Add(1)
		b = b[n:]
	}
	return nil
}

// ReadFromAddrPort completes pion's allocation-free reader/writer interface.
func (g *gsoConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return g.readFrom(b)
}

// stats reports the system calls made for held packets and the packets
// they carried (their ratio is the batching achieved).
func (g *gsoConn) stats() (calls, packets uint64) { return g.calls.Load(), g.packets.Load() }

// gsoBatch sends the packets of many viewers together. Their packets go
// into one buffer (the arena), viewer after viewer, and leave with as few
// system calls as the platform allows: on Linux one sendmmsg carries a GSO
// message per run of every viewer (gso_linux.go). The arena is sent once
// it holds gsoBatchMax bytes, so its size does not grow with the viewers.
// A batch is used by one goroutine.
type gsoBatch struct {
	g     *gsoConn
	arena gsoQueue
	spans []gsoSpan
	open  gsoSpan     // the viewer being written
	held  bool        // open's address is held in the socket (hold, not begin)
	sys   gsoBatchSys // the platform's message buffers, reused
}

// gsoSpan is one viewer's packets in the arena.
type gsoSpan struct {
	ap         netip.AddrPort
	off, first int // byte offset and index of its first datagram
}

const gsoBatchMax = 256 << 10

// hold queues packets to ap into the arena until done; false when GSO is
// off or ap is already held (its packets then go as they would anyway).
// Packets pion writes to ap meanwhile, from any goroutine, go into the
// arena under the socket's lock.
func (b *gsoBatch) hold(ap netip.AddrPort) bool {
	if ap.Addr().Zone() != "" {
		// A link-local IPv6 peer needs its interface's scope id, which
		// the raw sendmmsg addresses do not carry: it goes on its own.
		return false
	}
	b.arena.arena = true
	// The arena only grows while held by this goroutine, so the span's
	// start read here is where ap's packets begin.
	b.open = gsoSpan{ap: ap, off: len(b.arena.buf), first: len(b.arena.sizes)}
	b.held = b.g.holdInto(ap, &b.arena)
	return b.held
}

// begin opens a span for ap whose packets the batch's goroutine seals
// into the arena itself (seal), without the socket's lock: ap is not
// held, so nothing else writes there. False when GSO is off or ap needs
// its zone.
func (b *gsoBatch) begin(ap netip.AddrPort) bool {
	if ap.Addr().Zone() != "" || !b.g.enabled.Load() {
		return false
	}
	b.open = gsoSpan{ap: ap, off: len(b.arena.buf), first: len(b.arena.sizes)}
	b.held = false
	return true
}

// seal appends one packet of the span begin opened, sealed by o.
func (b *gsoBatch) seal(o *srtpSender, h *rtp.Header, payload []byte) error {
	n := len(b.arena.buf)
	buf, err := o.seal(b.arena.buf, h, payload)
	b.arena.buf = buf
	if err != nil {
		return err
	}
	b.arena.sizes = append(b.arena.sizes, len(buf)-n)
	return nil
}

// done ends the span hold or begin opened; a full arena is sent.
func (b *gsoBatch) done() {
	if b.held {
		b.g.release(b.open.ap)
		b.held = false
	}
	if len(b.arena.sizes) > b.open.first {
		b.spans = append(b.spans, b.open)
	}
	if len(b.arena.buf) >= gsoBatchMax {
		b.send()
	}
}

// spanSizes are the datagram sizes of span i.
func (b *gsoBatch) spanSizes(i int) []int {
	end := len(b.arena.sizes)
	if i+1 < len(b.spans) {
		end = b.spans[i+1].first
	}
	return b.arena.sizes[b.spans[i].first:end]
}

// send sends everything held so far and empties the arena.
func (b *gsoBatch) send() {
	if len(b.spans) > 0 {
		b.sendAll()
	}
	b.spans = b.spans[:0]
	b.arena.buf, b.arena.sizes = b.arena.buf[:0], b.arena.sizes[:0]
}

// sendEachSpan is the portable path: one viewer after the other.
func (b *gsoBatch) sendEachSpan() {
	var buf [8]gsoRun
	for i, sp := range b.spans {
		for _, r := range cutRuns(b.spanSizes(i), sp.off, buf[:0]) {
			if err := b.g.sendRun(b.arena.buf, r, sp.ap); err != nil {
				b.g.log.Debug("send to viewer failed", "addr", sp.ap, "error", err)
				break
			}
		}
	}
}
