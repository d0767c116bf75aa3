package gateway

import (
	"testing"

	"sharpeyes/configs"
)

// TestLayoutsArePerUserAndChecked: each user saves walls of their own
// (the same name does not collide), with tours; bad shapes and cameras the
// user may not watch are refused with the field named.
func TestLayoutsArePerUserAndChecked(t *testing.T) {
	g := startGateway(t)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
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
	g := startGateway(t)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
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
