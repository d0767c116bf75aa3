// Package sipstack is the gateway's one SIP stack for GB/T 28181: the UDP
// and TCP listeners on gb28181.sip_addr, shared by the device side (the
// SIP server devices register with) and the cascade side (the street
// registered with its superior platforms), so every SIP datagram the
// gateway sends leaves from that address and one firewall rule covers
// both. Before a message is parsed each source is held to a budget
// (Limits), with bounded memory; a request is routed to the superior
// platform it comes from (its code in From, its address as the source),
// else to the device side.
package sipstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config is the stack's settings.
type Config struct {
	// Addr is the SIP address, UDP and TCP on the same port.
	Addr string
	// Hostname is the host part of the stack's SIP URIs (the domain).
	Hostname string
	Limits   Limits
	// Await says a device side will Handle what no route owns: until it
	// does (and once it lets go) such a request is answered 503 with
	// Retry-After, which a device takes as "register again later".
	// Without it, nothing takes such a request and it is 403.
	Await bool
}

// Route takes the requests of one peer (a superior platform).
type Route interface {
	// Claim tells how surely a request is the peer's: 0 not at all; of
	// several routes claiming it the highest claim takes it.
	Claim(req *sip.Request) int
	// Serve answers it.
	Serve(req *sip.Request, tx sip.ServerTransaction)
}

// Stack is the SIP stack.
type Stack struct {
	cfg Config
	log *slog.Logger
	lim *limiter

	ua  *sipgo.UserAgent
	srv *sipgo.Server

	mu      sync.Mutex
	routes  []*routeEntry
	def     func(req *sip.Request, tx sip.ServerTransaction)
	clients map[string]*sipgo.Client // by network and local host

	udp net.PacketConn
	tcp net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type routeEntry struct{ r Route }

// New makes the stack; Start listens.
func New(cfg Config, log *slog.Logger) (*Stack, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "sip")
	// The transport layer logs every datagram it cannot parse, with its
	// bytes, at error level: a stranger's junk is no error of ours.
	quiet := slog.New(&quietHandler{next: log.Handler(), every: 10 * time.Second, mu: &sync.Mutex{}, last: map[string]time.Time{}})
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("sharpeyes"), sipgo.WithUserAgentHostname(cfg.Hostname),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		_ = ua.Close()
		return nil, err
	}
	s := &Stack{cfg: cfg, log: log, lim: newLimiter(cfg.Limits, nil), ua: ua, srv: srv, clients: map[string]*sipgo.Client{}}
	for _, m := range []sip.RequestMethod{sip.REGISTER, sip.MESSAGE, sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.SUBSCRIBE,
		sip.NOTIFY, sip.INFO, sip.OPTIONS, sip.UPDATE, sip.PRACK, sip.REFER, sip.PUBLISH} {
		srv.OnRequest(m, s.dispatch)
	}
	srv.OnNoRoute(s.dispatch)
	return s, nil
}

// Start listens on Addr (UDP and TCP) until ctx ends or Close.
func (s *Stack) Start(ctx context.Context) error {
	pc, ln, err := listenBoth(s.cfg.Addr)
	if err != nil {
		return err
	}
	s.udp, s.tcp = pc, ln
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(3)
	go func() { defer s.wg.Done(); _ = s.srv.ServeUDP(&packetConn{PacketConn: pc, lim: s.lim}) }()
	go func() { defer s.wg.Done(); _ = s.srv.ServeTCP(&listener{Listener: ln, lim: s.lim}) }()
	go func() { defer s.wg.Done(); <-s.ctx.Done(); pc.Close(); ln.Close() }()
	s.log.Info("SIP listening", "addr", pc.LocalAddr().String())
	return nil
}

// listenBoth listens on addr over UDP and TCP, the same port. An
// ephemeral port (":0") is the kernel's for UDP, and may be taken for TCP
// by then: a few are tried.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	tries := 1
	if port == "0" || port == "" {
		tries = 8
	}
	var err error
	for range tries {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return nil, nil, fmt.Errorf("sip udp %s: %w", addr, err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(4 << 20) // a burst of a site's catalogs; a flood is dropped past it
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln, nil
		}
		pc.Close()
		err = fmt.Errorf("sip tcp %s: %w", addr, err)
	}
	return nil, nil, err
}

// Close stops listening and ends every transaction.
func (s *Stack) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	_ = s.srv.Close()
	_ = s.ua.Close()
}

// Addr is the address the stack listens on (UDP and TCP).
func (s *Stack) Addr() string {
	if s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

// Port is the SIP port.
func (s *Stack) Port() int {
	if s.udp == nil {
		return 0
	}
	return s.udp.LocalAddr().(*net.UDPAddr).Port
}

// Dropped counts messages and connections refused for their source's
// budget.
func (s *Stack) Dropped() uint64 { return s.lim.dropped.Load() }

// Handle sets the handler of requests no route owns (the device side).
func (s *Stack) Handle(h func(req *sip.Request, tx sip.ServerTransaction)) {
	s.mu.Lock()
	s.def = h
	s.mu.Unlock()
}

// Attach routes the requests r owns to r, and trusts host (the peer's
// address: its messages are held to the trusted budget) until detached.
func (s *Stack) Attach(r Route, host string) (detach func()) {
	e := &routeEntry{r: r}
	s.mu.Lock()
	s.routes = append(s.routes, e)
	s.mu.Unlock()
	untrust := func() {}
	if host != "" {
		untrust = s.lim.trust(host)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			untrust()
			s.mu.Lock()
			defer s.mu.Unlock()
			for i, x := range s.routes {
				if x == e {
					s.routes = append(s.routes[:i], s.routes[i+1:]...)
					break
				}
			}
		})
	}
}

// Trust holds addr (host:port: a registered device's) to the trusted
// budget until the returned func is called.
func (s *Stack) Trust(addr string) (untrust func()) { return s.lim.trust(addr) }

func (s *Stack) dispatch(req *sip.Request, tx sip.ServerTransaction) {
	// UDP was held to its budget before parsing; TCP is held here, a
	// request at a time (its transactions end with their answer).
	if req.Transport() != "UDP" && !s.lim.allow(req.Source()) {
		if req.Method != sip.ACK {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		}
		return
	}
	s.mu.Lock()
	var route Route
	best := 0
	for _, e := range s.routes {
		if c := e.r.Claim(req); c > best {
			route, best = e.r, c
		}
	}
	def := s.def
	s.mu.Unlock()
	switch {
	case route != nil:
		route.Serve(req, tx)
	case def != nil:
		def(req, tx)
	case req.Method == sip.ACK:
	case s.cfg.Await:
		// The device side is not started yet (or closing): the peer is
		// asked to try again later.
		res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		_ = tx.Respond(res)
	default:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
	}
}

// Contact is where a peer reaches the stack: the local address the route
// to it leaves from (or the listening one, when bound to one) and the SIP
// port.
type Contact struct {
	Host string
	Port int
}

// Client answers the SIP client for requests to remote (host:port) over
// network (udp or tcp), and where remote reaches the stack. Its Via names
// that address; over UDP its requests leave from the SIP socket itself.
func (s *Stack) Client(remote, network string) (*sipgo.Client, Contact, error) {
	network = strings.ToLower(network)
	host, err := s.localHost(remote)
	if err != nil {
		return nil, Contact{}, err
	}
	ct := Contact{Host: host, Port: s.Port()}
	key := network + " " + host
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[key]; ok {
		return c, ct, nil
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientPort(ct.Port), sipgo.WithClientLogger(s.log)}
	if network == "udp" && s.udp != nil {
		// The listening socket's own address: the transport layer sends
		// from the socket it keeps under that address.
		opts = append(opts, sipgo.WithClientConnectionAddr(s.udp.LocalAddr().String()))
	}
	c, err := sipgo.NewClient(s.ua, opts...)
	if err != nil {
		return nil, Contact{}, err
	}
	s.clients[key] = c
	return c, ct, nil
}

// localHost is the address a peer at remote reaches the stack at.
func (s *Stack) localHost(remote string) (string, error) {
	if s.udp != nil {
		if a, ok := s.udp.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
			return a.IP.String(), nil
		}
	}
	c, err := net.Dial("udp", remote) // no packet is sent: the route's source address
	if err != nil {
		return "", fmt.Errorf("no route to %s: %w", remote, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// SameHost tells whether a request's source is host (an IP address).
func SameHost(req *sip.Request, host string) bool {
	h, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return false
	}
	a, b := net.ParseIP(h), net.ParseIP(host)
	return a != nil && b != nil && a.Equal(b)
}

// Resolve answers the IP address of a host:port (the platform's).
func Resolve(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("port %q: %w", port, err)
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("resolve %s: %w", host, err)
	}
	return ips[0].String(), nil
}

// quietHandler passes the SIP library's records on, each message at
// most once every so often and without the datagram's bytes.
type quietHandler struct {
	next  slog.Handler
	every time.Duration
	mu    *sync.Mutex
	last  map[string]time.Time
}

func (h *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.next.Enabled(ctx, l)
}

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	if t, ok := h.last[r.Message]; ok && r.Time.Sub(t) < h.every {
		h.mu.Unlock()
		return nil
	}
	if len(h.last) > 256 {
		clear(h.last)
	}
	h.last[r.Message] = r.Time
	h.mu.Unlock()
	out := slog.NewRecord(r.Time, min(r.Level, slog.LevelWarn), r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "data" && a.Key != "msg" {
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietHandler{next: h.next.WithAttrs(as), every: h.every, mu: h.mu, last: h.last}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{next: h.next.WithGroup(name), every: h.every, mu: h.mu, last: h.last}
}
