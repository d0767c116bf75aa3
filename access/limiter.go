package access

import (
	"sync"
	"time"
)

// Limiter throttles failed logins: after MaxPerUser failures for one
// username or MaxPerAddr from one address within Window, further attempts
// are refused until the oldest failure leaves the window.
type Limiter struct {
	MaxPerUser, MaxPerAddr int
	Window                 time.Duration
	now                    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// NewLimiter uses the limits of DESIGN.md: 5 per username, 20 per address, 15 minutes.
func NewLimiter() *Limiter {
	return &Limiter{MaxPerUser: 5, MaxPerAddr: 20, Window: 15 * time.Minute, now: time.Now, failures: map[string][]time.Time{}}
}

func (l *Limiter) recent(key string, now time.Time) []time.Time {
	ts := l.failures[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.Window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = ts
	}
	return ts
}

// Allow says whether a login for user from addr may be tried now, and if
// not, how long until it may.
func (l *Limiter) Allow(user, addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range []struct {
		key string
		max int
	}{{"u:" + user, l.MaxPerUser}, {"a:" + addr, l.MaxPerAddr}} {
		ts := l.recent(k.key, now)
		if len(ts) >= k.max {
			if w := l.Window - now.Sub(ts[len(ts)-k.max]); w > wait {
				wait = w
			}
		}
	}
	return wait == 0, wait
}

// Fail records a failed login.
func (l *Limiter) Fail(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []string{"u:" + user, "a:" + addr} {
		l.failures[k] = append(l.recent(k, now), now)
	}
	if len(l.failures) > 100_000 { // bound memory under a spray of names
		for k := range l.failures {
			l.recent(k, now)
		}
	}
}

// Succeed forgets the username's failures.
func (l *Limiter) Succeed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "u:"+user)
}
