package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// tokenPrefix marks this gateway's API tokens, so secret scanners and
// people recognise them: se_<id>_<secret>.
const tokenPrefix = "se_"

// NewToken makes an API token: a public id (the registry key) and a
// 256-bit secret, of which only the SHA-256 is stored.
func NewToken() (id, secret, full string, err error) {
	idb, sb := make([]byte, 8), make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", "", "", err
	}
	if _, err := rand.Read(sb); err != nil {
		return "", "", "", err
	}
	id = hex.EncodeToString(idb)
	secret = base64.RawURLEncoding.EncodeToString(sb)
	return id, secret, tokenPrefix + id + "_" + secret, nil
}

// ParseToken splits a bearer token into id and secret.
func ParseToken(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return "", "", ErrMalformedToken
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", "", ErrMalformedToken
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", ErrMalformedToken
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", ErrMalformedToken
	}
	return id, secret, nil
}

// HashSecret is what the registry keeps of a token or session secret.
// Secrets carry 256 bits of entropy, so a plain SHA-256 is enough.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// SameHash compares two hex hashes in constant time.
func SameHash(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// NewSecret returns n random bytes, base64url-encoded.
func NewSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Sign returns an HMAC-SHA256 of msg under key, base64url-encoded.
func Sign(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a signature made by Sign in constant time.
func Verify(key []byte, msg, sig string) bool {
	return hmac.Equal([]byte(Sign(key, msg)), []byte(sig))
}
