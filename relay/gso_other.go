//go:build !linux

package relay

import "net"

func segmentCmsg(int) []byte { return nil }

func gsoSupported(*net.UDPConn) bool { return false }
