package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/registry"
	"sharpeyes/relay/whepclient"
)

func startNode(t *testing.T, etcd, id string) *Gateway {
	t.Helper()
	return startGateway(t, "SHARPEYES_REGISTRY_ENDPOINTS="+etcd, "SHARPEYES_REGISTRY_LEASE_TTL=2s", "SHARPEYES_NODE_ID="+id)
}

// owners reads each camera's status from one node: who pulls it, and its state.
func owners(t *testing.T, via *Gateway, ids []string) map[string]string {
	api := apiClient{t, "http://" + via.HTTPAddr()}
	out := map[string]string{}
	for _, id := range ids {
		_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
		if st["state"] == "online" {
			out[id], _ = st["node"].(string)
		}
	}
	return out
}

func TestClusterOwnershipRedirectRelayAndFailover(t *testing.T) {
	etcd, err := registry.StartEmbedded(t.TempDir(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	nodes := map[string]*Gateway{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNode(t, etcd.Endpoint, id)
	}
	defer func() {
		for _, g := range nodes {
			g.Close()
		}
	}()
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 6})
	defer fleet.Close()
	api := apiClient{t, "http://" + nodes["n1"].HTTPAddr()}
	var ids []string
	for i := 1; i <= 6; i++ {
		id := "cam" + string(rune('0'+i))
		ids = append(ids, id)
		if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": false,
			"streams": map[string]string{"main": fleet.URL(i, false)}}); code != 201 {
			t.Fatalf("create: %d %v", code, r)
		}
	}
	// Every camera is pulled by exactly one node, and every node agrees which.
	eventually(t, 15*time.Second, "all cameras online", func() bool { return len(owners(t, nodes["n2"], ids)) == 6 })
	for i := 1; i <= 6; i++ {
		if n := fleet.Sessions(i); n != 1 {
			t.Fatalf("camera %d has %d pulls, want exactly 1", i, n)
		}
	}
	before := owners(t, nodes["n3"], ids)
	per := map[string]int{}
	for _, n := range before {
		per[n]++
	}
	t.Logf("owners: %v (per node %v)", before, per)

	// A viewer at a node that does not pull the camera is redirected and plays.
	var cam, owner, other string
	for _, id := range ids {
		for n := range nodes {
			if before[id] != n {
				cam, owner, other = id, before[id], n
			}
		}
	}
	// Like a browser across origins, the redirected request carries no
	// credential of its own: the owner must accept the redirect's ticket.
	crossOrigin := &http.Client{Transport: bearerFirst{token}, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		r.Header.Del("Authorization")
		return nil
	}}
	sig, _ := whepclient.HTTPSignal(crossOrigin, "http://"+nodes[other].HTTPAddr()+"/api/v1/whep/"+cam)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	v, err := whepclient.Dial(ctx, sig, whepclient.Options{})
	if err != nil {
		t.Fatalf("viewer of %s at %s (owner %s): %v", cam, other, owner, err)
	}
	select {
	case f := <-v.Frames():
		if !f.Key {
			t.Fatal("first frame after redirect is not a keyframe")
		}
	case <-ctx.Done():
		t.Fatal("no video after the redirect")
	}
	v.Close()
	resp, _ := authed.Post("http://"+nodes[other].HTTPAddr()+"/api/v1/whep/"+cam, "application/sdp", strings.NewReader("v=0"))
	if resp != nil {
		resp.Body.Close()
	}
	// RTSP re-serve at a non-owner relays from the owner.
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	out, err := exec.CommandContext(pctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", "rtsp://any:"+token+"@"+nodes[other].RTSPAddr()+"/"+cam).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "h264" {
		t.Fatalf("ffprobe of %s at non-owner %s: %v %s", cam, other, err, out)
	}

	// The owner of some cameras goes away: they come back on the others.
	var victim string
	for n, c := range per {
		if c > 0 {
			victim = n
		}
	}
	nodes[victim].Close()
	delete(nodes, victim)
	var survivor *Gateway
	for _, g := range nodes {
		survivor = g
	}
	start := time.Now()
	eventually(t, 2*time.Second+5*time.Second, "cameras back online on the survivors", func() bool {
		now := owners(t, survivor, ids)
		if len(now) != 6 {
			return false
		}
		for _, n := range now {
			if n == victim {
				return false
			}
		}
		return true
	})
	t.Logf("failover of %d camera(s) took %v", per[victim], time.Since(start).Round(100*time.Millisecond))
	after := owners(t, survivor, ids)
	for id, n := range before {
		if n != victim && after[id] != n {
			t.Fatalf("camera %s moved from %s to %s although %s stayed", id, n, after[id], n)
		}
	}

	// It comes back: exactly its cameras return to it.
	nodes[victim] = startNode(t, etcd.Endpoint, victim)
	eventually(t, 15*time.Second, "rebalanced", func() bool {
		now := owners(t, survivor, ids)
		b, _ := json.Marshal(now)
		a, _ := json.Marshal(before)
		return string(a) == string(b)
	})
	for i := 1; i <= 6; i++ {
		eventually(t, 10*time.Second, "one pull per camera", func() bool { return fleet.Sessions(i) == 1 })
	}
}

// bearerFirst adds the admin token to requests without a redirect ticket.
type bearerFirst struct{ tok string }

func (b bearerFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("ticket") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.tok)
	}
	return http.DefaultTransport.RoundTrip(r)
}
