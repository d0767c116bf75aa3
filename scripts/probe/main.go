// Command probe runs the twelve cases of the hardening issue against a live
// gateway and prints each outcome. It brings its own simulated cameras
// (camsim, on loopback, with a password) so the gateway has something real
// to pull. scripts/probe.sh starts a fresh cluster-style node and runs it.
//
//	go run ./scripts/probe -server http://127.0.0.1:8080 -token ADMIN_TOKEN
//
// The gateway should run with webrtc.max_sessions 3 and http.max_streams 2
// and http.read_timeout 2s for cases 8 and 9 (probe.sh sets them).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"sharpeyes"
	"sharpeyes/camsim"
)

type probe struct {
	base, token string
	fleet       *camsim.Fleet
	failed      int
}

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "gateway URL")
	token := flag.String("token", os.Getenv("SHARPEYES_AUTH_ADMIN_TOKEN"), "admin token")
	flag.Parse()
	fleet, err := camsim.Start(camsim.Config{Listen: "127.0.0.1:0", Cameras: 2, Main: sharpeyes.MainClip, Sub: sharpeyes.SubClip,
		User: "admin", Pass: "Cam-Pa55word"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "camsim:", err)
		os.Exit(2)
	}
	defer fleet.Close()
	p := &probe{base: strings.TrimSuffix(*server, "/"), token: *token, fleet: fleet}
	run := suffix()
	for i, c := range []struct {
		name string
		f    func(string) error
	}{
		{"export -> import keeps every camera password", p.exportImport},
		{"CSV import with a quote in the first field is a 400", p.csvQuote},
		{"credentials outside user:pass@ are hidden", p.otherCredentials},
		{"a node with an external etcd made its data_dir", p.dataDir},
		{"GET /api/v1/events lists what was received", p.eventList},
		{"incident filters match whole camera ids", p.exactFilters},
		{"GB/T 28181 alarms after a device reboot are recorded", p.gbReboot},
		{"bodies are checked before they are read", p.bodies},
		{"servers have limits; /readyz tells the truth", p.limits},
		{"offline/online are recorded in order", p.ordering},
		{"an acknowledged event is durable (synchronous=FULL)", p.durable},
		{"real devices: heartbeat, device identity, alarm picture", p.devices},
	} {
		err := c.f(run)
		status := "PASS"
		if err != nil {
			status = "FAIL"
			p.failed++
		}
		fmt.Printf("%2d. %-58s %s", i+1, c.name, status)
		if err != nil {
			fmt.Printf("  (%v)", err)
		}
		fmt.Println()
	}
	fmt.Printf("%d passed, %d failed\n", 12-p.failed, p.failed)
	if p.failed > 0 {
		os.Exit(1)
	}
}

// suffix makes this run's ids unique, so the probe can run again.
func suffix() string { return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff) }

func (p *probe) do(method, path, ctype string, body []byte) (int, []byte, http.Header) {
	req, _ := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (p *probe) json(method, path string, in any, out any) (int, error) {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	code, raw, _ := p.do(method, path, "application/json", body)
	if out != nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, out)
	}
	if code >= 300 {
		return code, fmt.Errorf("%s %s: %d %s", method, path, code, bytes.TrimSpace(raw))
	}
	return code, nil
}

func (p *probe) state(id string) string {
	var st struct {
		State string `json:"state"`
	}
	_, _ = p.json("GET", "/api/v1/cameras/"+id+"/status", nil, &st)
	return st.State
}

func waitFor(within time.Duration, f func() bool) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (p *probe) camera(id string, n int, onDemand bool) error {
	_, err := p.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": onDemand,
		"streams": map[string]string{"main": p.fleet.URL(n, false), "sub": p.fleet.URL(n, true)}}, nil)
	return err
}

// 1. The export shows passwords as ***; fed back (with a changed transport,
// so the gateway pulls again) the camera must come back online: it would
// get 401 from the camera if *** had been stored.
func (p *probe) exportImport(run string) error {
	id := "probe-exp-" + run
	if err := p.camera(id, 1, false); err != nil {
		return err
	}
	if !waitFor(20*time.Second, func() bool { return p.state(id) == "online" }) {
		return errors.New("camera never online")
	}
	code, raw, _ := p.do("GET", "/api/v1/cameras/"+id, "", nil)
	if code != 200 || !strings.Contains(string(raw), ":***@") || strings.Contains(string(raw), "Cam-Pa55word") {
		return fmt.Errorf("export: %d %s", code, raw)
	}
	var cam map[string]any
	_ = json.Unmarshal(raw, &cam)
	cam["transport"] = "tcp"
	body, _ := json.Marshal([]any{cam})
	if code, raw, _ := p.do("POST", "/api/v1/cameras/import?mode=upsert", "application/json", body); code != 200 {
		return fmt.Errorf("import: %d %s", code, raw)
	}
	time.Sleep(time.Second)
	if !waitFor(20*time.Second, func() bool { return p.state(id) == "online" }) {
		return fmt.Errorf("after the import the camera is %s: its password was lost", p.state(id))
	}
	return nil
}

// 2.
func (p *probe) csvQuote(run string) error {
	code, raw, _ := p.do("POST", "/api/v1/cameras/import", "text/csv", []byte("id,name,main\n\"c-"+run+",cam,rtsp://10.1.2.3/a\n"))
	if code != 400 {
		return fmt.Errorf("%d %s", code, raw)
	}
	return nil
}

// 3.
func (p *probe) otherCredentials(run string) error {
	id := "probe-xm-" + run
	if _, err := p.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id,
		"streams": map[string]string{"main": "rtsp://10.1.2.4:554/user=admin&password=Xm3yeSecret&channel=1&stream=0.sdp",
			"sub": "rtsp://10.1.2.4/live?channel=1&password=QuerySecret9"}}, nil); err != nil {
		return err
	}
	for _, path := range []string{"/api/v1/cameras/" + id, "/api/v1/cameras?limit=1000"} {
		_, raw, _ := p.do("GET", path, "", nil)
		if strings.Contains(string(raw), "Xm3yeSecret") || strings.Contains(string(raw), "QuerySecret9") {
			return fmt.Errorf("%s shows a secret", path)
		}
	}
	return nil
}

// 4. The node under probe runs on an external etcd with a data_dir that
// did not exist (probe.sh): that it answers /readyz is the proof.
func (p *probe) dataDir(string) error {
	var r struct {
		Status string `json:"status"`
	}
	if code, err := p.json("GET", "/readyz", nil, &r); err != nil || r.Status != "ready" {
		return fmt.Errorf("readyz %d %v", code, err)
	}
	return nil
}

func (p *probe) event(cam, id, kind, phase string, at time.Time) (map[string]any, error) {
	var out struct {
		Items []map[string]any `json:"items"`
	}
	_, err := p.json("POST", "/api/v1/events", map[string]any{"source": "ai", "source_event_id": id, "camera_id": cam, "kind": kind,
		"phase": phase, "time": at.UTC().Format(time.RFC3339)}, &out)
	if err != nil || len(out.Items) != 1 {
		return nil, fmt.Errorf("event: %v", err)
	}
	return out.Items[0], nil
}

// 5.
func (p *probe) eventList(run string) error {
	id := "probe-ev-" + run
	if err := p.camera(id, 2, true); err != nil {
		return err
	}
	if _, err := p.event(id, "l-"+run, "crowd", "pulse", time.Now().Add(-time.Minute)); err != nil {
		return err
	}
	var out struct {
		Items []struct {
			SourceEventID string `json:"source_event_id"`
		} `json:"items"`
	}
	if _, err := p.json("GET", "/api/v1/events?camera_id="+id+"&source=ai&kind=crowd", nil, &out); err != nil {
		return err
	}
	if len(out.Items) != 1 || out.Items[0].SourceEventID != "l-"+run {
		return fmt.Errorf("listed %v", out.Items)
	}
	return nil
}

// 6.
func (p *probe) exactFilters(run string) error {
	short, long := "pC1-"+run, "pC1-"+run+"0"
	for _, id := range []string{short, long} {
		if err := p.camera(id, 2, true); err != nil {
			return err
		}
	}
	if _, err := p.event(long, "x-"+run, "tamper", "start", time.Now().Add(-time.Minute)); err != nil {
		return err
	}
	var out struct {
		Items []any `json:"items"`
	}
	if _, err := p.json("GET", "/api/v1/incidents?camera_id="+short, nil, &out); err != nil {
		return err
	}
	if len(out.Items) != 0 {
		return fmt.Errorf("camera_id=%s matched %s's incident", short, long)
	}
	return nil
}

// 7.
func (p *probe) gbReboot(run string) error {
	dev := "3402000000132" + fmt.Sprintf("%07d", time.Now().UnixNano()%10_000_000)
	if _, err := p.json("POST", "/api/v1/cameras", map[string]any{"id": dev, "name": "gb", "streams": map[string]string{"main": "rtsp://10.1.2.9/a"}}, nil); err != nil {
		return err
	}
	alarm := func(at time.Time) (bool, error) {
		body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>%s</DeviceID><AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>%s</AlarmTime><Info><AlarmType>6</AlarmType></Info></Notify>`,
			dev, at.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04:05"))
		code, raw, _ := p.do("POST", "/api/v1/events/gb28181", "application/xml", []byte(body))
		var out struct {
			Items []struct {
				Duplicate bool `json:"duplicate"`
			} `json:"items"`
		}
		if code != 200 || json.Unmarshal(raw, &out) != nil || len(out.Items) != 1 {
			return false, fmt.Errorf("%d %s", code, raw)
		}
		return out.Items[0].Duplicate, nil
	}
	if d, err := alarm(time.Now().Add(-10 * time.Minute)); err != nil || d {
		return fmt.Errorf("first alarm: duplicate=%v %v", d, err)
	}
	if d, err := alarm(time.Now().Add(-time.Minute)); err != nil || d {
		return fmt.Errorf("alarm after the SN reset: duplicate=%v %v", d, err)
	}
	return nil
}

// rawHTTP sends bytes on a fresh connection and reads what comes back.
func (p *probe) rawHTTP(req string, wait time.Duration) (string, time.Duration) {
	u, _ := url.Parse(p.base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return err.Error(), 0
	}
	defer conn.Close()
	start := time.Now()
	_, _ = conn.Write([]byte(req))
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(conn)
	return string(b), time.Since(start)
}

func offer() (string, error) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return "", err
	}
	o, err := pc.CreateOffer(nil)
	return o.SDP, err
}

// 8.
func (p *probe) bodies(run string) error {
	resp, took := p.rawHTTP("POST /api/v1/whep/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+p.token+
		"\r\nContent-Type: application/sdp\r\nContent-Length: 31457280\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(resp, "HTTP/1.1 413") || took > 3*time.Second {
		return fmt.Errorf("30 MB to /whep/import: %.40q after %v", resp, took)
	}
	id := "probe-od-" + run
	if err := p.camera(id, 2, true); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if code, _, _ := p.do("POST", "/api/v1/whep/"+id, "application/sdp", []byte("v=0\r\njunk")); code != 400 {
			return fmt.Errorf("junk offer: %d", code)
		}
	}
	if st := p.state(id); st != "unknown" {
		return fmt.Errorf("junk offers started the pull (%s)", st)
	}
	sdp, err := offer()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var made []string
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, h := p.do("POST", "/api/v1/whep/"+id+"?stream=sub", "application/sdp", []byte(sdp))
			if code == 201 {
				mu.Lock()
				made = append(made, h.Get("Location"))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, loc := range made {
		p.do("DELETE", loc, "", nil)
	}
	if len(made) > 3 {
		return fmt.Errorf("%d concurrent offers passed a cap of 3", len(made))
	}
	return nil
}

// 9.
func (p *probe) limits(string) error {
	_, took := p.rawHTTP("POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+p.token+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", 10*time.Second)
	if took > 8*time.Second {
		return fmt.Errorf("a slow body was held %v", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var codes []int
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode != 200 {
			resp.Body.Close()
		}
	}
	if fmt.Sprint(codes) != "[200 200 503]" {
		return fmt.Errorf("streams answered %v with max_streams 2", codes)
	}
	if code, _, _ := p.do("GET", "/healthz", "", nil); code != 200 {
		return fmt.Errorf("healthz %d", code)
	}
	return nil
}

// 10. The camera drops and comes back: the gateway's offline start is
// recorded before its end, and nothing is left open.
func (p *probe) ordering(run string) error {
	id := "probe-ord-" + run
	if err := p.camera(id, 1, false); err != nil {
		return err
	}
	if !waitFor(20*time.Second, func() bool { return p.state(id) == "online" }) {
		return errors.New("camera never online")
	}
	p.fleet.SetRefuse(true)
	p.fleet.Drop(1)
	ok := waitFor(20*time.Second, func() bool { return p.state(id) == "offline" })
	p.fleet.SetRefuse(false)
	if !ok {
		return errors.New("camera never went offline")
	}
	if !waitFor(30*time.Second, func() bool { return p.state(id) == "online" }) {
		return errors.New("camera never came back")
	}
	var out struct {
		Items []struct {
			Phase string    `json:"phase"`
			Time  time.Time `json:"time"`
		} `json:"items"`
	}
	if !waitFor(10*time.Second, func() bool {
		_, _ = p.json("GET", "/api/v1/events?source=gateway&kind=offline&camera_id="+id, nil, &out)
		return len(out.Items) >= 2
	}) {
		return fmt.Errorf("gateway events: %v", out.Items)
	}
	// Newest first: the end, then the start it ends.
	if out.Items[0].Phase != "end" || out.Items[1].Phase != "start" || out.Items[0].Time.Before(out.Items[1].Time) {
		return fmt.Errorf("recorded out of order: %v", out.Items)
	}
	return nil
}

// 11.
func (p *probe) durable(string) error {
	var r struct {
		Store struct {
			Driver  string `json:"driver"`
			Durable bool   `json:"durable"`
		} `json:"store"`
	}
	if _, err := p.json("GET", "/readyz", nil, &r); err != nil {
		return err
	}
	if !r.Store.Durable {
		return fmt.Errorf("%s store is not durable", r.Store.Driver)
	}
	return nil
}

// 12.
func (p *probe) devices(run string) error {
	host := fmt.Sprintf("10.77.%d.%d", time.Now().UnixNano()%200, time.Now().UnixNano()%250+1)
	id := "probe-hik-" + run
	if _, err := p.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id,
		"streams": map[string]string{"main": "rtsp://admin:pw@" + host + ":554/Streaming/Channels/101"}}, nil); err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	alert := func(typ, count string) string {
		return `<EventNotificationAlert version="2.0"><ipAddress>` + host + `</ipAddress><channelID>1</channelID><dateTime>` + now +
			`</dateTime><activePostCount>` + count + `</activePostCount><eventType>` + typ + `</eventType><eventState>active</eventState></EventNotificationAlert>`
	}
	code, raw, _ := p.do("POST", "/api/v1/events/isapi", "application/xml", []byte(alert("heartBeat", "1")))
	if code != 200 || !strings.Contains(string(raw), `"heartbeat":true`) {
		return fmt.Errorf("heartBeat: %d %s", code, raw)
	}
	var jpg bytes.Buffer
	_ = jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 32, 24)), nil)
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{"Content-Type": {"application/xml"}, "Content-Disposition": {`form-data; name="alert"`}}
	pw, _ := w.CreatePart(h)
	_, _ = pw.Write([]byte(alert("firedetection", "1")))
	h = textproto.MIMEHeader{"Content-Type": {"image/jpeg"}, "Content-Disposition": {`form-data; name="picture"; filename="a.jpg"`}}
	pw, _ = w.CreatePart(h)
	_, _ = pw.Write(jpg.Bytes())
	_ = w.Close()
	code, raw, _ = p.do("POST", "/api/v1/events/isapi", w.FormDataContentType(), b.Bytes())
	var out struct {
		Items []struct {
			CaseID string `json:"case_id"`
		} `json:"items"`
	}
	if code != 200 || json.Unmarshal(raw, &out) != nil || len(out.Items) != 1 || out.Items[0].CaseID == "" {
		return fmt.Errorf("multipart alarm without camera_id: %d %s", code, raw)
	}
	var cs struct {
		CameraID string   `json:"camera_id"`
		Media    []string `json:"media"`
	}
	if _, err := p.json("GET", "/api/v1/cases/"+out.Items[0].CaseID, nil, &cs); err != nil {
		return err
	}
	if cs.CameraID != id || len(cs.Media) != 1 {
		return fmt.Errorf("case camera %q, media %v", cs.CameraID, cs.Media)
	}
	if code, pic, _ := p.do("GET", cs.Media[0], "", nil); code != 200 || !bytes.Equal(pic, jpg.Bytes()) {
		return fmt.Errorf("picture: %d", code)
	}
	code, raw, _ = p.do("POST", "/api/v1/events/isapi", "application/xml", []byte(strings.Replace(alert("VMD", "1"), host, "10.255.255.254", 1)))
	if code != 400 || !strings.Contains(string(raw), "no camera matches") {
		return fmt.Errorf("unknown device: %d %s", code, raw)
	}
	return nil
}
