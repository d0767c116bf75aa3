package cascade

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
	"sharpeyes/relay"
)

// call is one INVITE of the platform being answered: a shared camera's
// live video sent as PS over RTP where its offer says.
type call struct {
	c       *Client
	id      string // Call-ID
	ch      Channel
	offer   sdp.SDP
	dlg     *sipgo.DialogServerSession
	stream  *relay.Stream
	release func()
	udp     net.Conn     // UDP: connected to the platform's port
	ln      net.Listener // TCP with the platform connecting
	ssrc    uint32
	hist    *history // a Playback or Download (nil: live)

	once    sync.Once
	started sync.Once // the media starts once, on the first ACK (or never, after the ACK's time)
	mu      sync.Mutex
	cancel  context.CancelFunc // the media's, once started
	done    chan struct{}
}

// onInvite answers an INVITE for a shared camera (s=Play): the camera's
// relay stream is taken (its first frame waited for, so the platform's
// first picture is the GOP cache's), and the answer says where the media
// comes from. A camera not shared is 404, an offer that is not a PS
// media description 488, nothing pulled for either.
func (c *Client) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !c.fromPlatform(req) {
		c.respond(req, tx, 403, "Forbidden")
		return
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil || offer.IP == "" || offer.Port <= 0 || offer.Port > 65535 {
		c.respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	var hist *history
	switch offer.Session {
	case "", "Play":
	case "Playback", "Download":
		if c.deps.Footage == nil {
			c.refuse(req, tx, 488, "this street serves no recordings")
			return
		}
		if hist, err = newHistory(offer, time.Now()); err != nil {
			var we *windowError
			errors.As(err, &we)
			c.log.Info("INVITE from the platform refused", "channel", req.Recipient.User, "session", offer.Session, "why", we.why)
			c.refuse(req, tx, we.code, we.why)
			return
		}
	default:
		c.refuse(req, tx, 488, fmt.Sprintf("session %.20q is not Play, Playback or Download", offer.Session))
		return
	}
	if offer.Transport == "TCP" && offer.Setup != "" && offer.Setup != "active" && offer.Setup != "passive" {
		c.respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	ch, ok := c.channel(c.ctx, req.Recipient.User)
	if !ok {
		c.respond(req, tx, 404, "Not Found")
		return
	}
	c.respond(req, tx, 100, "Trying")
	dua := sipgo.DialogUA{Client: c.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: ch.ID, Host: c.host, Port: c.port}}}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		c.respond(req, tx, 400, "Bad Request")
		return
	}
	k := &call{c: c, id: req.CallID().Value(), ch: ch, offer: offer, dlg: dlg, hist: hist, done: make(chan struct{})}
	if err := k.prepare(); err != nil {
		var we *windowError
		if errors.As(err, &we) {
			c.log.Info("INVITE from the platform refused", "camera", ch.CameraID, "session", offer.Session, "why", we.why)
			c.refuse(req, tx, we.code, we.why)
		} else {
			c.log.Warn("INVITE from the platform not answered", "camera", ch.CameraID, "error", err)
			_ = dlg.Respond(480, "Temporarily Unavailable", nil)
		}
		k.finish()
		return
	}
	answer := sdp.SDP{Origin: ch.ID, Session: "Play", IP: c.host, Transport: offer.Transport, Direction: "sendonly",
		PayloadType: offer.PayloadType, SSRC: offer.SSRC, F: k.f()}
	if hist != nil {
		answer.Session, answer.URI, answer.Start, answer.Stop = hist.session, offer.URI, offer.Start, hist.to.Unix()
		if hist.session == "Download" {
			answer.DownloadSpeed = int(hist.scale)
		}
	}
	switch {
	case offer.Transport != "TCP":
		answer.Port = k.udp.LocalAddr().(*net.UDPAddr).Port
	case k.ln != nil:
		answer.Setup, answer.Port = "passive", k.ln.Addr().(*net.TCPAddr).Port
	default:
		answer.Setup, answer.Port = "active", 9 // RFC 4145: the side that connects names the discard port
	}
	if answer.PayloadType == 0 {
		answer.PayloadType = 96
	}
	c.mu.Lock()
	c.calls[k.id] = k
	c.mu.Unlock()
	if err := dlg.RespondSDP(answer.Marshal()); err != nil {
		c.log.Warn("INVITE answer not sent", "camera", ch.CameraID, "error", err)
		k.finish()
		return
	}
	if hist != nil {
		c.log.Info("the platform plays back a camera", "camera", ch.CameraID, "channel", ch.ID, "session", hist.session,
			"from", hist.from, "to", hist.to, "scale", hist.scale, "transport", offer.Transport, "setup", offer.Setup)
	} else {
		c.log.Info("the platform plays a camera", "camera", ch.CameraID, "channel", ch.ID, "transport", offer.Transport, "setup", offer.Setup)
	}
	// A platform that never ACKs (or whose ACK is lost) is not left with a
	// pulled camera: the call ends after the INVITE transaction's time.
	c.goAway(func() {
		t := time.NewTimer(32 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			late := false
			k.started.Do(func() { late = true }) // no ACK came: the media never starts now
			if late {
				k.finish()
			}
		case <-k.done:
		case <-c.ctx.Done():
			k.finish()
		}
	})
}

// prepare takes the camera's stream (waiting for its first frame) and the
// socket the media leaves from.
func (k *call) prepare() error {
	k.ssrc, _ = k.offer.SSRCNumber()
	if k.hist != nil {
		if err := k.prepareHistory(); err != nil {
			return err
		}
	} else if err := k.prepareLive(); err != nil {
		return err
	}
	var err error
	addr := net.JoinHostPort(k.offer.IP, strconv.Itoa(k.offer.Port))
	switch {
	case k.offer.Transport != "TCP":
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(k.c.host)}}
		if k.udp, err = d.Dial("udp", addr); err != nil {
			return err
		}
	case k.offer.Setup == "active": // the platform connects
		if k.ln, err = net.Listen("tcp", net.JoinHostPort(k.c.host, "0")); err != nil {
			return err
		}
	}
	return nil
}

// prepareLive takes the camera's stream and waits for its first frame.
func (k *call) prepareLive() error {
	ctx, cancel := context.WithTimeout(k.c.ctx, k.c.deps.InviteWait)
	defer cancel()
	st, release, err := k.c.deps.Streams.Acquire(ctx, k.ch.CameraID, "main")
	if err != nil {
		return err
	}
	k.stream, k.release = st, release
	if err := st.WaitReady(ctx); err != nil {
		return fmt.Errorf("camera %s: %w", k.ch.CameraID, err)
	}
	if !st.Info().Video.IsVideo() {
		return fmt.Errorf("camera %s sends no video", k.ch.CameraID)
	}
	return nil
}

// refuse answers a request with code and why in a Warning header.
func (c *Client) refuse(req *sip.Request, tx sip.ServerTransaction, code int, why string) {
	reason := map[int]string{400: "Bad Request", 404: "Not Found", 488: "Not Acceptable Here", 500: "Server Internal Error"}[code]
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("399 %s %q", c.host, why)))
	if err := tx.Respond(res); err != nil {
		c.log.Debug("response not sent", "code", code, "error", err)
	}
}

// f is the answer's f= line: the video codec (2 H.264, 5 H.265), size
// and rate left to the stream.
func (k *call) f() string {
	codec := 2
	if k.stream != nil && k.stream.Info().Video == relay.CodecH265 {
		codec = 5
	}
	return fmt.Sprintf("v/%d////a///", codec)
}

// onAck starts the media of an answered INVITE.
func (c *Client) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	k := c.calls[req.CallID().Value()]
	c.mu.Unlock()
	if k == nil {
		return
	}
	_ = k.dlg.ReadAck(req, tx)
	k.started.Do(func() {
		ctx, cancel := context.WithCancel(c.ctx)
		k.mu.Lock()
		k.cancel = cancel
		k.mu.Unlock()
		select {
		case <-k.done: // ended before it started
			cancel()
		default:
			c.goAway(func() { k.media(ctx) })
		}
	})
}

// onBye ends a call at the platform's word.
func (c *Client) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	k := c.calls[req.CallID().Value()]
	c.mu.Unlock()
	if k == nil {
		c.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := k.dlg.ReadBye(req, tx); err != nil {
		c.respond(req, tx, 200, "OK")
	}
	c.log.Info("the platform stopped a camera", "camera", k.ch.CameraID)
	k.finish()
}

// hangUp ends a call from this side (a BYE to the platform).
func (k *call) hangUp(ctx context.Context) {
	_ = k.dlg.Bye(ctx)
	k.finish()
}

// finish lets go of the call's stream, sockets and dialog, once.
func (k *call) finish() {
	k.once.Do(func() {
		close(k.done)
		k.mu.Lock()
		if k.cancel != nil {
			k.cancel()
		}
		k.mu.Unlock()
		if k.udp != nil {
			k.udp.Close()
		}
		if k.ln != nil {
			k.ln.Close()
		}
		if k.release != nil {
			k.release()
		}
		if k.hist != nil {
			k.hist.mu.Lock()
			if k.hist.feed != nil {
				k.hist.feed.cancel()
			}
			k.hist.mu.Unlock()
		}
		_ = k.dlg.Close()
		k.c.mu.Lock()
		delete(k.c.calls, k.id)
		k.c.mu.Unlock()
	})
}

// media connects to the platform and sends the call's media (live or
// recorded) until the call ends.
func (k *call) media(ctx context.Context) {
	defer k.finish()
	conn, err := k.connect(ctx)
	if err != nil {
		k.c.log.Warn("media to the platform not connected", "camera", k.ch.CameraID, "error", err)
		k.hangUp(context.WithoutCancel(ctx))
		return
	}
	if conn != k.udp {
		defer conn.Close()
	}
	if k.hist != nil {
		k.sendHistory(ctx, k.newOutput(conn))
	} else {
		k.send(ctx, k.newOutput(conn))
	}
}

// send streams the camera from its newest keyframe (the GOP cache) as
// PS over RTP until the call ends: one pack per access unit (a
// keyframe's with the system header and stream map), G.711 in packs of
// their own.
func (k *call) send(ctx context.Context, out *output) {
	rd := k.stream.NewReaderFromGOP()
	defer rd.Close()
	var base time.Duration = -1
	for {
		u, err := rd.Next(ctx)
		if err != nil {
			if errors.Is(err, relay.ErrStreamClosed) {
				k.hangUp(context.WithoutCancel(ctx))
			}
			return
		}
		if base < 0 {
			if !u.Codec.IsVideo() {
				continue // the first unit sent is the keyframe
			}
			base = u.PTS
		}
		pts := int64((u.PTS - base) * 90000 / time.Second)
		ok := true
		switch {
		case u.Codec.IsVideo():
			ok = out.video(u.NALUs, u.Key, pts)
		case out.m.Audio != ps.CodecUnknown && len(u.Payload) > 0:
			ok = out.audio(u.Payload, pts)
		}
		if !ok {
			k.hangUp(context.WithoutCancel(ctx))
			return
		}
	}
}

// output writes PS packs as RTP to the platform: over TCP each packet
// framed with its length (RFC 4571).
type output struct {
	k                *call
	conn             net.Conn
	m                ps.Muxer
	pk               ps.Packetizer
	tcp              bool
	failed           int // UDP writes refused in a row
	buf, au, framing []byte
}

// newOutput is the call's output over conn: the live stream's codecs,
// or H.264 alone for recorded footage.
func (k *call) newOutput(conn net.Conn) *output {
	o := &output{k: k, conn: conn, m: ps.Muxer{Video: ps.CodecH264}, tcp: k.offer.Transport == "TCP"}
	if k.stream != nil {
		info := k.stream.Info()
		if info.Video == relay.CodecH265 {
			o.m.Video = ps.CodecH265
		}
		switch info.Audio {
		case relay.CodecPCMA:
			o.m.Audio = ps.CodecG711A
		case relay.CodecPCMU:
			o.m.Audio = ps.CodecG711U
		}
	}
	pt := uint8(k.offer.PayloadType)
	if pt == 0 {
		pt = 96
	}
	o.pk = ps.Packetizer{PayloadType: pt, SSRC: k.ssrc, MTU: 1400}
	return o
}

// video sends an access unit; false when the platform is gone.
func (o *output) video(nalus [][]byte, key bool, pts int64) bool {
	o.au = o.au[:0]
	for _, nal := range nalus {
		o.au = append(o.au, 0, 0, 0, 1)
		o.au = append(o.au, nal...)
	}
	o.buf = o.m.AppendVideo(o.buf[:0], o.au, pts, pts, key)
	return o.write(pts)
}

// audio sends G.711; false when the platform is gone.
func (o *output) audio(payload []byte, pts int64) bool {
	o.buf = o.m.AppendAudio(o.buf[:0], payload, pts)
	return o.write(pts)
}

func (o *output) write(pts int64) bool {
	for _, p := range o.pk.Packets(o.buf, uint32(pts)) {
		n := p.MarshalSize()
		off := 0
		if o.tcp {
			off = 2 // RFC 4571: the length first
		}
		if cap(o.framing) < off+n {
			o.framing = make([]byte, off+n, 2*(off+n))
		}
		frame := o.framing[:off+n]
		if o.tcp {
			binary.BigEndian.PutUint16(frame, uint16(n))
		}
		if _, err := p.MarshalTo(frame[off:]); err != nil {
			continue
		}
		if _, err := o.conn.Write(frame); err != nil {
			// Over UDP a platform gone away shows as refused datagrams
			// (ICMP): a few seconds of them end the call as a lost TCP
			// connection does at once.
			if o.failed++; o.tcp || o.failed > 200 {
				o.k.c.log.Info("media to the platform ended", "camera", o.k.ch.CameraID, "error", err)
				return false
			}
		} else {
			o.failed = 0
		}
	}
	return true
}

// connect answers the connection the media goes over: the UDP socket, a
// TCP connection to the platform, or the platform's connection to us.
func (k *call) connect(ctx context.Context) (net.Conn, error) {
	switch {
	case k.offer.Transport != "TCP":
		return k.udp, nil
	case k.ln != nil:
		if tl, ok := k.ln.(*net.TCPListener); ok {
			_ = tl.SetDeadline(time.Now().Add(10 * time.Second))
		}
		return k.ln.Accept()
	default:
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(k.c.host)}}
		return d.DialContext(ctx, "tcp", net.JoinHostPort(k.offer.IP, strconv.Itoa(k.offer.Port)))
	}
}
