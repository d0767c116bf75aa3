package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestEveryAnswerCarriesTheSecurityHeaders: pages, scripts, API answers
// and errors all carry a Content-Security-Policy without inline script
// (framing refused, reports to the gateway), nosniff and X-Frame-Options;
// a browser's violation report is counted in /metrics.
func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	g := startGateway(t, "SHARPEYES_WEB_MAP_TILES=https://{s}.tiles.example.org/{z}/{x}/{y}.png")
	base := "http://" + g.HTTPAddr()
	for _, path := range []string{"/", "/m/", "/assets/js/main.js", "/api/v1/me", "/api/v1/cameras/nope", "/healthz", "/nowhere"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
			"base-uri 'none'", "report-uri /api/v1/csp-reports", "img-src 'self' data: blob: https://*.tiles.example.org"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s (%d): CSP %q lacks %q", path, resp.StatusCode, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline script or eval: %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Content-Type-Options %q, X-Frame-Options %q", path, resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("X-Frame-Options"))
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	report := `{"csp-report":{"document-uri":"http://x/","violated-directive":"script-src-elem","blocked-uri":"inline","script-sample":"alert(1)"}}`
	resp, err := http.Post(base+"/api/v1/csp-reports", "application/csp-report", strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("violation report: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+"/api/v1/csp-reports", "application/csp-report", strings.NewReader(`not json`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("junk report: %d", resp.StatusCode)
	}
	api := apiClient{t, base}
	if _, m := api.do("GET", "/metrics", "", nil, true); !strings.Contains(string(m), "sharpeyes_csp_violations_total 1") {
		t.Errorf("the report is not counted:\n%s", m)
	}
}
