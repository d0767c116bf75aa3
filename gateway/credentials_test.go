package gateway

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
	"sharpeyes/registry"
	"sharpeyes/relay/whepclient"
)

// bearerGet answers the status of GET path with an API token.
func bearerGet(t *testing.T, base, path, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// bearerJSON sends a JSON body with an API token.
func bearerJSON(t *testing.T, base, method, path, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// TestTokensOfADeletedUserDieWithTheirName: a user's tokens and sessions
// belong to their immutable id. Deleting them and creating a dispatcher
// under the same name gives the new user none of the old one's
// credentials.
func TestTokensOfADeletedUserDieWithTheirName(t *testing.T) {
	g, admin := demoStreet(t)
	base := admin.base
	pw := addUser(t, admin, "lin", "viewer", []string{"321003001"}, "")
	p := signIn(t, base, "lin", pw)
	code, out := p.json("POST", "/api/v1/tokens", map[string]any{"name": "wall", "scopes": []string{"cameras:read", "video"}})
	if code != 201 {
		t.Fatalf("lin's token: %d %v", code, out)
	}
	old := out["token"].(string)
	if c := bearerGet(t, base, "/api/v1/cameras", old); c != 200 {
		t.Fatalf("lin's token before: %d", c)
	}
	if code, _ := admin.json("DELETE", "/api/v1/users/lin", nil); code != 204 {
		t.Fatalf("delete lin: %d", code)
	}
	// The same name, now a dispatcher of the whole street.
	addUser(t, admin, "lin", "dispatcher", []string{"321003001"}, "")
	for _, path := range []string{"/api/v1/cameras", "/api/v1/cases", "/api/v1/me"} {
		if c := bearerGet(t, base, path, old); c != 401 {
			t.Errorf("the deleted lin's token on %s as the new lin: %d, want 401", path, c)
		}
	}
	if c, _ := p.do("GET", "/api/v1/me", "", nil); c != 401 {
		t.Errorf("the deleted lin's session as the new lin: %d, want 401", c)
	}
	// What the old lin left in the registry is gone too.
	eventually(t, 5*time.Second, "the deleted user's tokens removed", func() bool {
		for _, tk := range g.Identities().Tokens() {
			if tk.Owner == "lin" {
				return false
			}
		}
		return true
	})
	// A token stored before user ids existed (no owner id) is refused for a
	// user created after it was issued.
	legacy := registry.Token{ID: "00112233aabbccdd", Name: "legacy", Owner: "lin", SecretHash: "x", Scopes: []string{"cameras:read"},
		CreatedAt: time.Now().Add(-time.Hour)}
	u, _ := g.Identities().User("lin")
	if tokenOwnerAccepted(g, legacy) {
		t.Errorf("a legacy token of %s issued before the user (created %v) was accepted", u.Username, u.CreatedAt)
	}
}

func tokenOwnerAccepted(g *Gateway, t registry.Token) bool {
	_, ok := g.auth.Owner(t)
	return ok
}

// TestSessionsEndOnEveryNodeWhenRightsChange: a password reset, a role
// change and a grid change each end the user's sessions on both nodes of
// a cluster within 5 s, and an event stream open on the other node ends
// too; a change of display name does not.
func TestSessionsEndOnEveryNodeWhenRightsChange(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	n1, n2 := startNode(t, etcd.Endpoint, "n1"), startNode(t, etcd.Endpoint, "n2")
	defer n1.Close()
	defer n2.Close()
	a1 := apiClient{t, "http://" + n1.HTTPAddr()}
	base2 := "http://" + n2.HTTPAddr()
	if code, raw := a1.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	pw := addUser(t, a1, "mei", "dispatcher", nil, "")
	changes := []struct {
		what   string
		change map[string]any
		ends   bool
	}{
		{"display name", map[string]any{"display_name": "梅"}, false},
		{"password", map[string]any{"password": "a-new-password-1"}, true},
		{"grids", map[string]any{"grids": []string{"321003001"}}, true},
		{"department", map[string]any{"department": "police"}, true},
		{"role", map[string]any{"role": "grid_worker"}, true},
	}
	for _, ch := range changes {
		if ch.what != "display name" && ch.what != "password" {
			pw = "a-new-password-1"
		}
		p := signIn(t, a1.base, "mei", pw)
		on2 := &person{t: t, base: base2, name: "mei", cookie: p.cookie, csrf: p.csrf}
		eventually(t, 5*time.Second, "the session on the other node", func() bool { c, _ := on2.do("GET", "/api/v1/me", "", nil); return c == 200 })
		events := bufio.NewReader(on2.stream(""))
		ended := make(chan string, 1)
		go func() {
			for {
				line, err := events.ReadString('\n')
				if err != nil {
					ended <- "closed"
					return
				}
				if strings.HasPrefix(line, "event: ended") {
					ended <- "ended"
					return
				}
			}
		}()
		if code, out := a1.json("PATCH", "/api/v1/users/mei", ch.change); code != 200 {
			t.Fatalf("%s: %d %v", ch.what, code, out)
		}
		start := time.Now()
		if !ch.ends {
			time.Sleep(1500 * time.Millisecond)
			for _, who := range []*person{p, on2} {
				if c, _ := who.do("GET", "/api/v1/me", "", nil); c != 200 {
					t.Errorf("a %s change ended the session at %s: %d", ch.what, who.base, c)
				}
			}
			select {
			case why := <-ended:
				t.Errorf("a %s change ended the event stream (%s)", ch.what, why)
			default:
			}
			continue
		}
		for _, who := range []*person{p, on2} {
			eventually(t, 5*time.Second, ch.what+" change ending the session at "+who.base, func() bool {
				c, _ := who.do("GET", "/api/v1/cameras", "", nil)
				return c == 401
			})
		}
		select {
		case why := <-ended:
			t.Logf("%s change: sessions ended on both nodes and the other node's event stream %s within %v", ch.what, why,
				time.Since(start).Round(time.Millisecond))
		case <-time.After(5*time.Second - time.Since(start)):
			t.Errorf("%s change: the event stream on the other node still open after 5 s", ch.what)
		}
	}
}

// TestTokensNeedTokensWriteAndAlwaysExpire: a token manages its owner's
// tokens only with tokens:write; tokens expire after the configured
// default unless asked for less, never after the configured maximum, and
// never after the token that issued them.
func TestTokensNeedTokensWriteAndAlwaysExpire(t *testing.T) {
	g := startGateway(t, "SHARPEYES_AUTH_TOKEN_DEFAULT_TTL=48h", "SHARPEYES_AUTH_TOKEN_MAX_TTL=720h")
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	pw := addUser(t, admin, "zhou", "dispatcher", nil, "")
	p := signIn(t, admin.base, "zhou", pw)
	issue := func(body map[string]any) (int, map[string]any) { return p.json("POST", "/api/v1/tokens", body) }

	code, out := issue(map[string]any{"name": "reader", "scopes": []string{"cameras:read"}})
	if code != 201 {
		t.Fatalf("reader: %d %v", code, out)
	}
	reader, readerID := out["token"].(string), out["id"].(string)
	exp, _ := time.Parse(time.RFC3339, out["expires_at"].(string))
	if d := time.Until(exp); d < 47*time.Hour || d > 48*time.Hour {
		t.Errorf("a token issued without expires_in expires in %v, want the configured 48h", d)
	}
	code, out = issue(map[string]any{"name": "manager", "scopes": []string{"cameras:read", "tokens:write"}, "expires_in": "24h"})
	if code != 201 {
		t.Fatalf("manager: %d %v", code, out)
	}
	manager := out["token"].(string)
	if code, out := issue(map[string]any{"name": "forever", "scopes": []string{"cameras:read"}, "expires_in": "87600h"}); code != 400 || out["field"] != "expires_in" {
		t.Errorf("87,600 h: %d %v, want 400 on expires_in", code, out)
	}

	// Without tokens:write a token can neither list, issue nor revoke.
	if c := bearerGet(t, admin.base, "/api/v1/tokens", reader); c != 403 {
		t.Errorf("cameras:read token lists tokens: %d, want 403", c)
	}
	if c, body := bearerJSON(t, admin.base, "POST", "/api/v1/tokens", reader, `{"name":"x","scopes":["cameras:read"]}`); c != 403 {
		t.Errorf("cameras:read token issues a token: %d %s", c, body)
	}
	if c, body := bearerJSON(t, admin.base, "DELETE", "/api/v1/tokens/"+readerID, reader, ``); c != 403 {
		t.Errorf("cameras:read token revokes a token: %d %s", c, body)
	}
	// With it: it lists its owner's tokens, and what it issues ends no later than itself.
	if c := bearerGet(t, admin.base, "/api/v1/tokens", manager); c != 200 {
		t.Errorf("tokens:write token lists tokens: %d", c)
	}
	c, body := bearerJSON(t, admin.base, "POST", "/api/v1/tokens", manager, `{"name":"child","scopes":["cameras:read"],"expires_in":"700h"}`)
	if c != 201 {
		t.Fatalf("child token: %d %s", c, body)
	}
	if !strings.Contains(body, `"expires_at"`) {
		t.Fatalf("child token answer without expires_at: %s", body)
	}
	for _, tk := range g.Identities().Tokens() {
		if tk.Name == "child" && (tk.ExpiresAt == nil || time.Until(*tk.ExpiresAt) > 24*time.Hour) {
			t.Errorf("a token issued by a token living 24 h expires at %v", tk.ExpiresAt)
		}
	}
	if c, body := bearerJSON(t, admin.base, "POST", "/api/v1/tokens", manager, `{"name":"wider","scopes":["cases:read"]}`); c != 403 {
		t.Errorf("a token grants a scope it lacks: %d %s", c, body)
	}
	if c, body := bearerJSON(t, admin.base, "DELETE", "/api/v1/tokens/"+readerID, manager, ``); c != 204 {
		t.Errorf("tokens:write token revokes its owner's token: %d %s", c, body)
	}
	if c := bearerGet(t, admin.base, "/api/v1/cameras", reader); c != 401 {
		t.Errorf("revoked token: %d", c)
	}
}

// TestLiveVideoEndsWithItsCredential: live video watched with a token
// stops within 5 s of the token's revocation, and video watched by a
// user whose grids change to exclude the camera stops too; another
// viewer of the same camera keeps watching.
func TestLiveVideoEndsWithItsCredential(t *testing.T) {
	g, admin := demoStreet(t)
	lat, lon := inside(t, g.Grids(), cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "live-a", "name": "a", "on_demand": false,
		"streams":  map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	eventually(t, 10*time.Second, "camera online", func() bool { return admin.state("live-a") == "online" })
	pw := addUser(t, admin, "wall-user", "viewer", []string{street}, "")
	p := signIn(t, admin.base, "wall-user", pw)
	code, out := p.json("POST", "/api/v1/tokens", map[string]any{"name": "wall screen", "scopes": []string{"video"}})
	if code != 201 {
		t.Fatalf("token: %d %v", code, out)
	}
	tok, tokID := out["token"].(string), out["id"].(string)
	watchWith := func(tk string) *viewer {
		hc := &http.Client{Transport: bearer{tk}}
		sig, _ := whepclient.HTTPSignal(hc, admin.base+"/api/v1/whep/live-a?stream=sub")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := whepclient.Dial(ctx, sig, whepclient.Options{})
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		t.Cleanup(c.Close)
		v := &viewer{c: c, first: make(chan whepclient.Frame, 1)}
		go func() {
			for range c.Frames() {
				v.frames.Add(1)
			}
		}()
		eventually(t, 10*time.Second, "frames", func() bool { return v.frames.Load() > 5 })
		return v
	}
	stopped := func(v *viewer) bool {
		n := v.frames.Load()
		time.Sleep(600 * time.Millisecond)
		return v.frames.Load() == n
	}
	revoked := watchWith(tok)
	other := watchWith(issueToken(t, admin, "another wall", "video"))
	if code, _ := p.do("DELETE", "/api/v1/tokens/"+tokID, "", nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	start := time.Now()
	eventually(t, 5*time.Second, "the revoked token's video to stop", func() bool { return stopped(revoked) })
	t.Logf("a revoked token's live video stopped within %v", time.Since(start).Round(100*time.Millisecond))
	if stopped(other) {
		t.Error("another viewer's video stopped too")
	}

	// A user's token whose owner's grids move elsewhere: the camera is no longer theirs.
	code, out = p.json("POST", "/api/v1/tokens", map[string]any{"name": "wall 2", "scopes": []string{"video"}})
	if code != 201 {
		t.Fatalf("token: %d %v", code, out)
	}
	moved := watchWith(out["token"].(string))
	if code, out := admin.json("PATCH", "/api/v1/users/wall-user", map[string]any{"grids": []string{cellB}}); code != 200 {
		t.Fatalf("move: %d %v", code, out)
	}
	eventually(t, 5*time.Second, "video of a camera outside the new grids to stop", func() bool { return stopped(moved) })
}
