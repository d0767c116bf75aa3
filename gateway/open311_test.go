package gateway

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestOpen311GeoReportV2(t *testing.T) {
	g := startGateway(t)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	// The 12345 hotline gets its own token, with open311 alone.
	hotline := issueToken(t, api, "12345 hotline", "open311")
	base := "http://" + g.HTTPAddr() + "/open311/v2"
	get := func(path string) (int, []byte) {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		resp, err := http.Get(base + path + sep + "api_key=" + url.QueryEscape(hotline))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get("/services.json")
	var services []map[string]any
	if code != 200 || json.Unmarshal(body, &services) != nil || len(services) < 5 || services[0]["service_code"] == nil || services[0]["metadata"] != false {
		t.Fatalf("services.json: %d %s", code, body)
	}
	code, body = get("/services.xml")
	var sx struct {
		Services []struct {
			Code string `xml:"service_code"`
		} `xml:"service"`
	}
	if code != 200 || xml.Unmarshal(body, &sx) != nil || len(sx.Services) != len(services) {
		t.Fatalf("services.xml: %d %s", code, body)
	}
	file := func(form url.Values) (int, []byte) {
		resp, err := http.PostForm(base+"/requests.json", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body = file(url.Values{"api_key": {hotline}, "service_code": {"environment"}, "lat": {"32.4105"}, "long": {"119.4188"},
		"description": {"瘦西湖路东口路灯不亮"}, "phone": {"12345"}})
	var created []map[string]any
	if code != 200 || json.Unmarshal(body, &created) != nil || len(created) != 1 || created[0]["service_request_id"] == "" {
		t.Fatalf("POST requests.json: %d %s", code, body)
	}
	id := created[0]["service_request_id"].(string)
	code, body = get("/requests/" + id + ".json")
	var one []map[string]any
	if code != 200 || json.Unmarshal(body, &one) != nil || one[0]["status"] != "open" || one[0]["service_code"] != "environment" ||
		one[0]["expected_datetime"] == "" || !strings.Contains(one[0]["description"].(string), "路灯") {
		t.Fatalf("GET request: %d %s", code, body)
	}
	code, body = get("/requests.xml?status=open")
	if code != 200 || !strings.Contains(string(body), "<service_request_id>"+id+"</service_request_id>") {
		t.Fatalf("requests.xml: %d %s", code, body)
	}
	if code, _ = get("/requests.json?status=closed"); code != 200 {
		t.Fatalf("closed list: %d", code)
	}
	if code, body = file(url.Values{"api_key": {"wrong"}, "service_code": {"environment"}, "lat": {"32.41"}, "long": {"119.42"}}); code != 401 || !strings.Contains(string(body), "description") {
		t.Fatalf("wrong api_key: %d %s", code, body)
	}
	if code, body = file(url.Values{"api_key": {hotline}, "service_code": {"ufo"}, "lat": {"32.41"}, "long": {"119.42"}}); code != 400 || !strings.Contains(string(body), "description") {
		t.Fatalf("unknown service: %d %s", code, body)
	}
	if code, _ = file(url.Values{"api_key": {hotline}, "service_code": {"environment"}}); code != 400 {
		t.Fatalf("no location: %d", code)
	}
	if code, _ = get("/requests/nope.json"); code != 404 {
		t.Fatalf("unknown request: %d", code)
	}
	// The case is recorded under the hotline's token, not a name it gave.
	_, audit := api.json("GET", "/api/v1/cases/"+id+"/audit", nil)
	if rows, _ := audit["items"].([]any); len(rows) == 0 || !strings.Contains(rows[0].(map[string]any)["actor"].(string), "token") {
		t.Fatalf("audit of the hotline case: %v", audit)
	}
	// Without a key Open311 answers 401; the hotline's token reads no cameras and watches nothing.
	resp, err := http.Get(base + "/services.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("services.json without api_key: %d", resp.StatusCode)
	}
	for _, path := range []string{"/api/v1/cameras", "/api/v1/cases", "/api/v1/stream"} {
		req, _ := http.NewRequest("GET", api.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+hotline)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("hotline token on %s: %d, want 403", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", api.base+"/api/v1/whep/any", strings.NewReader("v=0"))
	req.Header.Set("Authorization", "Bearer "+hotline)
	req.Header.Set("Content-Type", "application/sdp")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("hotline token on WHEP: %v %v", resp, err)
	}
}
