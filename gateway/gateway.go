// Package gateway wires the components into a running gateway: registry,
// ingest, relay (WHEP and RTSP re-serve) and the HTTP API, started in
// dependency order and closed in reverse.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sharpeyes/access"
	"sharpeyes/api"
	"sharpeyes/authn"
	"sharpeyes/cases"
	"sharpeyes/configs"
	"sharpeyes/events"
	"sharpeyes/grid"
	"sharpeyes/ingest"
	"sharpeyes/outbound"
	"sharpeyes/recording"
	"sharpeyes/registry"
	"sharpeyes/relay"
	"sharpeyes/relay/rtspserve"
	"sharpeyes/relay/webrtc"
)

// Gateway is a running node.
type Gateway struct {
	cfg     *configs.Config
	log     *slog.Logger
	etcd    *registry.Embedded
	cli     *clientv3.Client
	store   *registry.Store
	catalog *registry.Catalog
	ids     *registry.Identities
	auth    *authn.Authenticator
	own     *ownEvents
	api     *api.Server
	members *registry.Membership
	grids   grid.Live
	cases   *cases.Store
	events  *events.Store
	bus     *events.Bus // the node's one follower of the outbox
	pipe    *cases.Pipeline
	cal     *cases.Calendar
	webhook *outbound.Webhook
	manager *ingest.Manager
	rec     *recording.Manager
	whep    *webrtc.WHEP
	rtsp    *rtspserve.RTSPServer
	gb      *gbSide      // nil unless gb28181.enabled
	cascade *cascadeSide // nil unless gb28181.enabled
	http    *http.Server
	httpLn  net.Listener
	https   bool
	pprof   *http.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Options are the parts of a gateway that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	Web    fs.FS // browser UI; nil serves none
}

// Start brings a gateway up; on error everything started is closed again.
func Start(cfg *configs.Config, opt Options) (_ *Gateway, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	// The SQL store lives under data_dir whichever registry is used.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	endpoints := cfg.Registry.Endpoints
	if len(endpoints) == 0 {
		g.etcd, err = registry.StartEmbedded(cfg.DataDir, 30*time.Second)
		if err != nil {
			return nil, err
		}
		endpoints = []string{g.etcd.Endpoint}
	}
	g.cli, err = registry.Connect(endpoints, cfg.Registry.DialTimeout.D())
	if err != nil {
		return nil, err
	}
	g.store = registry.NewStore(g.cli, cfg.Registry.Prefix, cfg.Registry.DialTimeout.D(), log)
	g.catalog = registry.NewCatalog()
	g.ids = registry.NewIdentities()
	startCtx, startCancel := context.WithTimeout(context.Background(), cfg.Registry.DialTimeout.D()+5*time.Second)
	clusterKey, err := g.store.ClusterKey(startCtx, func() (string, error) { return access.NewSecret(32) })
	startCancel()
	if err != nil {
		return nil, fmt.Errorf("cluster key: %w", err)
	}
	if err := g.openCases(cfg); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	nodeID := cfg.Node.ID
	if nodeID == "" {
		nodeID, _ = os.Hostname()
	}
	// What the follower and the pulls report to exists before any of
	// them runs: the follower is whole before its first goroutine.
	if g.pipe != nil {
		g.own = newOwnEvents(g.recordOwn, log)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.own.run(ctx)
		}()
	}
	fol := &follower{catalog: g.catalog, log: log, nodeAuth: url.UserPassword(authn.NodeUser, clusterKey), wake: make(chan struct{}, 1),
		emit: g.emit}
	var gbOpener ingest.GBOpener
	if cfg.GB28181.Enabled {
		if g.gb, err = g.startGB(ctx, cfg.GB28181); err != nil {
			return nil, err
		}
		gbOpener = g.gb.opener
	}
	g.manager = ingest.NewManager(ingest.ManagerConfig{
		IdleTimeout: cfg.Ingest.IdleTimeout.D(), Timeout: cfg.Ingest.Timeout.D(),
		BackoffMin: cfg.Ingest.BackoffMin.D(), BackoffMax: cfg.Ingest.BackoffMax.D(),
		Stream:   cfg.Relay,
		Logger:   log,
		OnState:  fol.publish,
		GBOpener: gbOpener,
	})
	fol.m = g.manager
	if g.cases != nil {
		if err := g.startRecording(ctx, cfg, nodeID); err != nil {
			return nil, fmt.Errorf("recording: %w", err)
		}
		fol.rec = g.rec
	}
	ice := make([]webrtc.ICEServer, len(cfg.WebRTC.ICEServers))
	for i, s := range cfg.WebRTC.ICEServers {
		ice[i] = webrtc.ICEServer(s)
	}
	g.whep, err = webrtc.NewWHEP(webrtc.WebRTCConfig{
		UDPAddr: cfg.WebRTC.UDPAddr, TCPAddr: cfg.WebRTC.TCPAddr, PublicIPs: cfg.WebRTC.PublicIPs,
		ICEServers: ice, MaxSessions: cfg.WebRTC.MaxSessions, DisableGSO: !cfg.WebRTC.UDPGSO, ReadyTimeout: cfg.Ingest.Timeout.D() + 3*time.Second,
		CatchUp: webrtc.CatchUp{Off: !cfg.WebRTC.GOPCache, Rate: cfg.WebRTC.CatchUpRate, Max: cfg.WebRTC.CatchUpMax.D()},
		Logger:  log,
	}, g.manager)
	if err != nil {
		return nil, err
	}
	// One authenticator for every surface: the API, WHEP and the RTSP re-serve.
	g.auth = authn.New(authn.Config{AdminToken: cfg.Auth.AdminToken, ClusterKey: []byte(clusterKey),
		TokenMaxTTL: cfg.Auth.TokenMaxTTL.D(), Logger: log}, g.ids, &g.grids, g.catalog)
	g.rtsp, err = rtspserve.NewRTSPServer(rtspserve.RTSPConfig{Addr: cfg.RTSP.Addr, Logger: log,
		Authorize: func(user, pass, addr, camera string) error {
			_, err := g.auth.Video(user, pass, addr, camera)
			if errors.Is(err, authn.ErrHidden) {
				return fmt.Errorf("%w: %w", relay.ErrUnknownCamera, err)
			}
			return err
		}}, g.manager)
	if err != nil {
		return nil, err
	}

	var certs *certFiles
	if cfg.HTTP.TLSCertFile != "" {
		if certs, err = newCertFiles(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile, log.With("component", "http")); err != nil {
			return nil, err
		}
	}
	g.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("http %s: %w", cfg.HTTP.Addr, err)
	}
	self := registry.Node{ID: nodeID, HTTP: cfg.Node.AdvertiseHTTP, RTSP: cfg.Node.AdvertiseRTSP, Started: time.Now().UTC()}
	if self.HTTP == "" {
		scheme := "http://"
		if certs != nil {
			scheme = "https://"
		}
		self.HTTP = scheme + reachable(g.httpLn.Addr().String())
	}
	if self.RTSP == "" {
		self.RTSP = "rtsp://" + reachable(g.rtsp.Addr())
	}
	g.members = g.store.Join(ctx, self, cfg.Registry.LeaseTTL.D(), func([]registry.Node) { fol.rebalance() })
	fol.members.Store(g.members)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fol.publishStatuses(ctx)
	}()
	fol.rebalance() // callbacks before the Store above were skipped
	select {        // know the other nodes before taking cameras, so a joining node takes only its share
	case <-g.members.Ready():
	case <-time.After(cfg.Registry.DialTimeout.D()):
		log.Warn("node list not read in time; starting with what is known")
	}
	if g.rec != nil {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.followForRecording(ctx)
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.store.WatchCameras(ctx, fol)
	}()

	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.store.WatchIdentities(ctx, g.ids)
	}()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.store.WatchGrids(ctx, func(set registry.GridSet, cells []grid.Cell) { g.grids.Set(set.Version, cells) })
	}()
	if g.gb != nil {
		if err := g.gb.listen(ctx); err != nil {
			return nil, fmt.Errorf("gb28181 sip %s: %w", cfg.GB28181.SIPAddr, err)
		}
		g.cascade = newCascadeSide(g, cfg.GB28181)
		if err := g.cascade.seed(ctx, cfg.GB28181.Upstream); err != nil {
			return nil, err
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.store.Lead(ctx, "cascade", self.ID, cfg.Registry.LeaseTTL.D(), g.cascade.lead)
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.store.Lead(ctx, "clock", self.ID, cfg.Registry.LeaseTTL.D(), g.runClock)
	}()
	srv := api.New(api.Config{MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		MaxImportBytes: cfg.HTTP.MaxImportBytes, NodeID: self.ID, Web: opt.Web, Logger: log,
		SessionTTL: cfg.Auth.SessionTTL.D(), TokenDefaultTTL: cfg.Auth.TokenDefaultTTL.D(), TokenMaxTTL: cfg.Auth.TokenMaxTTL.D(),
		MaxStreams: cfg.HTTP.MaxStreams, Store: g.storeInfo(),
		MapTiles: cfg.Web.MapTiles, MapAttribution: cfg.Web.MapAttribution, TrustedProxies: cfg.HTTP.TrustedProxies},
		api.Deps{Cameras: g.store, Catalog: g.catalog, GridStore: g.store, Grids: &g.grids, Pulls: g.manager, WHEP: g.whep,
			Sync: fol, Cluster: &cluster{members: g.members, store: g.store}, Pipeline: g.pipe, Places: g,
			Identities: g.ids, IdentityStore: g.store, Auth: g.auth, Layouts: g.store, Ready: g.ready, Outbox: g.outboxOrNil(), Recordings: g.recordingsOrNil(), GB: g.gbOrNil(), Cascade: g.upstreamsOrNil()})
	g.api = srv
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		srv.Run(ctx, 2*time.Second)
	}()
	// Slow or idle clients are let go; the event stream lifts its own
	// deadlines. WriteTimeout leaves room for a WHEP answer that waits for
	// an on-demand camera.
	g.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: min(10*time.Second, cfg.HTTP.ReadTimeout.D()),
		ReadTimeout: cfg.HTTP.ReadTimeout.D(), WriteTimeout: cfg.HTTP.WriteTimeout.D(), IdleTimeout: cfg.HTTP.IdleTimeout.D(),
		MaxHeaderBytes: 256 << 10, ErrorLog: slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelInfo)}
	// With a certificate the address serves HTTPS only (HSTS, Secure
	// cookies: api.secureHeaders); RTSP and WebRTC are not affected.
	serve := g.http.Serve
	if certs != nil {
		g.https = true
		g.http.TLSConfig = certs.tlsConfig()
		serve = func(ln net.Listener) error { return g.http.ServeTLS(ln, "", "") }
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := serve(g.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
		}
	}()
	if cfg.Debug.PprofAddr != "" {
		if err := g.startPprof(cfg.Debug.PprofAddr); err != nil {
			return nil, err
		}
	}
	log.Info("gateway started", "node", self.ID, "http", g.httpLn.Addr().String(), "tls", certs != nil, "rtsp", g.rtsp.Addr(),
		"webrtc_udp", g.whep.UDPAddr().String(), "registry", registryMode(cfg))
	return g, nil
}

func registryMode(cfg *configs.Config) string {
	if len(cfg.Registry.Endpoints) == 0 {
		return "embedded"
	}
	return "external"
}

// outboxOrNil is the bus for the API (a nil interface without cases).
func (g *Gateway) outboxOrNil() api.Outbox {
	if g.bus == nil {
		return nil
	}
	return g.bus
}

// HTTPAddr is the bound HTTP address.
func (g *Gateway) HTTPAddr() string { return g.httpLn.Addr().String() }

// HTTPS tells whether the HTTP address serves TLS.
func (g *Gateway) HTTPS() bool { return g.https }

// RTSPAddr is the bound RTSP re-serve address.
func (g *Gateway) RTSPAddr() string { return g.rtsp.Addr() }

// Grids is the grid index in force.
func (g *Gateway) Grids() *grid.Index { return g.grids.Index() }

// Cases is the case store.
func (g *Gateway) Cases() *cases.Store { return g.cases }

// Catalog is the in-memory camera list.
func (g *Gateway) Catalog() *registry.Catalog { return g.catalog }

// Routes lists every HTTP route with who may call it.
func (g *Gateway) Routes() []api.Policy {
	if g.api != nil {
		return g.api.Policies()
	}
	return nil
}

// Identities is the in-memory mirror of users, tokens and sessions.
func (g *Gateway) Identities() *registry.Identities { return g.ids }

// storeInfo says which SQL store holds events and cases, and whether an
// acknowledged write is on disk (SQLite synchronous=FULL, PostgreSQL fsync).
func (g *Gateway) storeInfo() map[string]any {
	if g.cases == nil {
		return nil
	}
	db, postgres := g.cases.DB()
	if postgres {
		var fsync string
		_ = db.QueryRow("SHOW fsync").Scan(&fsync)
		return map[string]any{"driver": "postgresql", "durable": fsync == "on"}
	}
	var mode int
	_ = db.QueryRow("PRAGMA synchronous").Scan(&mode)
	return map[string]any{"driver": "sqlite", "synchronous": mode, "durable": mode >= 2}
}

// ready tells whether the registry and the SQL store answer.
func (g *Gateway) ready(ctx context.Context) error {
	if _, err := g.cli.Get(ctx, g.cfg.Registry.Prefix+"auth/cluster_key"); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if g.cases != nil {
		db, _ := g.cases.DB()
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("cases store: %w", err)
		}
	}
	return nil
}

// Store is the camera registry.
func (g *Gateway) Store() *registry.Store { return g.store }

// Close shuts down in reverse order of start.
func (g *Gateway) Close() {
	g.closed.Do(func() {
		if g.pprof != nil {
			_ = g.pprof.Close()
		}
		if g.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = g.http.Shutdown(ctx)
			cancel()
		}
		if g.cancel != nil {
			g.cancel()
		}
		if g.rtsp != nil {
			g.rtsp.Close()
		}
		if g.whep != nil {
			g.whep.Close()
		}
		if g.rec != nil {
			g.rec.Close() // segments closed before the pulls stop
		}
		if g.manager != nil {
			g.manager.Close() // the GB channels' BYEs go out here
		}
		if g.cascade != nil {
			g.cascade.stop() // unregistered from the platforms through the SIP stack
		}
		if g.gb != nil {
			g.gb.close()
		}
		// Goroutines that talk to etcd end by themselves when it answers
		// (leases revoked, leadership resigned). When it does not, some etcd
		// client calls wait on the client's own context (an election
		// resigning after a cancelled campaign): closing the client ends them.
		done := make(chan struct{})
		go func() {
			g.wg.Wait()
			if g.members != nil {
				g.members.Wait()
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			g.log.Warn("registry not answering while stopping; closing its client")
			if g.cli != nil {
				g.cli.Close()
			}
			<-done
		}
		if g.cli != nil {
			g.cli.Close()
		}
		if g.bus != nil {
			g.bus.Close()
		}
		if g.cases != nil {
			_ = g.cases.Close()
		}
		if g.etcd != nil {
			g.etcd.Close()
		}
	})
}

// reachable turns a listen address into one peers can dial: an empty or
// unspecified host becomes 127.0.0.1 (set node.advertise_* for real hosts).
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// startPprof serves Go's profiling endpoints on their own listener, so they
// are never exposed on the API port by accident.
func (g *Gateway) startPprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug.pprof_addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	g.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		_ = g.pprof.Serve(ln)
	}()
	return nil
}
