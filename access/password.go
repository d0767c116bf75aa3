package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's second recommended set (19 MiB, 2 passes),
// about 30 ms on one core here; logins are throttled anyway.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Password length limits. The upper bound keeps hashing cheap whatever a
// client sends.
const (
	MinPassword = 8
	MaxPassword = 256
)

// CheckPasswordPolicy says whether pw may be set as a password.
func CheckPasswordPolicy(pw string) error {
	if len(pw) < MinPassword || len(pw) > MaxPassword {
		return ErrPasswordPolicy
	}
	return nil
}

// HashPassword returns pw hashed with argon2id in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// dummyHash is checked against when a user does not exist, so an unknown
// username costs the same time as a wrong password.
var dummyHash = func() string {
	h, err := HashPassword("not-a-password-anyone-has")
	if err != nil {
		panic(err)
	}
	return h
}()

// VerifyPassword checks pw against an encoded hash in constant time. An
// empty hash (unknown user) still costs one hash computation and fails.
func VerifyPassword(encoded, pw string) bool {
	if len(pw) > MaxPassword {
		pw = pw[:MaxPassword]
		encoded = "" // never matches, costs the same
	}
	real := encoded != ""
	if !real {
		encoded = dummyHash
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && real
}
