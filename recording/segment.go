package recording

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"sharpeyes/relay"
)

// videoTimescale is the media time scale of recorded video (RTP's 90 kHz).
const videoTimescale = 90000

// ticks is d in the video time scale.
func ticks(d time.Duration) int64 { return int64(d) * videoTimescale / int64(time.Second) }

// fromTicks is n video ticks as a duration.
func fromTicks(n int64) time.Duration { return time.Duration(n * int64(time.Second) / videoTimescale) }

// initOf is the fMP4 initialization of a stream's video: one track.
func initOf(info relay.Info) (fmp4.Init, error) {
	var codec mp4.Codec
	switch info.Video {
	case relay.CodecH264:
		if len(info.SPS) == 0 || len(info.PPS) == 0 {
			return fmp4.Init{}, fmt.Errorf("%w: H.264 without SPS/PPS", ErrNotRecordable)
		}
		codec = &mp4.CodecH264{SPS: info.SPS, PPS: info.PPS}
	case relay.CodecH265:
		if len(info.VPS) == 0 || len(info.SPS) == 0 || len(info.PPS) == 0 {
			return fmp4.Init{}, fmt.Errorf("%w: H.265 without VPS/SPS/PPS", ErrNotRecordable)
		}
		codec = &mp4.CodecH265{VPS: info.VPS, SPS: info.SPS, PPS: info.PPS}
	default:
		return fmp4.Init{}, fmt.Errorf("%w: no video (%q)", ErrNotRecordable, info.Video)
	}
	return fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: videoTimescale, Codec: codec}}}, nil
}

// sameMedia tells whether two stream descriptions can share a segment
// (same codec, parameter sets and picture size).
func sameMedia(a, b relay.Info) bool {
	return a.Video == b.Video && a.Width == b.Width && a.Height == b.Height &&
		bytes.Equal(a.SPS, b.SPS) && bytes.Equal(a.PPS, b.PPS) && bytes.Equal(a.VPS, b.VPS)
}

// segmentFile is one segment being written: the initialization, then a
// fragment (moof+mdat) for every part of about the part duration, each
// written and synced to disk as it closes, so a crash loses at most the
// part in progress and leaves a file that plays to its last whole part.
type segmentFile struct {
	f     *os.File
	path  string
	start time.Time // wall-clock time of the first sample
	seq   uint32    // next fragment's sequence number
	part  []fmp4.Sample
	data  []byte // the part's payloads, which its samples slice (reused)
	base  int64  // media time of the part's first sample, in ticks
	end   int64  // media time after the last sample added, in ticks
	done  int64  // media time the fragments on disk reach
	bytes int64
	buf   []byte // the fragment's headers, reused
}

// createSegment makes the file of a segment starting at start (wall
// clock) and writes its initialization.
func createSegment(path string, init fmp4.Init, start time.Time) (*segmentFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &segmentFile{f: f, path: path, start: start, seq: 1, bytes: int64(buf.Len())}, nil
}

// add appends a sample whose duration is known; at media time dts
// (ticks from the segment's start).
func (s *segmentFile) add(sample fmp4.Sample, dts int64) {
	if len(s.part) == 0 {
		s.base = dts
	}
	s.part = append(s.part, sample)
	s.end = dts + int64(sample.Duration)
}

// avcc copies an access unit into the part's payloads, each NAL unit
// after its 4-byte length (ISO/IEC 14496-15), and answers the copy: the
// relay's unit is not ours to keep.
func (s *segmentFile) avcc(nalus [][]byte) []byte {
	start := len(s.data)
	for _, n := range nalus {
		s.data = binary.BigEndian.AppendUint32(s.data, uint32(len(n)))
		s.data = append(s.data, n...)
	}
	return s.data[start:len(s.data):len(s.data)]
}

// partLength is the media time the part in progress covers.
func (s *segmentFile) partLength() time.Duration { return fromTicks(s.end - s.base) }

// flush writes the part in progress as a fragment and syncs the file.
func (s *segmentFile) flush() error {
	if len(s.part) == 0 {
		return nil
	}
	// The headers, then the payloads as they lie (one copy fewer); a
	// crash between the two leaves a fragment in part, which repair cuts.
	s.buf = appendFragmentHeader(s.buf[:0], s.seq, uint64(s.base), s.part)
	_, err := s.f.Write(s.buf)
	if err == nil {
		_, err = s.f.Write(s.data)
	}
	if err != nil {
		// A fragment written in part (the disk is full) would leave a file
		// that does not play to its end: cut it back to its whole ones.
		s.part, s.data = s.part[:0], s.data[:0]
		if terr := s.f.Truncate(s.bytes); terr == nil {
			_, _ = s.f.Seek(s.bytes, io.SeekStart)
		}
		return err
	}
	if err := datasync(s.f); err != nil {
		return err
	}
	s.seq++
	s.bytes += int64(len(s.buf) + len(s.data))
	s.part, s.data = s.part[:0], s.data[:0]
	s.done = s.end
	return nil
}

// endTime is the wall-clock time the footage on disk reaches.
func (s *segmentFile) endTime() time.Time { return s.start.Add(fromTicks(s.done)) }

// close writes what is left and closes the file.
func (s *segmentFile) close() error {
	err := s.flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// box is one top-level MP4 box of a file.
type box struct {
	typ          string
	offset, size int64
}

// boxes lists the top-level boxes of r (size bytes), stopping before a box
// that does not fit (a fragment cut short by a crash).
func boxes(r io.ReaderAt, size int64) ([]box, error) {
	var out []box
	var hdr [16]byte
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return out, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		switch n {
		case 1: // 64-bit size
			if off+16 > size {
				return out, nil
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return out, err
			}
			n = int64(binary.BigEndian.Uint64(hdr[8:16]))
		case 0: // to the end of the file
			n = size - off
		}
		if n < 8 || off+n > size {
			return out, nil
		}
		out = append(out, box{typ, off, n})
		off += n
	}
	return out, nil
}

// repair makes a segment file that was being written when the gateway
// stopped whole again: what follows the last complete fragment (a
// fragment cut short) is cut off. It answers the file's size after.
func repair(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	bs, err := boxes(f, st.Size())
	if err != nil {
		return 0, err
	}
	// Whole fragments are a moof followed by its mdat.
	keep := int64(0)
	for i, b := range bs {
		switch {
		case b.typ == "ftyp" || b.typ == "moov":
			keep = b.offset + b.size
		case b.typ == "mdat" && i > 0 && bs[i-1].typ == "moof":
			keep = b.offset + b.size
		}
	}
	if keep < st.Size() {
		if err := f.Truncate(keep); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return keep, nil
}
