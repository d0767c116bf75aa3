package camsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
)

// GBConfig describes a simulated GB/T 28181 device (an NVR with
// channels) that registers with a platform.
type GBConfig struct {
	Server    string // the platform's SIP address, host:port
	ServerID  string // its 20-digit id
	Domain    string // its realm
	DeviceID  string // this device's 20-digit id
	Password  string
	Channels  int
	Transport string        // "udp" (default) or "tcp"
	Keepalive time.Duration // default 60 s
	Expires   time.Duration // default 1 h
	// PageSize is how many channels one catalog MESSAGE carries (default 1,
	// as Hikvision NVRs send them: over UDP a page must stay within one
	// datagram of the path MTU).
	PageSize int
	// Origin is where the channels stand (longitude, latitude; each a little
	// east of the one before); zero: no position.
	Lon, Lat float64
	// Clip is the H.264 (or, with H265, H.265) Annex B stream each channel
	// loops when invited; FPS its frame rate (default 25).
	Clip []byte
	H265 bool
	FPS  int
	// JunkSDP makes the device answer INVITEs with a description that is
	// no media one (fault).
	JunkSDP bool
	// PTZTypes sets channels' Info/PTZType in the catalog (by channel,
	// 1-based; 0 leaves Info out, as many devices do); others say 1 (dome).
	PTZTypes map[int]int
	// Off lists channels the catalog says are OFF.
	Off map[int]bool
	// Pan makes every channel a picture that PTZ left and right pan: a
	// live ffmpeg encode of a 1280x720 window onto a wider still scene
	// (Clip is then not used; ffmpeg with libx264 is needed).
	Pan bool
	// The recording index (gbrecord.go): the device's zone (default
	// China's, UTC+8), how many days back it keeps (default 7), how many
	// files one RecordInfo MESSAGE carries and how many of an
	// answer's last pages it never sends (fault; 0). Over UDP a page must
	// fit one datagram with its SIP headers: one file a MESSAGE (default
	// 1), as many NVRs send them.
	Location   *time.Location
	RecordDays int
	RecordPage int
	RecordDrop int
	// NoMediaStatus makes the device never say a Playback or Download
	// ended (fault).
	NoMediaStatus bool
	Log           *slog.Logger
}

// GBDevice is a running simulated device.
type GBDevice struct {
	cfg   GBConfig
	log   *slog.Logger
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	laddr string

	keepalive     atomic.Bool
	kaSent        atomic.Int64 // keepalives sent
	kaOK          atomic.Int64 // keepalives answered 200
	sn            atomic.Int64
	mu            sync.Mutex
	ptz           []string    // PTZCmd received, per channel in order
	recordQueries []string    // RecordInfo queries received
	controls      []string    // MANSRTSP requests received
	statusSent    int         // MediaStatus 121 sent
	firstStamps   []time.Time // the stamp of each history session's first frame
	pans          map[int]*pan
	cancel        context.CancelFunc
	done          sync.WaitGroup
	clip          *Clip
	calls         map[string]*gbCall // by Call-ID
	invites       atomic.Int64
	histInvites   atomic.Int64
	byes          atomic.Int64
	ctx           context.Context
	// Registered is closed when the first registration succeeds.
	Registered chan struct{}
	regOnce    sync.Once
	callID     string // of every REGISTER of this run (RFC 3261 10.2)
}

// ChannelID is the 20-digit id of channel i (1-based) of the device:
// the device's first 10 digits, type 131 (camera), the last four digits
// of the device's serial and the channel number (so channels of several
// devices of one domain never share a code).
func (c GBConfig) ChannelID(i int) string {
	serial, _ := strconv.Atoi(c.DeviceID[13:])
	return c.DeviceID[:10] + "131" + fmt.Sprintf("%04d%03d", serial%10000, i%1000)
}

// StartGB starts a device: it listens on an ephemeral loopback port,
// registers (answering the digest challenge) and keeps alive until ctx
// ends or Close.
func StartGB(ctx context.Context, cfg GBConfig) (*GBDevice, error) {
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = time.Minute
	}
	if cfg.Expires <= 0 {
		cfg.Expires = time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.FPS <= 0 {
		cfg.FPS = 25
	}
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("CST", 8*3600)
	}
	if cfg.RecordDays <= 0 {
		cfg.RecordDays = 7
	}
	if cfg.RecordPage <= 0 {
		cfg.RecordPage = 1
	}
	var clip *Clip
	var err error
	if cfg.Clip != nil {
		if cfg.H265 {
			clip, err = ParseClipH265(cfg.Clip)
		} else {
			clip, err = ParseClip(cfg.Clip)
		}
		if err != nil {
			return nil, err
		}
	}
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, err
	}
	d := &GBDevice{cfg: cfg, log: cfg.Log.With("component", "camsim-gb", "device", cfg.DeviceID), Registered: make(chan struct{}),
		clip: clip, calls: map[string]*gbCall{}}
	d.keepalive.Store(true)
	d.callID = sip.GenerateTagN(16) + "@" + cfg.DeviceID
	// One socket for what it sends and receives, as a device behind NAT:
	// the platform answers and asks where its packets come from.
	var port int
	var pc net.PacketConn
	var ln net.Listener
	if cfg.Transport == "tcp" {
		if ln, err = net.Listen("tcp", host+":0"); err != nil {
			return nil, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
	} else {
		if pc, err = net.ListenPacket("udp", host+":0"); err != nil {
			return nil, err
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
	}
	d.laddr = net.JoinHostPort(host, strconv.Itoa(port))
	if d.ua, err = sipgo.NewUA(sipgo.WithUserAgent("camsim-gb"), sipgo.WithUserAgentHostname(host)); err != nil {
		return nil, err
	}
	if d.srv, err = sipgo.NewServer(d.ua); err != nil {
		return nil, err
	}
	if d.cli, err = sipgo.NewClient(d.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(port)); err != nil {
		return nil, err
	}
	d.srv.OnMessage(d.onMessage)
	d.srv.OnInvite(d.onInvite)
	d.srv.OnAck(d.onAck)
	d.srv.OnBye(d.onBye)
	d.srv.OnInfo(d.onInfo)
	ctx, d.cancel = context.WithCancel(ctx)
	d.ctx = ctx
	d.done.Add(2)
	go func() {
		defer d.done.Done()
		if pc != nil {
			_ = d.srv.ServeUDP(pc)
		} else {
			_ = d.srv.ServeTCP(ln)
		}
	}()
	go func() { defer d.done.Done(); d.run(ctx) }()
	go func() {
		<-ctx.Done()
		if pc != nil {
			pc.Close()
		}
		if ln != nil {
			ln.Close()
		}
	}()
	return d, nil
}

// Addr is the device's SIP address.
func (d *GBDevice) Addr() string { return d.laddr }

// Close unregisters (Expires: 0) and stops the device.
func (d *GBDevice) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, _ = d.register(ctx, 0)
	cancel()
	d.cancel()
	_ = d.srv.Close()
	_ = d.cli.Close()
	_ = d.ua.Close()
	d.done.Wait()
}

// Kill stops the device without unregistering (a power cut).
func (d *GBDevice) Kill() {
	d.cancel()
	_ = d.srv.Close()
	_ = d.cli.Close()
	_ = d.ua.Close()
	d.done.Wait()
}

// SetKeepalive starts or stops the keepalive MESSAGEs.
func (d *GBDevice) SetKeepalive(on bool) { d.keepalive.Store(on) }

// Keepalives answers how many keepalives were sent and how many the
// platform answered 200.
func (d *GBDevice) Keepalives() (sent, ok int64) { return d.kaSent.Load(), d.kaOK.Load() }

// PTZ answers the PTZCmds received so far.
func (d *GBDevice) PTZ() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.ptz...)
}

func (d *GBDevice) run(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		code, err := d.register(ctx, d.cfg.Expires)
		if err != nil || code != 200 {
			d.log.Warn("registration failed", "code", code, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 500 * time.Millisecond
		d.regOnce.Do(func() { close(d.Registered) })
		refresh := time.After(d.cfg.Expires * 2 / 3)
		tick := time.NewTicker(d.cfg.Keepalive)
	alive:
		for {
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-refresh:
				break alive
			case <-tick.C:
				if d.keepalive.Load() {
					body := manscdp.Encode("Notify", manscdp.F("CmdType", "Keepalive"), manscdp.F("SN", d.sn.Add(1)),
						manscdp.F("DeviceID", d.cfg.DeviceID), manscdp.F("Status", "OK"))
					d.kaSent.Add(1)
					if err := d.message(ctx, body); err != nil {
						d.log.Debug("keepalive not answered", "error", err)
					} else {
						d.kaOK.Add(1)
					}
				}
			}
		}
		tick.Stop()
	}
}

func (d *GBDevice) uri(user string) sip.Uri {
	host, port, _ := net.SplitHostPort(d.cfg.Server)
	p, _ := strconv.Atoi(port)
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: p}
}

func (d *GBDevice) fromTo(req *sip.Request) {
	host, port, _ := net.SplitHostPort(d.laddr)
	p, _ := strconv.Atoi(port)
	tag := sip.NewParams()
	tag.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: d.cfg.Domain}, Params: tag})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: d.cfg.Domain}, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: host, Port: p}})
	req.SetTransport(map[string]string{"udp": "UDP", "tcp": "TCP"}[d.cfg.Transport])
}

// register sends a REGISTER for expires and answers the final status.
func (d *GBDevice) register(ctx context.Context, expires time.Duration) (int, error) {
	req := sip.NewRequest(sip.REGISTER, d.uri(d.cfg.ServerID))
	d.fromTo(req)
	req.ReplaceHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: d.cfg.DeviceID, Host: d.cfg.Domain}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	callID := sip.CallIDHeader(d.callID)
	req.AppendHeader(&callID)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := d.cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	if res.StatusCode == 401 {
		res, err = d.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: d.cfg.DeviceID, Password: d.cfg.Password})
		if err != nil {
			return 0, err
		}
	}
	return res.StatusCode, nil
}

// message sends a MANSCDP MESSAGE to the platform.
func (d *GBDevice) message(ctx context.Context, body []byte) error {
	req := sip.NewRequest(sip.MESSAGE, d.uri(d.cfg.ServerID))
	d.fromTo(req)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := d.cli.Do(ctx, req)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("%w: MESSAGE answered %d", errGB, res.StatusCode)
	}
	return nil
}

// Alarm sends an alarm of channel i (1-based) now, of AlarmMethod method
// and AlarmType typ (GB/T 28181-2016 A.2.5.5: method 5 video, type 2
// motion, 6 intrusion, 11 tamper; typ 0 sends no Info, as GB/T
// 28181-2011 devices do).
func (d *GBDevice) Alarm(ctx context.Context, i, method, typ int) error {
	return d.AlarmOf(ctx, d.cfg.ChannelID(i), method, typ)
}

// AlarmOf sends an alarm naming code (a channel, the device itself).
func (d *GBDevice) AlarmOf(ctx context.Context, code string, method, typ int) error {
	fields := []manscdp.Field{manscdp.F("CmdType", "Alarm"), manscdp.F("SN", d.sn.Add(1)),
		manscdp.F("DeviceID", code), manscdp.F("AlarmPriority", 1), manscdp.F("AlarmMethod", method),
		manscdp.F("AlarmTime", time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05")),
		manscdp.F("AlarmDescription", "报警")}
	if typ > 0 {
		fields = append(fields, manscdp.Field{Name: "Info", Children: []manscdp.Field{manscdp.F("AlarmType", typ)}})
	}
	return d.message(ctx, manscdp.Encode("Notify", fields...))
}

func (d *GBDevice) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	m, err := manscdp.Decode(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	go func() {
		defer cancel()
		switch {
		case m.Kind == "Query" && m.CmdType == "Catalog":
			d.answerCatalog(ctx, m.SN)
		case m.Kind == "Query" && m.CmdType == "RecordInfo":
			d.answerRecordInfo(ctx, m)
		case m.Kind == "Query" && m.CmdType == "DeviceInfo":
			_ = d.message(ctx, manscdp.Encode("Response", manscdp.F("CmdType", "DeviceInfo"), manscdp.F("SN", m.SN),
				manscdp.F("DeviceID", d.cfg.DeviceID), manscdp.F("DeviceName", "camsim NVR"), manscdp.F("Result", "OK"),
				manscdp.F("Manufacturer", "camsim"), manscdp.F("Model", "GB-NVR"), manscdp.F("Firmware", "V1.0"),
				manscdp.F("Channel", d.cfg.Channels)))
		case m.Kind == "Control" && m.CmdType == "DeviceControl" && m.PTZCmd != "":
			d.mu.Lock()
			d.ptz = append(d.ptz, m.DeviceID+" "+m.PTZCmd)
			d.mu.Unlock()
			if ch := d.channelOf(m.DeviceID); ch > 0 && d.cfg.Pan {
				d.move(ch, m.PTZCmd)
			}
		}
	}()
}

// answerCatalog sends the channels PageSize a MESSAGE, SumNum in each.
func (d *GBDevice) answerCatalog(ctx context.Context, sn int) {
	n := d.cfg.Channels
	for start := 1; start <= n; start += d.cfg.PageSize {
		var items []manscdp.Field
		end := min(n, start+d.cfg.PageSize-1)
		for i := start; i <= end; i++ {
			item := []manscdp.Field{manscdp.F("DeviceID", d.cfg.ChannelID(i)), manscdp.F("Name", fmt.Sprintf("通道%d", i)),
				manscdp.F("Manufacturer", "camsim"), manscdp.F("Model", "GB-IPC"), manscdp.F("Owner", "Owner"),
				manscdp.F("CivilCode", d.cfg.DeviceID[:6]), manscdp.F("Address", "Address"), manscdp.F("Parental", 0),
				manscdp.F("ParentID", d.cfg.DeviceID), manscdp.F("RegisterWay", 1), manscdp.F("Secrecy", 0), manscdp.F("Status", status(d.cfg.Off[i]))}
			if d.cfg.Lon != 0 || d.cfg.Lat != 0 {
				item = append(item, manscdp.F("Longitude", strconv.FormatFloat(d.cfg.Lon+float64(i-1)*0.0002, 'f', 6, 64)),
					manscdp.F("Latitude", strconv.FormatFloat(d.cfg.Lat, 'f', 6, 64)))
			}
			ptz, set := d.cfg.PTZTypes[i]
			if !set {
				ptz = 1
			}
			if ptz != 0 {
				item = append(item, manscdp.Field{Name: "Info", Children: []manscdp.Field{manscdp.F("PTZType", ptz)}})
			}
			items = append(items, manscdp.Field{Name: "Item", Children: item})
		}
		body := manscdp.Encode("Response", manscdp.F("CmdType", "Catalog"), manscdp.F("SN", sn), manscdp.F("DeviceID", d.cfg.DeviceID),
			manscdp.F("SumNum", n), manscdp.Field{Name: "DeviceList", Attrs: [][2]string{{"Num", strconv.Itoa(len(items))}}, Children: items})
		if err := d.message(ctx, body); err != nil {
			d.log.Warn("catalog page not sent", "error", err)
			return
		}
	}
}

func status(off bool) string {
	if off {
		return "OFF"
	}
	return "ON"
}

// Config is the device's configuration (with defaults filled in).
func (d *GBDevice) Config() GBConfig { return d.cfg }
