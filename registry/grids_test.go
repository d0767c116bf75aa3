package registry

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"sharpeyes/grid"
)

func cells(n int, name string) []grid.Cell {
	out := []grid.Cell{{Code: "root", Name: name, Level: 3, Kind: grid.Base,
		Geometry: orb.MultiPolygon{{{{119, 32}, {119 + 0.001*float64(n), 32}, {119 + 0.001*float64(n), 32.001}, {119, 32.001}, {119, 32}}}}}}
	for i := 0; i < n; i++ {
		x := 119 + 0.001*float64(i)
		out = append(out, grid.Cell{Code: fmt.Sprintf("g%04d", i), Name: name, Level: 4, Kind: grid.Base, Parent: "root",
			Geometry: orb.MultiPolygon{{{{x, 32}, {x + 0.001, 32}, {x + 0.001, 32.001}, {x, 32.001}, {x, 32}}}}})
	}
	return out
}

func TestGridImportSwapsWholeSetsBeyondTxnLimits(t *testing.T) {
	s, _ := startStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var seen []string // "version:count:name" per apply
	go s.WatchGrids(ctx, func(set GridSet, cs []grid.Cell) {
		names := map[string]bool{}
		for _, c := range cs {
			names[c.Name] = true
		}
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%d:%d", len(cs), len(names)))
		mu.Unlock()
	})
	eventually(t, "initial empty set", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 })

	// 301 cells: more than etcd's default 128 operations per transaction.
	a, err := s.ImportGrids(ctx, cells(300, "A"))
	if err != nil || a.Cells != 301 {
		t.Fatalf("import A: %+v %v", a, err)
	}
	b, err := s.ImportGrids(ctx, cells(150, "B"))
	if err != nil {
		t.Fatal(err)
	}
	set, got, _, err := s.ActiveGrids(ctx)
	if err != nil || set.Version != b.Version || len(got) != 151 || got[0].Name != "B" {
		t.Fatalf("active: %+v, %d cells, %v", set, len(got), err)
	}
	eventually(t, "watchers see both imports", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 3 })
	mu.Lock()
	for _, v := range seen[1:] {
		if v != "301:1" && v != "151:1" {
			t.Errorf("a watcher saw a mixed or partial set: %s", v)
		}
	}
	mu.Unlock()
	// The replaced set is gone from etcd.
	resp, err := s.cli.Get(ctx, s.setPrefix(a.Version), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("old set still has %d keys (%v)", resp.Count, err)
	}
}
