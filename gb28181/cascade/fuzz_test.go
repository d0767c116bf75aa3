package cascade

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
	"sharpeyes/relay"
)

// fakeTx records the responses a handler gives.
type fakeTx struct {
	sip.ServerTransaction
	codes []int
}

func (f *fakeTx) Respond(res *sip.Response) error {
	f.codes = append(f.codes, res.StatusCode)
	return nil
}
func (f *fakeTx) OnCancel(sip.FnTxCancel) bool       { return true }
func (f *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (f *fakeTx) Terminate()                         {}
func (f *fakeTx) Done() <-chan struct{}              { return nil }
func (f *fakeTx) Err() error                         { return nil }
func (f *fakeTx) Acks() <-chan *sip.Request          { return closedAcks }

// closedAcks is an ACK that has come: a final answer's wait for it ends.
var closedAcks = func() chan *sip.Request { c := make(chan *sip.Request); close(c); return c }()

type oneChannel struct{}

func (oneChannel) Channels(context.Context, Share) ([]Channel, error) {
	return []Channel{{ID: "32010000001310000001", CameraID: "c1", Name: "x", Online: true, PTZ: true}}, nil
}

type noStreams struct{}

func (noStreams) Acquire(context.Context, string, string) (*relay.Stream, func(), error) {
	return nil, nil, relay.ErrUnknownCamera
}

// fuzzClient is a client that was never started: its context is over, so
// what it would send the platform fails at once.
func fuzzClient(f *testing.F) *Client {
	stack, err := sipstack.New(sipstack.Config{Addr: "127.0.0.1:0"}, nil) // never started: nothing it sends arrives
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(stack.Close)
	c, err := New(Platform{ID: "p", ServerID: "34020000002000000001", LocalID: "32010000002000000001", Address: "127.0.0.1:9", Enabled: true},
		Deps{SIP: stack, Catalog: oneChannel{}, Streams: noStreams{}, PTZ: func(context.Context, string, string) error { return nil }}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = ua.Close() })
	if c.cli, err = sipgo.NewClient(ua); err != nil {
		f.Fatal(err)
	}
	c.host, c.port = "127.0.0.1", 5999
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.ctx, c.cancel = ctx, cancel
	c.closing = true // never started: its answers (goroutines) are not sent
	return c
}

func fromPlatform(method, user, ctype string, body []byte) *sip.Request {
	raw := fmt.Sprintf("%s sip:%s@127.0.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\n"+
		"From: <sip:34020000002000000001@3402000000>;tag=a\r\nTo: <sip:%s@3201000000>\r\nCall-ID: c1@x\r\nCSeq: 1 %s\r\n"+
		"Contact: <sip:34020000002000000001@127.0.0.1:5060>\r\nMax-Forwards: 70\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
		method, user, user, method, ctype, len(body), body)
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		return nil
	}
	req, _ := msg.(*sip.Request)
	return req
}

// FuzzInviteSDP: any session description in an INVITE from the platform
// (its y= and f= lines included) gets a final answer and no panic; only
// a PS offer of a shared camera gets as far as its stream.
func FuzzInviteSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=32010000001310000001 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=video 6000 RTP/AVP 96\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\ny=0100000001\r\nf=v/2/5/25/1/4096a/1/8/1\r\n"))
	f.Add([]byte("v=0\r\no=x 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=video 6000 TCP/RTP/AVP 96\r\na=setup:active\r\na=connection:new\r\na=rtpmap:96 PS/90000\r\ny=999999999999\r\nf=\r\n"))
	f.Add([]byte("v=0\r\ns=Playback\r\nm=video 0 RTP/AVP 96\r\ny=\r\n"))
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, user := range []string{"32010000001310000001", "32010000001310000009"} {
			req := fromPlatform("INVITE", user, "application/sdp", body)
			if req == nil {
				return
			}
			tx := &fakeTx{}
			c.onInvite(req, tx)
			final := false
			for _, code := range tx.codes {
				final = final || code >= 200
			}
			if !final {
				t.Fatalf("no final answer to an INVITE of %s with %q: %v", user, body, tx.codes)
			}
		}
	})
}

// FuzzQueryXML: any MANSCDP body the platform sends (queries, controls)
// gets an answer and no panic.
func FuzzQueryXML(f *testing.F) {
	for _, cmd := range []string{"Catalog", "DeviceInfo", "DeviceStatus"} {
		f.Add(manscdp.Query(cmd, 1, "32010000002000000001"))
	}
	f.Add(manscdp.Encode("Control", manscdp.F("CmdType", "DeviceControl"), manscdp.F("SN", 2),
		manscdp.F("DeviceID", "32010000001310000001"), manscdp.F("PTZCmd", "A50F01021F0000D6")))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"GB2312\"?><Query><CmdType>Catalog</CmdType><SN>x</SN></Query>"))
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := fromPlatform("MESSAGE", "32010000002000000001", "Application/MANSCDP+xml", body)
		if req == nil {
			return
		}
		tx := &fakeTx{}
		c.onMessage(req, tx)
		if len(tx.codes) != 1 || tx.codes[0] < 200 {
			t.Fatalf("answers %v to %q", tx.codes, body)
		}
	})
}
