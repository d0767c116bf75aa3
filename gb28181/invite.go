package gb28181

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/sdp"
)

// Call is a stream a device sends after an INVITE — live video, or a
// recording's Playback or Download — until Bye (or the device's own BYE,
// which closes Done).
type Call struct {
	s        *Server
	dlg      *sipgo.DialogClientSession
	callID   string
	device   string
	channel  string
	Offer    sdp.SDP
	Answer   sdp.SDP
	done     chan struct{}
	endOnce  sync.Once
	sent     chan struct{} // a history call's MediaStatus 121: the device sent it all
	sentOnce sync.Once
	cseq     int // MANSRTSP requests sent
	cmu      sync.Mutex
	seq      int // the server's count of calls when this one was made
}

// Done is closed when the call has ended (either side's BYE).
func (c *Call) Done() <-chan struct{} { return c.done }

// Sent is closed when the device says it has sent the whole recording
// (MediaStatus, NotifyType 121) of a Playback or Download; the call stays
// up until Bye.
func (c *Call) Sent() <-chan struct{} { return c.sent }

func (c *Call) markSent() { c.sentOnce.Do(func() { close(c.sent) }) }

// Control sends a MANSRTSP request (PLAY with Scale or Range, PAUSE) in
// the call's dialog (SIP INFO) and waits for its answer.
func (c *Call) Control(ctx context.Context, r mansrtsp.Request) error {
	c.cmu.Lock()
	c.cseq++
	r.CSeq = c.cseq
	c.cmu.Unlock()
	target := c.dlg.InviteRequest.Recipient
	if ct := c.dlg.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(sip.INFO, target)
	if d, ok := c.s.Device(c.device); ok { // where its SIP comes from, as the INVITE went
		req.SetDestination(d.Addr)
		req.SetTransport(d.Transport)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSRTSP"))
	req.SetBody(r.Marshal())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("INFO %s to %s: %w", r.Method, c.channel, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: INFO %s to %s: %d %s", ErrRefused, r.Method, c.channel, res.StatusCode, res.Reason)
	}
	return nil
}

func (c *Call) end() {
	c.endOnce.Do(func() {
		close(c.done)
		c.s.mu.Lock()
		delete(c.s.calls, c.callID)
		c.s.mu.Unlock()
	})
}

// Bye ends the call.
func (c *Call) Bye(ctx context.Context) error {
	defer c.end()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := c.dlg.Bye(ctx)
	_ = c.dlg.Close()
	return err
}

// Invite asks device id to send channel's live video as the offer says
// (its Origin, Session and Direction filled in here); the answer must be
// a PS description, else the call is ended at once (ErrRefused).
func (s *Server) Invite(ctx context.Context, id, channel string, offer sdp.SDP) (*Call, error) {
	offer.Session, offer.URI, offer.Start, offer.Stop, offer.DownloadSpeed = "Play", "", 0, 0, 0
	return s.invite(ctx, id, channel, offer)
}

// History asks device id to send channel's recording of [from, to] —
// session Playback (at its own pace, controlled with MANSRTSP) or
// Download (at speed times real time, as the device allows) — as the
// offer says; the device's MediaStatus 121 at the end closes Sent.
func (s *Server) History(ctx context.Context, id, channel, session string, offer sdp.SDP, from, to time.Time, speed int) (*Call, error) {
	switch {
	case session != "Playback" && session != "Download":
		return nil, fmt.Errorf("%w: session %q (Playback or Download)", ErrConfig, session)
	case !from.Before(to):
		return nil, fmt.Errorf("%w: the window %v–%v is empty", ErrConfig, from, to)
	}
	offer.Session, offer.URI, offer.Start, offer.Stop = session, channel+":0", from.Unix(), to.Unix()
	offer.DownloadSpeed = 0
	if session == "Download" {
		offer.DownloadSpeed = max(speed, 1)
	}
	return s.invite(ctx, id, channel, offer)
}

// Offer INVITEs with the offer's session, u=, t= and downloadspeed as
// given, unchecked: for a tool (the simulated platform) probing what a
// device refuses. The gateway uses Invite and History.
func (s *Server) Offer(ctx context.Context, id, channel string, offer sdp.SDP) (*Call, error) {
	return s.invite(ctx, id, channel, offer)
}

func (s *Server) invite(ctx context.Context, id, channel string, offer sdp.SDP) (*Call, error) {
	d, ok := s.Device(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	offer.Origin, offer.Direction = channel, "recvonly"
	req := s.request(sip.INVITE, d, channel)
	req.AppendHeader(sip.NewHeader("Subject", fmt.Sprintf("%s:%s,%s:0", channel, offer.SSRC, s.cfg.ServerID)))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer.Marshal())
	cli, ct, err := s.stack.Client(d.Addr, d.Transport)
	if err != nil {
		return nil, err
	}
	dua := sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: s.cfg.ServerID, Host: ct.Host, Port: ct.Port}}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dlg, err := dua.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("INVITE %s: %w", channel, err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		_ = dlg.Close()
		return nil, fmt.Errorf("%w: INVITE %s: %v", ErrRefused, channel, err)
	}
	c := &Call{s: s, dlg: dlg, callID: req.CallID().Value(), device: id, channel: channel, Offer: offer, done: make(chan struct{}), sent: make(chan struct{})}
	answer, err := sdp.Parse(dlg.InviteResponse.Body())
	if err := dlg.Ack(ctx); err != nil {
		_ = dlg.Close()
		return nil, fmt.Errorf("ACK %s: %w", channel, err)
	}
	if err != nil {
		// Nothing to receive: the dialog is ended as soon as it exists.
		_ = c.Bye(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%w: INVITE %s answered with %v", ErrRefused, channel, err)
	}
	c.Answer = answer
	s.mu.Lock()
	s.callSeq++
	c.seq = s.callSeq
	s.calls[c.callID] = c
	s.mu.Unlock()
	return c, nil
}

// onBye takes a device's BYE of a call (its stream ended), from the
// address the device registered from.
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	var c *Call
	if id := req.CallID(); id != nil {
		s.mu.Lock()
		c = s.calls[id.Value()]
		s.mu.Unlock()
	}
	if c != nil && !s.sentBy(req, c.device) {
		// A dialog's BYE names the channel: it must come from where the
		// channel's device registered.
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	if c == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dlg.ReadBye(req, tx); err != nil {
		s.respond(req, tx, 200, "OK")
	}
	c.end()
}
