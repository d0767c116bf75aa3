package sipstack

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterBudgetsAndMemory: a stranger gets its burst then its rate,
// another port of its host its own, a trusted address ten times more;
// a million strangers leave at most MaxSources buckets, and a trusted
// address is still served while the table is full.
func TestLimiterBudgetsAndMemory(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(Limits{StrangerRate: 10, TrustedRate: 100, StrangersRate: 1e9, MaxSources: 1000}, func() time.Time { return now })
	count := func(addr string, n int) int {
		ok := 0
		for i := 0; i < n; i++ {
			if l.allow(addr) {
				ok++
			}
		}
		return ok
	}
	if got := count("10.0.0.1:5060", 200); got != 50 { // five seconds of 10/s
		t.Fatalf("a stranger's burst: %d of 200, want 50", got)
	}
	if got := count("10.0.0.1:5061", 10); got != 10 {
		t.Fatalf("another port of the host: %d of 10", got)
	}
	now = now.Add(time.Second)
	if got := count("10.0.0.1:5060", 100); got != 10 {
		t.Fatalf("a second later: %d, want 10", got)
	}
	untrust := l.trust("10.0.0.2:5060")
	if got := count("10.0.0.2:5060", 1000); got != 500 {
		t.Fatalf("a trusted address's burst: %d, want 500", got)
	}
	untrust()
	for i := 0; i < 1_000_000; i++ {
		l.allow(fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1024+i%1000))
	}
	if n := l.sources(); n > 1000 {
		t.Fatalf("%d buckets for a million strangers, MaxSources 1000", n)
	}
	trusted := l.trust("192.0.2.7:5060")
	defer trusted()
	if !l.allow("192.0.2.7:5060") {
		t.Fatal("a trusted address refused while the table is full")
	}
	if l.dropped.Load() == 0 {
		t.Fatal("nothing counted as dropped")
	}
}
