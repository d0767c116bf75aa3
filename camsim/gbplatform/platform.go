// Package gbplatform is a simulated GB/T 28181 superior platform (a
// district's video platform) for tests and the demo: lower platforms
// register with it, and it asks for their catalog, plays their channels
// and writes what it receives.
package gbplatform

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"sharpeyes/gb28181"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/sdp"
	"sharpeyes/gb28181/sipstack"
)

// PlatformConfig describes a simulated superior platform (a district's
// video platform) that lower platforms register with.
type PlatformConfig struct {
	Listen   string // SIP, UDP and TCP (default 127.0.0.1:0)
	ServerID string // its 20-digit code
	Password string // what lower platforms register with
	// MaxExpires caps the registration granted (default 24 h): a short one
	// makes lower platforms refresh often.
	MaxExpires time.Duration
	Log        *slog.Logger
}

// Platform is a running simulated superior platform: it accepts
// registrations with digest, asks each newly registered lower platform
// for its device info and catalog, follows catalog notifications, keeps
// the alarms it is told, and plays channels on request, writing the PS
// it receives.
type Platform struct {
	cfg   PlatformConfig
	srv   *gb28181.Server
	stack *sipstack.Stack
	log   *slog.Logger

	mu       sync.Mutex
	online   map[string]int                     // successful registrations by lower platform
	refused  map[string]int                     // REGISTERs refused for their credentials
	catalog  map[string]map[string]manscdp.Item // what each lower platform has now
	order    map[string][]string                // its channels in the order told
	pages    map[string]int                     // catalog MESSAGEs of the last full answer
	complete map[string]bool                    // the last catalog arrived whole
	notifies map[string]int                     // catalog notifications received
	alarms   []manscdp.Message                  // alarm notifications, as told
	waiters  map[string][]chan struct{}         // waiting for a lower platform's catalog
	infos    map[string]*manscdp.Message        // DeviceInfo answers
	answers  map[string][]manscdp.Message       // other Responses, by lower platform
	calls    map[*PlatformCall]bool             // ended at Close
	ssrc     atomic.Int64
}

// StartPlatform starts the platform until ctx ends or Close.
func StartPlatform(ctx context.Context, cfg PlatformConfig) (*Platform, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p := &Platform{cfg: cfg, log: cfg.Log.With("component", "gbplatform"), online: map[string]int{}, refused: map[string]int{},
		catalog: map[string]map[string]manscdp.Item{}, order: map[string][]string{}, pages: map[string]int{}, complete: map[string]bool{},
		notifies: map[string]int{}, waiters: map[string][]chan struct{}{}, infos: map[string]*manscdp.Message{},
		answers: map[string][]manscdp.Message{}}
	pagesNow := map[string]int{}
	h := gb28181.Handler{
		Online: func(d gb28181.Device) {
			p.mu.Lock()
			p.online[d.ID]++
			p.mu.Unlock()
		},
		Refused: func(id, _ string, _ error) {
			p.mu.Lock()
			p.refused[id]++
			p.mu.Unlock()
		},
		CatalogPage: func(id string, _ *manscdp.Message) {
			p.mu.Lock()
			pagesNow[id]++
			p.mu.Unlock()
		},
		Catalog: func(id string, items []manscdp.Item, complete bool) {
			p.mu.Lock()
			m := map[string]manscdp.Item{}
			var order []string
			for _, it := range items {
				m[it.DeviceID] = it
				order = append(order, it.DeviceID)
			}
			p.catalog[id], p.order[id], p.complete[id], p.pages[id] = m, order, complete, pagesNow[id]
			pagesNow[id] = 0
			ws := p.waiters[id]
			delete(p.waiters, id)
			p.mu.Unlock()
			for _, w := range ws {
				close(w)
			}
		},
		DeviceInfo: func(id string, m *manscdp.Message) {
			p.mu.Lock()
			p.infos[id] = m
			p.mu.Unlock()
		},
		Alarm: func(_ string, body []byte) {
			if m, err := manscdp.Decode(body); err == nil {
				p.mu.Lock()
				p.alarms = append(p.alarms, *m)
				p.mu.Unlock()
			}
		},
		Message: func(id string, m *manscdp.Message, _ []byte) bool {
			if m.Kind == "Response" {
				p.mu.Lock()
				p.answers[id] = append(p.answers[id], *m)
				p.mu.Unlock()
				return true
			}
			if m.Kind != "Notify" || m.CmdType != "Catalog" || m.DeviceList == nil {
				return false
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			p.notifies[id]++
			cat := p.catalog[id]
			if cat == nil {
				cat = map[string]manscdp.Item{}
				p.catalog[id] = cat
			}
			for _, it := range m.DeviceList.Items {
				switch it.Event {
				case "DEL":
					delete(cat, it.DeviceID)
				default: // ADD, UPDATE, ON, OFF
					if _, ok := cat[it.DeviceID]; !ok {
						p.order[id] = append(p.order[id], it.DeviceID)
					}
					cat[it.DeviceID] = it
				}
			}
			return true
		},
	}
	stack, err := sipstack.New(sipstack.Config{Addr: cfg.Listen, Hostname: cfg.ServerID[:10]}, cfg.Log)
	if err != nil {
		return nil, err
	}
	srv, err := gb28181.NewServer(stack, gb28181.Config{ServerID: cfg.ServerID, Domain: cfg.ServerID[:10],
		Keepalive: 30 * time.Second, CatalogWait: 10 * time.Second, RegisterRate: 50, MaxExpires: cfg.MaxExpires},
		cfg.Password, func(string) (gb28181.Settings, bool) { return gb28181.Settings{}, false }, h, cfg.Log)
	if err != nil {
		stack.Close()
		return nil, err
	}
	if err := stack.Start(ctx); err != nil {
		stack.Close()
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		stack.Close()
		return nil, err
	}
	p.srv, p.stack = srv, stack
	return p, nil
}

// Addr is the platform's SIP address.
func (p *Platform) Addr() string { return p.srv.Addr() }

// Close stops the platform (a restart is a Close and a new platform on
// the same address).
func (p *Platform) Close() {
	p.mu.Lock()
	calls := p.calls
	p.calls = nil
	p.mu.Unlock()
	for c := range calls {
		c.closeAll()
		c.wg.Wait()
	}
	p.srv.Close()
	p.stack.Close()
}

// Registrations answers how many times lower platform id registered
// (refreshes not counted) and how many REGISTERs of it were refused for
// their credentials.
func (p *Platform) Registrations(id string) (ok, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online[id], p.refused[id]
}

// Registered tells whether id is registered now.
func (p *Platform) Registered(id string) bool {
	_, ok := p.srv.Device(id)
	return ok
}

// Catalog answers what lower platform id has now (its last full answer
// with the notifications since, in the order told), how many MESSAGEs
// the full answer came in, and whether it was whole.
func (p *Platform) Catalog(id string) (items []manscdp.Item, pages int, complete bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cid := range p.order[id] {
		if it, ok := p.catalog[id][cid]; ok {
			items = append(items, it)
		}
	}
	return items, p.pages[id], p.complete[id]
}

// Notifies answers how many catalog notifications id sent.
func (p *Platform) Notifies(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notifies[id]
}

// QueryCatalog asks id for its catalog again and waits for it whole.
func (p *Platform) QueryCatalog(ctx context.Context, id string) ([]manscdp.Item, error) {
	w := make(chan struct{})
	p.mu.Lock()
	p.waiters[id] = append(p.waiters[id], w)
	p.mu.Unlock()
	if err := p.srv.Query(ctx, id, "Catalog"); err != nil {
		return nil, err
	}
	select {
	case <-w:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	items, _, complete := p.Catalog(id)
	if !complete {
		return items, fmt.Errorf("%w: catalog of %s incomplete", ErrPlatform, id)
	}
	return items, nil
}

// Info answers id's DeviceInfo answer, if any came.
func (p *Platform) Info(id string) *manscdp.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.infos[id]
}

// Query asks lower platform id cmd (DeviceStatus…) of device (its own id
// or a channel's) and waits for the answer.
func (p *Platform) Query(ctx context.Context, id, cmd, device string) (*manscdp.Message, error) {
	p.mu.Lock()
	seen := len(p.answers[id])
	p.mu.Unlock()
	sn := int(p.ssrc.Add(1))
	if err := p.srv.Message(ctx, id, device, manscdp.Query(cmd, sn, device)); err != nil {
		return nil, err
	}
	for {
		p.mu.Lock()
		for _, m := range p.answers[id][seen:] {
			if m.CmdType == cmd && m.SN == sn {
				p.mu.Unlock()
				return &m, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Alarms answers the alarm notifications received.
func (p *Platform) Alarms() []manscdp.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]manscdp.Message(nil), p.alarms...)
}

// Control sends a PTZCmd to channel of lower platform id and answers
// the SIP status it got.
func (p *Platform) Control(ctx context.Context, id, channel, cmd string) error {
	body := manscdp.Encode("Control", manscdp.F("CmdType", "DeviceControl"), manscdp.F("SN", p.ssrc.Add(1)),
		manscdp.F("DeviceID", channel), manscdp.F("PTZCmd", cmd))
	return p.srv.Message(ctx, id, channel, body)
}

// PlatformCall is a channel being played: what arrives is written to
// its writer (the PS, RTP headers taken off) until Bye.
type PlatformCall struct {
	call    *gb28181.Call
	Answer  sdp.SDP
	Invited time.Time // when the INVITE was sent
	packets atomic.Int64
	bytes   atomic.Int64
	first   atomic.Int64 // unix nanoseconds of the first packet
	frame   atomic.Int64 // … and of the end of the first frame (its marker bit)
	mu      sync.Mutex
	closers []io.Closer
	ended   chan struct{} // closed by closeAll
	closed  bool
	wg      sync.WaitGroup
}

func (c *PlatformCall) hold(cl io.Closer) {
	c.mu.Lock()
	c.closers = append(c.closers, cl)
	c.mu.Unlock()
}

func (c *PlatformCall) closeAll() {
	c.mu.Lock()
	for _, cl := range c.closers {
		cl.Close()
	}
	if !c.closed {
		c.closed = true
		close(c.ended)
	}
	c.mu.Unlock()
}

// Packets answers how many RTP packets and payload bytes arrived, and
// when the first did.
func (c *PlatformCall) Packets() (n, bytes int64, first time.Time) {
	f := c.first.Load()
	if f == 0 {
		return c.packets.Load(), c.bytes.Load(), time.Time{}
	}
	return c.packets.Load(), c.bytes.Load(), time.Unix(0, f)
}

// FirstFrame answers when the first whole frame had arrived (zero:
// none yet).
func (c *PlatformCall) FirstFrame() time.Time {
	if f := c.frame.Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Time{}
}

// Done is closed when the lower platform ended the call.
func (c *PlatformCall) Done() <-chan struct{} { return c.call.Done() }

// Bye ends the call and waits for the receiving to stop.
func (c *PlatformCall) Bye(ctx context.Context) error {
	err := c.call.Bye(ctx)
	c.closeAll()
	c.wg.Wait()
	return err
}

// Play INVITEs channel of lower platform id and writes the PS it sends
// to w. mode is udp, tcp-passive (this platform listens, a=setup:passive)
// or tcp-active (this platform connects to the answer's port,
// a=setup:active).
func (p *Platform) Play(ctx context.Context, id, channel, mode string, w io.Writer) (*PlatformCall, error) {
	return p.receive(ctx, mode, w, func(offer sdp.SDP) (*gb28181.Call, error) { return p.srv.Invite(ctx, id, channel, offer) })
}

// History asks lower platform id for channel's recording of [from, to]
// — session Playback or Download (at speed times real time) — and
// writes the PS it sends to w; mode as for Play. Its Sent is closed by
// the lower platform's MediaStatus 121.
func (p *Platform) History(ctx context.Context, id, channel, mode, session string, from, to time.Time, speed int, w io.Writer) (*PlatformCall, error) {
	return p.receive(ctx, mode, w, func(offer sdp.SDP) (*gb28181.Call, error) {
		return p.srv.History(ctx, id, channel, session, offer, from, to, speed)
	})
}

// Offer INVITEs with offer's session, u=, t= and downloadspeed as
// given (a window a lower platform should refuse, say); mode as for Play.
func (p *Platform) Offer(ctx context.Context, id, channel, mode string, offer sdp.SDP, w io.Writer) (*PlatformCall, error) {
	return p.receive(ctx, mode, w, func(o sdp.SDP) (*gb28181.Call, error) {
		o.Session, o.URI, o.Start, o.Stop, o.DownloadSpeed = offer.Session, offer.URI, offer.Start, offer.Stop, offer.DownloadSpeed
		return p.srv.Offer(ctx, id, channel, o)
	})
}

// Sent is closed when the lower platform says the recording was sent
// whole (MediaStatus 121).
func (c *PlatformCall) Sent() <-chan struct{} { return c.call.Sent() }

// Control sends a MANSRTSP request (PLAY with Scale or Range, PAUSE,
// TEARDOWN) in the call's dialog.
func (c *PlatformCall) Control(ctx context.Context, r mansrtsp.Request) error {
	return c.call.Control(ctx, r)
}

// receive sets up where the media of an INVITE (sent by invite with the
// offer) arrives, and writes what arrives to w.
func (p *Platform) receive(ctx context.Context, mode string, w io.Writer, invite func(sdp.SDP) (*gb28181.Call, error)) (*PlatformCall, error) {
	host := "127.0.0.1"
	ssrc := fmt.Sprintf("0%s%04d", p.cfg.ServerID[3:8], p.ssrc.Add(1)%10000)
	offer := sdp.SDP{IP: host, PayloadType: 96, SSRC: ssrc, Transport: "UDP"}
	c := &PlatformCall{ended: make(chan struct{})}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	switch mode {
	case "udp":
		if pc, err = net.ListenPacket("udp", host+":0"); err != nil {
			return nil, err
		}
		if u, ok := pc.(*net.UDPConn); ok {
			_ = u.SetReadBuffer(4 << 20) // a platform's media port takes bursts (a keyframe at 4x)
		}
		offer.Port = pc.LocalAddr().(*net.UDPAddr).Port
		c.hold(pc)
	case "tcp-passive":
		if ln, err = net.Listen("tcp", host+":0"); err != nil {
			return nil, err
		}
		offer.Transport, offer.Setup, offer.Port = "TCP", "passive", ln.Addr().(*net.TCPAddr).Port
		c.hold(ln)
	case "tcp-active":
		offer.Transport, offer.Setup, offer.Port = "TCP", "active", 9
	default:
		return nil, fmt.Errorf("%w: mode %q", ErrPlatform, mode)
	}
	c.Invited = time.Now()
	call, err := invite(offer)
	if err != nil {
		c.closeAll()
		return nil, err
	}
	c.call, c.Answer = call, call.Answer
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[*PlatformCall]bool{}
	}
	p.calls[c] = true
	p.mu.Unlock()
	// The lower platform's BYE ends the receiving too.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-call.Done():
			c.closeAll()
		case <-c.ended:
		}
	}()
	write := func(b []byte) {
		var pkt rtp.Packet
		if pkt.Unmarshal(b) != nil {
			return
		}
		if c.first.Load() == 0 {
			c.first.Store(time.Now().UnixNano())
		}
		if pkt.Marker && c.frame.Load() == 0 {
			c.frame.Store(time.Now().UnixNano())
		}
		c.packets.Add(1)
		c.bytes.Add(int64(len(pkt.Payload)))
		_, _ = w.Write(pkt.Payload)
	}
	readTCP := func(conn net.Conn) {
		var hdr [2]byte
		buf := make([]byte, 65536)
		for {
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(hdr[:]))
			if _, err := io.ReadFull(conn, buf[:n]); err != nil {
				return
			}
			write(buf[:n])
		}
	}
	c.wg.Add(1)
	switch mode {
	case "udp":
		go func() {
			defer c.wg.Done()
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				write(buf[:n])
			}
		}()
	case "tcp-passive":
		go func() {
			defer c.wg.Done()
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.hold(conn)
			readTCP(conn)
		}()
	case "tcp-active":
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(c.Answer.IP, strconv.Itoa(c.Answer.Port)), 5*time.Second)
		if err != nil {
			c.wg.Done()
			_ = call.Bye(ctx)
			return nil, fmt.Errorf("media connection to %s:%d: %w", c.Answer.IP, c.Answer.Port, err)
		}
		c.hold(conn)
		go func() { defer c.wg.Done(); readTCP(conn) }()
	}
	return c, nil
}

// Source answers the address lower platform id registered from (its SIP
// as this platform sees it).
func (p *Platform) Source(id string) (addr, transport string, ok bool) {
	d, ok := p.srv.Device(id)
	return d.Addr, d.Transport, ok
}

// RecordInfo asks lower platform id for channel's recordings over
// [from, to] (in China's local time, UTC+8) and gathers the answer.
func (p *Platform) RecordInfo(ctx context.Context, id, channel string, from, to time.Time) (gb28181.Records, error) {
	return p.srv.RecordInfo(ctx, id, channel, from, to, time.FixedZone("CST", 8*3600), 10*time.Second)
}
