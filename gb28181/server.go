package gb28181

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
)

// Config is the SIP side of the gateway for devices.
type Config struct {
	// Addr is the SIP address, UDP and TCP on the same port.
	Addr string
	// ServerID is the platform's 20-digit code; Domain its realm (the
	// first 10 digits).
	ServerID, Domain string
	// Keepalive is the interval devices keep alive at; three missed
	// intervals mark a device offline.
	Keepalive time.Duration
	// MaxExpires caps the registration a device asks for.
	MaxExpires time.Duration
	// CatalogWait is how long a catalog split over several MESSAGEs may
	// take to arrive whole.
	CatalogWait time.Duration
	// RegisterRate is how many REGISTERs a second one address may send
	// (a flood beyond it is answered 503).
	RegisterRate float64
}

// Settings are what the gateway knows of a device before it registers.
type Settings struct {
	Password string // empty: the default password
	Enabled  bool
}

// Devices looks up a device's settings; ok false for a device never seen
// (it may register with the default password).
type Devices func(id string) (s Settings, ok bool)

// Device is a registered device as the server sees it.
type Device struct {
	ID            string
	Addr          string // where its SIP comes from (followed through NAT rebinding)
	Transport     string // UDP or TCP
	Registered    time.Time
	Expires       time.Time
	LastKeepalive time.Time
	callID        string // of its REGISTERs: a new one is a device that restarted
}

// Handler receives what devices do and say.
type Handler struct {
	Online     func(d Device)                                              // registered, or registered again
	Offline    func(id, why string)                                        // unregistered, expired, or silent for three keepalives
	Moved      func(d Device)                                              // its address changed
	Catalog    func(deviceID string, items []manscdp.Item, complete bool)  // a catalog, gathered over its MESSAGEs
	DeviceInfo func(deviceID string, m *manscdp.Message)                   // its answer to DeviceInfo
	Alarm      func(deviceID string, body []byte)                          // an Alarm notification's body, as sent
	Message    func(deviceID string, m *manscdp.Message, body []byte) bool // anything else; true if handled
	// Optional: a REGISTER refused for its credentials (the address it
	// came from), and each page of a catalog as it arrives.
	Refused     func(deviceID, source string, err error)
	CatalogPage func(deviceID string, m *manscdp.Message)
}

// Server is the SIP server devices register with (GB/T 28181 section 9):
// REGISTER with digest, keepalive MESSAGEs, catalog and device info
// queries, and requests to devices at the address they last came from.
type Server struct {
	cfg     Config
	log     *slog.Logger
	devices Devices
	defPass string
	h       Handler
	auth    *Digest
	now     func() time.Time

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	mu       sync.Mutex
	live     map[string]*Device
	catalogs map[string]*catalogRun
	calls    map[string]*Call // by Call-ID
	sn       int
	buckets  map[string]*bucket

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
	// UDP and TCP listeners' addresses once serving.
	udpAddr, tcpAddr net.Addr
}

// maxCatalog bounds the items kept of one device's catalog (the largest
// NVRs have a few hundred channels).
const maxCatalog = 4096

type catalogRun struct {
	sn    int
	sum   int
	items []manscdp.Item
	seen  map[string]bool
	timer *time.Timer
}

// NewServer makes the server; password is the default device password.
func NewServer(cfg Config, password string, devices Devices, h Handler, log *slog.Logger) (*Server, error) {
	if !manscdp.IsCode(cfg.ServerID) || len(cfg.Domain) != 10 {
		return nil, fmt.Errorf("%w: server_id must be 20 digits and domain 10", ErrConfig)
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = time.Minute
	}
	if cfg.MaxExpires <= 0 {
		cfg.MaxExpires = 24 * time.Hour
	}
	if cfg.CatalogWait <= 0 {
		cfg.CatalogWait = 10 * time.Second
	}
	if cfg.RegisterRate <= 0 {
		cfg.RegisterRate = 5
	}
	if log == nil {
		log = slog.Default()
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("sharpeyes"), sipgo.WithUserAgentHostname(cfg.Domain))
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log.With("component", "gb28181"), devices: devices, defPass: password, h: h,
		auth: NewDigest(cfg.Domain, 5*time.Minute, nil), now: time.Now, ua: ua, srv: srv, cli: cli,
		live: map[string]*Device{}, catalogs: map[string]*catalogRun{}, calls: map[string]*Call{}, buckets: map[string]*bucket{}}
	srv.OnRegister(s.onRegister)
	srv.OnMessage(s.onMessage)
	srv.OnBye(s.onBye)
	return s, nil
}

// Start listens on cfg.Addr (UDP and TCP) until ctx ends or Close.
func (s *Server) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	pc, err := net.ListenPacket("udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gb28181 sip udp: %w", err)
	}
	// TCP on the same port as UDP (an ephemeral UDP port included).
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("gb28181 sip tcp: %w", err)
	}
	s.udpAddr, s.tcpAddr = pc.LocalAddr(), ln.Addr()
	s.done.Add(3)
	go func() { defer s.done.Done(); _ = s.srv.ServeUDP(pc) }()
	go func() { defer s.done.Done(); _ = s.srv.ServeTCP(ln) }()
	go func() { defer s.done.Done(); s.watch() }()
	go func() { <-s.ctx.Done(); pc.Close(); ln.Close() }()
	s.log.Info("SIP server for devices listening", "addr", s.udpAddr.String())
	return nil
}

// Addr is the address the server listens on (UDP and TCP).
func (s *Server) Addr() string { return s.udpAddr.String() }

// Close stops the server.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	_ = s.srv.Close()
	_ = s.cli.Close()
	_ = s.ua.Close()
	s.done.Wait()
}

// Device answers a registered device.
func (s *Server) Device(id string) (Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.live[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}

func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "code", code, "error", err)
	}
}

func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !s.allow(req.Source()) {
		s.respond(req, tx, 503, "Service Unavailable", sip.NewHeader("Retry-After", "10"))
		return
	}
	from := req.From()
	if from == nil || !manscdp.IsCode(from.Address.User) {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	id := from.Address.User
	set, known := s.devices(id)
	if known && !set.Enabled {
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	pass := s.defPass
	if known && set.Password != "" {
		pass = set.Password
	}
	auth := ""
	if h := req.GetHeader("Authorization"); h != nil {
		auth = h.Value()
	}
	user, err := s.auth.Check("REGISTER", auth, func(u string) (string, bool) { return pass, u == id })
	switch {
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrStale), errors.Is(err, ErrReplay):
		if errors.Is(err, ErrReplay) {
			s.log.Warn("REGISTER with a used nonce", "device", id, "from", req.Source())
		}
		s.respond(req, tx, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", s.auth.Challenge(errors.Is(err, ErrStale))))
		return
	case err != nil:
		s.log.Warn("REGISTER refused", "device", id, "from", req.Source(), "error", err)
		s.respond(req, tx, 403, "Forbidden")
		if s.h.Refused != nil {
			s.h.Refused(id, req.Source(), err)
		}
		return
	}
	_ = user
	expires := s.expires(req)
	now := s.now()
	date := sip.NewHeader("Date", now.In(beijing).Format("2006-01-02T15:04:05.000"))
	if expires == 0 {
		s.respond(req, tx, 200, "OK", date, sip.NewHeader("Expires", "0"))
		s.drop(id, "unregistered")
		return
	}
	// Known before the 200 leaves: the device may ask or be asked at once.
	s.mu.Lock()
	d, again := s.live[id]
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	if again && d.callID != callID {
		again = false // the device restarted (a refresh keeps its Call-ID): ask it everything again
	}
	if !again {
		d = &Device{ID: id, Registered: now, callID: callID}
		s.live[id] = d
	}
	moved := again && d.Addr != req.Source()
	d.Addr, d.Transport, d.Expires, d.LastKeepalive = req.Source(), strings.ToUpper(req.Transport()), now.Add(expires), now
	dv := *d
	s.mu.Unlock()
	s.respond(req, tx, 200, "OK", date, sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	if moved && s.h.Moved != nil {
		s.h.Moved(dv)
	}
	if !again {
		s.log.Info("device registered", "device", id, "addr", dv.Addr, "transport", dv.Transport)
		if s.h.Online != nil {
			s.h.Online(dv)
		}
		go s.query(id)
	}
}

// beijing is the zone GB/T 28181 devices keep their clocks in.
var beijing = time.FixedZone("CST", 8*3600)

// expires is the registration the device asked for (Expires header, or
// the Contact's expires), capped.
func (s *Server) expires(req *sip.Request) time.Duration {
	v := ""
	if c := req.Contact(); c != nil {
		if e, ok := c.Params.Get("expires"); ok {
			v = e
		}
	}
	if h := req.GetHeader("Expires"); h != nil {
		v = h.Value()
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		n = 3600
	}
	return min(time.Duration(n)*time.Second, s.cfg.MaxExpires)
}

// drop marks a device gone.
func (s *Server) drop(id, why string) {
	s.mu.Lock()
	_, ok := s.live[id]
	delete(s.live, id)
	s.mu.Unlock()
	if ok {
		s.log.Info("device offline", "device", id, "why", why)
		if s.h.Offline != nil {
			s.h.Offline(id, why)
		}
	}
}

// watch marks offline the devices whose registration expired or that
// missed three keepalives.
func (s *Server) watch() {
	t := time.NewTicker(min(time.Second, s.cfg.Keepalive/4))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		var gone []string
		var why []string
		s.mu.Lock()
		for id, d := range s.live {
			switch {
			case now.After(d.Expires):
				gone, why = append(gone, id), append(why, "registration expired")
			case now.Sub(d.LastKeepalive) > 3*s.cfg.Keepalive:
				gone, why = append(gone, id), append(why, "three keepalives missed")
			}
		}
		s.mu.Unlock()
		for i, id := range gone {
			s.drop(id, why[i])
		}
		s.auth.Sweep()
		s.sweepBuckets(now)
	}
}

func (s *Server) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	from := req.From()
	if from == nil {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	id := from.Address.User
	body := req.Body()
	m, err := manscdp.Decode(body)
	if err != nil {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	// A channel's MESSAGE (an alarm) names the channel in its body; the
	// From is its device.
	s.mu.Lock()
	d, ok := s.live[id]
	if ok {
		d.LastKeepalive = s.now()
		if src := req.Source(); src != d.Addr {
			d.Addr = src
			dv := *d
			s.mu.Unlock()
			s.log.Info("device moved", "device", id, "addr", src)
			if s.h.Moved != nil {
				s.h.Moved(dv)
			}
			s.mu.Lock()
		}
	}
	s.mu.Unlock()
	if !ok {
		// Not registered (a reboot the gateway missed, or a stranger): it
		// must register first.
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	if m.Kind == "Response" && m.CmdType == "Catalog" {
		// A page is answered once it is taken, so a sender that waits for
		// the 200 before the next page has its pages kept in order.
		s.catalogPage(id, m)
		s.respond(req, tx, 200, "OK")
		return
	}
	s.respond(req, tx, 200, "OK")
	switch {
	case m.CmdType == "Keepalive":
	case m.Kind == "Response" && m.CmdType == "DeviceInfo":
		if s.h.DeviceInfo != nil {
			s.h.DeviceInfo(id, m)
		}
	case m.Kind == "Notify" && m.CmdType == "Alarm":
		if s.h.Alarm != nil {
			s.h.Alarm(id, body)
		}
	default:
		if s.h.Message == nil || !s.h.Message(id, m, body) {
			s.log.Debug("MESSAGE not used", "device", id, "kind", m.Kind, "cmd", m.CmdType)
		}
	}
}

// catalogPage gathers one page of a catalog answer.
func (s *Server) catalogPage(id string, m *manscdp.Message) {
	if s.h.CatalogPage != nil {
		s.h.CatalogPage(id, m)
	}
	s.mu.Lock()
	run := s.catalogs[id]
	if run == nil || run.sn != m.SN {
		if run != nil {
			run.timer.Stop()
		}
		run = &catalogRun{sn: m.SN, seen: map[string]bool{}}
		run.timer = time.AfterFunc(s.cfg.CatalogWait, func() { s.catalogDone(id, m.SN, false) })
		s.catalogs[id] = run
	}
	run.sum = min(m.SumNum, maxCatalog)
	if m.DeviceList != nil {
		for _, it := range m.DeviceList.Items {
			if len(run.items) >= maxCatalog {
				break // a catalog no NVR has: the rest is not kept
			}
			if !run.seen[it.DeviceID] {
				run.seen[it.DeviceID] = true
				run.items = append(run.items, it)
			}
		}
	}
	whole := len(run.items) >= run.sum
	s.mu.Unlock()
	if whole {
		s.catalogDone(id, m.SN, true)
	}
}

func (s *Server) catalogDone(id string, sn int, complete bool) {
	s.mu.Lock()
	run := s.catalogs[id]
	if run == nil || run.sn != sn {
		s.mu.Unlock()
		return
	}
	run.timer.Stop()
	delete(s.catalogs, id)
	items := run.items
	s.mu.Unlock()
	if !complete {
		s.log.Warn("catalog incomplete", "device", id, "got", len(items), "of", run.sum)
	}
	if s.h.Catalog != nil {
		s.h.Catalog(id, items, complete)
	}
}

// query asks a newly registered device for its info and its catalog.
func (s *Server) query(id string) {
	for _, cmd := range []string{"DeviceInfo", "Catalog"} {
		if err := s.Query(s.ctx, id, cmd); err != nil {
			s.log.Warn("query not answered", "device", id, "cmd", cmd, "error", err)
		}
	}
}

// Query sends a Query MESSAGE (Catalog, DeviceInfo, DeviceStatus…) to a
// registered device; its answer comes as MESSAGEs of its own.
func (s *Server) Query(ctx context.Context, id, cmd string) error {
	s.mu.Lock()
	s.sn++
	sn := s.sn
	s.mu.Unlock()
	return s.Message(ctx, id, id, manscdp.Query(cmd, sn, id))
}

// Message sends a MANSCDP MESSAGE to target (the device or one of its
// channels) through device id's registration, and waits for its 200.
func (s *Server) Message(ctx context.Context, id, target string, body []byte) error {
	d, ok := s.Device(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	req := s.request(sip.MESSAGE, d, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := s.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("MESSAGE to %s: %w", target, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: MESSAGE to %s: %d %s", ErrRefused, target, res.StatusCode, res.Reason)
	}
	return nil
}

// request is a request to target of device d, sent where d's SIP comes from.
func (s *Server) request(method sip.RequestMethod, d Device, target string) *sip.Request {
	host, port, _ := net.SplitHostPort(d.Addr)
	p, _ := strconv.Atoi(port)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: target, Host: host, Port: p})
	req.SetDestination(d.Addr)
	req.SetTransport(d.Transport)
	tag := sip.NewParams()
	tag.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: s.cfg.ServerID, Host: s.cfg.Domain}, Params: tag})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target, Host: s.cfg.Domain}, Params: sip.NewParams()})
	return req
}

// bucket is a token bucket of REGISTERs for one address.
type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a REGISTER token for the source address (host:port) and,
// if it has one, for its host: one device flooding is cut off without
// touching the other devices behind the same NAT, and a host flooding
// from many ports is cut off as a whole (at ten times one address's rate).
func (s *Server) allow(src string) bool {
	host, _, err := net.SplitHostPort(src)
	if err != nil {
		host = src
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.take("a "+src, s.cfg.RegisterRate, now) && s.take("h "+host, 10*s.cfg.RegisterRate, now)
}

// take takes one token from bucket key filling at rate a second (a burst
// of four seconds' worth).
func (s *Server) take(key string, rate float64, now time.Time) bool {
	b := s.buckets[key]
	burst := 4 * rate
	if b == nil {
		b = &bucket{tokens: burst, at: now}
		s.buckets[key] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (s *Server) sweepBuckets(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, b := range s.buckets {
		if now.Sub(b.at) > time.Minute {
			delete(s.buckets, h)
		}
	}
}
