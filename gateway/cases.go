package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/outbound"
)

// startCases opens the events and cases database, builds the pipeline
// and starts the node's bus and the queue of the gateway's own events.
func (g *Gateway) startCases(ctx context.Context) error {
	cfg := g.cfg
	loc := g.location()
	cal, err := cases.NewCalendar(loc, cfg.Cases.Holidays, cfg.Cases.Workdays)
	if err != nil {
		return fmt.Errorf("cases calendar: %w", err)
	}
	driver, dsn := "sqlite", filepath.Join(cfg.DataDir, "cases.db")
	if cfg.Cases.DB == "postgres" {
		driver, dsn = "pgx", cfg.Cases.DSN
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	store, err := cases.Open(octx, driver, dsn, cal)
	if err != nil {
		return err
	}
	g.cases = store
	g.parts.add("cases", running(func() { _ = store.Close() }))
	db, pg := g.cases.DB()
	rules := events.DefaultRules()
	rules.MinOutage, rules.MergeWindow, rules.SiteWindow = cfg.Events.MinOutage.D(), cfg.Events.MergeWindow.D(), cfg.Events.SiteWindow.D()
	g.events, err = events.NewStore(octx, db, pg, rules)
	if err != nil {
		return err
	}
	// One reader of the outbox for the node: the event streams, the
	// notifications, the recorders, the cascade and the webhook read it.
	busCfg := events.BusConfig{Logger: g.log}
	if pg {
		// In a cluster every node's commits wake every bus; reading every
		// 200 ms is only the safety net then.
		busCfg.Every, busCfg.Settle = 2*time.Second, events.OutboxGrace+100*time.Millisecond
		busCfg.Listen = func(ctx context.Context, notify func()) error { return events.ListenOutbox(ctx, db, notify) }
	}
	g.bus = events.NewBus(g.events, busCfg)
	if err := g.parts.start(octx, "bus", g.bus); err != nil {
		return err
	}
	g.cal = cal
	if cfg.Cases.WebhookURL != "" {
		g.webhook = &outbound.Webhook{URL: cfg.Cases.WebhookURL, Secret: cfg.Cases.WebhookSecret, Outbox: g.events, Feed: g.bus, Log: g.log}
	}
	policy := cases.DefaultPolicy()
	for _, kind := range []string{events.Offline, events.VideoLoss} { // the repair loop's
		p := policy[kind]
		p.After = cfg.Health.FaultAfter.D()
		policy[kind] = p
	}
	for kind, p := range cfg.Cases.Policy { // validated in configs
		policy[kind] = cases.KindPolicy{OpensCase: p.OpensCase, Category: p.Category, Priority: p.Priority, LimitDays: p.LimitDays,
			NightOnly: p.NightOnly, After: p.After.D(), DispatchTo: p.DispatchTo, OnReturn: p.OnReturn}
	}
	g.pipe = &cases.Pipeline{Events: g.events, Cases: g.cases, Policy: policy, Loc: loc, Place: g.Place,
		Holder: func(cell, role string) string { return g.grids.Index().Holder(cell, role) }, Why: g.whyDown}
	g.own = newOwnEvents(g.recordOwn, g.log)
	return g.parts.start(ctx, "own events", g.own)
}

// location is the street's time zone (cases.timezone): days of reports,
// case deadlines, and the local time GB/T 28181 devices write.
func (g *Gateway) location() *time.Location {
	loc, err := time.LoadLocation(g.cfg.Cases.Timezone)
	if err != nil {
		loc = time.FixedZone("CST", 8*3600) // no tzdata on the host: China has one offset and no DST
	}
	return loc
}

// Place describes a camera for cases: its name, base cell and location.
func (g *Gateway) Place(cameraID string) cases.Place {
	cam, ok := g.catalog.Get(cameraID)
	if !ok {
		return cases.Place{Name: cameraID}
	}
	p := cases.Place{Name: cam.Name, Grid: cam.Grid}
	if cam.Location != nil {
		lat, lon := cam.Location.Lat, cam.Location.Lon
		p.Lat, p.Lon = &lat, &lon
		if p.Grid == "" {
			p.Grid, _ = g.grids.Index().Locate(orb.Point{lon, lat})
		}
	}
	return p
}

// whyDown is why a camera is offline as its status says (a pull's or a
// probe's reason; "" when it is not offline or not known here).
func (g *Gateway) whyDown(cameraID string) string {
	if g.manager == nil {
		return ""
	}
	st, err := g.manager.Status(cameraID)
	if err != nil || st.State != ingest.StateOffline {
		return ""
	}
	return st.OfflineReason()
}

// linker links events to grid cells from the camera catalog.
func (g *Gateway) linker() events.Linker {
	return events.Linker{Index: g.grids.Index, Camera: func(id string) (events.Place, bool) {
		cam, ok := g.catalog.Get(id)
		if !ok {
			return events.Place{}, false
		}
		p := events.Place{Grid: cam.Grid}
		if u, err := url.Parse(cam.Streams.Main); err == nil {
			p.Site = u.Hostname()
		}
		if cam.Location != nil {
			p.Lat, p.Lon = &cam.Location.Lat, &cam.Location.Lon
		}
		return p, true
	}}
}

// Cells are the grid cells an event belongs to and its camera's site.
func (g *Gateway) Cells(e events.Event) ([]string, string) { return g.linker().Cells(e) }

// recordOwn records one of the gateway's own events through the pipeline.
func (g *Gateway) recordOwn(ctx context.Context, e events.Event) error {
	if err := e.Normalize(time.Now()); err != nil {
		g.log.Warn("own event invalid", "camera", e.CameraID, "kind", e.Kind, "error", err)
		return nil // nothing a retry would change
	}
	cells, site := g.Cells(e)
	_, err := g.pipe.Intake(ctx, e, cells, site)
	return err
}

// startClock runs the clock on one node at a time (the "clock" election).
func (g *Gateway) startClock(ctx context.Context) error {
	c := &clock{events: g.events, pipe: g.pipe, cases: g.cases, cal: g.cal, webhook: g.webhook, log: g.log,
		settle: max(g.cfg.Health.BackAfter.D(), g.cfg.Events.MergeWindow.D())}
	if g.history != nil {
		c.health = g.history.store
	}
	return g.parts.start(ctx, "clock", newLoop(func(ctx context.Context) {
		g.store.Lead(ctx, "clock", g.self.ID, g.cfg.Registry.LeaseTTL.D(), c.run)
	}, g.unstick))
}

// clock promotes outages, closes stale incidents, opens their cases
// (a camera fault once it lasted health.fault_after), tells them when
// their cameras are back, and raises escalations (督办); while it runs, this node delivers the
// webhook, so receivers see one ordered stream.
type clock struct {
	events  *events.Store
	pipe    *cases.Pipeline
	cases   *cases.Store
	cal     *cases.Calendar
	webhook *outbound.Webhook // nil: none
	log     *slog.Logger
	// health tells whether cameras are back (their last recorded state);
	// settle is how long an outage has ended before its case is told.
	health *health.Store
	settle time.Duration
}

// returns tells the cases of outages that ended settle ago that their
// cameras are back (each camera's last recorded health online).
func (c *clock) returns(ctx context.Context, now time.Time) {
	var last map[string][]health.Change
	if c.health != nil {
		var err error
		if last, err = c.health.History(ctx, now, now); err != nil {
			c.log.Warn("repair loop: health history", "error", err)
			return
		}
	}
	up := func(id string) bool {
		if last == nil {
			return true
		}
		ch := last[id]
		return len(ch) > 0 && ch[len(ch)-1].State == health.Online
	}
	n, err := c.pipe.Returns(ctx, c.settle, up)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("repair loop", "error", err)
	}
	if n > 0 {
		c.log.Info("cameras back: their cases told", "cases", n)
	}
}

func (c *clock) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait() // leadership ends only once the webhook has stopped
	if c.webhook != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.webhook.Run(ctx)
		}()
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if _, err := c.events.Tick(ctx, now); err != nil && ctx.Err() == nil {
			c.log.Warn("incident clock", "error", err)
		}
		if _, err := c.pipe.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("case reconcile", "error", err)
		}
		c.returns(ctx, now)
		if n%6 == 0 { // every 30 s
			raised, err := c.cases.Escalate(ctx, c.cal, now)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("sla clock", "error", err)
			}
			for _, cs := range raised {
				c.log.Info("case escalated", "case", cs.ID, "level", cs.Escalation, "grid", cs.Grid)
			}
		}
	}
}
