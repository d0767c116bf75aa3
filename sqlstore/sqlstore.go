// Package sqlstore holds what the SQL stores share: placeholder rewriting
// for PostgreSQL and a versioned migration runner over embedded files.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rebind rewrites ? placeholders as $1, $2, … for PostgreSQL; SQLite takes
// them as they are.
func Rebind(postgres bool, query string) string {
	if !postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Migrate applies the files NNN_name.sql under dir of fsys in order, each
// in one transaction, recording them in table.
func Migrate(ctx context.Context, db *sql.DB, postgres bool, table string, fsys fs.FS, dir string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, dir+"/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: the name must start with a number", name)
		}
		var done int
		if err := db.QueryRowContext(ctx, Rebind(postgres, `SELECT COUNT(*) FROM `+table+` WHERE version = ?`), v).Scan(&done); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		if done > 0 {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, stmt := range strings.Split(string(body), ";") {
			if strings.TrimSpace(stripComments(stmt)) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, Rebind(postgres, `INSERT INTO `+table+` (version, applied_at) VALUES (?, ?)`), v, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSchema returns dsn with its own PostgreSQL schema (created if
// needed), so test packages running in parallel do not share tables.
func TestSchema(ctx context.Context, dsn, schema string) (string, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, nil
}
