package ingest

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
)

// TestProbeNamesWhyACameraIsOffline: a probe of a simulated camera is
// online with its credentials and names each failure: a wrong or missing
// password (unauthorized), a path it does not have (not_found), a camera
// declining (refused), nothing listening (refused), a camera that accepts
// the connection and never answers (timeout, within the probe's time).
// No probe is a viewer, and no detail carries the password.
func TestProbeNamesWhyACameraIsOffline(t *testing.T) {
	f := startFleet(t, camsim.Config{User: "admin", Pass: "Probe-Secret-7"})
	good := f.URL(1, false)
	wrong := strings.Replace(good, "Probe-Secret-7", "Not-The-Pass-1", 1)
	anon := strings.Replace(good, "admin:Probe-Secret-7@", "", 1)
	missing := strings.Replace(good, "/cam1", "/cam99", 1)

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	ctx := context.Background()
	const timeout = 2 * time.Second
	for _, tc := range []struct {
		name, url string
		online    bool
		reason    string
	}{
		{"good", good, true, ""},
		{"wrong password", wrong, false, ReasonUnauthorized},
		{"no password", anon, false, ReasonUnauthorized},
		{"no such path", missing, false, ReasonNotFound},
		{"nothing listening", "rtsp://" + closedAddr + "/cam1", false, ReasonRefused},
		{"never answers", "rtsp://" + silent.Addr().String() + "/cam1", false, ReasonTimeout},
	} {
		p := ProbeRTSP(ctx, tc.url, timeout)
		t.Logf("%s: online %v, %s (%s) in %v", tc.name, p.Online, p.Reason, p.Detail, p.Took.Round(time.Millisecond))
		if p.Online != tc.online || p.Reason != tc.reason {
			t.Errorf("%s: %+v, want online %v reason %q", tc.name, p, tc.online, tc.reason)
		}
		if strings.Contains(p.Detail, "Probe-Secret-7") || strings.Contains(p.Detail, "Not-The-Pass-1") {
			t.Errorf("%s: the detail carries a password: %s", tc.name, p.Detail)
		}
		if p.Took > 2*timeout { // it ends on its timeout, not never (room for a loaded machine)
			t.Errorf("%s: took %v, bounded by %v", tc.name, p.Took, timeout)
		}
	}
	f.SetRefuse(true)
	if p := ProbeRTSP(ctx, good, timeout); p.Online || p.Reason != ReasonRefused {
		t.Errorf("a camera declining: %+v", p)
	}
	f.SetRefuse(false)
	if n := f.Sessions(1); n != 0 {
		t.Errorf("%d playing sessions after probes: a probe must not play", n)
	}
}

// BenchmarkProbeRTSP: the CPU of one probe (OPTIONS and DESCRIBE with
// digest credentials over a fresh TCP connection), the simulated camera's
// side included, as a share of a core for 1,000 cameras probed every 60 s
// (health.interval's default).
func BenchmarkProbeRTSP(b *testing.B) {
	f, err := camsim.Start(camsim.Config{Listen: "127.0.0.1:0", Cameras: 1, User: "admin", Pass: "Bench-Pass-1",
		Main: sharpeyes.MainClip, Sub: sharpeyes.SubClip})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	u := f.URL(1, false)
	ctx := context.Background()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	c0 := cpu()
	for b.Loop() {
		if p := ProbeRTSP(ctx, u, 5*time.Second); !p.Online {
			b.Fatalf("probe: %+v", p)
		}
	}
	per := (cpu() - c0) / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds()), "cpu-µs/probe")
	b.ReportMetric(100*1000/60*per.Seconds(), "%core@1000cams/60s")
}
