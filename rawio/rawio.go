//go:build unix

// Package rawio makes system calls on pollable sockets as raw calls: the
// call never blocks (the socket is non-blocking; EAGAIN waits in the
// runtime's poller instead), so it can skip the runtime's bookkeeping for
// system calls. That bookkeeping wakes the runtime's monitor thread when
// it had gone to sleep with every P idle, into polling every 20 µs for a
// millisecond or more; a relay that goes idle between a camera's frames
// and wakes on the next one paid for that polling 25 times a second per
// camera (docs/benchmarks.md, "Runtime wake-ups").
package rawio

import (
	"os"
	"syscall"
)

// Call is one raw system call on fd, e.g. with unix.RawSyscall6.
type Call func(fd uintptr) (r uintptr, errno syscall.Errno)

// Read runs call on c's socket until it succeeds or fails, waiting for the
// socket to become readable on EAGAIN, and returns what it returned. name
// names the call in errors; deadlines and Close work as for the
// connection's own reads.
func Read(c syscall.RawConn, name string, call Call) (int, error) {
	return run(c.Read, name, call)
}

// Write is Read for writes: it waits for the socket to drain on EAGAIN.
func Write(c syscall.RawConn, name string, call Call) (int, error) {
	return run(c.Write, name, call)
}

func run(wait func(func(uintptr) bool) error, name string, call Call) (int, error) {
	var (
		n    int
		serr error
	)
	err := wait(func(fd uintptr) bool {
		for {
			r, e := call(fd)
			switch e {
			case 0:
				n = int(r)
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			default:
				serr = os.NewSyscallError(name, e)
				return true
			}
		}
	})
	if err == nil {
		err = serr
	}
	return n, err
}
