package gateway

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is the gateway binary, built once for the package's tests that
// run it as a process (without -race: a process is measured as it ships).
var built struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// gatewayBinary builds cmd/sharpeyes once and answers its path.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "sharpeyes-bin-"); built.err != nil {
			return
		}
		built.out, built.err = exec.Command("go", "build", "-o", filepath.Join(built.dir, "sharpeyes"), "../cmd/sharpeyes").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "sharpeyes")
}

// startServeProcess runs `sharpeyes serve` with an embedded registry on
// loopback ports (extra environment after the defaults) and answers its
// API's base URL and data directory once it is healthy.
func startServeProcess(t *testing.T, extraEnv ...string) (base, data string) {
	t.Helper()
	p := serveProcess(t, t.TempDir(), extraEnv...)
	return p.base, p.data
}

// gatewayProc is a `sharpeyes serve` process.
type gatewayProc struct {
	cmd        *exec.Cmd
	exited     chan struct{} // closed once the process has ended
	base, data string
}

// serveProcess starts `sharpeyes serve` on data (kept between processes).
func serveProcess(t *testing.T, data string, extraEnv ...string) *gatewayProc {
	t.Helper()
	return serveProcessNice(t, data, 0, extraEnv...)
}

// serveProcessNice starts `sharpeyes serve` at a scheduling niceness
// (0: as this process): a gateway that shares the machine with the
// browser under test as it would not in service, where it runs on a
// server of its own.
func serveProcessNice(t *testing.T, data string, nice int, extraEnv ...string) *gatewayProc {
	t.Helper()
	// The ports are picked free, then given to the process: another
	// program may take one meanwhile. A process that ends saying so is
	// started again on other ports.
	for try := 1; ; try++ {
		p, out := startProcess(t, data, nice, extraEnv)
		healthy := false
		eventually(t, 30*time.Second, "gateway process healthy", func() bool {
			select {
			case <-p.exited:
				return true
			default:
			}
			resp, err := http.Get(p.base + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			healthy = resp.StatusCode == 200
			return healthy
		})
		if healthy {
			return p
		}
		if try < 3 && strings.Contains(out.String(), "address already in use") {
			t.Logf("gateway process start %d: a port was taken meanwhile; again on other ports", try)
			continue
		}
		t.Fatalf("the gateway process ended before it served: %s", lastLines(out.String(), 5))
	}
}

// startProcess starts `sharpeyes serve` on free ports; out is its stderr
// (also copied to the test's).
func startProcess(t *testing.T, data string, nice int, extraEnv []string) (*gatewayProc, *syncBuffer) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	cmd := exec.Command(gatewayBinary(t), "serve")
	if nice != 0 {
		cmd = exec.Command("nice", "-n", strconv.Itoa(nice), gatewayBinary(t), "serve")
	}
	cmd.Env = append(append(os.Environ(), "SHARPEYES_DATA_DIR="+data, "SHARPEYES_AUTH_ADMIN_TOKEN="+token, "SHARPEYES_LOG_LEVEL=warn",
		"SHARPEYES_HTTP_ADDR="+addr, "SHARPEYES_RTSP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "udp")),
		"SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t, "tcp")),
		"SHARPEYES_INGEST_TIMEOUT=2s", "SHARPEYES_INGEST_IDLE_TIMEOUT=1s", "SHARPEYES_INGEST_BACKOFF_MIN=100ms",
		"SHARPEYES_INGEST_BACKOFF_MAX=500ms", "SHARPEYES_HEALTH_INTERVAL=0"), extraEnv...)
	out := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(os.Stderr, out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gatewayProc{cmd: cmd, exited: make(chan struct{}), base: "http://" + addr, data: data}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p, out
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill ends the process with SIGKILL, as a power cut would.
func (p *gatewayProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
