package webrtc

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"sharpeyes/rawio"
)

// segmentCmsg is the UDP_SEGMENT control message for segments of size bytes.
func segmentCmsg(size int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	putSegmentCmsg(b, size)
	return b
}

func putSegmentCmsg(b []byte, size int) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
}

// gsoSupported probes the socket for UDP_SEGMENT (Linux 4.18+).
func gsoSupported(c *net.UDPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = raw.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// socketIsV6 tells whether c is an AF_INET6 socket.
func socketIsV6(c *net.UDPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	v6 := false
	_ = raw.Control(func(fd uintptr) {
		d, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		v6 = err == nil && d == unix.AF_INET6
	})
	return v6
}

// gsoBatchSys holds the sendmmsg messages of a batch, reused across sends.
type gsoBatchSys struct {
	runs  []gsoRun
	owner []int // the queue each run belongs to
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family
	cmsgs []byte
}

// sockaddr writes ap into sa in the socket's family and returns its
// length (0: the socket cannot reach ap).
func (g *gsoConn) sockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port())
	a := ap.Addr()
	if g.v6 {
		sa.Family = unix.AF_INET6
		sa.Addr = a.As16() // IPv4 as v4-mapped
		sa.Flowinfo, sa.Scope_id = 0, 0
		return unix.SizeofSockaddrInet6
	}
	if a = a.Unmap(); !a.Is4() {
		return 0
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	sa4.Family = unix.AF_INET
	sa4.Addr = a.As4()
	return unix.SizeofSockaddrInet4
}

// sendAll sends every span of the batch with as few sendmmsg calls as
// the socket takes, one message per GSO run.
func (b *gsoBatch) sendAll() {
	g, s := b.g, &b.sys
	s.runs, s.owner = s.runs[:0], s.owner[:0]
	for i, sp := range b.spans {
		n := len(s.runs)
		s.runs = cutRuns(b.spanSizes(i), sp.off, s.runs)
		for range s.runs[n:] {
			s.owner = append(s.owner, i)
		}
	}
	n := len(s.runs)
	if !g.enabled.Load() || n < 2 {
		b.sendEachSpan()
		return
	}
	cs := unix.CmsgSpace(2)
	if cap(s.msgs) < n {
		s.msgs = make([]unix.Mmsghdr, n)
		s.iovs = make([]unix.Iovec, n)
		s.names = make([]unix.RawSockaddrInet6, n)
		s.cmsgs = make([]byte, n*cs)
	}
	s.msgs, s.iovs, s.names, s.cmsgs = s.msgs[:n], s.iovs[:n], s.names[:n], s.cmsgs[:n*cs]
	buf := b.arena.buf
	for k, r := range s.runs {
		ap := b.spans[s.owner[k]].ap
		iov := &s.iovs[k]
		iov.Base = &buf[r.off]
		iov.SetLen(r.n)
		m := &s.msgs[k]
		m.Len = 0
		m.Hdr = unix.Msghdr{Iov: iov, Iovlen: 1}
		// A zero length (the socket cannot reach ap) makes sendmmsg stop
		// there; the per-run path below then reports why.
		m.Hdr.Name = (*byte)(unsafe.Pointer(&s.names[k]))
		m.Hdr.Namelen = g.sockaddr(&s.names[k], ap)
		if r.count > 1 {
			c := s.cmsgs[k*cs : (k+1)*cs]
			putSegmentCmsg(c, r.seg)
			m.Hdr.Control = &c[0]
			m.Hdr.SetControllen(cs)
		}
	}
	sent := 0
	var err error
	for sent < n && g.raw != nil {
		// A raw system call (rawio): a P left in a syscall state for the
		// sendmmsg's few hundred microseconds would also be handed to
		// another thread by the runtime's monitor (docs/benchmarks.md).
		var c int
		c, err = rawio.Write(g.raw, "sendmmsg", func(fd uintptr) (uintptr, syscall.Errno) {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[sent])), uintptr(n-sent), 0, 0, 0)
			return r, e
		})
		if err == nil && c == 0 {
			err = errors.New("sendmmsg sent nothing")
		}
		if err != nil {
			break
		}
		g.calls.Add(1)
		for _, r := range s.runs[sent : sent+c] {
			g.packets.Add(uint64(r.count))
		}
		sent += c
	}
	if g.raw == nil {
		err = errors.New("no raw connection")
	}
	if err != nil && sent < n {
		// The run sendmmsg stopped at goes out on the per-run path (which
		// falls back from GSO if GSO is what failed), and so does the rest.
		g.log.Debug("sendmmsg stopped; sending the rest run by run", "error", err, "sent", sent, "of", n)
		for k := sent; k < n; k++ {
			ap := b.spans[s.owner[k]].ap
			if err := g.sendRun(buf, s.runs[k], ap); err != nil {
				g.log.Debug("send to viewer failed", "addr", ap, "error", err)
			}
		}
	}
	for k := range s.msgs {
		s.msgs[k].Hdr = unix.Msghdr{} // drop references into the arena
	}
}

// The socket's reads and single sends are raw system calls (rawio), like
// the batch's sendmmsg: with a hundred viewers' STUN and RTCP arriving at
// random times, standard calls kept waking the runtime's monitor thread.

// readFrom reads one datagram.
func (g *gsoConn) readFrom(b []byte) (int, netip.AddrPort, error) {
	if g.raw == nil || len(b) == 0 {
		return g.UDPConn.ReadFromUDPAddrPort(b)
	}
	var sa unix.RawSockaddrInet6 // room for either family
	n, err := rawio.Read(g.raw, "recvfrom", func(fd uintptr) (uintptr, syscall.Errno) {
		salen := uint32(unsafe.Sizeof(sa))
		r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		return r, e
	})
	if err != nil {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Source: g.LocalAddr(), Err: err}
	}
	return n, g.fromSockaddr(&sa), nil
}

// fromSockaddr is the address of a datagram's sender as the standard
// library gives it: IPv4 peers of an IPv6 socket stay v4-mapped, and a
// scoped address is zoned with its interface's name (looked up once per
// interface, as the standard library caches it, not per packet).
func (g *gsoConn) fromSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	switch sa.Family {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr), port)
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(g.zone(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// zone is the name of interface index i (its number if it has none).
func (g *gsoConn) zone(i uint32) string {
	if z, ok := g.zones.Load(i); ok {
		return z.(string)
	}
	z := strconv.FormatUint(uint64(i), 10)
	if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
		z = ifi.Name
	}
	g.zones.Store(i, z)
	return z
}

// rawAddr fills sa for a raw send to ap; false when the standard library
// must send instead (no raw connection, a zoned address, or one the
// socket cannot reach: its error then says why).
func (g *gsoConn) rawAddr(sa *unix.RawSockaddrInet6, b []byte, ap netip.AddrPort) (uint32, bool) {
	if g.raw == nil || len(b) == 0 || ap.Addr().Zone() != "" {
		return 0, false
	}
	n := g.sockaddr(sa, ap)
	return n, n != 0
}

// writeTo sends one datagram.
func (g *gsoConn) writeTo(b []byte, ap netip.AddrPort) (int, error) {
	var sa unix.RawSockaddrInet6
	salen, ok := g.rawAddr(&sa, b, ap)
	if !ok {
		return g.UDPConn.WriteToUDPAddrPort(b, ap)
	}
	n, err := rawio.Write(g.raw, "sendto", func(fd uintptr) (uintptr, syscall.Errno) {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&sa)), uintptr(salen))
		return r, e
	})
	if err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: g.LocalAddr(), Addr: net.UDPAddrFromAddrPort(ap), Err: err}
	}
	return n, nil
}

// writeMsg sends one datagram, or a GSO run of them, with control data.
func (g *gsoConn) writeMsg(b, oob []byte, ap netip.AddrPort) error {
	var sa unix.RawSockaddrInet6
	salen, ok := g.rawAddr(&sa, b, ap)
	if !ok {
		_, _, err := g.UDPConn.WriteMsgUDPAddrPort(b, oob, ap)
		return err
	}
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	m := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: salen, Iov: &iov, Iovlen: 1}
	if len(oob) > 0 {
		m.Control = &oob[0]
		m.SetControllen(len(oob))
	}
	_, err := rawio.Write(g.raw, "sendmsg", func(fd uintptr) (uintptr, syscall.Errno) {
		r, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&m)), 0)
		return r, e
	})
	if err != nil {
		return &net.OpError{Op: "write", Net: "udp", Source: g.LocalAddr(), Addr: net.UDPAddrFromAddrPort(ap), Err: err}
	}
	return nil
}
