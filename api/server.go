// Package api is the gateway's HTTP surface: REST API, WHEP, web UI,
// Open311, /metrics and /healthz, on one gin engine, with every route's
// policy in one place (Handler). Who a request is comes from the shared
// authn.Authenticator; what it may see is scope.go; every answer carries
// the security headers (headers.go); errors are {"error", "field"} from
// one writeError that maps sentinels to status codes (errors.go).
package api

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/events"
	"sharpeyes/ingest"
	"sharpeyes/registry"
	"sharpeyes/relay/webrtc"
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
	// IDs lists the cameras known (pulled or not).
	IDs() []string
}

// WHEPServer is what the API needs of the WebRTC side.
type WHEPServer interface {
	Offer(ctx context.Context, cameraID, variant, offer string) (id, answer string, err error)
	Delete(id string) error
	Sessions(cameraID string) int
	ICEServers() []webrtc.ICEServer
	SendStats() (calls, packets uint64)
	Retransmits() uint64
	Reaped() uint64
	SRTPSealed() (own, pion uint64)
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

// Config is the API's settings.
type Config struct {
	MaxBodyBytes int64
	// MaxImportBytes limits bulk imports (grids, cameras) instead.
	MaxImportBytes int64
	NodeID         string
	Web            fs.FS // the browser UI; nil serves none
	Logger         *slog.Logger
	// SessionTTL is how long a login lasts (default 12 h, a shift).
	SessionTTL time.Duration
	// TokenDefaultTTL is the life of an API token issued without
	// expires_in; TokenMaxTTL the longest expires_in accepted.
	TokenDefaultTTL, TokenMaxTTL time.Duration
	// Store describes the SQL store for /readyz (driver, durability).
	Store map[string]any
	// MaxStreams bounds concurrent event-stream connections (default 256).
	MaxStreams int
	// MapTiles and MapAttribution are the map screens' tile server (XYZ
	// URL; empty: no background), given to signed-in users by /me.
	MapTiles, MapAttribution string
	// Location is the street's time zone: days of reports and case
	// figures (default: the host's).
	Location *time.Location
	// TrustedProxies (addresses or CIDR prefixes) are the only peers whose
	// X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies []string
}

// Deps are the API's collaborators, each a small interface of what the
// handlers use. Cameras, Catalog, Grids, Pulls and WHEP are required; the
// rest may be nil (no grid imports, no events and cases, a single node,
// only the admin token, no readiness check).
type Deps struct {
	Cameras   CameraStore
	Catalog   Catalog
	GridStore GridStore
	Grids     Grids
	Pulls     Pulls
	WHEP      WHEPServer
	Sync      CameraSync
	Cluster   Cluster
	// Cases, Events and Intake come together: the case store, the event
	// store and the intake that records an event (nil: no events and
	// cases).
	Cases         CaseStore
	Events        EventStore
	Intake        Intake
	Places        EventPlaces
	Identities    Identities
	IdentityStore IdentityStore
	// Auth resolves who each request is (required).
	Auth Authenticator
	// Recordings plays and lists footage and evidence clips (nil: none).
	Recordings Recordings
	// GB is the GB/T 28181 side: devices and PTZ (nil: off).
	GB GB
	// Cascade is the superior platforms (nil: GB/T 28181 off).
	Cascade Cascade
	Layouts LayoutStore
	// Health is the cameras' health history: the online rate (nil: none).
	Health Health
	// Outbox is the node's follower of the outbox (events.Bus): the event
	// streams read it, not the store (nil: no events).
	Outbox Outbox
	// Ready tells whether the registry and the SQL store answer (/readyz).
	Ready func(ctx context.Context) error
}

// Outbox is what the event stream and notifications read: the latest
// outbox messages, and a channel closed when more arrive.
type Outbox interface {
	Messages(ctx context.Context, after int64, limit int) ([]events.Message, error)
	LastSeq(ctx context.Context) (int64, error)
	Changed() <-chan struct{}
}

// Server holds the handlers' collaborators.
type Server struct {
	cfg          Config
	store        CameraStore
	catalog      Catalog
	gridStore    GridStore
	grids        Grids
	sync         CameraSync
	cluster      Cluster
	pulls        Pulls
	whep         WHEPServer
	cases        CaseStore
	events       EventStore
	intake       Intake
	outbox       Outbox
	caseAt       caseMemo // cases as read for an outbox message, shared by the streams
	layouts      LayoutStore
	places       EventPlaces
	ready        func(ctx context.Context) error
	log          *slog.Logger
	ids          Identities
	idStore      IdentityStore
	auth         Authenticator
	rec          Recordings
	gb           GB
	ups          Cascade
	health       Health
	proxies      []netip.Prefix
	csps         cspReports
	sessions     sync.Map     // WHEP session id → sessionOwner
	looks        looks        // recent clip downloads, logged once each
	exports      exportSlots  // MP4 exports under way
	streams      atomic.Int64 // open event-stream connections
	sessionCount atomic.Int64
	policies     []Policy
}

// New builds the API server.
func New(cfg Config, d Deps) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxImportBytes < cfg.MaxBodyBytes {
		cfg.MaxImportBytes = max(32<<20, cfg.MaxBodyBytes)
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	s := &Server{cfg: cfg, store: d.Cameras, catalog: d.Catalog, gridStore: d.GridStore, grids: d.Grids, pulls: d.Pulls, whep: d.WHEP,
		sync: d.Sync, cluster: d.Cluster, cases: d.Cases, events: d.Events, intake: d.Intake, outbox: d.Outbox, layouts: d.Layouts, places: d.Places, ready: d.Ready,
		log: cfg.Logger.With("component", "api"), ids: d.Identities, idStore: d.IdentityStore, auth: d.Auth, rec: d.Recordings, gb: d.GB, ups: d.Cascade, health: d.Health,
		proxies: parseProxies(cfg.TrustedProxies)}
	if s.sync == nil {
		s.sync = noSync{}
	}
	if s.cluster == nil {
		s.cluster = alone{registry.Node{ID: cfg.NodeID}}
	}
	return s
}

// Handler returns the gin engine with every route.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Addresses are the peer's own unless it is a configured proxy: a
	// forged X-Forwarded-For must not dodge the login throttle or disguise
	// refusals in the log.
	_ = r.SetTrustedProxies(s.cfg.TrustedProxies)
	if len(s.cfg.TrustedProxies) == 0 {
		_ = r.SetTrustedProxies(nil)
	}
	s.policies = nil
	r.Use(gin.Recovery(), s.secureHeaders, s.logRequests, s.limitBody)
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
	r.GET("/readyz", s.readyz)
	// Browsers send what the page policy blocked, with no credentials.
	r.POST(cspReportPath, s.cspReport)
	s.policies = append(s.policies, Policy{"GET", "/healthz", []access.Scope{public}}, Policy{"GET", "/readyz", []access.Scope{public}},
		Policy{"POST", cspReportPath, []access.Scope{public}})
	r.Use(s.authenticate)
	s.handle(r, "GET", "/metrics", scopes(access.Metrics), s.metrics)

	v1 := r.Group("/api/v1", s.waitCatalog)
	camRead, camWrite := scopes(access.CamerasRead), scopes(access.CamerasWrite)
	s.handle(v1, "POST", "/login", scopes(public), s.login)
	s.handle(v1, "POST", "/logout", scopes(anyAuth), s.logout)
	s.handle(v1, "GET", "/me", scopes(anyAuth), s.me)
	s.handle(v1, "GET", "/openapi.yaml", scopes(anyAuth), s.openapi)
	s.handle(v1, "GET", "/cameras", camRead, s.listCameras)
	s.handle(v1, "GET", "/cameras/:id", camRead, s.getCamera)
	s.handle(v1, "GET", "/cameras/:id/status", camRead, s.cameraStatus)
	s.handle(v1, "GET", "/nodes", camRead, s.listNodes)
	s.handle(v1, "POST", "/cameras", camWrite, s.createCamera)
	s.handle(v1, "POST", "/cameras/import", camWrite, s.importCameras)
	s.handle(v1, "PUT", "/cameras/:id", camWrite, s.putCamera)
	s.handle(v1, "PATCH", "/cameras/:id", camWrite, s.patchCamera)
	s.handle(v1, "DELETE", "/cameras/:id", camWrite, s.deleteCamera)
	s.handle(v1, "GET", "/grids", camRead, s.listGrids)
	s.handle(v1, "GET", "/grids/:code", camRead, s.getGrid)
	s.handle(v1, "GET", "/grids/:code/cameras", camRead, s.gridCameras)
	s.handle(v1, "POST", "/grids/import", scopes(access.GridsWrite), s.importGrids)
	if s.health != nil {
		s.handle(v1, "GET", "/health/online-rate", camRead, s.onlineRate)
	}
	if s.cases != nil {
		evRead, evWrite := scopes(access.EventsRead), scopes(access.EventsWrite)
		caseRead, caseWrite := scopes(access.CasesRead), scopes(access.CasesWrite)
		s.handle(v1, "GET", "/incidents", evRead, s.listIncidents)
		s.handle(v1, "GET", "/incidents/:id", evRead, s.getIncident)
		s.handle(v1, "GET", "/cases", caseRead, s.listCases)
		s.handle(v1, "GET", "/cases/:id", caseRead, s.getCase)
		s.handle(v1, "GET", "/cases/:id/audit", caseRead, s.caseAudit)
		s.handle(v1, "GET", "/dashboard", caseRead, s.dashboard)
		s.handle(v1, "GET", "/reports", caseRead, s.reports)
		s.handle(v1, "GET", "/notifications", caseRead, s.notifications)
		s.handle(v1, "GET", "/stream", scopes(access.EventsRead, access.CasesRead), s.stream)
		s.handle(v1, "GET", "/events", evRead, s.listEvents)
		s.handle(v1, "GET", "/media/:id", scopes(access.EventsRead, access.CasesRead), s.getMedia)
		s.handle(v1, "POST", "/events", evWrite, s.postEvents)
		s.handle(v1, "POST", "/events/onvif", evWrite, s.postDeviceEvent("onvif"))
		s.handle(v1, "POST", "/events/isapi", evWrite, s.postDeviceEvent("isapi"))
		s.handle(v1, "POST", "/events/gb28181", evWrite, s.postDeviceEvent("gb28181"))
		s.handle(v1, "POST", "/cases", caseWrite, s.createCase)
		s.handle(v1, "POST", "/cases/:id/:action", caseWrite, s.caseAction)
		s.handle(v1, "POST", "/cases/:id/attachments", caseWrite, s.postAttachments)
		s.handle(v1, "GET", "/cases/:id/attachments", caseRead, s.listAttachments)
		s.handle(v1, "GET", "/cases/:id/attachments/:att", caseRead, s.getAttachment)
	}
	if s.rec != nil && s.cases != nil {
		recRead := scopes(access.RecordingsRead)
		s.handle(v1, "GET", "/cameras/:id/recordings", recRead, s.recordings)
		s.handle(v1, "GET", "/cameras/:id/playback", scopes(access.RecordingsRead, access.RecordingsExport), s.playback)
		s.handle(v1, "GET", "/cases/:id/clips", scopes(access.CasesRead), s.caseClips)
		s.handle(v1, "POST", "/cases/:id/clips", scopes(access.RecordingsExport), s.askClip)
		s.handle(v1, "GET", "/cases/:id/clips/:clip", scopes(access.CasesRead), s.caseClip)
		s.handle(v1, "GET", "/recordings/access", scopes(access.AuditRead), s.recordingAccess)
	}
	if s.gb != nil {
		s.handle(v1, "GET", "/gb/devices", scopes(access.CamerasWrite), s.gbDevices)
		s.handle(v1, "GET", "/gb/devices/:id", scopes(access.CamerasWrite), s.gbDevice)
		s.handle(v1, "PATCH", "/gb/devices/:id", scopes(access.CamerasWrite), s.patchGBDevice)
		s.handle(v1, "POST", "/cameras/:id/ptz", scopes(access.CamerasPTZ), s.ptz)
	}
	if s.ups != nil {
		admin := scopes(access.UpstreamsWrite)
		s.handle(v1, "GET", "/gb/upstream", admin, s.streetWide, s.listUpstreams)
		s.handle(v1, "POST", "/gb/upstream", admin, s.streetWide, s.createUpstream)
		s.handle(v1, "GET", "/gb/upstream/:id", admin, s.streetWide, s.getUpstream)
		s.handle(v1, "PATCH", "/gb/upstream/:id", admin, s.streetWide, s.patchUpstream)
		s.handle(v1, "DELETE", "/gb/upstream/:id", admin, s.streetWide, s.deleteUpstream)
	}
	users := scopes(access.UsersWrite)
	s.handle(v1, "POST", "/users", users, s.createUser)
	s.handle(v1, "GET", "/users", users, s.listUsers)
	s.handle(v1, "GET", "/users/:username", scopes(anyAuth), s.getUser)
	s.handle(v1, "PATCH", "/users/:username", users, s.patchUser)
	s.handle(v1, "DELETE", "/users/:username", users, s.deleteUser)
	if s.layouts != nil {
		video := scopes(access.Video)
		s.handle(v1, "GET", "/layouts", video, s.listLayouts)
		s.handle(v1, "GET", "/layouts/:name", video, s.getLayout)
		s.handle(v1, "PUT", "/layouts/:name", video, s.putLayout)
		s.handle(v1, "DELETE", "/layouts/:name", video, s.deleteLayout)
	}
	tokens := scopes(access.TokensWrite)
	s.handle(v1, "POST", "/tokens", tokens, s.createToken)
	s.handle(v1, "GET", "/tokens", tokens, s.listTokens)
	s.handle(v1, "DELETE", "/tokens/:id", tokens, s.deleteToken)

	whep := v1.Group("/whep", cors)
	video := scopes(access.Video)
	s.handle(whep, "OPTIONS", "/:id", scopes(public), s.whepOptions)
	s.handle(whep, "POST", "/:id", video, s.whepOffer)
	s.handle(whep, "OPTIONS", "/:id/:session", scopes(public), s.whepOptions)
	s.handle(whep, "PATCH", "/:id/:session", video, s.whepPatch)
	s.handle(whep, "DELETE", "/:id/:session", video, s.whepDelete)

	if s.cases != nil {
		o := r.Group("/open311/v2", s.waitCatalog)
		o311 := scopes(access.Open311)
		s.handle(o, "GET", "/:file", o311, s.open311)
		s.handle(o, "POST", "/:file", o311, s.open311)
		s.handle(o, "GET", "/requests/:file", o311, s.open311One)
	}

	if s.cfg.Web != nil {
		// The UI's files hold no resident data: the login page must load.
		s.handle(r, "GET", "/", scopes(public), gin.WrapH(http.FileServerFS(s.cfg.Web)))
		s.handle(r, "GET", "/assets/*file", scopes(public), gin.WrapH(http.FileServerFS(s.cfg.Web)))
		// The grid worker's phone view.
		s.handle(r, "GET", "/m/", scopes(public), gin.WrapH(http.FileServerFS(s.cfg.Web)))
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

// readyz tells a load balancer whether this node can serve: the registry
// and the SQL store answer.
func (s *Server) readyz(c *gin.Context) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "node": s.cfg.NodeID, "error": err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "node": s.cfg.NodeID, "store": s.cfg.Store})
}

func scopes(ss ...access.Scope) []access.Scope { return ss }

// importRoutes are the routes whose bodies may be as large as an import.
var importRoutes = map[string]bool{"/api/v1/cameras/import": true, "/api/v1/grids/import": true}

// alarmRoute may bring a picture (an ISAPI multipart alarm).
const alarmRoute = "/api/v1/events/isapi"

// limitBody bounds the body by the matched route (an unknown route gets
// the small limit) before anyone reads it.
func (s *Server) limitBody(c *gin.Context) {
	limit := s.cfg.MaxBodyBytes
	switch {
	case importRoutes[c.FullPath()], c.FullPath() == attachmentsRoute:
		limit = s.cfg.MaxImportBytes
	case c.FullPath() == alarmRoute:
		limit = max(limit, 2*events.MaxPicture)
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
