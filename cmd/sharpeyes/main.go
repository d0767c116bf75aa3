// Command sharpeyes is the video aggregation gateway.
//
//	sharpeyes serve [--config FILE]   run a gateway node
//	sharpeyes demo  [--config FILE] [--tls]   run with simulated cameras around Slender West Lake
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // cases.timezone works on hosts and images without tzdata

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/cases"
	"sharpeyes/configs"
	"sharpeyes/gateway"
	"sharpeyes/grid"
	"sharpeyes/registry"
	"sharpeyes/web"
)

const usage = `usage: sharpeyes <command> [flags]

commands:
  serve   run a gateway node (--config FILE)
  demo    run a gateway with 16 simulated cameras and print its URL
          (--tls: HTTPS with a self-signed certificate, for phones' location)
  grids import [--server URL] [--token TOKEN] FILE
          replace the grid cells with a GeoJSON FeatureCollection (all or nothing)
  cameras import [--server URL] [--token TOKEN] [--upsert] FILE.csv|FILE.json
          add cameras in bulk (all or nothing, bad rows named)
  users add|list|disable|enable [--server URL] [--token TOKEN] ...
          manage who may sign in (see 'sharpeyes users')
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:], false)
	case "demo":
		err = serve(os.Args[2:], true)
	case "grids":
		err = gridsCmd(os.Args[2:])
	case "cameras":
		err = camerasCmd(os.Args[2:])
	case "users":
		err = usersCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sharpeyes:", err)
		os.Exit(1)
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	file := fs.String("config", "", "config file (YAML); the built-in defaults apply without one")
	cameras := fs.Int("cameras", 16, "demo: number of simulated cameras (1-16)")
	withTLS := fs.Bool("tls", false, "demo: serve HTTPS with a self-signed certificate made in the data directory (phones give their location only to HTTPS pages)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env := os.Environ()
	fingerprint := ""
	if demo {
		var cleanup func()
		var err error
		env, cleanup, err = demoEnv(env)
		if err != nil {
			return err
		}
		defer cleanup()
		if *withTLS {
			if env, fingerprint, err = demoTLS(env); err != nil {
				return err
			}
		}
	}
	cfg, err := configs.Load(*file, env)
	if err != nil {
		return err
	}
	if cfg.Auth.AdminToken == "" {
		return errors.New("'auth.admin_token' must be set for serve (config file or SHARPEYES_AUTH_ADMIN_TOKEN)")
	}
	log := newLogger(os.Stderr, cfg.LogLevel)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var fleet *camsim.Fleet
	if demo {
		n := min(max(*cameras, 1), 16)
		fleet, err = camsim.Start(camsim.Config{Listen: "127.0.0.1:0", Cameras: n,
			Main: sharpeyes.MainClip, Sub: sharpeyes.SubClip, Logger: log})
		if err != nil {
			return err
		}
		defer fleet.Close()
	}
	g, err := gateway.Start(cfg, gateway.Options{Logger: log, Web: web.FS()})
	if err != nil {
		return err
	}
	defer g.Close()
	var logins []demoUser
	if demo {
		cells, cams, err := registerDemo(ctx, g.Store(), fleet)
		if err != nil {
			return err
		}
		if logins, err = demoUsers(cells, cams); err == nil {
			err = createDemoUsers(ctx, g.Store(), logins)
		}
		if err != nil {
			return err
		}
		go seedHistory(ctx, g.Cases(), cells, log)
		if cfg.GB28181.Enabled && g.GBAddr() != "" {
			nvr, err := startDemoNVR(ctx, g.GBAddr(), cfg.GB28181, cams, log)
			if err != nil {
				return err
			}
			defer nvr.Close()
			district, err := startDemoDistrict(ctx, g.Store(), cfg.GB28181, cells, log)
			if err != nil {
				return err
			}
			defer district.Close()
			fmt.Printf("district platform:    %s (simulated; the street registers with it and shares its cameras)\n", district.Addr())
		}
	}
	fmt.Printf("\nsharpeyes is running: %s\n", browseURL(g.HTTPAddr(), g.HTTPS()))
	if fingerprint != "" {
		fmt.Printf("TLS certificate:      self-signed, SHA-256 %s\n", fingerprint)
	}
	fmt.Printf("RTSP re-serve:        rtsp://%s/<camera-id>\n", displayAddr(g.RTSPAddr()))
	if demo && g.GBAddr() != "" {
		fmt.Printf("GB/T 28181 SIP:       %s (UDP and TCP), server id %s, domain %s, password %s\n", g.GBAddr(), cfg.GB28181.ServerID, cfg.GB28181.Domain, cfg.GB28181.Password)
	}
	if demo {
		fmt.Printf("admin token:          %s\n", cfg.Auth.AdminToken)
		insecure := ""
		if g.HTTPS() {
			insecure = "-k "
		}
		fmt.Printf("try:                  curl %s-H 'Authorization: Bearer %s' %s/api/v1/cameras\n", insecure, cfg.Auth.AdminToken, browseURL(g.HTTPAddr(), g.HTTPS()))
		printDemoUsers(os.Stdout, logins)
	}
	fmt.Println("press Ctrl-C to stop")
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}

// demoEnv gives the demo a fresh data directory and an admin token unless
// the environment already sets them.
func demoEnv(env []string) ([]string, func(), error) {
	has := func(name string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, name+"=") {
				return true
			}
		}
		return false
	}
	cleanup := func() {}
	if !has(configs.EnvName("data_dir")) {
		dir, err := os.MkdirTemp("", "sharpeyes-demo-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		env = append(env, configs.EnvName("data_dir")+"="+dir)
	}
	if !has(configs.EnvName("auth.admin_token")) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		env = append(env, configs.EnvName("auth.admin_token")+"="+hex.EncodeToString(b))
	}
	// GB/T 28181 on loopback, for the demo's simulated NVR (and any other
	// device on this machine), with a password made up for the run.
	if !has(configs.EnvName("gb28181.enabled")) {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		env = append(env, configs.EnvName("gb28181.enabled")+"=true", configs.EnvName("gb28181.sip_addr")+"=127.0.0.1:0",
			configs.EnvName("gb28181.media_addr")+"=127.0.0.1:0", configs.EnvName("gb28181.password")+"="+hex.EncodeToString(b))
	}
	return env, cleanup, nil
}

func registerDemo(ctx context.Context, store *registry.Store, fleet *camsim.Fleet) ([]grid.Cell, []registry.Camera, error) {
	cells, probs := grid.Parse(configs.DemoGrids)
	if len(probs) > 0 {
		return nil, nil, fmt.Errorf("demo grids: %s", probs[0].Msg)
	}
	if _, err := store.ImportGrids(ctx, cells); err != nil {
		return nil, nil, err
	}
	cams, err := configs.DemoCameras()
	if err != nil {
		return nil, nil, err
	}
	var made []registry.Camera
	for i, dc := range cams {
		if i >= fleet.Cameras() {
			break
		}
		cam := registry.Camera{ID: dc.ID, Name: dc.Name, OnDemand: !dc.AlwaysOn, Tags: dc.Tags,
			Streams:  registry.Streams{Main: fleet.URL(i+1, false), Sub: fleet.URL(i+1, true)},
			Location: &registry.Location{Lat: dc.Lat, Lon: dc.Lon}}
		if dc.AlwaysOn {
			// The demo records its always-on cameras, their sub streams (a
			// demo runs on a laptop's disk), for a day.
			cam.Recording = &registry.Recording{Mode: registry.RecordContinuous, Stream: "sub", RetainDays: 1}
		}
		if _, err := store.CreateCamera(ctx, cam); errors.Is(err, registry.ErrExists) {
			_, err = store.UpdateCamera(ctx, cam.ID, func(c *registry.Camera) error { *c = cam; return nil })
			if err != nil {
				return nil, nil, err
			}
		} else if err != nil {
			return nil, nil, err
		}
		made = append(made, cam)
	}
	return cells, made, nil
}

// startDemoNVR registers a simulated GB/T 28181 NVR of 4 PTZ channels, a
// little east of the demo's first camera (so in its grid cell).
func startDemoNVR(ctx context.Context, addr string, gb configs.GB28181Config, cams []registry.Camera, log *slog.Logger) (*camsim.GBDevice, error) {
	lat, lon := 32.41, 119.42
	if len(cams) > 0 && cams[0].Location != nil {
		lat, lon = cams[0].Location.Lat, cams[0].Location.Lon+0.0004
	}
	// With ffmpeg at hand its channels pan on PTZ (a live encode of a
	// window onto a wider scene); without, they loop the clip.
	_, err := exec.LookPath("ffmpeg")
	return camsim.StartGB(ctx, camsim.GBConfig{Server: addr, ServerID: gb.ServerID, Domain: gb.Domain,
		DeviceID: gb.Domain + "1110000001", Password: gb.Password, Channels: 4, Lon: lon, Lat: lat,
		Keepalive: gb.KeepaliveTimeout.D() / 3, // three intervals to a timeout, as devices are set up
		Clip:      sharpeyes.MainClip, Pan: err == nil, Log: log})
}

// startDemoDistrict starts a simulated district platform on loopback and
// has the street register with it as a lower platform, sharing the whole
// street (its top grid cells).
func startDemoDistrict(ctx context.Context, store *registry.Store, gb configs.GB28181Config, cells []grid.Cell, log *slog.Logger) (*gbplatform.Platform, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	pass := hex.EncodeToString(b)
	serverID := gb.Domain[:4] + "000000" + "2000000001" // the city level above the street's district
	p, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{ServerID: serverID, Password: pass, Log: log})
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, c := range cells {
		if c.Parent == "" {
			roots = append(roots, c.Code)
		}
	}
	u := registry.Upstream{ID: "district", Name: "区公安视频平台（模拟）", ServerID: serverID, Address: p.Addr(), Password: pass,
		LocalID: gb.ServerID, Transport: "udp", Enabled: true, Share: registry.UpstreamShare{Grids: roots, Cameras: []string{}},
		ExpiresS: 3600, KeepaliveS: 60, Domain: serverID[:10]}
	if cur, err := store.Upstream(ctx, u.ID); err == nil {
		u.Rev = cur.Rev
	}
	if _, err := store.PutUpstream(ctx, u, u.Rev, nil); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// seedHistory gives the demo the reference street's case history: 2,946
// cases closed through the five handlings over the past year, and some open.
func seedHistory(ctx context.Context, store *cases.Store, cells []grid.Cell, log *slog.Logger) {
	var grids []string
	for _, c := range cells {
		if c.Level == 4 && c.Kind == grid.Base {
			grids = append(grids, c.Code)
		}
	}
	start := time.Now()
	err := cases.Seed(ctx, store, cases.SeedOptions{Closed: 2946, Open: 60, Grids: grids, Now: time.Now(), Seed: 2026,
		Progress: func(done, total int) { log.Info("seeding case history", "done", done, "total", total) }})
	if errors.Is(err, cases.ErrSeeded) {
		log.Info("demo case history kept from the last run", "why", err.Error())
		return
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("demo case history", "error", err)
		return
	}
	log.Info("demo case history ready", "took", time.Since(start).Round(time.Second))
}

// browseURL turns a listen address into a URL a person can open.
func browseURL(addr string, https bool) string {
	if https {
		return "https://" + displayAddr(addr)
	}
	return "http://" + displayAddr(addr)
}

// demoTLS points the demo's HTTPS at a self-signed certificate in its data
// directory, unless the environment names a certificate already.
func demoTLS(env []string) ([]string, string, error) {
	if lookup(env, configs.EnvName("http.tls_cert_file")) != "" {
		return env, "", nil
	}
	cert, key, fp, err := selfSigned(lookup(env, configs.EnvName("data_dir")))
	if err != nil {
		return nil, "", fmt.Errorf("demo certificate: %w", err)
	}
	return append(env, configs.EnvName("http.tls_cert_file")+"="+cert, configs.EnvName("http.tls_key_file")+"="+key), fp, nil
}

// lookup is the value of name in env ("" when unset).
func lookup(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
