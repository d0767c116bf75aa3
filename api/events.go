package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
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
	if s.cases == nil {
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
		if err == nil && e.Source == "gateway" {
			// The gateway's own events (offline, video loss, storage full)
			// are believed as the gateway's: nobody may speak for it.
			err = &events.FieldError{Field: "source", Msg: `"gateway" is the gateway's own source; name yours (onvif, isapi, gb28181, ai, hotline, grid-report)`}
		}
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
		cells, site := s.places.Cells(e)
		out, err := s.intake.Intake(c.Request.Context(), e, cells, site)
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
			e, err = events.FromGB28181(body, time.Now())
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
			evs[i].ForCamera(cam)
		}
		var pictureErr string
		if picture != nil {
			if ct, err := events.CheckPicture(picture); err != nil {
				pictureErr = err.Error() // the alarm counts even if its picture does not
			} else if _, ok := s.visibleCamera(p, cam); ok {
				id, err := s.events.PutMedia(c.Request.Context(), cam, ct, picture, time.Now())
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
	m, err := s.events.MediaByID(c.Request.Context(), c.Param("id"))
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
	p := principal(c)
	want, ok := s.gridFilter(c, p)
	if !ok {
		return
	}
	items, err := s.events.Events(c.Request.Context(), f, func(st events.Stored) bool {
		return p.Where.HasAny(st.Grids...) && want.keeps(st.Grids...)
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
