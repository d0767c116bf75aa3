package cases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL for a cluster
	_ "modernc.org/sqlite"             // SQLite without cgo, the default

	"sharpeyes/events"
	"sharpeyes/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Case is one case.
type Case struct {
	ID          string `json:"id"`
	State       State  `json:"state"`
	Source      string `json:"source"` // event, hotline, grid-report
	Category    string `json:"category"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Grid        string `json:"grid"`
	CameraID    string `json:"camera_id,omitempty"`
	IncidentID  string `json:"incident_id,omitempty"`
	// Kind is the incident kind of a case opened by policy ("" for cases
	// filed by hand).
	Kind        string     `json:"kind,omitempty"`
	Lat         *float64   `json:"lat,omitempty"`
	Lon         *float64   `json:"lon,omitempty"`
	Priority    int        `json:"priority"`
	Assignee    string     `json:"assignee,omitempty"`
	Reporter    string     `json:"reporter,omitempty"`
	LimitDays   int        `json:"limit_days"`
	Escalation  int        `json:"escalation"`
	SLAStart    time.Time  `json:"sla_start"`
	Paused      int64      `json:"paused_ms"`
	SuspendedAt *time.Time `json:"suspended_at,omitempty"`
	Rating      *int       `json:"rating,omitempty"`
	DuplicateOf string     `json:"duplicate_of,omitempty"`
	Reopened    int        `json:"reopened"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	Version     int        `json:"-"`
}

// AuditRow is one append-only record of a transition or escalation.
type AuditRow struct {
	CaseID     string          `json:"case_id"`
	N          int             `json:"n"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Role       Role            `json:"role"`
	Action     string          `json:"action"`
	From       State           `json:"from"`
	To         State           `json:"to"`
	Escalation int             `json:"escalation"`
	Note       string          `json:"note,omitempty"`
	Detail     json.RawMessage `json:"detail,omitempty"`
}

// Store keeps cases in SQL: SQLite by default, PostgreSQL for a cluster.
type Store struct {
	db       *sql.DB
	postgres bool
	cal      *Calendar
	now      func() time.Time
	// history marks a store writing the past (the demo's seeded year):
	// its changes are not news, so they go to no event stream or webhook.
	history bool
}

// Open connects to driver ("sqlite" or "pgx") at dsn and migrates; cal
// measures suspensions in working time.
func Open(ctx context.Context, driver, dsn string, cal *Calendar) (*Store, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("cases store: %w", err)
	}
	s := &Store{db: db, postgres: driver == "pgx", cal: cal, now: time.Now}
	if !s.postgres {
		db.SetMaxOpenConns(1) // SQLite has one writer; queueing here beats "database is locked"
		for _, p := range []string{"PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=5000", "PRAGMA synchronous=FULL"} {
			if _, err := db.ExecContext(ctx, p); err != nil {
				db.Close()
				return nil, fmt.Errorf("cases store: %s: %w", p, err)
			}
		}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := events.EnsureOutbox(ctx, db, s.postgres); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) q(query string) string { return sqlstore.Rebind(s.postgres, query) }

func (s *Store) migrate(ctx context.Context) error {
	return sqlstore.Migrate(ctx, s.db, s.postgres, "schema_migrations", migrations, "migrations")
}

func newCaseID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "C" + now.Format("20060102") + "-" + strings.ToUpper(strconv.FormatInt(now.UnixMilli()%86_400_000, 36)+hex.EncodeToString(b))
}

const caseColumns = `id, state, source, category, title, description, grid, camera_id, incident_id, lat, lon, priority,
	assignee, reporter, limit_days, escalation, sla_start, paused_ms, suspended_at, rating, duplicate_of, reopened,
	created_at, updated_at, closed_at, version, kind`

func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// Create stores a new case (state received unless set) with its first audit row.
func (s *Store) Create(ctx context.Context, c Case, who Actor, note string) (Case, error) {
	return s.CreateNoted(ctx, c, who, Note{Text: note})
}

// Note is an audit row's note: the text as written (by a person, or by
// the gateway in the street's language) and, for what the gateway writes
// itself, a key and its arguments, so that every screen can say it in
// the reader's language (kept in the row's detail as note_key and args).
type Note struct {
	Text string
	Key  string
	Args map[string]string
}

func (n Note) detail() map[string]any {
	if n.Key == "" {
		return nil
	}
	d := map[string]any{"note_key": n.Key}
	for k, v := range n.Args {
		d[k] = v
	}
	return d
}

// CreateNoted is Create with a note the gateway wrote (see Note).
func (s *Store) CreateNoted(ctx context.Context, c Case, who Actor, n Note) (Case, error) {
	note, noteDetail := n.Text, n.detail()
	now := s.now().UTC().Truncate(time.Millisecond)
	if c.ID == "" {
		c.ID = newCaseID(now)
	}
	if c.State == "" {
		c.State = Received
	}
	if c.Title == "" || c.Category == "" || c.Source == "" {
		return Case{}, fmt.Errorf("%w: a case needs a title, a category and a source", ErrMissing)
	}
	if c.Priority < 1 || c.Priority > 4 {
		return Case{}, fmt.Errorf("%w: priority must be 1 to 4", ErrMissing)
	}
	if c.LimitDays < 1 {
		return Case{}, fmt.Errorf("%w: limit_days must be at least 1", ErrMissing)
	}
	c.CreatedAt, c.UpdatedAt, c.Version = now, now, 1
	if c.SLAStart.IsZero() {
		c.SLAStart = now
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Case{}, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO cases (`+caseColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`),
		c.ID, string(c.State), c.Source, c.Category, c.Title, c.Description, c.Grid, c.CameraID, c.IncidentID, c.Lat, c.Lon,
		c.Priority, c.Assignee, c.Reporter, c.LimitDays, c.Escalation, ms(c.SLAStart), c.Paused, msPtr(c.SuspendedAt),
		c.Rating, c.DuplicateOf, c.Reopened, ms(c.CreatedAt), ms(c.UpdatedAt), msPtr(c.ClosedAt), c.Version, c.Kind)
	if err != nil {
		return Case{}, fmt.Errorf("create case: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return Case{}, fmt.Errorf("case %s: %w", c.ID, ErrExists)
	}
	// The create row says what the case is about, so the live wall can put
	// an alarm's camera up without asking for each case.
	summary := map[string]any{"source": c.Source, "category": c.Category, "title": c.Title, "grid": c.Grid,
		"camera_id": c.CameraID, "incident_id": c.IncidentID, "kind": c.Kind, "priority": c.Priority}
	for k, v := range noteDetail {
		summary[k] = v
	}
	detail, _ := json.Marshal(summary)
	if err := s.audit(ctx, tx, AuditRow{CaseID: c.ID, At: now, Actor: who.ID, Role: who.Role, Action: "create",
		To: c.State, Note: note, Detail: detail}); err != nil {
		return Case{}, err
	}
	return c, tx.Commit()
}

func scanCase(r sqlstore.Scanner) (Case, error) {
	var c Case
	var state string
	var slaStart, created, updated int64
	var suspended, closed sql.NullInt64
	var rating sql.NullInt64
	var lat, lon sql.NullFloat64
	err := r.Scan(&c.ID, &state, &c.Source, &c.Category, &c.Title, &c.Description, &c.Grid, &c.CameraID, &c.IncidentID,
		&lat, &lon, &c.Priority, &c.Assignee, &c.Reporter, &c.LimitDays, &c.Escalation, &slaStart, &c.Paused, &suspended,
		&rating, &c.DuplicateOf, &c.Reopened, &created, &updated, &closed, &c.Version, &c.Kind)
	if err != nil {
		return Case{}, err
	}
	c.State = State(state)
	c.SLAStart, c.CreatedAt, c.UpdatedAt = time.UnixMilli(slaStart).UTC(), time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if suspended.Valid {
		t := time.UnixMilli(suspended.Int64).UTC()
		c.SuspendedAt = &t
	}
	if closed.Valid {
		t := time.UnixMilli(closed.Int64).UTC()
		c.ClosedAt = &t
	}
	if rating.Valid {
		v := int(rating.Int64)
		c.Rating = &v
	}
	if lat.Valid && lon.Valid {
		c.Lat, c.Lon = &lat.Float64, &lon.Float64
	}
	return c, nil
}

// Calendar is the working-day calendar of the SLA clock.
func (s *Store) Calendar() *Calendar { return s.cal }

// DB is the store's database, shared with the event store.
func (s *Store) DB() (*sql.DB, bool) { return s.db, s.postgres }

// ErrExists is returned when creating a case id that exists.
var ErrExists = errors.New("case exists")

// Note appends an audit row without changing the state (e.g. an incident
// joining the case).
func (s *Store) Note(ctx context.Context, id string, who Actor, action, note string, detail any) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	b, _ := json.Marshal(detail)
	if err := s.audit(ctx, tx, AuditRow{CaseID: id, At: s.now().UTC(), Actor: who.ID, Role: who.Role, Action: action,
		From: c.State, To: c.State, Escalation: c.Escalation, Note: note, Detail: b}); err != nil {
		return err
	}
	return tx.Commit()
}

// Filter selects cases to list.
type Filter struct {
	State, Grid, CameraID, Category, Source string
	// Cells, when set, keeps cases of those cells (a subtree).
	Cells []string
	// From and To bound the creation time (zero: unbounded; To exclusive).
	From, To   time.Time
	Open       bool // only cases still being handled
	Escalation int  // -1: any
	Limit      int
	After      string // id cursor
	// Within, when set, keeps only cases a principal may see.
	Within *Within
}

// Within is a jurisdiction as the store can query it: cases in one of
// Cells, assigned to one of Assignees, or (Unplaced) filed with no grid.
type Within struct {
	Cells     []string
	Assignees []string
	Unplaced  bool
}

func (w *Within) sql() (string, []any) {
	var parts []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		parts = append(parts, col+` IN (?`+strings.Repeat(`, ?`, len(vals)-1)+`)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("grid", w.Cells)
	in("assignee", w.Assignees)
	if w.Unplaced {
		parts = append(parts, `grid = ''`)
	}
	if len(parts) == 0 {
		return ` AND 1 = 0`, nil
	}
	return ` AND (` + strings.Join(parts, ` OR `) + `)`, args
}

// List returns cases by id, filtered.
func (s *Store) List(ctx context.Context, f Filter) ([]Case, error) {
	q := `SELECT ` + caseColumns + ` FROM cases WHERE id > ?`
	args := []any{f.After}
	for col, v := range map[string]string{"state": f.State, "grid": f.Grid, "camera_id": f.CameraID, "category": f.Category, "source": f.Source} {
		if v != "" {
			q += ` AND ` + col + ` = ?`
			args = append(args, v)
		}
	}
	if f.Cells != nil {
		if len(f.Cells) == 0 {
			q += ` AND 1 = 0`
		} else {
			q += ` AND grid IN (?` + strings.Repeat(`, ?`, len(f.Cells)-1) + `)`
			for _, c := range f.Cells {
				args = append(args, c)
			}
		}
	}
	if !f.From.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, ms(f.To))
	}
	if f.Open {
		q += ` AND state NOT IN ('closed','evaluated','rejected','duplicate')`
	}
	if f.Escalation >= 0 {
		q += ` AND escalation = ?`
		args = append(args, f.Escalation)
	}
	if f.Within != nil {
		w, wargs := f.Within.sql()
		q += w
		args = append(args, wargs...)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, f.Limit)
	return sqlstore.Collect(ctx, s.db, s.q(q), args, scanCase)
}

// Deadline is when the case's time limit runs out (working days on the
// store's calendar, less the time it was suspended).
func (s *Store) Deadline(c Case) time.Time {
	if s.cal == nil {
		return time.Time{} // no calendar: no working days to count
	}
	return s.cal.Deadline(c.SLAStart, c.LimitDays, time.Duration(c.Paused)*time.Millisecond)
}

// Get returns one case.
func (s *Store) Get(ctx context.Context, id string) (Case, error) {
	c, err := scanCase(s.db.QueryRowContext(ctx, s.q(`SELECT `+caseColumns+` FROM cases WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, fmt.Errorf("case %s: %w", id, ErrNotFound)
	}
	return c, err
}

func (s *Store) audit(ctx context.Context, tx *sql.Tx, row AuditRow) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(n), 0) FROM case_audit WHERE case_id = ?`), row.CaseID).Scan(&n); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if row.Detail == nil {
		row.Detail = json.RawMessage("{}")
	}
	row.N = n + 1
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_audit (case_id, n, at, actor, role, action, from_state, to_state, escalation, note, detail)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`),
		row.CaseID, row.N, ms(row.At), row.Actor, string(row.Role), row.Action, string(row.From), string(row.To), row.Escalation, row.Note, string(row.Detail))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if s.history {
		return nil
	}
	if err := events.Publish(ctx, tx, s.postgres, "case."+row.Action, row); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Count is the number of cases stored.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases`).Scan(&n)
	return n, err
}

// Audit lists a case's audit rows in order.
func (s *Store) Audit(ctx context.Context, id string) ([]AuditRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT case_id, n, at, actor, role, action, from_state, to_state, escalation, note, detail
		FROM case_audit WHERE case_id = ? ORDER BY n`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		var r AuditRow
		var at int64
		var role, from, to, detail string
		if err := rows.Scan(&r.CaseID, &r.N, &at, &r.Actor, &role, &r.Action, &from, &to, &r.Escalation, &r.Note, &detail); err != nil {
			return nil, err
		}
		r.At, r.Role, r.From, r.To, r.Detail = time.UnixMilli(at).UTC(), Role(role), State(from), State(to), json.RawMessage(detail)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Act takes an action on a case: checks it with Next, applies its effects
// and appends the audit row, in one transaction (retried if the case
// changed meanwhile).
func (s *Store) Act(ctx context.Context, id string, act Action, who Actor, a Args) (Case, error) {
	for attempt := 0; attempt < 5; attempt++ {
		c, err := s.Get(ctx, id)
		if err != nil {
			return Case{}, err
		}
		to, err := Next(c.State, act, who, c.Assignee, a)
		if err != nil {
			return Case{}, err
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		from := c.State
		if from == Suspended && c.SuspendedAt != nil { // the clock resumes
			c.Paused += s.cal.WorkTime(*c.SuspendedAt, now).Milliseconds()
			c.SuspendedAt = nil
		}
		apply(&c, from, to, act, who, a, now)
		detail, _ := json.Marshal(a)
		ok, err := s.update(ctx, c, AuditRow{CaseID: c.ID, At: now, Actor: who.ID, Role: who.Role, Action: string(act),
			From: from, To: to, Escalation: c.Escalation, Note: a.Note, Detail: detail})
		if err != nil {
			return Case{}, err
		}
		if ok {
			return c, nil
		}
	}
	return Case{}, fmt.Errorf("case %s: changed by others too often; try again", id)
}

// apply sets what a transition changes besides the state.
func apply(c *Case, from, to State, act Action, who Actor, a Args, now time.Time) {
	c.State, c.UpdatedAt = to, now
	switch act {
	case Dispatch:
		c.Assignee = a.Assignee
	case Resolve:
		if from == Registered && c.Assignee == "" {
			// 即办: the worker who handled it on the spot is its handler, and
			// handles it again if the result is sent back or rated poorly.
			c.Assignee = who.handler()
		}
	case Extend:
		c.LimitDays += a.ExtendDays
	case Suspend:
		c.SuspendedAt = &now
	case Evaluate:
		r := a.Rating
		c.Rating = &r
	case MarkDuplicate:
		c.DuplicateOf = a.Of
	}
	if to == Closed {
		c.ClosedAt = &now
	}
	if to == InProgress && (from == Closed || from == Evaluated || act == Verify) {
		c.Reopened++
		c.ClosedAt = nil
	}
}

func (s *Store) update(ctx context.Context, c Case, row AuditRow) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE cases SET state=?, assignee=?, limit_days=?, escalation=?, paused_ms=?, suspended_at=?,
		rating=?, duplicate_of=?, reopened=?, updated_at=?, closed_at=?, version=version+1 WHERE id=? AND version=?`),
		string(c.State), c.Assignee, c.LimitDays, c.Escalation, c.Paused, msPtr(c.SuspendedAt), c.Rating, c.DuplicateOf,
		c.Reopened, ms(c.UpdatedAt), msPtr(c.ClosedAt), c.ID, c.Version)
	if err != nil {
		return false, fmt.Errorf("update case: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // changed meanwhile
	}
	if err := s.audit(ctx, tx, row); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Escalate raises the 督办 level of every open, running case whose SLA
// clock has passed a threshold, with an audit row each; it returns them.
func (s *Store) Escalate(ctx context.Context, cal *Calendar, now time.Time) ([]Case, error) {
	open, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT `+caseColumns+` FROM cases WHERE state NOT IN (?,?,?,?,?) AND escalation < 3`),
		[]any{string(Closed), string(Evaluated), string(Rejected), string(Duplicate), string(Suspended)}, scanCase)
	if err != nil {
		return nil, err
	}
	var raised []Case
	for _, c := range open {
		lvl := cal.LevelAt(c.SLAStart, now, c.LimitDays, time.Duration(c.Paused)*time.Millisecond)
		if lvl <= c.Escalation {
			continue
		}
		c.Escalation, c.UpdatedAt = lvl, now.UTC().Truncate(time.Millisecond)
		detail, _ := json.Marshal(map[string]any{"deadline": cal.Deadline(c.SLAStart, c.LimitDays, time.Duration(c.Paused)*time.Millisecond),
			"notify": []string{"grid_chief:" + c.Grid, "centre"}, "note_key": fmt.Sprintf("escalation_%d", lvl)})
		ok, err := s.update(ctx, c, AuditRow{CaseID: c.ID, At: c.UpdatedAt, Actor: "sla-clock", Role: System,
			Action: "escalate", From: c.State, To: c.State, Escalation: lvl, Note: escalationNote(lvl), Detail: detail})
		if err != nil {
			return raised, err
		}
		if ok {
			c.Version++
			raised = append(raised, c)
		}
	}
	return raised, nil
}

func escalationNote(lvl int) string {
	switch lvl {
	case LevelWarning:
		return "督办一级：已用时限的80%"
	case LevelOverdue:
		return "督办二级：已超时"
	}
	return "督办三级：超时逾五个工作日"
}
