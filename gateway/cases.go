package gateway

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/cases"
	"sharpeyes/configs"
	"sharpeyes/events"
	"sharpeyes/ingest"
	"sharpeyes/outbound"
)

// openCases opens the events and cases database and builds the pipeline.
func (g *Gateway) openCases(cfg *configs.Config) error {
	loc, err := time.LoadLocation(cfg.Cases.Timezone)
	if err != nil {
		loc = time.FixedZone("CST", 8*3600) // no tzdata on the host: China has one offset and no DST
	}
	cal, err := cases.NewCalendar(loc, cfg.Cases.Holidays, cfg.Cases.Workdays)
	if err != nil {
		return fmt.Errorf("cases calendar: %w", err)
	}
	driver, dsn := "sqlite", filepath.Join(cfg.DataDir, "cases.db")
	if cfg.Cases.DB == "postgres" {
		driver, dsn = "pgx", cfg.Cases.DSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.cases, err = cases.Open(ctx, driver, dsn, cal)
	if err != nil {
		return err
	}
	db, pg := g.cases.DB()
	g.events, err = events.NewStore(ctx, db, pg, events.DefaultRules())
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
	if err := g.bus.Start(ctx); err != nil {
		return err
	}
	g.cal = cal
	if cfg.Cases.WebhookURL != "" {
		g.webhook = &outbound.Webhook{URL: cfg.Cases.WebhookURL, Secret: cfg.Cases.WebhookSecret, Outbox: g.events, Feed: g.bus, Log: g.log}
	}
	policy := cases.DefaultPolicy()
	for kind, p := range cfg.Cases.Policy { // validated in configs
		policy[kind] = cases.KindPolicy(p)
	}
	g.pipe = &cases.Pipeline{Events: g.events, Cases: g.cases, Policy: policy, Loc: loc, Place: g.Place}
	return nil
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

// emit turns a pulled camera's state changes into the gateway's own
// events, queued in order: offline start/end, and video_loss when media
// stops flowing.
func (g *Gateway) emit(cameraID string, st ingest.Status) {
	if g.pipe == nil || g.own == nil {
		return
	}
	at := st.Since
	mk := func(kind, phase string) events.Event {
		return events.Event{Source: "gateway", SourceEventID: fmt.Sprintf("%s/%s/%s/%d", cameraID, kind, phase, at.UnixMilli()),
			CameraID: cameraID, Kind: kind, Phase: phase, Time: at}
	}
	switch st.State {
	case ingest.StateOffline:
		if st.Stalled {
			g.own.push(mk(events.VideoLoss, events.PhaseStart))
		} else {
			g.own.push(mk(events.Offline, events.PhaseStart))
		}
	case ingest.StateOnline:
		g.own.push(mk(events.Offline, events.PhaseEnd), mk(events.VideoLoss, events.PhaseEnd))
	}
}

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

// runClock runs on one node at a time: it promotes outages, closes stale
// incidents, opens their cases and raises escalations (督办).
func (g *Gateway) runClock(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait() // leadership ends only once the webhook has stopped
	if g.webhook != nil {
		wg.Add(1)
		go func() { // one node delivers, so receivers see one ordered stream
			defer wg.Done()
			g.webhook.Run(ctx)
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
		if _, err := g.events.Tick(ctx, now); err != nil && ctx.Err() == nil {
			g.log.Warn("incident clock", "error", err)
		}
		if _, err := g.pipe.Reconcile(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("case reconcile", "error", err)
		}
		if n%6 == 0 { // every 30 s
			raised, err := g.cases.Escalate(ctx, g.cal, now)
			if err != nil && ctx.Err() == nil {
				g.log.Warn("sla clock", "error", err)
			}
			for _, c := range raised {
				g.log.Info("case escalated", "case", c.ID, "level", c.Escalation, "grid", c.Grid)
			}
		}
	}
}
