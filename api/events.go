package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/registry"
)

// EventPlaces finds the grid cells and site of an event.
type EventPlaces interface {
	Cells(e events.Event) ([]string, string)
}

// maxBatch is the most events one request may carry.
const maxBatch = 1000

type eventError struct {
	Index int    `json:"index"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

type eventResult struct {
	Key        string `json:"key"`
	IncidentID string `json:"incident_id,omitempty"`
	CaseID     string `json:"case_id,omitempty"`
	Duplicate  bool   `json:"duplicate"`
}

// postEvents takes one event or an array of up to 1,000, checks them all
// first (nothing is recorded if any is bad), then records each; a 200
// means every event is committed. Retrying is safe: events are idempotent
// by source and source_event_id.
func (s *Server) postEvents(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, jsonError(err))
		return
	}
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			writeError(c, jsonError(err))
			return
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	evs := make([]events.Event, len(raws))
	var bad []eventError
	for i, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&evs[i]); err != nil {
			ee := eventError{Index: i, Error: jsonError(err).Error()}
			var qe *queryError
			if errors.As(jsonError(err), &qe) {
				ee.Field, ee.Error = qe.field, qe.msg
			}
			bad = append(bad, ee)
		}
	}
	s.record(c, evs, bad)
}

// record checks then records events; bad carries decoding errors already found.
func (s *Server) record(c *gin.Context, evs []events.Event, bad []eventError) {
	if len(evs) == 0 {
		writeError(c, fmt.Errorf("%w: no events", ErrBadRequest))
		return
	}
	if len(evs) > maxBatch {
		writeError(c, &queryError{"events", fmt.Sprintf("a batch holds at most %d events, not %d", maxBatch, len(evs))})
		return
	}
	if s.cfg.Pipeline == nil {
		writeError(c, fmt.Errorf("%w: events are not enabled on this node", ErrBadRequest))
		return
	}
	now := time.Now()
	p := principal(c)
	seen := map[string]int{}
	failed := map[int]bool{}
	for _, b := range bad {
		failed[b.Index] = true
	}
	for i := range evs {
		if failed[i] {
			continue
		}
		e := &evs[i]
		err := e.Normalize(now)
		if err == nil {
			if _, ok := s.visibleCamera(p, e.CameraID); !ok {
				err = &events.FieldError{Field: "camera_id", Msg: fmt.Sprintf("unknown camera %q", e.CameraID)}
			}
		}
		if err == nil {
			if j, dup := seen[e.Key()]; dup {
				err = &events.FieldError{Field: "source_event_id", Msg: fmt.Sprintf("repeats event %d of this batch", j)}
			}
			seen[e.Key()] = i
		}
		if err != nil {
			ee := eventError{Index: i, Error: err.Error()}
			var fe *events.FieldError
			if errors.As(err, &fe) {
				ee.Field, ee.Error = fe.Field, fe.Msg
			}
			bad = append(bad, ee)
		}
	}
	if len(bad) > 0 {
		c.JSON(http.StatusBadRequest, gin.H{
			"error": fmt.Sprintf("%d of %d event(s) refused; nothing was recorded", len(bad), len(evs)),
			"items": bad,
		})
		return
	}
	results := make([]eventResult, 0, len(evs))
	for _, e := range evs {
		cells, site := s.cfg.Places.Cells(e)
		out, err := s.cfg.Pipeline.Intake(c.Request.Context(), e, cells, site)
		if err != nil {
			// Those before were committed; a retry of the whole batch is safe.
			writeError(c, fmt.Errorf("%w: event %s not recorded: %v", registry.ErrUnavailable, e.Key(), err))
			return
		}
		results = append(results, eventResult{Key: e.Key(), IncidentID: out.Incident.ID, CaseID: out.Incident.CaseID, Duplicate: out.Duplicate})
	}
	c.JSON(http.StatusOK, gin.H{"items": results})
}

// postDeviceEvent takes an event in a device's own format. Without
// ?camera_id= the camera is found from the device's identity; a Hikvision
// heartbeat is accepted and recorded nowhere; the picture of an ISAPI
// multipart alarm is kept as the event's media.
func (s *Server) postDeviceEvent(format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			writeError(c, jsonError(err))
			return
		}
		p := principal(c)
		cam := c.Query("camera_id")
		dev := events.Device{IP: c.ClientIP()} // ONVIF: the sender's address
		var evs []events.Event
		var picture []byte
		switch format {
		case "onvif":
			evs, err = events.FromONVIF(body, cam)
		case "isapi":
			var alert []byte
			if alert, picture, err = events.SplitISAPI(c.GetHeader("Content-Type"), body); err == nil {
				var e events.Event
				e, dev, err = events.ParseISAPI(alert)
				e.CameraID = cam
				evs = []events.Event{e}
			}
		case "gb28181":
			var e events.Event
			e, err = events.FromGB28181(body)
			evs = []events.Event{e}
			dev = events.Device{Code: e.CameraID}
			if _, ok := s.visibleCamera(p, e.CameraID); ok || err != nil {
				cam = e.CameraID
			}
		}
		if errors.Is(err, events.ErrHeartbeat) {
			c.JSON(http.StatusOK, gin.H{"items": []eventResult{}, "heartbeat": true})
			return
		}
		if err != nil {
			var fe *events.FieldError
			if errors.As(err, &fe) {
				writeError(c, &queryError{fe.Field, fe.Msg})
				return
			}
			writeError(c, fmt.Errorf("%w: %v", ErrBadRequest, err))
			return
		}
		if len(evs) == 0 { // e.g. an ONVIF "initialised, all quiet" message
			c.JSON(http.StatusOK, gin.H{"items": []eventResult{}})
			return
		}
		if cam == "" {
			if cam, err = s.deviceCamera(p, dev); err != nil {
				writeError(c, err)
				return
			}
		}
		for i := range evs {
			evs[i].CameraID = cam
		}
		var pictureErr string
		if picture != nil {
			if ct, err := events.CheckPicture(picture); err != nil {
				pictureErr = err.Error() // the alarm counts even if its picture does not
			} else if _, ok := s.visibleCamera(p, cam); ok {
				id, err := s.cfg.Pipeline.Events.PutMedia(c.Request.Context(), cam, ct, picture, time.Now())
				if err != nil {
					writeError(c, fmt.Errorf("%w: picture not stored: %v", registry.ErrUnavailable, err))
					return
				}
				evs[0].MediaURL = "/api/v1/media/" + id
			}
		}
		if pictureErr != "" {
			c.Header("Warning", `199 sharpeyes "alarm picture refused"`)
		}
		s.record(c, evs, nil)
	}
}

// deviceCamera finds the one camera a device's alarm is for: a camera that
// declares the device's address (and channel), or else the one camera whose
// stream URL has the device's IP as its host.
func (s *Server) deviceCamera(p *access.Principal, dev events.Device) (string, error) {
	ix := s.grids.Index()
	var declared, exact, hosts []string
	for _, cam := range s.catalog.All() {
		if !s.seesCamera(p, ix, cam) {
			continue
		}
		if d := cam.Device; d != nil && dev.SameAddress(d.Address) {
			if d.Channel != "" && d.Channel == dev.Channel {
				exact = append(exact, cam.ID)
			} else if d.Channel == "" {
				declared = append(declared, cam.ID)
			}
			continue
		}
		if dev.IP != "" && (streamHost(cam.Streams.Main) == dev.IP || streamHost(cam.Streams.Sub) == dev.IP) {
			hosts = append(hosts, cam.ID)
		}
	}
	for _, found := range [][]string{exact, declared, hosts} {
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			return "", &queryError{"camera_id", fmt.Sprintf("%d cameras match the device (%s): %s; declare device.channel on them or add ?camera_id= to the alarm URL",
				len(found), dev, strings.Join(found, ", "))}
		}
	}
	return "", &queryError{"camera_id", fmt.Sprintf("no camera matches the device (%s): add ?camera_id= to the alarm URL, or declare device.address (and device.channel) on the camera", dev)}
}

func streamHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// getMedia answers an alarm picture to those who may see its camera.
func (s *Server) getMedia(c *gin.Context) {
	m, err := s.cfg.Pipeline.Events.MediaByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if _, ok := s.visibleCamera(principal(c), m.CameraID); !ok {
		s.hidden(c, "media "+m.ID)
		return
	}
	c.Header("Cache-Control", "private, max-age=86400")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, m.ContentType, m.Body)
}

func (s *Server) listIncidents(c *gin.Context) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	state := c.Query("state")
	if c.Query("open") == "true" {
		state = events.Open
	}
	p, ix, g := principal(c), s.grids.Index(), c.Query("grid")
	keep := func(in events.Incident) bool {
		if !seesIncident(p, in) {
			return false
		}
		if g == "" {
			return true
		}
		for _, cell := range in.Grids {
			if cell == g || ix.Within(cell, g) {
				return true
			}
		}
		return false
	}
	items, err := s.cfg.Pipeline.Events.IncidentsOf(c.Request.Context(), c.Query("camera_id"), c.Query("kind"), state, limit, keep)
	if err != nil {
		writeError(c, err)
		return
	}
	if items == nil {
		items = []events.Incident{}
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
}

func (s *Server) getIncident(c *gin.Context) {
	in, err := s.cfg.Pipeline.Events.Incident(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if !seesIncident(principal(c), in) {
		s.hidden(c, "incident "+in.ID)
		return
	}
	c.JSON(http.StatusOK, in)
}

// actionBody is the body of a case action. Who acts is the authenticated
// principal: a body cannot name an actor.
type actionBody struct {
	cases.Args
}

// actor is the principal as the case machine knows it. On a case of a cell
// that names them as its grid chief (网格长), a grid worker evaluates as
// the chief.
func (s *Server) actor(p *access.Principal, cs *cases.Case, act cases.Action) cases.Actor {
	a := cases.Actor{ID: p.Username, Role: cases.Role(p.Role)}
	switch p.Kind {
	case access.KindAdminToken:
		a.ID = "admin-token"
	case access.KindToken:
		a.ID = p.Username + "/token:" + p.TokenID
	}
	if cs != nil && act == cases.Evaluate && p.Role != access.Admin && p.Role != access.Dispatcher {
		if cell, ok := s.grids.Index().Get(cs.Grid); ok && cell.Roles.Chief == p.Username {
			a.Role = cases.GridChief
		}
	}
	if p.Role == access.Viewer {
		a.Role = cases.Reporter // never reached: viewers hold no cases:write
	}
	return a
}

// visibleCase reads a case the principal may see, or answers 404.
func (s *Server) visibleCase(c *gin.Context, id string) (cases.Case, bool) {
	cs, err := s.cfg.Pipeline.Cases.Get(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return cases.Case{}, false
	}
	if !seesCase(principal(c), cs) {
		s.hidden(c, "case "+id)
		return cases.Case{}, false
	}
	return cs, true
}

func (s *Server) caseAction(c *gin.Context) {
	act := cases.Action(c.Param("action"))
	known := false
	for _, a := range cases.Actions() {
		known = known || a == act
	}
	if !known {
		writeError(c, fmt.Errorf("%w: unknown action %q", cases.ErrTransition, act))
		return
	}
	var body actionBody
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			writeError(c, err)
			return
		}
	}
	cur, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	who := s.actor(principal(c), &cur, act)
	cs, err := s.cfg.Pipeline.Cases.Act(c.Request.Context(), c.Param("id"), act, who, body.Args)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, cs)
}

func (s *Server) listCases(c *gin.Context) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	_, after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		writeError(c, err)
		return
	}
	esc := -1
	if v := c.Query("escalation"); v != "" {
		if esc, err = intParam(c, "escalation", 0, 0, 3); err != nil {
			writeError(c, err)
			return
		}
	}
	items, err := s.cfg.Pipeline.Cases.List(c.Request.Context(), cases.Filter{State: c.Query("state"), Grid: c.Query("grid"),
		CameraID: c.Query("camera_id"), Category: c.Query("category"), Open: c.Query("open") == "true", Escalation: esc,
		Limit: limit + 1, After: after, Within: caseWithin(principal(c))})
	if err != nil {
		writeError(c, err)
		return
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = encodeCursor(0, items[limit-1].ID)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

// caseView is a case with the pictures of the alarms that opened it.
type caseView struct {
	cases.Case
	Media []string `json:"media"`
}

func (s *Server) getCase(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	media, err := s.cfg.Pipeline.Events.MediaOfIncident(c.Request.Context(), cs.IncidentID, 20)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, caseView{Case: cs, Media: media})
}

func (s *Server) caseAudit(c *gin.Context) {
	if _, ok := s.visibleCase(c, c.Param("id")); !ok {
		return
	}
	rows, err := s.cfg.Pipeline.Cases.Audit(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": rows, "next_cursor": ""})
}

// manualCase is a case filed by the 12345 hotline or a grid worker.
type manualCase struct {
	Source      string   `json:"source"`
	Category    string   `json:"category"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Grid        string   `json:"grid"`
	CameraID    string   `json:"camera_id"`
	Lat         *float64 `json:"lat"`
	Lon         *float64 `json:"lon"`
	Priority    int      `json:"priority"`
	LimitDays   int      `json:"limit_days"`
	Reporter    string   `json:"reporter"`
}

func (s *Server) createCase(c *gin.Context) {
	var in manualCase
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if in.Source != "hotline" && in.Source != "grid-report" {
		writeError(c, &queryError{"source", "must be hotline or grid-report"})
		return
	}
	if in.Priority == 0 {
		in.Priority = 3
	}
	if in.LimitDays == 0 {
		in.LimitDays = 5
	}
	if in.Grid == "" && in.Lat != nil && in.Lon != nil {
		if cells, _ := s.cfg.Places.Cells(events.Event{CameraID: in.CameraID, Lat: in.Lat, Lon: in.Lon}); len(cells) > 0 {
			in.Grid = cells[0]
		}
	}
	p := principal(c)
	if in.CameraID != "" {
		if _, ok := s.visibleCamera(p, in.CameraID); !ok {
			writeError(c, &queryError{"camera_id", fmt.Sprintf("unknown camera %q", in.CameraID)})
			return
		}
	}
	if in.Grid != "" && !p.Where.HasCell(in.Grid) {
		writeError(c, fmt.Errorf("%w: grid %s is outside your jurisdiction", ErrForbidden, in.Grid))
		return
	}
	if in.Grid == "" && !p.Where.All && p.Role != access.Dispatcher {
		writeError(c, &queryError{"grid", "is required: give the grid or lat/lon inside your jurisdiction"})
		return
	}
	who := s.actor(p, nil, "")
	cs, err := s.cfg.Pipeline.Cases.Create(c.Request.Context(), cases.Case{Source: in.Source, Category: in.Category,
		Title: strings.TrimSpace(in.Title), Description: in.Description, Grid: in.Grid, CameraID: in.CameraID,
		Lat: in.Lat, Lon: in.Lon, Priority: in.Priority, LimitDays: in.LimitDays, Reporter: in.Reporter}, who, "filed by "+in.Source)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/v1/cases/"+cs.ID)
	c.JSON(http.StatusCreated, cs)
}

// dashboard answers the centre's figures for a period (default the last
// 30 days) and optionally a grid subtree.
func (s *Server) dashboard(c *gin.Context) {
	to, from := time.Now(), time.Now().AddDate(0, 0, -30)
	for key, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.Query(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(c, &queryError{key, "must be an RFC 3339 time"})
				return
			}
			*dst = t
		}
	}
	p, ix := principal(c), s.grids.Index()
	var want map[string]bool
	if g := c.Query("grid"); g != "" {
		cells := ix.Subtree(g)
		if cells == nil || !seesGrid(p, ix, g) {
			s.hidden(c, "grid "+g)
			return
		}
		want = map[string]bool{}
		for _, cell := range cells {
			want[cell] = true
		}
	}
	f, err := s.cfg.Pipeline.Cases.FiguresOf(c.Request.Context(), from, to, func(cs cases.Case) bool {
		return seesCase(p, cs) && (want == nil || want[cs.Grid])
	})
	if err != nil {
		writeError(c, err)
		return
	}
	kinds, err := s.cfg.Pipeline.Events.CountByKindOf(c.Request.Context(), from, to, func(in events.Incident) bool {
		if !seesIncident(p, in) {
			return false
		}
		if want == nil {
			return true
		}
		for _, g := range in.Grids {
			if want[g] {
				return true
			}
		}
		return false
	})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"cases": f, "incidents_by_kind": kinds})
}

// stream is a server-sent-event stream of incidents and case changes
// (text/event-stream): each message's id is its outbox sequence number, so
// a client that reconnects with Last-Event-ID misses nothing.
// ?topics=case,incident keeps only those prefixes.
func (s *Server) stream(c *gin.Context) {
	if n := s.streams.Add(1); n > int64(s.cfg.MaxStreams) {
		s.streams.Add(-1)
		writeError(c, fmt.Errorf("%w: %d event streams are open, the most this node serves", ErrBusy, s.cfg.MaxStreams))
		return
	}
	defer s.streams.Add(-1)
	// A stream outlives the server's read and write timeouts.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ctx := c.Request.Context()
	es := s.cfg.Pipeline.Events
	p := principal(c)
	caseCache := map[string]bool{}
	after, err := strconv.ParseInt(c.GetHeader("Last-Event-ID"), 10, 64)
	if err != nil || after < 0 {
		if after, err = es.LastSeq(ctx); err != nil {
			writeError(c, err)
			return
		}
	}
	var prefixes []string
	for _, p := range strings.Split(c.Query("topics"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefixes = append(prefixes, p+".")
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.Flush()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			c.Writer.Flush()
		case <-poll.C:
			msgs, err := es.Messages(ctx, after, 200)
			if err != nil {
				continue
			}
			for _, m := range msgs {
				after = m.Seq
				if len(prefixes) > 0 && !hasPrefix(m.Topic, prefixes) {
					continue
				}
				if !s.seesMessage(ctx, p, m, caseCache) {
					continue
				}
				fmt.Fprintf(c.Writer, "id: %d\nevent: %s\ndata: %s\n\n", m.Seq, m.Topic, m.Body)
			}
			if len(msgs) > 0 {
				c.Writer.Flush()
			}
		}
	}
}

func hasPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// seesMessage tells whether a stream message is the principal's to see:
// incidents by their cells (with events:read), case changes by the case
// (with cases:read). Case visibility is looked up once per stream.
func (s *Server) seesMessage(ctx context.Context, p *access.Principal, m events.Message, seen map[string]bool) bool {
	switch {
	case strings.HasPrefix(m.Topic, "incident."):
		if !p.Can(access.EventsRead) {
			return false
		}
		var in events.Incident
		return json.Unmarshal(m.Body, &in) == nil && seesIncident(p, in)
	case strings.HasPrefix(m.Topic, "case."):
		if !p.Can(access.CasesRead) {
			return false
		}
		var row struct {
			CaseID string `json:"case_id"`
		}
		if json.Unmarshal(m.Body, &row) != nil || row.CaseID == "" {
			return false
		}
		if p.Where.All {
			return true
		}
		if strings.HasSuffix(m.Topic, ".dispatch") || strings.HasSuffix(m.Topic, ".join") {
			delete(seen, row.CaseID) // assignee or place may have changed
		}
		ok, known := seen[row.CaseID]
		if !known {
			cs, err := s.cfg.Pipeline.Cases.Get(ctx, row.CaseID)
			ok = err == nil && seesCase(p, cs)
			if len(seen) > 10_000 {
				clear(seen)
			}
			seen[row.CaseID] = ok
		}
		return ok
	}
	return p.Where.All
}

// listEvents answers what was received: newest first, filtered by
// camera_id, kind, source, grid (subtree), from and to; only events whose
// cells lie in the caller's jurisdiction.
func (s *Server) listEvents(c *gin.Context) {
	limit, err := intParam(c, "limit", 100, 1, 1000)
	if err != nil {
		writeError(c, err)
		return
	}
	f := events.Filter{CameraID: c.Query("camera_id"), Kind: c.Query("kind"), Source: c.Query("source"), Limit: limit + 1}
	for key, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(c, &queryError{key, "must be an RFC 3339 time"})
				return
			}
			*dst = t
		}
	}
	if v := c.Query("cursor"); v != "" {
		var cur events.Cursor
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || json.Unmarshal(b, &cur) != nil {
			writeError(c, &queryError{"cursor", "is not a cursor this server gave out"})
			return
		}
		f.After = &cur
	}
	p, ix := principal(c), s.grids.Index()
	var want map[string]bool
	if g := c.Query("grid"); g != "" {
		if ix.Subtree(g) == nil || !seesGrid(p, ix, g) {
			s.hidden(c, "grid "+g)
			return
		}
		want = map[string]bool{}
		for _, cell := range ix.Subtree(g) {
			want[cell] = true
		}
	}
	items, err := s.cfg.Pipeline.Events.Events(c.Request.Context(), f, func(st events.Stored) bool {
		if !p.Where.HasAny(st.Grids...) {
			return false
		}
		if want == nil {
			return true
		}
		for _, g := range st.Grids {
			if want[g] {
				return true
			}
		}
		return false
	})
	if err != nil {
		writeError(c, err)
		return
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		b, _ := json.Marshal(events.CursorOf(items[limit-1]))
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}
