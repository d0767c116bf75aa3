package camsim

import (
	"context"
	"time"

	"sharpeyes/gb28181/manscdp"
)

// The simulated NVR's recording index: every channel records its looped
// clip in files of ten minutes, fifty minutes of each hour (a gap from
// :50 to the hour, as an NVR's schedule or a disk rotation leaves), for
// the RecordDays before now. Its answers to RecordInfo are paged as
// devices page them (RecordPage files a MESSAGE, SumNum in each), in the
// device's local time (Location).

const (
	recordFile   = 10 * time.Minute
	recordedPart = 50 * time.Minute // of each hour
)

// RecordSpan is one recording file the simulated NVR keeps.
type RecordSpan struct {
	Start, End time.Time
}

// Recordings are the files channel keeps that overlap [from, to], in
// order (the index the device answers RecordInfo from).
func (d *GBDevice) Recordings(channel int, from, to time.Time) []RecordSpan {
	if channel < 1 || channel > d.cfg.Channels || !from.Before(to) {
		return nil
	}
	now := d.now()
	oldest := now.Add(-time.Duration(d.cfg.RecordDays) * 24 * time.Hour)
	from, to = maxT(from, oldest), minT(to, now)
	var out []RecordSpan
	for h := from.In(d.cfg.Location).Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		for f := h; f.Before(h.Add(recordedPart)); f = f.Add(recordFile) {
			span := RecordSpan{f, minT(f.Add(recordFile), now)}
			if span.End.After(from) && span.Start.Before(to) && span.End.After(span.Start) {
				out = append(out, span)
			}
		}
	}
	return out
}

func (d *GBDevice) now() time.Time { return time.Now().In(d.cfg.Location) }

// answerRecordInfo sends the files of the channel the query names over
// its range, RecordPage a MESSAGE (the last RecordDrop pages left out:
// a device whose answer never completes).
func (d *GBDevice) answerRecordInfo(ctx context.Context, m *manscdp.Message) {
	loc := d.cfg.Location
	from, err1 := manscdp.ParseTime(m.StartTime, loc)
	to, err2 := manscdp.ParseTime(m.EndTime, loc)
	ch := d.channelOf(m.DeviceID)
	var spans []RecordSpan
	if err1 == nil && err2 == nil && ch > 0 {
		spans = d.Recordings(ch, from, to)
	}
	d.mu.Lock()
	d.recordQueries = append(d.recordQueries, m.DeviceID+" "+m.StartTime+" "+m.EndTime)
	d.mu.Unlock()
	pages := max(1, (len(spans)+d.cfg.RecordPage-1)/d.cfg.RecordPage)
	for p := 0; p < pages-d.cfg.RecordDrop; p++ {
		var items []manscdp.RecordItem
		for _, s := range spans[min(p*d.cfg.RecordPage, len(spans)):min((p+1)*d.cfg.RecordPage, len(spans))] {
			items = append(items, manscdp.RecordItem{DeviceID: m.DeviceID, Name: "通道录像", FilePath: "/record/" + s.Start.Format("20060102150405") + ".ps",
				Address: "camsim", StartTime: s.Start.In(loc).Format(manscdp.TimeLayout), EndTime: s.End.In(loc).Format(manscdp.TimeLayout), Type: "time"})
		}
		if err := d.message(ctx, manscdp.RecordInfoPage(m.SN, m.DeviceID, "camsim NVR", len(spans), items)); err != nil {
			d.log.Warn("RecordInfo page not sent", "error", err)
			return
		}
	}
}

// RecordQueries are the RecordInfo queries the device was sent (channel,
// start and end as written).
func (d *GBDevice) RecordQueries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.recordQueries...)
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
