package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"sharpeyes/registry"
)

// rowError is one bad row of a camera import. Rows are numbered from 1:
// CSV rows by their line (the header is line 1), JSON rows by position.
type rowError struct {
	Row   int    `json:"row"`
	ID    string `json:"id,omitempty"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

type cameraImportReport struct {
	Error   string     `json:"error,omitempty"`
	Rows    []rowError `json:"rows,omitempty"`
	Created int        `json:"created"`
	Updated int        `json:"updated"`
}

// csvColumns are the accepted CSV headers and the JSON field each fills.
var csvColumns = map[string]string{
	"id": "id", "name": "name", "main": "streams.main", "streams.main": "streams.main",
	"sub": "streams.sub", "streams.sub": "streams.sub", "transport": "transport", "on_demand": "on_demand",
	"lat": "location.lat", "lon": "location.lon", "grid": "grid", "tags": "tags",
}

// importCameras adds (or with ?mode=upsert also replaces) many cameras from
// CSV with a header row or a JSON array, all or nothing, naming each bad row.
func (s *Server) importCameras(c *gin.Context) {
	mode := c.DefaultQuery("mode", "create")
	if mode != "create" && mode != "upsert" {
		writeError(c, &queryError{"mode", "must be create or upsert"})
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, jsonError(err))
		return
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var rows []importRow
	switch mt {
	case "text/csv":
		rows, err = parseCSVRows(body)
	case "application/json":
		rows, err = parseJSONRows(body)
	default:
		writeError(c, fmt.Errorf("%w: want text/csv or application/json", ErrUnsupportedMedia))
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	if len(rows) == 0 {
		writeError(c, fmt.Errorf("%w: no rows to import", ErrBadRequest))
		return
	}
	var bad []rowError
	pr, ix := principal(c), s.grids.Index()
	seen := map[string]int{}
	cams := make([]registry.Camera, 0, len(rows))
	for _, r := range rows {
		if r.err != nil {
			bad = append(bad, rowErr(r.line, r.in.ID, r.err))
			continue
		}
		cam := r.in.camera()
		if old, exists := s.catalog.Get(cam.ID); exists && mode == "upsert" {
			keepSecrets(&cam, &old) // an export fed back keeps the passwords it showed as ***
		}
		cam.Normalize()
		err := cam.Validate()
		if err == nil {
			err = s.checkGrid(cam.Grid)
		}
		if err == nil {
			if old, exists := s.catalog.Get(cam.ID); (exists && !s.seesCamera(pr, ix, old)) || !s.seesCamera(pr, ix, cam) {
				err = &registry.FieldError{Field: "location", Msg: "the camera lies outside your jurisdiction"}
			}
		}
		if err == nil {
			if first, dup := seen[cam.ID]; dup {
				err = &registry.FieldError{Field: "id", Msg: fmt.Sprintf("repeats row %d", first)}
			} else if _, exists := s.catalog.Get(cam.ID); exists && mode == "create" {
				err = &registry.FieldError{Field: "id", Msg: "already exists (use mode=upsert to replace)"}
			}
		}
		seen[cam.ID] = r.line
		if err != nil {
			bad = append(bad, rowErr(r.line, cam.ID, err))
			continue
		}
		cams = append(cams, cam)
	}
	if len(bad) > 0 {
		c.JSON(http.StatusBadRequest, cameraImportReport{
			Error: fmt.Sprintf("camera import refused: %d of %d row(s) have errors; nothing was changed", len(bad), len(rows)),
			Rows:  bad,
		})
		return
	}
	created, updated, err := s.store.ImportCameras(c.Request.Context(), cams, mode == "upsert")
	if err != nil {
		writeError(c, err)
		return
	}
	for _, cam := range cams {
		s.sync.PutCamera(cam) // revision 0: applied now, the watch orders later writes
	}
	s.log.Info("cameras imported", "created", created, "updated", updated, "by", pr.Who())
	c.JSON(http.StatusOK, cameraImportReport{Created: created, Updated: updated})
}

func rowErr(line int, id string, err error) rowError {
	re := rowError{Row: line, ID: id, Error: err.Error()}
	var fe *registry.FieldError
	var qe *queryError
	switch {
	case errors.As(err, &fe):
		re.Field, re.Error = fe.Field, fe.Msg
	case errors.As(err, &qe):
		re.Field, re.Error = qe.field, qe.msg
	}
	return re
}

type importRow struct {
	line int
	in   cameraInput
	err  error
}

func parseJSONRows(body []byte) ([]importRow, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("%w: want a JSON array of cameras: %v", ErrBadRequest, err)
	}
	rows := make([]importRow, len(raws))
	for i, raw := range raws {
		rows[i].line = i + 1
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows[i].in); err != nil {
			rows[i].err = jsonError(err)
		}
	}
	return rows, nil
}

// maxImportRows bounds one import (a street has thousands of cameras, not millions).
const maxImportRows = 100_000

func parseCSVRows(body []byte) ([]importRow, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))) // Excel's BOM
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: CSV needs a header row: %v", ErrBadRequest, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		f, ok := csvColumns[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			return nil, &queryError{h, "unknown CSV column (known: id, name, main, sub, transport, on_demand, lat, lon, grid, tags)"}
		}
		cols[i] = f
	}
	var rows []importRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil { // a malformed line: report it, keep reading
			row := importRow{err: fmt.Errorf("%w: %v", ErrBadRequest, err)}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				row.line = pe.StartLine
			}
			rows = append(rows, row)
			if len(rows) > maxImportRows {
				return nil, fmt.Errorf("%w: more than %d rows", ErrBadRequest, maxImportRows)
			}
			continue
		}
		line, _ := r.FieldPos(0) // a record has at least one field
		row := importRow{line: line}
		row.in, row.err = csvCamera(cols, rec)
		rows = append(rows, row)
	}
	return rows, nil
}

func csvCamera(cols, rec []string) (cameraInput, error) {
	var in cameraInput
	var lat, lon *float64
	for i, v := range rec {
		v = strings.TrimSpace(v)
		switch cols[i] {
		case "id":
			in.ID = v
		case "name":
			in.Name = v
		case "streams.main":
			in.Streams.Main = v
		case "streams.sub":
			in.Streams.Sub = v
		case "transport":
			in.Transport = v
		case "grid":
			in.Grid = v
		case "tags":
			for _, t := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '|' }) {
				in.Tags = append(in.Tags, strings.TrimSpace(t))
			}
		case "on_demand":
			if v == "" {
				continue
			}
			b, err := parseBool(v)
			if err != nil {
				return in, &queryError{"on_demand", "must be true or false"}
			}
			in.OnDemand = &b
		case "location.lat", "location.lon":
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return in, &queryError{cols[i], "must be a number of degrees"}
			}
			if cols[i] == "location.lat" {
				lat = &f
			} else {
				lon = &f
			}
		}
	}
	if (lat == nil) != (lon == nil) {
		return in, &queryError{"location", "give both lat and lon, or neither"}
	}
	if lat != nil {
		in.Location = &registry.Location{Lat: *lat, Lon: *lon}
	}
	return in, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "y", "是":
		return true, nil
	case "0", "false", "no", "n", "否":
		return false, nil
	}
	return false, errors.New("not a boolean")
}
