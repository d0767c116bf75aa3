package cascade_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/cascade"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
	"sharpeyes/relay"
	"sharpeyes/relay/relaytest"
)

const (
	platformID = "34020000002000000001"
	streetID   = "32010000002000000001"
	password   = "district-secret"
)

// catalog is a registry of n cameras c1…cn (each a channel of the
// street's domain), the share naming which a platform sees.
type catalog struct {
	mu    sync.Mutex
	chans []cascade.Channel
}

func newCatalog(n int) *catalog {
	c := &catalog{}
	for i := 1; i <= n; i++ {
		c.chans = append(c.chans, cascade.Channel{ID: fmt.Sprintf("3201000000131%07d", i), CameraID: fmt.Sprintf("c%d", i),
			Name: fmt.Sprintf("巡查点%d", i), Lon: 119.42 + float64(i)/1000, Lat: 32.39, HasPosition: true, Online: true, PTZ: i == 1})
	}
	return c
}

func (c *catalog) Channels(_ context.Context, share cascade.Share) ([]cascade.Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cascade.Channel
	for _, ch := range c.chans {
		for _, id := range share.Cameras {
			if id == ch.CameraID {
				out = append(out, ch)
			}
		}
	}
	return out, nil
}

func (c *catalog) rename(camera, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.chans {
		if c.chans[i].CameraID == camera {
			c.chans[i].Name = name
		}
	}
}

// fixture is n fed relay streams, a simulated platform and the street's
// client registered with it (sharing cameras c1…cshared).
type fixture struct {
	prov   *relaytest.Provider
	cat    *catalog
	plat   *gbplatform.Platform
	client *cascade.Client
	p      cascade.Platform
	ptz    chan string
	stack  *sipstack.Stack
	spans  map[string][]cascade.Span // the gateway's footage by camera

	mu    sync.Mutex
	looks []cascade.Look // the access log
}

func start(t *testing.T, n int, p cascade.Platform) *fixture {
	t.Helper()
	return startWith(t, n, p, gbplatform.PlatformConfig{ServerID: platformID, Password: password})
}

func startWith(t *testing.T, n int, p cascade.Platform, pc gbplatform.PlatformConfig) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &fixture{prov: &relaytest.Provider{Streams: map[string]*relay.Stream{}}, cat: newCatalog(n), ptz: make(chan string, 4), p: p,
		spans: map[string][]cascade.Span{}}
	for i := 1; i <= n; i++ {
		s := relay.NewStream(relay.StreamConfig{})
		f.prov.Streams[fmt.Sprintf("c%d", i)] = s
		go relaytest.Feed(ctx, t, s)
	}
	plat, err := gbplatform.StartPlatform(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	// The client goes first: a keepalive sent after its stack closed
	// would open a socket of its own that nothing closes.
	t.Cleanup(func() {
		if f.client != nil {
			f.client.Close()
		}
		f.plat.Close()
		if f.stack != nil {
			f.stack.Close()
		}
	})
	f.plat = plat
	f.p.Address = plat.Addr()
	f.client = f.newClient(ctx, f.p)
	return f
}

// sip is the fixture's SIP stack (the street's), started on first use.
func (f *fixture) sip() *sipstack.Stack {
	if f.stack == nil {
		st, err := sipstack.New(sipstack.Config{Addr: "127.0.0.1:0", Hostname: streetID[:10]}, nil)
		if err != nil {
			panic(err)
		}
		if err := st.Start(context.Background()); err != nil {
			panic(err)
		}
		f.stack = st
	}
	return f.stack
}

func (f *fixture) newClient(ctx context.Context, p cascade.Platform) *cascade.Client {
	c, err := cascade.New(p, cascade.Deps{SIP: f.sip(), Catalog: f.cat, Streams: f.prov, PageSize: 4, CatalogEvery: 200 * time.Millisecond,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Name: "城东街道",
		PTZ: func(_ context.Context, camera, cmd string) error { f.ptz <- camera + " " + cmd; return nil },
		Records: func(_ context.Context, camera string, from, to time.Time) ([]cascade.Span, error) {
			var out []cascade.Span
			for _, sp := range f.spans[camera] {
				if sp.End.After(from) && sp.Start.Before(to) {
					out = append(out, sp)
				}
			}
			return out, nil
		},
		Footage: f.footage, ByeWait: 2 * time.Second,
		Looked: func(_ context.Context, l cascade.Look) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.looks = append(f.looks, l)
			return nil
		}}, nil)
	if err != nil {
		panic(err)
	}
	if err := c.Start(ctx); err != nil {
		panic(err)
	}
	return c
}

func platform(shared int) cascade.Platform {
	p := cascade.Platform{ID: "district", ServerID: platformID, Password: password, LocalID: streetID, Enabled: true,
		Address: "127.0.0.1:1", Keepalive: 200 * time.Millisecond}
	for i := 1; i <= shared; i++ {
		p.Share.Cameras = append(p.Share.Cameras, fmt.Sprintf("c%d", i))
	}
	return p
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

// TestCatalogPagedAndCurrent: the street registers, answers the
// platform's catalog query over several MESSAGEs with exactly the shared
// cameras (ids, names, positions, status), and tells it of a camera
// renamed without a re-sync.
func TestCatalogPagedAndCurrent(t *testing.T) {
	f := start(t, 12, platform(10))
	eventually(t, 5*time.Second, "catalog of 10", func() bool {
		items, _, complete := f.plat.Catalog(streetID)
		return complete && len(items) == 10
	})
	items, pages, _ := f.plat.Catalog(streetID)
	// At most 4 a page, and over UDP what fits a datagram.
	if pages < 3 || pages > 10 {
		t.Errorf("10 cameras in pages of at most 4 came in %d MESSAGEs", pages)
	}
	t.Logf("10 cameras in %d MESSAGEs", pages)
	for i, it := range items {
		want := fmt.Sprintf("3201000000131%07d", i+1)
		lon, lat, ok := it.Position()
		if it.DeviceID != want || it.Name != fmt.Sprintf("巡查点%d", i+1) || !it.Online() || !ok || lat != 32.39 || lon < 119.42 || it.ParentID != streetID {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if info := f.plat.Info(streetID); info == nil || info.DeviceName != "城东街道" || info.Channel != 10 {
		t.Errorf("DeviceInfo: %+v", info)
	}
	f.cat.rename("c3", "东门")
	eventually(t, 5*time.Second, "rename notified", func() bool {
		items, _, _ := f.plat.Catalog(streetID)
		return len(items) == 10 && items[2].Name == "东门"
	})
	if f.plat.Notifies(streetID) == 0 {
		t.Error("no catalog notification")
	}
	qctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if m, err := f.plat.Query(qctx, streetID, "DeviceStatus", streetID); err != nil || m.Online != "ONLINE" || m.Result != "OK" {
		t.Errorf("DeviceStatus of the street: %+v %v", m, err)
	}
	if m, err := f.plat.Query(qctx, streetID, "DeviceStatus", "32010000001310000002"); err != nil || m.Online != "ONLINE" || m.DeviceID != "32010000001310000002" {
		t.Errorf("DeviceStatus of a channel: %+v %v", m, err)
	}
	if st := f.client.Status(); st.State != "registered" || !st.Registered || st.Channels != 10 {
		t.Errorf("status %+v", st)
	}
}

// TestPlayEveryTransport: the platform INVITEs a shared camera over UDP,
// TCP with itself listening and TCP with itself connecting; what it
// writes is a program stream ffprobe reads as the camera's H.264 at its
// size with the frames the time holds. The camera is held while played
// and let go at the BYE; a camera not shared is refused, nothing pulled.
func TestPlayEveryTransport(t *testing.T) {
	f := start(t, 3, platform(2))
	eventually(t, 5*time.Second, "registered", func() bool { return f.plat.Registered(streetID) })
	ctx := context.Background()
	for _, mode := range []string{"udp", "tcp-passive", "tcp-active"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "got.ps")
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			call, err := f.plat.Play(ctx, streetID, "32010000001310000001", mode, out)
			if err != nil {
				t.Fatal(err)
			}
			if f.prov.Held() != 1 {
				t.Errorf("%d streams held while playing, want 1", f.prov.Held())
			}
			time.Sleep(2 * time.Second)
			if err := call.Bye(ctx); err != nil {
				t.Errorf("BYE: %v", err)
			}
			n, _, first := call.Packets()
			played := time.Since(first)
			out.Close()
			eventually(t, 2*time.Second, "stream let go", func() bool { return f.prov.Held() == 0 })
			if n == 0 {
				t.Fatal("no packets")
			}
			probe := ffprobe(t, path)
			// From the newest keyframe (at most a GOP old) to the BYE.
			want := int(played.Seconds() * 25)
			if probe.Codec != "h264" || probe.Width != 640 || probe.Height != 360 || probe.Frames < want-5 || probe.Frames > want+60 {
				t.Errorf("%s: ffprobe %+v, want h264 640x360 and about %d frames (%v played)", mode, probe, want, played.Round(time.Millisecond))
			}
			t.Logf("%s: %d packets, %+v; first packet %v after the INVITE", mode, n, probe, first.Sub(call.Invited).Round(time.Millisecond))
		})
	}
	acquired := f.prov.Acquired()
	if _, err := f.plat.Play(ctx, streetID, "32010000001310000003", "udp", os.Stdout); err == nil {
		t.Error("a camera outside the share was played")
	}
	if f.prov.Acquired() != acquired {
		t.Error("a camera outside the share was pulled")
	}
}

// TestRefreshKeepsTheCatalogCurrent: refreshing a registration before it
// expires is not a new registration: the platform, which asked for the
// catalog once, is still told of changes after the refreshes.
func TestRefreshKeepsTheCatalogCurrent(t *testing.T) {
	f := startWith(t, 3, platform(3), gbplatform.PlatformConfig{ServerID: platformID, Password: password, MaxExpires: time.Second})
	eventually(t, 5*time.Second, "catalog of 3", func() bool {
		items, _, complete := f.plat.Catalog(streetID)
		return complete && len(items) == 3
	})
	// Granted 1 s, refreshed every 2/3 s.
	eventually(t, 5*time.Second, "two refreshes", func() bool { return f.client.Status().Registrations >= 3 })
	ok, _ := f.plat.Registrations(streetID)
	f.cat.rename("c2", "西门")
	eventually(t, 5*time.Second, "rename notified after the refreshes", func() bool {
		items, _, _ := f.plat.Catalog(streetID)
		return len(items) == 3 && items[1].Name == "西门"
	})
	t.Logf("%d registrations at the platform before the rename; %d catalog notifications", ok, f.plat.Notifies(streetID))
}

type probe struct {
	Codec         string `json:"codec_name"`
	Width, Height int
	Frames        int    `json:"-"`
	NbReadFrames  string `json:"nb_read_frames"`
}

func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	// The JSON is stdout alone: a frame cut by the BYE mid-way makes the
	// decoder complain on stderr, which is logged, not parsed.
	cmd := exec.Command("ffprobe", "-v", "error", "-f", "mpeg", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("ffprobe: %.300s", stderr.String())
	}
	var res struct{ Streams []probe }
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	p := res.Streams[0]
	fmt.Sscan(p.NbReadFrames, &p.Frames)
	return p
}

// TestWrongPasswordBacksOff: a wrong password is in the status and is
// tried again after a backoff that grows, not in a tight loop.
func TestWrongPasswordBacksOff(t *testing.T) {
	p := platform(1)
	p.Password = "wrong"
	f := start(t, 1, p)
	time.Sleep(3 * time.Second)
	ok, refused := f.plat.Registrations(streetID)
	st := f.client.Status()
	if ok != 0 || st.Registered || st.State != "failed" || !strings.Contains(st.LastError, "password") {
		t.Errorf("status %+v after %d registrations", st, ok)
	}
	// 100 ms doubling to 1 s: about 6 tries in 3 s; a tight loop makes hundreds.
	if refused < 2 || refused > 8 {
		t.Errorf("%d REGISTERs refused in 3 s, want a few (backoff)", refused)
	}
	t.Logf("%d refused in 3 s; status %+v", refused, st)
}

// TestPlatformRestart: the platform restarts on its address; the street
// registers again within its backoff and the new platform's catalog is
// the share as it is now; what the old one was playing is ended.
func TestPlatformRestart(t *testing.T) {
	f := start(t, 4, platform(2))
	eventually(t, 5*time.Second, "catalog", func() bool { items, _, _ := f.plat.Catalog(streetID); return len(items) == 2 })
	// A stream the old platform was playing: it forgets it in the restart.
	var sink countWriter
	if _, err := f.plat.Play(context.Background(), streetID, "32010000001310000001", "udp", &sink); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "streaming", func() bool { return f.client.Status().Streams == 1 })
	addr := f.plat.Addr()
	f.plat.Close()
	f.cat.rename("c2", "西门")
	time.Sleep(500 * time.Millisecond)
	plat, err := gbplatform.StartPlatform(context.Background(), gbplatform.PlatformConfig{Listen: addr, ServerID: platformID, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	f.plat = plat
	restarted := time.Now()
	eventually(t, 5*time.Second, "registered again", func() bool { return plat.Registered(streetID) })
	took := time.Since(restarted)
	eventually(t, 5*time.Second, "catalog again", func() bool { items, _, _ := plat.Catalog(streetID); return len(items) == 2 })
	items, _, _ := plat.Catalog(streetID)
	if items[1].Name != "西门" {
		t.Errorf("catalog after the restart: %+v", items)
	}
	if st := f.client.Status(); st.Registrations < 2 {
		t.Errorf("status %+v", st)
	}
	eventually(t, 3*time.Second, "the forgotten stream ended, its camera let go", func() bool {
		return f.client.Status().Streams == 0 && f.prov.Held() == 0
	})
	t.Logf("registered again %v after the platform came back", took.Round(time.Millisecond))
}

// TestAlarmAndPTZ: an alarm on a shared camera reaches the platform as
// an Alarm notification of its channel; PTZ from the platform reaches a
// camera that takes it and is refused for one that does not.
func TestAlarmAndPTZ(t *testing.T) {
	f := start(t, 3, platform(2))
	eventually(t, 5*time.Second, "registered", func() bool { return f.plat.Registered(streetID) && f.client.Status().Registered })
	ctx := context.Background()
	if err := f.client.Alarm(ctx, "c2", time.Now(), 1, 5, 2, "区域入侵"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Alarm(ctx, "c3", time.Now(), 1, 5, 2, "not shared"); !errors.Is(err, cascade.ErrNotShared) {
		t.Errorf("alarm of a camera not shared: %v", err)
	}
	eventually(t, 2*time.Second, "alarm", func() bool { return len(f.plat.Alarms()) == 1 })
	if a := f.plat.Alarms()[0]; a.DeviceID != "32010000001310000002" {
		t.Errorf("alarm %+v", a)
	}
	if err := f.plat.Control(ctx, streetID, "32010000001310000001", "A50F01021F0000D6"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-f.ptz:
		if got != "c1 A50F01021F0000D6" {
			t.Errorf("PTZ %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("PTZ not delivered")
	}
	if err := f.plat.Control(ctx, streetID, "32010000001310000002", "A50F01021F0000D6"); err == nil {
		t.Error("PTZ to a fixed camera was accepted")
	}
}

// TestSIPOverTCP: a platform reached over TCP gets the registration, its
// catalog (bigger pages: no datagram to fit) and a stream.
func TestSIPOverTCP(t *testing.T) {
	p := platform(6)
	p.Transport = "tcp"
	f := start(t, 6, p)
	eventually(t, 5*time.Second, "catalog of 6 over TCP", func() bool {
		items, _, complete := f.plat.Catalog(streetID)
		return complete && len(items) == 6
	})
	if _, pages, _ := f.plat.Catalog(streetID); pages != 2 {
		t.Errorf("6 cameras in pages of 4 over TCP came in %d MESSAGEs, want 2", pages)
	}
	var got countWriter
	call, err := f.plat.Play(context.Background(), streetID, "32010000001310000002", "tcp-passive", &got)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "media", func() bool { return !call.FirstFrame().IsZero() })
	_ = call.Bye(context.Background())
}

type countWriter struct {
	mu sync.Mutex
	n  int
}

func (w *countWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.n += len(b)
	w.mu.Unlock()
	return len(b), nil
}

// TestSlowPlatformSetsThePace: a platform that takes 200 ms to answer
// each MESSAGE gets the catalog pages one at a time, each after its
// answer to the one before, never two waiting at once.
func TestSlowPlatformSetsThePace(t *testing.T) {
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, _ := sipgo.NewServer(ua)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	var mu sync.Mutex
	var inflight, most, pages int
	var arrived []time.Time
	registered := make(chan string, 1)
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		select {
		case registered <- req.Source():
		default:
		}
	})
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		m, err := manscdp.Decode(req.Body())
		if err == nil && m.CmdType == "Catalog" && m.Kind == "Response" {
			mu.Lock()
			inflight++
			pages++
			most = max(most, inflight)
			arrived = append(arrived, time.Now())
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			inflight--
			mu.Unlock()
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	defer pc.Close()

	p := platform(6)
	p.Address = pc.LocalAddr().String()
	p.Password = ""
	p.Keepalive = time.Hour
	f := &fixture{prov: &relaytest.Provider{Streams: map[string]*relay.Stream{}}, cat: newCatalog(6), ptz: make(chan string, 1), p: p}
	t.Cleanup(func() {
		if f.stack != nil {
			f.stack.Close()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := f.newClient(ctx, p)
	defer c.Close()
	var src string
	select {
	case src = <-registered:
	case <-time.After(5 * time.Second):
		t.Fatal("no REGISTER")
	}
	q := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: streetID, Host: "127.0.0.1"})
	q.SetDestination(src)
	tag := sip.NewParams()
	tag.Add("tag", "x")
	q.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: platformID, Host: "3402000000"}, Params: tag})
	q.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: streetID, Host: "3201000000"}, Params: sip.NewParams()})
	q.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	q.SetBody(manscdp.Query("Catalog", 7, streetID))
	qctx, qcancel := context.WithTimeout(ctx, 3*time.Second)
	defer qcancel()
	if res, err := cli.Do(qctx, q); err != nil || res.StatusCode != 200 {
		t.Fatalf("query: %v %v", res, err)
	}
	eventually(t, 10*time.Second, "six pages", func() bool { mu.Lock(); defer mu.Unlock(); return pages == 6 && inflight == 0 })
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Errorf("%d pages waited for an answer at once, want 1", most)
	}
	for i := 1; i < len(arrived); i++ {
		if gap := arrived[i].Sub(arrived[i-1]); gap < 190*time.Millisecond {
			t.Errorf("page %d came %v after the one before, before its answer", i+1, gap)
		}
	}
}

// TestSignalsFromTheSIPPort: the street's REGISTER and its catalog leave
// from the street's one SIP address (what a firewall rule for the SIP
// port covers), and a request naming the platform from another address
// (127.0.0.2) is not the platform's: refused, nothing answered.
func TestSignalsFromTheSIPPort(t *testing.T) {
	f := start(t, 2, platform(2))
	eventually(t, 5*time.Second, "catalog", func() bool {
		items, _, complete := f.plat.Catalog(streetID)
		return complete && len(items) == 2
	})
	addr, transport, ok := f.plat.Source(streetID)
	if !ok || addr != f.stack.Addr() || transport != "UDP" {
		t.Fatalf("the street registered from %s over %s (ok %v), its SIP address is %s", addr, transport, ok, f.stack.Addr())
	}
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}, net.UDPAddrFromAddrPort(netipAddrPort(t, f.stack.Addr())))
	if err != nil {
		t.Skip("no 127.0.0.2 here:", err)
	}
	defer conn.Close()
	q := manscdp.Query("Catalog", 99, streetID)
	msg := fmt.Sprintf("MESSAGE sip:%s@3201000000 SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bKs1\r\n"+
		"From: <sip:%s@3402000000>;tag=s\r\nTo: <sip:%s@3201000000>\r\nCall-ID: s1@x\r\nCSeq: 1 MESSAGE\r\n"+
		"Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\nContent-Length: %d\r\n\r\n%s",
		streetID, conn.LocalAddr(), platformID, streetID, len(q), q)
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal("no answer:", err)
	}
	if line := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]; !strings.Contains(line, " 403 ") {
		t.Fatalf("a query naming the platform from another address: %q, want 403", line)
	}
	if _, err := conn.Read(buf); err == nil {
		t.Fatalf("the street sent the stranger more: %q", buf)
	}
}

func netipAddrPort(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestRecordInfoAnsweredFromTheIndex: the platform's RecordInfo for a
// shared camera lists the gateway's spans over the range (one a MESSAGE
// over UDP, SumNum in each, in the platform's local time, read back to
// the second); an unshared camera and an inverted range get nothing.
func TestRecordInfoAnsweredFromTheIndex(t *testing.T) {
	day := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	f := start(t, 3, platform(2))
	for i, cam := range []string{"c1", "c3"} {
		for h := 0; h < 3-2*i; h++ {
			f.spans[cam] = append(f.spans[cam], cascade.Span{Start: day.Add(time.Duration(h)*time.Hour + 90*time.Second), End: day.Add(time.Duration(h)*time.Hour + 40*time.Minute)})
		}
	}
	eventually(t, 5*time.Second, "registered", func() bool { return f.plat.Registered(streetID) })
	code := func(cam string) string {
		for _, ch := range f.cat.chans {
			if ch.CameraID == cam {
				return ch.ID
			}
		}
		return ""
	}
	ctx := context.Background()
	recs, err := f.plat.RecordInfo(ctx, streetID, code("c1"), day, day.Add(6*time.Hour))
	if err != nil || !recs.Complete || len(recs.Items) != 3 {
		t.Fatalf("a shared camera: %+v %v", recs, err)
	}
	for i, r := range recs.Items {
		if !r.Start.Equal(f.spans["c1"][i].Start) || !r.End.Equal(f.spans["c1"][i].End) {
			t.Fatalf("span %d %v–%v, the index %+v", i, r.Start, r.End, f.spans["c1"][i])
		}
	}
	// Only the range asked for.
	if recs, err := f.plat.RecordInfo(ctx, streetID, code("c1"), day.Add(time.Hour), day.Add(90*time.Minute)); err != nil || len(recs.Items) != 1 {
		t.Fatalf("one hour of the three: %+v %v", recs, err)
	}
	for what, q := range map[string][3]any{"an unshared camera": {code("c3"), day, day.Add(6 * time.Hour)}, "an inverted range": {code("c1"), day.Add(6 * time.Hour), day}} {
		recs, err := f.plat.RecordInfo(ctx, streetID, q[0].(string), q[1].(time.Time), q[2].(time.Time))
		if err != nil || !recs.Complete || len(recs.Items) != 0 {
			t.Fatalf("%s: %+v %v", what, recs, err)
		}
	}
}
