package webrtc

import (
	"context"
	"sync"

	"sharpeyes/relay"
)

// shardSize is how many viewers one live shard serves. A shard sends a
// unit to its viewers one after the other, so it bounds the time from the
// first viewer to the last (≈ 32 µs of CPU each on a 2-vCPU machine: ≈ 2 ms
// for 64); more viewers take more shards, which run in parallel. 128 was
// measured no cheaper (docs/benchmarks.md).
const shardSize = 64

// liveShard follows a stream live for up to shardSize UDP viewers that
// have caught up (catchUp): one goroutine and one reader instead of one per
// viewer, and each unit's packets for all of them leave together in one
// sendmmsg (gsoBatch) instead of a system call per viewer. A viewer whose
// path leaves UDP (ICE-TCP, where a write may block) goes back to its own
// goroutine.
type liveShard struct {
	w      *WHEP
	stream *relay.Stream
	r      *relay.Reader // uncounted: its sessions count as the stream's readers
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	members []*session
	cursor  uint64 // sequence number of the next unit the shard delivers
	closed  bool
}

// attach hands a caught-up session to a live shard of its stream, which
// sends it every unit from from on. False when the session must read on
// by itself first: a shard with room has already sent past from.
func (w *WHEP) attach(s *session, from uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil || s.ctx.Err() != nil {
		return false
	}
	ahead := false
	for _, sh := range w.shards[s.stream] {
		sh.mu.Lock()
		room := !sh.closed && len(sh.members) < w.shardSize
		if room && from >= sh.cursor {
			s.from = from
			sh.members = append(sh.members, s)
			s.shard = sh
			sh.mu.Unlock()
			return true
		}
		ahead = ahead || room
		sh.mu.Unlock()
	}
	if ahead {
		return false
	}
	sh := &liveShard{w: w, stream: s.stream, r: s.stream.ReaderAt(from), cursor: from, members: []*session{s}}
	sh.ctx, sh.cancel = context.WithCancel(w.ctx)
	s.from, s.shard = from, sh
	if w.shards == nil {
		w.shards = map[*relay.Stream][]*liveShard{}
	}
	w.shards[s.stream] = append(w.shards[s.stream], sh)
	w.wg.Add(1)
	go sh.run()
	return true
}

// detachLocked removes a session from its shard (w.mu held); a shard
// left without sessions stops.
func (w *WHEP) detachLocked(s *session) {
	sh := s.shard
	if sh == nil {
		return
	}
	s.shard = nil
	sh.mu.Lock()
	for i, m := range sh.members {
		if m == s {
			sh.members = append(sh.members[:i], sh.members[i+1:]...)
			break
		}
	}
	empty := len(sh.members) == 0
	if empty {
		sh.closed = true
	}
	sh.mu.Unlock()
	if !empty {
		return
	}
	sh.cancel()
	list := w.shards[sh.stream]
	for i, x := range list {
		if x == sh {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.shards, sh.stream)
	} else {
		w.shards[sh.stream] = list
	}
}

// run delivers each unit of the stream to the shard's sessions.
func (sh *liveShard) run() {
	defer sh.w.wg.Done()
	b := gsoBatch{g: sh.w.gso}
	var live []*session
	for {
		u, err := sh.r.Next(sh.ctx)
		if err != nil {
			if sh.ctx.Err() == nil { // the stream ended: so do its viewers
				sh.w.mu.Lock() // closed first: no session joins a shard that has stopped
				sh.mu.Lock()
				sh.closed = true
				live = append(live[:0], sh.members...)
				sh.mu.Unlock()
				sh.w.mu.Unlock()
				for _, s := range live {
					s.close()
				}
			}
			return
		}
		sh.mu.Lock()
		sh.cursor = u.Seq() + 1
		live = append(live[:0], sh.members...)
		sh.mu.Unlock()
		for _, s := range live {
			if u.Seq() < s.from || s.ctx.Err() != nil {
				continue
			}
			ap := s.remote.Load()
			if ap == nil {
				sh.w.resume(s, u.Seq())
				continue
			}
			// A session sealing its own SRTP writes into the batch's
			// arena directly; pion's packets to a held address go there
			// through the socket.
			var batch *gsoBatch
			open := false
			if s.own.Load() != nil {
				open = b.begin(*ap)
				if open {
					batch = &b
				}
			} else {
				open = b.hold(*ap)
			}
			err := s.sendLive(s.ctx, u, &s.stamp, batch)
			if open {
				b.done()
			}
			if err != nil {
				go s.close()
			}
		}
		b.send()
	}
}

// resume takes a session out of its shard and lets it follow the stream
// by itself again from unit seq (its path is no longer plain UDP).
func (w *WHEP) resume(s *session, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.detachLocked(s)
	if w.ctx.Err() != nil || s.ctx.Err() != nil {
		return
	}
	s.reader.Seek(seq)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if !s.follow(s.ctx, s.reader) {
			s.close()
		}
	}()
}
