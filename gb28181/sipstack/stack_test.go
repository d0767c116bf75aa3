package sipstack

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// register sends a REGISTER over UDP to addr and returns the status line
// and headers of the answer.
func register(t *testing.T, addr string, n int) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	req := fmt.Sprintf("REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;rport;branch=z9hG4bK-stack-%d\r\n"+
		"From: <sip:34020000001320000001@3402000000>;tag=t%d\r\n"+
		"To: <sip:34020000001320000001@3402000000>\r\n"+
		"Call-ID: stack-test-%d\r\nCSeq: 1 REGISTER\r\nContact: <sip:34020000001320000001@%s>\r\n"+
		"Max-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n", local, n, n, n, local)
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 4096)
	k, err := c.Read(b)
	if err != nil {
		t.Fatal("no answer:", err)
	}
	return string(b[:k])
}

// TestUntakenRequestsAskToRetry: before the device side takes requests
// (and after it let go) a device is told 503 with Retry-After, which
// GB/T 28181 devices take as "register again later"; once a handler is
// set it answers. A stack with no device side to come refuses them.
func TestUntakenRequestsAskToRetry(t *testing.T) {
	alone, err := New(Config{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alone.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	if res := register(t, alone.Addr(), 0); !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Fatalf("no device side to come: %q", res)
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Await: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := register(t, s.Addr(), 1)
	if !strings.HasPrefix(res, "SIP/2.0 503 ") || !strings.Contains(res, "Retry-After: 5") {
		t.Fatalf("before a handler: %q", res)
	}
	s.Handle(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 401, "Unauthorized", nil))
	})
	if res := register(t, s.Addr(), 2); !strings.HasPrefix(res, "SIP/2.0 401 ") {
		t.Fatalf("with a handler: %q", res)
	}
	s.Handle(nil)
	if res := register(t, s.Addr(), 3); !strings.HasPrefix(res, "SIP/2.0 503 ") {
		t.Fatalf("after the handler let go: %q", res)
	}
}
