package recording

import (
	"encoding/binary"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// tfhd flags (ISO/IEC 14496-12 8.8.7).
const (
	tfhdBaseDataOffset   = 0x000001
	tfhdSampleDescIndex  = 0x000002
	tfhdDefaultDuration  = 0x000008
	tfhdDefaultSize      = 0x000010
	tfhdDefaultFlags     = 0x000020
	trunFirstSampleFlags = 0x004
)

// readFragment reads the samples of track 1 from one fragment: moof (its
// bytes, at file offset moofAt) and the file b it points into. Payloads
// are slices of b (nil when payloads is false; their sizes are kept).
// It reads what any ISO BMFF writer may put in a moof, not only ours.
func readFragment(b []byte, moofAt int64, moof []byte, payloads bool) (base uint64, samples []fmp4.Sample, sizes []uint32, err error) {
	bad := func(what string) error { return fmt.Errorf("fragment at %d: %s", moofAt, what) }
	be := binary.BigEndian
	var tfhdFlags, defDur, defSize, defFlags uint32
	dataBase := moofAt // default-base-is-moof, or the moof when nothing says
	found := false
	for p := 8; p+8 <= len(moof); {
		size := int(be.Uint32(moof[p:]))
		if size < 8 || p+size > len(moof) {
			return 0, nil, nil, bad("box size")
		}
		if string(moof[p+4:p+8]) != "traf" {
			p += size
			continue
		}
		traf := moof[p+8 : p+size]
		p += size
		for q := 0; q+8 <= len(traf); {
			bs := int(be.Uint32(traf[q:]))
			if bs < 8 || q+bs > len(traf) {
				return 0, nil, nil, bad("traf child size")
			}
			body := traf[q+8 : q+bs]
			typ := string(traf[q+4 : q+8])
			q += bs
			switch typ {
			case "tfhd":
				if len(body) < 8 {
					return 0, nil, nil, bad("tfhd")
				}
				tfhdFlags = be.Uint32(body) & 0xFFFFFF
				if be.Uint32(body[4:]) != 1 {
					found = false
					continue // another track's
				}
				found = true
				r := body[8:]
				take := func(n int) ([]byte, bool) {
					if len(r) < n {
						return nil, false
					}
					v := r[:n]
					r = r[n:]
					return v, true
				}
				if tfhdFlags&tfhdBaseDataOffset != 0 {
					v, ok := take(8)
					if !ok {
						return 0, nil, nil, bad("tfhd base data offset")
					}
					dataBase = int64(be.Uint64(v))
				}
				if tfhdFlags&tfhdSampleDescIndex != 0 {
					if _, ok := take(4); !ok {
						return 0, nil, nil, bad("tfhd")
					}
				}
				for _, f := range []struct {
					flag uint32
					to   *uint32
				}{{tfhdDefaultDuration, &defDur}, {tfhdDefaultSize, &defSize}, {tfhdDefaultFlags, &defFlags}} {
					if tfhdFlags&f.flag != 0 {
						v, ok := take(4)
						if !ok {
							return 0, nil, nil, bad("tfhd defaults")
						}
						*f.to = be.Uint32(v)
					}
				}
			case "tfdt":
				if !found || len(body) < 8 {
					continue
				}
				if body[0] == 1 && len(body) >= 12 {
					base = be.Uint64(body[4:])
				} else {
					base = uint64(be.Uint32(body[4:]))
				}
			case "trun":
				if !found {
					continue
				}
				if len(body) < 8 {
					return 0, nil, nil, bad("trun")
				}
				flags := be.Uint32(body) & 0xFFFFFF
				signed := body[0] == 1
				n := int(be.Uint32(body[4:]))
				r := body[8:]
				off := dataBase
				if flags&trunDataOffset != 0 {
					if len(r) < 4 {
						return 0, nil, nil, bad("trun data offset")
					}
					off = dataBase + int64(int32(be.Uint32(r)))
					r = r[4:]
				}
				firstFlags, haveFirst := uint32(0), false
				if flags&trunFirstSampleFlags != 0 {
					if len(r) < 4 {
						return 0, nil, nil, bad("trun first sample flags")
					}
					firstFlags, haveFirst, r = be.Uint32(r), true, r[4:]
				}
				entry := 0
				for _, f := range []uint32{trunDuration, trunSize, trunFlags, trunCTO} {
					if flags&f != 0 {
						entry += 4
					}
				}
				if n < 0 || n > len(r)/max(entry, 1)+1 || (entry > 0 && len(r) < n*entry) {
					return 0, nil, nil, bad("trun sample count")
				}
				for i := 0; i < n; i++ {
					dur, size, sf := defDur, defSize, defFlags
					if i == 0 && haveFirst {
						sf = firstFlags
					}
					var cto int32
					if flags&trunDuration != 0 {
						dur, r = be.Uint32(r), r[4:]
					}
					if flags&trunSize != 0 {
						size, r = be.Uint32(r), r[4:]
					}
					if flags&trunFlags != 0 {
						sf, r = be.Uint32(r), r[4:]
					}
					if flags&trunCTO != 0 {
						v := be.Uint32(r)
						r = r[4:]
						if signed {
							cto = int32(v)
						} else {
							cto = int32(min(v, 1<<31-1))
						}
					}
					if off < 0 || off+int64(size) > int64(len(b)) {
						return 0, nil, nil, bad("sample outside the file")
					}
					s := fmp4.Sample{Duration: dur, PTSOffset: cto, IsNonSyncSample: sf&sampleNonSync != 0}
					if payloads {
						s.Payload = b[off : off+int64(size) : off+int64(size)]
					}
					samples = append(samples, s)
					sizes = append(sizes, size)
					off += int64(size)
				}
			}
		}
	}
	return base, samples, sizes, nil
}
