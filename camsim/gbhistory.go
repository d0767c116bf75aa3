package camsim

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
)

// history is a Playback or Download the simulated NVR is sending: its
// window, where it is in it (the recorded time of the next frame), and
// the viewer's controls (MANSRTSP in INFO: Scale, Range, PAUSE).
type history struct {
	session  string
	from, to time.Time
	speed    int // a Download's downloadspeed (1 for Playback)

	mu     sync.Mutex
	at     time.Time
	scale  float64
	paused bool
}

// maxDownloadSpeed is the fastest the simulated NVR sends a Download.
const maxDownloadSpeed = 8

func (d *GBDevice) newHistory(ch int, offer sdp.SDP) (*history, error) {
	from, to := time.Unix(offer.Start, 0), time.Unix(offer.Stop, 0)
	if !from.Before(to) || to.After(d.now().Add(time.Second)) {
		return nil, fmt.Errorf("window %v–%v", from, to)
	}
	if len(d.Recordings(ch, from, to)) == 0 {
		return nil, fmt.Errorf("nothing recorded in %v–%v", from, to)
	}
	h := &history{session: offer.Session, from: from, to: to, at: from, scale: 1, speed: 1}
	if offer.Session == "Download" {
		h.speed = min(max(offer.DownloadSpeed, 1), maxDownloadSpeed)
		h.scale = float64(h.speed)
	}
	return h, nil
}

// onInfo takes a MANSRTSP request in a Playback's dialog.
func (d *GBDevice) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	d.mu.Lock()
	c := d.calls[req.CallID().Value()]
	d.mu.Unlock()
	r, err := mansrtsp.Parse(req.Body())
	switch {
	case c == nil:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	case err != nil || c.hist == nil:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	h := c.hist
	h.mu.Lock()
	switch r.Method {
	case mansrtsp.Pause:
		h.paused = true
	case mansrtsp.Play:
		h.paused = false
		if r.Scale > 0 {
			h.scale = r.Scale
		}
		if r.HasRange {
			h.at = h.from.Add(time.Duration(r.Range * float64(time.Second)))
		}
	}
	h.mu.Unlock()
	d.mu.Lock()
	d.controls = append(d.controls, fmt.Sprintf("%s %s", d.cfg.ChannelID(c.channel), string(req.Body())))
	d.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// Controls are the MANSRTSP requests the device was sent (channel, body).
func (d *GBDevice) Controls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.controls...)
}

// streamHistory sends the recording's frames from the window's start,
// each stamped (SEI) with the time it was recorded, paced at the scale
// (a Download at its speed), skipping what the index does not hold; at
// the window's end it says so (MediaStatus 121) and sends nothing more
// until the BYE.
func (d *GBDevice) streamHistory(ctx context.Context, c *gbCall, conn net.Conn, network string) {
	h := c.hist
	ssrc, _ := c.offer.SSRCNumber()
	m := ps.Muxer{Video: ps.CodecH264}
	pk := ps.Packetizer{PayloadType: uint8(c.offer.PayloadType), SSRC: ssrc, MTU: 1400}
	frame := time.Second / time.Duration(d.cfg.FPS)
	step := int64(90000 / d.cfg.FPS)
	next := time.Now()
	var buf, au []byte
	for n := 0; ctx.Err() == nil; {
		h.mu.Lock()
		paused, scale, at := h.paused, h.scale, h.at
		h.mu.Unlock()
		if paused {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			next = time.Now()
			continue
		}
		if at = d.recorded(c.channel, at); !at.Before(h.to) {
			d.mediaStatus(ctx, c)
			return
		}
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		next = next.Add(time.Duration(float64(frame) / scale))
		// The clip's frame for this moment of the loop: a keyframe at
		// the start of every loop, as a recording's file has.
		unit := d.clip.Units[n%len(d.clip.Units)]
		unit = withSEI(unit, TimestampSEI(at))
		if n == 0 {
			d.mu.Lock()
			d.firstStamps = append(d.firstStamps, at)
			d.mu.Unlock()
		}
		au = au[:0]
		for _, nal := range unit {
			au = append(au, 0, 0, 0, 1)
			au = append(au, nal...)
		}
		pts := int64(n) * step
		buf = m.AppendVideo(buf[:0], au, pts, pts, isKey(unit, false))
		for _, p := range pk.Packets(buf, uint32(pts)) {
			if !d.send(conn, network, p) {
				return
			}
		}
		n++
		h.mu.Lock()
		if h.at.Equal(at) || h.at.Before(at) { // not moved by a Range meanwhile
			h.at = at.Add(frame)
		}
		h.mu.Unlock()
	}
}

// recorded is the first moment at or after t the channel has footage of
// (a gap in the index is skipped); a moment past the index is returned
// as it is.
func (d *GBDevice) recorded(ch int, t time.Time) time.Time {
	spans := d.Recordings(ch, t, t.Add(2*time.Hour))
	for _, s := range spans {
		if t.Before(s.End) {
			if t.Before(s.Start) {
				return s.Start
			}
			return t
		}
	}
	return t.Add(2 * time.Hour)
}

// mediaStatus tells the platform the recording was sent whole (121), in
// the call's dialog.
func (d *GBDevice) mediaStatus(ctx context.Context, c *gbCall) {
	body := manscdp.Encode("Notify", manscdp.F("CmdType", "MediaStatus"), manscdp.F("SN", d.sn.Add(1)),
		manscdp.F("DeviceID", d.cfg.ChannelID(c.channel)), manscdp.F("NotifyType", 121))
	if d.cfg.NoMediaStatus {
		return
	}
	req := sip.NewRequest(sip.MESSAGE, c.dlg.InviteRequest.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "Application/MANSCDP+xml"))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.dlg.Do(ctx, req)
	switch {
	case err != nil:
		d.log.Warn("MediaStatus not sent", "error", err)
	case !res.IsSuccess():
		d.log.Warn("MediaStatus refused", "status", res.StatusCode, "reason", res.Reason)
	}
	d.mu.Lock()
	d.statusSent++
	d.mu.Unlock()
}

// FirstStamps are the time stamps (SEI) of the first frame each
// Playback or Download sent, oldest first.
func (d *GBDevice) FirstStamps() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.firstStamps...)
}

// HistorySessions is how many Playback and Download sessions are up
// (answered and not yet ended by a BYE).
func (d *GBDevice) HistorySessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if c.hist != nil {
			n++
		}
	}
	return n
}
