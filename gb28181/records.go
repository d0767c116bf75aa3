package gb28181

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"sharpeyes/gb28181/manscdp"
)

// Record is a span of footage a device keeps for a channel.
type Record struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Type     string    `json:"type,omitempty"` // time, alarm, manual (as the device says)
	FilePath string    `json:"file_path,omitempty"`
	Name     string    `json:"name,omitempty"`
}

// Records is a device's answer to RecordInfo: its spans in order, and
// whether every page it announced (SumNum) came.
type Records struct {
	Items    []Record `json:"items"`
	Sum      int      `json:"sum"`      // the recordings the device said it has
	Complete bool     `json:"complete"` // every one of them arrived
}

// recordRun gathers one RecordInfo answer's pages (by SN).
type recordRun struct {
	device, channel string
	loc             *time.Location
	sum             int
	items           []Record
	pages           int
	done            chan struct{}
	closed          bool // every announced recording came
	stopped         bool // out of pages: what came is the answer
	bad             int  // items whose times could not be read
}

// MaxRecords bounds the items kept of one RecordInfo answer (a month of
// hourly files of one channel is 744).
const MaxRecords = 10_000

// maxRecordPages bounds the MESSAGEs one answer may take.
const maxRecordPages = 2_000

// RecordInfo asks device for channel's recordings over [from, to]
// (times in loc, the device's zone) and gathers the pages of its answer
// until every announced recording came, ctx ends or wait passes: what
// came is returned, Complete false when some did not. A device that is
// not registered is ErrNotRegistered; one that answers nothing at all
// within wait is ErrNoAnswer.
func (s *Server) RecordInfo(ctx context.Context, device, channel string, from, to time.Time, loc *time.Location, wait time.Duration) (Records, error) {
	if loc == nil {
		loc = time.Local
	}
	if wait <= 0 {
		wait = s.cfg.CatalogWait
	}
	s.mu.Lock()
	if _, ok := s.live[device]; !ok {
		s.mu.Unlock()
		return Records{}, fmt.Errorf("%w: %s", ErrNotRegistered, device)
	}
	s.sn++
	sn := s.sn
	run := &recordRun{device: device, channel: channel, loc: loc, sum: -1, done: make(chan struct{})}
	if s.records == nil {
		s.records = map[int]*recordRun{}
	}
	s.records[sn] = run
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.records, sn)
		s.mu.Unlock()
	}()
	if err := s.Message(ctx, device, device, manscdp.RecordInfoQuery(sn, channel, from, to, loc)); err != nil {
		return Records{}, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-run.done:
	case <-timer.C:
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	s.mu.Lock()
	out := Records{Items: append([]Record(nil), run.items...), Sum: max(run.sum, 0), Complete: run.closed}
	pages, bad := run.pages, run.bad
	s.mu.Unlock()
	if pages == 0 {
		return Records{}, fmt.Errorf("%w: RecordInfo of %s within %v", ErrNoAnswer, channel, wait)
	}
	if !out.Complete {
		s.log.Warn("RecordInfo incomplete", "device", device, "channel", channel, "got", len(out.Items), "of", out.Sum)
	}
	if bad > 0 {
		s.log.Warn("RecordInfo items with times not read", "device", device, "channel", channel, "items", bad)
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Start.Before(out.Items[j].Start) })
	if out.Items == nil {
		out.Items = []Record{}
	}
	return out, nil
}

// recordPage takes a page of a RecordInfo answer: only of a query this
// server sent that device (its SN), at most MaxRecords items and
// maxRecordPages pages.
func (s *Server) recordPage(device string, m *manscdp.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.records[m.SN]
	if run == nil || run.device != device || run.closed || run.stopped {
		s.log.Debug("RecordInfo page of no query let be", "device", device, "sn", m.SN)
		return
	}
	run.pages++
	run.sum = min(max(m.SumNum, 0), MaxRecords)
	if m.RecordList != nil {
		for _, it := range m.RecordList.Items {
			if len(run.items) >= MaxRecords {
				break
			}
			start, err1 := manscdp.ParseTime(it.StartTime, run.loc)
			end, err2 := manscdp.ParseTime(it.EndTime, run.loc)
			if err1 != nil || err2 != nil || !end.After(start) {
				run.bad++
				continue
			}
			run.items = append(run.items, Record{Start: start, End: end, Type: strings.TrimSpace(it.Type), FilePath: it.FilePath, Name: it.Name})
		}
	}
	switch {
	case len(run.items)+run.bad >= run.sum:
		run.closed = true
		close(run.done)
	case run.pages >= maxRecordPages:
		run.stopped = true
		close(run.done)
	}
}
