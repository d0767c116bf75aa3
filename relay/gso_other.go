//go:build !linux

package relay

import "net"

func segmentCmsg(int) []byte { return nil }

func gsoSupported(*net.UDPConn) bool { return false }

func socketIsV6(*net.UDPConn) bool { return false }

type gsoBatchSys struct{}

func (b *gsoBatch) sendAll() { b.sendEachSpan() }
