package webrtc

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"sharpeyes/relay"
)

// BenchmarkFanout measures one access unit written to a stream and read by
// N readers, including the shared WebRTC packetization: ns/op and allocs/op
// are per access unit per reader (b.N counts deliveries). The writer waits
// for the slowest reader now and then, so nothing is dropped and the figure
// is the cost of delivery, not of skipping.
func BenchmarkFanout(b *testing.B) {
	for _, readers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			s := relay.NewStream(relay.StreamConfig{RingSize: 4096, MaxLag: 2048})
			nalu := make([]byte, 7500) // one 1.5 Mbps, 25 fps frame
			nalu[0] = 0x41
			units := b.N/readers + 1
			progress := make([]atomic.Int64, readers)
			var wg sync.WaitGroup
			for i := 0; i < readers; i++ {
				r := s.NewReader()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer r.Close()
					for {
						u, err := r.Next(context.Background())
						if err != nil {
							return
						}
						_ = payloads(u)
						progress[i].Add(1)
					}
				}()
			}
			slowest := func() int64 {
				m := progress[0].Load()
				for i := range progress {
					m = min(m, progress[i].Load())
				}
				return m
			}
			b.ReportAllocs()
			b.ResetTimer()
			for j := 0; j < units; j++ {
				s.Write(&relay.Unit{Codec: relay.CodecH264, NALUs: [][]byte{nalu}, Key: j%50 == 0})
				if j%256 == 255 {
					for int64(j)-slowest() > 1024 {
						runtime.Gosched()
					}
				}
			}
			s.Close()
			wg.Wait()
			if d := s.Stats().Dropped; d > 0 {
				b.Fatalf("%d units dropped: the benchmark measured skipping", d)
			}
		})
	}
}
