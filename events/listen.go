package events

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
)

// outboxChannel is the PostgreSQL notification channel a transaction that
// published to the outbox notifies on commit (every node listens).
const outboxChannel = "sharpeyes_outbox"

// ListenOutbox holds one connection of db (PostgreSQL) listening for
// the outbox's commits, on any node, and calls notify for each until ctx
// ends or the connection fails.
func ListenOutbox(ctx context.Context, db *sql.DB, notify func()) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("outbox: LISTEN needs PostgreSQL (pgx), not %T", dc)
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
			return err
		}
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				// The connection is not put back listening: a new one next time.
				_, _ = pc.Exec(context.WithoutCancel(ctx), "UNLISTEN "+outboxChannel)
				return err
			}
			notify()
		}
	})
}
