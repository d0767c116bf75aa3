package camsim

import (
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
)

// gbCall is one INVITE of a channel being answered.
type gbCall struct {
	dlg     *sipgo.DialogServerSession
	offer   sdp.SDP
	channel int
	cancel  context.CancelFunc
	hist    *history // a Playback or Download; nil: live
}

// Invites and Byes count the INVITEs answered and the BYEs received.
func (d *GBDevice) Invites() int64 { return d.invites.Load() }

// HistoryInvites counts the INVITEs of a Playback or Download answered.
func (d *GBDevice) HistoryInvites() int64 { return d.histInvites.Load() }

// Byes counts the BYEs received.
func (d *GBDevice) Byes() int64 { return d.byes.Load() }

func (d *GBDevice) channelOf(id string) int {
	for i := 1; i <= d.cfg.Channels; i++ {
		if d.cfg.ChannelID(i) == id {
			return i
		}
	}
	return 0
}

func (d *GBDevice) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	ch := d.channelOf(req.Recipient.User)
	if ch == 0 || (d.clip == nil && !d.cfg.Pan) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil || (offer.Transport == "TCP" && offer.Setup != "passive") {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	host, port, _ := net.SplitHostPort(d.laddr)
	p, _ := strconv.Atoi(port)
	dua := sipgo.DialogUA{Client: d.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.ChannelID(ch), Host: host, Port: p}}}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	answer := sdp.SDP{Origin: d.cfg.ChannelID(ch), Session: "Play", IP: host, Port: 15060 + ch, Transport: offer.Transport,
		Direction: "sendonly", SSRC: offer.SSRC, F: "v/2/5/25/1/4096a/1/8/1"}
	var hist *history
	if offer.Session == "Playback" || offer.Session == "Download" {
		if hist, err = d.newHistory(ch, offer); err != nil {
			_ = dlg.Respond(488, "Not Acceptable Here", nil)
			return
		}
		answer.Session, answer.URI, answer.Start, answer.Stop = offer.Session, offer.URI, offer.Start, offer.Stop
		answer.DownloadSpeed = hist.speed
	}
	if offer.Transport == "TCP" {
		answer.Setup = "active"
	}
	d.invites.Add(1)
	if hist != nil {
		d.histInvites.Add(1)
	}
	d.mu.Lock()
	d.calls[req.CallID().Value()] = &gbCall{dlg: dlg, offer: offer, channel: ch, hist: hist}
	d.mu.Unlock()
	body := answer.Marshal()
	if d.cfg.JunkSDP {
		body = []byte("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nm=audio 9 RTP/AVP 0\r\n")
	}
	if err := dlg.RespondSDP(body); err != nil {
		d.log.Warn("INVITE not answered", "error", err)
	}
}

func (d *GBDevice) onAck(req *sip.Request, tx sip.ServerTransaction) {
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	d.mu.Unlock()
	if c == nil || c.cancel != nil {
		return
	}
	_ = c.dlg.ReadAck(req, tx)
	ctx, cancel := context.WithCancel(d.ctx)
	c.cancel = cancel
	go d.stream(ctx, c)
}

func (d *GBDevice) onBye(req *sip.Request, tx sip.ServerTransaction) {
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	delete(d.calls, req.CallID().Value())
	d.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	d.byes.Add(1)
	if c.cancel != nil {
		c.cancel()
	}
	_ = c.dlg.ReadBye(req, tx)
}

// stream sends the clip as PS over RTP to the offer's address until ctx
// ends: each frame one pack (a keyframe's with the system header and
// map), then 40 ms of G.711 A-law in a pack of its own; over TCP, the
// device connects and frames each packet (RFC 4571).
func (d *GBDevice) stream(ctx context.Context, c *gbCall) {
	addr := net.JoinHostPort(c.offer.IP, strconv.Itoa(c.offer.Port))
	network := "udp"
	if c.offer.Transport == "TCP" {
		network = "tcp"
	}
	conn, err := net.Dial(network, addr)
	if err != nil {
		d.log.Warn("media not sent", "addr", addr, "error", err)
		return
	}
	defer conn.Close()
	if c.hist != nil {
		d.streamHistory(ctx, c, conn, network)
		return
	}
	ssrc, _ := c.offer.SSRCNumber()
	codec := ps.CodecH264
	if d.cfg.H265 {
		codec = ps.CodecH265
	}
	m := ps.Muxer{Video: codec, Audio: ps.CodecG711A}
	pk := ps.Packetizer{PayloadType: uint8(c.offer.PayloadType), SSRC: ssrc, MTU: 1400}
	frame := time.Second / time.Duration(d.cfg.FPS)
	step := int64(90000 / d.cfg.FPS)
	silence := make([]byte, 8000/d.cfg.FPS)
	for i := range silence {
		silence[i] = 0xD5 // A-law zero
	}
	// A panning channel's picture comes live from its encoder, which
	// keeps the pace; a clip is paced here.
	var live chan [][]byte
	if d.cfg.Pan {
		live = make(chan [][]byte, 4)
		go func() {
			if err := d.panUnits(ctx, c.channel, live); err != nil && ctx.Err() == nil {
				d.log.Warn("panning picture not made", "error", err)
			}
		}()
	}
	start := time.Now()
	var buf, au []byte
	for n := 0; ctx.Err() == nil; n++ {
		var unit [][]byte
		if live != nil {
			select {
			case <-ctx.Done():
				return
			case unit = <-live:
			}
		} else {
			if wait := time.Until(start.Add(time.Duration(n) * frame)); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			unit = d.clip.Units[n%len(d.clip.Units)]
		}
		if !d.cfg.H265 {
			unit = withSEI(unit, TimestampSEI(time.Now()))
		}
		au = au[:0]
		for _, nal := range unit {
			au = append(au, 0, 0, 0, 1)
			au = append(au, nal...)
		}
		pts := int64(n) * step
		key := isKey(unit, d.cfg.H265)
		buf = m.AppendVideo(buf[:0], au, pts, pts, key)
		for _, p := range pk.Packets(buf, uint32(pts)) {
			if !d.send(conn, network, p) {
				return
			}
		}
		buf = m.AppendAudio(buf[:0], silence, pts)
		for _, p := range pk.Packets(buf, uint32(pts)) {
			if !d.send(conn, network, p) {
				return
			}
		}
	}
}

func (d *GBDevice) send(conn net.Conn, network string, p interface{ Marshal() ([]byte, error) }) bool {
	b, err := p.Marshal()
	if err != nil {
		return true
	}
	if network == "tcp" {
		b = append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	_, err = conn.Write(b)
	return err == nil || network == "udp"
}

func isKey(unit [][]byte, h265 bool) bool {
	for _, n := range unit {
		if h265 {
			if t := n[0] >> 1 & 0x3F; t >= 16 && t <= 21 {
				return true
			}
		} else if n[0]&0x1F == 5 {
			return true
		}
	}
	return false
}
