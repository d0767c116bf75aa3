package ingest

import (
	"context"
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"sharpeyes/rawio"
)

// dialRTSP dials a camera's RTSP connection whose reads are raw system
// calls (rawio): a read is the first thing the gateway does when a
// camera's next frame arrives, after every P went idle, and a standard
// read then wakes the runtime's monitor thread into polling.
func dialRTSP(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &rawReadConn{TCPConn: tc, raw: raw}, nil
}

// rawReadConn is a TCP connection read with raw system calls; deadlines
// and Close work as on the connection itself (the poller honours them).
type rawReadConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *rawReadConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := rawio.Read(c.raw, "read", func(fd uintptr) (uintptr, syscall.Errno) {
		r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		return r, e
	})
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
