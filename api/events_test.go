package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends one event for camera of kind; it answers the event's result.
func (h *harness) event(token, camera, kind, sourceID string) eventResult {
	h.t.Helper()
	var out struct {
		Items []eventResult `json:"items"`
	}
	h.must(http.StatusOK, "POST", "/api/v1/events", token, map[string]any{"source": "ai", "source_event_id": sourceID,
		"camera_id": camera, "kind": kind, "time": time.Now().UTC().Format(time.RFC3339)}).json(h.t, &out)
	if len(out.Items) != 1 {
		h.t.Fatalf("event answer %+v", out)
	}
	return out.Items[0]
}

func TestEventsOpenIncidentsAndCases(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")

	r := h.event(adminToken, "a1", "fire_smoke", "e-1")
	if r.IncidentID == "" || r.CaseID == "" || r.Duplicate {
		t.Fatalf("fire: %+v", r)
	}
	// The same event again is a duplicate, nothing new.
	if again := h.event(adminToken, "a1", "fire_smoke", "e-1"); !again.Duplicate || again.IncidentID != r.IncidentID {
		t.Fatalf("repeat: %+v", again)
	}
	// Motion opens no case.
	if m := h.event(adminToken, "b1", "motion", "e-2"); m.CaseID != "" {
		t.Fatalf("motion opened case %s", m.CaseID)
	}

	// A batch with one bad event records none, and says which and why.
	now := time.Now().UTC().Format(time.RFC3339)
	c := h.must(http.StatusBadRequest, "POST", "/api/v1/events", adminToken, []map[string]any{
		{"source": "ai", "source_event_id": "e-3", "camera_id": "a1", "kind": "crowd", "time": now},
		{"source": "ai", "source_event_id": "e-4", "camera_id": "nope", "kind": "crowd", "time": now},
		{"source": "gateway", "source_event_id": "e-5", "camera_id": "a1", "kind": "offline", "time": now},
		{"source": "ai", "source_event_id": "e-3", "camera_id": "a1", "kind": "crowd", "time": now},
		{"source": "ai", "bogus": 1},
	})
	var refused struct {
		Items []eventError `json:"items"`
	}
	c.json(t, &refused)
	fields := []string{}
	for _, e := range refused.Items {
		fields = append(fields, fmt.Sprintf("%d:%s", e.Index, e.Field))
	}
	if got := strings.Join(fields, " "); got != "4:bogus 1:camera_id 2:source 3:source_event_id" {
		t.Fatalf("refused %s (%s)", got, c.body)
	}
	for _, bad := range []string{`[]`, `{"source":`, `"x"`} {
		h.must(http.StatusBadRequest, "POST", "/api/v1/events", adminToken, bad)
	}

	// Events, incidents and cases are listed to those whose cells they
	// lie in; a S-B token sees the motion, not the fire.
	west := h.token([]string{"events:read", "cases:read"}, "S-B")
	var evs struct {
		Items []struct {
			CameraID string `json:"camera_id"`
			Kind     string `json:"kind"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/events", west, nil).json(t, &evs)
	if len(evs.Items) != 1 || evs.Items[0].Kind != "motion" {
		t.Fatalf("west events %+v", evs)
	}
	h.must(http.StatusOK, "GET", "/api/v1/events?camera_id=a1&kind=fire_smoke", adminToken, nil).json(t, &evs)
	if len(evs.Items) != 1 {
		t.Fatalf("admin fire events %+v", evs)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/incidents/"+r.IncidentID, west, nil)
	h.must(http.StatusNotFound, "GET", "/api/v1/cases/"+r.CaseID, west, nil)
	var inc struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		CaseID string `json:"case_id"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/incidents/"+r.IncidentID, adminToken, nil).json(t, &inc)
	if inc.Kind != "fire_smoke" || inc.CaseID != r.CaseID {
		t.Fatalf("incident %+v", inc)
	}
	var incs struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/incidents?grid=S-A&open=true", adminToken, nil).json(t, &incs)
	if len(incs.Items) != 1 || incs.Items[0].ID != r.IncidentID {
		t.Fatalf("incidents of S-A %+v", incs)
	}
	h.must(http.StatusOK, "GET", "/api/v1/incidents", west, nil).json(t, &incs)
	if len(incs.Items) != 1 || incs.Items[0].ID == r.IncidentID {
		t.Fatalf("west incidents %+v", incs)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/incidents/nope", adminToken, nil)
	h.must(http.StatusBadRequest, "GET", "/api/v1/events?limit=0", adminToken, nil)
}

func TestCaseThroughTheFiveHandlings(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.user("centre", "dispatcher", "S")
	h.must(http.StatusCreated, "POST", "/api/v1/users", adminToken, map[string]any{"username": "police1", "password": "Pass-word-12345",
		"role": "department", "department": "police", "grids": []string{}})
	r := h.event(adminToken, "a1", "crowd", "e-1")

	centre := h.login("centre", "Pass-word-12345")
	police := h.login("police1", "Pass-word-12345")
	act := func(s *session, action string, body any, want int) caseView {
		t.Helper()
		b, _ := json.Marshal(body)
		c := s.call("POST", "/api/v1/cases/"+r.CaseID+"/"+action, string(b))
		if c.status != want {
			t.Fatalf("%s: %d, want %d: %s", action, c.status, want, c.body)
		}
		var v caseView
		if want == http.StatusOK {
			c.json(t, &v)
		}
		return v
	}
	var cv caseView
	centre.call("GET", "/api/v1/cases/"+r.CaseID, "").json(t, &cv)
	if cv.State != "received" || !contains(cv.Actions, "register") || cv.Deadline == nil {
		t.Fatalf("new case %+v", cv)
	}
	// Police may not register what the centre registers.
	act(police, "register", nil, http.StatusNotFound) // not yet theirs: outside what they see
	act(centre, "register", nil, http.StatusOK)
	act(centre, "dispatch", map[string]any{"assignee": "nobody-here"}, http.StatusBadRequest)
	act(centre, "dispatch", map[string]any{"assignee": "role:police"}, http.StatusBadRequest) // the cell names no police
	if v := act(centre, "dispatch", map[string]any{"assignee": "police"}, http.StatusOK); v.Assignee != "police" {
		t.Fatalf("dispatched to %q", v.Assignee)
	}
	act(centre, "accept", nil, http.StatusForbidden)
	// The police hear of it; the centre (who dispatched it) does not.
	notes := func(s *session) string {
		var feed struct {
			Items []Notification `json:"items"`
		}
		s.call("GET", "/api/v1/notifications", "").json(t, &feed)
		var out []string
		for _, n := range feed.Items {
			if n.CaseID == r.CaseID {
				out = append(out, n.Kind)
			}
		}
		return strings.Join(out, ",")
	}
	if got := notes(police); got != "assignment" {
		t.Fatalf("police notifications %q", got)
	}
	act(police, "accept", nil, http.StatusOK)
	act(police, "start", nil, http.StatusOK)
	act(police, "resolve", map[string]any{"note": "已疏散"}, http.StatusOK)
	if got := notes(centre); got != "verification" {
		t.Fatalf("centre notifications %q", got)
	}
	act(centre, "verify", map[string]any{"pass": true}, http.StatusOK)
	if v := act(centre, "evaluate", map[string]any{"rating": 5}, http.StatusOK); v.State != "evaluated" {
		t.Fatalf("evaluated: %+v", v)
	}
	act(centre, "fly", nil, http.StatusConflict)
	act(centre, "reopen", `{"note":`, http.StatusBadRequest)

	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	centre.call("GET", "/api/v1/cases/"+r.CaseID+"/audit", "").json(t, &audit)
	var acts []string
	for _, a := range audit.Items {
		acts = append(acts, a.Action)
	}
	for _, want := range []string{"register", "dispatch", "accept", "start", "resolve", "verify", "evaluate"} {
		if !contains(acts, want) {
			t.Fatalf("audit %v lacks %s", acts, want)
		}
	}
	// Lists filter by state and paginate.
	var list struct {
		Items []caseView `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/cases?state=evaluated", adminToken, nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("evaluated cases %d", len(list.Items))
	}
	h.must(http.StatusOK, "GET", "/api/v1/cases?open=true", adminToken, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("open cases %d", len(list.Items))
	}
	for _, bad := range []string{"?escalation=9", "?from=yesterday", "?limit=-1", "?grid=NOPE"} {
		if c := h.do("GET", "/api/v1/cases"+bad, adminToken, nil); c.status != http.StatusBadRequest && c.status != http.StatusNotFound {
			t.Errorf("cases%s: %d", bad, c.status)
		}
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/cases/nope", adminToken, nil)
}

func TestManualCases(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.user("wang", "grid_worker", "S-A")
	wang := h.login("wang", "Pass-word-12345")
	// 即办: handled on the spot, straight to verifying.
	c := wang.call("POST", "/api/v1/cases", `{"source":"grid-report","category":"environment","title":"垃圾堆放","lat":30.005,"lon":120.005,"handling":"immediate","resolution":"已清理"}`)
	if c.status != http.StatusCreated {
		t.Fatalf("即办: %d %s", c.status, c.body)
	}
	var cv caseView
	c.json(t, &cv)
	if cv.State != "verifying" || cv.Grid != "S-A" {
		t.Fatalf("即办 case %+v", cv)
	}
	for body, want := range map[string]int{
		`{"source":"tv","title":"x"}`:                                                                  http.StatusBadRequest,
		`{"source":"grid-report","title":"x","grid":"S-B"}`:                                            http.StatusForbidden,
		`{"source":"grid-report","title":"x"}`:                                                         http.StatusBadRequest,
		`{"source":"grid-report","title":"x","grid":"S-A","handling":"later"}`:                         http.StatusBadRequest,
		`{"source":"grid-report","title":"x","grid":"S-A","handling":"immediate"}`:                     http.StatusBadRequest,
		`{"source":"hotline","title":"x","grid":"S-A","handling":"immediate"}`:                         http.StatusForbidden,
		`{"source":"grid-report","title":"x","grid":"S-A","camera_id":"nope"}`:                         http.StatusBadRequest,
		`{"source":"hotline","title":"噪音扰民","category":"noise","grid":"S-A","reporter":"138****0000"}`: http.StatusCreated,
	} {
		if c := wang.call("POST", "/api/v1/cases", body); c.status != want {
			t.Errorf("%s: %d, want %d: %s", body, c.status, want, c.body)
		}
	}
}

func TestEventStreamFollowsJurisdiction(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	east := h.token([]string{"events:read", "cases:read"}, "S-A")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.http.URL+"/api/v1/stream?topics=incident", nil)
	req.Header.Set("Authorization", "Bearer "+east)
	req.Header.Set("Last-Event-ID", "0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	west := h.event(adminToken, "b1", "crowd", "w-1")
	eastEv := h.event(adminToken, "a1", "crowd", "e-1")
	sc := bufio.NewScanner(res.Body)
	var topics []string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			topics = append(topics, strings.TrimPrefix(line, "event: "))
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, west.IncidentID) {
			t.Fatalf("the S-A stream carried the S-B incident: %s", line)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, eastEv.IncidentID) {
			break
		}
	}
	for _, tp := range topics {
		if !strings.HasPrefix(tp, "incident.") && tp != "notify" {
			t.Fatalf("topic %s passed the incident filter", tp)
		}
	}
	if len(topics) == 0 {
		t.Fatalf("no events before the end: %v", sc.Err())
	}

	h.must(http.StatusBadRequest, "GET", "/api/v1/notifications?after=x", east, nil)
}

func TestDashboardAndReports(t *testing.T) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("b1", "S-B")
	h.event(adminToken, "a1", "crowd", "e-1")
	h.event(adminToken, "b1", "fire_smoke", "e-2")
	h.event(adminToken, "b1", "tamper", "e-3")

	var dash map[string]any
	h.must(http.StatusOK, "GET", "/api/v1/dashboard", adminToken, nil).json(t, &dash)
	if len(dash) == 0 {
		t.Fatal("empty dashboard")
	}
	west := h.token([]string{"cases:read"}, "S-B")
	var rep struct {
		Items []struct {
			Grid   string `json:"grid"`
			Opened int    `json:"received"`
		} `json:"items"`
	}
	h.must(http.StatusOK, "GET", "/api/v1/reports?period=day", west, nil).json(t, &rep)
	total := 0
	for _, it := range rep.Items {
		if it.Grid == "S-A" {
			t.Fatalf("a S-B token's report has S-A: %+v", rep)
		}
		total += it.Opened
	}
	if total != 2 {
		t.Fatalf("S-B opened %d cases, want 2: %+v", total, rep)
	}
	c := h.must(http.StatusOK, "GET", "/api/v1/reports?period=week&format=csv", adminToken, nil)
	if !strings.HasPrefix(c.header.Get("Content-Type"), "text/csv") || !strings.Contains(c.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv report headers %v", c.header)
	}
	for _, bad := range []string{"?period=century", "?date=someday"} {
		h.must(http.StatusBadRequest, "GET", "/api/v1/reports"+bad, adminToken, nil)
	}
}
