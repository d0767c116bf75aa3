// Package relaytest helps the tests of the relay's outputs: a stream
// provider that serves fixed streams and counts what is held, and a feed
// of the committed clip into a stream at 25 fps.
package relaytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/relay"
)

// Provider serves fixed streams; it counts acquisitions still held.
type Provider struct {
	mu       sync.Mutex
	Streams  map[string]*relay.Stream
	held     int
	acquired int // every acquisition, ever
}

// Acquire implements relay.StreamProvider.
func (p *Provider) Acquire(_ context.Context, id, variant string) (*relay.Stream, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.Streams[id]
	if !ok {
		return nil, nil, relay.ErrUnknownCamera
	}
	p.held++
	p.acquired++
	var once sync.Once
	return s, func() { once.Do(func() { p.mu.Lock(); p.held--; p.mu.Unlock() }) }, nil
}

// Held is how many acquisitions are not released yet.
func (p *Provider) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Acquired is how many acquisitions there were, ever.
func (p *Provider) Acquired() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acquired
}

// Feed writes the committed sub clip into s at 25 fps, each access unit
// led by a camsim timestamp SEI, until ctx ends.
func Feed(ctx context.Context, t testing.TB, s *relay.Stream) {
	clip, err := camsim.ParseClip(sharpeyes.SubClip)
	if err != nil {
		t.Error(err)
		return
	}
	s.SetInfo(relay.Info{Video: relay.CodecH264, SPS: clip.SPS, PPS: clip.PPS, Width: clip.Width, Height: clip.Height})
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		au := clip.Units[i%len(clip.Units)]
		key := au[0][0]&0x1f == 7
		nalus := append([][]byte{camsim.TimestampSEI(time.Now())}, au...)
		s.Write(&relay.Unit{Codec: relay.CodecH264, PTS: time.Duration(i) * 40 * time.Millisecond, NALUs: nalus, Key: key, Received: time.Now()})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
