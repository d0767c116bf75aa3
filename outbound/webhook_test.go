package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"sharpeyes/events"
)

func TestWebhookSignsRetriesAndDeliversEveryMessageInOrder(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	store, err := events.NewStore(context.Background(), db, false, events.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// History before the webhook exists is not sent.
	_ = events.Publish(ctx, db, false, "case.register", map[string]string{"old": "yes"})

	var mu sync.Mutex
	var got []int64
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 { // the receiver is down at first
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("X-Sharpeyes-Signature") != Sign("s3cret-for-hmac", body) {
			t.Errorf("bad signature on %s", body)
		}
		var m struct {
			Seq   int64  `json:"seq"`
			Topic string `json:"topic"`
		}
		_ = json.Unmarshal(body, &m)
		if r.Header.Get("X-Sharpeyes-Event") != m.Topic {
			t.Errorf("event header %q, body topic %q", r.Header.Get("X-Sharpeyes-Event"), m.Topic)
		}
		got = append(got, m.Seq)
	}))
	defer srv.Close()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	wh := &Webhook{URL: srv.URL, Secret: "s3cret-for-hmac", Outbox: store, Poll: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	go func() { wh.Run(wctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 5; i++ {
		_ = events.Publish(ctx, db, false, "case.dispatch", map[string]int{"i": i})
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		c, _ := store.Cursor(ctx, "webhook")
		if n >= 5 && c >= 6 { // delivered, and the cursor moved past them
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 || got[0] != 2 || got[4] != 6 {
		t.Fatalf("delivered %v, want seq 2..6 in order (the old message skipped, retries until accepted)", got)
	}
	if c, _ := store.Cursor(ctx, "webhook"); c != 6 {
		t.Fatalf("cursor %d, want 6", c)
	}
}
