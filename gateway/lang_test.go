package gateway

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestChromiumSaysWhatTheGatewayWroteInTheReadersLanguage: a case opened
// by policy for a tamper alarm reads, on the desk, entirely in the
// reader's language: its title, description, the audit note of its
// opening and its time left; the camera's name stays as written.
func TestChromiumSaysWhatTheGatewayWroteInTheReadersLanguage(t *testing.T) {
	script := e2eScript(t, "lang.mjs")
	g, admin := demoStreet(t)
	lat, lon := inside(t, g.Grids(), cellA)
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "dhq", "name": "大虹桥", "streams": map[string]string{"main": "rtsp://10.1.2.3/a"},
		"location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	body := fmt.Sprintf(`{"source":"isapi","source_event_id":"t1","camera_id":"dhq","kind":"tamper","phase":"start","time":%q}`, time.Now().UTC().Format(time.RFC3339))
	code, raw := admin.do("POST", "/api/v1/events", "application/json", []byte(body), true)
	var ev struct {
		Items []struct {
			CaseID string `json:"case_id"`
		} `json:"items"`
	}
	if json.Unmarshal(raw, &ev) != nil || code != 200 || len(ev.Items) != 1 || ev.Items[0].CaseID == "" {
		t.Fatalf("alarm: %d %s", code, raw)
	}
	pw := addUser(t, admin, "lang-centre", "dispatcher", []string{street}, "")
	var res map[string]struct{ Title, Description, Audit, Queue, Left string }
	runE2E(t, 90*time.Second, []string{"SE_USER=lang-centre", "SE_PASS=" + pw}, &res, nil, script, admin.base, ev.Items[0].CaseID)
	zh, en := res["zh"], res["en"]
	t.Logf("zh: %q / %q / %q / %q", zh.Title, zh.Description, zh.Left, zh.Audit)
	t.Logf("en: %q / %q / %q / %q", en.Title, en.Description, en.Left, en.Audit)
	if zh.Title != "视频遮挡：大虹桥" || !strings.Contains(zh.Audit, "按处置策略自动开单：视频遮挡") || !strings.Contains(zh.Description, "大虹桥") {
		t.Errorf("in Chinese: title %q, description %q, audit %q", zh.Title, zh.Description, zh.Audit)
	}
	if en.Title != "Tampering: 大虹桥" || !strings.Contains(en.Audit, "Opened by policy: Tampering") || !strings.HasPrefix(en.Description, "Alarm on camera") {
		t.Errorf("in English: title %q, description %q, audit %q", en.Title, en.Description, en.Audit)
	}
	latin := regexp.MustCompile(`[A-Za-z]{3,}`)
	ids := regexp.MustCompile(`I\d{8}-[0-9a-f]+`) // the incident's id is an id in every language
	if m := latin.FindString(ids.ReplaceAllString(zh.Title+zh.Description+zh.Left, "")); m != "" {
		t.Errorf("English %q on the Chinese desk: %q %q %q", m, zh.Title, zh.Description, zh.Left)
	}
	han := regexp.MustCompile(`\p{Han}`)
	for _, s := range []string{en.Left, strings.ReplaceAll(en.Title, "大虹桥", ""), strings.ReplaceAll(en.Description, "大虹桥", "")} {
		if han.MatchString(s) {
			t.Errorf("Chinese in %q on the English desk", s)
		}
	}
	if !strings.Contains(zh.Left, "剩余") || !(strings.Contains(zh.Left, "天") || strings.Contains(zh.Left, "小时")) || !strings.Contains(en.Left, "left") {
		t.Errorf("time left: zh %q, en %q", zh.Left, en.Left)
	}
}
