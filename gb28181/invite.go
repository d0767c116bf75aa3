package gb28181

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/sdp"
)

// Call is a live stream a device sends after an INVITE, until Bye (or
// the device's own BYE, which closes Done).
type Call struct {
	s       *Server
	dlg     *sipgo.DialogClientSession
	callID  string
	device  string
	Offer   sdp.SDP
	Answer  sdp.SDP
	done    chan struct{}
	endOnce sync.Once
}

// Done is closed when the call has ended (either side's BYE).
func (c *Call) Done() <-chan struct{} { return c.done }

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
	d, ok := s.Device(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	offer.Origin, offer.Session, offer.Direction = channel, "Play", "recvonly"
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
	c := &Call{s: s, dlg: dlg, callID: req.CallID().Value(), device: id, Offer: offer, done: make(chan struct{})}
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
