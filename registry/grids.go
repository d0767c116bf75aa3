package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sharpeyes/grid"
)

// Grid cells are stored as versioned sets: gridsets/<version>/<code>, one
// GeoJSON feature each, and grids/active names the live version. An import
// writes the new set (in as many transactions as it takes) and then
// switches grids/active in one put, so readers see the old set or the new
// one, never a mix, whatever etcd's limit on operations per transaction.

// GridSet describes the active set.
type GridSet struct {
	Version    string    `json:"version"`
	Cells      int       `json:"cells"`
	ImportedAt time.Time `json:"imported_at"`
}

func (s *Store) activeKey() string               { return s.prefix + "grids/active" }
func (s *Store) setPrefix(version string) string { return s.prefix + "gridsets/" + version + "/" }

// ImportGrids stores cells as the new active set and removes older sets.
func (s *Store) ImportGrids(ctx context.Context, cells []grid.Cell) (GridSet, error) {
	set := GridSet{Version: strconv.FormatInt(s.now().UnixNano(), 36), Cells: len(cells), ImportedAt: s.now().UTC()}
	const batch = 100
	for i := 0; i < len(cells); i += batch {
		var ops []clientv3.Op
		for _, c := range cells[i:min(i+batch, len(cells))] {
			b, err := json.Marshal(c)
			if err != nil {
				return GridSet{}, fmt.Errorf("cell %s: %w", c.Code, err)
			}
			ops = append(ops, clientv3.OpPut(s.setPrefix(set.Version)+c.Code, string(b)))
		}
		tctx, cancel := s.ctx(ctx)
		_, err := s.cli.Txn(tctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return GridSet{}, unavailable(err)
		}
	}
	b, _ := json.Marshal(set)
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.cli.Put(tctx, s.activeKey(), string(b)); err != nil {
		return GridSet{}, unavailable(err)
	}
	s.dropInactiveSets(ctx, set.Version)
	return set, nil
}

// dropInactiveSets deletes every stored set but keep (best effort: leftovers
// are harmless and go at the next import).
func (s *Store) dropInactiveSets(ctx context.Context, keep string) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.prefix+"gridsets/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.prefix+"gridsets/")
		v, _, _ := strings.Cut(rest, "/")
		if v != keep && !seen[v] {
			seen[v] = true
			_, _ = s.cli.Delete(tctx, s.setPrefix(v), clientv3.WithPrefix())
		}
	}
}

// ActiveGrids reads the active set (empty before the first import) and the
// revision it was read at.
func (s *Store) ActiveGrids(ctx context.Context) (GridSet, []grid.Cell, int64, error) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.activeKey())
	if err != nil {
		return GridSet{}, nil, 0, unavailable(err)
	}
	rev := resp.Header.Revision
	if len(resp.Kvs) == 0 {
		return GridSet{}, nil, rev, nil
	}
	var set GridSet
	if err := json.Unmarshal(resp.Kvs[0].Value, &set); err != nil {
		return GridSet{}, nil, rev, fmt.Errorf("grids/active: %w", err)
	}
	cells, err := s.readSet(ctx, set.Version, rev)
	return set, cells, rev, err
}

func (s *Store) readSet(ctx context.Context, version string, rev int64) ([]grid.Cell, error) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.setPrefix(version), clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return nil, unavailable(err)
	}
	cells := make([]grid.Cell, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var c grid.Cell
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return nil, fmt.Errorf("cell %s: %w", kv.Key, err)
		}
		cells = append(cells, c)
	}
	return cells, nil
}

// WatchGrids calls apply with the active set now and after every import,
// until ctx ends; it re-reads after compaction or a lost watch.
func (s *Store) WatchGrids(ctx context.Context, apply func(GridSet, []grid.Cell)) {
	for ctx.Err() == nil {
		set, cells, rev, err := s.ActiveGrids(ctx)
		if err != nil {
			s.log.Warn("read grids", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		apply(set, cells)
		err = s.watchActive(ctx, rev+1, set.Version, apply)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("grid watch ended; re-reading", "error", err)
		sleep(ctx, 200*time.Millisecond)
	}
}

func (s *Store) watchActive(ctx context.Context, rev int64, current string, apply func(GridSet, []grid.Cell)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.cli.Watch(wctx, s.activeKey(), clientv3.WithRev(rev)) {
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return err
			}
			return err
		}
		for _, ev := range resp.Events {
			var set GridSet
			if ev.Type == clientv3.EventTypeDelete || json.Unmarshal(ev.Kv.Value, &set) != nil {
				apply(GridSet{}, nil)
				continue
			}
			if set.Version == current {
				continue
			}
			cells, err := s.readSet(ctx, set.Version, ev.Kv.ModRevision)
			if err != nil {
				return err
			}
			current = set.Version
			apply(set, cells)
		}
	}
	return errors.New("watch channel closed")
}
