package cascade_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/cascade"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/sdp"
)

// frameStep is the fake footage's frame interval (25 fps).
const frameStep = 40 * time.Millisecond

// footage is the gateway's recorded footage of a camera as the fixture
// keeps it: over each of its spans the test clip looped from the span's
// start (a keyframe every 50 frames), each frame stamped (SEI) with the
// time it was recorded.
func (f *fixture) footage(ctx context.Context, camera string, from, to time.Time, each func(cascade.Frame) error) error {
	clip, err := camsim.ParseClip(sharpeyes.SubClip)
	if err != nil {
		return err
	}
	for _, sp := range f.spans[camera] {
		if !sp.End.After(from) || !sp.Start.Before(to) {
			continue
		}
		n := 0
		if from.After(sp.Start) {
			n = int(from.Sub(sp.Start) / frameStep)
			n -= n % 50 // from the keyframe at or before from
		}
		for ; ; n++ {
			at := sp.Start.Add(time.Duration(n) * frameStep)
			if !at.Before(sp.End) || !at.Before(to) {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			unit := clip.Units[n%len(clip.Units)]
			fr := cascade.Frame{At: at, Key: n%50 == 0, NALUs: append([][]byte{camsim.TimestampSEI(at)}, unit...)}
			if err := each(fr); err != nil {
				return err
			}
		}
	}
	return nil
}

// psBuffer gathers what a platform call receives.
type psBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (p *psBuffer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.Write(b)
}

func (p *psBuffer) Bytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.b.Bytes()...)
}

// historyFixture is a street sharing c1 and c2, with footage of c1 and
// c3 over the last half hour (a gap of a minute in c1's).
func historyFixture(t *testing.T) (*fixture, time.Time) {
	t.Helper()
	f := start(t, 3, platform(2))
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	f.spans["c1"] = []cascade.Span{{Start: base, End: base.Add(10 * time.Minute)}, {Start: base.Add(11 * time.Minute), End: base.Add(20 * time.Minute)}}
	f.spans["c3"] = []cascade.Span{{Start: base, End: base.Add(20 * time.Minute)}}
	eventually(t, 5*time.Second, "registered", func() bool { return f.plat.Registered(streetID) })
	return f, base
}

// checkWindow reads the received PS with ffprobe and checks it is the
// window's footage: a frame every 40 ms stamped from the keyframe at or
// before from (at most a GOP, 2 s, early) to the window's last frame, its
// PTS following the recorded times.
func checkWindow(t *testing.T, body []byte, from, to time.Time) []gbplatform.PSFrame {
	t.Helper()
	frames, err := gbplatform.ReadPS(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) < int(to.Sub(from)/frameStep) {
		for i := 1; i < len(frames); i++ {
			if d := frames[i].Stamp.Sub(frames[i-1].Stamp); d != frameStep {
				t.Logf("frame %d: %v after the one before", i, d)
			}
		}
		t.Fatalf("%d frames for a window of %v", len(frames), to.Sub(from))
	}
	first, last := frames[0], frames[len(frames)-1]
	if !first.Key || first.Stamp.After(from) || from.Sub(first.Stamp) > 2*time.Second {
		t.Fatalf("the first frame (key %v) was recorded at %v, the window starts %v", first.Key, first.Stamp, from)
	}
	if !last.Stamp.Before(to) || to.Sub(last.Stamp) > 2*frameStep {
		t.Fatalf("the last frame was recorded at %v, the window ends %v", last.Stamp, to)
	}
	for i := 1; i < len(frames); i++ {
		dRec, dPTS := frames[i].Stamp.Sub(frames[i-1].Stamp), frames[i].PTS-frames[i-1].PTS
		if dRec <= 0 || (dRec-dPTS).Abs() > time.Millisecond {
			t.Fatalf("frame %d: %v after the one before as recorded, %v in PTS", i, dRec, dPTS)
		}
	}
	return frames
}

// TestPlaybackUpwardEveryTransport: the platform's Playback of a window
// of a shared camera is sent from the footage as PS over RTP (UDP, TCP
// either side connecting) at the pace it was recorded, from the keyframe
// at or before the window's start to its end, and ends with MediaStatus
// 121; the platform's BYE ends the call.
func TestPlaybackUpwardEveryTransport(t *testing.T) {
	f, base := historyFixture(t)
	ctx := context.Background()
	from := base.Add(61 * time.Second) // t= is whole seconds
	to := from.Add(3 * time.Second)
	for _, mode := range []string{"udp", "tcp-passive", "tcp-active"} {
		t.Run(mode, func(t *testing.T) {
			var buf psBuffer
			call, err := f.plat.History(ctx, streetID, code(f, "c1"), mode, "Playback", from, to, 0, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if call.Answer.Session != "Playback" || call.Answer.Start != from.Unix() {
				t.Errorf("answer %+v", call.Answer)
			}
			sent(t, call, 20*time.Second)
			took := time.Since(call.Invited) - 300*time.Millisecond
			if err := call.Bye(ctx); err != nil {
				t.Errorf("BYE: %v", err)
			}
			// The window is 3 s and its start a second after the keyframe
			// before it: at 1x it takes about 3 s, not at once.
			if took < 2500*time.Millisecond {
				t.Errorf("a 3 s window arrived in %v: not paced", took)
			}
			frames := checkWindow(t, buf.Bytes(), from, to)
			eventually(t, 2*time.Second, "the call gone", func() bool { return f.client.Status().Streams == 0 })
			t.Logf("%s: %d frames in %v", mode, len(frames), took.Round(time.Millisecond))
		})
	}
	// Each in the access log, the platform's and the window's.
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.looks) != 3 {
		t.Fatalf("%d looks logged, want 3", len(f.looks))
	}
	for _, l := range f.looks {
		if l.Platform != "district" || l.CameraID != "c1" || l.Session != "Playback" || !l.From.Equal(from) || !l.To.Equal(to) || l.Addr != "127.0.0.1" {
			t.Fatalf("look %+v", l)
		}
	}
}

// sent waits for a call's MediaStatus 121 and then for the media in
// flight to be read (no packet for 300 ms), as a platform does before
// its BYE.
func sent(t *testing.T, call *gbplatform.PlatformCall, within time.Duration) {
	t.Helper()
	select {
	case <-call.Sent():
	case <-time.After(within):
		t.Fatal("no MediaStatus 121")
	}
	n, _, _ := call.Packets()
	for quiet := 0; quiet < 3; {
		time.Sleep(100 * time.Millisecond)
		m, _, _ := call.Packets()
		if m == n {
			quiet++
		} else {
			quiet, n = 0, m
		}
	}
}

func code(f *fixture, cam string) string {
	for _, ch := range f.cat.chans {
		if ch.CameraID == cam {
			return ch.ID
		}
	}
	return ""
}

// TestPlaybackControls: MANSRTSP in INFO steers an upward Playback:
// Scale 4 sends four seconds of footage a second, PAUSE stops the media,
// PLAY with Range goes on from there (its time stamps never back); a
// Scale or Range out of bounds is 400 and changes nothing; TEARDOWN ends
// the call (the street's BYE).
func TestPlaybackControls(t *testing.T) {
	f, base := historyFixture(t)
	ctx := context.Background()
	from := base.Add(2 * time.Minute)
	to := from.Add(20 * time.Second)
	var buf psBuffer
	call, err := f.plat.History(ctx, streetID, code(f, "c1"), "tcp-passive", "Playback", from, to, 0, &buf)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	for _, r := range []mansrtsp.Request{{Method: mansrtsp.Play, Scale: 100}, {Method: mansrtsp.Play, Range: 25, HasRange: true}} {
		if err := call.Control(ctx, r); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("%+v: %v, want 400", r, err)
		}
	}
	fast := time.Now()
	if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Play, Scale: 4}); err != nil {
		t.Fatal(err)
	}
	sent(t, call, 30*time.Second)
	// About 19 s of footage at 4x: near 4.75 s; at 1x it would be 19.
	if took := time.Since(fast); took > 10*time.Second || took < 3*time.Second {
		t.Errorf("19 s of footage at Scale 4 took %v", took)
	}
	frames := checkWindow(t, buf.Bytes(), from, to)
	t.Logf("1 s at 1x, then Scale 4: %d frames, %v at 4x", len(frames), time.Since(fast).Round(time.Millisecond))
	_ = call.Bye(ctx)

	// PAUSE, then PLAY from 8 s into the window.
	var buf2 psBuffer
	call, err = f.plat.History(ctx, streetID, code(f, "c1"), "tcp-passive", "Playback", from, to, 0, &buf2)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Pause}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	paused, _, _ := call.Packets()
	time.Sleep(1500 * time.Millisecond)
	if n, _, _ := call.Packets(); n != paused {
		t.Errorf("%d packets while paused", n-paused)
	}
	if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Play, Range: 8, HasRange: true, Scale: 8}); err != nil {
		t.Fatal(err)
	}
	sent(t, call, 30*time.Second)
	_ = call.Bye(ctx)
	frames, err = gbplatform.ReadPS(ctx, buf2.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	jump := -1
	for i := 1; i < len(frames); i++ {
		if frames[i].PTS <= frames[i-1].PTS {
			t.Fatalf("frame %d: PTS %v after %v", i, frames[i].PTS, frames[i-1].PTS)
		}
		if frames[i].Stamp.Sub(frames[i-1].Stamp) > time.Second {
			jump = i
		}
	}
	seek := from.Add(8 * time.Second)
	if jump < 0 || frames[jump-1].Stamp.After(from.Add(3*time.Second)) || frames[jump].Stamp.After(seek) || seek.Sub(frames[jump].Stamp) > 2*time.Second || !frames[jump].Key {
		t.Fatalf("no jump to the keyframe before %v (frame %d of %d)", seek, jump, len(frames))
	}
	if last := frames[len(frames)-1].Stamp; to.Sub(last) > 2*frameStep {
		t.Fatalf("after the seek the footage ends at %v, the window at %v", last, to)
	}

	// TEARDOWN: the street ends the call.
	call, err = f.plat.History(ctx, streetID, code(f, "c1"), "udp", "Playback", from, to, 0, &psBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Teardown}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("TEARDOWN did not end the call")
	}
	eventually(t, 2*time.Second, "the calls gone", func() bool { return f.client.Status().Streams == 0 })
}

// TestDownloadUpward: a Download is sent at its downloadspeed (8 s at 4x
// in about 2 s), across a gap in the footage (skipped, not waited for),
// whole, and ends with MediaStatus 121; a platform that does not hang up
// then is hung up on (ByeWait, 2 s here).
func TestDownloadUpward(t *testing.T) {
	f, base := historyFixture(t)
	ctx := context.Background()
	from := base.Add(10*time.Minute - 4*time.Second)
	to := base.Add(11*time.Minute + 4*time.Second) // 4 s, the minute's gap, 4 s
	var buf psBuffer
	call, err := f.plat.History(ctx, streetID, code(f, "c1"), "tcp-active", "Download", from, to, 4, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if call.Answer.Session != "Download" || call.Answer.DownloadSpeed != 4 {
		t.Errorf("answer %+v", call.Answer)
	}
	sent(t, call, 20*time.Second)
	took := time.Since(call.Invited) - 300*time.Millisecond
	if took > 6*time.Second || took < time.Second {
		t.Errorf("8 s of footage at downloadspeed 4 took %v", took)
	}
	// No BYE from the platform: the street's comes after ByeWait.
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the street left the call up")
	}
	_ = call.Bye(ctx)
	frames, err := gbplatform.ReadPS(ctx, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 200 || !frames[0].Stamp.Equal(from) || !frames[len(frames)-1].Stamp.Equal(to.Add(-frameStep)) {
		t.Fatalf("%d frames, %v … %v; want 200, %v … %v", len(frames), frames[0].Stamp, frames[len(frames)-1].Stamp, from, to.Add(-frameStep))
	}
	eventually(t, 2*time.Second, "the call gone", func() bool { return f.client.Status().Streams == 0 })
	t.Logf("8 s across a gap at 4x: %d frames in %v", len(frames), took.Round(time.Millisecond))
}

// TestHistoryWindowsRefused: windows that cannot be served get a clear
// answer and start nothing: in the future, inverted or days long 488,
// one with no footage or of a camera not shared 404 — each with a
// Warning that says why.
func TestHistoryWindowsRefused(t *testing.T) {
	f, base := historyFixture(t)
	ctx := context.Background()
	now := time.Now()
	for _, c := range []struct {
		what, camera string
		from, to     time.Time
		want         string
	}{
		{"in the future", "c1", now.Add(time.Hour), now.Add(2 * time.Hour), "488"},
		{"inverted", "c1", base.Add(5 * time.Minute), base.Add(time.Minute), "488"},
		{"three days long", "c1", now.Add(-72 * time.Hour), now, "488"},
		{"in the gap", "c1", base.Add(10*time.Minute + 10*time.Second), base.Add(10*time.Minute + 20*time.Second), "404"},
		{"not shared", "c3", base.Add(time.Minute), base.Add(2 * time.Minute), "404"},
		{"no window", "c1", time.Unix(0, 0), time.Unix(0, 0), "488"},
	} {
		for _, session := range []string{"Playback", "Download"} {
			offer := sdp.SDP{Session: session, URI: code(f, c.camera) + ":0", Start: c.from.Unix(), Stop: c.to.Unix(), DownloadSpeed: 2}
			call, err := f.plat.Offer(ctx, streetID, code(f, c.camera), "udp", offer, &psBuffer{})
			if err == nil {
				_ = call.Bye(ctx)
				t.Errorf("%s %s: answered", session, c.what)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %s: %v, want %s", session, c.what, err, c.want)
			}
		}
	}
	if n := f.client.Status().Streams; n != 0 {
		t.Fatalf("%d calls left", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.looks) != 0 {
		t.Fatalf("refused windows logged as looks: %+v", f.looks)
	}
}
