package api

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// secureHeaders is what every answer carries: a Content-Security-Policy
// that allows no inline script and nothing from elsewhere but the map's
// tile server and the cluster's nodes (WHEP redirects), no MIME sniffing,
// no framing, no referrer to other sites, and HSTS over HTTPS.
func (s *Server) secureHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", s.csp())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()")
	if s.secure(c) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// cspReportPath receives the browsers' reports of what the policy blocked.
const cspReportPath = "/api/v1/csp-reports"

// csp is the page policy. Styles set through the DOM (element.style) are
// not inline styles to CSP; the pages have no style attributes or
// <style> elements, and no script but their own files.
func (s *Server) csp() string {
	img := []string{"'self'", "data:", "blob:"}
	if o := tileOrigin(s.cfg.MapTiles); o != "" {
		img = append(img, o)
	}
	connect := []string{"'self'"}
	for _, n := range s.cluster.Nodes() {
		if o := origin(n.HTTP); o != "" && !slices.Contains(connect, o) {
			connect = append(connect, o)
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + strings.Join(img, " ") +
		"; media-src 'self' blob:; connect-src " + strings.Join(connect, " ") +
		"; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; report-uri " + cspReportPath
}

// origin is scheme://host[:port] of an http(s) URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, " ;'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// tileOrigin is the origin of an XYZ tile template; a {s} subdomain
// becomes a wildcard.
func tileOrigin(tmpl string) string {
	t := strings.ReplaceAll(tmpl, "{s}.", "sub.")
	t = strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0", "{r}", "").Replace(t)
	o := origin(t)
	if o != "" && strings.Contains(tmpl, "{s}.") {
		o = strings.Replace(o, "://sub.", "://*.", 1)
	}
	return o
}

// secure tells whether the request reached the gateway over HTTPS: its own
// TLS, or a trusted proxy's X-Forwarded-Proto.
func (s *Server) secure(c *gin.Context) bool {
	if c.Request.TLS != nil {
		return true
	}
	return s.fromTrustedProxy(c.Request) && strings.EqualFold(strings.TrimSpace(c.GetHeader("X-Forwarded-Proto")), "https")
}

// fromTrustedProxy tells whether the request's peer is one of
// http.trusted_proxies.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	if len(s.proxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseProxies reads http.trusted_proxies (validated by configs).
func parseProxies(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range list {
		if pre, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pre.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// cspReports counts the policy violations browsers report, and logs a
// few of them a minute (a page that breaks the policy reports on every
// load; an attacker's page may report on purpose).
type cspReports struct {
	mu     sync.Mutex
	total  uint64
	window time.Time
	logged int
}

func (r *cspReports) add() (total uint64, log bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if time.Since(r.window) > time.Minute {
		r.window, r.logged = time.Now(), 0
	}
	r.logged++
	return r.total, r.logged <= 10
}

func (r *cspReports) count() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// cspReport takes a browser's violation report (report-uri's
// application/csp-report, or the Reporting API's JSON list): it is
// counted in sharpeyes_csp_violations_total and logged, cut short.
func (s *Server) cspReport(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 16<<10))
	if err != nil {
		c.Status(http.StatusBadRequest)
		return
	}
	var one struct {
		Report map[string]any `json:"csp-report"`
	}
	var list []struct {
		Body map[string]any `json:"body"`
	}
	var fields map[string]any
	if json.Unmarshal(body, &one) == nil && one.Report != nil {
		fields = one.Report
	} else if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		fields = list[0].Body
	} else {
		c.Status(http.StatusBadRequest)
		return
	}
	short := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := fields[k].(string); ok {
				if len(v) > 200 {
					v = v[:200] + "…"
				}
				return v
			}
		}
		return ""
	}
	if total, log := s.csps.add(); log {
		s.log.Warn("content security policy violation", "directive", short("violated-directive", "effectiveDirective"),
			"blocked", short("blocked-uri", "blockedURL"), "page", short("document-uri", "documentURL"),
			"sample", short("script-sample", "sample"), "addr", c.ClientIP(), "total", total)
	}
	c.Status(http.StatusNoContent)
}
