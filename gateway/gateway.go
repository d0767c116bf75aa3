// Package gateway wires the components into a running node: the
// registry, the SQL store and its bus, the pulls, the recorders, the
// relays (WHEP, RTSP re-serve), the GB/T 28181 device and cascade sides,
// the clock and the HTTP API. Each is a component (constructor, Start,
// Close); Start's list starts them in order and Close closes them in
// reverse. What crosses packages is tested here, end to end.
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
	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/outbound"
	"sharpeyes/recording"
	"sharpeyes/registry"
	"sharpeyes/relay"
	"sharpeyes/relay/rtspserve"
	"sharpeyes/relay/webrtc"
)

// Gateway is a running node: its components, started in the order of
// Start's list and closed in reverse, and what the steps made for the
// steps after them and for the accessors.
type Gateway struct {
	cfg   *configs.Config
	log   *slog.Logger
	web   fs.FS
	parts parts

	etcd       *registry.Embedded
	cli        *clientv3.Client
	store      *registry.Store
	catalog    *registry.Catalog
	ids        *registry.Identities
	clusterKey string
	grids      grid.Live
	cases      *cases.Store
	events     *events.Store
	bus        *events.Bus // the node's one follower of the outbox
	pipe       *cases.Pipeline
	cal        *cases.Calendar
	webhook    *outbound.Webhook
	own        *ownEvents
	certs      *certFiles // nil: plain HTTP
	httpLn     net.Listener
	rtspLn     net.Listener
	self       registry.Node
	members    *registry.Membership
	nodes      chan struct{} // a token: the node set changed (the follower rebalances)
	statuses   *statuses
	history    *healthHistory // nil without a case store
	gb         *gbSide        // nil unless gb28181.enabled
	manager    *ingest.Manager
	rec        *recording.Manager
	whep       *webrtc.WHEP
	auth       *authn.Authenticator
	rtsp       *rtspserve.RTSPServer
	fol        *follower
	cascade    *cascadeSide // nil unless gb28181.enabled
	api        *api.Server
	https      bool

	closed sync.Once
}

// Options are the parts of a gateway that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	Web    fs.FS // browser UI; nil serves none
}

// Start brings a gateway up, its components in this order (each may use
// what the ones before it made); on error everything started is closed
// again, in reverse.
func Start(cfg *configs.Config, opt Options) (_ *Gateway, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log, web: opt.Web, parts: parts{log: log}}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	// The SQL store lives under data_dir whichever registry is used.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	ctx := context.Background() // a component runs until Close, not until a context ends
	for _, step := range []func(context.Context) error{
		g.startRegistry,  // etcd (embedded without registry.endpoints), the camera store, the cluster key
		g.startCases,     // the SQL store (events, cases), the node's bus, the own events' queue
		g.listen,         // HTTP and RTSP bound: the addresses this node tells the others
		g.join,           // this node in the cluster's node list, under its lease
		g.startStatuses,  // the state of each camera pulled here, published for every node
		g.startSIP,       // GB/T 28181: the SIP stack and the media port (devices are taken later)
		g.startIngest,    // the pulls
		g.startRecording, // the recorders, their retention and clips
		g.startRelays,    // WHEP and the RTSP re-serve, behind one authenticator
		g.startFollower,  // the registry's cameras applied to the pulls and the recorders
		g.startHealth,    // probes of the cameras nobody pulls
		g.startWatches,   // identities, grids; incidents and cases heard by the recorders
		g.startGBDevices, // GB/T 28181 devices registering, their catalogs, alarms
		g.startCascade,   // the street registered with its superior platforms (the leader)
		g.startClock,     // incidents, cases and escalations on time; the webhook (the leader)
		g.startAPI,       // the HTTP API and the web UI
		g.startPprof,     // debug.pprof_addr
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	log.Info("gateway started", "node", g.self.ID, "http", g.httpLn.Addr().String(), "tls", g.certs != nil, "rtsp", g.rtsp.Addr(),
		"webrtc_udp", g.whep.UDPAddr().String(), "registry", registryMode(cfg))
	return g, nil
}

// Close shuts the components down in reverse order of start.
func (g *Gateway) Close() { g.closed.Do(g.parts.close) }

// unstick closes the etcd client: calls waiting on a registry that does
// not answer (an election resigning after a cancelled campaign) end.
func (g *Gateway) unstick() {
	g.log.Warn("registry not answering while stopping; closing its client")
	_ = g.cli.Close()
}

func (g *Gateway) startRegistry(ctx context.Context) error {
	cfg := g.cfg
	endpoints := cfg.Registry.Endpoints
	if len(endpoints) == 0 {
		e, err := registry.StartEmbedded(cfg.DataDir, 30*time.Second)
		if err != nil {
			return err
		}
		g.etcd = e
		g.parts.add("etcd", running(e.Close))
		endpoints = []string{e.Endpoint}
	}
	cli, err := registry.Connect(endpoints, cfg.Registry.DialTimeout.D())
	if err != nil {
		return err
	}
	g.cli = cli
	g.parts.add("etcd client", running(func() { _ = cli.Close() }))
	g.store = registry.NewStore(g.cli, cfg.Registry.Prefix, cfg.Registry.DialTimeout.D(), g.log)
	g.catalog = registry.NewCatalog()
	g.ids = registry.NewIdentities()
	kctx, cancel := context.WithTimeout(ctx, cfg.Registry.DialTimeout.D()+5*time.Second)
	defer cancel()
	if g.clusterKey, err = g.store.ClusterKey(kctx, func() (string, error) { return access.NewSecret(32) }); err != nil {
		return fmt.Errorf("cluster key: %w", err)
	}
	return nil
}

// listen binds the HTTP and RTSP addresses (their servers start on them
// later) and names this node by them.
func (g *Gateway) listen(context.Context) error {
	cfg := g.cfg
	if cfg.HTTP.TLSCertFile != "" {
		var err error
		if g.certs, err = newCertFiles(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile, g.log.With("component", "http")); err != nil {
			return err
		}
	}
	httpLn, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http %s: %w", cfg.HTTP.Addr, err)
	}
	rtspLn, err := net.Listen("tcp", cfg.RTSP.Addr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("rtsp %s: %w", cfg.RTSP.Addr, err)
	}
	g.httpLn, g.rtspLn = httpLn, rtspLn
	g.parts.add("listeners", running(func() { httpLn.Close(); rtspLn.Close() }))
	g.self = registry.Node{ID: cfg.Node.ID, HTTP: cfg.Node.AdvertiseHTTP, RTSP: cfg.Node.AdvertiseRTSP, Started: time.Now().UTC()}
	if g.self.ID == "" {
		g.self.ID, _ = os.Hostname()
	}
	if g.self.HTTP == "" {
		scheme := "http://"
		if g.certs != nil {
			scheme = "https://"
		}
		g.self.HTTP = scheme + reachable(httpLn.Addr().String())
	}
	if g.self.RTSP == "" {
		g.self.RTSP = "rtsp://" + reachable(rtspLn.Addr().String())
	}
	return nil
}

// join puts this node in the cluster's node list; a change of the list
// leaves a token for the follower.
func (g *Gateway) join(ctx context.Context) error {
	g.nodes = make(chan struct{}, 1)
	m := &membership{store: g.store, self: g.self, ttl: g.cfg.Registry.LeaseTTL.D(), changed: g.nodes, unstick: g.unstick}
	if err := g.parts.start(ctx, "membership", m); err != nil {
		return err
	}
	g.members = m.m
	return nil
}

func (g *Gateway) startStatuses(ctx context.Context) error {
	var emit func(string, ingest.Status)
	if g.own != nil {
		emit = g.own.cameraState
	}
	var note func(string, ingest.Status)
	if g.cases != nil {
		db, pg := g.cases.DB()
		store, err := health.Open(ctx, db, pg)
		if err != nil {
			return fmt.Errorf("health store: %w", err)
		}
		g.history = newHealthHistory(store, g.log)
		if err := g.parts.start(ctx, "health history", g.history); err != nil {
			return err
		}
		note = g.history.note
	}
	g.statuses = newStatuses(g.members, emit, note, g.log)
	return g.parts.start(ctx, "statuses", g.statuses)
}

func (g *Gateway) startIngest(context.Context) error {
	cfg := g.cfg
	var gbOpener ingest.GBOpener
	if g.gb != nil {
		gbOpener = g.gb.opener
	}
	g.manager = ingest.NewManager(ingest.ManagerConfig{
		IdleTimeout: cfg.Ingest.IdleTimeout.D(), Timeout: cfg.Ingest.Timeout.D(),
		BackoffMin: cfg.Ingest.BackoffMin.D(), BackoffMax: cfg.Ingest.BackoffMax.D(),
		Stream:   cfg.Relay,
		Logger:   g.log,
		OnState:  g.statuses.publish,
		GBOpener: gbOpener,
	})
	g.parts.add("ingest", running(g.manager.Close)) // a GB channel's BYE goes out here, through the SIP stack
	return nil
}

// startRelays starts WHEP and the RTSP re-serve; one authenticator checks
// every surface (the API, WHEP, RTSP).
func (g *Gateway) startRelays(context.Context) error {
	cfg := g.cfg
	ice := make([]webrtc.ICEServer, len(cfg.WebRTC.ICEServers))
	for i, s := range cfg.WebRTC.ICEServers {
		ice[i] = webrtc.ICEServer(s)
	}
	var err error
	g.whep, err = webrtc.NewWHEP(webrtc.WebRTCConfig{
		UDPAddr: cfg.WebRTC.UDPAddr, TCPAddr: cfg.WebRTC.TCPAddr, PublicIPs: cfg.WebRTC.PublicIPs,
		ICEServers: ice, MaxSessions: cfg.WebRTC.MaxSessions, DisableGSO: !cfg.WebRTC.UDPGSO, ReadyTimeout: cfg.Ingest.Timeout.D() + 3*time.Second,
		CatchUp: webrtc.CatchUp{Off: !cfg.WebRTC.GOPCache, Rate: cfg.WebRTC.CatchUpRate, Max: cfg.WebRTC.CatchUpMax.D()},
		Logger:  g.log,
	}, g.manager)
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	g.parts.add("webrtc", running(g.whep.Close))
	g.auth = authn.New(authn.Config{AdminToken: cfg.Auth.AdminToken, ClusterKey: []byte(g.clusterKey),
		TokenMaxTTL: cfg.Auth.TokenMaxTTL.D(), Logger: g.log}, g.ids, &g.grids, g.catalog)
	g.rtsp, err = rtspserve.NewRTSPServer(rtspserve.RTSPConfig{Listener: g.rtspLn, Logger: g.log,
		Authorize: func(user, pass, addr, camera string) error {
			_, err := g.auth.Video(user, pass, addr, camera)
			if errors.Is(err, authn.ErrHidden) {
				return fmt.Errorf("%w: %w", relay.ErrUnknownCamera, err)
			}
			return err
		}}, g.manager)
	if err != nil {
		return err
	}
	g.parts.add("rtsp", running(g.rtsp.Close))
	return nil
}

func (g *Gateway) startFollower(ctx context.Context) error {
	g.fol = newFollower(followerDeps{Pulls: g.manager, Recorders: g.rec, Catalog: g.catalog, Store: g.store, Members: g.members,
		Nodes: g.nodes, NodeAuth: url.UserPassword(authn.NodeUser, g.clusterKey), ReadyWithin: g.cfg.Registry.DialTimeout.D(),
		Unstick: g.unstick, Log: g.log})
	return g.parts.start(ctx, "follower", g.fol)
}

// startHealth probes, on a schedule, the cameras this node owns that
// nobody pulls (health.interval 0: none). A finding is the camera's status
// here and, through the statuses, on every node; a camera found down (or
// back) raises offline as a pulled camera does, for the wall and the
// repair loop.
func (g *Gateway) startHealth(ctx context.Context) error {
	h := g.cfg.Health
	if h.Interval.D() == 0 {
		return nil
	}
	targets := func() []ingest.ProbeTarget {
		all := g.manager.ProbeTargets()
		out := all[:0]
		for _, tg := range all {
			if own, _ := owns(g.members, tg.ID); own {
				out = append(out, tg)
			}
		}
		return out
	}
	found := func(id string, p ingest.Probe) {
		before, _ := g.manager.Status(id)
		if !g.manager.SetProbe(id, p) {
			return
		}
		st, err := g.manager.Status(id)
		switch {
		case err != nil:
		case st.State == ingest.StateOffline || before.State == ingest.StateOffline:
			// Down, or back from down: an outage the wall and the repair
			// loop follow as for a pulled camera.
			g.statuses.publish(id, ingest.Main, st.Status)
		default:
			g.statuses.store(id, st.Status) // first found online: no event
		}
		g.log.Info("camera probed", "camera", id, "online", p.Online, "reason", p.Reason, "detail", p.Detail)
	}
	pr := ingest.NewProber(ingest.ProberConfig{Interval: h.Interval.D(), Concurrency: h.Concurrency, Timeout: h.Timeout.D(), Logger: g.log},
		targets, found)
	return g.parts.start(ctx, "health", pr)
}

// startWatches follows the registry's identities and grids, and the bus
// for the recorders.
func (g *Gateway) startWatches(ctx context.Context) error {
	if err := g.parts.start(ctx, "identities", newLoop(func(ctx context.Context) { g.store.WatchIdentities(ctx, g.ids) }, g.unstick)); err != nil {
		return err
	}
	if err := g.parts.start(ctx, "grids", newLoop(func(ctx context.Context) {
		g.store.WatchGrids(ctx, func(set registry.GridSet, cells []grid.Cell) { g.grids.Set(set.Version, cells) })
	}, g.unstick)); err != nil {
		return err
	}
	if g.rec == nil {
		return nil
	}
	return g.parts.start(ctx, "recording follower", &recordingFollower{bus: g.bus, rec: g.rec, events: g.events, catalog: g.catalog,
		log: g.log.With("component", "recording")})
}

// startAPI serves the API and the web UI on the HTTP listener (HTTPS only
// with a certificate: HSTS, Secure cookies); RTSP and WebRTC are not
// affected.
func (g *Gateway) startAPI(ctx context.Context) error {
	cfg := g.cfg
	srv := api.New(api.Config{MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		MaxImportBytes: cfg.HTTP.MaxImportBytes, NodeID: g.self.ID, Web: g.web, Logger: g.log,
		SessionTTL: cfg.Auth.SessionTTL.D(), TokenDefaultTTL: cfg.Auth.TokenDefaultTTL.D(), TokenMaxTTL: cfg.Auth.TokenMaxTTL.D(),
		MaxStreams: cfg.HTTP.MaxStreams, Store: g.storeInfo(),
		MapTiles: cfg.Web.MapTiles, MapAttribution: cfg.Web.MapAttribution, TrustedProxies: cfg.HTTP.TrustedProxies, Location: g.pipe.Loc},
		api.Deps{Cameras: g.store, Catalog: g.catalog, GridStore: g.store, Grids: &g.grids, Pulls: g.manager, WHEP: g.whep,
			Sync: g.fol, Cluster: &cluster{members: g.members, store: g.store}, Cases: g.cases, Events: g.events, Intake: g.pipe, Places: g,
			Identities: g.ids, IdentityStore: g.store, Auth: g.auth, Layouts: g.store, Ready: g.ready, Outbox: g.outboxOrNil(), Recordings: g.recordingsOrNil(), GB: g.gbOrNil(), Cascade: g.upstreamsOrNil(), Health: g.healthOrNil()})
	g.api = srv
	if err := g.parts.start(ctx, "api", newLoop(func(ctx context.Context) { srv.Run(ctx, 2*time.Second) }, nil)); err != nil {
		return err
	}
	// Slow or idle clients are let go; the event stream lifts its own
	// deadlines. WriteTimeout leaves room for a WHEP answer that waits for
	// an on-demand camera.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: min(10*time.Second, cfg.HTTP.ReadTimeout.D()),
		ReadTimeout: cfg.HTTP.ReadTimeout.D(), WriteTimeout: cfg.HTTP.WriteTimeout.D(), IdleTimeout: cfg.HTTP.IdleTimeout.D(),
		MaxHeaderBytes: 256 << 10, ErrorLog: slog.NewLogLogger(g.log.With("component", "http").Handler(), slog.LevelInfo)}
	if g.certs != nil {
		g.https = true
		hs.TLSConfig = g.certs.tlsConfig()
	}
	return g.parts.start(ctx, "http", &httpServer{srv: hs, ln: g.httpLn, tls: g.certs != nil, log: g.log})
}

// startPprof serves Go's profiling endpoints on their own listener, so they
// are never exposed on the API port by accident.
func (g *Gateway) startPprof(ctx context.Context) error {
	addr := g.cfg.Debug.PprofAddr
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug.pprof_addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return g.parts.start(ctx, "pprof", &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, log: g.log})
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

func (g *Gateway) healthOrNil() api.Health {
	if g.history == nil {
		return nil
	}
	return g.history.store
}

// healthStore is the health history's store (nil without a case store).
func (g *Gateway) healthStore() *health.Store {
	if g.history == nil {
		return nil
	}
	return g.history.store
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

// httpServer serves HTTP (or HTTPS) on a bound listener until Close,
// which lets requests in flight finish for up to 5 s.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
	tls bool
	log *slog.Logger
	g   group
}

func (h *httpServer) Start(ctx context.Context) error {
	h.g.begin(ctx)
	h.g.goRun(func(context.Context) {
		var err error
		if h.tls {
			err = h.srv.ServeTLS(h.ln, "", "")
		} else {
			err = h.srv.Serve(h.ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server", "addr", h.ln.Addr().String(), "error", err)
		}
	})
	return nil
}

func (h *httpServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
	_ = h.srv.Close() // what did not finish in time
	h.g.stop(nil)
}
