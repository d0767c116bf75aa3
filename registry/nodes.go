package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Node is a gateway node as registered under nodes/<id> with its lease.
type Node struct {
	ID   string `json:"id"`
	HTTP string `json:"http"` // base URL viewers and peers can reach, e.g. http://10.0.0.5:8080
	RTSP string `json:"rtsp"` // base URL of its RTSP re-serve, e.g. rtsp://10.0.0.5:8554
	// Started orders nothing; it helps operators read the node list.
	Started time.Time `json:"started"`
}

// Owner picks the node that pulls a camera: rendezvous (highest random
// weight) hashing, so a node joining or leaving moves only its own share.
func Owner(cameraID string, nodes []string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(cameraID))
		if s := mix(h.Sum64()); best == "" || s > bestScore || (s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best
}

// mix spreads FNV's output (splitmix64 finaliser), which alone is biased
// for inputs sharing long prefixes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Membership keeps this node registered with a lease and follows the set
// of live nodes. While etcd is unreachable the last known set stays in
// force, so nobody's cameras are dropped for want of news.
type Membership struct {
	store *Store
	self  Node
	ttl   int

	mu       sync.RWMutex
	nodes    map[string]Node
	lease    clientv3.LeaseID
	onChange func([]Node)
	ready    chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// Wait returns once the membership's goroutines have ended (after the
// context given to Join ends; the lease is revoked on the way out).
func (m *Membership) Wait() { m.wg.Wait() }

func (s *Store) nodeKey(id string) string   { return s.prefix + "nodes/" + id }
func (s *Store) nodePrefix() string         { return s.prefix + "nodes/" }
func (s *Store) statusKey(id string) string { return s.prefix + "status/" + id }

// Join registers self and keeps it registered until ctx ends; onChange is
// called with the live nodes whenever they change (and once at start).
func (s *Store) Join(ctx context.Context, self Node, ttl time.Duration, onChange func([]Node)) *Membership {
	m := &Membership{store: s, self: self, ttl: max(int(ttl.Seconds()), 2), nodes: map[string]Node{},
		onChange: onChange, ready: make(chan struct{})}
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.keepRegistered(ctx) }()
	go func() { defer m.wg.Done(); m.follow(ctx) }()
	return m
}

// Ready is closed once the node list has been read.
func (m *Membership) Ready() <-chan struct{} { return m.ready }

// Self is this node.
func (m *Membership) Self() Node { return m.self }

// Nodes is the live set, sorted by id.
func (m *Membership) Nodes() []Node {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Owner is the live node that pulls cameraID (this node when alone).
func (m *Membership) Owner(cameraID string) Node {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]string, 0, len(m.nodes)+1)
	for id := range m.nodes {
		ids = append(ids, id)
	}
	if _, ok := m.nodes[m.self.ID]; !ok {
		ids = append(ids, m.self.ID) // we are alive even before etcd says so
	}
	owner := Owner(cameraID, ids)
	if n, ok := m.nodes[owner]; ok {
		return n
	}
	return m.self
}

// Lease is the current lease (0 when not registered).
func (m *Membership) Lease() clientv3.LeaseID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lease
}

// keepRegistered holds a session (lease) with nodes/<id> on it, and makes
// a new one whenever the lease is lost.
func (m *Membership) keepRegistered(ctx context.Context) {
	s := m.store
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(m.ttl), concurrency.WithContext(ctx))
		if err != nil {
			s.log.Warn("node registration", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		b, _ := json.Marshal(m.self)
		pctx, cancel := s.ctx(ctx)
		_, err = s.cli.Put(pctx, s.nodeKey(m.self.ID), string(b), clientv3.WithLease(sess.Lease()))
		cancel()
		if err != nil {
			s.log.Warn("node registration", "error", err)
			sess.Close()
			sleep(ctx, time.Second)
			continue
		}
		m.mu.Lock()
		m.lease = sess.Lease()
		m.mu.Unlock()
		s.log.Info("node registered", "node", m.self.ID, "ttl_s", m.ttl)
		select {
		case <-ctx.Done():
			// Leave at once so others take over without waiting for the TTL.
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _ = s.cli.Revoke(rctx, sess.Lease())
			cancel()
			return
		case <-sess.Done():
			s.log.Warn("node lease lost; registering again", "node", m.self.ID)
			m.mu.Lock()
			m.lease = 0
			m.mu.Unlock()
		}
	}
}

// follow lists the nodes and watches them, re-listing after errors.
func (m *Membership) follow(ctx context.Context) {
	s := m.store
	for ctx.Err() == nil {
		lctx, cancel := s.ctx(ctx)
		resp, err := s.cli.Get(lctx, s.nodePrefix(), clientv3.WithPrefix())
		cancel()
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		nodes := map[string]Node{}
		for _, kv := range resp.Kvs {
			var n Node
			if json.Unmarshal(kv.Value, &n) == nil {
				nodes[n.ID] = n
			}
		}
		m.replace(nodes)
		m.once.Do(func() { close(m.ready) })
		err = m.watch(ctx, resp.Header.Revision+1)
		if ctx.Err() == nil {
			s.log.Info("node watch ended; re-listing", "error", err)
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

func (m *Membership) watch(ctx context.Context, rev int64) error {
	s := m.store
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.cli.Watch(wctx, s.nodePrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev)) {
		if err := resp.Err(); err != nil {
			return err
		}
		m.mu.RLock()
		nodes := make(map[string]Node, len(m.nodes))
		for k, v := range m.nodes {
			nodes[k] = v
		}
		m.mu.RUnlock()
		for _, ev := range resp.Events {
			id := strings.TrimPrefix(string(ev.Kv.Key), s.nodePrefix())
			if ev.Type == clientv3.EventTypeDelete {
				delete(nodes, id)
				continue
			}
			var n Node
			if json.Unmarshal(ev.Kv.Value, &n) == nil {
				nodes[id] = n
			}
		}
		m.replace(nodes)
	}
	return errors.New("watch channel closed")
}

func (m *Membership) replace(nodes map[string]Node) {
	m.mu.Lock()
	changed := len(nodes) != len(m.nodes)
	for id, n := range nodes {
		if old, ok := m.nodes[id]; !ok || old != n {
			changed = true
		}
	}
	m.nodes = nodes
	m.mu.Unlock()
	if changed && m.onChange != nil {
		m.onChange(m.Nodes())
	}
}

// CameraStatus is a camera's health as published by the node pulling it.
type CameraStatus struct {
	Node   string          `json:"node"`
	Status json.RawMessage `json:"status"`
}

// PutStatus publishes a camera's status under the node's lease, so it goes
// away with the node.
func (m *Membership) PutStatus(ctx context.Context, cameraID string, status any) error {
	lease := m.Lease()
	if lease == 0 {
		return fmt.Errorf("%w: node not registered", ErrUnavailable)
	}
	b, err := json.Marshal(status)
	if err != nil {
		return err
	}
	v, _ := json.Marshal(CameraStatus{Node: m.self.ID, Status: b})
	pctx, cancel := m.store.ctx(ctx)
	defer cancel()
	if _, err := m.store.cli.Put(pctx, m.store.statusKey(cameraID), string(v), clientv3.WithLease(lease)); err != nil {
		return unavailable(err)
	}
	return nil
}

// Status reads the status another node published for a camera.
func (s *Store) Status(ctx context.Context, cameraID string) (CameraStatus, error) {
	pctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(pctx, s.statusKey(cameraID))
	if err != nil {
		return CameraStatus{}, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return CameraStatus{}, fmt.Errorf("status of %s: %w", cameraID, ErrNotFound)
	}
	var st CameraStatus
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		return CameraStatus{}, err
	}
	return st, nil
}

// Lead runs run while this node leads the election name (one node of the
// cluster at a time), campaigning again whenever leadership is lost, until
// ctx ends.
func (s *Store) Lead(ctx context.Context, name, self string, ttl time.Duration, run func(ctx context.Context)) {
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(max(int(ttl.Seconds()), 2)), concurrency.WithContext(ctx))
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		e := concurrency.NewElection(sess, s.prefix+"election/"+name)
		if err := e.Campaign(ctx, self); err != nil {
			sess.Close()
			sleep(ctx, time.Second)
			continue
		}
		s.log.Info("leading", "election", name, "node", self)
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done(): // lease lost: someone else may lead now
			case <-lctx.Done():
			}
			cancel()
		}()
		run(lctx)
		cancel()
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.Resign(rctx)
		rcancel()
		sess.Close()
	}
}
