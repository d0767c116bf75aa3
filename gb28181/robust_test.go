package gb28181

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sdp"
	"sharpeyes/gb28181/sipstack"
)

// register is a raw REGISTER from a device id, without credentials.
func register(id string, cseq int, body string) string {
	return fmt.Sprintf("REGISTER sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK%d\r\n"+
		"From: <sip:%s@%s>;tag=t%d\r\nTo: <sip:%s@%s>\r\nCall-ID: c%d@x\r\nCSeq: %d REGISTER\r\n"+
		"Contact: <sip:%s@127.0.0.1:5999>\r\nMax-Forwards: 70\r\nExpires: 3600\r\nContent-Length: %d\r\n\r\n%s",
		serverID, domain, cseq, id, domain, cseq, id, domain, cseq, cseq, id, len(body), body)
}

// TestHostileSIPLeavesOthersAlone: a 1 MB SIP message over TCP and a
// datagram of junk are dropped, a REGISTER flood from one address is
// answered 503 past its burst, and throughout a real device registers,
// keeps alive and answers its catalog; an INVITE whose answer has no
// media description is refused and its call ended, and the device's
// other channel still streams.
func TestHostileSIPLeavesOthersAlone(t *testing.T) {
	s, ev := startServer(t, time.Minute, func(string) (Settings, bool) { return Settings{}, false })

	// 1 MB over TCP.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	big := register("32100300001110000077", 1, strings.Repeat("x", 1<<20))
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte(big)) // the server may hang up before it is all written
	c.Close()
	// Junk and a flood over UDP from one socket.
	u, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	_, _ = u.Write([]byte("\x00\x01junk\r\n\r\n"))
	var answers []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			_ = u.SetReadDeadline(time.Now().Add(time.Second))
			n, err := u.Read(buf)
			if err != nil {
				return
			}
			answers = append(answers, strings.SplitN(string(buf[:n]), "\r\n", 2)[0])
		}
	}()
	for i := 0; i < 300; i++ {
		_, _ = u.Write([]byte(register("32100300001110000078", i+1, "")))
	}

	// Meanwhile a real device.
	dev, err := camsim.StartGB(context.Background(), camsim.GBConfig{Server: s.Addr(), ServerID: serverID, Domain: domain,
		DeviceID: "32100300001110000001", Password: "default-pass", Channels: 2, Clip: sharpeyes.MainClip, JunkSDP: true,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Kill()
	select {
	case <-dev.Registered:
	case <-time.After(5 * time.Second):
		t.Fatal("a device did not register beside the flood")
	}
	waitFor(t, 5*time.Second, "its catalog", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return len(ev.catalog["32100300001110000001"]) == 2
	})
	<-done
	var refused, challenged int
	for _, a := range answers {
		switch {
		case strings.Contains(a, " 503 "):
			refused++
		case strings.Contains(a, " 401 "):
			challenged++
		}
	}
	if challenged == 0 || challenged > 40 || refused == 0 { // (answers over UDP may be lost)
		t.Fatalf("flood of 300: %d challenged, %d refused (503)", challenged, refused)
	}
	t.Logf("flood of 300 REGISTERs from one address: %d challenged, %d answered 503", challenged, refused)

	// An INVITE answered with no media description.
	_, err = s.Invite(context.Background(), "32100300001110000001", dev.Config().ChannelID(1),
		sdp.SDP{IP: "127.0.0.1", Port: 9, Transport: "UDP", SSRC: "0100000001"})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("junk SDP answer: %v", err)
	}
	waitFor(t, 3*time.Second, "the BYE of the refused call", func() bool { return dev.Byes() == 1 })
	if _, ok := s.Device("32100300001110000001"); !ok {
		t.Fatal("the device was dropped after its junk answer")
	}
}

// fakeTx records the response a handler gives.
type fakeTx struct {
	sip.ServerTransaction
	code int
}

func (f *fakeTx) Respond(res *sip.Response) error { f.code = res.StatusCode; return nil }

// FuzzSIPHandlers: any bytes that parse as a SIP request, given to the
// REGISTER and MESSAGE handlers and to the router (as from a registered
// device's address), get an answer and no panic, and never move the
// device.
func FuzzSIPHandlers(f *testing.F) {
	f.Add([]byte(register("32100300001110000001", 1, "")))
	keep := manscdp.Encode("Notify", manscdp.F("CmdType", "Keepalive"), manscdp.F("SN", 1), manscdp.F("DeviceID", "32100300001110000001"))
	f.Add([]byte(strings.Replace(strings.Replace(register("32100300001110000001", 2, string(keep)), "REGISTER", "MESSAGE", 2), "Expires: 3600\r\n", "", 1)))
	cat := manscdp.Encode("Response", manscdp.F("CmdType", "Catalog"), manscdp.F("SN", 3), manscdp.F("DeviceID", "32100300001110000001"),
		manscdp.F("SumNum", 2), manscdp.Field{Name: "DeviceList", Attrs: [][2]string{{"Num", "1"}}, Children: []manscdp.Field{{Name: "Item",
			Children: []manscdp.Field{manscdp.F("DeviceID", "32100300001310000001"), manscdp.F("Name", "x")}}}})
	f.Add([]byte(strings.Replace(register("32100300001110000001", 3, string(cat)), "REGISTER", "MESSAGE", 2)))
	s, err := NewServer(startStack(f, sipstack.Limits{}), Config{ServerID: serverID, Domain: domain, CatalogWait: time.Millisecond}, "default-pass",
		func(string) (Settings, bool) { return Settings{}, false }, Handler{}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	s.live["32100300001110000001"] = &Device{ID: "32100300001110000001", Addr: "127.0.0.1:5999", Transport: "UDP", Expires: time.Now().Add(time.Hour),
		untrust: func() {}}
	s.asked["32100300001110000001"] = map[int]time.Time{3: time.Now()}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("127.0.0.1:5999")
		req.SetTransport("UDP")
		for _, h := range []func(*sip.Request, sip.ServerTransaction){s.onRegister, s.onMessage, s.serve} {
			tx := &fakeTx{}
			h(req, tx)
			if tx.code == 0 && !(req.Method == sip.ACK) {
				t.Fatalf("no answer to %q", b)
			}
		}
		if d, ok := s.Device("32100300001110000001"); !ok || d.Addr != "127.0.0.1:5999" {
			// Only a REGISTER with credentials could move it, and the fuzzer has none.
			t.Fatalf("after %q the device is %+v (%v)", b, d, ok)
		}
	})
}

// TestReplayedAuthorizationIsChallenged: over UDP, a REGISTER answered
// with the right digest registers; the same Authorization sent again (a
// capture replayed) gets a fresh challenge, and a wrong password a 403.
func TestReplayedAuthorizationIsChallenged(t *testing.T) {
	s, _ := startServer(t, time.Minute, func(string) (Settings, bool) { return Settings{}, false })
	u, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	const id = "32100300001110000042"
	send := func(msg string) (status, challenge string) {
		t.Helper()
		if _, err := u.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = u.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 65535)
		var res string
		for !strings.HasPrefix(res, "SIP/2.0 ") { // past the server's own requests (its queries)
			n, err := u.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			res = string(buf[:n])
		}
		for _, line := range strings.Split(res, "\r\n") {
			if v, ok := strings.CutPrefix(line, "WWW-Authenticate: "); ok {
				challenge = v
			}
		}
		return strings.SplitN(res, "\r\n", 2)[0], challenge
	}
	withAuth := func(cseq int, auth string) string {
		return strings.Replace(register(id, cseq, ""), "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nAuthorization: "+auth+"\r\n", 1)
	}
	uri := "sip:" + serverID + "@" + domain
	st, chal := send(register(id, 1, ""))
	if !strings.Contains(st, " 401 ") || chal == "" {
		t.Fatalf("first REGISTER: %s", st)
	}
	auth := answer(t, chal, id, "default-pass", "REGISTER", uri, 1)
	if st, _ := send(withAuth(2, auth)); !strings.Contains(st, " 200 ") {
		t.Fatalf("right digest: %s", st)
	}
	if st, chal2 := send(withAuth(3, auth)); !strings.Contains(st, " 401 ") || chal2 == "" || chal2 == chal {
		t.Fatalf("replayed Authorization: %s (challenge %q)", st, chal2)
	}
	_, chal3 := send(register(id, 4, ""))
	if st, _ := send(withAuth(5, answer(t, chal3, id, "wrong-pass", "REGISTER", uri, 1))); !strings.Contains(st, " 403 ") {
		t.Fatalf("wrong password: %s", st)
	}
}

// TestCatalogIsBounded: a device claiming 100,000 channels has at most
// MaxChannels of them kept, delivered as its whole catalog; pages sent
// again with the same SN after that, or with an SN never asked for, add
// nothing.
func TestCatalogIsBounded(t *testing.T) {
	var got [][]manscdp.Item
	s, err := NewServer(startStack(t, sipstack.Limits{}), Config{ServerID: serverID, Domain: domain, CatalogWait: time.Minute, MaxChannels: 100},
		"default-pass", func(string) (Settings, bool) { return Settings{}, false },
		Handler{Catalog: func(_ string, items []manscdp.Item, complete bool) { got = append(got, items) }}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const dev = "32100300001110000001"
	s.asked[dev] = map[int]time.Time{1: time.Now()}
	page := func(sn, from, n int) *manscdp.Message {
		m := &manscdp.Message{Kind: "Response", CmdType: "Catalog", SN: sn, SumNum: 100_000, DeviceList: &manscdp.DeviceList{}}
		for i := from; i < from+n; i++ {
			m.DeviceList.Items = append(m.DeviceList.Items, manscdp.Item{DeviceID: fmt.Sprintf("3210030000131%07d", i)})
		}
		return m
	}
	s.catalogPage(dev, page(1, 0, 150))
	if len(got) != 1 || len(got[0]) != 100 {
		t.Fatalf("catalogs handed on: %d, want one of 100", len(got))
	}
	// The same SN again (the leak: each page after the cap started a run
	// of its own), and SNs nobody asked for.
	for i := 0; i < 50; i++ {
		s.catalogPage(dev, page(1, 1000+100*i, 100))
		s.catalogPage(dev, page(100+i, 10000+100*i, 100))
	}
	s.mu.Lock()
	runs := len(s.catalogs)
	s.mu.Unlock()
	if len(got) != 1 || runs != 0 {
		t.Fatalf("after pages of an answered and of unasked SNs: %d catalogs handed on, %d gathering", len(got), runs)
	}
}
