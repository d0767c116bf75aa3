// Package api is the gateway's HTTP surface: REST API, WHEP, web UI,
// /metrics and /healthz, on one gin engine.
package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sharpeyes/cases"
	"sharpeyes/ingest"
	"sharpeyes/registry"
	"sharpeyes/relay"
)

// CameraStore is what the API needs to write cameras.
type CameraStore interface {
	CreateCamera(ctx context.Context, c registry.Camera) (registry.Camera, error)
	UpdateCamera(ctx context.Context, id string, change func(*registry.Camera) error) (registry.Camera, error)
	DeleteCamera(ctx context.Context, id string) (int64, error)
	ImportCameras(ctx context.Context, cams []registry.Camera, upsert bool) (created, updated int, err error)
}

// Catalog is where the API reads cameras: the registry's in-memory mirror.
type Catalog interface {
	Get(id string) (registry.Camera, bool)
	All() []registry.Camera
	Near(lat, lon, radius float64) []registry.NearCamera
	Ready() <-chan struct{}
}

// Pulls is what the API needs of ingest.
type Pulls interface {
	Status(id string) (ingest.CameraStatus, error)
	Pulls() []ingest.PullStat
}

// WHEPServer is what the API needs of the WebRTC side.
type WHEPServer interface {
	Offer(ctx context.Context, cameraID, variant, offer string) (id, answer string, err error)
	Delete(id string) error
	Sessions(cameraID string) int
	ICEServers() []relay.ICEServer
	SendStats() (calls, packets uint64)
	Retransmits() uint64
}

// CameraSync applies the API's own camera writes to the local pulls at once,
// so a viewer can ask for a camera the moment it is created; the registry
// watch brings the same change (and everyone else's) moments later.
type CameraSync interface {
	PutCamera(registry.Camera)
	DeleteCamera(id string, rev int64)
}

// Cluster is what the API needs to know about the other gateway nodes.
type Cluster interface {
	Self() registry.Node
	Owner(cameraID string) registry.Node
	Nodes() []registry.Node
	RemoteStatus(ctx context.Context, cameraID string) (registry.CameraStatus, error)
}

// alone is the cluster of a gateway with no peers.
type alone struct{ self registry.Node }

func (a alone) Self() registry.Node        { return a.self }
func (a alone) Owner(string) registry.Node { return a.self }
func (a alone) Nodes() []registry.Node     { return []registry.Node{a.self} }
func (a alone) RemoteStatus(context.Context, string) (registry.CameraStatus, error) {
	return registry.CameraStatus{}, registry.ErrNotFound
}

type noSync struct{}

func (noSync) PutCamera(registry.Camera)  {}
func (noSync) DeleteCamera(string, int64) {}

// Config configures the API.
type Config struct {
	AdminToken   string
	MaxBodyBytes int64
	// MaxImportBytes limits bulk imports (grids, cameras) instead.
	MaxImportBytes int64
	NodeID         string
	Web            fs.FS // the browser UI; nil serves none
	Sync           CameraSync
	Cluster        Cluster // nil: a single node
	Pipeline       *cases.Pipeline
	Places         EventPlaces
	Logger         *slog.Logger
}

// Server holds the handlers' collaborators.
type Server struct {
	cfg       Config
	store     CameraStore
	catalog   Catalog
	gridStore GridStore
	grids     Grids
	sync      CameraSync
	cluster   Cluster
	pulls     Pulls
	whep      WHEPServer
	log       *slog.Logger
	reg       *prometheus.Registry
}

// New builds the API server.
func New(cfg Config, store CameraStore, catalog Catalog, gridStore GridStore, grids Grids, pulls Pulls, whep WHEPServer) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxImportBytes < cfg.MaxBodyBytes {
		cfg.MaxImportBytes = max(32<<20, cfg.MaxBodyBytes)
	}
	s := &Server{cfg: cfg, store: store, catalog: catalog, gridStore: gridStore, grids: grids, pulls: pulls, whep: whep,
		sync: cfg.Sync, log: cfg.Logger.With("component", "api")}
	if s.sync == nil {
		s.sync = noSync{}
	}
	s.cluster = cfg.Cluster
	if s.cluster == nil {
		s.cluster = alone{registry.Node{ID: cfg.NodeID}}
	}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(&collector{pulls: pulls, whep: whep})
	return s
}

// Handler returns the gin engine with every route.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), s.logRequests, s.limitBody)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/api/") {
			c.JSON(http.StatusNotFound, apiError{Error: "no such route"})
			return
		}
		c.Status(http.StatusNotFound)
	})
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, apiError{Error: "method not allowed"})
	})

	r.GET("/healthz", s.healthz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))

	v1 := r.Group("/api/v1", s.waitCatalog)
	// Reads and WHEP are open until access control lands; writes need the token.
	v1.GET("/cameras", s.listCameras)
	v1.GET("/cameras/:id", s.getCamera)
	v1.GET("/cameras/:id/status", s.cameraStatus)
	v1.GET("/openapi.yaml", s.openapi)
	v1.GET("/nodes", s.listNodes)
	if cfg := s.cfg; cfg.Pipeline != nil {
		v1.GET("/incidents", s.listIncidents)
		v1.GET("/incidents/:id", s.getIncident)
		v1.GET("/cases", s.listCases)
		v1.GET("/cases/:id", s.getCase)
		v1.GET("/cases/:id/audit", s.caseAudit)
		v1.GET("/dashboard", s.dashboard)
		v1.GET("/stream", s.stream)
	}
	v1.GET("/grids", s.listGrids)
	v1.GET("/grids/:code", s.getGrid)
	v1.GET("/grids/:code/cameras", s.gridCameras)

	w := v1.Group("", s.requireToken)
	w.POST("/cameras", s.createCamera)
	w.POST("/cameras/import", s.importCameras)
	w.PUT("/cameras/:id", s.putCamera)
	w.PATCH("/cameras/:id", s.patchCamera)
	w.DELETE("/cameras/:id", s.deleteCamera)
	w.POST("/grids/import", s.importGrids)
	if s.cfg.Pipeline != nil {
		w.POST("/events", s.postEvents)
		w.POST("/events/onvif", s.postDeviceEvent("onvif"))
		w.POST("/events/isapi", s.postDeviceEvent("isapi"))
		w.POST("/events/gb28181", s.postDeviceEvent("gb28181"))
		w.POST("/cases", s.createCase)
		w.POST("/cases/:id/:action", s.caseAction)
	}

	whep := v1.Group("/whep", cors)
	whep.OPTIONS("/:id", s.whepOptions)
	whep.POST("/:id", s.whepOffer)
	whep.OPTIONS("/:id/:session", s.whepOptions)
	whep.PATCH("/:id/:session", s.whepPatch)
	whep.DELETE("/:id/:session", s.whepDelete)

	if s.cfg.Pipeline != nil {
		o := r.Group("/open311/v2", s.waitCatalog)
		o.GET("/:file", s.open311)
		o.POST("/:file", s.open311)
		o.GET("/requests/:file", s.open311One)
	}

	if s.cfg.Web != nil {
		r.GET("/", gin.WrapH(http.FileServerFS(s.cfg.Web)))
		r.GET("/assets/*file", gin.WrapH(http.FileServerFS(s.cfg.Web)))
	}
	return r
}

// waitCatalog holds requests made while the gateway starts until the
// camera catalog has its first listing (503 after 10 s).
func (s *Server) waitCatalog(c *gin.Context) {
	select {
	case <-s.catalog.Ready():
		c.Next()
	case <-time.After(10 * time.Second):
		writeError(c, fmt.Errorf("%w: camera list not loaded yet", registry.ErrUnavailable))
	case <-c.Request.Context().Done():
		c.Abort()
	}
}

func (s *Server) listNodes(c *gin.Context) {
	nodes := s.cluster.Nodes()
	if nodes == nil {
		nodes = []registry.Node{}
	}
	c.JSON(http.StatusOK, gin.H{"items": nodes, "next_cursor": "", "self": s.cluster.Self().ID})
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "node": s.cfg.NodeID})
}

// requireToken checks Authorization: Bearer TOKEN in constant time.
func (s *Server) requireToken(c *gin.Context) {
	h := c.GetHeader("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || s.cfg.AdminToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="sharpeyes"`)
		writeError(c, ErrUnauthorized)
		return
	}
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	limit := s.cfg.MaxBodyBytes
	if strings.HasSuffix(c.Request.URL.Path, "/import") {
		limit = s.cfg.MaxImportBytes
	}
	if c.Request.ContentLength > limit {
		writeError(c, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, limit))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

// logRequests logs method, path and status; query strings are left out
// since they are not needed and could carry secrets.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	lvl := slog.LevelDebug
	if c.Writer.Status() >= 500 {
		lvl = slog.LevelWarn
	}
	s.log.Log(c.Request.Context(), lvl, "request", "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", c.Writer.Status(), "took", time.Since(start).Round(time.Microsecond))
}
