package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sharpeyes/registry"
)

// TestBadCredentialsAreRefusedNeverCrashNeverLeak sends forged, expired,
// revoked and truncated tokens and cookies, writes without the CSRF
// token, a run of wrong passwords and a 2 MB password. Each is refused
// with the right status; the gateway keeps serving; no secret reaches a
// response or the log.
func TestBadCredentialsAreRefusedNeverCrashNeverLeak(t *testing.T) {
	var logBuf lockedBuffer
	g := startGatewayLogged(t, &logBuf)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	pw := addUser(t, admin, "alice", "dispatcher", nil, "")
	alice := signIn(t, admin.base, "alice", pw)

	get := func(path string, h map[string]string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", admin.base+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (did the gateway crash?)", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	cookie := func(v string) map[string]string { return map[string]string{"Cookie": "sharpeyes_session=" + v} }

	good := issueToken(t, admin, "good", "cameras:read")
	revoked := issueToken(t, admin, "revoked", "cameras:read")
	_, toks := admin.json("GET", "/api/v1/tokens", nil)
	for _, it := range toks["items"].([]any) {
		if m := it.(map[string]any); m["name"] == "revoked" {
			if code, _ := admin.do("DELETE", "/api/v1/tokens/"+m["id"].(string), "", nil, true); code != 204 {
				t.Fatalf("revoke: %d", code)
			}
		}
		if _, leaked := it.(map[string]any)["secret_hash"]; leaked {
			t.Fatal("token list carries the secret hash")
		}
	}
	code, out := admin.json("POST", "/api/v1/tokens", map[string]any{"name": "short-lived", "scopes": []string{"cameras:read"}, "expires_in": "1s"})
	if code != 201 {
		t.Fatalf("short-lived token: %d %v", code, out)
	}
	expired := out["token"].(string)
	if code, _, _ := get("/api/v1/cameras", bearer(good)); code != 200 {
		t.Fatalf("good token: %d", code)
	}
	if code, _, _ := get("/api/v1/cameras", bearer(expired)); code != 200 {
		t.Fatalf("token before expiry: %d", code)
	}
	time.Sleep(1100 * time.Millisecond)

	id, _, _ := strings.Cut(strings.TrimPrefix(good, "se_"), "_")
	forgedSecret := "se_" + id + "_" + strings.Repeat("A", 43)
	for name, h := range map[string]map[string]string{
		"expired token":       bearer(expired),
		"revoked token":       bearer(revoked),
		"forged secret":       bearer(forgedSecret),
		"truncated token":     bearer(good[:len(good)-5]),
		"token prefix only":   bearer("se_"),
		"garbage token":       bearer("<script>alert(1)</script>"),
		"huge token":          bearer(strings.Repeat("x", 64<<10)),
		"basic scheme":        {"Authorization": "Basic " + "YWxpY2U6cHc="},
		"empty bearer":        {"Authorization": "Bearer "},
		"forged cookie":       cookie(strings.Repeat("A", 43)),
		"truncated cookie":    cookie(alice.cookie[:20]),
		"huge cookie":         cookie(strings.Repeat("A", 6000)),
		"admin token + extra": bearer(token + "x"),
	} {
		code, body, hdr := get("/api/v1/cameras", h)
		if code != 401 {
			t.Errorf("%s: %d, want 401 (%s)", name, code, body)
		}
		if hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}

	// Cookie-authenticated writes need the CSRF token; bearer writes do not.
	write := func(csrf string) int {
		req, _ := http.NewRequest("POST", admin.base+"/api/v1/cases", strings.NewReader(`{"source":"hotline","category":"environment","title":"t"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: alice.cookie})
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := write(""); c != 403 {
		t.Errorf("cookie write without X-CSRF-Token: %d, want 403", c)
	}
	if c := write("wrong"); c != 403 {
		t.Errorf("cookie write with a wrong X-CSRF-Token: %d, want 403", c)
	}
	if c := write(alice.csrf); c != 201 {
		t.Errorf("cookie write with the CSRF token: %d, want 201", c)
	}

	// Wrong logins: the same answer for an unknown user and a wrong
	// password; 429 with Retry-After from the sixth failure for one name.
	login := func(user, pass, from string) (int, string, http.Header) {
		b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
		req, _ := http.NewRequest("POST", admin.base+"/api/v1/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if from != "" {
			req.Header.Set("X-Forwarded-For", from) // must not dodge the throttle
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw), resp.Header
	}
	_, unknownBody, _ := login("nobody-here", "wrong-password", "")
	for i := 1; i <= 25; i++ {
		code, body, hdr := login("alice", "wrong-password", fmt.Sprintf("10.0.0.%d", i))
		switch {
		case i <= 5 && (code != 401 || body != unknownBody):
			t.Errorf("wrong login %d: %d %s, want 401 and the same answer as for an unknown user (%s)", i, code, body, unknownBody)
		case i > 5 && (code != 429 || hdr.Get("Retry-After") == ""):
			t.Errorf("wrong login %d: %d (Retry-After %q), want 429 with Retry-After", i, code, hdr.Get("Retry-After"))
		}
	}
	// Even the right password waits now, and another user is not held up.
	if code, _, _ := login("alice", pw, ""); code != 429 {
		t.Errorf("right password while throttled: %d, want 429", code)
	}
	bobPw := addUser(t, admin, "bob", "viewer", nil, "")
	if code, _, _ := login("bob", bobPw, ""); code != 200 {
		t.Errorf("another user's login: %d", code)
	}
	// A 2 MB password is refused without being hashed.
	huge := strings.Repeat("p", 2<<20)
	start := time.Now()
	if code, _, _ := login("bob", huge, ""); code != 413 && code != 401 {
		t.Errorf("2 MB password: %d", code)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("2 MB password took %v", took)
	}
	if code, out := admin.json("POST", "/api/v1/users", map[string]any{"username": "carol", "password": strings.Repeat("p", 300), "role": "viewer"}); code != 400 || out["field"] != "password" {
		t.Errorf("300-byte password for a new user: %d %v", code, out)
	}
	// The gateway still serves.
	if code, _, _ := get("/api/v1/cameras", bearer(good)); code != 200 {
		t.Fatalf("after the bad input: %d", code)
	}
	_, users := admin.json("GET", "/api/v1/users", nil)
	b, _ := json.Marshal(users)
	if strings.Contains(string(b), "argon2") || strings.Contains(string(b), pw) {
		t.Error("user list leaks a password or its hash")
	}
	log := logBuf.String()
	if !strings.Contains(log, "access refused") {
		t.Error("refusals are not logged")
	}
	for _, secret := range []string{pw, bobPw, good, expired, alice.cookie, alice.csrf, "wrong-password", token} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains a secret (%.6s…)", secret)
		}
	}
}

// TestLogoutAndDisableReachEveryNode: two nodes on one etcd; a session
// opened on one works on the other; logging out or disabling a user on
// one is refused on the other within 5 s.
func TestLogoutAndDisableReachEveryNode(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	n1, n2 := startNode(t, etcd.Endpoint, "n1"), startNode(t, etcd.Endpoint, "n2")
	defer n1.Close() // before etcd goes
	defer n2.Close()
	a1 := apiClient{t, "http://" + n1.HTTPAddr()}
	pw := addUser(t, a1, "dora", "viewer", nil, "")
	p := signIn(t, a1.base, "dora", pw)
	on2 := &person{t: t, base: "http://" + n2.HTTPAddr(), name: p.name, cookie: p.cookie, csrf: p.csrf}
	eventually(t, 5*time.Second, "the session on the other node", func() bool { c, _ := on2.do("GET", "/api/v1/me", "", nil); return c == 200 })

	if code, _ := p.do("POST", "/api/v1/logout", "", nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	start := time.Now()
	eventually(t, 5*time.Second, "logout on the other node", func() bool { c, _ := on2.do("GET", "/api/v1/cameras", "", nil); return c == 401 })
	t.Logf("logout reached the other node in %v", time.Since(start).Round(time.Millisecond))

	tok := issueToken(t, a1, "dora's", "cameras:read")
	// The token acts for the admin token's owner; make one that acts for dora.
	p = signIn(t, a1.base, "dora", pw)
	code, out := p.json("POST", "/api/v1/tokens", map[string]any{"name": "wall", "scopes": []string{"cameras:read"}})
	if code != 201 {
		t.Fatalf("dora's token: %d %v", code, out)
	}
	doraTok := out["token"].(string)
	bearerOn2 := func(tk string) int {
		req, _ := http.NewRequest("GET", "http://"+n2.HTTPAddr()+"/api/v1/cameras", nil)
		req.Header.Set("Authorization", "Bearer "+tk)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, 5*time.Second, "dora's token on the other node", func() bool { return bearerOn2(doraTok) == 200 })
	if code, out := a1.json("PATCH", "/api/v1/users/dora", map[string]any{"disabled": true}); code != 200 || out["disabled"] != true {
		t.Fatalf("disable: %d %v", code, out)
	}
	start = time.Now()
	eventually(t, 5*time.Second, "disable on the other node", func() bool { return bearerOn2(doraTok) == 401 })
	t.Logf("disabling reached the other node in %v", time.Since(start).Round(time.Millisecond))
	if c, _ := (&person{t: t, base: on2.base, cookie: p.cookie, csrf: p.csrf}).do("GET", "/api/v1/me", "", nil); c != 401 {
		t.Errorf("a disabled user's session on the other node: %d", c)
	}
	if bearerOn2(tok) != 200 {
		t.Error("disabling dora revoked someone else's token")
	}
}

// lockedBuffer is a log sink safe for the gateway's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
