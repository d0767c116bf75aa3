// Package health keeps how each camera's health changed, in the SQL store
// the cases use, and answers the online rate (在线率) from it: the
// time-weighted share of camera-minutes online, per camera and day, with
// the time nothing was known counted apart. What the states are comes
// from ingest (a pulled camera's stream, a probe of one nobody pulls, its
// GB/T 28181 device); this package only remembers and adds up.
package health

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sort"
	"time"

	"sharpeyes/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// State of a camera's health.
type State string

// The states (DESIGN.md "Camera health").
const (
	Online  State = "online"
	Offline State = "offline"
	Unknown State = "unknown" // never checked yet, or its node was away
)

// ErrBadState is a change to a state that is not one of the three.
var ErrBadState = errors.New("health: not a state")

// Change is a camera's health from At on.
type Change struct {
	CameraID string    `json:"camera_id"`
	At       time.Time `json:"at"`
	State    State     `json:"state"`
	Reason   string    `json:"reason,omitempty"` // why offline
}

// Store keeps the changes.
type Store struct {
	db       *sql.DB
	postgres bool
}

// Open migrates the health table on db.
func Open(ctx context.Context, db *sql.DB, postgres bool) (*Store, error) {
	if err := sqlstore.Migrate(ctx, db, postgres, "health_schema_migrations", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("health store: %w", err)
	}
	return &Store{db: db, postgres: postgres}, nil
}

func (s *Store) q(query string) string { return sqlstore.Rebind(s.postgres, query) }

// Record keeps c if it changes what is known of its camera (a repeat of
// the last state and reason is not a change); it tells whether it did.
// Changes arrive in order per camera; one older than the last is dropped.
func (s *Store) Record(ctx context.Context, c Change) (bool, error) {
	switch c.State {
	case Online, Offline, Unknown:
	default:
		return false, fmt.Errorf("%w: %q", ErrBadState, c.State)
	}
	if c.State != Offline {
		c.Reason = ""
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var at int64
	var state, reason string
	err = tx.QueryRowContext(ctx, s.q(`SELECT at_ms, state, reason FROM health_changes WHERE camera_id = ? ORDER BY at_ms DESC LIMIT 1`),
		c.CameraID).Scan(&at, &state, &reason)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case State(state) == c.State && reason == c.Reason, c.At.UnixMilli() <= at:
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO health_changes (camera_id, at_ms, state, reason) VALUES (?,?,?,?)`),
		c.CameraID, c.At.UnixMilli(), string(c.State), c.Reason); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Changes are camera's changes in [from, to), led by the one in force at
// from (if any), oldest first.
func (s *Store) Changes(ctx context.Context, camera string, from, to time.Time) ([]Change, error) {
	scan := func(r sqlstore.Scanner) (Change, error) {
		var c Change
		var at int64
		var state string
		err := r.Scan(&c.CameraID, &at, &state, &c.Reason)
		c.At, c.State = time.UnixMilli(at).UTC(), State(state)
		return c, err
	}
	lead, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT camera_id, at_ms, state, reason FROM health_changes
		WHERE camera_id = ? AND at_ms < ? ORDER BY at_ms DESC LIMIT 1`), []any{camera, from.UnixMilli()}, scan)
	if err != nil {
		return nil, err
	}
	rest, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT camera_id, at_ms, state, reason FROM health_changes
		WHERE camera_id = ? AND at_ms >= ? AND at_ms < ? ORDER BY at_ms`), []any{camera, from.UnixMilli(), to.UnixMilli()}, scan)
	if err != nil {
		return nil, err
	}
	return append(lead, rest...), nil
}

// History is every camera's changes in [from, to), each led by the one
// in force at from (if any), oldest first: one pass for a street's
// online rate instead of a query per camera.
func (s *Store) History(ctx context.Context, from, to time.Time) (map[string][]Change, error) {
	scan := func(r sqlstore.Scanner) (Change, error) {
		var c Change
		var at int64
		var state string
		err := r.Scan(&c.CameraID, &at, &state, &c.Reason)
		c.At, c.State = time.UnixMilli(at).UTC(), State(state)
		return c, err
	}
	lead, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT h.camera_id, h.at_ms, h.state, h.reason FROM health_changes h
		JOIN (SELECT camera_id, MAX(at_ms) AS m FROM health_changes WHERE at_ms < ? GROUP BY camera_id) l
		ON h.camera_id = l.camera_id AND h.at_ms = l.m`), []any{from.UnixMilli()}, scan)
	if err != nil {
		return nil, err
	}
	rest, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT camera_id, at_ms, state, reason FROM health_changes
		WHERE at_ms >= ? AND at_ms < ? ORDER BY camera_id, at_ms`), []any{from.UnixMilli(), to.UnixMilli()}, scan)
	if err != nil {
		return nil, err
	}
	out := map[string][]Change{}
	for _, c := range append(lead, rest...) {
		out[c.CameraID] = append(out[c.CameraID], c)
	}
	return out, nil
}

// Share is how a span of camera-time was spent.
type Share struct {
	Online, Offline, Unknown time.Duration
}

// Add is the sum of two shares (cameras of a cell, days of a month).
func (s Share) Add(o Share) Share {
	return Share{s.Online + o.Online, s.Offline + o.Offline, s.Unknown + o.Unknown}
}

// Rate is the online rate: the share of the known time that was online
// (unknown time counted apart); ok is false when nothing was known.
func (s Share) Rate() (rate float64, ok bool) {
	known := s.Online + s.Offline
	if known <= 0 {
		return 0, false
	}
	return float64(s.Online) / float64(known), true
}

// Tally adds up one camera's changes over [from, to): before its first
// change the state is unknown. changes need not be sorted.
func Tally(changes []Change, from, to time.Time) Share {
	cs := append([]Change(nil), changes...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].At.Before(cs[j].At) })
	var out Share
	state, at := Unknown, from
	add := func(until time.Time) {
		if !until.After(at) {
			return
		}
		d := until.Sub(at)
		switch state {
		case Online:
			out.Online += d
		case Offline:
			out.Offline += d
		default:
			out.Unknown += d
		}
		at = until
	}
	for _, c := range cs {
		if !c.At.Before(to) {
			break
		}
		if c.At.After(from) {
			add(c.At)
		}
		state = c.State
	}
	add(to)
	return out
}

// Days tallies one camera's changes per day in loc over [from, to): one
// share per day, from's day first.
func Days(changes []Change, from, to time.Time, loc *time.Location) []Share {
	var out []Share
	for day := startOfDay(from.In(loc)); day.Before(to); day = day.AddDate(0, 0, 1) {
		a, b := maxTime(day, from), minTime(day.AddDate(0, 0, 1), to)
		out = append(out, Tally(changes, a, b))
	}
	return out
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
