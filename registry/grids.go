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

func (s *Store) activeKey() string                { return s.prefix + "grids/active" }
func (s *Store) setPrefix(version string) string  { return s.prefix + "gridsets/" + version + "/" }
func (s *Store) partPrefix(version string) string { return s.prefix + "gridparts/" + version + "/" }

// A cell larger than cellChunk bytes (a detailed boundary: 100,000 points
// are 4 MB) is stored in parts under gridparts/<version>/<code>/<n>, its
// gridsets key holding how many; etcd refuses values and transactions
// over 1.5 MiB. Writes go in transactions of about txnBytes.
const (
	cellChunk = 512 << 10
	txnBytes  = 1 << 20
)

// cellParts is what gridsets/<version>/<code> holds for a cell in parts.
type cellParts struct {
	Code  string `json:"code"`
	Parts int    `json:"parts"`
}

// ImportGrids stores cells as the new active set and removes older sets.
func (s *Store) ImportGrids(ctx context.Context, cells []grid.Cell) (GridSet, error) {
	set := GridSet{Version: strconv.FormatInt(s.now().UnixNano(), 36), Cells: len(cells), ImportedAt: s.now().UTC()}
	var ops []clientv3.Op
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		tctx, cancel := s.ctx(ctx)
		_, err := s.cli.Txn(tctx).Then(ops...).Commit()
		cancel()
		ops, size = ops[:0], 0
		if err != nil {
			return unavailable(err)
		}
		return nil
	}
	put := func(k string, v []byte) error {
		if size+len(v) > txnBytes || len(ops) >= 100 {
			if err := flush(); err != nil {
				return err
			}
		}
		ops, size = append(ops, clientv3.OpPut(k, string(v))), size+len(v)
		return nil
	}
	for _, c := range cells {
		b, err := json.Marshal(c)
		if err != nil {
			return GridSet{}, fmt.Errorf("cell %s: %w", c.Code, err)
		}
		if len(b) > cellChunk {
			n := 0
			for off := 0; off < len(b); off += cellChunk {
				if err := put(fmt.Sprintf("%s%s/%06d", s.partPrefix(set.Version), c.Code, n), b[off:min(off+cellChunk, len(b))]); err != nil {
					return GridSet{}, err
				}
				n++
			}
			b, _ = json.Marshal(cellParts{Code: c.Code, Parts: n})
		}
		if err := put(s.setPrefix(set.Version)+c.Code, b); err != nil {
			return GridSet{}, err
		}
	}
	if err := flush(); err != nil {
		return GridSet{}, err
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
	for _, p := range []string{s.prefix + "gridparts/", s.prefix + "gridsets/"} {
		s.dropInactive(tctx, p, keep)
	}
}

func (s *Store) dropInactive(tctx context.Context, prefix, keep string) {
	resp, err := s.cli.Get(tctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), prefix)
		v, _, _ := strings.Cut(rest, "/")
		if v != keep && !seen[v] {
			seen[v] = true
			_, _ = s.cli.Delete(tctx, prefix+v+"/", clientv3.WithPrefix())
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
	var parts map[string][]byte // code -> its parts, joined in key order
	cells := make([]grid.Cell, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		value := kv.Value
		var cp cellParts
		if json.Unmarshal(value, &cp) == nil && cp.Parts > 0 {
			if parts == nil {
				if parts, err = s.readParts(ctx, version, rev); err != nil {
					return nil, err
				}
			}
			value = parts[cp.Code]
		}
		var c grid.Cell
		if err := json.Unmarshal(value, &c); err != nil {
			return nil, fmt.Errorf("cell %s: %w", kv.Key, err)
		}
		cells = append(cells, c)
	}
	return cells, nil
}

// readParts reads the cells stored in parts, joined.
func (s *Store) readParts(ctx context.Context, version string, rev int64) (map[string][]byte, error) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.partPrefix(version), clientv3.WithPrefix(), clientv3.WithRev(rev),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, unavailable(err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.partPrefix(version))
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			continue
		}
		out[rest[:i]] = append(out[rest[:i]], kv.Value...)
	}
	return out, nil
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
