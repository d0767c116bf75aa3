package gb28181

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"sharpeyes/gb28181/ps"
)

// psFrames is n small PS frames (an H.264 IDR with its parameter sets,
// then slices), each as RTP packets of the given SSRC.
func psFrames(ssrc uint32, n int) [][]byte {
	m := ps.Muxer{Video: ps.CodecH264}
	pk := ps.Packetizer{PayloadType: 96, SSRC: ssrc, MTU: 500}
	var out [][]byte
	for i := 0; i < n; i++ {
		au := []byte{0, 0, 0, 1, 0x41, 0x9A, byte(i)}
		if i == 0 {
			au = []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0x1F, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 0x88, 0x84}
		}
		au = append(au, bytes.Repeat([]byte{byte(i + 1)}, 1200)...)
		for _, p := range pk.Packets(m.AppendVideo(nil, au, int64(i)*3600, int64(i)*3600, i == 0), uint32(i*3600)) {
			b, _ := p.Marshal()
			out = append(out, b)
		}
	}
	return out
}

// TestMediaBySSRC: two devices' PS over the one UDP port and one over the
// TCP port (RFC 4571) reach the demuxers of their SSRCs, every frame;
// packets of an SSRC nobody expects are dropped and counted.
func TestMediaBySSRC(t *testing.T) {
	m, err := ListenMedia(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var mu sync.Mutex
	got := map[uint32][]int64{}
	for _, ssrc := range []uint32{100000001, 100000002, 100000003} {
		stop, _ := m.Expect(ssrc, func(f ps.Frame) { mu.Lock(); got[ssrc] = append(got[ssrc], f.PTS); mu.Unlock() })
		defer stop()
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port()))
	udp, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	a, b, x := psFrames(100000001, 10), psFrames(100000002, 10), psFrames(999, 5)
	for i := 0; i < len(a) || i < len(b); i++ { // interleaved, as two devices at once
		for _, pkts := range [][][]byte{a, b, x} {
			if i < len(pkts) {
				_, _ = udp.Write(pkts[i])
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	for _, p := range psFrames(100000003, 10) {
		_, _ = tcp.Write(binary.BigEndian.AppendUint16(nil, uint16(len(p))))
		_, _ = tcp.Write(p)
	}
	// The last frame of each ends at its marker bit.
	waitFor(t, 3*time.Second, "every frame", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[100000001]) == 10 && len(got[100000002]) == 10 && len(got[100000003]) == 10
	})
	for ssrc, pts := range got {
		for i, p := range pts {
			if p != int64(i)*3600 {
				t.Fatalf("ssrc %d frame %d at %d", ssrc, i, p)
			}
		}
	}
	if m.Unknown.Load() == 0 {
		t.Fatal("packets of an unknown SSRC were not counted")
	}
}
