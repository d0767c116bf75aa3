package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"sharpeyes/model"
	"sharpeyes/sqlstore"
)

// Clip states.
const (
	ClipPending = "pending" // waiting for its footage (the incident goes on, or the post-roll)
	ClipReady   = "ready"   // made: its bytes and SHA-256 are fixed
	ClipEmpty   = "empty"   // nothing was recorded in its range
	ClipFailed  = "failed"
	ClipExpired = "expired" // its case closed more than evidence_hold_days ago
)

// MaxClip bounds a clip: an incident that lasts longer (a camera offline
// for days) keeps its first MaxClip after the pre-roll.
const MaxClip = 10 * time.Minute

// Clip is an evidence clip of a case: one incident's footage, pre-roll to
// post-roll, made once into a file of its own.
type Clip struct {
	ID         string    `json:"id"`
	CaseID     string    `json:"case_id"`
	IncidentID string    `json:"incident_id"`
	CameraID   string    `json:"camera_id"`
	Stream     string    `json:"stream"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	State      string    `json:"state"`
	Bytes      int64     `json:"bytes"`
	SHA256     string    `json:"sha256"`
	Node       string    `json:"node"`
	Error      string    `json:"error,omitempty"`
	Created    time.Time `json:"created"`
	// Provenance says where footage not recorded by the gateway came from
	// (the device, its channel and the window it was asked for); empty
	// for the gateway's own.
	Provenance string `json:"provenance,omitempty"`
	due        time.Time
	path       string
}

const clipColumns = `id, case_id, incident_id, camera_id, stream, start_ms, end_ms, due_ms, state, bytes, sha256, path, node, error, created_ms, provenance`

func scanClip(r sqlstore.Scanner) (Clip, error) {
	var c Clip
	var start, end, due, created int64
	err := r.Scan(&c.ID, &c.CaseID, &c.IncidentID, &c.CameraID, &c.Stream, &start, &end, &due, &c.State, &c.Bytes, &c.SHA256,
		&c.path, &c.Node, &c.Error, &created, &c.Provenance)
	c.Start, c.End, c.due, c.Created = time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC(), time.UnixMilli(due).UTC(), time.UnixMilli(created).UTC()
	return c, err
}

// Clips lists a case's clips, oldest first.
func (ix *Index) Clips(ctx context.Context, caseID string) ([]Clip, error) {
	return sqlstore.Collect(ctx, ix.db, ix.q(`SELECT `+clipColumns+` FROM case_clips WHERE case_id = ? ORDER BY created_ms, id`),
		[]any{caseID}, scanClip)
}

// ClipOf reads one clip of a case.
func (ix *Index) ClipOf(ctx context.Context, caseID, id string) (Clip, error) {
	c, err := scanClip(ix.db.QueryRowContext(ctx, ix.q(`SELECT `+clipColumns+` FROM case_clips WHERE case_id = ? AND id = ?`), caseID, id))
	if errNoRows(err) {
		return Clip{}, fmt.Errorf("clip %s: %w", id, ErrNotFound)
	}
	return c, err
}

// ClipBytes is the size of node's clips on disk.
func (ix *Index) ClipBytes(ctx context.Context, node string) (int64, error) {
	var n *int64
	err := ix.db.QueryRowContext(ctx, ix.q(`SELECT SUM(bytes) FROM case_clips WHERE node = ? AND state = ?`), node, ClipReady).Scan(&n)
	if n == nil {
		return 0, err
	}
	return *n, err
}

// HoldClip makes sure an incident's clip is held with its case: made once
// its footage is all there (post-roll after the incident ends), kept while
// the case holds it. Holding it again changes nothing.
func (m *Manager) HoldClip(ctx context.Context, caseID, incidentID string, cam model.Camera, started time.Time, ended *time.Time) error {
	p, _ := m.PlanOf(cam)
	c := Clip{ID: newID("clip-"), CaseID: caseID, IncidentID: incidentID, CameraID: cam.ID, Stream: p.Stream,
		Start: started.Add(-p.Pre).UTC(), State: ClipPending, Created: time.Now().UTC()}
	c.End, c.due = clipEnd(started, ended, p.Post)
	_, err := m.idx.db.ExecContext(ctx, m.idx.q(`INSERT INTO case_clips (`+clipColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (case_id, incident_id) DO NOTHING`),
		c.ID, c.CaseID, c.IncidentID, c.CameraID, c.Stream, ms(c.Start), ms(c.End), ms(c.due), c.State, 0, "", "", "", "", ms(c.Created), "")
	return err
}

// HoldWindowClip holds a clip a person asked for on a case: cam's
// footage of [start, end] (at most MaxClip), made once end is past (from
// the gateway's disk, else from the camera's device). It answers the
// pending clip.
func (m *Manager) HoldWindowClip(ctx context.Context, caseID, who string, cam model.Camera, start, end time.Time) (Clip, error) {
	if !start.Before(end) || end.Sub(start) > MaxClip {
		return Clip{}, fmt.Errorf("%w: a clip is from 1 s to %v long", ErrBadRange, MaxClip)
	}
	p, _ := m.PlanOf(cam)
	c := Clip{ID: newID("clip-"), CaseID: caseID, IncidentID: "asked:" + newID(""), CameraID: cam.ID, Stream: p.Stream,
		Start: start.UTC(), End: end.UTC(), State: ClipPending, Created: time.Now().UTC()}
	c.due = maxTime(end, time.Now()).Add(2 * time.Second).UTC() // the last fragment synced
	_, err := m.idx.db.ExecContext(ctx, m.idx.q(`INSERT INTO case_clips (`+clipColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		c.ID, c.CaseID, c.IncidentID, c.CameraID, c.Stream, ms(c.Start), ms(c.End), ms(c.due), c.State, 0, "", "", "", "", ms(c.Created), "")
	if err != nil {
		return Clip{}, err
	}
	m.log.Info("evidence clip asked for", "case", caseID, "camera", cam.ID, "by", who, "from", c.Start, "to", c.End)
	return c, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// clipEnd is where a clip ends and when its footage is due: post after
// the incident ended, or (while it goes on) MaxClip after it started.
func clipEnd(started time.Time, ended *time.Time, post time.Duration) (end, due time.Time) {
	end = started.Add(MaxClip)
	if ended != nil && ended.Add(post).Before(end) {
		end = ended.Add(post)
	}
	return end.UTC(), end.Add(2 * time.Second).UTC() // the last fragment synced
}

// IncidentEnded fixes the end of the pending clips of an incident.
func (m *Manager) IncidentEnded(ctx context.Context, incidentID string, started, ended time.Time, post time.Duration) error {
	end, due := clipEnd(started, &ended, post)
	_, err := m.idx.db.ExecContext(ctx, m.idx.q(`UPDATE case_clips SET end_ms = ?, due_ms = ? WHERE incident_id = ? AND state = ?`),
		ms(end), ms(due), incidentID, ClipPending)
	return err
}

// MakeDueClips makes the pending clips whose footage is all there and on
// this node's disk.
func (m *Manager) MakeDueClips(ctx context.Context) {
	due, err := sqlstore.Collect(ctx, m.idx.db, m.idx.q(`SELECT `+clipColumns+` FROM case_clips WHERE state = ? AND due_ms <= ? ORDER BY due_ms LIMIT 20`),
		[]any{ClipPending, ms(time.Now())}, scanClip)
	if err != nil {
		m.log.Warn("clips not listed", "error", err)
		return
	}
	for _, c := range due {
		if err := m.makeClip(ctx, c); err != nil && !errors.Is(err, ErrOtherNode) {
			m.log.Warn("clip not made", "clip", c.ID, "case", c.CaseID, "error", err)
		}
	}
}

func (m *Manager) makeClip(ctx context.Context, c Clip) error {
	win, _, err := m.Resolve(ctx, c.CameraID, c.Stream, c.Start, c.End.Sub(c.Start))
	switch {
	case errors.Is(err, ErrOtherNode):
		return err // that node makes it
	case errors.Is(err, ErrNoFootage) && m.cfg.DeviceFootage != nil:
		return m.makeDeviceClip(ctx, c) // the gateway recorded none: its device may have
	case errors.Is(err, ErrNoFootage):
		return m.finishClip(ctx, c.ID, ClipEmpty, 0, "", "", "nothing was recorded from the pre-roll to the post-roll")
	case err != nil:
		return m.finishClip(ctx, c.ID, ClipFailed, 0, "", "", err.Error())
	}
	return m.writeClip(ctx, c, func(w io.Writer) (string, error) { return "", m.WriteMP4(ctx, w, win) })
}

// makeDeviceClip fetches the clip's window from the camera's device (a
// GB/T 28181 Download), into a file of its own with its SHA-256 and its
// provenance.
func (m *Manager) makeDeviceClip(ctx context.Context, c Clip) error {
	return m.writeClip(ctx, c, func(w io.Writer) (string, error) {
		return m.cfg.DeviceFootage(ctx, c.CameraID, c.Start, c.End, w)
	})
}

// writeClip writes a clip's file with write (which says the footage's
// provenance), then its state, bytes and SHA-256.
func (m *Manager) writeClip(ctx context.Context, c Clip, write func(w io.Writer) (string, error)) error {
	path := filepath.Join(m.cfg.Root, "clips", safe(c.CaseID), c.ID+".mp4")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	h := sha256.New()
	n := &counter{}
	prov, err := write(io.MultiWriter(f, h, n))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		switch {
		case errors.Is(err, ErrOtherNode):
			return err // the node that reaches the device makes it
		case errors.Is(err, ErrNoFootage):
			return m.finishClip(ctx, c.ID, ClipEmpty, 0, "", "", "nothing was recorded from the pre-roll to the post-roll", prov)
		}
		return m.finishClip(ctx, c.ID, ClipFailed, 0, "", "", err.Error(), prov)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	m.log.Info("evidence clip made", "case", c.CaseID, "camera", c.CameraID, "bytes", n.n, "sha256", sum, "from", prov)
	return m.finishClip(ctx, c.ID, ClipReady, n.n, sum, path, "", prov)
}

func (m *Manager) finishClip(ctx context.Context, id, state string, bytes int64, sum, path, why string, provenance ...string) error {
	prov := ""
	if len(provenance) > 0 {
		prov = provenance[0]
	}
	_, err := m.idx.db.ExecContext(ctx, m.idx.q(`UPDATE case_clips SET state = ?, bytes = ?, sha256 = ?, path = ?, node = ?, error = ?, provenance = ? WHERE id = ?`),
		state, bytes, sum, path, m.cfg.Node, why, prov, id)
	return err
}

// OpenClip opens a ready clip's file (on this node).
func (m *Manager) OpenClip(c Clip) (*os.File, error) {
	if c.State != ClipReady {
		return nil, fmt.Errorf("%w: %s", ErrClipNotReady, c.State)
	}
	if c.Node != m.cfg.Node {
		return nil, ErrOtherNode
	}
	return os.Open(c.path)
}

// CaseHold says how long a case holds its clips: while open, and until
// closed plus evidence_hold_days after (nil: the case is unknown).
type CaseHold func(ctx context.Context, caseID string) (open bool, closed *time.Time, known bool)

// expireClips deletes the clips of cases closed more than the hold ago
// (or gone).
func (m *Manager) expireClips(ctx context.Context, now time.Time) {
	if m.cfg.CaseHold == nil {
		return
	}
	ready, err := sqlstore.Collect(ctx, m.idx.db, m.idx.q(`SELECT `+clipColumns+` FROM case_clips WHERE node = ? AND state = ?`),
		[]any{m.cfg.Node, ClipReady}, scanClip)
	if err != nil {
		return
	}
	for _, c := range ready {
		open, closed, known := m.cfg.CaseHold(ctx, c.CaseID)
		if open || (known && (closed == nil || now.Sub(*closed) < m.cfg.EvidenceHold)) {
			continue
		}
		if err := os.Remove(c.path); err != nil && !os.IsNotExist(err) {
			continue
		}
		_ = m.finishClip(ctx, c.ID, ClipExpired, 0, c.SHA256, "", "its case closed more than evidence_hold_days ago")
		m.log.Info("evidence clip expired", "case", c.CaseID, "clip", c.ID)
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
