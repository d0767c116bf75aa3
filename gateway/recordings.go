package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"sharpeyes/api"
	"sharpeyes/cases"
	"sharpeyes/configs"
	"sharpeyes/events"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// startRecording opens the segment index in the case store's database and
// starts the recorders' manager for this node.
func (g *Gateway) startRecording(ctx context.Context, cfg *configs.Config, node string) error {
	db, pg := g.cases.DB()
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	idx, err := recording.OpenIndex(ictx, db, pg)
	if err != nil {
		return err
	}
	r := cfg.Recording
	root := r.Path
	if root == "" {
		root = filepath.Join(cfg.DataDir, "recordings")
	}
	g.rec = recording.NewManager(recording.Config{Root: root, Node: node, Segment: time.Duration(r.SegmentSeconds) * time.Second,
		Part: r.PartSeconds.D(), MaxBytes: r.MaxBytes, MinFreeBytes: r.MinFreeBytes,
		EvidenceHold: time.Duration(r.EvidenceHoldDays) * 24 * time.Hour,
		Defaults:     registry.Recording{Mode: r.Mode, Stream: r.Stream, RetainDays: r.RetainDays, PreSeconds: r.PreSeconds, PostSeconds: r.PostSeconds},
		Logger:       g.log, OnStorageFull: g.storageFull, CaseHold: g.caseHold}, idx, g.manager)
	return g.rec.Start(ctx)
}

// recordingsOrNil is the manager as the API takes it (a nil interface
// without one).
func (g *Gateway) recordingsOrNil() api.Recordings {
	if g.rec == nil {
		return nil
	}
	return g.rec
}

// Recordings is the recorders' manager.
func (g *Gateway) Recordings() *recording.Manager { return g.rec }

// storageFull raises the gateway's own storage_full event on the cameras
// whose recording stopped.
func (g *Gateway) storageFull(cams []string) {
	if g.own == nil {
		return
	}
	at := time.Now()
	for _, id := range cams {
		g.own.push(events.Event{Source: "gateway", SourceEventID: fmt.Sprintf("%s/storage_full/%d", id, at.UnixMilli()), CameraID: id,
			Kind: events.StorageFull, Phase: events.PhasePulse, Time: at})
	}
}

// caseHold says whether a case still holds its evidence.
func (g *Gateway) caseHold(ctx context.Context, id string) (open bool, closed *time.Time, known bool) {
	cs, err := g.cases.Get(ctx, id)
	if err != nil {
		return false, nil, false
	}
	return cs.State.Open(), cs.ClosedAt, true
}

// followForRecording reads the outbox for what recording hears of:
// incidents starting and ending (events-mode recorders, clip ends) and
// incidents opening or joining cases (evidence clips). Every node reads
// it; holding a clip again changes nothing, and only this node's
// recorders hear of incidents.
func (g *Gateway) followForRecording(ctx context.Context) {
	after, _ := g.bus.LastSeq(ctx)
	for ctx.Err() == nil {
		msgs, err := g.bus.Messages(ctx, after, 500)
		if err != nil || len(msgs) == 0 {
			_ = g.bus.Wait(ctx, after)
			continue
		}
		for _, m := range msgs {
			after = m.Seq
			g.recordingHears(ctx, m)
		}
	}
}

func (g *Gateway) recordingHears(ctx context.Context, m events.Message) {
	switch {
	case m.Topic == "incident.opened" || m.Topic == "incident.reopened" || m.Topic == "incident.closed":
		var in events.Incident
		if json.Unmarshal(m.Body, &in) != nil {
			return
		}
		for _, cam := range in.Cameras {
			if m.Topic == "incident.closed" && in.EndedAt != nil {
				g.rec.Incident(cam, in.EndedAt)
				if c, ok := g.catalog.Get(cam); ok {
					p, _ := g.rec.PlanOf(c)
					if err := g.rec.IncidentEnded(ctx, in.ID, in.FirstSeen, *in.EndedAt, p.Post); err != nil {
						g.log.Warn("clip end not set", "incident", in.ID, "error", err)
					}
				}
			} else if m.Topic != "incident.closed" {
				g.rec.Incident(cam, nil)
			}
		}
	case m.Topic == "case.create" || m.Topic == "case.join":
		var row cases.AuditRow
		if json.Unmarshal(m.Body, &row) != nil {
			return
		}
		var d struct {
			Incident   string `json:"incident"`
			IncidentID string `json:"incident_id"`
		}
		_ = json.Unmarshal(row.Detail, &d)
		id := d.IncidentID
		if id == "" {
			id = d.Incident
		}
		if id == "" {
			return // a case filed by hand: no incident, no clip
		}
		in, err := g.events.Incident(ctx, id)
		if err != nil {
			return
		}
		cam, ok := g.catalog.Get(in.CameraID)
		if !ok || strings.TrimSpace(row.CaseID) == "" {
			return
		}
		if err := g.rec.HoldClip(ctx, row.CaseID, in.ID, cam, in.FirstSeen, in.EndedAt); err != nil {
			g.log.Warn("evidence clip not held", "case", row.CaseID, "incident", in.ID, "error", err)
		}
	}
}
