package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/registry"
)

// rateCase is the street of TestOnlineRate: a1 and a2 in S-A, b1 in S-B,
// with a known history over the two days before today (street time):
//
//	day -2: a1 online from 12:00; a2 and b1 unknown
//	day -1: a1 online; a2 offline (timeout) 06:00–12:00; b1 online from 12:00
//	today:  all three online, as last recorded
//
// and, now, a2 offline (refused) for two hours and b1 offline (timeout)
// for one as the pulls tell it.
func rateStreet(t *testing.T) (*harness, time.Time) {
	h := newHarness(t)
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("a2", "S-A")
	h.camera("b1", "S-B")
	loc := h.srv.cfg.Location
	now := time.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	d2, d1 := today.AddDate(0, 0, -2), today.AddDate(0, 0, -1)
	for _, c := range []health.Change{
		{CameraID: "a1", At: d2.Add(12 * time.Hour), State: health.Online},
		{CameraID: "a2", At: d1, State: health.Online},
		{CameraID: "a2", At: d1.Add(6 * time.Hour), State: health.Offline, Reason: "timeout"},
		{CameraID: "a2", At: d1.Add(12 * time.Hour), State: health.Online},
		{CameraID: "b1", At: d1.Add(12 * time.Hour), State: health.Online},
	} {
		if ok, err := h.health.Record(context.Background(), c); err != nil || !ok {
			t.Fatalf("record %+v: %v %v", c, ok, err)
		}
	}
	h.pulls.set("a1", ingest.StateOnline)
	h.pulls.mu.Lock()
	h.pulls.status["a2"] = ingest.Status{State: ingest.StateOffline, Reason: ingest.ReasonRefused, Since: now.Add(-2 * time.Hour)}
	h.pulls.status["b1"] = ingest.Status{State: ingest.StateOffline, Reason: ingest.ReasonTimeout, Since: now.Add(-time.Hour)}
	h.pulls.mu.Unlock()
	return h, today
}

type rateAnswer struct {
	Cameras int
	Today   shareJSON
	Period  shareJSON
	Days    []struct {
		Date string
		shareJSON
	}
	Cells []struct {
		Code    string
		Name    string
		Cameras int
		Offline int
		Period  shareJSON
	}
	Offline []struct {
		ID, Grid, Reason string
		Since            time.Time
	}
	ByCamera []struct {
		ID     string
		State  string
		Period shareJSON
	} `json:"by_camera"`
}

type shareJSON struct {
	Rate     *float64
	OnlineS  int64 `json:"online_s"`
	OfflineS int64 `json:"offline_s"`
	UnknownS int64 `json:"unknown_s"`
}

func TestOnlineRate(t *testing.T) {
	h, today := rateStreet(t)
	var r rateAnswer
	h.must(http.StatusOK, "GET", "/api/v1/health/online-rate?days=3&include=cameras", adminToken, nil).json(t, &r)
	if r.Cameras != 3 || len(r.Days) != 3 {
		t.Fatalf("cameras %d, days %d: %+v", r.Cameras, len(r.Days), r)
	}
	const hour = 3600
	d2, d1 := r.Days[0], r.Days[1]
	if d2.Date != today.AddDate(0, 0, -2).Format("2006-01-02") || r.Days[2].Date != today.Format("2006-01-02") {
		t.Errorf("days %s … %s, want from two days ago to today", d2.Date, r.Days[2].Date)
	}
	// Day -2: a1's 12 h online; the rest of the 72 camera-hours unknown.
	if d2.Rate == nil || *d2.Rate != 1 || d2.OnlineS != 12*hour || d2.OfflineS != 0 || d2.UnknownS != 60*hour {
		t.Errorf("day -2: %+v (rate %v)", d2.shareJSON, deref(d2.Rate))
	}
	// Day -1: 24 + 18 + 12 h online, 6 h offline, 12 h unknown: 54/60.
	if d1.Rate == nil || *d1.Rate != 0.9 || d1.OnlineS != 54*hour || d1.OfflineS != 6*hour || d1.UnknownS != 12*hour {
		t.Errorf("day -1: %+v (rate %v)", d1.shareJSON, deref(d1.Rate))
	}
	if r.Today.OfflineS != 0 || r.Today.UnknownS != 0 {
		t.Errorf("today (all online as recorded): %+v", r.Today)
	}
	if r.Period.OnlineS != 66*hour+r.Today.OnlineS || r.Period.OfflineS != 6*hour {
		t.Errorf("the period: %+v", r.Period)
	}
	// Offline now, longest first, with the pulls' reasons.
	if len(r.Offline) != 2 || r.Offline[0].ID != "a2" || r.Offline[0].Reason != "refused" || r.Offline[0].Grid != "S-A" ||
		r.Offline[1].ID != "b1" || r.Offline[1].Reason != "timeout" {
		t.Errorf("offline: %+v", r.Offline)
	}
	// Without ?grid= the cells are the roots: the street.
	if len(r.Cells) != 1 || r.Cells[0].Code != "S" || r.Cells[0].Name != "街道" || r.Cells[0].Cameras != 3 || r.Cells[0].Offline != 2 {
		t.Errorf("cells: %+v", r.Cells)
	}
	for _, c := range r.ByCamera {
		if c.ID == "a2" && (c.State != "offline" || c.Period.OfflineS != 6*hour) {
			t.Errorf("a2: %+v", c)
		}
	}
	if len(r.ByCamera) != 3 {
		t.Errorf("by camera: %+v", r.ByCamera)
	}

	// One level down: the two communities.
	h.must(http.StatusOK, "GET", "/api/v1/health/online-rate?days=3&grid=S", adminToken, nil).json(t, &r)
	if len(r.Cells) != 2 || r.Cells[0].Code != "S-A" || r.Cells[0].Cameras != 2 || r.Cells[0].Offline != 1 ||
		r.Cells[1].Code != "S-B" || r.Cells[1].Cameras != 1 || r.Cells[1].Offline != 1 {
		t.Fatalf("cells of S: %+v", r.Cells)
	}
	if a := r.Cells[0].Period; a.OfflineS != 6*hour || a.OnlineS < 54*hour {
		t.Errorf("S-A's period: %+v", a)
	}

	// A community's token sees its own cameras only; the other is hidden.
	west := h.token([]string{"cameras:read"}, "S-B")
	var w rateAnswer
	h.must(http.StatusOK, "GET", "/api/v1/health/online-rate?days=3", west, nil).json(t, &w)
	if w.Cameras != 1 || len(w.Offline) != 1 || w.Offline[0].ID != "b1" || w.Days[1].OnlineS != 12*hour || w.Days[1].OfflineS != 0 {
		t.Errorf("S-B's rate: %+v", w)
	}
	h.must(http.StatusNotFound, "GET", "/api/v1/health/online-rate?grid=S-A", west, nil)
	for _, bad := range []string{"days=0", "days=93", "days=x"} {
		h.must(http.StatusBadRequest, "GET", "/api/v1/health/online-rate?"+bad, adminToken, nil)
	}
	h.must(http.StatusUnauthorized, "GET", "/api/v1/health/online-rate", "", nil)
}

// TestReviewsRankByOnlineRate: the day's review gives each cell with
// cameras its online rate (also with no case), ranks by it when asked,
// and puts it in the CSV.
func TestReviewsRankByOnlineRate(t *testing.T) {
	h, today := rateStreet(t)
	day := today.AddDate(0, 0, -1).Format("2006-01-02")
	var rep struct {
		Items []struct {
			Rank       int
			Grid       string
			Received   int
			Cameras    int
			OnlineRate *float64 `json:"online_rate"`
		}
	}
	h.must(http.StatusOK, "GET", "/api/v1/reports?period=day&date="+day, adminToken, nil).json(t, &rep)
	rates := map[string]float64{}
	for _, it := range rep.Items {
		if it.OnlineRate != nil {
			rates[it.Grid] = *it.OnlineRate
		}
	}
	if len(rep.Items) != 2 || rates["S-A"] != 0.875 || rates["S-B"] != 1 {
		t.Fatalf("review of %s: %+v (rates %v; S-A is 42 of 48 camera-hours, S-B 12 of 12 known)", day, rep.Items, rates)
	}
	h.must(http.StatusOK, "GET", "/api/v1/reports?period=day&rank_by=online_rate&date="+day, adminToken, nil).json(t, &rep)
	if rep.Items[0].Grid != "S-B" || rep.Items[0].Rank != 1 || rep.Items[1].Grid != "S-A" || rep.Items[1].Rank != 2 || rep.Items[0].Cameras != 1 {
		t.Errorf("ranked by online rate: %+v", rep.Items)
	}
	h.must(http.StatusBadRequest, "GET", "/api/v1/reports?rank_by=mood", adminToken, nil)
	c := h.must(http.StatusOK, "GET", "/api/v1/reports?period=day&rank_by=online_rate&format=csv&date="+day, adminToken, nil)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(c.body), "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV: %v %q", err, c.body)
	}
	if head := rows[0]; head[len(head)-2] != "cameras" || head[len(head)-1] != "online_rate" {
		t.Errorf("CSV header %v", head)
	}
	if r := rows[2]; r[1] != "S-A" || r[len(r)-2] != "2" || r[len(r)-1] != "87.5%" {
		t.Errorf("CSV row %v", r)
	}
}

// TestDashboardAndMetricsTellHealth: the dashboard's camera block and the
// Prometheus gauges, within each token's jurisdiction.
func TestDashboardAndMetricsTellHealth(t *testing.T) {
	h, _ := rateStreet(t)
	var dash struct {
		Cameras struct {
			Cameras, Online, Offline, Unknown int
			Period                            shareJSON
		}
	}
	h.must(http.StatusOK, "GET", "/api/v1/dashboard", adminToken, nil).json(t, &dash)
	if d := dash.Cameras; d.Cameras != 3 || d.Online != 3 || d.Period.OfflineS != 6*3600 || d.Period.Rate == nil {
		t.Errorf("dashboard cameras: %+v", d)
	}

	all := string(h.must(http.StatusOK, "GET", "/metrics", adminToken, nil).body)
	for _, want := range []string{
		`sharpeyes_camera_up{camera="a1",stream="main"} 1`,
		`sharpeyes_camera_up{camera="a2",stream="main"} 0`, // nobody pulls it; it is known to be down
		`sharpeyes_grid_cameras{grid="S",state="online"} 3`,
		`sharpeyes_grid_cameras{grid="S-A",state="online"} 2`,
		`sharpeyes_grid_online_rate_error 0`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("street metrics lack %s", want)
		}
	}
	east := h.token([]string{"metrics"}, "S-A")
	part := string(h.must(http.StatusOK, "GET", "/metrics", east, nil).body)
	if !strings.Contains(part, `sharpeyes_grid_cameras{grid="S-A",state="online"} 2`) ||
		!strings.Contains(part, `sharpeyes_grid_cameras{grid="S",state="online"} 2`) ||
		strings.Contains(part, `grid="S-B"`) || strings.Contains(part, `camera="b1"`) {
		t.Errorf("S-A's metrics:\n%s", grepText(part, "grid"))
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func grepText(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOnlineRateOfAnotherNodesCameras: cameras another node pulls are
// listed offline from the health history (every node writes it), not from
// an etcd read per camera.
func TestOnlineRateOfAnotherNodesCameras(t *testing.T) {
	h := newHarness(t, func(hh *harness, _ *Config, d *Deps) {
		d.Cluster = cluster2{registry.Node{ID: "node-a"}, registry.Node{ID: "node-b"}}
	})
	h.streetGrids()
	h.camera("a1", "S-A")
	h.camera("a2", "S-A")
	down := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	for _, c := range []health.Change{{CameraID: "a1", At: down, State: health.Offline, Reason: "refused"},
		{CameraID: "a2", At: down, State: health.Online}} {
		if _, err := h.health.Record(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	var r rateAnswer
	h.must(http.StatusOK, "GET", "/api/v1/health/online-rate?days=1", adminToken, nil).json(t, &r)
	if len(r.Offline) != 1 || r.Offline[0].ID != "a1" || r.Offline[0].Reason != "refused" || !r.Offline[0].Since.Equal(down) {
		t.Fatalf("offline on node-b: %+v", r.Offline)
	}
}
