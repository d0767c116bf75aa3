package gb28181

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sdp"
	"sharpeyes/gb28181/sipstack"
)

// rawMessage is a MESSAGE whose From names id, sent from local.
func rawMessage(id string, cseq int, local string, body []byte) string {
	return fmt.Sprintf("MESSAGE sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bKm%d\r\n"+
		"From: <sip:%s@%s>;tag=m%d\r\nTo: <sip:%s@%s>\r\nCall-ID: m%d@x\r\nCSeq: %d MESSAGE\r\n"+
		"Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\nContent-Length: %d\r\n\r\n%s",
		serverID, domain, local, cseq, id, domain, cseq, serverID, domain, cseq, cseq, len(body), body)
}

// sendRaw sends msg from conn and answers the status line of the answer
// ("" when none came in time).
func sendRaw(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		if line := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]; strings.HasPrefix(line, "SIP/2.0 ") {
			return line
		}
	}
}

// TestStrangerNamingADeviceChangesNothing: with a simulated NVR
// registered over UDP, MESSAGEs whose From names it from another address
// (a keepalive, an alarm, a catalog answer adding a channel), over UDP
// and TCP, are refused 403 and change nothing: the device keeps its
// address, no alarm or catalog is handed on, and the next INVITE goes to
// the registered device.
func TestStrangerNamingADeviceChangesNothing(t *testing.T) {
	s, ev := startServer(t, time.Minute, func(string) (Settings, bool) { return Settings{}, false })
	media, err := ListenMedia(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(media.Close)
	dev, err := camsim.StartGB(context.Background(), camsim.GBConfig{Server: s.Addr(), ServerID: serverID, Domain: domain,
		DeviceID: "32100300001110000001", Password: "default-pass", Channels: 2, Clip: sharpeyes.MainClip, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Kill)
	const id = "32100300001110000001"
	waitFor(t, 5*time.Second, "the catalog", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return len(ev.catalog[id]) == 2
	})
	before, _ := s.Device(id)
	s.mu.Lock()
	catalogSN := s.sn // the SN of the catalog query sent at registration
	s.mu.Unlock()

	keep := manscdp.Encode("Notify", manscdp.F("CmdType", "Keepalive"), manscdp.F("SN", 1), manscdp.F("DeviceID", id), manscdp.F("Status", "OK"))
	alarm := manscdp.Encode("Notify", manscdp.F("CmdType", "Alarm"), manscdp.F("SN", 2), manscdp.F("DeviceID", dev.Config().ChannelID(1)),
		manscdp.F("AlarmPriority", 1), manscdp.F("AlarmMethod", 5), manscdp.F("AlarmTime", time.Now().In(beijing).Format("2006-01-02T15:04:05")),
		manscdp.Field{Name: "Info", Children: []manscdp.Field{manscdp.F("AlarmType", 6)}})
	catalog := manscdp.Encode("Response", manscdp.F("CmdType", "Catalog"), manscdp.F("SN", catalogSN), manscdp.F("DeviceID", id),
		manscdp.F("SumNum", 1), manscdp.Field{Name: "DeviceList", Attrs: [][2]string{{"Num", "1"}}, Children: []manscdp.Field{{Name: "Item",
			Children: []manscdp.Field{manscdp.F("DeviceID", "32100300001310009999"), manscdp.F("Name", "stranger's"), manscdp.F("Status", "ON")}}}})
	for _, network := range []string{"udp", "tcp"} {
		conn, err := net.Dial(network, s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		for i, body := range [][]byte{keep, alarm, catalog} {
			msg := rawMessage(id, 10+i, conn.LocalAddr().String(), body)
			if network == "tcp" {
				msg = strings.Replace(msg, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
			}
			if st := sendRaw(t, conn, msg); !strings.Contains(st, " 403 ") {
				t.Fatalf("%s MESSAGE %d from a stranger naming the device: %q, want 403", network, i, st)
			}
		}
		conn.Close()
	}
	after, _ := s.Device(id)
	if after.Addr != before.Addr || after.Addr != dev.Addr() || after.Transport != "UDP" {
		t.Fatalf("the device moved: %+v, registered %+v", after, before)
	}
	ev.mu.Lock()
	alarms, moved, items := len(ev.alarms), len(ev.moved), len(ev.catalog[id])
	ev.mu.Unlock()
	if alarms != 0 || moved != 0 || items != 2 {
		t.Fatalf("a stranger's MESSAGEs were taken: %d alarms, %d moves, %d channels", alarms, moved, items)
	}
	// The next viewer's INVITE goes to the device that registered.
	ssrc := sdp.LiveSSRC(domain, 1)
	call, err := s.Invite(context.Background(), id, dev.Config().ChannelID(1), sdp.SDP{IP: "127.0.0.1", Port: media.Port(), Transport: "UDP", SSRC: ssrc})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Bye(context.Background())
	if dev.Invites() != 1 {
		t.Fatalf("the registered device got %d INVITEs", dev.Invites())
	}
	// The device's own MESSAGEs are still taken.
	if err := dev.Alarm(context.Background(), 1, 5, 6); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the device's own alarm", func() bool { ev.mu.Lock(); defer ev.mu.Unlock(); return len(ev.alarms) == 1 })
}

// rss is the process's resident set in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm:", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestMessageFloodFromOneAddress: 10 s of MESSAGE datagrams at loopback
// speed from one unregistered address (keepalives naming a registered
// device) grow the process by at most 30 MiB, and meanwhile a registered
// device's keepalives are answered.
func TestMessageFloodFromOneAddress(t *testing.T) {
	st := startStack(t, sipstack.Limits{})
	s, _ := startServerOn(t, st, time.Minute, func(string) (Settings, bool) { return Settings{}, false })
	dev := startDevice(t, s, camsim.GBConfig{DeviceID: "32100300001110000001", Channels: 1, Keepalive: 200 * time.Millisecond})
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keep := manscdp.Encode("Notify", manscdp.F("CmdType", "Keepalive"), manscdp.F("SN", 1), manscdp.F("DeviceID", "32100300001110000001"))
	msg := []byte(rawMessage("32100300001110000001", 1, conn.LocalAddr().String(), keep))
	time.Sleep(300 * time.Millisecond)
	base := rss(t)
	sent0, ok0 := dev.Keepalives()
	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Answers are read away so the flooder's socket stays open.
		buf := make([]byte, 2048)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := conn.Read(buf); err != nil {
				select {
				case <-stop:
					return
				default:
				}
			}
		}
	}()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < 64; i++ {
					if _, err := conn.Write(msg); err == nil {
						sent.Add(1)
					}
				}
			}
		}()
	}
	var peak int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		peak = max(peak, rss(t))
	}
	close(stop)
	wg.Wait()
	sent1, ok1 := dev.Keepalives()
	growth := peak - base
	t.Logf("%d datagrams in 10 s from one address; RSS %d -> peak %d MiB (+%.1f MiB); %d dropped before parsing; device keepalives %d sent, %d answered",
		sent.Load(), base>>20, peak>>20, float64(growth)/(1<<20), st.Dropped(), sent1-sent0, ok1-ok0)
	if sent.Load() < 50_000 {
		t.Logf("only %d datagrams sent: a slow machine", sent.Load())
	}
	if growth > 30<<20 {
		t.Fatalf("RSS grew %.1f MiB during the flood, want at most 30", float64(growth)/(1<<20))
	}
	if ok1-ok0 < (sent1-sent0)/2 || ok1 == ok0 {
		t.Fatalf("the registered device's keepalives: %d sent, %d answered during the flood", sent1-sent0, ok1-ok0)
	}
	if _, ok := s.Device("32100300001110000001"); !ok {
		t.Fatal("the registered device was dropped during the flood")
	}
}
