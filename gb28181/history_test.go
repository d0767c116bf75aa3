package gb28181

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
)

// stamps gathers the recorded times (camsim's SEI) of the frames a call
// sends, with when each arrived.
type stamps struct {
	mu      sync.Mutex
	at      []time.Time
	arrived []time.Time
}

func (s *stamps) frame(f ps.Frame) {
	if !f.Codec.IsVideo() {
		return
	}
	if t, ok := camsim.FindTimestamp(ps.SplitAnnexB(f.Data)); ok {
		s.mu.Lock()
		s.at, s.arrived = append(s.at, t), append(s.arrived, time.Now())
		s.mu.Unlock()
	}
}

func (s *stamps) get() ([]time.Time, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...), append([]time.Time(nil), s.arrived...)
}

// TestPlaybackAndDownloadOfAnNVRsRecording: a Playback of a 6-second
// window of a simulated NVR's recording sends frames stamped from the
// window's start to its end at real time, then MediaStatus 121 (Sent);
// Scale 4 (MANSRTSP PLAY in INFO) sends four recorded seconds a second;
// Range jumps within the window; a Download at speed 4 arrives four times
// faster and ends with 121; a window in the future or inverted is
// refused; a device that never says 121 leaves Sent open and Bye ends it.
func TestPlaybackAndDownloadOfAnNVRsRecording(t *testing.T) {
	s, _ := startServer(t, time.Minute, func(string) (Settings, bool) { return Settings{}, false })
	media, err := ListenMedia(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(media.Close)
	dev := startDevice(t, s, camsim.GBConfig{DeviceID: "32100300001110000071", Channels: 1, Clip: sharpeyes.MainClip})
	ch := dev.Config().ChannelID(1)
	// A window inside a recorded file: 20 minutes into the hour before last.
	from := time.Now().Truncate(time.Hour).Add(-time.Hour + 20*time.Minute)
	seq := 0
	call := func(session string, from, to time.Time, speed int) (*Call, *stamps) {
		t.Helper()
		seq++
		ssrc := sdp.HistorySSRC(domain, seq)
		n, _ := sdp.SDP{SSRC: ssrc}.SSRCNumber()
		st := &stamps{}
		stop, _ := media.Expect(n, st.frame)
		t.Cleanup(stop)
		c, err := s.History(context.Background(), dev.Config().DeviceID, ch, session, sdp.SDP{IP: "127.0.0.1", Port: media.Port(), Transport: "UDP", SSRC: ssrc}, from, to, speed)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Bye(context.Background()) })
		return c, st
	}

	// Playback at 1×: the window's frames, in order, then 121.
	pb, st := call("Playback", from, from.Add(6*time.Second), 0)
	select {
	case <-pb.Sent():
	case <-time.After(20 * time.Second):
		a, _ := st.get()
		t.Fatalf("no MediaStatus 121 at the end of the window (%d frames)", len(a))
	}
	at, arrived := st.get()
	if len(at) < 140 || at[0].Sub(from).Abs() > 40*time.Millisecond || at[len(at)-1].Sub(from.Add(6*time.Second)) > 0 ||
		from.Add(6*time.Second).Sub(at[len(at)-1]) > 100*time.Millisecond {
		t.Fatalf("%d frames, %v … %v, the window %v + 6 s", len(at), at[0], at[len(at)-1], from)
	}
	if took := arrived[len(arrived)-1].Sub(arrived[0]); took < 5*time.Second {
		t.Fatalf("6 recorded seconds arrived in %v at 1×", took)
	}
	if err := pb.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Scale 4, then a jump to 30 s into a 60 s window.
	pb, st = call("Playback", from, from.Add(60*time.Second), 0)
	waitFor(t, 5*time.Second, "the first frames", func() bool { a, _ := st.get(); return len(a) > 5 })
	if err := pb.Control(context.Background(), mansrtsp.Request{Method: mansrtsp.Play, Scale: 4}); err != nil {
		t.Fatal(err)
	}
	a0, w0 := st.get()
	time.Sleep(2 * time.Second)
	a1, w1 := st.get()
	rate := a1[len(a1)-1].Sub(a0[len(a0)-1]).Seconds() / w1[len(w1)-1].Sub(w0[len(w0)-1]).Seconds()
	if rate < 2.5 || rate > 6 { // four times faster, told from 1x with room for a loaded machine
		t.Fatalf("at Scale 4 the recording came at %.2f× real time", rate)
	}
	if err := pb.Control(context.Background(), mansrtsp.Request{Method: mansrtsp.Play, Range: 30, HasRange: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frames from 30 s in", func() bool {
		a, _ := st.get()
		last := a[len(a)-1].Sub(from)
		return last >= 30*time.Second && last < 40*time.Second
	})
	if err := pb.Control(context.Background(), mansrtsp.Request{Method: mansrtsp.Pause}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	p0, _ := st.get()
	time.Sleep(500 * time.Millisecond)
	if p1, _ := st.get(); len(p1) != len(p0) {
		t.Fatalf("%d frames came while paused", len(p1)-len(p0))
	}
	if c := dev.Controls(); len(c) != 3 {
		t.Fatalf("the device got %d controls: %q", len(c), c)
	}

	// Download at 4: 8 recorded seconds in about 2, then 121.
	dl, st := call("Download", from, from.Add(8*time.Second), 4)
	select {
	case <-dl.Sent():
	case <-time.After(20 * time.Second):
		t.Fatal("the Download never ended")
	}
	at, arrived = st.get()
	if took := arrived[len(arrived)-1].Sub(arrived[0]); len(at) < 190 || took > 6*time.Second || took < time.Second { // at 1x: 8 s
		t.Fatalf("a Download at 4: %d frames in %v", len(at), took)
	}
	if dl.Offer.DownloadSpeed != 4 || dl.Answer.Session != "Download" {
		t.Fatalf("offer %+v answer %+v", dl.Offer, dl.Answer)
	}

	// Bad windows.
	if _, err := s.History(context.Background(), dev.Config().DeviceID, ch, "Playback", sdp.SDP{IP: "127.0.0.1", Port: media.Port(), SSRC: sdp.HistorySSRC(domain, 90)},
		time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 0); !errors.Is(err, ErrRefused) {
		t.Fatalf("a window in the future: %v", err)
	}
	if _, err := s.History(context.Background(), dev.Config().DeviceID, ch, "Playback", sdp.SDP{}, from, from.Add(-time.Second), 0); !errors.Is(err, ErrConfig) {
		t.Fatalf("an inverted window: %v", err)
	}

	// A device that never says it is done: Sent stays open past the
	// window's end; Bye ends the call.
	mute := startDevice(t, s, camsim.GBConfig{DeviceID: "32100300001110000072", Channels: 1, Clip: sharpeyes.MainClip, NoMediaStatus: true})
	ssrc := sdp.HistorySSRC(domain, 99)
	c, err := s.History(context.Background(), mute.Config().DeviceID, mute.Config().ChannelID(1), "Playback",
		sdp.SDP{IP: "127.0.0.1", Port: media.Port(), Transport: "UDP", SSRC: ssrc}, from, from.Add(time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Sent():
		t.Fatal("Sent closed with no MediaStatus")
	case <-time.After(2500 * time.Millisecond):
	}
	if err := c.Bye(context.Background()); err != nil || mute.Byes() != 1 {
		t.Fatalf("Bye: %v, the device got %d", err, mute.Byes())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("the call is not done after its Bye")
	}
}
