package gateway

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"sharpeyes/configs"
)

// TestCasePhotos: a grid worker attaches photos to a case of their cell;
// the photos come back as sent to those who may see the case and to no
// one else; a photo that is not one, a forged type or an oversized file
// refuses the whole request and leaves nothing behind.
func TestCasePhotos(t *testing.T) {
	g := startGateway(t)
	admin := apiClient{t, "http://" + g.HTTPAddr()}
	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
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
