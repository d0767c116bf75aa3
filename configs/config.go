// Package configs holds the documented default configuration and loads,
// overrides and validates the gateway's config.
package configs

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"sharpeyes/relay"
)

// Default is the documented default config file.
//
//go:embed sharpeyes.yaml
var Default []byte

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// knownKinds are the event kinds a policy may name (events.Kinds).
var knownKinds = map[string]bool{"offline": true, "video_loss": true, "tamper": true, "motion": true, "intrusion": true,
	"line_cross": true, "loiter": true, "crowd": true, "fire_smoke": true, "object_left": true, "io": true, "storage_fault": true,
	"storage_full": true, "phone_alarm": true, "sms_alarm": true, "gps_alarm": true, "manual_alarm": true, "object_removed": true,
	"retrograde": true, "flow_count": true, "fast_motion": true, "high_temperature": true, "low_temperature": true, "fan_fault": true,
	"device_alarm": true, "video_alarm": true, "fault": true, "alarm": true}

// KnownKinds lists the event kinds a policy may name (a test holds them
// to events.Kinds; configs imports no domain package).
func KnownKinds() map[string]bool { return maps.Clone(knownKinds) }

// EnvPrefix starts every environment override.
const EnvPrefix = "SHARPEYES_"

// Duration is a time.Duration written as "5s" in YAML.
type Duration time.Duration

// UnmarshalYAML implements yaml.BytesUnmarshaler.
func (d *Duration) UnmarshalYAML(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"'`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 5s or 500ms", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ICEServer is a STUN or TURN server, as the relay offers it to viewers
// (the gateway hands it to relay/webrtc as webrtc.ICEServer: configs
// itself needs no WebRTC stack to read YAML).
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"credential" json:"credential,omitempty"`
}

// KindPolicy says whether an incident kind opens a case, and how (the
// gateway hands it to cases as cases.KindPolicy).
type KindPolicy struct {
	OpensCase  bool     `yaml:"opens_case"`
	Category   string   `yaml:"category"`
	Priority   int      `yaml:"priority"`
	LimitDays  int      `yaml:"limit_days"`
	NightOnly  bool     `yaml:"night_only"`
	After      Duration `yaml:"after"`
	DispatchTo string   `yaml:"dispatch_to"`
	OnReturn   string   `yaml:"on_return"`
}

// cellRoles are the grid cells' roles a policy may dispatch to (as
// grid.RoleNames; a test keeps them equal).
var cellRoles = map[string]bool{"chief": true, "grid_worker": true, "police": true, "law_enforcement": true, "property": true,
	"legal": true, "discipline": true, "maintainer": true}

// RecordingConfig is recording.*: where footage goes, how it is cut and
// kept, and the defaults of cameras' recording settings.
type RecordingConfig struct {
	Path             string   `yaml:"path"`
	SegmentSeconds   int      `yaml:"segment_seconds"`
	PartSeconds      Duration `yaml:"part_duration"`
	MaxBytes         int64    `yaml:"max_bytes"`
	MinFreeBytes     int64    `yaml:"min_free_bytes"`
	EvidenceHoldDays int      `yaml:"evidence_hold_days"`
	Mode             string   `yaml:"mode"`
	Stream           string   `yaml:"stream"`
	RetainDays       int      `yaml:"retain_days"`
	PreSeconds       int      `yaml:"pre_seconds"`
	PostSeconds      int      `yaml:"post_seconds"`
}

// GB28181Config is gb28181.*: the SIP server GB/T 28181 devices register
// with, and the port their media comes to.
type GB28181Config struct {
	Enabled  bool   `yaml:"enabled"`
	SIPAddr  string `yaml:"sip_addr"`
	ServerID string `yaml:"server_id"`
	Domain   string `yaml:"domain"`
	Password string `yaml:"password"`
	// MediaAddr is one UDP and one TCP port for every device's RTP;
	// MediaIP the address devices are told to send it to (empty: the
	// address of the interface that reaches the device).
	MediaAddr string `yaml:"media_addr"`
	MediaIP   string `yaml:"media_ip"`
	// KeepaliveTimeout marks a device offline without a keepalive (three
	// of its intervals).
	KeepaliveTimeout Duration `yaml:"keepalive_timeout"`
	// MaxChannels bounds the cameras one device may have, whatever its
	// catalogs say.
	MaxChannels int `yaml:"max_channels"`
	// Upstream are superior platforms the street registers with (级联),
	// put in the registry at start (where the API manages them too).
	Upstream []Upstream `yaml:"upstream"`
}

// Upstream is one superior platform in gb28181.upstream.
type Upstream struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	ServerID  string `yaml:"server_id"`
	Domain    string `yaml:"domain"`
	Address   string `yaml:"address"`
	Password  string `yaml:"password"`
	LocalID   string `yaml:"local_id"`
	Transport string `yaml:"transport"`
	Share     struct {
		Grids   []string `yaml:"grids"`
		Cameras []string `yaml:"cameras"`
	} `yaml:"share"`
	// Enabled defaults to true: a platform written down is registered with.
	Enabled    *bool `yaml:"enabled"`
	ExpiresS   int   `yaml:"expires_s"`
	KeepaliveS int   `yaml:"keepalive_s"`
}

// Config is the gateway's whole configuration.
type Config struct {
	DataDir  string `yaml:"data_dir"`
	LogLevel string `yaml:"log_level"`
	HTTP     struct {
		Addr           string   `yaml:"addr"`
		MaxBodyBytes   int64    `yaml:"max_body_bytes"`
		MaxImportBytes int64    `yaml:"max_import_bytes"`
		ReadTimeout    Duration `yaml:"read_timeout"`
		WriteTimeout   Duration `yaml:"write_timeout"`
		IdleTimeout    Duration `yaml:"idle_timeout"`
		MaxStreams     int      `yaml:"max_streams"`
		TLSCertFile    string   `yaml:"tls_cert_file"`
		TLSKeyFile     string   `yaml:"tls_key_file"`
		TrustedProxies []string `yaml:"trusted_proxies"`
	} `yaml:"http"`
	RTSP struct {
		Addr string `yaml:"addr"`
	} `yaml:"rtsp"`
	WebRTC struct {
		UDPAddr     string      `yaml:"udp_addr"`
		TCPAddr     string      `yaml:"tcp_addr"`
		PublicIPs   []string    `yaml:"public_ips"`
		ICEServers  []ICEServer `yaml:"ice_servers"`
		MaxSessions int         `yaml:"max_sessions"`
		UDPGSO      bool        `yaml:"udp_gso"`
		GOPCache    bool        `yaml:"gop_cache"`
		CatchUpRate float64     `yaml:"catchup_rate"`
		CatchUpMax  Duration    `yaml:"catchup_max"`
	} `yaml:"webrtc"`
	Ingest struct {
		Timeout     Duration `yaml:"timeout"`
		IdleTimeout Duration `yaml:"idle_timeout"`
		BackoffMin  Duration `yaml:"backoff_min"`
		BackoffMax  Duration `yaml:"backoff_max"`
	} `yaml:"ingest"`
	// Health probes the cameras nobody pulls (ingest.Prober).
	Health struct {
		Interval    Duration `yaml:"interval"`
		Concurrency int      `yaml:"concurrency"`
		Timeout     Duration `yaml:"timeout"`
		// FaultAfter: an outage this long opens a device_fault case;
		// BackAfter: a camera back this long has its case told.
		FaultAfter Duration `yaml:"fault_after"`
		BackAfter  Duration `yaml:"back_after"`
	} `yaml:"health"`
	// Events tunes how events fold into incidents (events.Rules).
	Events struct {
		MinOutage   Duration `yaml:"min_outage"`
		MergeWindow Duration `yaml:"merge_window"`
		SiteWindow  Duration `yaml:"site_window"`
	} `yaml:"events"`
	Relay relay.StreamConfig `yaml:"relay"`
	Node  struct {
		ID            string `yaml:"id"`
		AdvertiseHTTP string `yaml:"advertise_http"`
		AdvertiseRTSP string `yaml:"advertise_rtsp"`
	} `yaml:"node"`
	Registry struct {
		Endpoints   []string `yaml:"endpoints"`
		Prefix      string   `yaml:"prefix"`
		DialTimeout Duration `yaml:"dial_timeout"`
		LeaseTTL    Duration `yaml:"lease_ttl"`
	} `yaml:"registry"`
	Cases struct {
		DB            string                `yaml:"db"`
		DSN           string                `yaml:"dsn"`
		Timezone      string                `yaml:"timezone"`
		Holidays      []string              `yaml:"holidays"`
		Workdays      []string              `yaml:"workdays"`
		WebhookURL    string                `yaml:"webhook_url"`
		WebhookSecret string                `yaml:"webhook_secret"`
		Policy        map[string]KindPolicy `yaml:"policy"`
	} `yaml:"cases"`
	Auth struct {
		AdminToken      string   `yaml:"admin_token"`
		SessionTTL      Duration `yaml:"session_ttl"`
		TokenDefaultTTL Duration `yaml:"token_default_ttl"`
		TokenMaxTTL     Duration `yaml:"token_max_ttl"`
	} `yaml:"auth"`
	Recording RecordingConfig `yaml:"recording"`
	GB28181   GB28181Config   `yaml:"gb28181"`
	Web       struct {
		// MapTiles is an XYZ tile URL for the map screens
		// (https://tiles.example/{z}/{x}/{y}.png); empty draws grids and
		// cameras on a blank background.
		MapTiles       string `yaml:"map_tiles"`
		MapAttribution string `yaml:"map_attribution"`
	} `yaml:"web"`
	Debug struct {
		PprofAddr string `yaml:"pprof_addr"`
	} `yaml:"debug"`
}

// Load reads the defaults, then file (if not empty), then the environment
// (environ as from os.Environ), and validates the result.
func Load(file string, environ []string) (*Config, error) {
	c := &Config{}
	if err := decode(Default, c); err != nil {
		return nil, fmt.Errorf("built-in defaults: %w", err)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decode(b, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", file, err)
		}
	}
	if err := applyEnv(c, environ); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decode(b []byte, c *Config) error {
	if err := yaml.UnmarshalWithOptions(b, c, yaml.DisallowUnknownField()); err != nil {
		return errors.New(yaml.FormatError(err, false, true))
	}
	return nil
}

// field is a leaf config key with its place in the struct.
type field struct {
	key string
	v   reflect.Value
}

func leaves(v reflect.Value, prefix string, out *[]field) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(Duration(0)) {
			leaves(fv, key, out)
			continue
		}
		*out = append(*out, field{key, fv})
	}
}

// Keys lists every config key, e.g. "http.addr".
func Keys() []string {
	var fs []field
	leaves(reflect.ValueOf(&Config{}).Elem(), "", &fs)
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func applyEnv(c *Config, environ []string) error {
	var fs []field
	leaves(reflect.ValueOf(c).Elem(), "", &fs)
	byEnv := map[string]field{}
	for _, f := range fs {
		byEnv[EnvName(f.key)] = f
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, known := byEnv[name]
		if !known {
			return fmt.Errorf("environment variable %s does not name a config key", name)
		}
		if err := setValue(f.v, val); err != nil {
			return fmt.Errorf("%s ('%s'): %w", name, f.key, err)
		}
	}
	return nil
}

func setValue(v reflect.Value, s string) error {
	switch {
	case v.Type() == reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 5s", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	case v.Kind() == reflect.Slice:
		p := reflect.New(v.Type())
		if err := json.Unmarshal([]byte(s), p.Interface()); err != nil {
			return fmt.Errorf("want a JSON array: %w", err)
		}
		v.Set(p.Elem())
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validate checks every value and names the key at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("'%s' %s", key, fmt.Sprintf(format, a...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	for key, addr := range map[string]string{"http.addr": c.HTTP.Addr, "rtsp.addr": c.RTSP.Addr, "webrtc.udp_addr": c.WebRTC.UDPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "must be host:port, not %q", addr)
		}
	}
	if c.WebRTC.TCPAddr != "" {
		if _, _, err := net.SplitHostPort(c.WebRTC.TCPAddr); err != nil {
			bad("webrtc.tcp_addr", "must be host:port or empty, not %q", c.WebRTC.TCPAddr)
		}
	}
	for _, ip := range c.WebRTC.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad("webrtc.public_ips", "must list IP addresses, not %q", ip)
		}
	}
	for i, s := range c.WebRTC.ICEServers {
		if len(s.URLs) == 0 {
			bad(fmt.Sprintf("webrtc.ice_servers[%d].urls", i), "must not be empty")
		}
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				bad(fmt.Sprintf("webrtc.ice_servers[%d].urls", i), "must be stun:, turn: or turns: URLs, not %q", u)
			}
		}
	}
	if c.WebRTC.MaxSessions < 0 {
		bad("webrtc.max_sessions", "must not be negative")
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024")
	}
	for key, d := range map[string]Duration{"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout} {
		if d.D() < time.Second {
			bad(key, "must be at least 1s")
		}
	}
	if c.HTTP.MaxStreams < 1 {
		bad("http.max_streams", "must be at least 1")
	}
	if c.Relay.LagSeconds <= 0 || c.Relay.LagSeconds > 60 {
		bad("relay.lag_seconds", "must be above 0 and at most 60")
	}
	if c.WebRTC.CatchUpRate <= 1 || c.WebRTC.CatchUpRate > 50 {
		bad("webrtc.catchup_rate", "must be above 1 (faster than live) and at most 50")
	}
	if d := c.WebRTC.CatchUpMax.D(); d < 100*time.Millisecond || d > 10*time.Second {
		bad("webrtc.catchup_max", "must be between 100ms and 10s")
	}
	if c.HTTP.MaxImportBytes < c.HTTP.MaxBodyBytes {
		bad("http.max_import_bytes", "must be at least 'http.max_body_bytes'")
	}
	for key, d := range map[string]Duration{"ingest.timeout": c.Ingest.Timeout, "ingest.idle_timeout": c.Ingest.IdleTimeout,
		"ingest.backoff_min": c.Ingest.BackoffMin, "ingest.backoff_max": c.Ingest.BackoffMax, "registry.dial_timeout": c.Registry.DialTimeout,
		"registry.lease_ttl": c.Registry.LeaseTTL} {
		if d <= 0 {
			bad(key, "must be greater than zero")
		}
	}
	if iv := c.Health.Interval.D(); iv != 0 && iv < time.Second {
		bad("health.interval", "must be 0 (probes off) or at least 1s")
	}
	if c.Health.Concurrency < 1 || c.Health.Concurrency > 256 {
		bad("health.concurrency", "must be 1 to 256")
	}
	if t := c.Health.Timeout.D(); t < 100*time.Millisecond || t > time.Minute {
		bad("health.timeout", "must be 100ms to 1m")
	}
	if d := c.Health.FaultAfter.D(); d < 0 || d > 7*24*time.Hour {
		bad("health.fault_after", "must be 0 (a case as soon as the outage counts) to 168h")
	}
	if d := c.Health.BackAfter.D(); d < time.Second || d > 24*time.Hour {
		bad("health.back_after", "must be 1s to 24h")
	}
	if d := c.Events.MinOutage.D(); d < 0 || d > time.Hour {
		bad("events.min_outage", "must be 0 to 1h")
	}
	if d := c.Events.MergeWindow.D(); d < time.Second || d > 24*time.Hour {
		bad("events.merge_window", "must be 1s to 24h")
	}
	if d := c.Events.SiteWindow.D(); d < 0 || d > time.Hour {
		bad("events.site_window", "must be 0 to 1h")
	}
	if c.Ingest.BackoffMax < c.Ingest.BackoffMin {
		bad("ingest.backoff_max", "must not be less than 'ingest.backoff_min'")
	}
	if n := c.Relay.RingSize; n < 64 || n&(n-1) != 0 {
		bad("relay.ring_size", "must be a power of two, at least 64, not %d", n)
	}
	if c.Relay.MaxLag < 16 || c.Relay.MaxLag >= c.Relay.RingSize {
		bad("relay.max_lag", "must be at least 16 and less than 'relay.ring_size'")
	}
	if !strings.HasPrefix(c.Registry.Prefix, "/") || !strings.HasSuffix(c.Registry.Prefix, "/") {
		bad("registry.prefix", "must start and end with '/', not %q", c.Registry.Prefix)
	}
	for _, e := range c.Registry.Endpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			bad("registry.endpoints", "must be http:// or https:// URLs, not %q", e)
		}
	}
	if a := c.Debug.PprofAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("debug.pprof_addr", "must be host:port or empty, not %q", a)
		}
	}
	if c.Registry.LeaseTTL > 0 && c.Registry.LeaseTTL.D() < 2*time.Second {
		bad("registry.lease_ttl", "must be at least 2s")
	}
	if c.Node.ID != "" && !nodeIDPattern.MatchString(c.Node.ID) {
		bad("node.id", "must be 1-64 characters of A-Z a-z 0-9 . _ -, not %q", c.Node.ID)
	}
	for key, u := range map[string]string{"node.advertise_http": c.Node.AdvertiseHTTP, "node.advertise_rtsp": c.Node.AdvertiseRTSP} {
		want := "http"
		if key == "node.advertise_rtsp" {
			want = "rtsp"
		}
		if u != "" && !strings.HasPrefix(u, want+"://") && !strings.HasPrefix(u, want+"s://") {
			bad(key, "must be a %s:// URL, not %q", want, u)
		}
	}
	switch c.Cases.DB {
	case "sqlite":
	case "postgres":
		if c.Cases.DSN == "" {
			bad("cases.dsn", "must be set when 'cases.db' is postgres")
		}
	default:
		bad("cases.db", "must be sqlite or postgres, not %q", c.Cases.DB)
	}
	if _, err := time.LoadLocation(c.Cases.Timezone); err != nil && c.Cases.Timezone != "Asia/Shanghai" {
		bad("cases.timezone", "is not a known time zone: %q", c.Cases.Timezone)
	}
	for key, days := range map[string][]string{"cases.holidays": c.Cases.Holidays, "cases.workdays": c.Cases.Workdays} {
		for _, d := range days {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				bad(key, "must list dates as YYYY-MM-DD, not %q", d)
			}
		}
	}
	for kind, p := range c.Cases.Policy {
		key := "cases.policy." + kind
		if !knownKinds[kind] {
			bad(key, "names no event kind")
		}
		if p.OpensCase && (p.Category == "" || p.Priority < 1 || p.Priority > 4 || p.LimitDays < 1) {
			bad(key, "opens a case, so it needs a category, priority 1-4 and limit_days of at least 1")
		}
		if p.After.D() < 0 || p.After.D() > 7*24*time.Hour {
			bad(key+".after", "must be 0 to 168h")
		}
		if p.DispatchTo != "" && !cellRoles[p.DispatchTo] {
			bad(key+".dispatch_to", "must be a cell role (chief, grid_worker, police, law_enforcement, property, legal, discipline, maintainer)")
		}
		switch p.OnReturn {
		case "", "note", "close":
		default:
			bad(key+".on_return", "must be note, close or empty")
		}
	}
	if u := c.Cases.WebhookURL; u != "" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			bad("cases.webhook_url", "must be an http:// or https:// URL")
		}
		if len(c.Cases.WebhookSecret) < 16 {
			bad("cases.webhook_secret", "must be at least 16 characters when 'cases.webhook_url' is set")
		}
	}
	if d := c.Auth.SessionTTL.D(); d < time.Minute || d > 30*24*time.Hour {
		bad("auth.session_ttl", "must be between 1m and 720h")
	}
	if t := c.Auth.AdminToken; t != "" && len(t) < 16 {
		bad("auth.admin_token", "must be at least 16 characters")
	}
	if d := c.Auth.TokenMaxTTL.D(); d < time.Hour || d > 5*365*24*time.Hour {
		bad("auth.token_max_ttl", "must be between 1h and 43800h (five years)")
	}
	if d := c.Auth.TokenDefaultTTL.D(); d < time.Minute || d > c.Auth.TokenMaxTTL.D() {
		bad("auth.token_default_ttl", "must be at least 1m and at most 'auth.token_max_ttl'")
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		bad("http.tls_cert_file", "and 'http.tls_key_file' must be set together (or neither)")
	}
	for _, f := range []struct{ key, path string }{{"http.tls_cert_file", c.HTTP.TLSCertFile}, {"http.tls_key_file", c.HTTP.TLSKeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.key, "cannot be read: %v", err)
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("http.trusted_proxies", "must list IP addresses or CIDR prefixes, not %q", p)
			}
		}
	}
	r := c.Recording
	switch r.Mode {
	case "off", "continuous", "events":
	default:
		bad("recording.mode", "must be off, continuous or events, not %q", r.Mode)
	}
	if r.Stream != "main" && r.Stream != "sub" {
		bad("recording.stream", "must be main or sub, not %q", r.Stream)
	}
	if r.SegmentSeconds < 10 || r.SegmentSeconds > 3600 {
		bad("recording.segment_seconds", "must be 10 to 3600")
	}
	if d := r.PartSeconds.D(); d < 200*time.Millisecond || d > 10*time.Second {
		bad("recording.part_duration", "must be between 200ms and 10s")
	}
	if r.MaxBytes < 0 || r.MinFreeBytes < 0 {
		bad("recording.max_bytes", "and 'recording.min_free_bytes' must not be negative (0: no limit)")
	}
	if r.RetainDays < 1 || r.RetainDays > 3650 {
		bad("recording.retain_days", "must be 1 to 3650")
	}
	if r.EvidenceHoldDays < 0 || r.EvidenceHoldDays > 3650 {
		bad("recording.evidence_hold_days", "must be 0 to 3650")
	}
	if r.PreSeconds < 0 || r.PreSeconds > 60 {
		bad("recording.pre_seconds", "must be 0 to 60")
	}
	if r.PostSeconds < 0 || r.PostSeconds > 600 {
		bad("recording.post_seconds", "must be 0 to 600")
	}
	if gb := c.GB28181; gb.Enabled {
		if !digits(gb.ServerID, 20) {
			bad("gb28181.server_id", "must be 20 digits (the platform's GB/T 28181 code), not %q", gb.ServerID)
		}
		if !digits(gb.Domain, 10) || !strings.HasPrefix(gb.ServerID, gb.Domain) {
			bad("gb28181.domain", "must be the first 10 digits of gb28181.server_id, not %q", gb.Domain)
		}
		if len(gb.Password) < 8 {
			bad("gb28181.password", "must be at least 8 characters (the password devices register with)")
		}
		if gb.SIPAddr == "" || gb.MediaAddr == "" {
			bad("gb28181.sip_addr", "and 'gb28181.media_addr' are required when gb28181 is enabled")
		}
		if gb.MediaIP != "" {
			if _, err := netip.ParseAddr(gb.MediaIP); err != nil {
				bad("gb28181.media_ip", "must be an IP address, not %q", gb.MediaIP)
			}
		}
		if gb.KeepaliveTimeout.D() < 3*time.Second {
			bad("gb28181.keepalive_timeout", "must be at least 3s")
		}
		if gb.MaxChannels < 1 || gb.MaxChannels > 65536 {
			bad("gb28181.max_channels", "must be 1 to 65536")
		}
		for i, u := range gb.Upstream {
			if !digits(u.ServerID, 20) || !digits(u.LocalID, 20) || u.Address == "" || u.ID == "" {
				bad(fmt.Sprintf("gb28181.upstream[%d]", i), "needs id, address, and 20-digit server_id and local_id")
			}
		}
	}
	// One order whatever the map iteration: by key.
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// digits tells whether s is n decimal digits.
func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
