package ps

// video gathers one video stream's PES payloads into access units by
// their NAL units, not by PES boundaries: ffmpeg's muxer packs several
// frames into one PES (only the first to start in it has its PTS), and
// devices split a frame over several.
type video struct {
	id     uint8
	idSet  bool
	codec  Codec // seen in the NAL units (a parameter set or an IDR)
	es     []byte
	scan   int  // where the start code search goes on
	open   bool // an access unit is being gathered from es[0]
	vcl    bool // it has a slice
	key    bool // it has an IDR (IRAP) slice
	pts    int64
	dts    int64
	hasPTS bool
	// The timestamps of the last PES that carried them, for the first
	// access unit that starts in it (ISO/IEC 13818-1 2.4.3.7).
	mark struct {
		off      int
		pts, dts int64
		ok       bool
	}
	last, delta int64 // the last PTS and the step between frames, to fill in a missing PTS
	haveLast    bool
}

func (v *video) drop() {
	v.es, v.scan, v.open, v.vcl, v.key = v.es[:0], 0, false, false, false
	v.mark.ok = false
}

// videoPES adds a PES payload of stream id (the first video stream seen
// is the one kept).
func (d *Demuxer) videoPES(id uint8, pts, dts int64, hasPTS bool, payload []byte) {
	v := &d.video
	if !v.idSet {
		v.id, v.idSet = id, true
	}
	if id != v.id {
		return
	}
	if hasPTS {
		v.mark.off, v.mark.pts, v.mark.dts, v.mark.ok = len(v.es), pts, dts, true
	}
	if len(v.es)+len(payload) > maxFrameSize {
		d.stats.Resyncs++
		v.drop()
		return
	}
	v.es = append(v.es, payload...)
	d.scanVideo()
}

// scanVideo finds the NAL units added and cuts access units where a new
// one starts.
func (d *Demuxer) scanVideo() {
	v := &d.video
	es := v.es
	i := v.scan
	for i+2 < len(es) {
		if es[i] != 0 || es[i+1] != 0 || es[i+2] != 1 {
			i++
			continue
		}
		h := i + 3
		if h+3 > len(es) {
			break // the NAL header is not all here yet
		}
		nal := es[h:min(h+3, len(es))]
		if nal[0]&0x80 != 0 {
			// A program stream start code inside a PES payload: a PES
			// whose length ran past a loss. Nothing gathered is sound.
			d.stats.Resyncs++
			v.drop()
			return
		}
		if c := sniffNAL(nal); c != CodecUnknown && c != v.codec {
			if mapped := codecOfStreamType(d.types[v.id]); mapped.IsVideo() && mapped != c {
				d.stats.MapErrors++
			}
			v.codec = c
		}
		codec := v.codec
		if codec == CodecUnknown {
			codec = codecOfStreamType(d.types[v.id])
		}
		if !codec.IsVideo() {
			i = h
			continue // nothing can be cut before the codec is known
		}
		isVCL, first, key := classify(codec, nal)
		start := i
		if start > 0 && es[start-1] == 0 {
			start-- // a four-byte start code
		}
		if v.open && v.vcl && first {
			d.emitVideo(start)
			es = v.es
			h -= start
			i -= start
			start = 0
		}
		if !v.open {
			// Bytes before the first start code (a cut PES) are not a NAL.
			if start > 0 {
				v.shift(start)
				es = v.es
				h -= start
				i -= start
			}
			v.begin(i)
		}
		if isVCL {
			v.vcl = true
		}
		v.key = v.key || key
		i = h
	}
	v.scan = i
}

// begin opens an access unit at es[0] whose first start code is at i.
func (v *video) begin(i int) {
	v.open, v.vcl, v.key = true, false, false
	if v.mark.ok && v.mark.off <= i {
		v.pts, v.dts, v.hasPTS = v.mark.pts, v.mark.dts, true
		v.mark.ok = false
		return
	}
	v.pts, v.dts, v.hasPTS = v.last+v.delta, v.last+v.delta, false
}

// shift drops es[:n].
func (v *video) shift(n int) {
	v.es = v.es[:copy(v.es, v.es[n:])]
	v.scan = max(0, v.scan-n)
	if v.mark.ok {
		v.mark.off = max(0, v.mark.off-n)
	}
}

// emitVideo hands on es[:end] as the access unit gathered.
func (d *Demuxer) emitVideo(end int) {
	v := &d.video
	codec := v.codec
	if codec == CodecUnknown {
		codec = codecOfStreamType(d.types[v.id])
	}
	if v.haveLast && v.pts > v.last {
		v.delta = v.pts - v.last
	}
	v.last, v.haveLast = v.pts, true
	d.emit(Frame{StreamID: v.id, Codec: codec, PTS: v.pts, DTS: v.dts, HasPTS: v.hasPTS, Key: v.key, Data: v.es[:end]})
	v.open = false
	v.shift(end)
}

// flushVideo ends the access unit being gathered (the caller knows the
// frame is complete).
func (d *Demuxer) flushVideo() {
	v := &d.video
	if v.open && v.vcl {
		d.emitVideo(len(v.es))
	}
}

// sniffNAL tells H.264 from H.265 by a NAL unit that can only be one of
// them: an H.265 VPS, SPS or PPS (layer 0, a temporal id plus one of
// 1..7), an H.264 SPS with a known profile, or the first slice of an
// H.264 IDR picture. (An H.264 PPS header byte is also an H.265 slice's.)
func sniffNAL(n []byte) Codec {
	if len(n) < 2 || n[0]&0x80 != 0 {
		return CodecUnknown
	}
	if t := n[0] >> 1 & 0x3F; (t == 32 || t == 33 || t == 34) && n[0]&1 == 0 && n[1]>>3 == 0 && n[1]&7 != 0 {
		return CodecH265
	}
	if n[0]&0x60 == 0 {
		return CodecUnknown // nal_ref_idc 0: not a parameter set or IDR
	}
	switch n[0] & 0x1F {
	case 7:
		switch n[1] { // profile_idc
		case 66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
			return CodecH264
		}
	case 5:
		if n[1]&0x80 != 0 { // first_mb_in_slice 0
			return CodecH264
		}
	}
	return CodecUnknown
}

// classify tells of a NAL unit (its first bytes) whether it is a slice,
// whether it starts a new access unit if the one gathered has a slice
// already (ITU-T H.264 7.4.1.2.3, H.265 7.4.2.4.4), and whether it is a
// random access slice.
func classify(c Codec, n []byte) (vcl, first, key bool) {
	if c == CodecH265 {
		t := n[0] >> 1 & 0x3F
		switch {
		case t <= 31: // a slice segment: the first of a picture has first_slice_segment_in_pic_flag
			return true, len(n) > 2 && n[2]&0x80 != 0, t >= 16 && t <= 21
		case t == 35, t >= 32 && t <= 34, t == 39, t >= 41 && t <= 44, t >= 48 && t <= 55:
			return false, true, false // AUD, parameter sets, prefix SEI, reserved
		}
		return false, false, false
	}
	switch t := n[0] & 0x1F; t {
	case 1, 5: // a slice: the first of a picture has first_mb_in_slice 0 (ue(v) "1")
		return true, len(n) > 1 && n[1]&0x80 != 0, t == 5
	case 6, 7, 8, 9, 14, 15, 16, 17, 18:
		return false, true, false // SEI, SPS, PPS, AUD, prefix, subset SPS, reserved
	}
	return false, false, false
}
