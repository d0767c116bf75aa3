package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// session is a signed-in browser: its cookie jar and CSRF token.
type session struct {
	h    *harness
	cli  *http.Client
	csrf string
}

// login signs user in; the answer's status must be want.
func (h *harness) login(user, pass string) *session {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{h: h, cli: &http.Client{Jar: jar}}
	res, err := s.cli.Post(h.http.URL+"/api/v1/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+pass+`"}`))
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("login %s: %d", user, res.StatusCode)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie && (!ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode) {
			h.t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", ck)
		}
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	readJSON(h.t, res, &out)
	s.csrf = out.CSRF
	return s
}

// call sends a request with the session's cookie and its CSRF token.
func (s *session) call(method, path, body string, header ...string) call {
	s.h.t.Helper()
	req, _ := http.NewRequest(method, s.h.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.cli.Do(req)
	if err != nil {
		s.h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return call{status: res.StatusCode, header: res.Header, body: b}
}

// do sends a request with the session's cookie (and its CSRF token when
// csrf is true).
func (s *session) do(method, path string, body string, csrf bool) int {
	s.h.t.Helper()
	req, _ := http.NewRequest(method, s.h.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	res, err := s.cli.Do(req)
	if err != nil {
		s.h.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// user creates a user (as the admin).
func (h *harness) user(name, role string, grids ...string) {
	h.t.Helper()
	if grids == nil {
		grids = []string{}
	}
	h.must(http.StatusCreated, "POST", "/api/v1/users", adminToken, map[string]any{"username": name, "password": "Pass-word-12345",
		"role": role, "grids": grids, "display_name": "<b>" + name + "</b>"})
}

func TestSignedInSessionsAndCSRF(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.user("li", "dispatcher", "S")

	// A wrong password is 401 and names nobody.
	c := h.do("POST", "/api/v1/login", "", `{"username":"li","password":"wrong-password-1"}`)
	if c.status != http.StatusUnauthorized || strings.Contains(string(c.body), "Pass-word") {
		t.Fatalf("wrong password: %d %s", c.status, c.body)
	}
	if c := h.do("POST", "/api/v1/login", "", `{"username":"li"}`); c.status != http.StatusBadRequest {
		t.Fatalf("no password: %d", c.status)
	}

	s := h.login("li", "Pass-word-12345")
	if st := s.do("GET", "/api/v1/cameras/a1", "", false); st != http.StatusOK {
		t.Fatalf("signed-in read: %d", st)
	}
	// A write without the CSRF token is refused, with it done.
	patch := `{"name":"改名"}`
	if st := s.do("PATCH", "/api/v1/cameras/a1", patch, false); st != http.StatusForbidden {
		t.Fatalf("write without CSRF: %d", st)
	}
	if cam, _ := h.catalog.Get("a1"); cam.Name == "改名" {
		t.Fatal("a write without CSRF changed the camera")
	}
	// A dispatcher may not write cameras at all.
	if st := s.do("PATCH", "/api/v1/cameras/a1", patch, true); st != http.StatusForbidden {
		t.Fatalf("dispatcher camera write: %d", st)
	}
	// A password change ends the session opened before it.
	h.must(http.StatusOK, "PATCH", "/api/v1/users/li", adminToken, map[string]any{"password": "Another-pass-678"})
	if st := s.do("GET", "/api/v1/cameras/a1", "", false); st == http.StatusOK {
		t.Fatal("a session outlived its user's password change")
	}
	s = h.login("li", "Another-pass-678")
	if st := s.do("POST", "/api/v1/logout", "", true); st != http.StatusNoContent {
		t.Fatalf("logout: %d", st)
	}
	if st := s.do("GET", "/api/v1/me", "", false); st != http.StatusUnauthorized {
		t.Fatalf("after logout /me: %d", st)
	}
	// Tokens cannot log out.
	if c := h.do("POST", "/api/v1/logout", adminToken, nil); c.status != http.StatusBadRequest {
		t.Fatalf("token logout: %d", c.status)
	}
}

func TestCredentialsAreCheckedOnEveryRoute(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Basic YWRtaW46eA==", http.StatusUnauthorized},
		{"Bearer not-a-token", http.StatusUnauthorized},
		{"Bearer " + adminToken, http.StatusOK},
	} {
		c := h.do("GET", "/api/v1/cameras", "", nil, "Authorization", tc.auth)
		if tc.auth == "" {
			c = h.do("GET", "/api/v1/cameras", "", nil)
		}
		if c.status != tc.want {
			t.Errorf("%q: %d, want %d", tc.auth, c.status, tc.want)
		}
		if c.status == http.StatusUnauthorized && c.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: 401 without a challenge", tc.auth)
		}
	}
	// Public routes need nobody; a bad token is still an error there.
	h.must(http.StatusOK, "GET", "/healthz", "", nil)
	h.must(http.StatusOK, "GET", "/readyz", "", nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/nothing-here", adminToken, nil)
	h.must(http.StatusMethodNotAllowed, "PUT", "/api/v1/tokens", adminToken, nil)
}

func TestUsersAndTokens(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"username": "x", "role": "dispatcher"}, "password"},
		{map[string]any{"username": "x", "password": "short", "role": "dispatcher"}, "password"},
		{map[string]any{"username": "x", "password": "Pass-word-12345", "role": "king"}, "role"},
		{map[string]any{"username": "x", "password": "Pass-word-12345"}, "role"},
		{map[string]any{"username": "x", "password": "Pass-word-12345", "role": "department"}, "department"},
		{map[string]any{"username": "x", "password": "Pass-word-12345", "role": "grid_worker", "grids": []string{"NOPE"}}, "grids"},
		{map[string]any{"username": "a b", "password": "Pass-word-12345", "role": "viewer"}, "username"},
	} {
		if f, _ := h.must(http.StatusBadRequest, "POST", "/api/v1/users", adminToken, tc.body).errField(t); f != tc.field {
			t.Errorf("%v: field %q, want %q", tc.body, f, tc.field)
		}
	}
	h.user("wang", "grid_worker", "S-A")
	h.must(http.StatusConflict, "POST", "/api/v1/users", adminToken, map[string]any{"username": "wang", "password": "Pass-word-12345", "role": "viewer"})
	var list struct {
		Items []struct {
			Username string `json:"username"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/users", adminToken, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Username != "wang" {
		t.Fatalf("users %+v", list)
	}
	if c := h.must(http.StatusOK, "GET", "/api/v1/users/wang", adminToken, nil); strings.Contains(string(c.body), "password") {
		t.Fatalf("user answered with a password field: %s", c.body)
	}

	// The grid worker sees their cell's camera, not the other's; a token
	// they issue is limited to their cell and their scopes.
	s := h.login("wang", "Pass-word-12345")
	if st := s.do("GET", "/api/v1/cameras/b1", "", false); st != http.StatusNotFound {
		t.Fatalf("camera outside the jurisdiction: %d", st)
	}
	if st := s.do("GET", "/api/v1/users/wang", "", false); st != http.StatusOK {
		t.Fatalf("own user: %d", st)
	}
	if st := s.do("GET", "/api/v1/users/nobody", "", false); st != http.StatusNotFound {
		t.Fatalf("other user: %d", st)
	}
	cell := h.token([]string{"cameras:read"}, "S-A")
	var page cameraPage
	h.must(http.StatusOK, "GET", "/api/v1/cameras", cell, nil).json(t, &page)
	if page.ids() != "a1" {
		t.Fatalf("a cell token lists %s", page.ids())
	}
	if page.Items[0].Streams != nil {
		t.Fatalf("a read-only token sees stream URLs: %s", page.Items[0].Streams)
	}
	// A token may not grant what it lacks, nor cells outside its own.
	h.must(http.StatusForbidden, "POST", "/api/v1/tokens", cell, map[string]any{"name": "x", "scopes": []string{"cameras:write"}})
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"scopes": []string{"cameras:read"}}, "name"},
		{map[string]any{"name": "x"}, "scopes"},
		{map[string]any{"name": "x", "scopes": []string{"root"}}, "scopes"},
		{map[string]any{"name": "x", "scopes": []string{"cameras:read"}, "grids": []string{"NOPE"}}, "grids"},
		{map[string]any{"name": "x", "scopes": []string{"cameras:read"}, "expires_in": "forever"}, "expires_in"},
		{map[string]any{"name": "x", "scopes": []string{"cameras:read"}, "expires_in": "100000h"}, "expires_in"},
	} {
		if f, _ := h.must(http.StatusBadRequest, "POST", "/api/v1/tokens", adminToken, tc.body).errField(t); f != tc.field {
			t.Errorf("%v: field %q, want %q", tc.body, f, tc.field)
		}
	}
	var toks struct {
		Items []struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/tokens", adminToken, nil).json(t, &toks)
	if len(toks.Items) != 1 || toks.Items[0].Token != "" {
		t.Fatalf("token list %+v (the secret must not be listed)", toks)
	}
	h.must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+toks.Items[0].ID, adminToken, nil)
	h.must(http.StatusUnauthorized, "GET", "/api/v1/cameras", cell, nil)
	h.must(http.StatusNotFound, "DELETE", "/api/v1/tokens/"+toks.Items[0].ID, adminToken, nil)

	// Disabled, the user signs in no more; deleted, they are gone.
	h.must(http.StatusOK, "PATCH", "/api/v1/users/wang", adminToken, map[string]any{"disabled": true})
	if c := h.do("POST", "/api/v1/login", "", `{"username":"wang","password":"Pass-word-12345"}`); c.status == http.StatusOK {
		t.Fatal("a disabled user signed in")
	}
	h.must(http.StatusBadRequest, "PATCH", "/api/v1/users/wang", adminToken, map[string]any{"username": "other"})
	h.must(http.StatusNoContent, "DELETE", "/api/v1/users/wang", adminToken, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/users/wang", adminToken, nil)
	h.must(http.StatusNotFound, "DELETE", "/api/v1/users/wang", adminToken, nil)
}

func TestMeSaysWhoAndWhere(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	tok := h.token([]string{"cameras:read", "video"}, "S-B")
	var me struct {
		Kind         string   `json:"kind"`
		Scopes       []string `json:"scopes"`
		Jurisdiction struct {
			All   bool     `json:"all"`
			Grids []string `json:"grids"`
		} `json:"jurisdiction"`
		Token struct {
			ID string `json:"id"`
		} `json:"token"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/me", tok, nil).json(t, &me)
	if me.Kind != "token" || me.Jurisdiction.All || strings.Join(me.Jurisdiction.Grids, ",") != "S-B" || len(me.Scopes) != 2 || me.Token.ID == "" {
		t.Fatalf("me %+v", me)
	}
	h.must(http.StatusOK, "GET", "/api/v1/openapi.yaml", tok, nil)
}

func TestLayoutsHoldOnlyVisibleCameras(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	h.user("zhao", "grid_worker", "S-A")
	s := h.login("zhao", "Pass-word-12345")
	if st := s.do("PUT", "/api/v1/layouts/wall", `{"tiles":["a1","b1"]}`, true); st != http.StatusBadRequest {
		t.Fatalf("layout with a camera outside: %d", st)
	}
	if st := s.do("PUT", "/api/v1/layouts/wall", `{"name":"other","tiles":["a1"]}`, true); st != http.StatusBadRequest {
		t.Fatalf("layout named unlike its URL: %d", st)
	}
	if st := s.do("PUT", "/api/v1/layouts/wall", `{"tiles":["a1",""]}`, true); st != http.StatusOK {
		t.Fatalf("layout: %d", st)
	}
	if st := s.do("GET", "/api/v1/layouts/wall", "", false); st != http.StatusOK {
		t.Fatalf("get layout: %d", st)
	}
	if st := s.do("GET", "/api/v1/layouts", "", false); st != http.StatusOK {
		t.Fatalf("list layouts: %d", st)
	}
	if st := s.do("DELETE", "/api/v1/layouts/wall", "", true); st != http.StatusNoContent {
		t.Fatalf("delete layout: %d", st)
	}
	if st := s.do("GET", "/api/v1/layouts/wall", "", false); st != http.StatusNotFound {
		t.Fatalf("deleted layout: %d", st)
	}
	if st := s.do("DELETE", "/api/v1/layouts/wall", "", true); st != http.StatusNotFound {
		t.Fatalf("delete again: %d", st)
	}
}

func readJSON(t *testing.T, res *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("answer %d is not JSON: %v", res.StatusCode, err)
	}
}
