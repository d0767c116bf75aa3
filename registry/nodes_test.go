package registry

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestOwnerSpreadsEvenlyAndMovesOnlyTheLeaversShare(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	const cams = 20000
	count := map[string]int{}
	before := map[string]string{}
	for i := 0; i < cams; i++ {
		id := fmt.Sprintf("3210020000132%07d", i)
		o := Owner(id, nodes)
		count[o]++
		before[id] = o
	}
	for _, n := range nodes {
		if share := float64(count[n]) / cams; share < 0.17 || share > 0.23 {
			t.Errorf("%s owns %.1f%%, want about 20%%", n, 100*share)
		}
	}
	// n3 leaves: only its cameras move; it comes back: exactly those return.
	without := []string{"n1", "n2", "n4", "n5"}
	for id, o := range before {
		now := Owner(id, without)
		if o != "n3" && now != o {
			t.Fatalf("camera %s moved from %s to %s although %s stayed", id, o, now, o)
		}
		if back := Owner(id, nodes); back != o {
			t.Fatalf("camera %s did not return to %s", id, o)
		}
	}
}

func TestMembershipFollowsNodesAndLeases(t *testing.T) {
	s, _ := startStore(t)
	ctx1, stop1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	var mu sync.Mutex
	var seen []int
	m1 := s.Join(ctx1, Node{ID: "n1", HTTP: "http://127.0.0.1:1"}, 2*time.Second, nil)
	m2 := s.Join(ctx2, Node{ID: "n2", HTTP: "http://127.0.0.1:2"}, 2*time.Second, func(ns []Node) {
		mu.Lock()
		seen = append(seen, len(ns))
		mu.Unlock()
	})
	eventually(t, "both nodes", func() bool { return len(m1.Nodes()) == 2 && len(m2.Nodes()) == 2 })
	if m1.Owner("cam-x").ID != m2.Owner("cam-x").ID {
		t.Fatal("nodes disagree on the owner")
	}
	if err := m1.PutStatus(context.Background(), "cam-x", map[string]string{"state": "online"}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Status(context.Background(), "cam-x"); err != nil || st.Node != "n1" {
		t.Fatalf("status %+v %v", st, err)
	}
	stop1() // n1 leaves: its lease is revoked, its status goes with it
	eventually(t, "n1 gone", func() bool { return len(m2.Nodes()) == 1 && m2.Owner("cam-x").ID == "n2" })
	if _, err := s.Status(context.Background(), "cam-x"); err == nil {
		t.Fatal("status of a departed node survived its lease")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 || seen[len(seen)-1] != 1 {
		t.Fatalf("onChange saw %v", seen)
	}
}

// BenchmarkOwnership50Nodes100kCameras recomputes every camera's owner.
func BenchmarkOwnership50Nodes100kCameras(b *testing.B) {
	nodes := make([]string, 50)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("gateway-%02d", i)
	}
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("3210020000132%07d", i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, id := range ids {
			_ = Owner(id, nodes)
		}
	}
}
