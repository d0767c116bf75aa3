package cases

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sharpeyes/events"
	"sharpeyes/sqlstore/sqltest"
)

// BenchmarkIntake is sustained event intake through the pipeline (store the
// event, fold it into its incident, open or join cases) with 8 concurrent
// writers: events/s acknowledged and the p99 time to acknowledge.
func BenchmarkIntake(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			var s *Store
			var err error
			cal := testCalendar(&testing.T{})
			if db == "sqlite" {
				s, err = Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "cases.db"), cal)
			} else {
				dsn := os.Getenv("CASES_TEST_POSTGRES_DSN")
				if dsn == "" {
					b.Skip("CASES_TEST_POSTGRES_DSN not set (make test starts PostgreSQL)")
				}
				var drop func()
				if dsn, drop, err = sqltest.Schema(context.Background(), dsn, "cases_bench"); err != nil {
					b.Fatal(err)
				}
				defer drop()
				s, err = Open(context.Background(), "pgx", dsn, cal)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			p := pipeline(&testing.T{}, s)
			if db == "postgres" {
				for _, tbl := range []string{"case_audit", "cases"} {
					_, _ = s.db.Exec("DELETE FROM " + tbl)
				}
			}
			kinds := []string{events.Motion, events.Tamper, events.Crowd, events.Motion}
			var n atomic.Int64
			lat := make([]time.Duration, b.N)
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(n.Add(1)) - 1
						if i >= b.N {
							return
						}
						e := event(fmt.Sprintf("cam%03d", i%200), kinds[i%len(kinds)], time.Now(), fmt.Sprintf("%s-%d", db, i))
						t0 := time.Now()
						if _, err := p.Intake(context.Background(), e, []string{"G1"}, ""); err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}
