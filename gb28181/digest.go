package gb28181

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// maxUsedNonces bounds the memory of nonces used: beyond it the oldest
// go first (they would be refused as expired soon anyway).
const maxUsedNonces = 200_000

// Digest is the server side of SIP digest authentication (RFC 3261 22.4,
// RFC 2617 and 7616: MD5 or SHA-256, with or without qop=auth). Its
// nonces carry their issue time and an HMAC, so any node can check them;
// each is accepted once and only until it expires, so a captured
// Authorization header cannot register again.
type Digest struct {
	realm string
	ttl   time.Duration
	now   func() time.Time
	key   []byte

	mu   sync.Mutex
	used map[string]time.Time // nonce → when it expires
}

// NewDigest makes a checker for realm (the SIP domain) whose nonces live
// ttl.
func NewDigest(realm string, ttl time.Duration, now func() time.Time) *Digest {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if now == nil {
		now = time.Now
	}
	return &Digest{realm: realm, ttl: ttl, now: now, key: key, used: map[string]time.Time{}}
}

// Challenge is a WWW-Authenticate value with a fresh nonce. Its
// parameters are separated by bare commas, as JAIN-SIP (WVP) writes them:
// RFC 3261 allows a space after each, but devices that split on "," and
// compare names exactly (lzh2nix/gb28181Simulator, some cameras) then
// find none.
func (d *Digest) Challenge(stale bool) string {
	c := fmt.Sprintf(`Digest realm="%s",nonce="%s",algorithm=MD5,qop="auth"`, d.realm, d.nonce())
	if stale {
		c += ",stale=true"
	}
	return c
}

func (d *Digest) nonce() string {
	b := make([]byte, 16, 32)
	binary.BigEndian.PutUint64(b, uint64(d.now().UnixNano()))
	_, _ = rand.Read(b[8:16])
	m := hmac.New(sha256.New, d.key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(b)[:32])
}

// Check verifies an Authorization header of a request with method, the
// password of its user found by password. It answers the user name.
func (d *Digest) Check(method, header string, password func(user string) (string, bool)) (string, error) {
	if header == "" {
		return "", ErrNoCredentials
	}
	c, err := digest.ParseCredentials(header)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	if c.Realm != d.realm {
		return "", fmt.Errorf("%w: realm %q", ErrBadCredentials, c.Realm)
	}
	issued, ok := d.issued(c.Nonce)
	if !ok {
		return "", fmt.Errorf("%w: not our nonce", ErrBadCredentials)
	}
	pass, ok := password(c.Username)
	if !ok {
		return "", fmt.Errorf("%w: unknown user", ErrBadCredentials)
	}
	var h func() hash.Hash
	switch strings.ToUpper(c.Algorithm) {
	case "", "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return "", fmt.Errorf("%w: algorithm %q", ErrBadCredentials, c.Algorithm)
	}
	ha1 := hexHash(h, c.Username+":"+d.realm+":"+pass)
	ha2 := hexHash(h, method+":"+c.URI)
	var want string
	switch c.QOP {
	case "":
		want = hexHash(h, ha1+":"+c.Nonce+":"+ha2)
	case "auth":
		want = hexHash(h, fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, c.Nonce, c.Nc, c.Cnonce, ha2))
	default:
		return "", fmt.Errorf("%w: qop %q", ErrBadCredentials, c.QOP)
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(c.Response)), []byte(want)) != 1 {
		return "", fmt.Errorf("%w: wrong password for %s", ErrBadCredentials, c.Username)
	}
	// Expiry and reuse are checked after the response, so a stale or
	// replayed nonce is reported as such only to who knows the password.
	now := d.now()
	if now.Sub(issued) > d.ttl {
		return "", ErrStale
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.used[c.Nonce]; seen {
		return "", ErrReplay
	}
	if len(d.used) >= maxUsedNonces {
		for n, exp := range d.used {
			if !exp.After(now) || len(d.used) >= maxUsedNonces {
				delete(d.used, n)
			}
		}
	}
	d.used[c.Nonce] = issued.Add(d.ttl)
	return c.Username, nil
}

// issued checks a nonce is ours and answers when it was made.
func (d *Digest) issued(nonce string) (time.Time, bool) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != 32 {
		return time.Time{}, false
	}
	m := hmac.New(sha256.New, d.key)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

// Sweep forgets used nonces that have expired (call it now and then).
func (d *Digest) Sweep() {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for n, exp := range d.used {
		if !exp.After(now) {
			delete(d.used, n)
		}
	}
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}
