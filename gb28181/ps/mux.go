package ps

import "encoding/binary"

// Stream ids the muxer writes: GB/T 28181 devices put video on 0xE0 and
// audio on 0xC0.
const (
	VideoStreamID = 0xE0
	AudioStreamID = 0xC0
)

// maxPESPayload keeps a PES (its 16-bit length covers the header's 8 or
// 13 bytes too) within 65535 bytes.
const maxPESPayload = 65535 - 13

// Muxer writes frames as a program stream in the shape GB/T 28181
// platforms expect: every frame starts a pack; a keyframe's pack also
// carries the system header and the program stream map; a frame larger
// than one PES is split over several, the first with the timestamps.
type Muxer struct {
	Video Codec // CodecH264 or CodecH265
	Audio Codec // CodecG711A, CodecG711U or CodecUnknown (no audio)
	buf   []byte
}

// AppendVideo appends the pack of one video access unit (Annex B) at
// pts/dts (90 kHz) to dst.
func (m *Muxer) AppendVideo(dst []byte, au []byte, pts, dts int64, key bool) []byte {
	dst = appendPackHeader(dst, dts)
	if key {
		dst = m.appendSystemHeader(dst)
		dst = m.appendMap(dst)
	}
	return appendPES(dst, VideoStreamID, au, pts, dts, true)
}

// AppendAudio appends the pack of one audio frame at pts (90 kHz).
func (m *Muxer) AppendAudio(dst []byte, frame []byte, pts int64) []byte {
	dst = appendPackHeader(dst, pts)
	return appendPES(dst, AudioStreamID, frame, pts, pts, false)
}

// appendPackHeader writes an MPEG-2 pack header with SCR scr (90 kHz).
func appendPackHeader(dst []byte, scr int64) []byte {
	scr &= 1<<33 - 1
	const muxRate = 25000 // ×50 bytes/s: 10 Mbit/s, an upper bound
	return append(dst, 0, 0, 1, codePack,
		0x44|byte(scr>>27&0x38)|byte(scr>>28&0x03),
		byte(scr>>20),
		byte(scr>>12&0xF8)|0x04|byte(scr>>13&0x03),
		byte(scr>>5),
		byte(scr<<3&0xF8)|0x04, // SCR extension 0
		0x01,
		muxRate>>14, muxRate>>6&0xFF, muxRate<<2&0xFF|0x03,
		0xF8) // no stuffing
}

func (m *Muxer) appendSystemHeader(dst []byte) []byte {
	// Each: stream id, '11', P-STD buffer scale and size (video 128 × 1024
	// bytes, audio 32 × 128).
	streams := [][3]byte{{VideoStreamID, 0xE0, 0x80}}
	if m.Audio != CodecUnknown {
		streams = append(streams, [3]byte{AudioStreamID, 0xC0, 0x20})
	}
	n := 6 + 3*len(streams)
	const rateBound = 50000 // ×50 bytes/s
	dst = append(dst, 0, 0, 1, codeSystem, byte(n>>8), byte(n),
		0x80|rateBound>>15, rateBound>>7&0xFF, rateBound<<1&0xFF|1, // marker, rate bound, marker
		0x04, // audio bound 1, not fixed, not CSPS
		0xE1, // system audio and video lock, marker, video bound 1
		0xFF) // no packet rate restriction, reserved
	for _, s := range streams {
		dst = append(dst, s[0], s[1], s[2])
	}
	return dst
}

// appendMap writes the program stream map (with its CRC-32).
func (m *Muxer) appendMap(dst []byte) []byte {
	vt := byte(StreamTypeH264)
	if m.Video == CodecH265 {
		vt = StreamTypeH265
	}
	es := []byte{vt, VideoStreamID, 0, 0}
	switch m.Audio {
	case CodecG711A:
		es = append(es, StreamTypeG711A, AudioStreamID, 0, 0)
	case CodecG711U:
		es = append(es, StreamTypeG711U, AudioStreamID, 0, 0)
	}
	start := len(dst)
	n := 2 + 2 + 2 + len(es) + 4 // flags, info length, map length, map, CRC
	dst = append(dst, 0, 0, 1, codeMap, byte(n>>8), byte(n),
		0xE0, // current, version 0
		0xFF, // reserved, marker
		0, 0, // program stream info length
		byte(len(es)>>8), byte(len(es)))
	dst = append(dst, es...)
	return binary.BigEndian.AppendUint32(dst, crc32MPEG(dst[start:]))
}

// appendPES writes payload as one or more PES packets of stream id; the
// first carries pts (and dts, if video and different).
func appendPES(dst []byte, id byte, payload []byte, pts, dts int64, video bool) []byte {
	first := true
	for first || len(payload) > 0 {
		chunk := payload
		if len(chunk) > maxPESPayload {
			chunk = chunk[:maxPESPayload]
		}
		payload = payload[len(chunk):]
		var hdr []byte
		switch {
		case first && video && dts != pts:
			hdr = append(appendTimestamp(nil, 0x30, pts), appendTimestamp(nil, 0x10, dts)...)
		case first:
			hdr = appendTimestamp(nil, 0x20, pts)
		}
		flags := byte(0)
		switch len(hdr) {
		case 5:
			flags = 0x80
		case 10:
			flags = 0xC0
		}
		n := 3 + len(hdr) + len(chunk)
		dst = append(dst, 0, 0, 1, id, byte(n>>8), byte(n), 0x80, flags, byte(len(hdr)))
		dst = append(dst, hdr...)
		dst = append(dst, chunk...)
		first = false
	}
	return dst
}

// appendTimestamp writes a 33-bit PTS or DTS with its 4-bit prefix.
func appendTimestamp(dst []byte, prefix byte, t int64) []byte {
	t &= 1<<33 - 1
	return append(dst,
		prefix|byte(t>>29&0x0E)|1,
		byte(t>>22),
		byte(t>>14&0xFE)|1,
		byte(t>>7),
		byte(t<<1)|1)
}

// crc32MPEG is the CRC-32 of MPEG-2 systems (polynomial 0x04C11DB7, no
// reflection, initial value all ones).
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
