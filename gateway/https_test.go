package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/configs"
)

// testCert makes a self-signed certificate for 127.0.0.1 in dir: its
// files, a pool trusting it, and its public key's SHA-256 (base64) for
// Chromium's --ignore-certificate-errors-spki-list.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool, spki string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sharpeyes test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return certFile, keyFile, pool, base64.StdEncoding.EncodeToString(h[:])
}

// loginCookie signs in with client at base and answers the session cookie
// as set (Secure or not) and the answer's headers.
func loginCookie(t *testing.T, client *http.Client, base, user, pass string, extra http.Header) (*http.Cookie, http.Header) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("login at %s: %d", base, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sharpeyes_session" {
			return c, resp.Header
		}
	}
	t.Fatalf("login at %s set no session cookie", base)
	return nil, nil
}

// TestHTTPSWithARealTLSClientAndChromium: with a certificate and key the
// HTTP address serves TLS only: a verifying TLS client gets HSTS and a
// Secure session cookie, a plain-HTTP request is refused; Chromium
// (trusting the certificate by its key) signs in, plays a camera over
// WebRTC, and a grid worker's phone page, a secure context now, gets its
// location and lists the cameras nearby. Without TLS the cookie is not
// Secure and there is no HSTS; X-Forwarded-Proto counts only from a
// configured proxy.
func TestHTTPSWithARealTLSClientAndChromium(t *testing.T) {
	certFile, keyFile, pool, spki := testCert(t, t.TempDir())
	g := startGateway(t, "SHARPEYES_HTTP_TLS_CERT_FILE="+certFile, "SHARPEYES_HTTP_TLS_KEY_FILE="+keyFile)
	if !g.HTTPS() {
		t.Fatal("the gateway does not say it serves HTTPS")
	}
	base := "https://" + g.HTTPAddr()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	admin := apiClient{t, base}
	// apiClient uses the default client: give it one that trusts the certificate.
	old := http.DefaultClient
	http.DefaultClient = client
	defer func() { http.DefaultClient = old }()

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("TLS GET: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz not over TLS 1.2+: %+v", resp.TLS)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS over HTTPS: %q", hsts)
	}
	t.Logf("TLS %x, ALPN %q", resp.TLS.Version, resp.TLS.NegotiatedProtocol)
	plain, err := http.Get("http://" + g.HTTPAddr() + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP answered on the HTTPS address")
		}
	}

	if code, raw := admin.do("POST", "/api/v1/grids/import", "application/geo+json", configs.DemoGrids, true); code != 200 {
		t.Fatalf("grids: %d %s", code, raw)
	}
	ix := g.Grids()
	a, _ := ix.Get(cellA)
	lat, lon := inside(t, ix, cellA)
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 1})
	defer fleet.Close()
	if code, out := admin.json("POST", "/api/v1/cameras", map[string]any{"id": "tls-cam", "name": "荷花池", "on_demand": true,
		"streams":  map[string]string{"main": fleet.URL(1, false), "sub": fleet.URL(1, true)},
		"location": map[string]float64{"lat": lat, "lon": lon}}); code != 201 {
		t.Fatalf("camera: %d %v", code, out)
	}
	pw := addUser(t, admin, "tls-centre", "dispatcher", []string{street}, "")
	wpw := addUser(t, admin, a.Roles.GridWorker, "grid_worker", nil, "")
	if c, h := loginCookie(t, client, base, "tls-centre", pw, nil); !c.Secure || !c.HttpOnly || h.Get("Strict-Transport-Security") == "" {
		t.Errorf("HTTPS login cookie %+v (HSTS %q): want Secure and HttpOnly", c, h.Get("Strict-Transport-Security"))
	}

	var res struct {
		SecureContext         bool   `json:"secure_context"`
		Protocol              string `json:"protocol"`
		WallFrames            int    `json:"wall_frames"`
		Cookie                *struct{ Secure, HTTPOnly bool }
		CookieVisibleToScript bool     `json:"cookie_visible_to_script"`
		PhoneSecureContext    bool     `json:"phone_secure_context"`
		Nearby                []string `json:"nearby"`
		Error                 string   `json:"error"`
	}
	runE2E(t, 90*time.Second, []string{"SE_USER=tls-centre", "SE_PASS=" + pw, "SE_SPKI=" + spki, "SE_WORKER=" + a.Roles.GridWorker,
		"SE_WORKER_PASS=" + wpw, "SE_LAT=" + ftoa(lat), "SE_LON=" + ftoa(lon)}, &res, nil, e2eScript(t, "https.mjs"), base)
	if res.Error != "" {
		t.Fatalf("https.mjs: %s", res.Error)
	}
	t.Logf("Chromium over HTTPS: %s secure context %v, %d frames on the wall, cookie %+v, phone nearby %v", res.Protocol, res.SecureContext,
		res.WallFrames, res.Cookie, res.Nearby)
	if !res.SecureContext || res.Protocol != "https:" || res.WallFrames == 0 {
		t.Errorf("the wall over HTTPS: secure context %v, %s, %d frames", res.SecureContext, res.Protocol, res.WallFrames)
	}
	if res.Cookie == nil || !res.Cookie.Secure || !res.Cookie.HTTPOnly || res.CookieVisibleToScript {
		t.Errorf("the session cookie in Chromium: %+v (visible to script: %v)", res.Cookie, res.CookieVisibleToScript)
	}
	if !res.PhoneSecureContext || len(res.Nearby) != 1 || res.Nearby[0] != "tls-cam" {
		t.Errorf("the phone over HTTPS: secure context %v, nearby %v; want tls-cam", res.PhoneSecureContext, res.Nearby)
	}

	// Plain HTTP: no Secure cookie, no HSTS, whatever a client claims; with
	// 127.0.0.1 as a trusted proxy, its X-Forwarded-Proto: https counts.
	http.DefaultClient = old
	plainG := startGateway(t)
	plainAdmin := apiClient{t, "http://" + plainG.HTTPAddr()}
	ppw := addUser(t, plainAdmin, "plain", "viewer", nil, "")
	forged := http.Header{"X-Forwarded-Proto": {"https"}}
	if c, h := loginCookie(t, old, plainAdmin.base, "plain", ppw, forged); c.Secure || h.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain HTTP with a forged X-Forwarded-Proto: cookie Secure=%v, HSTS %q", c.Secure, h.Get("Strict-Transport-Security"))
	}
	proxied := startGateway(t, "SHARPEYES_HTTP_TRUSTED_PROXIES=127.0.0.1")
	proxAdmin := apiClient{t, "http://" + proxied.HTTPAddr()}
	xpw := addUser(t, proxAdmin, "behind-proxy", "viewer", nil, "")
	if c, h := loginCookie(t, old, proxAdmin.base, "behind-proxy", xpw, forged); !c.Secure || h.Get("Strict-Transport-Security") == "" {
		t.Errorf("behind a trusted TLS proxy: cookie Secure=%v, HSTS %q", c.Secure, h.Get("Strict-Transport-Security"))
	}
}

func ftoa(f float64) string {
	return strings.TrimRight(strings.TrimRight(big.NewFloat(f).Text('f', 8), "0"), ".")
}
