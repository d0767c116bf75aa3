// Package registry keeps the gateway's shared state in etcd: cameras,
// grid cell sets, nodes and camera ownership, camera status, users (with
// their immutable ids), API tokens, sessions, saved walls, the cluster
// key; the embedded etcd server; and the in-memory mirrors the other
// components read (the camera catalog, the identity mirror). Readers list,
// then watch from the list's revision + 1, and re-list after compaction.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store reads and writes registry objects under a key prefix.
type Store struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// NewStore returns a store on cli; every request is bounded by timeout.
func NewStore(cli *clientv3.Client, prefix string, timeout time.Duration, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{cli: cli, prefix: prefix, timeout: timeout, log: log.With("component", "registry"), now: time.Now}
}

func (s *Store) cameraKey(id string) string { return s.prefix + "cameras/" + id }
func (s *Store) cameraPrefix() string       { return s.prefix + "cameras/" }

func (s *Store) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// unavailable wraps etcd failures so the API can answer 503.
func unavailable(err error) error {
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// CreateCamera stores a new camera; ErrExists if the id is taken.
func (s *Store) CreateCamera(ctx context.Context, c Camera) (Camera, error) {
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Camera{}, err
	}
	c.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	c.UpdatedAt = c.CreatedAt
	b, err := json.Marshal(c)
	if err != nil {
		return Camera{}, err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	k := s.cameraKey(c.ID)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(b))).Commit()
	if err != nil {
		return Camera{}, unavailable(err)
	}
	if !resp.Succeeded {
		return Camera{}, fmt.Errorf("camera %s: %w", c.ID, ErrExists)
	}
	c.Rev = resp.Header.Revision
	return c, nil
}

// GetCamera returns one camera.
func (s *Store) GetCamera(ctx context.Context, id string) (Camera, error) {
	c, _, err := s.getCamera(ctx, id)
	return c, err
}

func (s *Store) getCamera(ctx context.Context, id string) (Camera, int64, error) {
	if !ValidID(id) {
		return Camera{}, 0, fmt.Errorf("camera %q: %w", id, ErrNotFound)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.cameraKey(id))
	if err != nil {
		return Camera{}, 0, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return Camera{}, 0, fmt.Errorf("camera %s: %w", id, ErrNotFound)
	}
	var c Camera
	if err := json.Unmarshal(resp.Kvs[0].Value, &c); err != nil {
		return Camera{}, 0, fmt.Errorf("camera %s: stored value: %w", id, err)
	}
	c.Rev = resp.Kvs[0].ModRevision
	return c, c.Rev, nil
}

// UpdateCamera applies change to a stored camera atomically (compare and
// swap on its revision, retried on conflict). The id cannot change.
func (s *Store) UpdateCamera(ctx context.Context, id string, change func(*Camera) error) (Camera, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, rev, err := s.getCamera(ctx, id)
		if err != nil {
			return Camera{}, err
		}
		next := cur
		next.Tags = append([]string(nil), cur.Tags...)
		if err := change(&next); err != nil {
			return Camera{}, err
		}
		next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
		next.Normalize()
		if err := next.Validate(); err != nil {
			return Camera{}, err
		}
		next.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		b, err := json.Marshal(next)
		if err != nil {
			return Camera{}, err
		}
		newRev, ok, err := s.casPut(ctx, s.cameraKey(id), b, rev)
		if err != nil {
			return Camera{}, err
		}
		if ok {
			next.Rev = newRev
			return next, nil
		}
	}
	return Camera{}, fmt.Errorf("camera %s: too many concurrent updates: %w", id, ErrUnavailable)
}

// casPut writes key only if it is still at revision rev; ok is false when
// someone else changed it first.
func (s *Store) casPut(ctx context.Context, key string, val []byte, rev int64) (newRev int64, ok bool, err error) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(val))).Commit()
	if err != nil {
		return 0, false, unavailable(err)
	}
	return resp.Header.Revision, resp.Succeeded, nil
}

// DeleteCamera removes a camera and returns the revision of the deletion;
// ErrNotFound if it was not there.
func (s *Store) DeleteCamera(ctx context.Context, id string) (int64, error) {
	if !ValidID(id) {
		return 0, fmt.Errorf("camera %q: %w", id, ErrNotFound)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.cameraKey(id))
	if err != nil {
		return 0, unavailable(err)
	}
	if resp.Deleted == 0 {
		return 0, fmt.Errorf("camera %s: %w", id, ErrNotFound)
	}
	return resp.Header.Revision, nil
}

// AllCameras lists every camera, sorted by id, with the revision read at.
func (s *Store) AllCameras(ctx context.Context) ([]Camera, int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.cameraPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, unavailable(err)
	}
	out := make([]Camera, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var c Camera
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			s.log.Warn("skipping unreadable camera", "key", string(kv.Key), "error", err)
			continue
		}
		c.Rev = kv.ModRevision
		out = append(out, c)
	}
	return out, resp.Header.Revision, nil
}

// CameraHandler receives the registry's cameras: the whole set on every
// (re-)list, then each change.
type CameraHandler interface {
	SyncCameras([]Camera)
	PutCamera(Camera)
	// DeleteCamera reports a deletion at revision rev.
	DeleteCamera(id string, rev int64)
}

// WatchCameras lists the cameras, then follows changes until ctx ends,
// re-listing after compaction or a lost watch.
func (s *Store) WatchCameras(ctx context.Context, h CameraHandler) {
	for ctx.Err() == nil {
		cams, rev, err := s.AllCameras(ctx)
		if err != nil {
			s.log.Warn("list cameras", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		h.SyncCameras(cams)
		err = s.watchFrom(ctx, rev+1, h)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("camera watch ended; re-listing", "error", err)
		sleep(ctx, 200*time.Millisecond)
	}
}

func (s *Store) watchFrom(ctx context.Context, rev int64, h CameraHandler) error {
	return s.watchPrefix(ctx, s.cameraPrefix(), rev, func(id string, val []byte, modRev int64) {
		if val == nil {
			h.DeleteCamera(id, modRev)
			return
		}
		var c Camera
		if err := json.Unmarshal(val, &c); err != nil {
			s.log.Warn("skipping unreadable camera", "camera", id, "error", err)
			return
		}
		c.Rev = modRev
		h.PutCamera(c)
	})
}

// watchPrefix follows the keys under prefix from revision rev, calling
// apply with each key (less the prefix) and its value (nil: deleted),
// until ctx ends or the watch fails (compaction, lost leader).
func (s *Store) watchPrefix(ctx context.Context, prefix string, rev int64, apply func(name string, val []byte, modRev int64)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev)) {
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return fmt.Errorf("compacted at %d: %w", resp.CompactRevision, err)
			}
			return err
		}
		for _, ev := range resp.Events {
			var val []byte
			if ev.Type != clientv3.EventTypeDelete {
				val = append([]byte{}, ev.Kv.Value...) // never nil: nil says deleted
			}
			apply(strings.TrimPrefix(string(ev.Kv.Key), prefix), val, ev.Kv.ModRevision)
		}
	}
	return errors.New("watch channel closed")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ImportCameras writes validated cameras all or nothing: created when new,
// replaced when upsert is set and they exist (ErrExists otherwise). etcd
// caps operations per transaction, so large imports go in batches and a
// failed batch undoes the ones before it.
func (s *Store) ImportCameras(ctx context.Context, cams []Camera, upsert bool) (created, updated int, err error) {
	const batch = 64
	type undo struct {
		key  string
		prev []byte // nil: the key did not exist
	}
	var done []undo
	rollback := func() {
		for i := len(done) - 1; i >= 0; i-- {
			tctx, cancel := s.ctx(context.Background())
			if done[i].prev == nil {
				_, _ = s.cli.Delete(tctx, done[i].key)
			} else {
				_, _ = s.cli.Put(tctx, done[i].key, string(done[i].prev))
			}
			cancel()
		}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	for i := 0; i < len(cams); i += batch {
		chunk := cams[i:min(i+batch, len(cams))]
		keys := make([]string, len(chunk))
		gets := make([]clientv3.Op, len(chunk))
		for j, c := range chunk {
			keys[j] = s.cameraKey(c.ID)
			gets[j] = clientv3.OpGet(keys[j])
		}
		tctx, cancel := s.ctx(ctx)
		cur, err := s.cli.Txn(tctx).Then(gets...).Commit()
		cancel()
		if err != nil {
			rollback()
			return 0, 0, unavailable(err)
		}
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		var undos []undo
		for j, c := range chunk {
			kvs := cur.Responses[j].GetResponseRange().Kvs
			c.CreatedAt, c.UpdatedAt = now, now
			if len(kvs) > 0 {
				if !upsert {
					rollback()
					return 0, 0, fmt.Errorf("camera %s: %w", c.ID, ErrExists)
				}
				var old Camera
				if json.Unmarshal(kvs[0].Value, &old) == nil {
					c.CreatedAt = old.CreatedAt
				}
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(keys[j]), "=", kvs[0].ModRevision))
				undos = append(undos, undo{keys[j], kvs[0].Value})
				updated++
			} else {
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(keys[j]), "=", 0))
				undos = append(undos, undo{keys[j], nil})
				created++
			}
			b, err := json.Marshal(c)
			if err != nil {
				rollback()
				return 0, 0, err
			}
			puts = append(puts, clientv3.OpPut(keys[j], string(b)))
		}
		tctx, cancel = s.ctx(ctx)
		resp, err := s.cli.Txn(tctx).If(cmps...).Then(puts...).Commit()
		cancel()
		if err != nil || !resp.Succeeded {
			rollback()
			if err != nil {
				return 0, 0, unavailable(err)
			}
			return 0, 0, fmt.Errorf("cameras changed during the import; nothing was imported: %w", ErrExists)
		}
		done = append(done, undos...)
	}
	return created, updated, nil
}
