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

	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
)

// Config is the SIP side of the gateway for devices.
type Config struct {
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
	// MaxChannels bounds the catalog items kept of one device (default
	// 4,096: the largest NVRs have a few hundred channels).
	MaxChannels int
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
	checked       time.Time // when a catalog query last asked a silent device whether it is there
	callID        string    // of its REGISTERs: a new one is a device that restarted
	untrust       func()    // ends its address's trusted budget
}

// Handler receives what devices do and say.
type Handler struct {
	Online     func(d Device)                                              // registered, or registered again
	Offline    func(id, why string)                                        // unregistered, expired, or silent for three keepalives
	Moved      func(d Device)                                              // registered again from another address
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
// queries, and requests to devices at the address they registered from.
// Only an authenticated REGISTER binds a device id to an address and a
// transport: any other request naming a device from another source is
// refused (403) and changes nothing.
type Server struct {
	cfg     Config
	log     *slog.Logger
	stack   *sipstack.Stack
	devices Devices
	defPass string
	h       Handler
	auth    *Digest
	now     func() time.Time

	mu       sync.Mutex
	live     map[string]*Device
	catalogs map[string]*catalogRun
	asked    map[string]map[int]time.Time // device → catalog SNs asked for, and when
	calls    map[string]*Call             // by Call-ID
	records  map[int]*recordRun           // RecordInfo queries waiting, by SN
	callSeq  int                          // calls made, for the newest of a channel
	left     map[string]time.Time         // device → when it went offline
	sn       int
	buckets  map[string]*bucket

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
}

type catalogRun struct {
	sn    int
	sum   int
	items []manscdp.Item
	seen  map[string]bool
	timer *time.Timer
}

// NewServer makes the device side on stack; password is the default
// device password.
func NewServer(stack *sipstack.Stack, cfg Config, password string, devices Devices, h Handler, log *slog.Logger) (*Server, error) {
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
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = 4096
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log.With("component", "gb28181"), stack: stack, devices: devices, defPass: password, h: h,
		auth: NewDigest(cfg.Domain, 5*time.Minute, nil), now: time.Now, live: map[string]*Device{}, catalogs: map[string]*catalogRun{},
		asked: map[string]map[int]time.Time{}, calls: map[string]*Call{}, left: map[string]time.Time{}, buckets: map[string]*bucket{}}
	return s, nil
}

// Start takes the stack's requests that are no superior platform's
// until ctx ends or Close.
func (s *Server) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.stack.Handle(s.serve)
	s.done.Add(1)
	go func() { defer s.done.Done(); s.watch() }()
	s.log.Info("SIP server for devices ready", "addr", s.stack.Addr())
	return nil
}

// Domain is the server's SIP domain (the first 10 digits of its id).
func (s *Server) Domain() string { return s.cfg.Domain }

// Addr is the address devices register at (UDP and TCP).
func (s *Server) Addr() string { return s.stack.Addr() }

// Close stops taking requests and waits for the server's goroutines.
func (s *Server) Close() {
	if s.cancel == nil {
		return
	}
	s.stack.Handle(nil)
	s.cancel()
	s.done.Wait()
	s.mu.Lock()
	for _, d := range s.live {
		d.untrust()
	}
	s.mu.Unlock()
}

// sentBy tells whether req comes from where device id registered.
func (s *Server) sentBy(req *sip.Request, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.live[id]
	return ok && d.Addr == req.Source() && d.Transport == strings.ToUpper(req.Transport())
}

// serve answers a device's request by its method.
func (s *Server) serve(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.REGISTER:
		s.onRegister(req, tx)
	case sip.MESSAGE:
		s.onMessage(req, tx)
	case sip.BYE:
		s.onBye(req, tx)
	case sip.ACK:
	case sip.NOTIFY:
		// Subscriptions' notifications (catalog, position): taken from a
		// registered device, not acted on.
		if _, ok := s.from(req); !ok {
			s.respond(req, tx, 403, "Forbidden")
			return
		}
		s.respond(req, tx, 200, "OK")
	default:
		s.respond(req, tx, 405, "Method Not Allowed")
	}
}

// from answers the device a request comes from: the device its From
// names, if the request comes from the address and over the transport
// that device registered with. A request from anywhere else is not the
// device's, whatever it names.
func (s *Server) from(req *sip.Request) (Device, bool) {
	f := req.From()
	if f == nil || !s.sentBy(req, f.Address.User) {
		return Device{}, false
	}
	return s.Device(f.Address.User)
}

// Presence tells whether device id is registered, and since when it is
// (or since when it is not: zero for a device not seen since the start).
func (s *Server) Presence(id string) (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.live[id]; ok {
		return true, d.Registered
	}
	return false, s.left[id]
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
		if old := s.live[id]; old != nil {
			old.untrust()
		}
		d = &Device{ID: id, Registered: now, callID: callID, untrust: func() {}}
		s.live[id] = d
		delete(s.left, id)
	}
	moved := again && (d.Addr != req.Source() || d.Transport != strings.ToUpper(req.Transport()))
	if !again || moved {
		d.untrust()
		d.untrust = s.stack.Trust(req.Source())
	}
	d.Addr, d.Transport, d.Expires, d.LastKeepalive = req.Source(), strings.ToUpper(req.Transport()), now.Add(expires), now
	dv := *d
	s.mu.Unlock()
	s.respond(req, tx, 200, "OK", date, sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	if moved {
		s.log.Info("device registered again from another address", "device", id, "addr", dv.Addr, "transport", dv.Transport)
		if s.h.Moved != nil {
			s.h.Moved(dv)
		}
	}
	if !again {
		s.log.Info("device registered", "device", id, "addr", dv.Addr, "transport", dv.Transport)
		if s.h.Online != nil {
			s.h.Online(dv)
		}
		s.done.Add(1)
		go func() { defer s.done.Done(); s.query(id) }()
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
	d, ok := s.live[id]
	if ok {
		d.untrust()
		if len(s.left) > 100_000 {
			clear(s.left) // bounded: devices not seen since are "never seen"
		}
		s.left[id] = s.now()
	}
	delete(s.live, id)
	delete(s.asked, id)
	s.mu.Unlock()
	if ok {
		s.log.Info("device offline", "device", id, "why", why)
		if s.h.Offline != nil {
			s.h.Offline(id, why)
		}
	}
}

// watch marks offline the devices whose registration expired or that
// missed three keepalives, and asks a device that missed one for its
// catalog: one that answers is there (and its channels' status is
// fresh), one that does not goes offline at the third.
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
		var gone, why, silent []string
		s.mu.Lock()
		for id, d := range s.live {
			switch {
			case now.After(d.Expires):
				gone, why = append(gone, id), append(why, "registration expired")
			case now.Sub(d.LastKeepalive) > 3*s.cfg.Keepalive:
				gone, why = append(gone, id), append(why, "three keepalives missed")
			case now.Sub(d.LastKeepalive) > s.cfg.Keepalive+s.cfg.Keepalive/2 && now.Sub(d.checked) > s.cfg.Keepalive:
				d.checked = now
				silent = append(silent, id)
			}
		}
		s.mu.Unlock()
		for i, id := range gone {
			s.drop(id, why[i])
		}
		for _, id := range silent {
			s.done.Add(1)
			go func() { defer s.done.Done(); s.checkSilent(id) }()
		}
		s.auth.Sweep()
		s.sweepBuckets(now)
		s.sweepAsked(now)
	}
}

func (s *Server) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	d, ok := s.from(req)
	if !ok {
		d, ok = s.inCall(req)
	}
	if !ok {
		// Not registered from here (a reboot the gateway missed, a NAT
		// mapping that changed, or a stranger naming a device): it must
		// register first, and nothing it says is taken.
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	id := d.ID
	body := req.Body()
	m, err := manscdp.Decode(body)
	if err != nil {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	s.mu.Lock()
	if live, ok := s.live[id]; ok {
		live.LastKeepalive = s.now()
	}
	s.mu.Unlock()
	if m.Kind == "Notify" && m.CmdType == "MediaStatus" {
		s.mediaStatus(id, req, m)
		s.respond(req, tx, 200, "OK")
		return
	}
	if m.Kind == "Response" && m.CmdType == "RecordInfo" {
		s.recordPage(id, m)
		s.respond(req, tx, 200, "OK")
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

// inCall is the device of a request sent in one of its calls' dialogs
// (From: the channel, as the INVITE's To), from where it registered.
func (s *Server) inCall(req *sip.Request) (Device, bool) {
	id := req.CallID()
	if id == nil {
		return Device{}, false
	}
	s.mu.Lock()
	c := s.calls[id.Value()]
	s.mu.Unlock()
	if c == nil || !s.sentBy(req, c.device) {
		return Device{}, false
	}
	return s.Device(c.device)
}

// mediaStatus takes a device's MediaStatus: 121 says a Playback or
// Download has been sent whole. It names the call by the MESSAGE's
// Call-ID where the device sends it in the dialog, else by the channel
// (its newest history call).
func (s *Server) mediaStatus(device string, req *sip.Request, m *manscdp.Message) {
	if strings.TrimSpace(m.NotifyType) != "121" {
		return
	}
	s.mu.Lock()
	var hit *Call
	if id := req.CallID(); id != nil {
		if c := s.calls[id.Value()]; c != nil && c.device == device {
			hit = c
		}
	}
	if hit == nil {
		for _, c := range s.calls {
			if c.device == device && c.channel == m.DeviceID && c.Offer.Session != "Play" && (hit == nil || c.seq > hit.seq) {
				hit = c
			}
		}
	}
	s.mu.Unlock()
	if hit == nil {
		s.log.Debug("MediaStatus of no call", "device", device, "channel", m.DeviceID)
		return
	}
	hit.markSent()
}

// catalogPage gathers one page of a catalog answer: only of a query the
// gateway sent the device (its SN), never more than MaxChannels items
// whatever the SNs and pages, and a query answered whole takes no more
// pages.
func (s *Server) catalogPage(id string, m *manscdp.Message) {
	s.mu.Lock()
	if _, asked := s.asked[id][m.SN]; !asked {
		s.mu.Unlock()
		s.log.Debug("catalog page of no query taken and let be", "device", id, "sn", m.SN)
		return
	}
	run := s.catalogs[id]
	if run == nil || run.sn != m.SN {
		if run != nil {
			run.timer.Stop() // a newer query's answer: the older one is over
		}
		run = &catalogRun{sn: m.SN, seen: map[string]bool{}}
		run.timer = time.AfterFunc(s.cfg.CatalogWait, func() { s.catalogDone(id, m.SN, false) })
		s.catalogs[id] = run
	}
	run.sum = min(max(m.SumNum, 0), s.cfg.MaxChannels)
	if m.DeviceList != nil {
		for _, it := range m.DeviceList.Items {
			if len(run.items) >= s.cfg.MaxChannels {
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
	if s.h.CatalogPage != nil {
		s.h.CatalogPage(id, m)
	}
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
	delete(s.asked[id], sn) // answered: later pages of it are not taken
	items := run.items
	s.mu.Unlock()
	if !complete {
		s.log.Warn("catalog incomplete", "device", id, "got", len(items), "of", run.sum)
	}
	if s.h.Catalog != nil {
		s.h.Catalog(id, items, complete)
	}
}

// checkSilent asks a device that missed a keepalive for its catalog; a
// device whose SIP answers the query is there (its keepalive may have
// been lost on the way), so it counts as heard from.
func (s *Server) checkSilent(id string) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Keepalive)
	defer cancel()
	if err := s.Query(ctx, id, "Catalog"); err != nil {
		s.log.Info("a silent device did not answer its catalog query", "device", id, "error", err)
		return
	}
	s.mu.Lock()
	if d, ok := s.live[id]; ok {
		d.LastKeepalive = s.now()
	}
	s.mu.Unlock()
	s.log.Debug("a silent device answered its catalog query", "device", id)
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
	if cmd == "Catalog" {
		if _, live := s.live[id]; live {
			if s.asked[id] == nil {
				s.asked[id] = map[int]time.Time{}
			}
			s.asked[id][sn] = s.now()
		}
	}
	s.mu.Unlock()
	return s.Message(ctx, id, id, manscdp.Query(cmd, sn, id))
}

// askedFor is how long a catalog query's answer is waited for.
const askedFor = 2 * time.Minute

func (s *Server) sweepAsked(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sns := range s.asked {
		for sn, at := range sns {
			if now.Sub(at) > askedFor {
				delete(sns, sn)
			}
		}
		if len(sns) == 0 {
			delete(s.asked, id)
		}
	}
}

// Message sends a MANSCDP MESSAGE to target (the device or one of its
// channels) through device id's registration, and waits for its 200.
func (s *Server) Message(ctx context.Context, id, target string, body []byte) error {
	d, ok := s.Device(id)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotRegistered, id)
	}
	cli, _, err := s.stack.Client(d.Addr, d.Transport)
	if err != nil {
		return err
	}
	req := s.request(sip.MESSAGE, d, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req)
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
