package recording

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"sharpeyes/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Segment is one recorded file as the index knows it.
type Segment struct {
	ID       string    `json:"id"`
	CameraID string    `json:"camera_id"`
	Stream   string    `json:"stream"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Bytes    int64     `json:"bytes"`
	Node     string    `json:"node"`
	Path     string    `json:"-"`
	Codec    string    `json:"codec"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Open     bool      `json:"open"`
	// Span is the id of the stretch of footage the segment continues
	// (its own id if it starts one).
	Span string `json:"-"`
}

// Index keeps the segments (and clips and the access log) in the SQL store
// the cases use: listing a month of one camera is an indexed range read.
type Index struct {
	db       *sql.DB
	postgres bool
}

// OpenIndex migrates the recording tables on db.
func OpenIndex(ctx context.Context, db *sql.DB, postgres bool) (*Index, error) {
	if err := sqlstore.Migrate(ctx, db, postgres, "recording_schema_migrations", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("recording index: %w", err)
	}
	return &Index{db: db, postgres: postgres}, nil
}

func (ix *Index) q(query string) string { return sqlstore.Rebind(ix.postgres, query) }

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

const segmentColumns = `id, camera_id, stream, start_ms, end_ms, bytes, node, path, codec, width, height, open, span_id`

func scanSegment(r sqlstore.Scanner) (Segment, error) {
	var s Segment
	var start, end int64
	var open int
	err := r.Scan(&s.ID, &s.CameraID, &s.Stream, &start, &end, &s.Bytes, &s.Node, &s.Path, &s.Codec, &s.Width, &s.Height, &open, &s.Span)
	s.Start, s.End, s.Open = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC(), open != 0
	return s, err
}

// Add records a segment being started, and the span it starts or
// continues.
func (ix *Index) Add(ctx context.Context, s Segment) error {
	open := 0
	if s.Open {
		open = 1
	}
	if s.Span == "" {
		s.Span = s.ID
	}
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, ix.q(`INSERT INTO recording_segments (`+segmentColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		s.ID, s.CameraID, s.Stream, ms(s.Start), ms(s.End), s.Bytes, s.Node, s.Path, s.Codec, s.Width, s.Height, open, s.Span); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ix.q(`INSERT INTO recording_spans (id, camera_id, stream, node, start_ms, end_ms, bytes) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET bytes = recording_spans.bytes + excluded.bytes,
			end_ms = CASE WHEN recording_spans.end_ms < excluded.end_ms THEN excluded.end_ms ELSE recording_spans.end_ms END`),
		s.Span, s.CameraID, s.Stream, s.Node, ms(s.Start), ms(s.End), s.Bytes); err != nil {
		return err
	}
	return tx.Commit()
}

// Progress is how far a segment being written reaches.
type Progress struct {
	ID     string
	End    time.Time
	Bytes  int64
	Closed bool
}

// Update applies progress reports in one transaction (one disk sync for
// every recorder's last second); each segment's span follows it.
func (ix *Index) Update(ctx context.Context, ps []Progress) error {
	if len(ps) == 0 {
		return nil
	}
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, p := range ps {
		open := 1
		if p.Closed {
			open = 0
		}
		if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_spans SET bytes = bytes + ? - (SELECT bytes FROM recording_segments WHERE id = ?)
			WHERE id = (SELECT span_id FROM recording_segments WHERE id = ?)`), p.Bytes, p.ID, p.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_segments SET end_ms = ?, bytes = ?, open = ? WHERE id = ?`),
			ms(p.End), p.Bytes, open, p.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_spans SET end_ms = (SELECT s.end_ms FROM recording_segments s
			WHERE s.span_id = recording_spans.id ORDER BY s.start_ms DESC LIMIT 1)
			WHERE id = (SELECT span_id FROM recording_segments WHERE id = ?)`), p.ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Segments lists a camera stream's segments that overlap [from, to),
// oldest first.
func (ix *Index) Segments(ctx context.Context, camera, stream string, from, to time.Time) ([]Segment, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT `+segmentColumns+` FROM recording_segments
		WHERE camera_id = ? AND stream = ? AND start_ms < ? AND end_ms > ? ORDER BY start_ms`),
		[]any{camera, stream, ms(to), ms(from)}, scanSegment)
}

// Open lists the segments of node still marked open (written when the
// node stopped, if it is starting).
func (ix *Index) Open(ctx context.Context, node string) ([]Segment, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT `+segmentColumns+` FROM recording_segments WHERE node = ? AND open = 1`),
		[]any{node}, scanSegment)
}

// Oldest lists node's closed segments, oldest first (for retention).
func (ix *Index) Oldest(ctx context.Context, node string, limit int) ([]Segment, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT `+segmentColumns+` FROM recording_segments
		WHERE node = ? AND open = 0 ORDER BY start_ms LIMIT ?`), []any{node, limit}, scanSegment)
}

// OlderThan lists a camera's closed segments of node that end before t.
func (ix *Index) OlderThan(ctx context.Context, node, camera string, t time.Time, limit int) ([]Segment, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT `+segmentColumns+` FROM recording_segments
		WHERE node = ? AND camera_id = ? AND open = 0 AND end_ms < ? ORDER BY start_ms LIMIT ?`),
		[]any{node, camera, ms(t), limit}, scanSegment)
}

// Cameras lists the cameras with footage on node.
func (ix *Index) Cameras(ctx context.Context, node string) ([]string, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT DISTINCT camera_id FROM recording_segments WHERE node = ?`), []any{node},
		func(r sqlstore.Scanner) (string, error) {
			var s string
			return s, r.Scan(&s)
		})
}

// Bytes is the size of node's footage.
func (ix *Index) Bytes(ctx context.Context, node string) (int64, error) {
	var n sql.NullInt64
	err := ix.db.QueryRowContext(ctx, ix.q(`SELECT SUM(bytes) FROM recording_segments WHERE node = ?`), node).Scan(&n)
	return n.Int64, err
}

// Remove drops a segment from the index. Its span shrinks to the
// segments left, or, if it was in the middle of it (retention keeping
// the footage an evidence clip holds), splits in two at the hole.
func (ix *Index) Remove(ctx context.Context, id string) error {
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var span string
	var start, bytes int64
	err = tx.QueryRowContext(ctx, ix.q(`SELECT span_id, start_ms, bytes FROM recording_segments WHERE id = ?`), id).Scan(&span, &start, &bytes)
	if errNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, ix.q(`DELETE FROM recording_segments WHERE id = ?`), id); err != nil {
		return err
	}
	count := func(query string) (n int, err error) {
		err = tx.QueryRowContext(ctx, ix.q(`SELECT COUNT(*) FROM (SELECT 1 FROM recording_segments WHERE span_id = ? AND `+query+` LIMIT 1) AS x`),
			span, start).Scan(&n)
		return n, err
	}
	earlier, err := count(`start_ms < ?`)
	if err != nil {
		return err
	}
	later, err := count(`start_ms > ?`)
	if err != nil {
		return err
	}
	switch {
	case earlier == 0 && later == 0:
		_, err = tx.ExecContext(ctx, ix.q(`DELETE FROM recording_spans WHERE id = ?`), span)
		if err != nil {
			return err
		}
		return tx.Commit()
	case earlier > 0 && later > 0:
		tail := newID("p")
		if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_segments SET span_id = ? WHERE span_id = ? AND start_ms > ?`), tail, span, start); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, ix.q(`INSERT INTO recording_spans (id, camera_id, stream, node, start_ms, end_ms, bytes)
			SELECT ?, camera_id, stream, node, MIN(start_ms), MAX(end_ms), SUM(bytes) FROM recording_segments WHERE span_id = ?
			GROUP BY camera_id, stream, node`), tail, tail); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_spans SET bytes = bytes - (SELECT bytes FROM recording_spans WHERE id = ?) WHERE id = ?`),
			tail, span); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, ix.q(`UPDATE recording_spans SET bytes = bytes - ?,
		start_ms = (SELECT s.start_ms FROM recording_segments s WHERE s.span_id = recording_spans.id ORDER BY s.start_ms LIMIT 1),
		end_ms = (SELECT s.end_ms FROM recording_segments s WHERE s.span_id = recording_spans.id ORDER BY s.start_ms DESC LIMIT 1)
		WHERE id = ?`), bytes, span); err != nil {
		return err
	}
	return tx.Commit()
}

// Span is a stretch of footage with no gap: what the timeline draws.
type Span struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Stream string    `json:"stream"`
	Node   string    `json:"node"`
	Bytes  int64     `json:"bytes"`
}

// SpanGap is the largest hole between two segments still drawn as one
// span: consecutive segments of one recorder meet within a few frame
// times; a reconnection or a restart leaves a gap.
const SpanGap = 250 * time.Millisecond

// Spans joins segments (oldest first) into spans: consecutive segments
// of one node with less than SpanGap between them. A span across a
// failover is two spans, one per node, touching.
func Spans(segs []Segment) []Span {
	var j spanJoin
	for _, s := range segs {
		j.add(s.Start, s.End, s.Stream, s.Node, s.Bytes)
	}
	return j.spans
}

// spanJoin gathers segments, oldest first, into spans.
type spanJoin struct{ spans []Span }

func (j *spanJoin) add(start, end time.Time, stream, node string, bytes int64) {
	if n := len(j.spans); n > 0 {
		last := &j.spans[n-1]
		if last.Node == node && !start.After(last.End.Add(SpanGap)) {
			if end.After(last.End) {
				last.End = end
			}
			last.Bytes += bytes
			return
		}
	}
	j.spans = append(j.spans, Span{Start: start, End: end, Stream: stream, Node: node, Bytes: bytes})
}

// Spans is a camera stream's timeline over [from, to): the span rows
// kept beside the segments (tens for a month, however many segments),
// joined where they meet within SpanGap.
func (ix *Index) Spans(ctx context.Context, camera, stream string, from, to time.Time) ([]Span, error) {
	rows, err := ix.db.QueryContext(ctx, ix.q(`SELECT start_ms, end_ms, node, bytes FROM recording_spans
		WHERE camera_id = ? AND stream = ? AND start_ms < ? AND end_ms > ? ORDER BY start_ms`), camera, stream, ms(to), ms(from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var j spanJoin
	var start, end, bytes int64
	var node string
	for rows.Next() {
		if err := rows.Scan(&start, &end, &node, &bytes); err != nil {
			return nil, err
		}
		j.add(time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC(), stream, node, bytes)
	}
	return j.spans, rows.Err()
}

// errNoRows tells whether err is sql.ErrNoRows.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Access is one look back at a camera's past: who played, exported or
// downloaded what, when.
type Access struct {
	At       time.Time `json:"at"`
	Who      string    `json:"who"`
	CameraID string    `json:"camera_id"`
	Stream   string    `json:"stream"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Kind     string    `json:"kind"` // playback, export, clip
	ClipID   string    `json:"clip_id,omitempty"`
	Addr     string    `json:"addr"`
}

// LogAccess appends an access row.
func (ix *Index) LogAccess(ctx context.Context, a Access) error {
	_, err := ix.db.ExecContext(ctx, ix.q(`INSERT INTO recording_access (id, at_ms, who, camera_id, stream, from_ms, to_ms, kind, clip_id, addr)
		VALUES (?,?,?,?,?,?,?,?,?,?)`), newID("a"), ms(a.At), a.Who, a.CameraID, a.Stream, ms(a.From), ms(a.To), a.Kind, a.ClipID, a.Addr)
	return err
}

// Accesses lists access rows of a time range (of camera, when not
// empty), newest first.
func (ix *Index) Accesses(ctx context.Context, camera string, from, to time.Time, limit int) ([]Access, error) {
	q := `SELECT at_ms, who, camera_id, stream, from_ms, to_ms, kind, clip_id, addr FROM recording_access WHERE at_ms >= ? AND at_ms < ?`
	args := []any{ms(from), ms(to)}
	if camera != "" {
		q += ` AND camera_id = ?`
		args = append(args, camera)
	}
	q += ` ORDER BY at_ms DESC LIMIT ?`
	args = append(args, limit)
	return sqlstore.Collect(ctx, ix.db, ix.q(q), args, func(r sqlstore.Scanner) (Access, error) {
		var a Access
		var at, f, t int64
		err := r.Scan(&at, &a.Who, &a.CameraID, &a.Stream, &f, &t, &a.Kind, &a.ClipID, &a.Addr)
		a.At, a.From, a.To = time.UnixMilli(at).UTC(), time.UnixMilli(f).UTC(), time.UnixMilli(t).UTC()
		return a, err
	})
}
