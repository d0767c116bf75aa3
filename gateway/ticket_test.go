package gateway

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/registry"
)

// TestRedirectTicketsDieWithTheirUser, two nodes: a signed-in viewer's
// WHEP offer at the node that does not pull the camera is redirected
// with a ticket that lasts seconds, not a day; the session it opens at
// the owner answers a Location that ends that session and opens nothing
// (before, it carried a fresh 24-hour ticket that opened more); and once
// the user is deleted the ticket is refused and the live video it opened
// ends.
func TestRedirectTicketsDieWithTheirUser(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	n1, n2 := startNode(t, etcd.Endpoint, "n1"), startNode(t, etcd.Endpoint, "n2")
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 4})
	defer fleet.Close()
	admin := apiClient{t, "http://" + n1.HTTPAddr()}
	ids := []string{"tc1", "tc2", "tc3", "tc4"}
	for i, id := range ids {
		if code, r := admin.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": false,
			"streams": map[string]string{"main": fleet.URL(i+1, false)}}); code != 201 {
			t.Fatalf("create: %d %v", code, r)
		}
	}
	eventually(t, 15*time.Second, "all cameras online", func() bool { return len(owners(t, n1, ids)) == 4 })
	cam := ""
	for id, n := range owners(t, n1, ids) {
		if n == "n2" {
			cam = id
		}
	}
	if cam == "" {
		t.Skip("n2 pulls no camera")
	}
	pw := addUser(t, admin, "tv", "admin", nil, "") // the whole street: the cameras here have no place
	viewer := signIn(t, admin.base, "tv", pw)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	offer := browserOffer(t)
	post := func(u string, cookie bool) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", u, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		if cookie {
			req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: viewer.cookie})
			req.Header.Set("X-CSRF-Token", viewer.csrf)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, _ := post(admin.base+"/api/v1/whep/"+cam, true)
	if code != http.StatusTemporaryRedirect {
		t.Fatalf("offer at the other node: %d", code)
	}
	to := h.Get("Location")
	u, _ := url.Parse(to)
	ticket := u.Query().Get("ticket")
	if exp, err := strconv.ParseInt(strings.SplitN(ticket, ".", 2)[0], 10, 64); err != nil || time.Until(time.Unix(exp, 0)) > 2*time.Minute {
		t.Fatalf("the redirect's ticket %q lasts until %v", ticket, time.Unix(exp, 0))
	}
	code, h, _ = post(to, false)
	if code != 201 {
		t.Fatalf("offer with the ticket at the owner: %d", code)
	}
	loc := h.Get("Location")
	if strings.Contains(loc, "ticket=") || !strings.Contains(loc, "end=") {
		t.Fatalf("the session's Location %q", loc)
	}
	end := regexp.MustCompile(`end=([^&]+)`).FindStringSubmatch(loc)[1]
	n2base := "http://" + n2.HTTPAddr()
	// What the Location carries opens nothing.
	for _, q := range []string{"?end=" + end, "?ticket=" + end} {
		if code, _, _ := post(n2base+"/api/v1/whep/"+cam+q, false); code != http.StatusUnauthorized {
			t.Errorf("an offer with %s: %d, want 401", q[:5], code)
		}
	}
	// A second session, which the viewer ends with its Location.
	_, h2, _ := post(to, false)
	req, _ := http.NewRequest("DELETE", n2base+h2.Get("Location"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("DELETE with the end key: %d", resp.StatusCode)
	}
	sessions := func() int {
		_, m := apiClient{t, n2base}.do("GET", "/metrics", "", nil, true)
		v := regexp.MustCompile(`(?m)^sharpeyes_webrtc_sessions (\d+)`).FindSubmatch(m)
		if v == nil {
			return -1
		}
		n, _ := strconv.Atoi(string(v[1]))
		return n
	}
	if n := sessions(); n != 1 {
		t.Fatalf("%d WHEP sessions at the owner, want the first one", n)
	}
	// The user deleted: the ticket is refused and the video ends.
	if code, out := admin.json("DELETE", "/api/v1/users/tv", nil); code != 204 {
		t.Fatalf("delete user: %d %v", code, out)
	}
	eventually(t, 10*time.Second, "the deleted user's live video ended", func() bool { return sessions() == 0 })
	eventually(t, 5*time.Second, "the ticket refused", func() bool { code, _, _ := post(to, false); return code == http.StatusUnauthorized })
}
