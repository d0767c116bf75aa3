package api

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"

	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/health"
)

// TestOpenAPICoversEveryRoute fails when a route registered under /api/v1
// is missing from openapi.yaml, or the document names a route that is gone.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	s := New(Config{}, Deps{Cases: &cases.Store{}, Events: &events.Store{}, Intake: &cases.Pipeline{}, Layouts: noLayouts{}, Recordings: noRecordings{}, GB: noGB{}, Cascade: noCascade{}, Health: &health.Store{}}) // every optional route on
	engine := s.Handler().(*gin.Engine)
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		path, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok {
			continue
		}
		path = param.ReplaceAllString(path, "{$1}")
		method := strings.ToLower(r.Method)
		registered[method+" "+path] = true
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("route %s %s is not in openapi.yaml", r.Method, path)
		}
	}
	// Each operation documents who may call it, as the router enforces.
	for _, pol := range s.Policies() {
		path, ok := strings.CutPrefix(pol.Path, "/api/v1")
		if !ok {
			continue
		}
		path = param.ReplaceAllString(path, "{$1}")
		op, _ := doc.Paths[path][strings.ToLower(pol.Method)].(map[string]any)
		var want []string
		for _, sc := range pol.Scopes {
			want = append(want, string(sc))
		}
		if got := fmt.Sprint(op["x-scopes"]); got != fmt.Sprint(want) {
			t.Errorf("%s %s: openapi.yaml x-scopes %s, router needs %s", pol.Method, path, got, want)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !registered[method+" "+path] {
				t.Errorf("openapi.yaml documents %s %s, which is not a route", strings.ToUpper(method), path)
			}
		}
	}
}

type noLayouts struct{ LayoutStore }

type noRecordings struct{ Recordings }

type noGB struct{ GB }

type noCascade struct{ Cascade }
