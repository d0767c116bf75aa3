package gateway

import (
	"bufio"
	"context"
	"fmt"
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

	// The stream's headers come once it has read the newest message: what
	// follows is news to it.
	events := officer.stream("?topics=case")

	_, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "public_order", "title": "深夜噪音", "grid": cellA})
	id := cs["id"].(string)
	for _, step := range []struct{ action, body string }{{"register", `{}`}, {"dispatch", `{"assignee":"role:police"}`}} {
		if code, raw := centre.do("POST", "/api/v1/cases/"+id+"/"+step.action, "application/json", []byte(step.body)); code != 200 {
			t.Fatalf("%s: %d %s", step.action, code, raw)
		}
	}
	sc := bufio.NewScanner(events)
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

// TestEscalationReachesTheChiefAndTheCentreHearsOfItsWork: the SLA clock's
// 督办 warning and overdue notice reach the grid chief the cell names (and
// the assignee), live and in the feed; the centre is told of a report to
// register and a case to verify; a case says what the caller may do to it
// now and when it is due; the desk's filters and the wall's one-request
// status work.
func TestEscalationReachesTheChiefAndTheCentreHearsOfItsWork(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	if a.Roles.Chief == "" || a.Roles.Chief == a.Roles.GridWorker {
		t.Fatalf("the demo cell %s names no chief of its own: %+v", cellA, a.Roles)
	}
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))
	chief := signIn(t, admin.base, a.Roles.Chief, addUser(t, admin, a.Roles.Chief, "grid_worker", nil, ""))
	officer := signIn(t, admin.base, a.Roles.Police, addUser(t, admin, a.Roles.Police, "department", nil, "police"))
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))

	events := chief.stream("?topics=case") // its headers: it has read the newest message

	// A worker's 申办 report: the centre hears of it.
	code, rep := worker.json("POST", "/api/v1/cases", map[string]any{"source": "grid-report", "category": "environment", "title": "垃圾堆放", "grid": cellA})
	if code != 201 {
		t.Fatalf("report: %d %v", code, rep)
	}
	// A walk-in case, dispatched to the police with a one-day limit.
	code, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "walk-in", "category": "public_order", "title": "邻里纠纷",
		"grid": cellA, "limit_days": 1})
	if code != 201 {
		t.Fatalf("walk-in: %d %v", code, cs)
	}
	id := cs["id"].(string)
	if fmt.Sprint(cs["actions"]) != "[register reject]" || cs["deadline"] == nil {
		t.Errorf("a received case offers the centre %v (deadline %v), want [register reject] and a deadline", cs["actions"], cs["deadline"])
	}
	for _, step := range []struct{ action, body string }{{"register", `{}`}, {"dispatch", `{"assignee":"role:police"}`}} {
		if code, raw := centre.do("POST", "/api/v1/cases/"+id+"/"+step.action, "application/json", []byte(step.body)); code != 200 {
			t.Fatalf("%s: %d %s", step.action, code, raw)
		}
	}
	_, forOfficer := officer.json("GET", "/api/v1/cases/"+id, nil)
	_, forCentre := centre.json("GET", "/api/v1/cases/"+id, nil)
	if fmt.Sprint(forOfficer["actions"]) != "[accept return]" || fmt.Sprint(forCentre["actions"]) != "[extend suspend]" {
		t.Errorf("a dispatched case offers the officer %v and the centre %v", forOfficer["actions"], forCentre["actions"])
	}
	// The SLA clock, run past the limit: 督办 levels up to overdue.
	raised, err := g.Cases().Escalate(context.Background(), g.Cases().Calendar(), time.Now().AddDate(0, 0, 10))
	if err != nil || len(raised) == 0 {
		t.Fatalf("escalate: %v %v", raised, err)
	}
	sc := bufio.NewScanner(events)
	var live []string
	for sc.Scan() {
		if sc.Text() == "event: notify" && sc.Scan() {
			if live = append(live, sc.Text()); strings.Contains(sc.Text(), id) && strings.Contains(sc.Text(), `"kind":"overdue"`) {
				break
			}
		}
	}
	if len(live) == 0 || !strings.Contains(live[len(live)-1], id) {
		t.Fatalf("no overdue notice of %s on the chief's stream: %v", id, live)
	}
	kinds := func(p *person) string {
		_, out := p.json("GET", "/api/v1/notifications", nil)
		var ks []string
		for _, it := range out["items"].([]any) {
			n := it.(map[string]any)
			ks = append(ks, fmt.Sprintf("%s:%v", n["kind"], n["case_id"] == id))
		}
		return fmt.Sprint(ks)
	}
	if k := kinds(chief); !strings.Contains(k, "overdue:true") {
		t.Errorf("the chief's feed %s: want the overdue notice of %s", k, id)
	}
	if k := kinds(officer); !strings.Contains(k, "overdue:true") || !strings.Contains(k, "assignment:true") {
		t.Errorf("the officer's feed %s: want the assignment and the overdue notice", k)
	}
	for _, step := range []string{"accept", "start", "resolve"} {
		if code, raw := officer.do("POST", "/api/v1/cases/"+id+"/"+step, "application/json", []byte(`{"note":"调解完毕"}`)); code != 200 {
			t.Fatalf("%s: %d %s", step, code, raw)
		}
	}
	if k := kinds(centre); k != "[verification:true report:false]" {
		t.Errorf("the centre's feed %s, want the case to verify and the report to register", k)
	}
	if k := kinds(worker); strings.Contains(k, "verification") || strings.Contains(k, "report") {
		t.Errorf("a grid worker is sent the centre's work: %s", k)
	}
	// The desk's filters: by source and by creation time.
	_, bySource := centre.json("GET", "/api/v1/cases?source=walk-in", nil)
	_, later := centre.json("GET", "/api/v1/cases?from="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil)
	if n := len(bySource["items"].([]any)); n != 1 || len(later["items"].([]any)) != 0 {
		t.Errorf("source=walk-in: %d cases (want 1); from an hour ahead: %v", n, later["items"])
	}
	if code, out := centre.json("GET", "/api/v1/cases?from=yesterday", nil); code != 400 || out["field"] != "from" {
		t.Errorf("from=yesterday: %d %v", code, out)
	}
}
