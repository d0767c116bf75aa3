package camsim

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// LatencyUUID identifies the SEI user_data_unregistered message that carries
// the camera's wall-clock send time: the 16 ASCII bytes "SharpEyesLatency",
// followed by 8 bytes of big-endian Unix nanoseconds.
var LatencyUUID = [16]byte{'S', 'h', 'a', 'r', 'p', 'E', 'y', 'e', 's', 'L', 'a', 't', 'e', 'n', 'c', 'y'}

const seiPayloadUserDataUnregistered = 5

// TimestampSEI returns an SEI NAL unit (type 6) carrying t.
func TimestampSEI(t time.Time) []byte {
	rbsp := make([]byte, 0, 27)
	rbsp = append(rbsp, seiPayloadUserDataUnregistered, 24)
	rbsp = append(rbsp, LatencyUUID[:]...)
	rbsp = binary.BigEndian.AppendUint64(rbsp, uint64(t.UnixNano()))
	rbsp = append(rbsp, 0x80) // rbsp_trailing_bits
	return append([]byte{byte(h264.NALUTypeSEI)}, addEmulationPrevention(rbsp)...)
}

// ParseTimestampSEI returns the send time if nalu is a latency SEI.
func ParseTimestampSEI(nalu []byte) (time.Time, bool) {
	if len(nalu) < 2 || h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeSEI {
		return time.Time{}, false
	}
	rbsp := h264.EmulationPreventionRemove(nalu[1:])
	if len(rbsp) < 2+24 || rbsp[0] != seiPayloadUserDataUnregistered || rbsp[1] != 24 {
		return time.Time{}, false
	}
	if !bytes.Equal(rbsp[2:18], LatencyUUID[:]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(rbsp[18:26]))), true
}

// FindTimestamp looks for a latency SEI in an access unit.
func FindTimestamp(au [][]byte) (time.Time, bool) {
	for _, n := range au {
		if t, ok := ParseTimestampSEI(n); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// addEmulationPrevention inserts 0x03 after any two zero bytes followed by a
// byte <= 3, as H.264 7.4.1 requires.
func addEmulationPrevention(rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+4)
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
