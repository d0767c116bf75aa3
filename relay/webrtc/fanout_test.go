package webrtc

import (
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"sharpeyes/relay/whepclient"

	"sharpeyes/relay/relaytest"
)

// shardsOf lists the member counts of the live shards of the test camera.
func shardsOf(w *WHEP, p *relaytest.Provider) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n []int
	for _, sh := range w.shards[p.Streams["cam1"]] {
		sh.mu.Lock()
		n = append(n, len(sh.members))
		sh.mu.Unlock()
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// framesFor counts the frames each client receives over d, after
// dropping what was waiting; steps run one by one, spread over d, while
// the frames are counted. The live frames of the test feed are 40 ms
// apart: a frame skipped or repeated by a hand-over shows as another RTP
// time step, and fails the test.
func framesFor(t *testing.T, cs []*whepclient.Client, d time.Duration, steps ...func()) []int {
	t.Helper()
	for _, c := range cs {
		for len(c.Frames()) > 0 {
			<-c.Frames()
		}
	}
	n := make([]int, len(cs))
	last := make([]uint32, len(cs))
	start, done := time.Now(), 0
	for time.Since(start) < d {
		if done < len(steps) && time.Since(start) > d*time.Duration(done+1)/time.Duration(len(steps)+1) {
			steps[done]()
			done++
		}
		got := false
		for i, c := range cs {
			select {
			case f, ok := <-c.Frames():
				if !ok {
					t.Fatalf("viewer %d: frames stopped", i)
				}
				if n[i] > 0 && f.Timestamp-last[i] != 3600 {
					t.Fatalf("viewer %d: frame %d is %d RTP ticks after the one before, want 3600 (40 ms)", i, n[i], f.Timestamp-last[i])
				}
				last[i] = f.Timestamp
				n[i]++
				got = true
			default:
			}
		}
		if !got {
			time.Sleep(2 * time.Millisecond)
		}
	}
	return n
}

// countFrames counts the frames each client receives over d, after
// dropping what was waiting; a client whose frames have ended counts 0.
func countFrames(cs []*whepclient.Client, d time.Duration) []int {
	for _, c := range cs {
		for len(c.Frames()) > 0 {
			<-c.Frames()
		}
	}
	n := make([]int, len(cs))
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		for i, c := range cs {
			for more := true; more; {
				select {
				case _, ok := <-c.Frames():
					more = ok
					if ok {
						n[i]++
					}
				default:
					more = false
				}
			}
		}
	}
	return n
}

func TestLiveShardsServeCaughtUpViewersTogether(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w, p, stop := newTestWHEP(t)
	defer stop()
	w.shardSize = 2
	stream := p.Streams["cam1"]
	time.Sleep(700 * time.Millisecond) // join mid-GOP

	// Four viewers whose SRTP the gateway seals itself, and one that
	// insists on being the DTLS server, whose SRTP pion seals.
	var cs []*whepclient.Client
	for i := range 5 {
		_, c, _ := join(t, w, whepclient.Options{AcceptReplays: true, DTLSServer: i == 4})
		cs = append(cs, c)
	}
	// Caught up, every viewer is in a shard: five viewers, shards of two.
	waitFor(t, "five viewers in three shards", func() bool {
		n := shardsOf(w, p)
		return len(n) == 3 && n[0]+n[1]+n[2] == 5
	})
	if r := stream.Readers(); r != 5 {
		t.Fatalf("stream readers = %d, want 5 (viewers count, shards do not)", r)
	}
	if own, pion := w.SRTPSealed(); own != 4 || pion != 1 {
		t.Fatalf("SRTP sealed by the gateway for %d viewers and by pion for %d, want 4 and 1", own, pion)
	}
	calls0, pkts0 := w.SendStats()
	got := framesFor(t, cs, 2*time.Second)
	for i, n := range got {
		if n < 45 {
			t.Fatalf("viewer %d: %d frames in 2 s, want >= 45 (all: %v)", i, n, got)
		}
		if l := cs[i].Lost(); l != 0 {
			t.Fatalf("viewer %d lost %d packets across the hand-over to its shard", i, l)
		}
	}
	if calls, pkts := w.SendStats(); w.gso.enabled.Load() && (pkts-pkts0) < 5*(calls-calls0) {
		t.Fatalf("%d packets in %d system calls: want several viewers' packets per call", pkts-pkts0, calls-calls0)
	}

	// A viewer whose path leaves plain UDP goes back to its own goroutine
	// without a gap, and rejoins a shard when UDP is back: pion seals its
	// SRTP and writes wherever the path goes.
	var s *session
	w.mu.Lock()
	for _, x := range w.sessions {
		if x.shard != nil && x.own.Load() == nil {
			s = x
			break
		}
	}
	w.mu.Unlock()
	ap := s.remote.Load()
	got = framesFor(t, cs, 3*time.Second, func() {
		s.remote.Store(nil)
		waitFor(t, "the viewer out of its shard", func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return s.shard == nil
		})
	}, func() {
		s.remote.Store(ap)
		waitFor(t, "the viewer back in a shard", func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return s.shard != nil
		})
	})
	for i := range cs {
		if got[i] < 60 || cs[i].Lost() != 0 || cs[i].Duplicates() != 0 {
			t.Fatalf("viewer %d: %d frames in 3 s around the moves, %d lost, %d duplicated", i, got[i], cs[i].Lost(), cs[i].Duplicates())
		}
	}

	// A viewer whose SRTP the gateway seals cannot follow its path off the
	// shared socket (to ICE-TCP): its session ends, and its player
	// reconnects; the others see nothing of it.
	var gone *session
	w.mu.Lock()
	for _, x := range w.sessions {
		if x.own.Load() != nil {
			gone = x
			break
		}
	}
	w.mu.Unlock()
	gone.remote.Store(nil)
	waitFor(t, "the session off the shared socket ended", func() bool { return w.Sessions("") == 4 })
	time.Sleep(100 * time.Millisecond) // what was under way arrives
	n := countFrames(cs, time.Second)
	slices.Sort(n)
	if n[0] != 0 || n[1] < 20 {
		t.Fatalf("frames in 1 s after one session ended: %v, want one 0 and the rest >= 20", n)
	}
	// Viewers leaving empty their shards; an empty shard stops.
	for _, c := range cs {
		if c != cs[4] {
			c.Close()
		}
	}
	waitFor(t, "one viewer left", func() bool { return w.Sessions("") == 1 })
	waitFor(t, "one shard with one viewer", func() bool {
		n := shardsOf(w, p)
		return len(n) == 1 && n[0] == 1
	})
	if n := framesFor(t, cs[4:], time.Second); n[0] < 20 {
		t.Fatalf("the remaining viewer got %d frames in 1 s", n[0])
	}
	// The camera's stream ending ends the viewers its shards serve.
	stream.Close()
	waitFor(t, "no sessions after the stream closed", func() bool { return w.Sessions("") == 0 && p.Held() == 0 })
	waitFor(t, "no shards", func() bool { return len(shardsOf(w, p)) == 0 })
}
