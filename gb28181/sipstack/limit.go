package sipstack

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what one source may send, before a message is parsed: a
// flood costs a map lookup per datagram, not a transaction, a goroutine
// and a log line each.
type Limits struct {
	// TrustedRate is the messages a second one trusted address may send
	// (a registered device, a superior platform); default 200, with a
	// burst of five seconds' worth (a catalog of a few hundred channels,
	// one a datagram, arrives whole).
	TrustedRate float64
	// StrangerRate is the messages a second one address not trusted may
	// send (REGISTERs of a device not yet registered, whatever a stranger
	// sends); default 20, a burst of five seconds' worth. One host, from
	// all its ports, may send ten times that (a site's devices behind one
	// NAT registering after a power cut).
	StrangerRate float64
	// StrangersRate bounds all strangers together (default 500 a second):
	// a flood from many spoofed addresses does not reach the registered
	// devices' budget.
	StrangersRate float64
	// MaxSources bounds the sources tracked (default 16,384): beyond it,
	// and after forgetting the idle ones, a new stranger is refused.
	MaxSources int
	// MaxTCP and MaxTCPPerHost bound the TCP connections open at once
	// (defaults 1,024 and 32).
	MaxTCP, MaxTCPPerHost int
}

func (l *Limits) defaults() {
	if l.TrustedRate <= 0 {
		l.TrustedRate = 200
	}
	if l.StrangerRate <= 0 {
		l.StrangerRate = 20
	}
	if l.StrangersRate <= 0 {
		l.StrangersRate = 500
	}
	if l.MaxSources <= 0 {
		l.MaxSources = 16384
	}
	if l.MaxTCP <= 0 {
		l.MaxTCP = 1024
	}
	if l.MaxTCPPerHost <= 0 {
		l.MaxTCPPerHost = 32
	}
}

// burstSeconds is how many seconds of its rate a bucket holds.
const burstSeconds = 5

type bucket struct {
	tokens float64
	at     time.Time
}

func (b *bucket) take(rate float64, now time.Time) bool {
	b.tokens = min(rate*burstSeconds, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter keeps the token buckets of every source, and which sources are
// trusted. Its memory is bounded by MaxSources plus the trusted sources.
type limiter struct {
	lim Limits
	now func() time.Time

	mu        sync.Mutex
	trusted   map[string]int // address or host → how many hold it trusted
	buckets   map[string]*bucket
	strangers bucket
	swept     time.Time
	tcp       map[string]int // host → open connections
	tcpAll    int

	dropped atomic.Uint64
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	l.defaults()
	if now == nil {
		now = time.Now
	}
	t := now()
	return &limiter{lim: l, now: now, trusted: map[string]int{}, buckets: map[string]*bucket{}, tcp: map[string]int{},
		strangers: bucket{tokens: l.StrangersRate * burstSeconds, at: t}, swept: t}
}

// trust marks an address (host:port) or a host as trusted until the
// returned func is called.
func (l *limiter) trust(key string) (untrust func()) {
	l.mu.Lock()
	l.trusted[key]++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.trusted[key]--; l.trusted[key] <= 0 {
				delete(l.trusted, key)
				delete(l.buckets, "t "+key)
			}
		})
	}
}

// allow takes one message of addr (host:port) from its budget.
func (l *limiter) allow(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range [2]string{addr, host} {
		if l.trusted[key] > 0 {
			return l.takeLocked("t "+key, l.lim.TrustedRate, now, true)
		}
	}
	// A stranger: its address's budget, its host's, then the strangers'
	// together.
	if !l.takeLocked("s "+addr, l.lim.StrangerRate, now, false) || !l.takeLocked("h "+host, 10*l.lim.StrangerRate, now, false) ||
		!l.strangers.take(l.lim.StrangersRate, now) {
		l.dropped.Add(1)
		return false
	}
	return true
}

func (l *limiter) takeLocked(key string, rate float64, now time.Time, trusted bool) bool {
	b := l.buckets[key]
	if b == nil {
		if !trusted && len(l.buckets) >= l.lim.MaxSources {
			// Full: forget the quiet ones, at most once a second (a flood
			// of new addresses must not buy a sweep a datagram).
			if now.Sub(l.swept) >= time.Second {
				l.sweepLocked(now)
			}
			if len(l.buckets) >= l.lim.MaxSources {
				return false // no room to remember one more stranger
			}
		}
		b = &bucket{tokens: rate * burstSeconds, at: now}
		l.buckets[key] = b
	}
	if !b.take(rate, now) {
		if trusted {
			l.dropped.Add(1)
		}
		return false
	}
	if now.Sub(l.swept) > 30*time.Second {
		l.sweepLocked(now)
	}
	return true
}

// sweepLocked forgets the buckets that have filled up again (their
// sources have been quiet for a burst's time): they start full anyway.
func (l *limiter) sweepLocked(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.at) > burstSeconds*time.Second {
			delete(l.buckets, k)
		}
	}
}

// openTCP takes a place for a TCP connection from host.
func (l *limiter) openTCP(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tcpAll >= l.lim.MaxTCP || l.tcp[host] >= l.lim.MaxTCPPerHost {
		l.dropped.Add(1)
		return false
	}
	l.tcpAll++
	l.tcp[host]++
	return true
}

func (l *limiter) closeTCP(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tcpAll--
	if l.tcp[host]--; l.tcp[host] <= 0 {
		delete(l.tcp, host)
	}
}

// sources is how many sources the limiter remembers (for tests).
func (l *limiter) sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// packetConn drops the datagrams of sources over their budget before the
// SIP stack sees them.
type packetConn struct {
	net.PacketConn
	lim *limiter
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || c.lim.allow(addr.String()) {
			return n, addr, err
		}
	}
}

// listener refuses TCP connections beyond the limits, and holds each
// accepted one to the message budget of its source.
type listener struct {
	net.Listener
	lim *limiter
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if !l.lim.openTCP(host) {
			c.Close()
			continue
		}
		return &conn{Conn: c, lim: l.lim, host: host}, nil
	}
}

type conn struct {
	net.Conn
	lim  *limiter
	host string
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.lim.closeTCP(c.host) })
	return c.Conn.Close()
}
