package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"sharpeyes/api"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// startRecording opens the segment index in the case store's database and
// starts the recorders' manager for this node.
func (g *Gateway) startRecording(ctx context.Context) error {
	cfg := g.cfg
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
	g.rec = recording.NewManager(recording.Config{Root: root, Node: g.self.ID, Segment: time.Duration(r.SegmentSeconds) * time.Second,
		Part: r.PartSeconds.D(), MaxBytes: r.MaxBytes, MinFreeBytes: r.MinFreeBytes,
		EvidenceHold: time.Duration(r.EvidenceHoldDays) * 24 * time.Hour,
		Defaults:     registry.Recording{Mode: r.Mode, Stream: r.Stream, RetainDays: r.RetainDays, PreSeconds: r.PreSeconds, PostSeconds: r.PostSeconds},
		Logger:       g.log, OnStorageFull: g.own.storageFull, CaseHold: g.caseHold, DeviceFootage: g.deviceFootage}, idx, g.manager)
	return g.parts.start(ctx, "recording", g.rec) // segments closed before the pulls stop
}

// deviceFootage fetches an evidence clip's window from a GB/T 28181
// channel's own device when the gateway recorded none of it (the SIP
// side is made before recording starts; until its devices register the
// clip waits, as for footage on another node).
func (g *Gateway) deviceFootage(ctx context.Context, cameraID string, from, to time.Time, w io.Writer) (string, error) {
	gb := g.gb
	cam, ok := g.catalog.Get(cameraID)
	if gb == nil || !ok || cam.GB == nil {
		return "", fmt.Errorf("%w: camera %s has no device of its own", recording.ErrNoFootage, cameraID)
	}
	return gb.DownloadDevice(ctx, cam, from, to, w)
}

// recordingsOrNil is the manager as the API takes it (a nil interface
// without one).
func (g *Gateway) recordingsOrNil() api.Recordings {
	if g.rec == nil {
		return nil
	}
	return recordingsAPI{g.rec, g.rec.Index()}
}

// recordingsAPI is the recorders' manager and its index (spans, clips,
// the access log), as the API reads them.
type recordingsAPI struct {
	*recording.Manager
	*recording.Index
}

// Recordings is the recorders' manager.
func (g *Gateway) Recordings() *recording.Manager { return g.rec }

// caseHold says whether a case still holds its evidence.
func (g *Gateway) caseHold(ctx context.Context, id string) (open bool, closed *time.Time, known bool) {
	cs, err := g.cases.Get(ctx, id)
	if err != nil {
		return false, nil, false
	}
	return cs.State.Open(), cs.ClosedAt, true
}

// recordingFollower reads the bus for what recording hears of:
// incidents starting and ending (events-mode recorders, clip ends) and
// incidents opening or joining cases (evidence clips). Every node reads
// it; holding a clip again changes nothing, and only this node's
// recorders hear of incidents.
type recordingFollower struct {
	bus     *events.Bus
	rec     *recording.Manager
	events  *events.Store
	catalog *registry.Catalog
	log     *slog.Logger
	g       group
}

func (f *recordingFollower) Start(ctx context.Context) error {
	f.g.begin(ctx)
	f.g.goRun(f.follow)
	return nil
}

func (f *recordingFollower) Close() { f.g.stop(nil) }

func (f *recordingFollower) follow(ctx context.Context) {
	after, _ := f.bus.LastSeq(ctx)
	for ctx.Err() == nil {
		msgs, err := f.bus.Messages(ctx, after, 500)
		if err != nil || len(msgs) == 0 {
			_ = f.bus.Wait(ctx, after)
			continue
		}
		for _, m := range msgs {
			after = m.Seq
			f.hears(ctx, m)
		}
	}
}

func (f *recordingFollower) hears(ctx context.Context, m events.Message) {
	switch {
	case m.Topic == "incident.opened" || m.Topic == "incident.reopened" || m.Topic == "incident.closed":
		var in events.Incident
		if json.Unmarshal(m.Body, &in) != nil {
			return
		}
		for _, cam := range in.Cameras {
			if m.Topic == "incident.closed" && in.EndedAt != nil {
				f.rec.Incident(cam, in.EndedAt)
				if c, ok := f.catalog.Get(cam); ok {
					p, _ := f.rec.PlanOf(c)
					if err := f.rec.IncidentEnded(ctx, in.ID, in.FirstSeen, *in.EndedAt, p.Post); err != nil {
						f.log.Warn("clip end not set", "incident", in.ID, "error", err)
					}
				}
			} else if m.Topic != "incident.closed" {
				f.rec.Incident(cam, nil)
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
		in, err := f.events.Incident(ctx, id)
		if err != nil {
			return
		}
		cam, ok := f.catalog.Get(in.CameraID)
		if !ok || strings.TrimSpace(row.CaseID) == "" {
			return
		}
		if err := f.rec.HoldClip(ctx, row.CaseID, in.ID, cam, in.FirstSeen, in.EndedAt); err != nil {
			f.log.Warn("evidence clip not held", "case", row.CaseID, "incident", in.ID, "error", err)
		}
	}
}
