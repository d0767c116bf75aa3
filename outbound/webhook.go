// Package outbound delivers changes to the outside: a webhook (signed,
// retried, at least once, from one node of a cluster) reading the outbox
// the stores write in the same transaction as the change. The web UI's
// event stream reads the same outbox, in the API (/api/v1/stream).
package outbound

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"sharpeyes/events"
)

// Outbox is what outbound needs of the event store.
type Outbox interface {
	Messages(ctx context.Context, after int64, limit int) ([]events.Message, error)
	LastSeq(ctx context.Context) (int64, error)
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, seq int64) error
}

// Feed is the node's follower of the outbox (events.Bus): it is read,
// and waited on, instead of polling the store.
type Feed interface {
	Messages(ctx context.Context, after int64, limit int) ([]events.Message, error)
	Wait(ctx context.Context, after int64) error
}

// Webhook POSTs every outbox message to URL, in order, at least once.
type Webhook struct {
	URL    string
	Secret string // HMAC-SHA256 key for X-Sharpeyes-Signature
	Outbox Outbox
	// Feed, when set, is read and waited on; without, Outbox is polled.
	Feed   Feed
	Client *http.Client
	Log    *slog.Logger
	// Poll is how often to look for new messages (default 1 s).
	Poll time.Duration
	// MaxBackoff caps the wait between retries of a failing delivery (default 60 s).
	MaxBackoff time.Duration
}

// Sign is the X-Sharpeyes-Signature value of body: "sha256=" + hex HMAC.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

const cursorName = "webhook"

// Run delivers until ctx ends. A first run starts from the newest message:
// a webhook hears of changes from the time it was set up, not the history.
func (w *Webhook) Run(ctx context.Context) {
	if w.Client == nil {
		w.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = time.Minute
	}
	cursor, err := w.Outbox.Cursor(ctx, cursorName)
	if err == nil && cursor == 0 {
		cursor, _ = w.Outbox.LastSeq(ctx)
		_ = w.Outbox.SetCursor(ctx, cursorName, cursor)
	}
	backoff := time.Second
	read, wait := w.Outbox.Messages, func(ctx context.Context, _ int64) error { sleep(ctx, w.Poll); return nil }
	if w.Feed != nil {
		read, wait = w.Feed.Messages, w.Feed.Wait
	}
	for ctx.Err() == nil {
		msgs, err := read(ctx, cursor, 100)
		if err != nil {
			sleep(ctx, w.Poll)
			continue
		}
		if len(msgs) == 0 {
			_ = wait(ctx, cursor)
			continue
		}
		for _, m := range msgs {
			for ctx.Err() == nil {
				err := w.deliver(ctx, m)
				if err == nil {
					backoff = time.Second
					break
				}
				w.Log.Warn("webhook delivery failed; retrying", "seq", m.Seq, "topic", m.Topic, "error", err, "retry_in", backoff)
				sleep(ctx, backoff)
				backoff = min(backoff*2, w.MaxBackoff)
			}
			if ctx.Err() != nil {
				return
			}
			cursor = m.Seq
			if err := w.Outbox.SetCursor(ctx, cursorName, cursor); err != nil {
				w.Log.Warn("webhook cursor not saved", "error", err) // at least once: it may repeat
			}
		}
	}
}

func (w *Webhook) deliver(ctx context.Context, m events.Message) error {
	body, _ := json.Marshal(map[string]any{"seq": m.Seq, "topic": m.Topic, "at": m.At, "data": m.Body})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sharpeyes-Event", m.Topic)
	req.Header.Set("X-Sharpeyes-Delivery", strconv.FormatInt(m.Seq, 10))
	if w.Secret != "" {
		req.Header.Set("X-Sharpeyes-Signature", Sign(w.Secret, body))
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
