package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// demoProc is `sharpeyes demo` running as a process.
type demoProc struct {
	cmd    *exec.Cmd
	url    string
	logins map[string]string // username -> password
	mu     sync.Mutex
	log    strings.Builder
}

func (d *demoProc) logged(s string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Contains(d.log.String(), s)
}

// startDemo runs the demo binary on data with loopback ports and waits for
// it to print its URL and logins.
func startDemo(t *testing.T, bin, data string) *demoProc {
	t.Helper()
	d := &demoProc{logins: map[string]string{}}
	d.cmd = exec.Command(bin, "demo")
	d.cmd.Env = append(os.Environ(), "SHARPEYES_DATA_DIR="+data, "SHARPEYES_AUTH_ADMIN_TOKEN="+token,
		"SHARPEYES_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")), "SHARPEYES_RTSP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "udp")),
		"SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")))
	stdout, _ := d.cmd.StdoutPipe()
	stderr, _ := d.cmd.StderrPipe()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop() })
	go func() {
		b := bufio.NewScanner(stderr)
		for b.Scan() {
			d.mu.Lock()
			d.log.WriteString(b.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	row := regexp.MustCompile(`^\s+(\S+)\s+(\S+)\s+(admin|dispatcher|grid_worker|department|viewer)\s`)
	ready, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended) // stdout closed: the demo ended
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "sharpeyes is running: "); ok {
				d.url = strings.TrimSpace(u)
			}
			if m := row.FindStringSubmatch(strings.TrimPrefix(line, "logins:")); m != nil {
				d.logins[m[1]] = m[2]
			}
			if strings.HasPrefix(line, "press Ctrl-C") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		return d
	case <-ended: // it ended before it was ready: no point waiting on
	case <-time.After(90 * time.Second):
	}
	select {
	case <-ready:
		return d
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Fatalf("the demo did not start:\n%s", d.log.String())
	return nil
}

func (d *demoProc) stop() {
	if d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
	}
}

// countCases counts every case the bearer token may see.
func countCases(t *testing.T, base, tok string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/cases?limit=1000&cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("cases: %d %s", resp.StatusCode, b)
		}
		n += len(page.Items)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}

// TestFreshDemoWallAnswersAndRestartKeepsHistory runs `sharpeyes demo`:
// a dispatcher who opens the wall the moment it starts, while the year of
// case history is written, finds a page that answers every script call
// within 1 s (the history is not live news). The police user sees the
// seeded cases dispatched to the police. Started again on the same data
// directory, the demo keeps its history instead of seeding it twice.
func TestFreshDemoWallAnswersAndRestartKeepsHistory(t *testing.T) {
	script := e2eScript(t, "responsive.mjs")
	bin := gatewayBinary(t)
	data := t.TempDir()
	d := startDemo(t, bin, data)
	if d.logins["dispatcher"] == "" {
		t.Fatalf("the demo printed no dispatcher login: %v", d.logins)
	}
	var res struct {
		SignedInMS    int    `json:"signed_in_ms"`
		Probes        int    `json:"probes"`
		ProbeMaxMS    int    `json:"probe_max_ms"`
		LongtaskMaxMS int    `json:"longtask_max_ms"`
		TilesDecoding int    `json:"tiles_decoding"`
		Error         string `json:"error"`
	}
	runE2E(t, 120*time.Second, []string{"SE_USER=dispatcher", "SE_PASS=" + d.logins["dispatcher"]}, &res, nil, script, d.url+"/", "20")
	if res.Error != "" {
		t.Fatalf("responsive.mjs: %s", res.Error)
	}
	t.Logf("fresh demo: signed in after %d ms; %d script calls over 20 s, the slowest answered in %d ms; longest task %d ms; %d tiles decoding; history seeding finished meanwhile: %v",
		res.SignedInMS, res.Probes, res.ProbeMaxMS, res.LongtaskMaxMS, res.TilesDecoding, d.logged("demo case history ready"))
	if res.ProbeMaxMS > 1000 || res.Probes < 50 {
		t.Errorf("the fresh demo's wall answered a script call after %d ms (%d calls), want every one within 1 s", res.ProbeMaxMS, res.Probes)
	}
	if res.TilesDecoding == 0 {
		t.Error("no tile decoding on the fresh demo's wall")
	}
	eventually(t, 90*time.Second, "the demo's history", func() bool { return d.logged("demo case history ready") })
	seeded := countCases(t, d.url, token)
	if seeded < 2946 {
		t.Fatalf("the demo seeded %d cases, want the reference street's 2,946 and more", seeded)
	}
	// The police department's user sees the seeded cases dispatched to the police.
	var police string
	for u := range d.logins {
		if strings.HasPrefix(u, "police-") {
			police = u
		}
	}
	p := signIn(t, d.url, police, d.logins[police])
	code, page := p.json("GET", "/api/v1/cases?limit=1000", nil)
	items, _ := page["items"].([]any)
	toPolice := 0
	for _, it := range items {
		if it.(map[string]any)["assignee"] == "police" {
			toPolice++
		}
	}
	if code != 200 || toPolice < 100 {
		t.Errorf("the police user sees %d seeded cases dispatched to the police (%d), want hundreds", toPolice, code)
	}
	d.stop()

	again := startDemo(t, bin, data)
	time.Sleep(3 * time.Second) // a second seeding would be well under way
	if n := countCases(t, again.url, token); n != seeded {
		t.Errorf("after a restart on the same data the demo has %d cases, had %d", n, seeded)
	}
	if !again.logged("demo case history kept") {
		again.mu.Lock()
		t.Errorf("the restarted demo did not say it kept its history:\n%s", tail(again.log.String(), 20))
		again.mu.Unlock()
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
