//go:build !linux

package webrtc

import (
	"net"
	"net/netip"
)

func segmentCmsg(int) []byte { return nil }

func gsoSupported(*net.UDPConn) bool { return false }

func socketIsV6(*net.UDPConn) bool { return false }

type gsoBatchSys struct{}

func (b *gsoBatch) sendAll() { b.sendEachSpan() }

func (g *gsoConn) readFrom(b []byte) (int, netip.AddrPort, error) {
	return g.UDPConn.ReadFromUDPAddrPort(b)
}

func (g *gsoConn) writeTo(b []byte, ap netip.AddrPort) (int, error) {
	return g.UDPConn.WriteToUDPAddrPort(b, ap)
}

func (g *gsoConn) writeMsg(b, oob []byte, ap netip.AddrPort) error {
	_, _, err := g.UDPConn.WriteMsgUDPAddrPort(b, oob, ap)
	return err
}
