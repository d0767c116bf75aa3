package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestNobodyTakesOverAnotherAssigneesCase: through the API, a police
// officer cannot accept a case dispatched to the housing department, nor a
// grid worker resolve one dispatched to legal services; the assignees can.
// A dispatch to an assignee nobody is ("polcie", 10 kB) is refused and the
// case stays where it was.
func TestNobodyTakesOverAnotherAssigneesCase(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	centre := signIn(t, admin.base, "centre", addUser(t, admin, "centre", "dispatcher", []string{street}, ""))
	police := signIn(t, admin.base, "li-police", addUser(t, admin, "li-police", "department", []string{street}, "police"))
	housing := signIn(t, admin.base, "zhao-housing", addUser(t, admin, "zhao-housing", "department", nil, "housing"))
	lawyer := signIn(t, admin.base, "fw-legal", addUser(t, admin, "fw-legal", "department", nil, "legal"))
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))

	newCase := func(title string) string {
		t.Helper()
		code, cs := centre.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "public_order", "title": title, "grid": cellA})
		if code != http.StatusCreated {
			t.Fatalf("case: %d %v", code, cs)
		}
		id := cs["id"].(string)
		if code, out := centre.json("POST", "/api/v1/cases/"+id+"/register", map[string]any{}); code != 200 {
			t.Fatalf("register: %d %v", code, out)
		}
		return id
	}
	act := func(p *person, id, action string, body map[string]any) (int, map[string]any) {
		t.Helper()
		return p.json("POST", "/api/v1/cases/"+id+"/"+action, body)
	}

	// Dispatch refuses assignees that nobody is.
	id := newCase("楼道堆物")
	for _, bad := range []string{"polcie", strings.Repeat("x", 10_000), "viewer-nobody", "centre"} {
		code, out := act(centre, id, "dispatch", map[string]any{"assignee": bad})
		if code != 400 || out["field"] != "assignee" {
			t.Errorf("dispatch to %.20q: %d %v, want 400 on assignee", bad, code, out)
		}
		if msg, _ := out["error"].(string); len(msg) > 1000 {
			t.Errorf("the refusal echoes the whole assignee (%d bytes)", len(msg))
		}
	}
	if _, cs := centre.json("GET", "/api/v1/cases/"+id, nil); cs["state"] != "registered" || cs["assignee"] != nil {
		t.Fatalf("after refused dispatches the case is %v assigned to %v", cs["state"], cs["assignee"])
	}

	// 转办 to housing: the police officer (who sees the street) may not take it.
	if code, out := act(centre, id, "dispatch", map[string]any{"assignee": "housing"}); code != 200 {
		t.Fatalf("dispatch to housing: %d %v", code, out)
	}
	if code, cs := police.json("GET", "/api/v1/cases/"+id, nil); code != 200 || len(cs["actions"].([]any)) != 0 {
		t.Errorf("the police officer is offered %v on housing's case (%d)", cs["actions"], code)
	}
	for _, action := range []string{"accept", "return"} {
		if code, out := act(police, id, action, map[string]any{"reason": "r"}); code != 403 {
			t.Errorf("police %s housing's case: %d %v, want 403", action, code, out)
		}
	}
	if code, out := act(housing, id, "accept", map[string]any{}); code != 200 || out["state"] != "accepted" {
		t.Fatalf("housing accepts: %d %v", code, out)
	}
	if code, out := act(police, id, "start", map[string]any{}); code != 403 {
		t.Errorf("police starts housing's case: %d %v", code, out)
	}
	if code, out := act(housing, id, "start", map[string]any{}); code != 200 {
		t.Fatalf("housing starts: %d %v", code, out)
	}

	// To legal services: the cell's own grid worker may not resolve it.
	id2 := newCase("邻里纠纷")
	if code, out := act(centre, id2, "dispatch", map[string]any{"assignee": "legal"}); code != 200 {
		t.Fatalf("dispatch to legal: %d %v", code, out)
	}
	if code, out := act(lawyer, id2, "accept", map[string]any{}); code != 200 {
		t.Fatalf("legal accepts: %d %v", code, out)
	}
	if code, out := act(lawyer, id2, "start", map[string]any{}); code != 200 {
		t.Fatalf("legal starts: %d %v", code, out)
	}
	if code, out := act(worker, id2, "resolve", map[string]any{"note": "已调解"}); code != 403 {
		t.Errorf("the grid worker resolves legal's case: %d %v, want 403", code, out)
	}
	if code, out := act(lawyer, id2, "resolve", map[string]any{"note": "已调解"}); code != 200 || out["state"] != "verifying" {
		t.Errorf("legal resolves: %d %v", code, out)
	}

	// To the grid worker by name (role:grid_worker): theirs, not the police's.
	id3 := newCase("井盖缺失")
	if code, out := act(centre, id3, "dispatch", map[string]any{"assignee": "role:grid_worker"}); code != 200 || out["assignee"] != a.Roles.GridWorker {
		t.Fatalf("dispatch to the cell's grid worker: %d %v", code, out)
	}
	if code, _ := act(police, id3, "accept", map[string]any{}); code != 403 {
		t.Errorf("police accepts the grid worker's case: %d", code)
	}
	if code, out := act(worker, id3, "accept", map[string]any{}); code != 200 {
		t.Errorf("the grid worker accepts their case: %d %v", code, out)
	}
}
