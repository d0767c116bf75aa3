package recording

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// sweepEvery is how often footage is checked against its retention and the
// disk budget (and at once when a write fails).
const sweepEvery = 5 * time.Second

func (m *Manager) retention(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		m.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// sweepSoon asks for a sweep now (a write failed: the disk may be full).
func (m *Manager) sweepSoon() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// retainOf is how long a camera's footage is kept.
func (m *Manager) retainOf(camera string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.retain[camera]; ok && d > 0 {
		return d
	}
	return time.Duration(m.cfg.Defaults.RetainDays) * 24 * time.Hour
}

// usage is what recordings use on this node and what the disk has free.
func (m *Manager) usage(ctx context.Context) (used, free int64, err error) {
	seg, err := m.idx.Bytes(ctx, m.cfg.Node)
	if err != nil {
		return 0, 0, err
	}
	clips, err := m.idx.ClipBytes(ctx, m.cfg.Node)
	if err != nil {
		return 0, 0, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.cfg.Root, &st); err != nil {
		return seg + clips, -1, nil
	}
	return seg + clips, int64(st.Bavail) * int64(st.Bsize), nil
}

// over tells whether the disk budget is exceeded.
func (m *Manager) over(used, free int64) bool {
	return (m.cfg.MaxBytes > 0 && used > m.cfg.MaxBytes) || (m.cfg.MinFreeBytes > 0 && free >= 0 && free < m.cfg.MinFreeBytes)
}

// Sweep deletes footage past its camera's retention, then the oldest
// footage while the disk budget is exceeded. Evidence clips are files of
// their own, kept while their case holds them: no sweep deletes one. When
// the budget is exceeded and nothing more may go, recording stops (live
// video goes on) until there is room again.
func (m *Manager) Sweep(ctx context.Context) {
	now := time.Now()
	cams, err := m.idx.Cameras(ctx, m.cfg.Node)
	if err != nil {
		m.log.Warn("retention: cameras not listed", "error", err)
		return
	}
	for _, cam := range cams {
		for {
			old, err := m.idx.OlderThan(ctx, m.cfg.Node, cam, now.Add(-m.retainOf(cam)), 200)
			if err != nil || len(old) == 0 {
				break
			}
			for _, s := range old {
				m.drop(ctx, s, "older than its retention")
			}
		}
	}
	m.expireClips(ctx, now)
	full := false
	for {
		used, free, err := m.usage(ctx)
		if err != nil {
			m.log.Warn("retention: usage not read", "error", err)
			return
		}
		if !m.over(used, free) {
			break
		}
		oldest, err := m.idx.Oldest(ctx, m.cfg.Node, 20)
		if err != nil {
			return
		}
		if len(oldest) == 0 {
			full = true // only evidence and what is being written are left
			break
		}
		for _, s := range oldest {
			m.drop(ctx, s, "disk budget")
			if used, free, err = m.usage(ctx); err == nil && !m.over(used, free) {
				break
			}
		}
	}
	switch was := m.full.Swap(full); {
	case full && !was:
		cams := m.Recording()
		m.log.Warn("storage full: recording stopped, live video goes on", "cameras", len(cams))
		if m.cfg.OnStorageFull != nil {
			m.cfg.OnStorageFull(cams)
		}
	case !full && was:
		m.log.Info("room again: recording resumes")
	}
}

// drop deletes a segment's file and its index row.
func (m *Manager) drop(ctx context.Context, s Segment, why string) {
	if err := os.Remove(s.Path); err != nil && !os.IsNotExist(err) {
		m.log.Warn("segment not deleted", "path", s.Path, "error", err)
		return
	}
	if err := m.idx.Remove(ctx, s.ID); err != nil {
		m.log.Warn("segment not removed from the index", "segment", s.ID, "error", err)
		return
	}
	m.log.Debug("segment deleted", "camera", s.CameraID, "start", s.Start, "why", why)
	_ = os.Remove(filepath.Dir(s.Path)) // the day's directory, once empty
}
