package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func csvRows(n int, bad int) []byte {
	var b strings.Builder
	b.WriteString("id,name,main,sub,on_demand,lat,lon,tags\n")
	for i := 1; i <= n; i++ {
		main := fmt.Sprintf("rtsp://admin:pw@10.9.%d.%d:554/Streaming/Channels/101", i/250, i%250)
		if i == bad {
			main = "http://not-rtsp/" // the one bad row
		}
		fmt.Fprintf(&b, "CAM%05d,卡口%d,%s,,true,32.%04d,119.%04d,crossing;import\n", i, i, main, 4000+i%200, 4000+i%300)
	}
	return []byte(b.String())
}

func TestCameraImportIsAllOrNothingAndNamesTheRow(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}

	code, raw := api.do("POST", "/api/v1/cameras/import", "text/csv", csvRows(1000, 637), true)
	var rep struct {
		Error string `json:"error"`
		Rows  []struct {
			Row   int    `json:"row"`
			ID    string `json:"id"`
			Field string `json:"field"`
		} `json:"rows"`
	}
	_ = json.Unmarshal(raw, &rep)
	if code != 400 || len(rep.Rows) != 1 || rep.Rows[0].Row != 638 || rep.Rows[0].ID != "CAM00637" || rep.Rows[0].Field != "streams.main" {
		t.Fatalf("bad row not named: %d %s", code, raw)
	}
	if !strings.Contains(rep.Error, "nothing was changed") {
		t.Fatalf("error %q", rep.Error)
	}
	if n := len(g.Catalog().All()); n != 0 {
		t.Fatalf("a refused import left %d cameras", n)
	}
	if n := len(mustAll(t, g)); n != 0 {
		t.Fatalf("a refused import wrote %d cameras to etcd", n)
	}

	// The same file without the bad row: 1,000 cameras, in batches past etcd's per-transaction limit.
	code, raw = api.do("POST", "/api/v1/cameras/import", "text/csv", csvRows(1000, 0), true)
	if code != 200 || !strings.Contains(string(raw), `"created":1000`) {
		t.Fatalf("import: %d %s", code, raw)
	}
	if n := len(mustAll(t, g)); n != 1000 {
		t.Fatalf("etcd holds %d cameras, want 1000", n)
	}
	_, cam := api.json("GET", "/api/v1/cameras/CAM00001", nil)
	if cam["on_demand"] != true || !strings.Contains(fmt.Sprint(cam["streams"]), "admin:***@") || fmt.Sprint(cam["tags"]) != "[crossing import]" {
		t.Fatalf("imported camera: %v", cam)
	}

	// Importing again: create mode refuses existing ids by row; upsert replaces.
	code, raw = api.do("POST", "/api/v1/cameras/import", "application/json",
		[]byte(`[{"id":"CAM00001","name":"改名","streams":{"main":"rtsp://10.0.0.1/a"}},{"id":"NEW1","name":"新","streams":{"main":"rtsp://10.0.0.2/a"}}]`), true)
	if code != 400 || !strings.Contains(string(raw), `"row":1`) || !strings.Contains(string(raw), "already exists") {
		t.Fatalf("create over existing: %d %s", code, raw)
	}
	code, raw = api.do("POST", "/api/v1/cameras/import?mode=upsert", "application/json",
		[]byte(`[{"id":"CAM00001","name":"改名","streams":{"main":"rtsp://10.0.0.1/a"}},{"id":"NEW1","name":"新","streams":{"main":"rtsp://10.0.0.2/a"}}]`), true)
	if code != 200 || !strings.Contains(string(raw), `"created":1`) || !strings.Contains(string(raw), `"updated":1`) {
		t.Fatalf("upsert: %d %s", code, raw)
	}
	// Duplicates inside one file and unknown columns are named.
	code, raw = api.do("POST", "/api/v1/cameras/import", "text/csv", []byte("id,name,main\nX1,a,rtsp://h/a\nX1,b,rtsp://h/b\n"), true)
	if code != 400 || !strings.Contains(string(raw), "repeats row 2") {
		t.Fatalf("duplicate ids: %d %s", code, raw)
	}
	code, raw = api.do("POST", "/api/v1/cameras/import", "text/csv", []byte("id,name,url\nX1,a,rtsp://h/a\n"), true)
	if code != 400 || !strings.Contains(string(raw), `"field":"url"`) {
		t.Fatalf("unknown column: %d %s", code, raw)
	}
}

func mustAll(t *testing.T, g *Gateway) []string {
	cams, _, err := g.Store().AllCameras(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(cams))
	for i, c := range cams {
		ids[i] = c.ID
	}
	return ids
}
