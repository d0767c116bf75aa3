package gateway

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		"SHARPEYES_INGEST_BACKOFF_MAX=500ms"), extraEnv...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	eventually(t, 30*time.Second, "gateway process healthy", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return &gatewayProc{cmd: cmd, base: "http://" + addr, data: data}
}

// kill ends the process with SIGKILL, as a power cut would.
func (p *gatewayProc) kill() {
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
}
