package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/grid"
)

func TestShippedDefaultsLoadAndDocumentEveryKey(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":8080" || c.RTSP.Addr != ":8554" || c.WebRTC.UDPAddr != ":8189" || c.WebRTC.TCPAddr != ":8189" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Ingest.Timeout.D() != 5*time.Second || c.Registry.Prefix != "/sharpeyes/" {
		t.Fatalf("defaults: timeout %v prefix %q", c.Ingest.Timeout.D(), c.Registry.Prefix)
	}
	// Every key appears in the documented file.
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(Default), leaf+":") {
			t.Errorf("key %s is not documented in sharpeyes.yaml", k)
		}
	}
}

func TestFileThenEnvironmentOverride(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("http:\n  addr: 127.0.0.1:7000\nregistry:\n  endpoints: [http://10.0.0.1:2379]\n"), 0o600)
	c, err := Load(f, []string{
		"SHARPEYES_HTTP_ADDR=127.0.0.1:9080",
		"SHARPEYES_REGISTRY_ENDPOINTS=http://127.0.0.1:2379,http://127.0.0.1:22379",
		"SHARPEYES_INGEST_TIMEOUT=2s",
		`SHARPEYES_WEBRTC_ICE_SERVERS=[{"urls":["stun:127.0.0.1:3478"]}]`,
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9080" {
		t.Errorf("http.addr = %q, want the environment's", c.HTTP.Addr)
	}
	if len(c.Registry.Endpoints) != 2 || c.Registry.Endpoints[1] != "http://127.0.0.1:22379" {
		t.Errorf("endpoints = %v", c.Registry.Endpoints)
	}
	if c.Ingest.Timeout.D() != 2*time.Second || len(c.WebRTC.ICEServers) != 1 {
		t.Errorf("timeout %v ice %v", c.Ingest.Timeout.D(), c.WebRTC.ICEServers)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		file, env, want string
	}{
		{"http:\n  adr: x\n", "", "adr"},
		{"ingest:\n  timeout: soon\n", "", "duration"},
		{"", "SHARPEYES_INGEST_TIMEOUT=0s", "'ingest.timeout' must be greater than zero"},
		{"", "SHARPEYES_HTTP_ADDR=nonsense", "'http.addr' must be host:port"},
		{"", "SHARPEYES_HTTP_ADRESS=x", "SHARPEYES_HTTP_ADRESS does not name a config key"},
		{"", "SHARPEYES_RELAY_RING_SIZE=1000", "'relay.ring_size' must be a power of two"},
		{"", "SHARPEYES_AUTH_ADMIN_TOKEN=short", "'auth.admin_token' must be at least 16"},
		{"", "SHARPEYES_WEBRTC_PUBLIC_IPS=example.com", "'webrtc.public_ips' must list IP addresses"},
		{"", "SHARPEYES_REGISTRY_PREFIX=sharpeyes", "'registry.prefix' must start and end with '/'"},
		{"", "SHARPEYES_WEBRTC_MAX_SESSIONS=many", "SHARPEYES_WEBRTC_MAX_SESSIONS ('webrtc.max_sessions')"},
		{"gb28181:\n  enabled: true\n  password: 12345678\n  server_id: '3210030000200000000x'\n", "", "'gb28181.server_id' must be 20 digits"},
		{"gb28181:\n  enabled: true\n  password: 12345678\n  domain: '3402000000'\n", "", "'gb28181.domain' must be the first 10 digits"},
		{"gb28181:\n  enabled: true\n", "", "'gb28181.password' must be at least 8"},
		{"gb28181:\n  enabled: true\n  password: 12345678\n  media_ip: here\n", "", "'gb28181.media_ip' must be an IP"},
	}
	for i, tc := range cases {
		file := ""
		if tc.file != "" {
			file = filepath.Join(dir, "c.yaml")
			os.WriteFile(file, []byte(tc.file), 0o600)
		}
		var env []string
		if tc.env != "" {
			env = []string{tc.env}
		}
		_, err := Load(file, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: err = %v, want it to mention %q", i, err, tc.want)
		}
	}
}

func TestCasePolicyOverrides(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("cases:\n  policy:\n    loiter: {opens_case: true, category: public_security, priority: 3, limit_days: 2}\n"), 0o600)
	c, err := Load(f, nil)
	if err != nil || !c.Cases.Policy["loiter"].OpensCase || c.Cases.Policy["loiter"].LimitDays != 2 {
		t.Fatalf("policy: %+v %v", c.Cases.Policy, err)
	}
	os.WriteFile(f, []byte("cases:\n  policy:\n    ufo: {opens_case: false}\n    loiter: {opens_case: true}\n"), 0o600)
	_, err = Load(f, nil)
	if err == nil || !strings.Contains(err.Error(), "'cases.policy.ufo' names no event kind") || !strings.Contains(err.Error(), "'cases.policy.loiter' opens a case") {
		t.Fatalf("bad policy: %v", err)
	}
}

// TestValidationErrorsComeInOneOrder: several bad values give the same
// message every time, ordered by key (checks that walk maps used to list
// them in a different order from run to run).
func TestValidationErrorsComeInOneOrder(t *testing.T) {
	env := []string{"SHARPEYES_HTTP_ADDR=x", "SHARPEYES_RTSP_ADDR=y", "SHARPEYES_WEBRTC_UDP_ADDR=z", "SHARPEYES_INGEST_TIMEOUT=0s",
		"SHARPEYES_INGEST_IDLE_TIMEOUT=0s", "SHARPEYES_REGISTRY_LEASE_TTL=0s", "SHARPEYES_HTTP_READ_TIMEOUT=0s", "SHARPEYES_HTTP_WRITE_TIMEOUT=0s",
		"SHARPEYES_AUTH_TOKEN_MAX_TTL=1m", "SHARPEYES_HTTP_TRUSTED_PROXIES=proxy.example", "SHARPEYES_HTTP_TLS_CERT_FILE=/nonexistent/cert.pem"}
	_, first := Load("", env)
	if first == nil {
		t.Fatal("bad values accepted")
	}
	for i := 0; i < 20; i++ {
		if _, err := Load("", env); err == nil || err.Error() != first.Error() {
			t.Fatalf("run %d said:\n%v\nthe first said:\n%v", i, err, first)
		}
	}
	lines := strings.Split(first.Error(), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Errorf("not in key order: %q before %q", lines[i-1], lines[i])
		}
	}
	for _, key := range []string{"auth.token_max_ttl", "http.trusted_proxies", "http.tls_cert_file", "http.addr", "ingest.timeout"} {
		if !strings.Contains(first.Error(), "'"+key+"'") {
			t.Errorf("no error names %s:\n%v", key, first)
		}
	}
}

// TestPolicyRolesAreTheCellRoles: a policy dispatches to the roles a grid
// cell has, no more and no fewer.
func TestPolicyRolesAreTheCellRoles(t *testing.T) {
	names := grid.RoleNames()
	if len(names) != len(cellRoles) {
		t.Fatalf("configs knows %d cell roles, grid %d (%v)", len(cellRoles), len(names), names)
	}
	for _, r := range names {
		if !cellRoles[r] {
			t.Errorf("configs does not know the cell role %s", r)
		}
	}
	for _, env := range [][]string{{"SHARPEYES_HEALTH_FAULT_AFTER=-1s"}, {"SHARPEYES_HEALTH_BACK_AFTER=0s"}, {"SHARPEYES_EVENTS_MERGE_WINDOW=0s"}} {
		if _, err := Load("", env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}
