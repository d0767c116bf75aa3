package recording

import (
	"encoding/binary"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// ISO/IEC 14496-12 track run flags and the non-sync sample flag.
const (
	trunDataOffset = 0x001
	trunDuration   = 0x100
	trunSize       = 0x200
	trunFlags      = 0x400
	trunCTO        = 0x800
	sampleNonSync  = 1 << 16
	tfhdBaseIsMoof = 0x020000
)

// appendFragment appends one fragment of track 1 (moof, then mdat with
// the samples' payloads) to dst: the bytes fmp4.Part.Marshal writes for
// the same part, without its reflection and its zeroed buffers, which were
// most of a recorder's time.
func appendFragment(dst []byte, seq uint32, base uint64, samples []fmp4.Sample) []byte {
	dst = appendFragmentHeader(dst, seq, base, samples)
	for _, s := range samples {
		dst = append(dst, s.Payload...)
	}
	return dst
}

// appendFragmentHeader appends a fragment's moof and its mdat's header:
// the payloads follow, in the samples' order.
func appendFragmentHeader(dst []byte, seq uint32, base uint64, samples []fmp4.Sample) []byte {
	flags := uint32(trunDataOffset | trunDuration | trunSize)
	data := 0
	for _, s := range samples {
		if s.IsNonSyncSample {
			flags |= trunFlags
		}
		if s.PTSOffset != 0 {
			flags |= trunCTO
		}
		data += len(s.Payload)
	}
	entry := 8
	if flags&trunFlags != 0 {
		entry += 4
	}
	if flags&trunCTO != 0 {
		entry += 4
	}
	trun := 20 + entry*len(samples)
	traf := 8 + 16 + 20 + trun
	moof := 8 + 16 + traf
	be := binary.BigEndian
	box := func(size int, typ string) {
		dst = be.AppendUint32(dst, uint32(size))
		dst = append(dst, typ...)
	}
	box(moof, "moof")
	box(16, "mfhd")
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, seq)
	box(traf, "traf")
	box(16, "tfhd")
	dst = be.AppendUint32(dst, tfhdBaseIsMoof) // version 0
	dst = be.AppendUint32(dst, 1)
	box(20, "tfdt")
	dst = be.AppendUint32(dst, 1<<24) // version 1: a 64-bit time
	dst = be.AppendUint64(dst, base)
	box(trun, "trun")
	dst = be.AppendUint32(dst, 1<<24|flags) // version 1: signed offsets
	dst = be.AppendUint32(dst, uint32(len(samples)))
	dst = be.AppendUint32(dst, uint32(moof+8)) // data offset: the mdat's payload, from the moof's start
	for _, s := range samples {
		dst = be.AppendUint32(dst, s.Duration)
		dst = be.AppendUint32(dst, uint32(len(s.Payload)))
		if flags&trunFlags != 0 {
			var f uint32
			if s.IsNonSyncSample {
				f = sampleNonSync
			}
			dst = be.AppendUint32(dst, f)
		}
		if flags&trunCTO != 0 {
			dst = be.AppendUint32(dst, uint32(s.PTSOffset))
		}
	}
	box(8+data, "mdat")
	return dst
}
