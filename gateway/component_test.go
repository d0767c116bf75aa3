package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probe is a component that notes its start and close in a shared log.
type probe struct {
	name string
	log  *[]string
	fail bool
}

func (p *probe) Start(context.Context) error {
	if p.fail {
		return errors.New("no port")
	}
	*p.log = append(*p.log, "start "+p.name)
	return nil
}

func (p *probe) Close() { *p.log = append(*p.log, "close "+p.name) }

// TestPartsCloseInReverse: components close in reverse order of start; a
// component that failed to start is not closed, its error names it, and
// closing twice closes nothing again.
func TestPartsCloseInReverse(t *testing.T) {
	var log []string
	var p parts
	ctx := context.Background()
	for _, n := range []string{"registry", "bus", "ingest"} {
		if err := p.start(ctx, n, &probe{name: n, log: &log}); err != nil {
			t.Fatal(err)
		}
	}
	p.add("rtsp", running(func() { log = append(log, "close rtsp") }))
	err := p.start(ctx, "http", &probe{name: "http", log: &log, fail: true})
	if err == nil || !strings.HasPrefix(err.Error(), "http: ") {
		t.Fatalf("a failed start: %v", err)
	}
	p.close()
	p.close()
	want := "[start registry start bus start ingest close rtsp close ingest close bus close registry]"
	if fmt.Sprint(log) != want {
		t.Fatalf("got %v\nwant %s", log, want)
	}
}

// TestLoopEndsAndUnsticks: a loop's Close cancels its function and waits
// for it; one that does not end (etcd not answering) is unstuck, once,
// and then waited for.
func TestLoopEndsAndUnsticks(t *testing.T) {
	var ended atomic.Bool
	l := newLoop(func(ctx context.Context) {
		<-ctx.Done()
		ended.Store(true)
	}, func() { t.Error("a loop that ends was unstuck") })
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !ended.Load() {
		t.Fatal("Close returned before the loop ended")
	}

	release := make(chan struct{})
	var unstuck, done atomic.Int32
	stuck := newLoop(func(ctx context.Context) {
		<-release // ignores ctx, as a call to a silent etcd does
		done.Add(1)
	}, func() {
		unstuck.Add(1)
		close(release)
	})
	stuck.g.stuck = 50 * time.Millisecond
	if err := stuck.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stuck.Close()
	if unstuck.Load() != 1 || done.Load() != 1 {
		t.Fatalf("unstuck %d times, ended %d times", unstuck.Load(), done.Load())
	}
}
