package recording

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// TestAppendFragmentWritesWhatMediacommonWrites: for parts of every shape
// (one sample or many, keyframes only or not, with composition offsets or
// without) the hand-written fragment is byte for byte mediacommon's, and
// reads back as the same samples.
func TestAppendFragmentWritesWhatMediacommonWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		var samples []*fmp4.Sample
		for i := range 1 + r.IntN(40) {
			s := &fmp4.Sample{Duration: uint32(r.IntN(9000)), IsNonSyncSample: i > 0 && n%3 != 0, Payload: make([]byte, r.IntN(3000))}
			if n%4 == 1 {
				s.PTSOffset = int32(r.IntN(6000) - 3000)
			}
			for j := range s.Payload {
				s.Payload[j] = byte(r.Uint32())
			}
			samples = append(samples, s)
		}
		seq, base := uint32(r.Uint32()), r.Uint64()
		var want seekablebuffer.Buffer
		if err := (fmp4.Part{SequenceNumber: seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: base, Samples: samples}}}).Marshal(&want); err != nil {
			t.Fatal(err)
		}
		vals := make([]fmp4.Sample, len(samples))
		for i, s := range samples {
			vals[i] = *s
		}
		got := appendFragment([]byte("prefix"), seq, base, vals)
		if !bytes.Equal(got[6:], want.Bytes()) {
			t.Fatalf("part %d (%d samples): %d bytes, mediacommon writes %d; first difference at %d", n, len(samples), len(got)-6, want.Len(), firstDiff(got[6:], want.Bytes()))
		}
		var back fmp4.Parts
		if err := back.Unmarshal(got[6:]); err != nil || len(back) != 1 || len(back[0].Tracks[0].Samples) != len(samples) {
			t.Fatalf("part %d reads back as %v (%v)", n, back, err)
		}
		// And the hand-written reader reads what mediacommon reads.
		file := got[6:]
		moofSize := int(file[0])<<24 | int(file[1])<<16 | int(file[2])<<8 | int(file[3])
		rbase, rs, sizes, err := readFragment(file, 0, file[:moofSize], true)
		if err != nil || rbase != base || len(rs) != len(samples) {
			t.Fatalf("part %d: readFragment %v, base %d of %d, %d samples of %d", n, err, rbase, base, len(rs), len(samples))
		}
		for i, s := range back[0].Tracks[0].Samples {
			if rs[i].Duration != s.Duration || rs[i].PTSOffset != s.PTSOffset || rs[i].IsNonSyncSample != s.IsNonSyncSample ||
				!bytes.Equal(rs[i].Payload, s.Payload) || sizes[i] != uint32(len(s.Payload)) {
				t.Fatalf("part %d sample %d: read %+v, mediacommon reads %+v", n, i, rs[i], s)
			}
		}
	}
}

// TestReadFragmentRefusesWhatDoesNotFit: a fragment cut short or with
// samples past the end of the file is an error, never a panic.
func TestReadFragmentRefusesWhatDoesNotFit(t *testing.T) {
	frag := appendFragment(nil, 1, 0, []fmp4.Sample{{Duration: 3600, Payload: make([]byte, 100)}, {Duration: 3600, Payload: make([]byte, 50)}})
	moof := int(frag[3]) | int(frag[2])<<8
	if _, _, _, err := readFragment(frag[:len(frag)-10], 0, frag[:moof], true); err == nil {
		t.Fatal("samples past the end of the file read")
	}
	for cut := 8; cut < moof; cut += 7 {
		m := append([]byte(nil), frag[:cut]...)
		m[0], m[1], m[2], m[3] = 0, 0, byte(cut>>8), byte(cut)
		_, _, _, _ = readFragment(frag, 0, m, true) // no panic
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func BenchmarkFragment(b *testing.B) {
	var samples []*fmp4.Sample
	var vals []fmp4.Sample
	for i := range 25 {
		samples = append(samples, &fmp4.Sample{Duration: 3600, IsNonSyncSample: i > 0, Payload: make([]byte, 2500)})
		vals = append(vals, *samples[i])
	}
	b.Run("appendFragment", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendFragment(buf[:0], 1, 0, vals)
		}
	})
	b.Run("mediacommon", func(b *testing.B) {
		for b.Loop() {
			var buf seekablebuffer.Buffer
			_ = (fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{{ID: 1, Samples: samples}}}).Marshal(&buf)
		}
	})
}
