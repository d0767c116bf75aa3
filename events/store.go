package events

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"sharpeyes/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Incident states. A pending incident is an outage not yet long enough to
// count; a void one ended before it counted (or was merged into a site
// incident) and is kept only to count flaps.
const (
	Pending = "pending"
	Open    = "open"
	Closed  = "closed"
	Void    = "void"
)

// Rules tune how events fold into incidents.
type Rules struct {
	// MergeWindow: a start this soon after an end reopens the incident.
	MergeWindow time.Duration
	// MinOutage: an offline counts only once it has lasted this long …
	MinOutage time.Duration
	// FlapCount: … or once this many short outages came within MergeWindow.
	FlapCount int
	// SiteWindow: cameras of one site going offline this close together
	// make one incident.
	SiteWindow time.Duration
	// Stale closes an incident that saw a start but no end for this long
	// (per kind; DefaultStale otherwise; offline never goes stale).
	Stale        map[string]time.Duration
	DefaultStale time.Duration
}

// DefaultRules are the documented defaults.
func DefaultRules() Rules {
	return Rules{MergeWindow: 10 * time.Minute, MinOutage: time.Minute, FlapCount: 3, SiteWindow: 2 * time.Minute,
		Stale: map[string]time.Duration{Motion: 5 * time.Minute, Offline: 0}, DefaultStale: 30 * time.Minute}
}

func (r Rules) stale(kind string) time.Duration {
	if d, ok := r.Stale[kind]; ok {
		return d
	}
	return r.DefaultStale
}

// Incident is what operators see: repeats of one kind on one camera (or,
// for a site outage, several cameras) folded together.
type Incident struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	CameraID  string     `json:"camera_id"`
	Site      string     `json:"site,omitempty"`
	Cameras   []string   `json:"cameras"`
	Grids     []string   `json:"grids"`
	State     string     `json:"state"`
	Count     int        `json:"count"`
	Priority  int        `json:"priority"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Flaps     int        `json:"flaps"`
	CaseID    string     `json:"case_id,omitempty"`
}

// Outcome says what one event did.
type Outcome struct {
	Incident  Incident `json:"incident"`
	Duplicate bool     `json:"duplicate"` // seen before: nothing changed
	New       bool     `json:"new"`       // the incident opened for the first time (policy may open a case)
	Reopened  bool     `json:"reopened"`  // a closed incident opened again (its case, if any, goes on)
}

// Store keeps events and incidents in SQL, in the cases database.
type Store struct {
	db       *sql.DB
	postgres bool
	rules    Rules
}

// NewStore migrates and returns a store on db.
func NewStore(ctx context.Context, db *sql.DB, postgres bool, rules Rules) (*Store, error) {
	s := &Store{db: db, postgres: postgres, rules: rules}
	if err := EnsureOutbox(ctx, db, postgres); err != nil {
		return nil, err
	}
	if err := sqlstore.Migrate(ctx, db, postgres, "events_schema_migrations", migrations, "migrations"); err != nil {
		return nil, err
	}
	if err := s.backfillLinks(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// backfillLinks adds the link rows of incidents stored before the link
// tables existed (once: it does nothing when every incident has its rows).
func (s *Store) backfillLinks(ctx context.Context) error {
	old, err := sqlstore.Collect(ctx, s.db, `SELECT `+incidentColumns+` FROM incidents WHERE id NOT IN (SELECT incident_id FROM incident_cameras)`, nil, scanIncident)
	if err != nil || len(old) == 0 {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, in := range old {
		if err := s.link(ctx, tx, in); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// link records an incident's cameras and cells as rows.
func (s *Store) link(ctx context.Context, tx *sql.Tx, in Incident) error {
	for _, c := range union(in.Cameras, []string{in.CameraID}) {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO incident_cameras (incident_id, camera_id) VALUES (?, ?) ON CONFLICT DO NOTHING`), in.ID, c); err != nil {
			return fmt.Errorf("link incident: %w", err)
		}
	}
	for _, g := range in.Grids {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO incident_grids (incident_id, grid) VALUES (?, ?) ON CONFLICT DO NOTHING`), in.ID, g); err != nil {
			return fmt.Errorf("link incident: %w", err)
		}
	}
	return nil
}

func (s *Store) q(query string) string { return sqlstore.Rebind(s.postgres, query) }

func newIncidentID(t time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "I" + t.UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

const incidentColumns = `id, kind, camera_id, site, cameras, grids, state, count, priority, first_seen, last_seen, ended_at, flaps, case_id`

func scanIncident(r sqlstore.Scanner) (Incident, error) {
	var in Incident
	var cams, grids string
	var first, last int64
	var ended sql.NullInt64
	if err := r.Scan(&in.ID, &in.Kind, &in.CameraID, &in.Site, &cams, &grids, &in.State, &in.Count, &in.Priority,
		&first, &last, &ended, &in.Flaps, &in.CaseID); err != nil {
		return Incident{}, err
	}
	in.Cameras, in.Grids = split(cams), split(grids)
	in.FirstSeen, in.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	if ended.Valid {
		t := time.UnixMilli(ended.Int64).UTC()
		in.EndedAt = &t
	}
	return in, nil
}

func split(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func nullMs(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// Record stores an event and folds it into its incident, in one
// transaction: when Record returns nil the event is committed (acknowledge
// it then, not before). grids are the camera's cells at the event's time;
// site groups cameras that fail together (e.g. the host of their streams).
func (s *Store) Record(ctx context.Context, e Event, grids []string, site string, received time.Time) (Outcome, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Outcome{}, err
	}
	defer tx.Rollback()
	body, _ := json.Marshal(e)
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO events (source, source_event_id, camera_id, kind, phase, at, priority, grids, received, body)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (source, source_event_id) DO NOTHING`),
		e.Source, e.SourceEventID, e.CameraID, e.Kind, e.Phase, e.Time.UnixMilli(), e.Priority, strings.Join(grids, ","),
		received.UnixMilli(), string(body))
	if err != nil {
		return Outcome{}, fmt.Errorf("store event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var id string
		_ = tx.QueryRowContext(ctx, s.q(`SELECT incident_id FROM events WHERE source = ? AND source_event_id = ?`), e.Source, e.SourceEventID).Scan(&id)
		in, _ := scanIncident(tx.QueryRowContext(ctx, s.q(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`), id))
		return Outcome{Incident: in, Duplicate: true}, nil
	}
	out, err := s.fold(ctx, tx, e, grids, site)
	if err != nil {
		return Outcome{}, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE events SET incident_id = ? WHERE source = ? AND source_event_id = ?`),
		out.Incident.ID, e.Source, e.SourceEventID); err != nil {
		return Outcome{}, err
	}
	topic := ""
	switch {
	case out.New:
		topic = "incident.opened"
	case out.Reopened:
		topic = "incident.reopened"
	case e.Phase == PhaseEnd && out.Incident.State == Closed:
		topic = "incident.closed"
	}
	if topic != "" {
		if err := Publish(ctx, tx, s.postgres, topic, out.Incident); err != nil {
			return Outcome{}, err
		}
	}
	return out, tx.Commit()
}

// fold applies one event to the incident of its camera and kind.
func (s *Store) fold(ctx context.Context, tx *sql.Tx, e Event, grids []string, site string) (Outcome, error) {
	t := e.Time.UTC()
	cur, err := scanIncident(tx.QueryRowContext(ctx, s.q(`SELECT `+incidentColumns+` FROM incidents
		WHERE camera_id = ? AND kind = ? AND (state IN ('pending','open') OR ended_at >= ?)
		ORDER BY first_seen DESC LIMIT 1`), e.CameraID, e.Kind, t.Add(-s.rules.MergeWindow).UnixMilli()))
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Outcome{}, err
	}
	out := Outcome{}
	switch {
	case !found && e.Phase == PhaseEnd:
		// An end with nothing open (its start was never seen, or a camera
		// coming online): stored as an event, no incident.
		return out, nil
	case !found:
		cur = Incident{ID: newIncidentID(t), Kind: e.Kind, CameraID: e.CameraID, Site: site, Cameras: []string{e.CameraID},
			Grids: grids, State: Open, Count: 1, Priority: e.Priority, FirstSeen: t, LastSeen: t}
		if e.Kind == Offline {
			cur.State = Pending // counts once it lasts MinOutage (Tick)
		}
		out.New = cur.State == Open
		return out.with(cur), s.insert(ctx, tx, cur)
	}
	cur.Grids = union(cur.Grids, grids)
	if t.After(cur.LastSeen) {
		cur.LastSeen = t
	}
	cur.Priority = min(cur.Priority, e.Priority)
	switch e.Phase {
	case PhaseEnd:
		switch cur.State {
		case Pending: // back before it counted: a flap
			cur.State, cur.Flaps = Void, cur.Flaps+1
			cur.EndedAt = &t
		case Open:
			cur.State = Closed
			cur.EndedAt = &t
		}
	default:
		cur.Count++
		switch cur.State {
		case Closed: // a start within the merge window reopens it
			cur.State, cur.EndedAt = Open, nil
			out.Reopened = true
		case Void:
			cur.State, cur.EndedAt = Pending, nil
			if cur.Flaps >= s.rules.FlapCount-1 { // flapping: it counts now
				cur.State = Open
				out.New = true
			}
		}
	}
	return out.with(cur), s.save(ctx, tx, cur)
}

func (o Outcome) with(in Incident) Outcome { o.Incident = in; return o }

func (s *Store) insert(ctx context.Context, tx *sql.Tx, in Incident) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO incidents (`+incidentColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		in.ID, in.Kind, in.CameraID, in.Site, strings.Join(in.Cameras, ","), strings.Join(in.Grids, ","), in.State, in.Count,
		in.Priority, in.FirstSeen.UnixMilli(), in.LastSeen.UnixMilli(), nullMs(in.EndedAt), in.Flaps, in.CaseID)
	if err != nil {
		return fmt.Errorf("store incident: %w", err)
	}
	return s.link(ctx, tx, in)
}

func (s *Store) save(ctx context.Context, tx *sql.Tx, in Incident) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET cameras=?, grids=?, state=?, count=?, priority=?, last_seen=?, ended_at=?, flaps=?, case_id=? WHERE id=?`),
		strings.Join(in.Cameras, ","), strings.Join(in.Grids, ","), in.State, in.Count, in.Priority, in.LastSeen.UnixMilli(),
		nullMs(in.EndedAt), in.Flaps, in.CaseID, in.ID)
	if err != nil {
		return fmt.Errorf("store incident: %w", err)
	}
	return s.link(ctx, tx, in)
}

// Tick promotes outages that have lasted MinOutage (folding cameras of one
// site into one incident) and closes incidents gone stale. It returns the
// incidents that became open.
func (s *Store) Tick(ctx context.Context, now time.Time) ([]Incident, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	live, err := sqlstore.Collect(ctx, tx, s.q(`SELECT `+incidentColumns+` FROM incidents WHERE state IN ('pending','open') ORDER BY first_seen`), nil, scanIncident)
	if err != nil {
		return nil, err
	}
	var opened []Incident
	siteOpen := map[string]int{} // site -> index in opened of its site incident
	for _, in := range live {
		// A site's incident opened by an earlier tick takes the site's
		// cameras that go down within the window after it, as one opened
		// in this tick does.
		if in.State == Open && in.Kind == Offline && in.Site != "" {
			if _, ok := siteOpen[in.Site]; !ok {
				opened = append(opened, in)
				siteOpen[in.Site] = len(opened) - 1
			}
		}
	}
	fresh := len(opened) // opened[:fresh] were open before this tick
	for _, in := range live {
		switch {
		case in.State == Pending && !now.Before(in.FirstSeen.Add(s.rules.MinOutage)):
			if in.Site != "" {
				if i, ok := siteOpen[in.Site]; ok && opened[i].Kind == in.Kind && in.FirstSeen.Sub(opened[i].FirstSeen) <= s.rules.SiteWindow {
					host := &opened[i]
					host.Cameras = union(host.Cameras, in.Cameras)
					host.Grids = union(host.Grids, in.Grids)
					host.Count += in.Count
					if err := s.save(ctx, tx, *host); err != nil {
						return nil, err
					}
					in.State = Void // merged into the site's incident
					if err := s.save(ctx, tx, in); err != nil {
						return nil, err
					}
					continue
				}
			}
			in.State = Open
			if err := s.save(ctx, tx, in); err != nil {
				return nil, err
			}
			if err := Publish(ctx, tx, s.postgres, "incident.opened", in); err != nil {
				return nil, err
			}
			opened = append(opened, in)
			if in.Site != "" {
				siteOpen[in.Site] = len(opened) - 1
			}
		case in.State == Open:
			if st := s.rules.stale(in.Kind); st > 0 && now.Sub(in.LastSeen) >= st {
				in.State = Closed
				end := now.UTC()
				in.EndedAt = &end
				if err := s.save(ctx, tx, in); err != nil {
					return nil, err
				}
				if err := Publish(ctx, tx, s.postgres, "incident.closed", in); err != nil {
					return nil, err
				}
			}
		}
	}
	return opened[fresh:], tx.Commit()
}

// Returned lists the closed incidents of kinds that have a case and whose
// return is not yet told, ended at or before endedBefore, oldest first.
func (s *Store) Returned(ctx context.Context, kinds []string, endedBefore time.Time, limit int) ([]Incident, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE state = 'closed' AND case_id <> '' AND returned_at IS NULL
		AND ended_at <= ? AND kind IN (` + strings.TrimSuffix(strings.Repeat("?,", len(kinds)), ",") + `) ORDER BY ended_at LIMIT ?`
	args := []any{endedBefore.UnixMilli()}
	for _, k := range kinds {
		args = append(args, k)
	}
	return sqlstore.Collect(ctx, s.db, s.q(q), append(args, limit), scanIncident)
}

// MarkReturned says an incident's return was told (or needs no telling).
func (s *Store) MarkReturned(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE incidents SET returned_at = ? WHERE id = ?`), at.UnixMilli(), id)
	return err
}

// OpenOfCase counts the incidents of a case still pending or open.
func (s *Store) OpenOfCase(ctx context.Context, caseID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM incidents WHERE case_id = ? AND state IN ('pending','open')`), caseID).Scan(&n)
	return n, err
}

// Incident returns one incident.
func (s *Store) Incident(ctx context.Context, id string) (Incident, error) {
	in, err := scanIncident(s.db.QueryRowContext(ctx, s.q(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	return in, err
}

// ErrNotFound is returned for an unknown incident.
var ErrNotFound = errors.New("not found")

// Incidents lists incidents, newest first; state "" means pending, open
// and closed (void ones are internal bookkeeping).
func (s *Store) Incidents(ctx context.Context, cameraID, kind, state string, limit int) ([]Incident, error) {
	return s.IncidentsOf(ctx, cameraID, kind, state, limit, nil)
}

// IncidentsOf is Incidents keeping only those keep accepts (nil: all),
// newest first, scanning until limit are found.
func (s *Store) IncidentsOf(ctx context.Context, cameraID, kind, state string, limit int, keep func(Incident) bool) ([]Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE state <> 'void'`
	var args []any
	if cameraID != "" {
		q += ` AND id IN (SELECT incident_id FROM incident_cameras WHERE camera_id = ?)`
		args = append(args, cameraID)
	}
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	if keep == nil {
		q += ` ORDER BY first_seen DESC LIMIT ?`
		args = append(args, limit)
		return sqlstore.Collect(ctx, s.db, s.q(q), args, scanIncident)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY first_seen DESC`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() && len(out) < limit {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		if keep(in) {
			out = append(out, in)
		}
	}
	return out, rows.Err()
}

// EventCount counts stored events (for tests and the dashboard).
func (s *Store) EventCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n)
	return n, err
}

// SetCase links an incident to its case.
func (s *Store) SetCase(ctx context.Context, incidentID, caseID string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE incidents SET case_id = ? WHERE id = ?`), caseID, incidentID)
	return err
}

// WithoutCase lists open incidents of the given kinds that have no case yet.
func (s *Store) WithoutCase(ctx context.Context, kinds []string) ([]Incident, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE state = 'open' AND case_id = '' AND kind IN (` +
		strings.TrimSuffix(strings.Repeat("?,", len(kinds)), ",") + `) ORDER BY first_seen`
	args := make([]any, len(kinds))
	for i, k := range kinds {
		args[i] = k
	}
	return sqlstore.Collect(ctx, s.db, s.q(q), args, scanIncident)
}

// CountByKindOf counts the incidents keep accepts, first seen in [from,
// to), by kind.
func (s *Store) CountByKindOf(ctx context.Context, from, to time.Time, keep func(Incident) bool) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+incidentColumns+` FROM incidents WHERE state <> 'void' AND first_seen >= ? AND first_seen < ?`),
		from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		if keep(in) {
			out[in.Kind]++
		}
	}
	return out, rows.Err()
}

// CountByKind counts incidents first seen in [from, to) by kind.
func (s *Store) CountByKind(ctx context.Context, from, to time.Time) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kind, COUNT(*) FROM incidents WHERE state <> 'void' AND first_seen >= ? AND first_seen < ? GROUP BY kind`),
		from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Stored is an event as recorded: the event, the cells it was linked to,
// the incident it folded into and when it arrived.
type Stored struct {
	Event
	Grids      []string  `json:"grids"`
	IncidentID string    `json:"incident_id,omitempty"`
	Received   time.Time `json:"received"`
}

// Filter selects stored events. After is a cursor from Cursor.
type Filter struct {
	CameraID, Kind, Source string
	From, To               time.Time // [From, To) of the event time; zero: open
	Limit                  int
	After                  *Cursor
}

// Cursor is where a listing of events stopped: newest first, ties by key.
type Cursor struct {
	At            int64
	Source, EvtID string
}

// Events lists recorded events newest first, keeping those keep accepts
// (nil: all), until limit; the cursor of the last one lets a client go on.
func (s *Store) Events(ctx context.Context, f Filter, keep func(Stored) bool) ([]Stored, error) {
	q := `SELECT source, source_event_id, at, grids, incident_id, received, body FROM events WHERE 1 = 1`
	var args []any
	for col, v := range map[string]string{"camera_id": f.CameraID, "kind": f.Kind, "source": f.Source} {
		if v != "" {
			q += ` AND ` + col + ` = ?`
			args = append(args, v)
		}
	}
	if !f.From.IsZero() {
		q += ` AND at >= ?`
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		q += ` AND at < ?`
		args = append(args, f.To.UnixMilli())
	}
	if c := f.After; c != nil {
		q += ` AND (at < ? OR (at = ? AND (source > ? OR (source = ? AND source_event_id > ?))))`
		args = append(args, c.At, c.At, c.Source, c.Source, c.EvtID)
	}
	q += ` ORDER BY at DESC, source, source_event_id`
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Stored{}
	for rows.Next() && len(out) < f.Limit {
		var st Stored
		var at, received int64
		var grids, body string
		if err := rows.Scan(&st.Source, &st.SourceEventID, &at, &grids, &st.IncidentID, &received, &body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &st.Event); err != nil {
			return nil, fmt.Errorf("event %s/%s: stored body: %w", st.Source, st.SourceEventID, err)
		}
		st.Grids, st.Received = split(grids), time.UnixMilli(received).UTC()
		if keep == nil || keep(st) {
			out = append(out, st)
		}
	}
	return out, rows.Err()
}

// CursorOf is the cursor that continues a listing after st.
func CursorOf(st Stored) Cursor {
	return Cursor{At: st.Time.UnixMilli(), Source: st.Source, EvtID: st.SourceEventID}
}

// Media is a stored alarm picture.
type Media struct {
	ID, CameraID, ContentType string
	Body                      []byte
	At                        time.Time
}

// PutMedia stores a checked picture for a camera and answers its id.
func (s *Store) PutMedia(ctx context.Context, cameraID, contentType string, body []byte, at time.Time) (string, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := "M" + hex.EncodeToString(b)
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO event_media (id, camera_id, content_type, body, at) VALUES (?, ?, ?, ?, ?)`),
		id, cameraID, contentType, body, at.UnixMilli()); err != nil {
		return "", fmt.Errorf("store picture: %w", err)
	}
	return id, nil
}

// MediaByID reads a stored picture.
func (s *Store) MediaByID(ctx context.Context, id string) (Media, error) {
	m := Media{ID: id}
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT camera_id, content_type, body, at FROM event_media WHERE id = ?`), id).
		Scan(&m.CameraID, &m.ContentType, &m.Body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, fmt.Errorf("media %s: %w", id, ErrNotFound)
	}
	m.At = time.UnixMilli(at).UTC()
	return m, err
}

// MediaOfIncident lists the media URLs of an incident's events, newest first.
func (s *Store) MediaOfIncident(ctx context.Context, incidentID string, limit int) ([]string, error) {
	out := []string{}
	if incidentID == "" {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT body FROM events WHERE incident_id = ? ORDER BY at DESC LIMIT 1000`), incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() && len(out) < limit {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var e Event
		if json.Unmarshal([]byte(body), &e) == nil && e.MediaURL != "" {
			out = append(out, e.MediaURL)
		}
	}
	return out, rows.Err()
}
