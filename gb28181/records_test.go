package gb28181

import (
	"context"
	"errors"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/gb28181/manscdp"
)

func startRecordingNVR(t *testing.T, s *Server, id string, drop int) *camsim.GBDevice {
	t.Helper()
	return startDevice(t, s, camsim.GBConfig{DeviceID: id, Channels: 2, Keepalive: time.Second, RecordDrop: drop})
}

// TestRecordInfoGathersThePages: a six-hour query of a simulated NVR's
// channel is answered as 30 ten-minute files, one a MESSAGE;
// the query carries the range in the device's local time, and every file
// arrives, in order, at the times the device keeps (its zone read as
// the device's). An NVR that never sends its last page gets what came,
// marked incomplete, within the wait; a device not registered is told.
func TestRecordInfoGathersThePages(t *testing.T) {
	s, _ := startServer(t, time.Second, func(string) (Settings, bool) { return Settings{}, false })
	dev := startRecordingNVR(t, s, "32100300001110000051", 0)
	loc := dev.Config().Location
	to := time.Now().Truncate(time.Hour)
	from := to.Add(-6 * time.Hour)
	ch := dev.Config().ChannelID(1)
	recs, err := s.RecordInfo(context.Background(), dev.Config().DeviceID, ch, from, to, loc, 5*time.Second)
	if err != nil {
		t.Fatalf("%v (the device was asked %q)", err, dev.RecordQueries())
	}
	want := dev.Recordings(1, from, to)
	if !recs.Complete || recs.Sum != 30 || len(want) != 30 || len(recs.Items) != 30 {
		t.Fatalf("complete %v, sum %d, %d items; the device keeps %d", recs.Complete, recs.Sum, len(recs.Items), len(want))
	}
	for i, r := range recs.Items {
		if !r.Start.Equal(want[i].Start) || !r.End.Equal(want[i].End) || r.Type != "time" {
			t.Fatalf("item %d: %+v, the device's %+v", i, r, want[i])
		}
	}
	q := dev.RecordQueries()
	if len(q) != 1 || q[0] != ch+" "+from.In(loc).Format(manscdp.TimeLayout)+" "+to.In(loc).Format(manscdp.TimeLayout) {
		t.Fatalf("the device was asked %q", q)
	}

	// The last page never comes: what came, incomplete, in the wait's time.
	lossy := startRecordingNVR(t, s, "32100300001110000052", 1)
	start := time.Now()
	recs, err = s.RecordInfo(context.Background(), lossy.Config().DeviceID, lossy.Config().ChannelID(2), from, to, loc, time.Second)
	if err != nil || recs.Complete || recs.Sum != 30 || len(recs.Items) != 29 {
		t.Fatalf("lossy: %+v %v", recs, err)
	}
	if took := time.Since(start); took > 10*time.Second { // bounded by the wait, not hung
		t.Fatalf("the incomplete answer took %v (wait 1 s)", took)
	}
	// Nothing recorded in the range: an empty answer, complete.
	recs, err = s.RecordInfo(context.Background(), dev.Config().DeviceID, ch, to.Add(-10*24*time.Hour), to.Add(-9*24*time.Hour), loc, 5*time.Second)
	if err != nil || !recs.Complete || len(recs.Items) != 0 {
		t.Fatalf("before the device's oldest: %+v %v", recs, err)
	}
	if _, err := s.RecordInfo(context.Background(), "32100300001110000099", ch, from, to, loc, time.Second); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("an unregistered device: %v", err)
	}
	s.mu.Lock()
	left := len(s.records)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d RecordInfo queries left waiting", left)
	}
}
