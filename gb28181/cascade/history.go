package cascade

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/sdp"
)

// Frame is one recorded video access unit sent upward: when it was
// recorded, whether it is a keyframe, and its NAL units (SPS and PPS
// first in a keyframe's).
type Frame struct {
	At    time.Time
	Key   bool
	NALUs [][]byte
}

// Limits of an upward Playback or Download.
const (
	// MaxWindow is the longest window a platform may ask for at once.
	MaxWindow = 24 * time.Hour
	// MaxDownloadSpeed is the fastest a Download is sent (times real
	// time); a faster downloadspeed is sent at this.
	MaxDownloadSpeed = 16
	// minScale and maxScale bound a Playback's MANSRTSP Scale.
	minScale, maxScale = 0.25, 16
	// gapAfter is the jump in recorded time taken for a gap in the
	// footage: sent at once, not waited for.
	gapAfter = 2 * time.Second
)

// history is a Playback or Download of the gateway's footage being sent:
// its window, and the platform's controls (MANSRTSP in INFO).
type history struct {
	session  string
	from, to time.Time

	mu     sync.Mutex
	scale  float64
	paused bool
	seek   time.Time     // where to go on from (zero: nowhere)
	wake   chan struct{} // a control came (cap 1)
	first  *Frame        // read before the answer, sent first
	feed   *feed
}

// feed is the footage read from some moment on, a few frames ahead of
// the sending.
type feed struct {
	frames chan Frame
	err    error // why the frames ended, set before they close
	cancel context.CancelFunc
}

// windowError is an INVITE's window that cannot be served: answered
// with code and the reason in a Warning header (RFC 3261 20.43).
type windowError struct {
	code int
	why  string
}

func (e *windowError) Error() string { return e.why }

// newHistory checks a Playback or Download offer's window (t=): not
// inverted, not in the future (an end past now is cut to now), at most
// MaxWindow long.
func newHistory(offer sdp.SDP, now time.Time) (*history, error) {
	from, to := time.Unix(offer.Start, 0), time.Unix(offer.Stop, 0)
	switch {
	case offer.Start <= 0 || offer.Stop <= 0:
		return nil, &windowError{488, "a Playback or Download needs its window in t= (Unix seconds)"}
	case !from.Before(to):
		return nil, &windowError{488, "the window ends before it starts"}
	case to.Sub(from) > MaxWindow:
		return nil, &windowError{488, fmt.Sprintf("the window is longer than %v", MaxWindow)}
	case !from.Before(now):
		return nil, &windowError{488, "the window is in the future"}
	}
	if to.After(now) {
		to = now
	}
	h := &history{session: offer.Session, from: from, to: to, scale: 1, wake: make(chan struct{}, 1)}
	if offer.Session == "Download" {
		h.scale = float64(min(max(offer.DownloadSpeed, 1), MaxDownloadSpeed))
	}
	return h, nil
}

// open starts reading the camera's footage from at (its keyframe at or
// before) to the window's end.
func (k *call) open(at time.Time) *feed {
	ctx, cancel := context.WithCancel(k.c.ctx)
	f := &feed{frames: make(chan Frame, 8), cancel: cancel}
	if !k.c.goAway(func() {
		defer close(f.frames)
		f.err = k.c.deps.Footage(ctx, k.ch.CameraID, at, k.hist.to, func(fr Frame) error {
			select {
			case f.frames <- fr:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}) {
		cancel()
		close(f.frames)
	}
	return f
}

// prepareHistory reads the window's first frame before the answer: a
// window with no footage is 404, the platform told at once.
func (k *call) prepareHistory() error {
	h := k.hist
	h.feed = k.open(h.from)
	t := time.NewTimer(k.c.deps.InviteWait)
	defer t.Stop()
	select {
	case fr, ok := <-h.feed.frames:
		if !ok {
			if h.feed.err != nil && !errors.Is(h.feed.err, context.Canceled) {
				return h.feed.err
			}
			return &windowError{404, "nothing is recorded in the window"}
		}
		h.first = &fr
		if k.c.deps.Looked != nil {
			l := Look{Platform: k.c.p.ID, CameraID: k.ch.CameraID, Session: h.session, From: h.from, To: h.to, Addr: k.c.ip}
			if err := k.c.deps.Looked(k.c.ctx, l); err != nil {
				k.c.log.Warn("a playback not logged: refused", "camera", k.ch.CameraID, "error", err)
				return &windowError{500, "the access log cannot take the playback"}
			}
		}
		return nil
	case <-t.C:
		return fmt.Errorf("camera %s: no footage read in %v", k.ch.CameraID, k.c.deps.InviteWait)
	}
}

// onInfo takes a MANSRTSP request in a Playback's or Download's dialog:
// PLAY (resume; Range: where to go on from, seconds from the window's
// start; Scale: how fast, 0.25 to 16), PAUSE, TEARDOWN.
func (c *Client) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	k := c.calls[req.CallID().Value()]
	c.mu.Unlock()
	if k == nil {
		c.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	r, err := mansrtsp.Parse(req.Body())
	h := k.hist
	bad := func(why string) { c.refuse(req, tx, 400, why) }
	switch {
	case err != nil:
		bad(err.Error())
		return
	case h == nil:
		bad("a live call takes no MANSRTSP")
		return
	case r.Scale != 0 && (r.Scale < minScale || r.Scale > maxScale):
		bad(fmt.Sprintf("Scale %g: from %g to %g", r.Scale, float64(minScale), float64(maxScale)))
		return
	case r.HasRange && (r.Range < 0 || h.from.Add(time.Duration(r.Range*float64(time.Second))).After(h.to)):
		bad(fmt.Sprintf("Range npt=%g- is outside the window of %v", r.Range, h.to.Sub(h.from)))
		return
	}
	if r.Method == mansrtsp.Teardown {
		c.respond(req, tx, 200, "OK")
		c.log.Info("the platform tore down a playback", "camera", k.ch.CameraID)
		k.goHangUp()
		return
	}
	h.mu.Lock()
	switch r.Method {
	case mansrtsp.Pause:
		h.paused = true
	case mansrtsp.Play:
		h.paused = false
		if r.Scale != 0 {
			h.scale = r.Scale
		}
		if r.HasRange {
			h.seek = h.from.Add(time.Duration(r.Range * float64(time.Second)))
		}
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	c.respond(req, tx, 200, "OK")
}

// goHangUp ends the call from this side without waiting for the BYE's
// answer here.
func (k *call) goHangUp() {
	k.c.goAway(func() {
		ctx, cancel := context.WithTimeout(k.c.ctx, 5*time.Second)
		defer cancel()
		k.hangUp(ctx)
	})
}

// sendHistory sends the window's footage as PS over RTP, paced at the
// scale (the frames before the window's start that the first needs, and
// the footage after a gap, at once), following the platform's controls;
// at the window's end it tells the platform (MediaStatus 121) and waits
// for its BYE, sending one itself after Deps.ByeWait.
func (k *call) sendHistory(ctx context.Context, out *output) {
	h := k.hist
	var (
		pending          *Frame
		anchored         bool
		wallAt           time.Time // when the anchor frame was sent
		anchorAt, prevAt time.Time // its recorded time, and the previous frame's
		runFrom          = h.from  // where the run shown starts: frames before it lead in, at once
		runAt            time.Time // the first frame's since a (re)start
		runBase, lastPTS int64     // 90 kHz
		haveRun          bool
	)
	h.mu.Lock()
	pending, h.first = h.first, nil
	h.mu.Unlock()
	for {
		h.mu.Lock()
		seek, paused, scale := h.seek, h.paused, h.scale
		h.seek = time.Time{}
		if !seek.IsZero() {
			h.feed.cancel()
			h.feed = k.open(seek)
		}
		fd := h.feed
		h.mu.Unlock()
		if !seek.IsZero() {
			pending, anchored, haveRun, runFrom = nil, false, false, seek
			runBase = lastPTS + 3600 // the stream goes on 40 ms later, its time stamps never back
		}
		if paused {
			anchored = false
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
			}
			continue
		}
		if pending == nil {
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
				continue
			case fr, ok := <-fd.frames:
				if !ok {
					if fd.err != nil && !errors.Is(fd.err, context.Canceled) {
						k.c.log.Warn("footage to the platform ended", "camera", k.ch.CameraID, "error", fd.err)
						k.hangUp(context.WithoutCancel(ctx))
						return
					}
					if ctx.Err() != nil {
						return
					}
					k.sentWhole(ctx)
					return
				}
				pending = &fr
			}
		}
		fr := pending
		if !fr.At.Before(runFrom) {
			switch {
			case !anchored || fr.At.Sub(prevAt) > gapAfter || fr.At.Before(prevAt):
				anchored, wallAt, anchorAt = true, time.Now(), fr.At
			default:
				due := wallAt.Add(time.Duration(float64(fr.At.Sub(anchorAt)) / scale))
				if wait := time.Until(due); wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-h.wake:
						t.Stop()
						anchored = false // a new scale or a pause: go on from here
						continue
					case <-t.C:
					}
				}
			}
		}
		if !haveRun {
			haveRun, runAt = true, fr.At
		}
		pts := runBase + int64(fr.At.Sub(runAt)*90000/time.Second)
		if !out.video(fr.NALUs, fr.Key, pts) {
			k.hangUp(context.WithoutCancel(ctx))
			return
		}
		lastPTS, prevAt, pending = pts, fr.At, nil
	}
}

// sentWhole tells the platform the window was sent whole (MediaStatus
// 121) and waits for its BYE. The MESSAGE is the street's (From: the
// street's code, To: the platform) with the call's Call-ID, as devices
// send it: WVP finds the call by its Call-ID and the sender by its From,
// which inside the dialog would be the channel, no device it knows.
func (k *call) sentWhole(ctx context.Context) {
	body := manscdp.Encode("Notify", manscdp.F("CmdType", "MediaStatus"), manscdp.F("SN", k.c.sn.Add(1)),
		manscdp.F("DeviceID", k.ch.ID), manscdp.F("NotifyType", 121))
	req := k.c.request(sip.MESSAGE, k.c.p.ServerID)
	id := sip.CallIDHeader(k.id)
	req.AppendHeader(&id)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	res, err := k.c.cli.Do(mctx, req)
	cancel()
	switch {
	case err != nil:
		k.c.log.Warn("MediaStatus not sent", "camera", k.ch.CameraID, "error", err)
	case !res.IsSuccess():
		k.c.log.Warn("MediaStatus refused", "camera", k.ch.CameraID, "status", res.StatusCode)
	default:
		k.c.log.Info("a playback was sent whole", "camera", k.ch.CameraID, "session", k.hist.session)
	}
	t := time.NewTimer(k.c.deps.ByeWait)
	defer t.Stop()
	select {
	case <-k.done:
	case <-ctx.Done():
	case <-t.C:
		k.c.log.Info("no BYE after MediaStatus: the call is ended", "camera", k.ch.CameraID)
		k.hangUp(context.WithoutCancel(ctx))
	}
}
