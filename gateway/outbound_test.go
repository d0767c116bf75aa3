package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sharpeyes/outbound"
)

func TestStreamAndWebhookCarryIncidentsAndCases(t *testing.T) {
	var mu sync.Mutex
	var hooks []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Sharpeyes-Signature") != outbound.Sign("webhook-secret-0123456789", body) {
			t.Errorf("bad signature")
		}
		mu.Lock()
		hooks = append(hooks, r.Header.Get("X-Sharpeyes-Event"))
		mu.Unlock()
	}))
	defer recv.Close()
	g := startGateway(t, "SHARPEYES_CASES_WEBHOOK_URL="+recv.URL, "SHARPEYES_CASES_WEBHOOK_SECRET=webhook-secret-0123456789")
	api := apiClient{t, "http://" + g.HTTPAddr()}
	api.json("POST", "/api/v1/cameras", map[string]any{"id": "cam1", "name": "c", "streams": map[string]string{"main": "rtsp://10.1.2.3/a"}})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(lastID string, want int) []string {
		req, _ := http.NewRequestWithContext(ctx, "GET", api.base+"/api/v1/stream", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := authed.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		var got []string
		sc := bufio.NewScanner(resp.Body)
		id := ""
		for sc.Scan() && len(got) < want {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				got = append(got, id+" "+v)
			}
		}
		return got
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		api.do("POST", "/api/v1/events", "application/json", []byte(`{"source":"isapi","source_event_id":"s1","camera_id":"cam1","kind":"tamper","phase":"start","time":"`+
			time.Now().UTC().Format(time.RFC3339)+`"}`), true)
	}()
	got := read("", 2)
	if len(got) != 2 || !strings.HasSuffix(got[0], "incident.opened") || !strings.HasSuffix(got[1], "case.create") {
		t.Fatalf("stream: %v", got)
	}
	// Resume after the first: the second comes again, nothing before it.
	firstID := strings.Fields(got[0])[0]
	again := read(firstID, 1)
	if len(again) != 1 || again[0] != got[1] {
		t.Fatalf("resumed stream: %v, want %s", again, got[1])
	}
	eventually(t, 15*time.Second, "webhook deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if hooks[0] != "incident.opened" || hooks[1] != "case.create" {
		t.Fatalf("webhook got %v", hooks)
	}
}
