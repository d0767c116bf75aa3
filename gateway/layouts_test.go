package gateway

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLayoutsArePerUserAndChecked: each user saves walls of their own
// (the same name does not collide), with tours; bad shapes and cameras the
// user may not watch are refused with the field named.
func TestLayoutsArePerUserAndChecked(t *testing.T) {
	g, admin := demoStreet(t)
	ix := g.Grids()
	for _, c := range []struct{ id, cell string }{{"a1", cellA}, {"a2", cellA}, {"b1", cellB}} {
		lat, lon := inside(t, ix, c.cell)
		if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": c.id, "name": c.id,
			"streams": map[string]string{"main": "rtsp://10.1.2.3/" + c.id}, "location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	a, _ := ix.Get(cellA)
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))

	wall := map[string]any{"layout": 9, "tiles": []string{"a1", "", "a2"}, "alarm_tile": 8,
		"tours": []map[string]any{{"name": "东区轮巡", "cameras": []string{"a1", "a2"}, "interval_s": 10, "tile": -1}}}
	if code, out := worker.json("PUT", "/api/v1/layouts/早班", wall); code != 200 || out["name"] != "早班" {
		t.Fatalf("save: %d %v", code, out)
	}
	if code, out := centre.json("PUT", "/api/v1/layouts/早班", map[string]any{"layout": 4, "tiles": []string{"b1"}}); code != 200 {
		t.Fatalf("another user's layout of the same name: %d %v", code, out)
	}
	_, mine := worker.json("GET", "/api/v1/layouts/早班", nil)
	if mine["layout"] != float64(9) || len(mine["tours"].([]any)) != 1 {
		t.Fatalf("the worker's layout was overwritten: %v", mine)
	}
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"layout": 6}, "layout"},
		{map[string]any{"layout": 1, "tiles": []string{"a1", "a2"}}, "tiles"},
		{map[string]any{"layout": 4, "tiles": []string{"b1"}}, "tiles[0]"},
		{map[string]any{"layout": 4, "alarm_tile": 4}, "alarm_tile"},
		{map[string]any{"layout": 4, "tours": []map[string]any{{"cameras": []string{"a1", "a2"}, "interval_s": 1, "tile": 0}}}, "tours[0].interval_s"},
		{map[string]any{"layout": 4, "tours": []map[string]any{{"cameras": []string{"a1", "b1"}, "interval_s": 10, "tile": 0}}}, "tours[0].cameras"},
	} {
		if code, out := worker.json("PUT", "/api/v1/layouts/bad", bad.body); code != 400 || out["field"] != bad.field {
			t.Errorf("%v: %d %v, want 400 naming %s", bad.body, code, out, bad.field)
		}
	}
	_, list := worker.json("GET", "/api/v1/layouts", nil)
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("the worker has %d layouts, want 1 (refused ones leave nothing)", n)
	}
	if code, _ := worker.do("DELETE", "/api/v1/layouts/早班", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := centre.do("GET", "/api/v1/layouts/早班", "", nil); code != 200 {
		t.Fatalf("deleting the worker's layout took the centre's: %d", code)
	}
}

// TestDispatchToACellRole: dispatching to role:police assigns the officer
// the case's cell names, who sees the case and accepts it.
func TestDispatchToACellRole(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))
	officer := signIn(t, admin.base, a.Roles.Police, addUser(t, admin, a.Roles.Police, "department", nil, "police"))
	code, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "public_order", "title": "噪音扰民", "grid": cellA})
	if code != 201 {
		t.Fatalf("case: %d %v", code, cs)
	}
	id := cs["id"].(string)
	if code, out := centre.json("POST", "/api/v1/cases/"+id+"/register", map[string]any{}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	if code, out := centre.json("POST", "/api/v1/cases/"+id+"/dispatch", map[string]any{"assignee": "role:janitor"}); code != 400 || out["field"] != "assignee" {
		t.Errorf("unknown role: %d %v", code, out)
	}
	code, out := centre.json("POST", "/api/v1/cases/"+id+"/dispatch", map[string]any{"assignee": "role:police"})
	if code != 200 || out["assignee"] != a.Roles.Police {
		t.Fatalf("dispatch to the cell's police officer: %d %v", code, out)
	}
	if code, out := officer.json("POST", "/api/v1/cases/"+id+"/accept", map[string]any{"note": "收到"}); code != 200 || out["state"] != "accepted" {
		t.Fatalf("the officer accepts: %d %v", code, out)
	}
}

// TestNotificationsReachTheAssignee: a dispatch reaches the officer's feed
// and, live, their event stream; nobody else's; the evaluation follows.
func TestNotificationsReachTheAssignee(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))
	officer := signIn(t, admin.base, a.Roles.Police, addUser(t, admin, a.Roles.Police, "department", nil, "police"))
	other := signIn(t, admin.base, "lawyer", addUser(t, admin, "lawyer", "department", nil, "legal"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", admin.base+"/api/v1/stream?topics=case", nil)
	req.AddCookie(&http.Cookie{Name: "sharpeyes_session", Value: officer.cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	time.Sleep(700 * time.Millisecond) // the stream starts from the newest message

	_, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "public_order", "title": "深夜噪音", "grid": cellA})
	id := cs["id"].(string)
	for _, step := range []struct{ action, body string }{{"register", `{}`}, {"dispatch", `{"assignee":"role:police"}`}} {
		if code, raw := centre.do("POST", "/api/v1/cases/"+id+"/"+step.action, "application/json", []byte(step.body)); code != 200 {
			t.Fatalf("%s: %d %s", step.action, code, raw)
		}
	}
	sc := bufio.NewScanner(resp.Body)
	live := ""
	for sc.Scan() {
		if sc.Text() == "event: notify" && sc.Scan() {
			live = sc.Text()
			break
		}
	}
	if !strings.Contains(live, `"kind":"assignment"`) || !strings.Contains(live, id) {
		t.Fatalf("no live assignment on the officer's stream: %q", live)
	}
	feed := func(p *person) []any {
		code, out := p.json("GET", "/api/v1/notifications", nil)
		if code != 200 {
			t.Fatalf("notifications: %d %v", code, out)
		}
		return out["items"].([]any)
	}
	if items := feed(officer); len(items) != 1 || items[0].(map[string]any)["case_id"] != id {
		t.Fatalf("the officer's feed: %v", items)
	}
	if items := feed(other); len(items) != 0 {
		t.Fatalf("another department's feed: %v", items)
	}
	for _, step := range []struct {
		who          *person
		action, body string
	}{{officer, "accept", `{}`}, {officer, "start", `{}`}, {officer, "resolve", `{"note":"已劝离"}`}, {centre, "verify", `{}`}, {centre, "evaluate", `{"rating":5}`}} {
		if code, raw := step.who.do("POST", "/api/v1/cases/"+id+"/"+step.action, "application/json", []byte(step.body)); code != 200 {
			t.Fatalf("%s: %d %s", step.action, code, raw)
		}
	}
	items := feed(officer)
	if len(items) != 2 || items[0].(map[string]any)["kind"] != "evaluation" || items[0].(map[string]any)["rating"] != float64(5) {
		t.Fatalf("after the evaluation: %v", items)
	}
}

// TestGridReportHandledOnTheSpot: 即办 — a grid worker files a report they
// already handled: it is registered and resolved at once, for the centre
// to verify; 申办 leaves it received; a dispatcher cannot claim 即办.
func TestGridReportHandledOnTheSpot(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))
	report := map[string]any{"source": "grid-report", "category": "environment", "title": "垃圾堆放", "grid": cellA,
		"handling": "immediate", "resolution": "已清运"}
	code, cs := worker.json("POST", "/api/v1/cases", report)
	if code != 201 || cs["state"] != "verifying" {
		t.Fatalf("即办: %d %v", code, cs)
	}
	if code, out := centre.json("POST", "/api/v1/cases/"+cs["id"].(string)+"/verify", map[string]any{}); code != 200 || out["state"] != "closed" {
		t.Fatalf("verify: %d %v", code, out)
	}
	report["handling"] = "file"
	if code, cs := worker.json("POST", "/api/v1/cases", report); code != 201 || cs["state"] != "received" {
		t.Fatalf("申办: %d %v", code, cs)
	}
	report["handling"] = "immediate"
	if code, out := centre.json("POST", "/api/v1/cases", report); code != 403 {
		t.Errorf("a dispatcher claiming 即办: %d %v", code, out)
	}
	delete(report, "resolution")
	if code, out := worker.json("POST", "/api/v1/cases", report); code != 400 || out["field"] != "resolution" {
		t.Errorf("即办 without a resolution: %d %v", code, out)
	}
}
