package gb28181

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// answer is what a device sends back to a challenge.
func answer(t *testing.T, challenge, user, pass, method, uri string, nc int) string {
	t.Helper()
	c, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: nc})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

// TestDigest: the right password registers once per nonce; a wrong one, a
// replayed header, an expired nonce, a forged nonce, another realm and an
// unknown user are each refused as such.
func TestDigest(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	d := NewDigest("3210030000", time.Minute, clk.now)
	const dev = "34020000001110000001"
	pw := func(u string) (string, bool) { return "12345678", u == dev }
	uri := "sip:32100300002000000001@3210030000"

	auth := answer(t, d.Challenge(false), dev, "12345678", "REGISTER", uri, 1)
	if u, err := d.Check("REGISTER", auth, pw); err != nil || u != dev {
		t.Fatalf("right password: %q %v", u, err)
	}
	if _, err := d.Check("REGISTER", auth, pw); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed Authorization: %v", err)
	}
	if _, err := d.Check("REGISTER", answer(t, d.Challenge(false), dev, "wrong", "REGISTER", uri, 1), pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := d.Check("REGISTER", answer(t, d.Challenge(false), "34020000001110000009", "12345678", "REGISTER", uri, 1), pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown device: %v", err)
	}
	// The method is part of the response: a REGISTER's header is no MESSAGE's.
	if _, err := d.Check("MESSAGE", answer(t, d.Challenge(false), dev, "12345678", "REGISTER", uri, 1), pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("another method: %v", err)
	}
	old := d.Challenge(false)
	clk.add(61 * time.Second)
	if _, err := d.Check("REGISTER", answer(t, old, dev, "12345678", "REGISTER", uri, 1), pw); !errors.Is(err, ErrStale) {
		t.Fatalf("expired nonce: %v", err)
	}
	other := NewDigest("3210030000", time.Minute, clk.now) // another key: its nonces are not ours
	if _, err := d.Check("REGISTER", answer(t, other.Challenge(false), dev, "12345678", "REGISTER", uri, 1), pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("forged nonce: %v", err)
	}
	realm := strings.Replace(d.Challenge(false), "3210030000", "9999999999", 1)
	if _, err := d.Check("REGISTER", answer(t, realm, dev, "12345678", "REGISTER", uri, 1), pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("another realm: %v", err)
	}
	if _, err := d.Check("REGISTER", "", pw); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no header: %v", err)
	}
	for _, junk := range []string{"Basic abc", "Digest ", `Digest username="x", nonce=zz`, strings.Repeat("Digest a=b,", 1000)} {
		if _, err := d.Check("REGISTER", junk, pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%.30q: %v", junk, err)
		}
	}
	// Without qop (RFC 2069, as some devices answer).
	c, _ := digest.ParseChallenge(d.Challenge(false))
	c.QOP = nil
	cred, _ := digest.Digest(c, digest.Options{Method: "REGISTER", URI: uri, Username: dev, Password: "12345678"})
	if _, err := d.Check("REGISTER", cred.String(), pw); err != nil {
		t.Fatalf("no qop: %v", err)
	}
	clk.add(2 * time.Minute)
	d.Sweep()
	if n := len(d.used); n != 0 {
		t.Fatalf("%d used nonces kept after they expired", n)
	}
}

// TestChallengeReadsNaively: the challenge's parameters are separated by
// bare commas, so a device that splits on "," and compares names exactly
// (lzh2nix/gb28181Simulator) finds each; a full parser reads it too.
func TestChallengeReadsNaively(t *testing.T) {
	d := NewDigest("3210030000", time.Minute, nil)
	for _, stale := range []bool{false, true} {
		c := d.Challenge(stale)
		rest, ok := strings.CutPrefix(c, "Digest ")
		if !ok {
			t.Fatalf("%q", c)
		}
		seen := map[string]string{}
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) != k {
				t.Fatalf("parameter %q of %q", kv, c)
			}
			seen[k] = strings.Trim(v, `"`)
		}
		if seen["realm"] != "3210030000" || seen["nonce"] == "" || seen["algorithm"] != "MD5" || seen["qop"] != "auth" || (seen["stale"] == "true") != stale {
			t.Fatalf("challenge %q read as %v", c, seen)
		}
		if ch, err := digest.ParseChallenge(c); err != nil || ch.Realm != "3210030000" || ch.Stale != stale {
			t.Fatalf("icholy/digest reads %q as %+v, %v", c, ch, err)
		}
	}
}
