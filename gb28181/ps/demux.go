// Package ps demultiplexes an MPEG program stream (ISO/IEC 13818-1), the
// way GB/T 28181 devices send video: pack headers, an optional system
// header and program stream map, and PES packets of H.264 or H.265 video
// and G.711 audio. It is pure: bytes in, frames out, nothing else.
//
// It does not trust its input. Bytes that are not where a start code
// should be, a PES longer than what follows, a map that names the wrong
// codec: each is counted and skipped, and parsing goes on from the next
// pack header. The video codec is taken from the NAL units themselves
// whenever they show it (a parameter set or an IDR), the map only when
// they do not (ffmpeg's MPEG-PS muxer writes none; some devices write a
// wrong one).
package ps

import (
	"bytes"
	"encoding/binary"
)

// Codec is what an elementary stream carries.
type Codec uint8

// Codecs the demuxer tells apart.
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecH265
	CodecG711A
	CodecG711U
	CodecAAC
)

func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "H264"
	case CodecH265:
		return "H265"
	case CodecG711A:
		return "PCMA"
	case CodecG711U:
		return "PCMU"
	case CodecAAC:
		return "AAC"
	}
	return "unknown"
}

// IsVideo tells whether c is a video codec.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// Stream types of the program stream map (ISO/IEC 13818-1 table 2-34 and
// GB/T 28181's additions for G.711).
const (
	StreamTypeAAC   = 0x0F
	StreamTypeH264  = 0x1B
	StreamTypeH265  = 0x24
	StreamTypeG711A = 0x90
	StreamTypeG711U = 0x91
)

func codecOfStreamType(t uint8) Codec {
	switch t {
	case StreamTypeH264:
		return CodecH264
	case StreamTypeH265:
		return CodecH265
	case StreamTypeG711A:
		return CodecG711A
	case StreamTypeG711U:
		return CodecG711U
	case StreamTypeAAC:
		return CodecAAC
	}
	return CodecUnknown
}

// Frame is one video access unit (Annex B, as the PES carried it) or one
// audio PES payload.
type Frame struct {
	StreamID uint8
	Codec    Codec
	// PTS and DTS in 90 kHz units; HasPTS false when the PES carried none.
	// (A video frame that started in a PES with no timestamps gets the
	// last one plus the step between the two before.)
	PTS, DTS int64
	HasPTS   bool
	Key      bool // a video access unit with an IDR (H.264) or IRAP (H.265) slice
	Data     []byte
}

// Stats counts what the demuxer met.
type Stats struct {
	Packs     uint64 // pack headers
	Frames    uint64 // frames emitted
	Resyncs   uint64 // times it skipped to the next pack header
	Skipped   uint64 // bytes skipped
	MapErrors uint64 // maps that named a codec the NAL units contradict
	// Boundaries counts the carrier's frame boundaries confirmed by the
	// next PES; Misplaced, those that fell inside a frame (the carrier's
	// boundaries are then no longer followed).
	Boundaries, Misplaced uint64
}

// Start codes (the byte after 00 00 01).
const (
	codePack     = 0xBA
	codeSystem   = 0xBB
	codeMap      = 0xBC
	codeEnd      = 0xB9
	maxBuffered  = 4 << 20 // bytes waiting for a PES to complete before it is given up
	maxFrameSize = 8 << 20 // a video access unit larger than this is junk
)

// Demuxer turns program stream bytes into frames. Not safe for
// concurrent use.
type Demuxer struct {
	// OnFrame receives each frame; its Data is the demuxer's until
	// OnFrame returns (copy to keep it).
	OnFrame func(Frame)

	buf    []byte
	synced bool
	types  map[uint8]uint8 // stream id → stream type, from the map
	video  video
	stats  Stats
	// The carrier's frame boundaries (RTP marker bits, timestamps) are
	// followed once two of them proved right, and never again once one
	// fell inside a frame.
	boundary  bool // one is waiting for the next video PES to confirm it
	trusted   bool
	untrusted bool
}

// trustAfter is how many carrier boundaries must prove right before they
// end frames at once.
const trustAfter = 2

// NewDemuxer returns a demuxer that hands frames to onFrame.
func NewDemuxer(onFrame func(Frame)) *Demuxer {
	return &Demuxer{OnFrame: onFrame, types: map[uint8]uint8{}}
}

// Stats reports the counters.
func (d *Demuxer) Stats() Stats { return d.stats }

// Write parses b, appended to what was left over, emitting each frame
// that completes. A video access unit completes when the NAL units show
// the next one starting, or at Flush.
func (d *Demuxer) Write(b []byte) {
	d.buf = append(d.buf, b...)
	n := d.parse()
	d.buf = d.buf[:copy(d.buf, d.buf[n:])]
	if len(d.buf) > maxBuffered {
		d.resync()
	}
}

// Flush emits the video access unit gathered so far: the caller knows a
// frame has ended (the stream's end).
func (d *Demuxer) Flush() { d.flushVideo() }

// Boundary says the carrier marks a frame's end here (the RTP marker
// bit, or a new RTP timestamp). GB/T 28181 devices send one timestamp per
// frame, the marker on its last packet; not every sender does (some put
// a new timestamp and a marker on every pack, mid-frame). So a boundary
// ends the frame at once only after trustAfter of them were confirmed by
// the video PES that followed (it carried the next frame's PTS); until
// then the frame waits for that PES, and once a boundary falls inside a
// frame (the next PES carries none) boundaries are ignored and frames
// are cut by their NAL units alone.
func (d *Demuxer) Boundary() {
	switch {
	case d.untrusted:
	case d.trusted:
		d.flushVideo()
		d.boundary = true // still checked: a sender may change its ways
	default:
		d.boundary = true
	}
}

// checkBoundary takes the video PES that follows a carrier boundary.
func (d *Demuxer) checkBoundary(hasPTS bool, pts int64) {
	if !d.boundary {
		return
	}
	d.boundary = false
	v := &d.video
	if !hasPTS || (v.open && v.hasPTS && pts == v.pts) {
		d.stats.Misplaced++
		d.trusted, d.untrusted = false, true
		return
	}
	d.stats.Boundaries++
	if !d.trusted {
		d.flushVideo()
		d.trusted = d.stats.Boundaries >= trustAfter
	}
}

// Lost says bytes went missing (RTP loss): whatever was partly gathered
// is dropped and parsing starts again at the next pack header.
func (d *Demuxer) Lost() {
	d.video.drop()
	d.buf = d.buf[:0]
	d.synced = false
	d.boundary = false
}

// resync drops the buffer up to the next pack header after its start.
func (d *Demuxer) resync() {
	d.stats.Resyncs++
	d.video.drop()
	i := bytes.Index(d.buf[min(1, len(d.buf)):], []byte{0, 0, 1, codePack})
	if i < 0 {
		keep := min(3, len(d.buf)) // a start code may straddle the next write
		d.stats.Skipped += uint64(len(d.buf) - keep)
		d.buf = d.buf[:copy(d.buf, d.buf[len(d.buf)-keep:])]
		d.synced = false
		return
	}
	i += min(1, len(d.buf))
	d.stats.Skipped += uint64(i)
	d.buf = d.buf[:copy(d.buf, d.buf[i:])]
	d.synced = true
}

// parse consumes whole syntax elements from d.buf and answers how many
// bytes it used.
func (d *Demuxer) parse() int {
	p := 0
	for {
		b := d.buf[p:]
		if !d.synced {
			i := bytes.Index(b, []byte{0, 0, 1, codePack})
			if i < 0 {
				keep := min(3, len(b))
				d.stats.Skipped += uint64(len(b) - keep)
				return len(d.buf) - keep
			}
			d.stats.Skipped += uint64(i)
			p += i
			b = d.buf[p:]
			d.synced = true
		}
		if len(b) < 4 {
			return p
		}
		if b[0] != 0 || b[1] != 0 || b[2] != 1 {
			d.buf = d.buf[p:]
			d.resync()
			p = 0
			continue
		}
		n, ok := d.element(b)
		if !ok {
			d.buf = d.buf[p:]
			d.resync()
			p = 0
			continue
		}
		if n == 0 {
			return p // incomplete: wait for more
		}
		p += n
	}
}

// element parses the syntax element at the start of b (which begins with
// a start code): its length (0: not all there yet), or ok false for junk.
func (d *Demuxer) element(b []byte) (int, bool) {
	code := b[3]
	switch {
	case code == codePack:
		return d.pack(b)
	case code == codeEnd:
		d.flushVideo()
		return 4, true
	case code < codeEnd:
		return 0, false // a slice or other ES start code where a PS element belongs
	}
	if len(b) < 6 {
		return 0, true
	}
	n := 6 + int(binary.BigEndian.Uint16(b[4:6]))
	if len(b) < n {
		return 0, true
	}
	switch {
	case code == codeMap:
		d.programMap(b[6:n])
	case code >= 0xE0 && code <= 0xEF, code >= 0xC0 && code <= 0xDF:
		if !d.pes(code, b[6:n]) {
			return 0, false
		}
	}
	// System header, padding, private streams: skipped whole.
	return n, true
}

// pack checks a pack header (MPEG-2, or MPEG-1 as old devices send).
func (d *Demuxer) pack(b []byte) (int, bool) {
	if len(b) < 5 {
		return 0, true
	}
	switch {
	case b[4]>>6 == 1: // MPEG-2: 14 bytes and stuffing
		if len(b) < 14 {
			return 0, true
		}
		n := 14 + int(b[13]&7)
		if len(b) < n {
			return 0, true
		}
		d.stats.Packs++
		return n, true
	case b[4]>>4 == 2: // MPEG-1: 12 bytes
		if len(b) < 12 {
			return 0, true
		}
		d.stats.Packs++
		return 12, true
	}
	return 0, false
}

// programMap reads the stream types of a program stream map's body.
func (d *Demuxer) programMap(b []byte) {
	if len(b) < 4 {
		return
	}
	info := int(binary.BigEndian.Uint16(b[2:4]))
	b = b[4:]
	if len(b) < info+2 {
		return
	}
	b = b[info:]
	esLen := int(binary.BigEndian.Uint16(b[:2]))
	b = b[2:]
	if esLen > len(b) {
		esLen = len(b)
	}
	b = b[:esLen]
	for len(b) >= 4 {
		typ, id := b[0], b[1]
		n := 4 + int(binary.BigEndian.Uint16(b[2:4]))
		d.types[id] = typ
		if n > len(b) {
			return
		}
		b = b[n:]
	}
}

// pes takes one PES packet's body (after its length): ok false if its
// header is malformed.
func (d *Demuxer) pes(id uint8, b []byte) bool {
	var pts, dts int64
	var hasPTS bool
	var payload []byte
	switch {
	case len(b) >= 3 && b[0]>>6 == 2: // MPEG-2 PES header
		flags, hl := b[1]>>6, int(b[2])
		if 3+hl > len(b) {
			return false
		}
		h := b[3 : 3+hl]
		if flags&2 != 0 {
			if len(h) < 5 {
				return false
			}
			pts, hasPTS = timestamp(h), true
			dts = pts
			if flags == 3 {
				if len(h) < 10 {
					return false
				}
				dts = timestamp(h[5:])
			}
		}
		payload = b[3+hl:]
	default: // MPEG-1 PES header
		i := 0
		for i < len(b) && i < 16 && b[i] == 0xFF {
			i++
		}
		if i < len(b) && b[i]>>6 == 1 {
			i += 2
		}
		if i >= len(b) {
			return false
		}
		switch b[i] >> 4 {
		case 2:
			if i+5 > len(b) {
				return false
			}
			pts, hasPTS = timestamp(b[i:]), true
			dts = pts
			i += 5
		case 3:
			if i+10 > len(b) {
				return false
			}
			pts, dts, hasPTS = timestamp(b[i:]), timestamp(b[i+5:]), true
			i += 10
		default:
			if b[i] != 0x0F {
				return false
			}
			i++
		}
		payload = b[i:]
	}
	if id >= 0xE0 {
		if !d.video.idSet || id == d.video.id {
			d.checkBoundary(hasPTS, pts)
		}
		d.videoPES(id, pts, dts, hasPTS, payload)
		return true
	}
	codec := codecOfStreamType(d.types[id])
	if codec == CodecUnknown || codec.IsVideo() {
		codec = CodecG711A // GB/T 28181's audio when no (or a wrong) map says
	}
	d.emit(Frame{StreamID: id, Codec: codec, PTS: pts, DTS: dts, HasPTS: hasPTS, Data: payload})
	return true
}

func (d *Demuxer) emit(f Frame) {
	d.stats.Frames++
	if d.OnFrame != nil {
		d.OnFrame(f)
	}
}

// timestamp reads a 33-bit PTS or DTS from its 5 bytes.
func timestamp(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// SplitAnnexB answers the NAL units of an Annex B byte stream (start codes
// of three or four bytes), slices of b.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
