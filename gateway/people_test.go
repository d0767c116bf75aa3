package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"sharpeyes/configs"
	"sharpeyes/grid"
)

// person is a user signed in through POST /login, acting with the session
// cookie and the CSRF token, as the browser UI does.
type person struct {
	t        *testing.T
	base     string
	name     string
	password string
	cookie   string
	csrf     string
}

// addUser creates a user as the admin and returns their password.
func addUser(t *testing.T, a apiClient, username, role string, grids []string, department string) string {
	t.Helper()
	pw := "pw-" + username + "-0123"
	if grids == nil {
		grids = []string{}
	}
	code, out := a.json("POST", "/api/v1/users", map[string]any{"username": username, "password": pw, "role": role,
		"grids": grids, "department": department, "display_name": username})
	if code != http.StatusCreated {
		t.Fatalf("add user %s: %d %v", username, code, out)
	}
	if _, leaked := out["password_hash"]; leaked {
		t.Fatalf("user answer carries the password hash: %v", out)
	}
	return pw
}

// signIn logs a user in and returns them as a person.
func signIn(t *testing.T, base, username, password string) *person {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || out.CSRF == "" {
		t.Fatalf("login %s: %d %s", username, resp.StatusCode, raw)
	}
	p := &person{t: t, base: base, name: username, password: password, csrf: out.CSRF}
	for _, c := range resp.Cookies() {
		if c.Name == "sharpeyes_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
			}
			p.cookie = c.Value
		}
	}
	if p.cookie == "" {
		t.Fatalf("login %s set no session cookie", username)
	}
	return p
}

func (p *person) do(method, path, ctype string, body []byte) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: p.cookie})
	req.Header.Set("X-CSRF-Token", p.csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (p *person) json(method, path string, v any) (int, map[string]any) {
	p.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	code, b := p.do(method, path, "application/json", body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return code, out
}

// inside returns a point inside a cell (its area centroid; the demo cells are convex).
func inside(t *testing.T, ix *grid.Index, code string) (lat, lon float64) {
	t.Helper()
	c, ok := ix.Get(code)
	if !ok {
		t.Fatalf("no cell %s", code)
	}
	p, _ := planar.CentroidArea(c.Geometry)
	if !planar.MultiPolygonContains(c.Geometry, p) {
		t.Fatalf("centroid of %s is outside it", code)
	}
	if base, _ := ix.Locate(orb.Point{p[0], p[1]}); base != code && c.Kind == grid.Base {
		t.Fatalf("centroid of %s locates in %s", code, base)
	}
	return p[1], p[0]
}

// demoStreet starts a gateway with the demo street's grid cells imported,
// and its admin client.
func demoStreet(t *testing.T, env ...string) (*Gateway, apiClient) {
	t.Helper()
	g := startGateway(t, env...)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	return g, admin
}

// stream opens the event stream as the person (query e.g. "?topics=case"),
// closed with the test; it reads from the newest message on.
func (p *person) stream(query string) io.Reader {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	p.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/api/v1/stream"+query, nil)
	req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: p.cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		p.t.Fatalf("stream: %v %v", resp, err)
	}
	p.t.Cleanup(func() { resp.Body.Close() })
	return resp.Body
}
