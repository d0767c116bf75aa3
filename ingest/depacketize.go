package ingest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"sharpeyes/relay"
)

// depacketizer turns one session's RTP packets into relay units.
type depacketizer struct {
	src          *Source
	stream       *relay.Stream
	started      time.Time
	info         relay.Info
	codec        relay.Codec
	decodeVideo  func(*rtp.Packet) ([][]byte, error)
	isMoreNeeded func(error) bool

	last     atomic.Int64 // unix nanos of the newest packet
	gotMedia atomic.Bool

	mu          sync.Mutex // packet callbacks may run on several goroutines
	vps         []byte
	sps, pps    []byte
	seenKey     bool
	prevVideo   time.Duration
	haveVideo   bool
	offsetSet   bool
	offset      time.Duration
	paramsDirty bool
}

func (d *depacketizer) online() bool { return d.gotMedia.Load() }

// lastUnit is when media last arrived (the session start before any).
func (d *depacketizer) lastUnit() time.Time {
	if n := d.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return d.started
}

func (d *depacketizer) videoPacket(c *gortsplib.Client, m *description.Media, p *rtp.Packet) {
	pts, ok := c.PacketPTS2(m, p)
	if !ok {
		return
	}
	// Any packet proves the camera is alive, even before the first keyframe.
	d.last.Store(time.Now().UnixNano())
	au, err := d.decodeVideo(p)
	if err != nil {
		if !d.isMoreNeeded(err) {
			d.src.log.Debug("depacketize", "error", err)
		}
		return
	}
	d.mu.Lock()
	au, key := d.fixParams(au)
	if !d.seenKey && !key {
		d.mu.Unlock()
		return // a decoder cannot start here
	}
	d.seenKey = true
	dirty := d.paramsDirty
	d.paramsDirty = false
	d.mu.Unlock()
	if dirty {
		d.publishInfo()
	}
	d.write(&relay.Unit{Codec: d.codec, NALUs: au, Key: key}, pts, 90000)
}

// fixParams records in-band parameter sets, drops access unit delimiters and
// puts the newest parameter sets in front of every keyframe that lacks them.
func (d *depacketizer) fixParams(au [][]byte) ([][]byte, bool) {
	if d.codec == relay.CodecH265 {
		return d.fixParamsH265(au)
	}
	out := au[:0:0]
	hasSPS, hasPPS, key := false, false, false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS:
			hasSPS = true
			if !bytes.Equal(n, d.sps) {
				d.sps, d.paramsDirty = n, true
			}
		case h264.NALUTypePPS:
			hasPPS = true
			if !bytes.Equal(n, d.pps) {
				d.pps, d.paramsDirty = n, true
			}
		case h264.NALUTypeIDR:
			key = true
		}
		out = append(out, n)
	}
	if key && (!hasSPS || !hasPPS) && d.sps != nil && d.pps != nil {
		fixed := make([][]byte, 0, len(out)+2)
		fixed = append(fixed, d.sps, d.pps)
		for _, n := range out {
			if t := h264.NALUType(n[0] & 0x1f); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
				fixed = append(fixed, n)
			}
		}
		out = fixed
	}
	return out, key
}

func (d *depacketizer) fixParamsH265(au [][]byte) ([][]byte, bool) {
	out := au[:0:0]
	has := 0
	key := h265.IsRandomAccess(au)
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_AUD_NUT:
			continue
		case h265.NALUType_VPS_NUT:
			has++
			if !bytes.Equal(n, d.vps) {
				d.vps, d.paramsDirty = n, true
			}
		case h265.NALUType_SPS_NUT:
			has++
			if !bytes.Equal(n, d.sps) {
				d.sps, d.paramsDirty = n, true
			}
		case h265.NALUType_PPS_NUT:
			has++
			if !bytes.Equal(n, d.pps) {
				d.pps, d.paramsDirty = n, true
			}
		}
		out = append(out, n)
	}
	if key && has < 3 && d.vps != nil && d.sps != nil && d.pps != nil {
		fixed := make([][]byte, 0, len(out)+3)
		fixed = append(fixed, d.vps, d.sps, d.pps)
		for _, n := range out {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT, h265.NALUType_SPS_NUT, h265.NALUType_PPS_NUT:
			default:
				fixed = append(fixed, n)
			}
		}
		out = fixed
	}
	return out, key
}

// dimensions decodes the width and height from the current SPS.
func (d *depacketizer) dimensions() (int, int) {
	if d.sps == nil {
		return 0, 0
	}
	if d.codec == relay.CodecH265 {
		var sps h265.SPS
		if sps.Unmarshal(d.sps) != nil {
			return 0, 0
		}
		return sps.Width(), sps.Height()
	}
	var sps h264.SPS
	if sps.Unmarshal(d.sps) != nil {
		return 0, 0
	}
	return sps.Width(), sps.Height()
}

func (d *depacketizer) publishInfo() {
	d.mu.Lock()
	info := d.info
	info.VPS, info.SPS, info.PPS = d.vps, d.sps, d.pps
	info.Width, info.Height = d.dimensions()
	d.info = info
	d.mu.Unlock()
	d.stream.SetInfo(info)
	d.src.meter.update(func(st *Status) { st.Width, st.Height = info.Width, info.Height })
}

// write stamps a unit with a PTS that continues across reconnects (so
// viewers' jitter buffers see no jump) and publishes it.
func (d *depacketizer) write(u *relay.Unit, pts int64, clock int64) {
	now := time.Now()
	rel := time.Duration(pts/clock)*time.Second + time.Duration(pts%clock)*time.Second/time.Duration(clock)
	if !d.gotMedia.Swap(true) {
		// Online before the first unit is out: whoever got it and asks
		// the status is told online.
		d.src.meter.set(StateOnline, "", false, "")
		d.src.log.Info("camera stream online", "codec", d.codec)
	}
	d.mu.Lock()
	if !d.offsetSet {
		d.offset = d.src.continuePTS(now) - rel
		d.offsetSet = true
	}
	u.PTS = rel + d.offset
	if u.Codec.IsVideo() {
		if d.haveVideo && u.PTS < d.prevVideo {
			d.src.meter.update(func(st *Status) { st.BFrames = true })
		}
		d.prevVideo, d.haveVideo = u.PTS, true
	}
	u.Received = now
	d.stream.Write(u)
	d.src.notePTS(u.PTS, now)
	d.mu.Unlock()
	d.src.meter.unit(now, u.Size(), u.Codec.IsVideo())
	d.last.Store(now.UnixNano())
}
