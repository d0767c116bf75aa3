package gb28181

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"sharpeyes/gb28181/ps"
)

// maxRTP is the largest RTP packet taken (RFC 4571 frames are at most
// 65535 bytes; UDP datagrams too).
const maxRTP = 65535

// Media receives every device's PS over RTP on one UDP and one TCP port
// (RFC 4571 framing, the device connecting), told apart by SSRC: each
// expected SSRC has its own depacketizer and demuxer, and packets of no
// expected SSRC are dropped and counted.
type Media struct {
	log *slog.Logger
	udp net.PacketConn
	tcp net.Listener

	mu    sync.Mutex
	sinks map[uint32]*sink

	// Unknown counts packets of an SSRC nobody expects.
	Unknown atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type sink struct {
	mu      sync.Mutex
	dep     *ps.Depacketizer
	dem     *ps.Demuxer
	packets atomic.Uint64
	last    atomic.Int64 // unix nanos of the last packet
}

// ListenMedia opens the UDP and TCP media ports on addr (one port number
// for both).
func ListenMedia(ctx context.Context, addr string, log *slog.Logger) (*Media, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	_ = pc.(*net.UDPConn).SetReadBuffer(4 << 20)
	m := &Media{log: log.With("component", "gb28181-media"), udp: pc, tcp: ln, sinks: map[uint32]*sink{}}
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go m.readUDP()
	go m.acceptTCP()
	go func() { <-m.ctx.Done(); pc.Close(); ln.Close() }()
	return m, nil
}

// Port is the media port (UDP and TCP).
func (m *Media) Port() int { return m.udp.LocalAddr().(*net.UDPAddr).Port }

// Close stops receiving.
func (m *Media) Close() {
	m.cancel()
	m.wg.Wait()
}

// Expect routes the packets of ssrc to a demuxer handing frames to
// onFrame (called on the receiving goroutine, in order). stop ends it;
// Stats tells how many packets came and when the last did.
func (m *Media) Expect(ssrc uint32, onFrame func(ps.Frame)) (stop func(), stats func() (packets uint64, last time.Time)) {
	s := &sink{}
	s.dem = ps.NewDemuxer(onFrame)
	s.dep = ps.NewDepacketizer(s.dem)
	m.mu.Lock()
	m.sinks[ssrc] = s
	m.mu.Unlock()
	stop = func() {
		m.mu.Lock()
		if m.sinks[ssrc] == s {
			delete(m.sinks, ssrc)
		}
		m.mu.Unlock()
	}
	stats = func() (uint64, time.Time) { return s.packets.Load(), time.Unix(0, s.last.Load()) }
	return stop, stats
}

func (m *Media) sink(ssrc uint32) *sink {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sinks[ssrc]
}

// push hands one packet (b, which push may keep) to its SSRC's sink.
func (m *Media) push(b []byte) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return
	}
	s := m.sink(p.SSRC)
	if s == nil {
		m.Unknown.Add(1)
		return
	}
	s.packets.Add(1)
	s.last.Store(time.Now().UnixNano())
	s.mu.Lock()
	s.dep.Push(&p)
	s.mu.Unlock()
}

func (m *Media) readUDP() {
	defer m.wg.Done()
	buf := make([]byte, maxRTP)
	for {
		n, _, err := m.udp.ReadFrom(buf)
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			continue
		}
		// The depacketizer may hold a packet while it waits for an
		// earlier one: each gets its own bytes.
		m.push(append([]byte(nil), buf[:n]...))
	}
}

func (m *Media) acceptTCP() {
	defer m.wg.Done()
	for {
		c, err := m.tcp.Accept()
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go m.readTCP(c)
	}
}

// readTCP reads RFC 4571 framed packets until the device hangs up, or
// sends nothing for 30 s.
func (m *Media) readTCP(c net.Conn) {
	defer m.wg.Done()
	defer c.Close()
	defer context.AfterFunc(m.ctx, func() { c.Close() })()
	var hdr [2]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n < 12 {
			return // no RTP packet is that short: not RFC 4571
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		m.push(b)
	}
}
