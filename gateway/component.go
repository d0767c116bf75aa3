package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// component is one part of a running node. Its constructor takes all it
// needs; Start brings it up (its context carries values, not the
// component's lifetime: a component runs until Close); Close stops it and
// returns once every goroutine it started has ended. The gateway starts
// its components in order and closes them in reverse.
type component interface {
	Start(ctx context.Context) error
	Close()
}

// parts are the components started so far, in the order they started.
type parts struct {
	log  *slog.Logger
	list []part
}

type part struct {
	name string
	c    component
}

// start starts c and, once it is up, adds it to the list; a component
// that fails to start is not closed (it has nothing running).
func (p *parts) start(ctx context.Context, name string, c component) error {
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p.list = append(p.list, part{name, c})
	return nil
}

// add lists a part that runs once made (see running).
func (p *parts) add(name string, c component) { p.list = append(p.list, part{name, c}) }

// close closes the components in reverse order of start.
func (p *parts) close() {
	for i := len(p.list) - 1; i >= 0; i-- {
		at := time.Now()
		p.list[i].c.Close()
		if p.log != nil {
			p.log.Debug("component closed", "component", p.list[i].name, "took", time.Since(at))
		}
	}
	p.list = nil
}

// running is a part that runs once made (a bound listener, a server that
// started in its constructor): Start has nothing to do, Close ends it.
type running func()

func (r running) Start(context.Context) error { return nil }
func (r running) Close()                      { r() }

// loop runs one function until Close. When the function does not end
// within stuckAfter of Close (it waits on etcd, which does not answer),
// unstick is called (closing the etcd client ends its calls) and Close
// waits again.
type loop struct {
	run     func(ctx context.Context)
	unstick func()
	g       group
}

// stuckAfter is how long Close waits for a loop before unsticking it.
const stuckAfter = 5 * time.Second

func newLoop(run func(ctx context.Context), unstick func()) *loop {
	return &loop{run: run, unstick: unstick}
}

func (l *loop) Start(ctx context.Context) error {
	l.g.begin(ctx)
	l.g.goRun(l.run)
	return nil
}

func (l *loop) Close() { l.g.stop(l.unstick) }

// waitOrUnstick waits for done; past after (stuckAfter when 0) it calls
// unstick (when there is one) and waits on.
func waitOrUnstick(done <-chan struct{}, unstick func(), after time.Duration) {
	if unstick == nil {
		<-done
		return
	}
	if after <= 0 {
		after = stuckAfter
	}
	t := time.NewTimer(after)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		unstick()
		<-done
	}
}

// group is a component's goroutines: started with go, ended with the
// context stop cancels, waited for by wait.
type group struct {
	stuck  time.Duration // how long stop waits before unsticking (0: stuckAfter)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (g *group) begin(ctx context.Context) {
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
}

func (g *group) goRun(f func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}

// stop cancels the goroutines' context and waits for them (unsticking
// them past stuckAfter when unstick is set).
func (g *group) stop(unstick func()) {
	if g.cancel == nil {
		return
	}
	g.cancel()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	waitOrUnstick(done, unstick, g.stuck)
}
