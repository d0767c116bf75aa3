package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/authn"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// Recordings is what the API needs of recording.
type Recordings interface {
	Spans(ctx context.Context, camera, stream string, from, to time.Time) ([]recording.Span, error)
	Clips(ctx context.Context, caseID string) ([]recording.Clip, error)
	ClipOf(ctx context.Context, caseID, id string) (recording.Clip, error)
	// LogAccess and Accesses are the footage access log.
	LogAccess(ctx context.Context, a recording.Access) error
	Accesses(ctx context.Context, camera string, from, to time.Time, limit int) ([]recording.Access, error)
	Resolve(ctx context.Context, camera, stream string, start time.Time, d time.Duration) (recording.Window, string, error)
	WriteFMP4(ctx context.Context, w io.Writer, win recording.Window) error
	WriteMP4(ctx context.Context, w io.Writer, win recording.Window) error
	OpenClip(c recording.Clip) (*os.File, error)
	PlanOf(c registry.Camera) (recording.Plan, bool)
	// HoldWindowClip holds a clip of any window a person asks for on a
	// case (made once the window is past; from the device when the
	// gateway recorded none).
	HoldWindowClip(ctx context.Context, caseID, who string, cam registry.Camera, start, end time.Time) (recording.Clip, error)
	Recording() []string // the cameras this node records now
	StorageFull() bool
	Written() int64
}

// maxTimeline is the longest range one timeline request lists.
const maxTimeline = 92 * 24 * time.Hour

// recordingStream reads ?stream=; without it, the stream the camera's
// plan records (main when it is not recorded now).
func (s *Server) recordingStream(c *gin.Context, cam registry.Camera) (string, bool) {
	st := c.Query("stream")
	if st == "" {
		st = "main"
		if p, ok := s.rec.PlanOf(cam); ok {
			st = p.Stream
		}
	}
	if st != "main" && st != "sub" {
		writeError(c, &queryError{"stream", "must be main or sub"})
		return "", false
	}
	return st, true
}

// recordings answers a camera's recorded spans for a time range (default:
// the last 24 hours), oldest first; what lies between two spans is a gap.
func (s *Server) recordings(c *gin.Context) {
	id := c.Param("id")
	cam, ok := s.visibleCamera(principal(c), id)
	if !ok {
		s.hidden(c, "camera "+id)
		return
	}
	stream, ok := s.recordingStream(c, cam)
	if !ok {
		return
	}
	to, from := time.Now(), time.Time{}
	var err error
	if v := c.Query("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, &queryError{"to", "must be an RFC 3339 time"})
			return
		}
	}
	from = to.Add(-24 * time.Hour)
	if v := c.Query("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, &queryError{"from", "must be an RFC 3339 time"})
			return
		}
	}
	if !from.Before(to) || to.Sub(from) > maxTimeline {
		writeError(c, &queryError{"from", fmt.Sprintf("must be before to, at most %d days earlier", int(maxTimeline.Hours()/24))})
		return
	}
	source := c.DefaultQuery("source", "gateway")
	switch source {
	case "gateway", "all":
	case "device":
		if cam.GB == nil {
			writeError(c, &queryError{"source", "the camera is not a GB/T 28181 channel: it has no device recordings"})
			return
		}
	default:
		writeError(c, &queryError{"source", "must be gateway, device or all"})
		return
	}
	if source != "gateway" && cam.GB != nil && to.Sub(from) > maxDeviceTimeline {
		writeError(c, &queryError{"from", fmt.Sprintf("a device is asked at most %d days at once", int(maxDeviceTimeline.Hours()/24))})
		return
	}
	out := gin.H{"stream": stream, "from": from.UTC(), "to": to.UTC()}
	var items []spanView
	if source != "device" {
		spans, err := s.rec.Spans(c.Request.Context(), id, stream, from, to)
		if err != nil {
			writeError(c, err)
			return
		}
		if source == "gateway" { // as before: the gateway's spans alone
			if spans == nil {
				spans = []recording.Span{}
			}
			out["items"] = spans
			c.JSON(http.StatusOK, out)
			return
		}
		for _, sp := range spans {
			items = append(items, spanView{Source: "gateway", Start: sp.Start, End: sp.End, Stream: sp.Stream, Node: sp.Node, Bytes: sp.Bytes})
		}
	}
	if cam.GB != nil && s.gb != nil {
		spans, complete, err := s.gb.Records(c.Request.Context(), cam, from, to)
		switch {
		case err != nil && source == "device":
			writeError(c, err)
			return
		case err != nil: // the gateway's own footage is still worth showing
			out["device_error"] = err.Error()
		default:
			out["device_complete"] = complete
			for _, sp := range spans {
				items = append(items, spanView{Source: "device", Start: sp.Start, End: sp.End, Type: sp.Type})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Start.Before(items[j].Start) })
	if items == nil {
		items = []spanView{}
	}
	out["items"] = items
	c.JSON(http.StatusOK, out)
}

// spanView is a span of footage and where it is: the gateway's own
// (中心录像) or kept by the camera's device (设备录像).
type spanView struct {
	Source string    `json:"source"` // gateway or device
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Stream string    `json:"stream,omitempty"`
	Node   string    `json:"node,omitempty"`
	Bytes  int64     `json:"bytes,omitempty"`
	Type   string    `json:"type,omitempty"` // a device's: time, alarm, manual
}

// maxDeviceTimeline is the longest range a device is asked for at once.
const maxDeviceTimeline = 31 * 24 * time.Hour

// playback answers a camera's footage from start for duration seconds:
// fragmented MP4 to play (recordings:read), or with format=mp4 one
// progressive MP4 file to download (recordings:export). The first frame
// shown is the one at start. Every playback is in the access log.
func (s *Server) playback(c *gin.Context) {
	p, id := principal(c), c.Param("id")
	cam, ok := s.visibleCamera(p, id)
	if !ok {
		s.hidden(c, "camera "+id)
		return
	}
	stream, ok := s.recordingStream(c, cam)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "fmp4")
	if format != "fmp4" && format != "mp4" {
		writeError(c, &queryError{"format", "must be fmp4 (to play) or mp4 (to download)"})
		return
	}
	if format == "mp4" && !p.Can(access.RecordingsExport) {
		s.refuse(c, p, http.StatusForbidden, "needs recordings:export")
		writeError(c, fmt.Errorf("%w: downloading footage needs recordings:export", ErrForbidden))
		return
	}
	start, err := time.Parse(time.RFC3339Nano, c.Query("start"))
	if err != nil {
		writeError(c, &queryError{"start", "is required: an RFC 3339 time"})
		return
	}
	secs, ok := seconds(c.Query("duration"))
	if !ok || secs < minPlayback.Seconds() || secs > recording.MaxPlayback.Seconds() {
		writeError(c, &queryError{"duration", fmt.Sprintf("must be seconds from %.1f to %.0f, written as digits (such as 30 or 2.5)",
			minPlayback.Seconds(), recording.MaxPlayback.Seconds())})
		return
	}
	if start.After(time.Now()) {
		writeError(c, &queryError{"start", "is in the future"})
		return
	}
	d := time.Duration(secs * float64(time.Second))
	ctx := c.Request.Context()
	switch c.DefaultQuery("source", "gateway") {
	case "gateway":
	case "device":
		s.playDevice(c, p, cam, start, d, format)
		return
	default:
		writeError(c, &queryError{"source", "must be gateway or device"})
		return
	}
	win, node, err := s.rec.Resolve(ctx, id, stream, start, d)
	if errors.Is(err, recording.ErrOtherNode) {
		s.toFootage(c, p, id, node, format)
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	if format == "mp4" {
		// An export reads and writes a whole file: a few at a time per
		// person and per node, so twelve hour-long ones cannot starve
		// the node's disk and live video.
		done, err := s.exports.take(p.Who())
		if err != nil {
			c.Header("Retry-After", "10")
			writeError(c, err)
			return
		}
		defer done()
	}
	kind := "playback"
	if format == "mp4" {
		kind = "export"
	}
	if err := s.rec.LogAccess(ctx, recording.Access{At: time.Now(), Who: p.Who(), CameraID: id, Stream: stream,
		From: win.From, To: win.To, Kind: kind, Addr: c.ClientIP()}); err != nil {
		writeError(c, err) // no look back that the log does not keep
		return
	}
	// A playback may take longer than the server's write timeout.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	h := c.Writer.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Playback-Start", win.From.UTC().Format(time.RFC3339Nano))
	h.Set("X-Playback-End", win.To.UTC().Format(time.RFC3339Nano))
	if format == "mp4" {
		name := fmt.Sprintf("%s-%s-%s.mp4", id, stream, win.From.UTC().Format("20060102T150405Z"))
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		err = s.rec.WriteMP4(ctx, c.Writer, win)
	} else {
		err = s.rec.WriteFMP4(ctx, c.Writer, win)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("playback cut short", "camera", id, "error", err)
	}
}

// toFootage sends a playback to the node whose disk holds the footage,
// with a short ticket for this camera (the node sees no cookie of ours).
func (s *Server) toFootage(c *gin.Context, p *access.Principal, camera, node, format string) {
	for _, n := range s.cluster.Nodes() {
		if n.ID != node || n.HTTP == "" {
			continue
		}
		purpose := authn.TicketPlayback
		if format == "mp4" {
			purpose = authn.TicketExport
		}
		u := *c.Request.URL
		q := u.Query()
		q.Set("ticket", s.auth.TicketFor(p, camera, purpose, ticketTTL))
		u.RawQuery = q.Encode()
		c.Redirect(http.StatusTemporaryRedirect, strings.TrimSuffix(n.HTTP, "/")+u.RequestURI())
		return
	}
	writeError(c, fmt.Errorf("%w: the footage is on node %s, which is not up", ErrBusy, node))
}

// clipView is a clip as answered.
type clipView struct {
	recording.Clip
	URL string `json:"url,omitempty"`
}

// caseClips lists a case's evidence clips with their SHA-256.
func (s *Server) caseClips(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	clips, err := s.rec.Clips(c.Request.Context(), cs.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	out := make([]clipView, len(clips))
	for i, cl := range clips {
		out[i] = clipView{Clip: cl}
		if cl.State == recording.ClipReady {
			out[i].URL = "/api/v1/cases/" + url.PathEscape(cs.ID) + "/clips/" + url.PathEscape(cl.ID)
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

// askClip holds an evidence clip of a window the caller asks for on a
// case: of the case's camera unless another (in view) is named, at most
// ten minutes, not in the future; made once the window is past, from the
// gateway's footage or else the camera's device (设备录像).
func (s *Server) askClip(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	var in struct {
		CameraID string    `json:"camera_id"`
		Start    time.Time `json:"start"`
		End      time.Time `json:"end"`
	}
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	p := principal(c)
	if in.CameraID == "" {
		in.CameraID = cs.CameraID
	}
	if in.CameraID == "" {
		writeError(c, &queryError{"camera_id", "is required: the case has no camera"})
		return
	}
	cam, ok := s.visibleCamera(p, in.CameraID)
	if !ok {
		s.hidden(c, "camera "+in.CameraID)
		return
	}
	switch {
	case in.Start.IsZero() || in.End.IsZero():
		writeError(c, &queryError{"start", "start and end are required RFC 3339 times"})
		return
	case !in.Start.Before(in.End) || in.End.Sub(in.Start) > recording.MaxClip:
		writeError(c, &queryError{"end", fmt.Sprintf("must be after start, at most %v later", recording.MaxClip)})
		return
	case in.Start.After(time.Now()):
		writeError(c, &queryError{"start", "is in the future"})
		return
	}
	cl, err := s.rec.HoldWindowClip(c.Request.Context(), cs.ID, p.Who(), cam, in.Start, in.End)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, clipView{Clip: cl})
}

// caseClip answers a clip's bytes, exactly as made (Range requests for
// players), with its SHA-256 in Repr-Digest; the download is logged.
func (s *Server) caseClip(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	ctx := c.Request.Context()
	cl, err := s.rec.ClipOf(ctx, cs.ID, c.Param("clip"))
	if err != nil {
		writeError(c, err)
		return
	}
	f, err := s.rec.OpenClip(cl)
	if err != nil {
		writeError(c, err)
		return
	}
	defer f.Close()
	// Every answer that carries the clip's bytes, whatever its Range, is
	// a look in the access log, written before the first byte goes out;
	// a player's later range requests (to seek, to read the index at the
	// end) within lookWindow are the same look.
	p := principal(c)
	key := p.Who() + "\x00" + c.ClientIP() + "\x00" + cl.ID
	lw := &loggedWriter{ResponseWriter: c.Writer, log: func() error {
		if c.Request.Method == http.MethodHead || !s.looks.first(key, time.Now()) {
			return nil
		}
		err := s.rec.LogAccess(ctx, recording.Access{At: time.Now(), Who: p.Who(), CameraID: cl.CameraID, Stream: cl.Stream,
			From: cl.Start, To: cl.End, Kind: "clip", ClipID: cl.ID, Addr: c.ClientIP()})
		if err != nil {
			s.looks.forget(key)
		}
		return err
	}}
	c.Writer = lw
	sum, _ := hex.DecodeString(cl.SHA256)
	h := c.Writer.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	h.Set("X-Content-SHA256", cl.SHA256)
	h.Set("Cache-Control", "private, no-store")
	if c.Query("download") != "" {
		h.Set("Content-Disposition", `attachment; filename="`+cl.CaseID+"-"+cl.ID+`.mp4"`)
	}
	http.ServeContent(c.Writer, c.Request, cl.ID+".mp4", cl.Created, f)
	if lw.err != nil {
		s.log.Warn("clip not served: its look not logged", "case", cs.ID, "clip", cl.ID, "error", lw.err)
	}
}

// minPlayback is the shortest playback asked for: less holds no frame.
const minPlayback = 100 * time.Millisecond

// seconds reads a number of seconds written as digits, with at most
// three decimals ("30", "2.5"): not "1_0", "1e3", "+5", "0x10" or "Inf",
// which strconv would take.
func seconds(v string) (float64, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if whole == "" || len(whole) > 6 || len(frac) > 3 || dot && frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// Exports at once: per person, and on the node.
const (
	maxExportsEach = 2
	maxExports     = 6
)

// exportSlots bounds the MP4 exports running at once.
type exportSlots struct {
	mu  sync.Mutex
	all int
	by  map[string]int
}

// take takes a place for an export by who, or says why there is none.
func (e *exportSlots) take(who string) (done func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.by[who] >= maxExportsEach:
		return nil, fmt.Errorf("%w: %d exports of yours are under way (at most %d at once)", ErrTooMany, e.by[who], maxExportsEach)
	case e.all >= maxExports:
		return nil, fmt.Errorf("%w: %d exports are under way on this node (at most %d at once)", ErrBusy, e.all, maxExports)
	}
	if e.by == nil {
		e.by = map[string]int{}
	}
	e.all++
	e.by[who]++
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.all--
			if e.by[who]--; e.by[who] <= 0 {
				delete(e.by, who)
			}
		})
	}, nil
}

// lookWindow is how long a clip's range requests by one viewer are one
// look (one access row).
const lookWindow = 10 * time.Minute

// looks remembers who looked at which clip lately (at most maxLooks).
type looks struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const maxLooks = 10_000

// first tells whether key's look is a new one (and remembers it).
func (l *looks) first(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.seen[key]; ok && now.Sub(t) < lookWindow {
		return false
	}
	if l.seen == nil || len(l.seen) >= maxLooks {
		fresh := map[string]time.Time{}
		for k, t := range l.seen {
			if now.Sub(t) < lookWindow && len(fresh) < maxLooks/2 {
				fresh[k] = t
			}
		}
		l.seen = fresh
	}
	l.seen[key] = now
	return true
}

func (l *looks) forget(key string) {
	l.mu.Lock()
	delete(l.seen, key)
	l.mu.Unlock()
}

// loggedWriter runs log before an answer with a body of 200 or 206
// goes out; if log fails, the answer is a 503 and carries nothing.
type loggedWriter struct {
	gin.ResponseWriter
	log    func() error
	done   bool
	err    error
	failed bool
}

func (w *loggedWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if code == http.StatusOK || code == http.StatusPartialContent {
			if w.err = w.log(); w.err != nil {
				w.failed = true
				w.Header().Del("Content-Range")
				w.Header().Set("Content-Type", "application/json")
				w.Header().Del("Content-Length")
				w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.ResponseWriter.Write([]byte(`{"error":"the access log is not reachable: the clip is not served"}`))
				return
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, w.err
	}
	return w.ResponseWriter.Write(b)
}

func (w *loggedWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// recordingAccess answers the access log: who looked back at which
// camera's past, when (auditors).
func (s *Server) recordingAccess(c *gin.Context) {
	to, from := time.Now(), time.Now().Add(-7*24*time.Hour)
	var err error
	if v := c.Query("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, &queryError{"from", "must be an RFC 3339 time"})
			return
		}
	}
	if v := c.Query("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, &queryError{"to", "must be an RFC 3339 time"})
			return
		}
	}
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	rows, err := s.rec.Accesses(c.Request.Context(), c.Query("camera_id"), from, to, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	if rows == nil {
		rows = []recording.Access{}
	}
	c.JSON(http.StatusOK, gin.H{"items": rows, "next_cursor": ""})
}

// playDevice plays a window of what a GB/T 28181 channel's device keeps
// (设备录像) as fragmented MP4, at ?scale= (1, 2, 4 or 8: the device sends
// that fast, the player plays at that rate), logged as a look back like
// the gateway's own footage.
func (s *Server) playDevice(c *gin.Context, p *access.Principal, cam registry.Camera, start time.Time, d time.Duration, format string) {
	if cam.GB == nil || s.gb == nil {
		writeError(c, &queryError{"source", "the camera is not a GB/T 28181 channel: it has no device recordings"})
		return
	}
	if format != "fmp4" {
		writeError(c, &queryError{"format", "a device's footage plays as fmp4; its clips are evidence on the case"})
		return
	}
	scale := 1.0
	if v := c.Query("scale"); v != "" {
		switch v {
		case "1", "2", "4", "8":
			scale, _ = strconv.ParseFloat(v, 64)
		default:
			writeError(c, &queryError{"scale", "must be 1, 2, 4 or 8"})
			return
		}
	}
	end := start.Add(d)
	if now := time.Now(); end.After(now) {
		end = now // a device has nothing after now
	}
	ctx := c.Request.Context()
	if err := s.rec.LogAccess(ctx, recording.Access{At: time.Now(), Who: p.Who(), CameraID: cam.ID, Stream: "device",
		From: start, To: end, Kind: "playback", Addr: c.ClientIP()}); err != nil {
		writeError(c, err)
		return
	}
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	out := &flushWriter{c: c}
	err := s.gb.PlayDevice(ctx, cam, start, end.Sub(start), scale, out)
	switch {
	case err != nil && out.n == 0 && ctx.Err() == nil:
		if errors.Is(err, recording.ErrNoKeyframe) {
			err = fmt.Errorf("%w: the device sent no picture of the window", recording.ErrNoFootage)
		}
		writeError(c, err)
	case err != nil && ctx.Err() == nil:
		s.log.Warn("device playback cut short", "camera", cam.ID, "error", err)
	}
}

// flushWriter writes a device's footage as it comes: the headers with
// the first bytes, each write flushed to the player.
type flushWriter struct {
	c *gin.Context
	n int64
}

func (w *flushWriter) Write(b []byte) (int, error) {
	if w.n == 0 {
		h := w.c.Writer.Header()
		h.Set("Content-Type", "video/mp4")
		h.Set("Cache-Control", "private, no-store")
		h.Set("X-Playback-Source", "device")
	}
	n, err := w.c.Writer.Write(b)
	w.n += int64(n)
	w.c.Writer.Flush()
	return n, err
}
