// Package sqltest gives each test process a PostgreSQL schema of its own.
// Test code only: production code never imports it.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL
)

// Schema returns dsn pointed at a fresh PostgreSQL schema of its own
// (prefix, the process id and a random suffix), so test packages and test runs
// sharing a server never share tables; drop removes it.
func Schema(ctx context.Context, dsn, prefix string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	schema := fmt.Sprintf("%s_%d_%x", prefix, os.Getpid(), suffix)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	drop := func() {
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		db.Close()
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

// DSN is the test PostgreSQL server's address (CASES_TEST_POSTGRES_DSN).
// Without one the test is skipped, saying so, unless
// CASES_TEST_REQUIRE_POSTGRES is set (make test sets it): then it fails.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("CASES_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CASES_TEST_REQUIRE_POSTGRES") != "" {
			tb.Fatal("CASES_TEST_POSTGRES_DSN is not set and make test requires PostgreSQL")
		}
		tb.Skip("CASES_TEST_POSTGRES_DSN is not set: the PostgreSQL store is not tried (make test starts PostgreSQL and runs it)")
	}
	return dsn
}

// DB is a handle on a PostgreSQL schema of the test's own (prefix names
// it), closed and dropped when the test ends; the test is skipped (or
// fails, under make test) without a server, as DSN says.
func DB(t testing.TB, prefix string) *sql.DB {
	t.Helper()
	dsn, drop, err := Schema(context.Background(), DSN(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
