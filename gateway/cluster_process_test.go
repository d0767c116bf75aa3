package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/relay/whepclient"
)

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// etcdProc runs Debian's etcd on loopback with its data in dir.
type etcdProc struct {
	t                    *testing.T
	dir                  string
	clientPort, peerPort int
	cmd                  *exec.Cmd
}

func (e *etcdProc) url() string { return "http://127.0.0.1:" + strconv.Itoa(e.clientPort) }

func (e *etcdProc) start() {
	e.t.Helper()
	peer := "http://127.0.0.1:" + strconv.Itoa(e.peerPort)
	e.cmd = exec.Command("etcd", "--name", "default", "--data-dir", e.dir,
		"--listen-client-urls", e.url(), "--advertise-client-urls", e.url(),
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default="+peer, "--log-level", "error")
	e.cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH=")
	if err := e.cmd.Start(); err != nil {
		e.t.Fatalf("start etcd: %v", err)
	}
	eventually(e.t, 15*time.Second, "etcd up", func() bool {
		resp, err := http.Get(e.url() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func (e *etcdProc) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	_ = e.cmd.Wait()
}

// node is one `sharpeyes serve` process.
type node struct {
	id, http string
	cmd      *exec.Cmd
}

func startServe(t *testing.T, bin, id, etcdURL string) *node {
	t.Helper()
	n := &node{id: id, http: "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))}
	n.cmd = exec.Command(bin, "serve")
	n.cmd.Env = append(os.Environ(),
		"SHARPEYES_DATA_DIR="+t.TempDir(), "SHARPEYES_AUTH_ADMIN_TOKEN="+token, "SHARPEYES_LOG_LEVEL=warn",
		"SHARPEYES_HTTP_ADDR="+n.http, "SHARPEYES_RTSP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "udp")),
		"SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_REGISTRY_ENDPOINTS="+etcdURL, "SHARPEYES_REGISTRY_LEASE_TTL=3s", "SHARPEYES_REGISTRY_DIAL_TIMEOUT=2s",
		"SHARPEYES_NODE_ID="+id, "SHARPEYES_INGEST_TIMEOUT=2s", "SHARPEYES_INGEST_BACKOFF_MIN=100ms", "SHARPEYES_INGEST_BACKOFF_MAX=1s", "SHARPEYES_HEALTH_INTERVAL=0")
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.cmd.Process.Kill(); _, _ = n.cmd.Process.Wait() })
	eventually(t, 20*time.Second, id+" healthy", func() bool {
		resp, err := http.Get("http://" + n.http + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return n
}

func ownersVia(t *testing.T, httpAddr string, ids []string) map[string]string {
	api := apiClient{t, "http://" + httpAddr}
	out := map[string]string{}
	for _, id := range ids {
		_, st := api.json("GET", "/api/v1/cameras/"+id+"/status", nil)
		if st["state"] == "online" {
			out[id], _ = st["node"].(string)
		}
	}
	return out
}

// TestClusterProcessesSurviveKillAndEtcdOutage runs Debian's etcd-server
// and three gateway processes on loopback: kill -9 one node and its
// cameras stream again from the others within TTL + 5 s; restart it and
// only its cameras move back; stop etcd for 30 s and viewers keep
// receiving frames while reads are still answered.
func TestClusterProcessesSurviveKillAndEtcdOutage(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Fatal("etcd not installed: run `make deps` (installs Debian's etcd-server)")
	}
	bin := gatewayBinary(t)
	etcd := &etcdProc{t: t, dir: t.TempDir(), clientPort: freePort(t, "tcp"), peerPort: freePort(t, "tcp")}
	etcd.start()
	defer etcd.stop()
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 9})
	defer fleet.Close()

	nodes := map[string]*node{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startServe(t, bin, id, etcd.url())
	}
	api := apiClient{t, "http://" + nodes["n1"].http}
	var ids []string
	for i := 1; i <= 9; i++ {
		id := fmt.Sprintf("cam%d", i)
		ids = append(ids, id)
		if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": false,
			"streams": map[string]string{"main": fleet.URL(i, false)}}); code != 201 {
			t.Fatalf("create %s: %d %v", id, code, r)
		}
	}
	eventually(t, 20*time.Second, "all cameras online", func() bool { return len(ownersVia(t, nodes["n2"].http, ids)) == 9 })
	before := ownersVia(t, nodes["n2"].http, ids)
	per := map[string]int{}
	for _, n := range before {
		per[n]++
	}
	t.Logf("owners %v", per)
	victim := "n1"
	for n, c := range per {
		if c > per[victim] {
			victim = n
		}
	}
	var survivor string
	for id := range nodes {
		if id != victim {
			survivor = id
		}
	}

	// kill -9: no lease revoke, the others must notice the lease expiring.
	_ = nodes[victim].cmd.Process.Kill()
	_, _ = nodes[victim].cmd.Process.Wait()
	killed := time.Now()
	eventually(t, 3*time.Second+5*time.Second, "victim's cameras online elsewhere", func() bool {
		now := ownersVia(t, nodes[survivor].http, ids)
		if len(now) != 9 {
			return false
		}
		for _, n := range now {
			if n == victim {
				return false
			}
		}
		return true
	})
	t.Logf("failover after kill -9 of %s (%d cameras): %v", victim, per[victim], time.Since(killed).Round(100*time.Millisecond))
	var moved string
	for id, n := range before {
		if n == victim {
			moved = id
		}
	}
	watchFrames := func(addr, cam string) (*whepclient.Client, *atomic.Int64) {
		sig, _ := whepclient.HTTPSignal(authed, "http://"+addr+"/api/v1/whep/"+cam)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := whepclient.Dial(ctx, sig, whepclient.Options{})
		if err != nil {
			t.Fatalf("viewer of %s via %s: %v", cam, addr, err)
		}
		var n atomic.Int64
		go func() {
			for range c.Frames() {
				n.Add(1)
			}
		}()
		return c, &n
	}
	// A viewer asking any survivor for a moved camera follows the redirect and plays.
	v, frames := watchFrames(nodes[survivor].http, moved)
	defer v.Close()
	eventually(t, 10*time.Second, "frames of a moved camera", func() bool { return frames.Load() > 10 })

	// Restart it: only its cameras move back.
	nodes[victim] = startServe(t, bin, victim, etcd.url())
	eventually(t, 20*time.Second, "rebalanced to the original owners", func() bool {
		now := ownersVia(t, nodes[survivor].http, ids)
		for id, n := range before {
			if now[id] != n {
				return false
			}
		}
		return true
	})
	for i := 1; i <= 9; i++ {
		eventually(t, 10*time.Second, "one pull per camera", func() bool { return fleet.Sessions(i) == 1 })
	}

	// etcd stops for 30 s under load: frames keep coming, reads are served
	// from the last known state, writes answer 503.
	stay := ids[0] // whoever pulls it; the viewer follows the redirect
	v2, frames2 := watchFrames(nodes[survivor].http, stay)
	defer v2.Close()
	eventually(t, 10*time.Second, "viewer playing", func() bool { return frames2.Load() > 10 })
	etcd.stop()
	down := time.Now()
	last := frames2.Load()
	for time.Since(down) < 30*time.Second {
		time.Sleep(5 * time.Second)
		now := frames2.Load()
		if now <= last+75 { // 5 s at 25 fps is 125 frames
			t.Fatalf("%.0f s into the etcd outage the viewer got %d frames in 5 s", time.Since(down).Seconds(), now-last)
		}
		last = now
	}
	if code, _ := api.do("GET", "/api/v1/cameras/"+stay, "", nil, true); code != 200 {
		t.Fatalf("read during the outage: %d", code)
	}
	surv := apiClient{t, "http://" + nodes[survivor].http}
	if code, body := surv.do("POST", "/api/v1/cameras", "application/json",
		[]byte(`{"id":"late","name":"late","streams":{"main":"rtsp://127.0.0.1:1/x"}}`), true); code != 503 {
		t.Fatalf("write during the outage: %d %s, want 503", code, body)
	}
	etcd.start()
	// After etcd returns, writes work and every node sees them.
	eventually(t, 20*time.Second, "write after the outage", func() bool {
		code, _ := surv.do("POST", "/api/v1/cameras", "application/json",
			[]byte(`{"id":"late","name":"late","streams":{"main":"rtsp://127.0.0.1:1/x"}}`), true)
		return code == 201 || code == 409
	})
	for _, n := range nodes {
		eventually(t, 10*time.Second, "the new camera on "+n.id, func() bool {
			code, _ := apiClient{t, "http://" + n.http}.do("GET", "/api/v1/cameras/late", "", nil, true)
			return code == 200
		})
	}
}
