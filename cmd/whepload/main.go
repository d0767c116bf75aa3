// Command whepload opens N WHEP viewers against one camera and reports
// POST → first decodable frame (IDR with SPS/PPS in-band), fps, RTP loss,
// SEI transit latency (camsim stamps every frame), and — given the
// gateway's PID — its CPU per viewer-second and memory per viewer.
//
//	whepload --url http://127.0.0.1:8080/api/v1/whep/CAM --viewers 100 --ramp 10s --duration 30s --pid 1234
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/relay/whepclient"
)

type viewerResult struct {
	FirstFrame time.Duration
	Frames     int64
	Lost       uint64
	Packets    uint64
	Latencies  []time.Duration
	Err        string
}

// Report is the JSON summary.
type Report struct {
	Viewers         int     `json:"viewers"`
	Connected       int     `json:"connected"`
	Failed          int     `json:"failed"`
	FirstFrameP50MS float64 `json:"first_frame_p50_ms"`
	FirstFrameP95MS float64 `json:"first_frame_p95_ms"`
	FPSPerViewer    float64 `json:"fps_per_viewer"`
	LossPercent     float64 `json:"rtp_loss_percent"`
	LatencyP50MS    float64 `json:"sei_latency_p50_ms"`
	LatencyP99MS    float64 `json:"sei_latency_p99_ms"`
	CPUMsPerViewerS float64 `json:"server_cpu_ms_per_viewer_second,omitempty"`
	MemMBPerViewer  float64 `json:"server_mem_mb_per_viewer,omitempty"`
	ServerCPUPct    float64 `json:"server_cpu_percent,omitempty"`
	ServerRSSMB     float64 `json:"server_rss_mb,omitempty"`
	SteadySeconds   float64 `json:"steady_seconds"`
	// UDPRcvbufDrops is the host's UDP receive-buffer overflows (Linux
	// /proc/net/snmp Udp RcvbufErrors) from the first join to the end:
	// packets a viewer's socket dropped because they came too fast.
	UDPRcvbufDrops int64 `json:"udp_rcvbuf_drops"`
}

// rcvbufErrors reads Udp RcvbufErrors from /proc/net/snmp (-1 elsewhere).
func rcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return -1
}

func main() {
	url := flag.String("url", "", "WHEP endpoint, e.g. http://127.0.0.1:8080/api/v1/whep/CAM?stream=main")
	n := flag.Int("viewers", 10, "number of viewers")
	ramp := flag.Duration("ramp", 5*time.Second, "spread viewer starts over this long")
	dur := flag.Duration("duration", 20*time.Second, "steady-state measurement after the ramp")
	pid := flag.Int("pid", 0, "gateway process id, to report its CPU and memory")
	out := flag.String("json", "", "also write the report as JSON to this file")
	quiet := flag.Bool("quiet", false, "no progress line")
	token := flag.String("token", os.Getenv("WHEP_TOKEN"), "API token with the video scope (Authorization: Bearer); default $WHEP_TOKEN")
	flag.Parse()
	if *url == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, *url, *token, *n, *ramp, *dur, *pid, *quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "whepload:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(b))
	if *out != "" {
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "whepload:", err)
			os.Exit(1)
		}
	}
	if rep.Failed > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, url, token string, n int, ramp, dur time.Duration, pid int, quiet bool) (*Report, error) {
	hc := &http.Client{Timeout: 20 * time.Second, Transport: bearer{token}}
	drops0 := rcvbufErrors()
	baseRSS := 0.0
	if pid > 0 {
		var err error
		if baseRSS, err = rssMB(pid); err != nil {
			return nil, err
		}
	}
	results := make([]*viewerResult, n)
	var connected, totalFrames atomic.Int64
	var wg sync.WaitGroup
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steadyStart := make(chan struct{})
	for i := 0; i < n; i++ {
		results[i] = &viewerResult{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(i) * ramp / time.Duration(n)):
			case <-vctx.Done():
				return
			}
			viewer(vctx, hc, url, results[i], &connected, &totalFrames, steadyStart)
		}(i)
	}

	// Progress: one line a second while ramping and measuring.
	// On a terminal the line is redrawn every second; in a log, a new
	// line every five seconds.
	tty := isTerminal(os.Stderr)
	ticks := 0
	progress := func(phase string) {
		ticks++
		switch {
		case quiet:
		case tty:
			fmt.Fprintf(os.Stderr, "\r%-8s viewers %4d/%d  frames %8d", phase, connected.Load(), n, totalFrames.Load())
		case ticks%5 == 0:
			fmt.Fprintf(os.Stderr, "%-8s viewers %4d/%d  frames %8d\n", phase, connected.Load(), n, totalFrames.Load())
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rampEnd := time.After(ramp + 2*time.Second)
wait:
	for {
		select {
		case <-tick.C:
			progress("ramp")
		case <-rampEnd:
			break wait
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	close(steadyStart)
	cpu0, _ := cpuTicks(pid)
	t0 := time.Now()
	end := time.After(dur)
measure:
	for {
		select {
		case <-tick.C:
			progress("measure")
		case <-end:
			break measure
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	steady := time.Since(t0)
	cpu1, _ := cpuTicks(pid)
	rss := 0.0
	if pid > 0 {
		rss, _ = rssMB(pid)
	}
	if !quiet && tty {
		fmt.Fprintln(os.Stderr)
	}
	cancel()
	wg.Wait()
	rep := summarize(results, n, steady, pid, cpu1-cpu0, baseRSS, rss)
	if d := rcvbufErrors(); d >= 0 && drops0 >= 0 {
		rep.UDPRcvbufDrops = d - drops0
	}
	return rep, nil
}

func viewer(ctx context.Context, hc *http.Client, url string, r *viewerResult, connected, total *atomic.Int64, steady <-chan struct{}) {
	sig, loc := whepclient.HTTPSignal(hc, url)
	start := time.Now()
	c, err := whepclient.Dial(ctx, sig, whepclient.Options{Buffer: 1024})
	if err != nil {
		r.Err = err.Error()
		return
	}
	defer func() {
		_ = whepclient.Delete(hc, loc())
		c.Close()
	}()
	connected.Add(1)
	measuring := false
	var lost0, pk0 uint64
	for {
		select {
		case <-ctx.Done():
			r.Lost, r.Packets = c.Lost()-lost0, c.Packets()-pk0
			return
		case f, ok := <-c.Frames():
			if !ok {
				r.Err = "stream ended"
				return
			}
			total.Add(1)
			if r.FirstFrame == 0 && f.Key && f.HasParams {
				r.FirstFrame = time.Since(start)
			}
			if !measuring {
				select {
				case <-steady:
					measuring = true
					lost0, pk0 = c.Lost(), c.Packets()
				default:
				}
			}
			if measuring {
				r.Frames++
				if ts, ok := camsim.FindTimestamp(f.NALUs); ok {
					r.Latencies = append(r.Latencies, f.Received.Sub(ts))
				}
			}
		}
	}
}

func summarize(rs []*viewerResult, n int, steady time.Duration, pid int, cpuTicks int64, baseRSS, rss float64) *Report {
	rep := &Report{Viewers: n, SteadySeconds: steady.Seconds()}
	var first, lat []time.Duration
	var frames int64
	var lost, packets uint64
	for _, r := range rs {
		if r.Err != "" && r.FirstFrame == 0 {
			rep.Failed++
			continue
		}
		rep.Connected++
		if r.FirstFrame > 0 {
			first = append(first, r.FirstFrame)
		}
		frames += r.Frames
		lost += r.Lost
		packets += r.Packets
		lat = append(lat, r.Latencies...)
	}
	rep.FirstFrameP50MS, rep.FirstFrameP95MS = ms(pct(first, 50)), ms(pct(first, 95))
	rep.LatencyP50MS, rep.LatencyP99MS = ms(pct(lat, 50)), ms(pct(lat, 99))
	if rep.Connected > 0 {
		rep.FPSPerViewer = float64(frames) / steady.Seconds() / float64(rep.Connected)
	}
	if packets+lost > 0 {
		rep.LossPercent = 100 * float64(lost) / float64(packets+lost)
	}
	if pid > 0 && rep.Connected > 0 {
		cpuSec := float64(cpuTicks) / 100 // USER_HZ
		rep.ServerCPUPct = 100 * cpuSec / steady.Seconds()
		rep.CPUMsPerViewerS = 1000 * cpuSec / (steady.Seconds() * float64(rep.Connected))
		rep.ServerRSSMB = rss
		rep.MemMBPerViewer = (rss - baseRSS) / float64(rep.Connected)
	}
	return rep
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p / 100)
	return d[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuTicks is utime+stime of a process in clock ticks (/proc/PID/stat).
func cpuTicks(pid int) (int64, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

// rssMB is the resident set size of a process in MB.
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("gateway pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bearer adds the API token to every request (the offer and the DELETE).
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}
