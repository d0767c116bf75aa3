package ingest

import (
	"context"
	"fmt"
	"time"

	"sharpeyes/gb28181/ps"
	"sharpeyes/relay"
)

// GBRef names a GB/T 28181 channel: the device it registers through and
// the channel's own 20-digit id.
type GBRef struct {
	Device, Channel string
}

// GBOpener is what a GB/T 28181 pull needs of the SIP side: Open INVITEs
// the channel and hands its frames to onFrame (in order, on one
// goroutine) until done closes (the device ended the call) or close is
// called (which sends BYE).
type GBOpener interface {
	Open(ctx context.Context, ref GBRef, onFrame func(ps.Frame)) (done <-chan struct{}, close func(), err error)
	// Presence tells whether a device is registered, and since when it
	// is (or since when it is not; zero when it was never seen).
	Presence(device string) (registered bool, since time.Time)
}

// gbSession is one INVITE of a GB/T 28181 channel, its frames written into
// the stream as any camera's; it ends when the call does, media stalls
// or ctx ends (BYE).
func (s *Source) gbSession(ctx context.Context) (bool, error) {
	dp := &depacketizer{src: s, stream: s.stream, started: time.Now()}
	fr := gbFrames{dp: dp}
	done, closeCall, err := s.cfg.GBOpener.Open(ctx, *s.cfg.GB, fr.frame)
	if err != nil {
		return false, fmt.Errorf("invite: %w", err)
	}
	defer closeCall()
	s.meter.update(func(st *Status) { st.Transport = "GB28181" })
	tick := time.NewTicker(s.cfg.Timeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return dp.online(), ctx.Err()
		case <-done:
			return dp.online(), fmt.Errorf("the device ended the stream")
		case <-tick.C:
			if last := dp.lastUnit(); time.Since(last) > s.cfg.Timeout {
				return dp.online(), fmt.Errorf("%w for %s", ErrStalled, s.cfg.Timeout)
			}
		}
	}
}

// gbFrames turns demuxed PS frames into relay units.
type gbFrames struct {
	dp       *depacketizer
	started  bool
	audio    relay.Codec
	base     int64 // unwrapped 33-bit PTS of the first frame
	last     int64
	haveLast bool
}

// unwrap extends a 33-bit PTS past its wrap (every 26.5 hours).
func (g *gbFrames) unwrap(pts int64) int64 {
	const wrap = int64(1) << 33
	if !g.haveLast {
		g.last, g.haveLast = pts, true
		return pts
	}
	cur := g.last&^(wrap-1) | pts
	switch d := cur - g.last; {
	case d < -wrap/2:
		cur += wrap
	case d > wrap/2:
		cur -= wrap
	}
	g.last = cur
	return cur
}

func (g *gbFrames) frame(f ps.Frame) {
	d := g.dp
	d.last.Store(time.Now().UnixNano())
	pts := g.unwrap(f.PTS)
	switch f.Codec {
	case ps.CodecH264, ps.CodecH265:
		codec := relay.CodecH264
		if f.Codec == ps.CodecH265 {
			codec = relay.CodecH265
		}
		// The demuxer's bytes are its own: the unit keeps a copy.
		data := append([]byte(nil), f.Data...)
		au := ps.SplitAnnexB(data)
		d.mu.Lock()
		if d.codec != codec {
			d.codec, d.vps, d.sps, d.pps, d.seenKey = codec, nil, nil, nil, false
			d.info.Video = codec
			d.paramsDirty = true
		}
		au, key := d.fixParams(au)
		if !d.seenKey && !key {
			d.mu.Unlock()
			return
		}
		d.seenKey = true
		dirty := d.paramsDirty
		d.paramsDirty = false
		d.mu.Unlock()
		if dirty {
			d.publishInfo()
			d.src.meter.update(func(st *Status) { st.Codec = string(codec) })
		}
		d.write(&relay.Unit{Codec: codec, NALUs: au, Key: key}, pts, 90000)
	case ps.CodecG711A, ps.CodecG711U:
		codec := relay.CodecPCMA
		if f.Codec == ps.CodecG711U {
			codec = relay.CodecPCMU
		}
		if g.audio != codec {
			g.audio = codec
			d.mu.Lock()
			d.info.Audio = codec
			video := d.seenKey
			d.mu.Unlock()
			// Published with the video's: a stream is ready once its
			// video is known (audio often comes first), not before.
			if video {
				d.publishInfo()
			}
			d.src.meter.update(func(st *Status) { st.Audio = string(codec) })
		}
		if !d.online() {
			return // audio follows the first video
		}
		d.write(&relay.Unit{Codec: codec, Payload: append([]byte(nil), f.Data...)}, pts, 90000)
	}
}
