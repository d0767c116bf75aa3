package cascade

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
	"sharpeyes/gb28181/sipstack"
)

// Client is the street registered with one superior platform.
type Client struct {
	p    Platform
	deps Deps
	log  *slog.Logger

	cli    *sipgo.Client
	detach func()
	// ip is the platform's address: its requests come from it.
	ip string
	// host and port are where the platform reaches this client (the
	// address the route to it leaves from, and the SIP port).
	host string
	port int

	sn     atomic.Int64
	callID string

	mu     sync.Mutex
	status Status
	calls  map[string]*call // by Call-ID
	told   map[string]Channel
	kick   chan struct{} // a registration wanted now (the platform forgot it)
	// registering is true while a REGISTER waits for its answer.
	registering bool
	closing     bool // Close is waiting for the goroutines: none starts now

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New makes the client of platform p (validated).
func New(p Platform, deps Deps, log *slog.Logger) (*Client, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if deps.Catalog == nil || deps.Streams == nil || deps.SIP == nil {
		return nil, fmt.Errorf("%w: a catalog, streams and a SIP stack are needed", ErrConfig)
	}
	deps.defaults()
	if log == nil {
		log = slog.Default()
	}
	c := &Client{p: p, deps: deps, log: log.With("component", "cascade", "platform", p.ID), calls: map[string]*call{},
		told: map[string]Channel{}, kick: make(chan struct{}, 1), callID: sip.GenerateTagN(16) + "@" + p.LocalID}
	c.status.State = "registering"
	return c, nil
}

// Platform is the client's platform (its password included).
func (c *Client) Platform() Platform { return c.p }

// Status answers where the registration stands.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Streams = len(c.calls)
	s.Channels = len(c.told)
	return s
}

// Start takes the platform's requests on the SIP stack (those whose From
// is the platform's code and that come from its address) and registers
// until ctx ends or Close.
func (c *Client) Start(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	ip, err := sipstack.Resolve(rctx, c.p.Address)
	cancel()
	if err != nil {
		return fmt.Errorf("cascade %s: %w", c.p.ID, err)
	}
	cli, ct, err := c.deps.SIP.Client(c.p.Address, c.p.Transport)
	if err != nil {
		return fmt.Errorf("cascade %s: %w", c.p.ID, err)
	}
	c.cli, c.ip, c.host, c.port = cli, ip, ct.Host, ct.Port
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.detach = c.deps.SIP.Attach(c, ip)
	c.done.Add(2)
	go func() { defer c.done.Done(); c.run() }()
	go func() { defer c.done.Done(); c.watchCatalog() }()
	return nil
}

// goAway runs f in a goroutine of the client's, which Close waits for;
// false when the client is closing (f is not run).
func (c *Client) goAway(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false // nothing new once Close waits
	}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		f()
	}()
	return true
}

// Claim implements sipstack.Route: a request is the platform's when its
// From is the platform's code and it comes from the platform's address.
// Of two clients of one platform (two upstreams set with the same
// address and code), the one registered there, or in a call the request
// belongs to, answers before one whose REGISTER is on its way (the
// platform may ask before its 200 is read), which answers before the rest.
func (c *Client) Claim(req *sip.Request) int {
	if !c.fromPlatform(req) || !sipstack.SameHost(req, c.ip) {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id := req.CallID(); c.status.Registered || id != nil && c.calls[id.Value()] != nil {
		return 3
	}
	if c.registering {
		return 2
	}
	return 1
}

// Serve implements sipstack.Route.
func (c *Client) Serve(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.MESSAGE:
		c.onMessage(req, tx)
	case sip.INVITE:
		c.onInvite(req, tx)
	case sip.ACK:
		c.onAck(req, tx)
	case sip.BYE:
		c.onBye(req, tx)
	case sip.INFO:
		c.onInfo(req, tx)
	case sip.SUBSCRIBE:
		c.respond(req, tx, 200, "OK")
	default:
		c.respond(req, tx, 405, "Method Not Allowed")
	}
}

// Close unregisters (Expires: 0), ends the platform's streams and stops.
func (c *Client) Close() {
	if c.cancel == nil {
		return
	}
	c.mu.Lock()
	calls := make([]*call, 0, len(c.calls))
	for _, k := range c.calls {
		calls = append(calls, k)
	}
	registered := c.status.Registered
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	for _, k := range calls {
		k.hangUp(ctx)
	}
	if registered {
		_, _ = c.register(ctx, 0)
	}
	cancel()
	c.detach() // no request reaches it now
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	c.done.Wait()
}

func (c *Client) setStatus(f func(s *Status)) {
	c.mu.Lock()
	f(&c.status)
	c.mu.Unlock()
}

// run registers, refreshes before the registration expires, keeps alive,
// and registers again (after a backoff that doubles to BackoffMax) when
// a registration fails or the platform stops answering keepalives or
// says it does not know the street.
func (c *Client) run() {
	backoff := c.deps.BackoffMin
	fresh := true // the platform does not hold a registration of ours
	for c.ctx.Err() == nil {
		if fresh {
			// A fresh registration is told the whole catalog again when
			// asked; what it was told before no longer counts. Forgotten
			// before the REGISTER goes out: the platform's catalog query
			// may come before the 200 has been read.
			c.mu.Lock()
			clear(c.told)
			c.mu.Unlock()
		}
		granted, err := c.register(c.ctx, c.p.Expires)
		if err != nil {
			fresh = true
			wait := jitter(backoff)
			c.log.Warn("registration with the platform failed", "error", err, "retry_in", wait.Round(time.Millisecond))
			c.setStatus(func(s *Status) {
				s.State, s.Registered, s.LastError, s.NextTry = "failed", false, err.Error(), time.Now().Add(wait)
			})
			if !c.sleep(wait) {
				return
			}
			backoff = min(2*backoff, c.deps.BackoffMax)
			continue
		}
		backoff = c.deps.BackoffMin
		c.setStatus(func(s *Status) {
			s.State, s.Registered, s.Since, s.LastError, s.NextTry = "registered", true, time.Now(), "", time.Time{}
			s.Registrations++
		})
		c.log.Info("registered with the platform", "expires", granted)
		// A refresh keeps what the platform was told (it keeps being told
		// of changes); a lost registration starts afresh.
		fresh = false
		switch c.alive(granted) {
		case stopped:
			return
		case lost:
			fresh = true
			// The platform forgot the street: the streams it was sent
			// are no one's now (no BYE will come for them).
			c.hangUpAll()
		}
	}
}

// Why a registration ended.
const (
	renew   = iota // it is time to renew it
	lost           // the platform dropped it (refused or silent keepalives)
	stopped        // the client is closing
)

// hangUpAll ends every call (a BYE to the platform for each).
func (c *Client) hangUpAll() {
	c.mu.Lock()
	calls := make([]*call, 0, len(c.calls))
	for _, k := range c.calls {
		calls = append(calls, k)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	for _, k := range calls {
		k.hangUp(ctx)
	}
}

// alive keeps the registration until it needs renewing (refresh), the
// platform drops it (lost: three keepalives unanswered, or one refused,
// or a Kick) or the client closes (stopped).
func (c *Client) alive(granted time.Duration) int {
	renewAt := time.NewTimer(granted * 2 / 3)
	defer renewAt.Stop()
	tick := time.NewTicker(c.p.Keepalive)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-c.ctx.Done():
			return stopped
		case <-renewAt.C:
			return renew
		case <-c.kick:
			c.setStatus(func(s *Status) { s.State, s.Registered = "registering", false })
			return lost
		case <-tick.C:
			body := manscdp.Encode("Notify", manscdp.F("CmdType", "Keepalive"), manscdp.F("SN", c.sn.Add(1)),
				manscdp.F("DeviceID", c.p.LocalID), manscdp.F("Status", "OK"))
			code, err := c.message(c.ctx, body)
			switch {
			case err == nil && code == 200:
				missed = 0
				c.setStatus(func(s *Status) { s.LastKeepalive = time.Now() })
				continue
			case err != nil:
				missed++
				c.setStatus(func(s *Status) { s.LastError = "keepalive not answered: " + err.Error() })
				if missed < 3 {
					continue
				}
			default:
				c.setStatus(func(s *Status) { s.LastError = fmt.Sprintf("keepalive refused: %d", code) })
			}
			c.log.Warn("the platform dropped the registration; registering again", "missed", missed, "code", code)
			c.setStatus(func(s *Status) { s.State, s.Registered = "registering", false })
			return lost
		}
	}
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads d by up to a fifth either way, so streets restarting
// together do not register in step.
func jitter(d time.Duration) time.Duration {
	n := time.Now().UnixNano()
	return d - d/5 + time.Duration(n%int64(max(1, int64(d)*2/5)))
}

func (c *Client) uri() sip.Uri {
	host, port, _ := net.SplitHostPort(c.p.Address)
	p, _ := strconv.Atoi(port)
	return sip.Uri{Scheme: "sip", User: c.p.ServerID, Host: host, Port: p}
}

// request is a request to the platform from the street.
func (c *Client) request(method sip.RequestMethod, to string) *sip.Request {
	req := sip.NewRequest(method, c.uri())
	req.SetDestination(c.p.Address)
	tag := sip.NewParams()
	tag.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: c.p.LocalID, Host: c.p.LocalID[:10]}, Params: tag})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: c.p.Domain}, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: c.p.LocalID, Host: c.host, Port: c.port}})
	req.SetTransport(map[string]string{"udp": "UDP", "tcp": "TCP"}[c.p.Transport])
	return req
}

// register sends a REGISTER for expires, answering the digest challenge,
// and answers the registration the platform granted.
func (c *Client) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	c.setStatus(func(*Status) { c.registering = true })
	defer c.setStatus(func(*Status) { c.registering = false })
	req := c.request(sip.REGISTER, c.p.LocalID)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	callID := sip.CallIDHeader(c.callID)
	req.AppendHeader(&callID)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.cli.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER not answered: %w", err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		if c.p.Password == "" {
			return 0, fmt.Errorf("%w: the platform asks for a password and none is set", ErrRefused)
		}
		res, err = c.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.p.LocalID, Password: c.p.Password})
		if err != nil {
			return 0, fmt.Errorf("REGISTER not answered: %w", err)
		}
		if res.StatusCode == 401 || res.StatusCode == 403 {
			return 0, fmt.Errorf("%w: the password (%d %s)", ErrRefused, res.StatusCode, res.Reason)
		}
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("%w: REGISTER answered %d %s", ErrRefused, res.StatusCode, res.Reason)
	}
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 && time.Duration(n)*time.Second < granted {
			granted = time.Duration(n) * time.Second
		}
	}
	return granted, nil
}

// message sends a MANSCDP MESSAGE to the platform and answers its status.
func (c *Client) message(ctx context.Context, body []byte) (int, error) {
	req := c.request(sip.MESSAGE, c.p.ServerID)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

func (c *Client) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
		c.log.Debug("response not sent", "code", code, "error", err)
	}
}

// fromPlatform tells whether a request comes from the platform (its
// From is the platform's code).
func (c *Client) fromPlatform(req *sip.Request) bool {
	f := req.From()
	return f != nil && f.Address.User == c.p.ServerID
}
