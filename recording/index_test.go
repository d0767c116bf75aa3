package recording

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/sqlstore/sqltest"
)

// monthOfSegments fills ix with 30 days of 60 s segments for each of
// cameras cameras (c0 … c{n-1}), every hour's last segment a second short
// (a reconnect: each hour is a span), and returns the month's first instant.
func monthOfSegments(tb testing.TB, db *sql.DB, ix *Index, cameras int) time.Time {
	tb.Helper()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const perDay = 1440
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	const batch = 500
	var rows []string
	var args []any
	flush := func() {
		if len(rows) == 0 {
			return
		}
		q := `INSERT INTO recording_segments (` + segmentColumns + `) VALUES ` + strings.Join(rows, ",")
		if _, err := tx.Exec(ix.q(q), args...); err != nil {
			tb.Fatal(err)
		}
		rows, args = rows[:0], args[:0]
	}
	for c := 0; c < cameras; c++ {
		for i := 0; i < 30*perDay; i++ {
			s := start.Add(time.Duration(i) * time.Minute)
			e := s.Add(time.Minute)
			if i%60 == 59 {
				e = e.Add(-time.Second)
			}
			rows = append(rows, "(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, fmt.Sprintf("s%d-%d", c, i), fmt.Sprintf("c%d", c), "sub", ms(s), ms(e), int64(3_600_000), "n1",
				fmt.Sprintf("/rec/c%d/%d.mp4", c, i), "h264", 640, 360, 0, fmt.Sprintf("c%d-%d", c, i/60))
			if len(rows) == batch {
				flush()
			}
		}
	}
	flush()
	// The spans the recorders would have kept (TestIndexSpansFollowTheSegments
	// shows Add, Update and Remove keep them so).
	if _, err := tx.Exec(`INSERT INTO recording_spans (id, camera_id, stream, node, start_ms, end_ms, bytes)
		SELECT span_id, camera_id, stream, node, MIN(start_ms), MAX(end_ms), SUM(bytes) FROM recording_segments
		GROUP BY span_id, camera_id, stream, node`); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return start
}

// TestIndexSpansFollowTheSegments: the timeline kept beside the segments
// is what joining the segments gives, as they are added, grow, and are
// deleted from either end or from the middle (which splits a span);
// another stream or camera is not in it. A span that overlaps the range
// is listed whole.
func TestIndexSpansFollowTheSegments(t *testing.T) {
	ctx := context.Background()
	ix := testIndex(t)
	t0 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	add := func(id, span string, from, to float64, node string) {
		t.Helper()
		if err := ix.Add(ctx, Segment{ID: id, CameraID: "c1", Stream: "main", Start: at(from), End: at(from), Bytes: 10,
			Node: node, Path: "p", Codec: "h264", Open: true, Span: span}); err != nil {
			t.Fatal(err)
		}
		if err := ix.Update(ctx, []Progress{{ID: id, End: at(to), Bytes: 100, Closed: true}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(from, to float64, want ...Span) {
		t.Helper()
		got, err := ix.Spans(ctx, "c1", "main", at(from), at(to))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("spans\n got %v\nwant %v", got, want)
		}
		// Whole spans: the same as every segment joined, kept where
		// they overlap the range.
		segs, err := ix.Segments(ctx, "c1", "main", at(-1e4), at(1e4))
		if err != nil {
			t.Fatal(err)
		}
		var joined []Span
		for _, s := range Spans(segs) {
			if s.Start.Before(at(to)) && s.End.After(at(from)) {
				joined = append(joined, s)
			}
		}
		if fmt.Sprint(joined) != fmt.Sprint(got) {
			t.Fatalf("index spans %v, segments joined %v", got, joined)
		}
	}
	span := func(from, to float64, node string, bytes int64) Span {
		return Span{at(from), at(to), "main", node, bytes}
	}
	add("s0", "A", 0, 60, "n1")
	add("s1", "A", 60.1, 120, "n1")
	add("s2", "B", 121, 180, "n1") // a second's gap: a reconnect
	add("s3", "C", 180, 240, "n2") // a failover: the other node's footage
	add("s4", "C", 240.2, 300, "n2")
	add("s5", "D", 400, 460, "n1")
	_ = ix.Add(ctx, Segment{ID: "x1", CameraID: "c1", Stream: "sub", Start: at(0), End: at(500), Node: "n1"})
	_ = ix.Add(ctx, Segment{ID: "x2", CameraID: "c2", Stream: "main", Start: at(0), End: at(500), Node: "n1"})
	check(30, 430, span(0, 120, "n1", 200), span(121, 180, "n1", 100), span(180, 300, "n2", 200), span(400, 460, "n1", 100))
	check(301, 399)

	// D grows: its segment written on, then one more.
	if err := ix.Update(ctx, []Progress{{ID: "s5", End: at(470), Bytes: 150, Closed: true}}); err != nil {
		t.Fatal(err)
	}
	add("s6", "D", 470, 530, "n1")
	check(390, 600, span(400, 530, "n1", 250))

	// Retention from the old end: A shrinks, then goes.
	if err := ix.Remove(ctx, "s0"); err != nil {
		t.Fatal(err)
	}
	check(0, 200, span(60.1, 120, "n1", 100), span(121, 180, "n1", 100), span(180, 300, "n2", 200))
	if err := ix.Remove(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	check(0, 150, span(121, 180, "n1", 100))
	// From the new end.
	if err := ix.Remove(ctx, "s6"); err != nil {
		t.Fatal(err)
	}
	check(390, 600, span(400, 470, "n1", 150))

	// From the middle: the span splits at the hole.
	add("s7", "E", 600, 660, "n1")
	add("s8", "E", 660, 720, "n1")
	add("s9", "E", 720, 780, "n1")
	add("s10", "E", 780, 840, "n1")
	check(590, 900, span(600, 840, "n1", 400))
	if err := ix.Remove(ctx, "s8"); err != nil {
		t.Fatal(err)
	}
	check(590, 900, span(600, 660, "n1", 100), span(720, 840, "n1", 200))
	if err := ix.Remove(ctx, "s9"); err != nil {
		t.Fatal(err)
	}
	check(590, 900, span(600, 660, "n1", 100), span(780, 840, "n1", 100))
	if err := ix.Remove(ctx, "nonesuch"); err != nil {
		t.Fatalf("removing an unknown segment: %v", err)
	}
}

// BenchmarkListMonth is a camera's timeline for 30 days (43,200 segments
// of 60 s among ten cameras' 432,000, in 720 spans), as GET /recordings
// answers it.
func BenchmarkListMonth(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			var db *sql.DB
			var err error
			if kind == "sqlite" {
				db, err = sql.Open("sqlite", filepath.Join(b.TempDir(), "cases.db")+"?_pragma=journal_mode(WAL)")
			} else {
				dsn := os.Getenv("CASES_TEST_POSTGRES_DSN")
				if dsn == "" {
					b.Skip("CASES_TEST_POSTGRES_DSN not set (make test starts PostgreSQL)")
				}
				var drop func()
				if dsn, drop, err = sqltest.Schema(context.Background(), dsn, "recording_bench"); err != nil {
					b.Fatal(err)
				}
				defer drop()
				db, err = sql.Open("pgx", dsn)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ix, err := OpenIndex(context.Background(), db, kind == "postgres")
			if err != nil {
				b.Fatal(err)
			}
			start := monthOfSegments(b, db, ix, 10)
			if kind == "postgres" {
				if _, err := db.Exec(`ANALYZE recording_segments`); err != nil {
					b.Fatal(err)
				}
			}
			end := start.Add(30 * 24 * time.Hour)
			b.ResetTimer()
			for b.Loop() {
				spans, err := ix.Spans(context.Background(), "c3", "sub", start, end)
				if err != nil {
					b.Fatal(err)
				}
				if len(spans) != 30*24 || spans[0].Bytes != 60*3_600_000 {
					b.Fatalf("%d spans (first %+v), want 720 of 60 segments", len(spans), spans[0])
				}
			}
		})
	}
}
