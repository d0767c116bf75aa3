package events

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"sharpeyes/sqlstore"
)

// The outbox records every change others should hear of (case transitions,
// escalations, incidents opening and closing) in the same transaction as
// the change itself, so webhooks and streams can deliver at least once.

//go:embed outbox
var outboxMigrations embed.FS

// EnsureOutbox migrates the outbox tables (both stores call it; the
// migration runner makes the second call a no-op).
func EnsureOutbox(ctx context.Context, db *sql.DB, postgres bool) error {
	dir := "outbox/sqlite"
	if postgres {
		dir = "outbox/postgres"
	}
	if err := sqlstore.Migrate(ctx, db, postgres, "outbox_schema_migrations", outboxMigrations, dir); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Execer is a transaction or a database.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Publish adds a message to the outbox within tx.
func Publish(ctx context.Context, tx Execer, postgres bool, topic string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	q := `INSERT INTO outbox (at, topic, body) VALUES (?, ?, ?)`
	if postgres {
		q = `INSERT INTO outbox (at, topic, body) VALUES ($1, $2, $3)`
	}
	if _, err = tx.ExecContext(ctx, q, time.Now().UnixMilli(), topic, string(b)); err != nil {
		return err
	}
	if postgres {
		// Every node's bus hears of it when the transaction commits (one
		// notification a transaction, however many messages).
		_, err = tx.ExecContext(ctx, `SELECT pg_notify('`+outboxChannel+`', '')`)
	}
	return err
}

// Message is one outbox entry.
type Message struct {
	Seq   int64           `json:"seq"`
	At    time.Time       `json:"at"`
	Topic string          `json:"topic"`
	Body  json.RawMessage `json:"body"`
}

// OutboxGrace holds back messages younger than this: with PostgreSQL a
// transaction that took a lower sequence number may commit after one that
// took a higher one, and a reader must not move past it unseen.
const OutboxGrace = time.Second

// Messages lists outbox messages after seq, oldest first.
func (s *Store) Messages(ctx context.Context, after int64, limit int) ([]Message, error) {
	grace := time.Duration(0) // SQLite has one writer: sequence order is commit order
	if s.postgres {
		grace = OutboxGrace
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, at, topic, body FROM outbox WHERE seq > ? AND at <= ? ORDER BY seq LIMIT ?`),
		after, time.Now().Add(-grace).UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var at int64
		var body string
		if err := rows.Scan(&m.Seq, &at, &m.Topic, &body); err != nil {
			return nil, err
		}
		m.At, m.Body = time.UnixMilli(at).UTC(), json.RawMessage(body)
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastSeq is the newest outbox sequence number (0 when empty).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM outbox`).Scan(&n)
	return n.Int64, err
}

// Cursor is where a named reader (e.g. the webhook) got to.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT seq FROM outbox_cursor WHERE name = ?`), name).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}

// SetCursor records a reader's progress.
func (s *Store) SetCursor(ctx context.Context, name string, seq int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO outbox_cursor (name, seq) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`), name, seq)
	return err
}
