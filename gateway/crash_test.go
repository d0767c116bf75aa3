package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestKill9DuringEventLoadLosesNothing posts events steadily to a gateway
// process, kills it with SIGKILL mid-load, restarts it on the same data
// and checks every acknowledged event is stored exactly once and every
// case it opened is there.
func TestKill9DuringEventLoadLosesNothing(t *testing.T) {
	bin := gatewayBinary(t)
	data := t.TempDir()
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	env := append(os.Environ(), "SHARPEYES_DATA_DIR="+data, "SHARPEYES_AUTH_ADMIN_TOKEN="+token, "SHARPEYES_LOG_LEVEL=error",
		"SHARPEYES_HTTP_ADDR="+httpAddr, "SHARPEYES_RTSP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "udp")),
		"SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")), "SHARPEYES_REGISTRY_LEASE_TTL=2s")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env, cmd.Stderr = env, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "gateway healthy", func() bool {
			resp, err := http.Get("http://" + httpAddr + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return cmd
	}
	cmd := start()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	api := apiClient{t, "http://" + httpAddr}
	for i := 0; i < 20; i++ {
		if code, r := api.json("POST", "/api/v1/cameras", map[string]any{"id": fmt.Sprintf("c%02d", i), "name": "c",
			"streams": map[string]string{"main": "rtsp://10.0.0.1/x"}}); code != 201 {
			t.Fatalf("camera: %d %v", code, r)
		}
	}

	type ack struct{ key, caseID string }
	var mu sync.Mutex
	var acked []ack
	var sent [][]byte
	stop := make(chan struct{})
	done := make(chan struct{})
	kinds := []string{"tamper", "crowd", "fire_smoke", "motion"}
	go func() {
		defer close(done)
		for b := 0; ; b++ {
			select {
			case <-stop:
				return
			default:
			}
			var evs []map[string]any
			for i := 0; i < 20; i++ {
				n := b*20 + i
				evs = append(evs, map[string]any{"source": "ai", "source_event_id": fmt.Sprint("e", n), "camera_id": fmt.Sprintf("c%02d", n%20),
					"kind": kinds[n%len(kinds)], "phase": "start", "time": time.Now().UTC().Format(time.RFC3339Nano)})
			}
			body, _ := json.Marshal(evs)
			req, _ := http.NewRequest("POST", api.base+"/api/v1/events", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue // the gateway is down: not acknowledged
			}
			var out struct {
				Items []struct {
					Key    string `json:"key"`
					CaseID string `json:"case_id"`
				} `json:"items"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				continue
			}
			mu.Lock()
			sent = append(sent, body)
			for _, it := range out.Items {
				acked = append(acked, ack{it.Key, it.CaseID})
			}
			mu.Unlock()
		}
	}()
	eventually(t, 60*time.Second, "200 events acknowledged under load", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	_ = cmd.Process.Kill() // SIGKILL mid-load
	_, _ = cmd.Process.Wait()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-done
	mu.Lock()
	t.Logf("%d events acknowledged in %d batches before kill -9", len(acked), len(sent))
	if len(acked) < 100 {
		t.Fatalf("only %d events acknowledged: the load did not run", len(acked))
	}
	mu.Unlock()

	cmd = start()
	// Every acknowledged batch, sent again, is all duplicates: stored, once.
	for _, body := range sent {
		code, raw := api.do("POST", "/api/v1/events", "application/json", body, true)
		var out struct {
			Items []struct {
				Duplicate bool `json:"duplicate"`
			} `json:"items"`
		}
		_ = json.Unmarshal(raw, &out)
		if code != 200 {
			t.Fatalf("resend: %d %s", code, raw)
		}
		for _, it := range out.Items {
			if !it.Duplicate {
				t.Fatalf("an acknowledged event was not stored: %s", raw)
			}
		}
	}
	// Every case an acknowledged event opened is there.
	seen := map[string]bool{}
	for _, a := range acked {
		if a.caseID == "" || seen[a.caseID] {
			continue
		}
		seen[a.caseID] = true
		if code, _ := api.do("GET", "/api/v1/cases/"+a.caseID, "", nil, true); code != 200 {
			t.Fatalf("case %s opened by an acknowledged event is gone (%d)", a.caseID, code)
		}
	}
	// And every open incident of a case-opening kind gets its case (reconcile).
	eventually(t, 20*time.Second, "every open incident has its case", func() bool {
		_, inc := api.json("GET", "/api/v1/incidents?open=true&limit=1000", nil)
		for _, it := range inc["items"].([]any) {
			m := it.(map[string]any)
			if m["kind"] != "motion" && m["case_id"] == nil {
				return false
			}
		}
		return true
	})
	t.Logf("%d distinct cases checked", len(seen))
}
