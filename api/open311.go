package api

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/cases"
	"sharpeyes/events"
)

func eventsAt(lat, lon float64) events.Event { return events.Event{Lat: &lat, Lon: &lon} }

// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): the view
// hotline systems (12345) integrate with. Services are case categories;
// service requests are cases. Every resource answers .json or .xml.

type o311Service struct {
	XMLName     xml.Name `json:"-" xml:"service"`
	Code        string   `json:"service_code" xml:"service_code"`
	Name        string   `json:"service_name" xml:"service_name"`
	Description string   `json:"description" xml:"description"`
	Metadata    bool     `json:"metadata" xml:"metadata"`
	Type        string   `json:"type" xml:"type"`
	Keywords    string   `json:"keywords" xml:"keywords"`
	Group       string   `json:"group" xml:"group"`
}

// o311Services are the categories a hotline may file.
var o311Services = []o311Service{
	{Code: "device_fault", Name: "监控设备故障", Description: "A camera is offline, dark or not recording", Group: "视频监控"},
	{Code: "device_tamper", Name: "监控设备被遮挡或破坏", Description: "A camera is covered, moved or damaged", Group: "视频监控"},
	{Code: "public_order", Name: "公共秩序", Description: "Crowds, noise, disputes in public places", Group: "社会治理"},
	{Code: "public_security", Name: "治安隐患", Description: "Intrusion, suspicious objects, loitering", Group: "社会治理"},
	{Code: "fire_safety", Name: "消防安全", Description: "Smoke, fire, blocked fire exits", Group: "安全生产"},
	{Code: "environment", Name: "市容环境", Description: "Litter, broken street lights, damaged facilities", Group: "城市管理"},
}

type o311Request struct {
	XMLName           xml.Name `json:"-" xml:"request"`
	ID                string   `json:"service_request_id" xml:"service_request_id"`
	Status            string   `json:"status" xml:"status"`
	StatusNotes       string   `json:"status_notes" xml:"status_notes"`
	ServiceName       string   `json:"service_name" xml:"service_name"`
	ServiceCode       string   `json:"service_code" xml:"service_code"`
	Description       string   `json:"description" xml:"description"`
	AgencyResponsible string   `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string   `json:"service_notice" xml:"service_notice"`
	Requested         string   `json:"requested_datetime" xml:"requested_datetime"`
	Updated           string   `json:"updated_datetime" xml:"updated_datetime"`
	Expected          string   `json:"expected_datetime" xml:"expected_datetime"`
	Address           string   `json:"address" xml:"address"`
	Lat               *float64 `json:"lat" xml:"lat,omitempty"`
	Long              *float64 `json:"long" xml:"long,omitempty"`
}

type o311Error struct {
	XMLName     xml.Name `json:"-" xml:"error"`
	Code        int      `json:"code" xml:"code"`
	Description string   `json:"description" xml:"description"`
}

// o311Write answers in the format the path asked for.
func o311Write(c *gin.Context, format, root string, code int, items any) {
	if format == "xml" {
		b, _ := xml.Marshal(struct {
			XMLName xml.Name
			Items   any
		}{xml.Name{Local: root}, items})
		c.Data(code, "text/xml; charset=utf-8", append([]byte(xml.Header), b...))
		return
	}
	c.JSON(code, items)
}

func o311Fail(c *gin.Context, format string, code int, msg string) {
	o311Write(c, format, "errors", code, []o311Error{{Code: code, Description: msg}})
}

// splitFormat turns "services.json" into ("services", "json").
func splitFormat(file string) (string, string, bool) {
	i := strings.LastIndexByte(file, '.')
	if i < 0 {
		return "", "", false
	}
	name, f := file[:i], file[i+1:]
	return name, f, f == "json" || f == "xml"
}

func (s *Server) open311(c *gin.Context) {
	name, format, ok := splitFormat(c.Param("file"))
	if !ok {
		o311Fail(c, "json", http.StatusNotFound, "resources end in .json or .xml")
		return
	}
	switch {
	case name == "services" && c.Request.Method == http.MethodGet:
		o311Write(c, format, "services", http.StatusOK, o311Services)
	case name == "requests" && c.Request.Method == http.MethodGet:
		s.o311List(c, format)
	case name == "requests" && c.Request.Method == http.MethodPost:
		s.o311Create(c, format)
	default:
		o311Fail(c, format, http.StatusNotFound, "no such resource")
	}
}

func (s *Server) open311One(c *gin.Context) {
	id, format, ok := splitFormat(c.Param("file"))
	if !ok {
		o311Fail(c, "json", http.StatusNotFound, "resources end in .json or .xml")
		return
	}
	cs, err := s.cases.Get(c.Request.Context(), id)
	if err != nil || !seesCase(principal(c), cs) {
		o311Fail(c, format, http.StatusNotFound, "no service request "+id)
		return
	}
	o311Write(c, format, "service_requests", http.StatusOK, []o311Request{s.o311Of(cs)})
}

func serviceName(code string) string {
	for _, sv := range o311Services {
		if sv.Code == code {
			return sv.Name
		}
	}
	return code
}

func (s *Server) o311Of(cs cases.Case) o311Request {
	r := o311Request{ID: cs.ID, Status: "closed", ServiceCode: cs.Category, ServiceName: serviceName(cs.Category),
		Description: cs.Description, AgencyResponsible: cs.Assignee, StatusNotes: string(cs.State),
		Requested: cs.CreatedAt.Format(time.RFC3339), Updated: cs.UpdatedAt.Format(time.RFC3339), Lat: cs.Lat, Long: cs.Lon}
	if r.Description == "" {
		r.Description = cs.Title
	}
	if cs.State.Open() {
		r.Status = "open"
	}
	if d := s.cases.Deadline(cs); !d.IsZero() {
		r.Expected = d.Format(time.RFC3339)
	}
	return r
}

// o311List answers GET requests: service_request_id (comma list),
// service_code, status, start_date, end_date; newest 1000 at most.
func (s *Server) o311List(c *gin.Context, format string) {
	var out []o311Request
	if ids := c.Query("service_request_id"); ids != "" {
		for _, id := range strings.Split(ids, ",") {
			if cs, err := s.cases.Get(c.Request.Context(), strings.TrimSpace(id)); err == nil && seesCase(principal(c), cs) {
				out = append(out, s.o311Of(cs))
			}
		}
		o311Write(c, format, "service_requests", http.StatusOK, out)
		return
	}
	var from, to time.Time
	for key, dst := range map[string]*time.Time{"start_date": &from, "end_date": &to} {
		if v := c.Query(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				o311Fail(c, format, http.StatusBadRequest, key+" must be a W3C date-time (RFC 3339)")
				return
			}
			*dst = t
		}
	}
	status := c.Query("status")
	if status != "" && status != "open" && status != "closed" {
		o311Fail(c, format, http.StatusBadRequest, "status must be open or closed")
		return
	}
	all, err := s.cases.List(c.Request.Context(), cases.Filter{Category: c.Query("service_code"), Escalation: -1, Limit: 100000,
		Within: caseWithin(principal(c))})
	if err != nil {
		o311Fail(c, format, http.StatusInternalServerError, "cases unavailable")
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt.After(all[j].CreatedAt) })
	for _, cs := range all {
		if (!from.IsZero() && cs.CreatedAt.Before(from)) || (!to.IsZero() && cs.CreatedAt.After(to)) {
			continue
		}
		r := s.o311Of(cs)
		if status != "" && r.Status != status {
			continue
		}
		out = append(out, r)
		if len(out) == 1000 {
			break
		}
	}
	if out == nil {
		out = []o311Request{}
	}
	o311Write(c, format, "service_requests", http.StatusOK, out)
}

// o311Create files a case from a hotline (form fields as GeoReport v2).
func (s *Server) o311Create(c *gin.Context, format string) {
	code := c.PostForm("service_code")
	if serviceName(code) == code {
		o311Fail(c, format, http.StatusBadRequest, fmt.Sprintf("service_code %q is not a service (see services.%s)", code, format))
		return
	}
	var lat, lon *float64
	if v, w := c.PostForm("lat"), c.PostForm("long"); v != "" || w != "" {
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil || a < -90 || a > 90 || b < -180 || b > 180 {
			o311Fail(c, format, http.StatusBadRequest, "lat and long must be WGS-84 degrees")
			return
		}
		lat, lon = &a, &b
	}
	addr := c.PostForm("address_string")
	if lat == nil && addr == "" {
		o311Fail(c, format, http.StatusBadRequest, "a location is required: lat and long, or address_string")
		return
	}
	desc := strings.TrimSpace(c.PostForm("description"))
	title := desc
	if r := []rune(title); len(r) > 40 {
		title = string(r[:40]) + "…"
	}
	if title == "" {
		title = serviceName(code)
	}
	grid := ""
	if lat != nil {
		if cells, _ := s.places.Cells(eventsAt(*lat, *lon)); len(cells) > 0 {
			grid = cells[0]
		}
	}
	reporter := strings.TrimSpace(c.PostForm("first_name") + " " + c.PostForm("last_name") + " " + c.PostForm("phone"))
	cs, err := s.cases.CreateNoted(c.Request.Context(), cases.Case{Source: "hotline", Category: code, Title: title,
		Description: strings.TrimSpace(desc + "\n" + addr), Grid: grid, Lat: lat, Lon: lon, Priority: 3, LimitDays: 5,
		Reporter: reporter}, cases.Actor{ID: "open311:" + principal(c).Who(), Role: cases.System},
		cases.Note{Text: "经 Open311 热线接口登记", Key: "filed_open311"})
	if err != nil {
		o311Fail(c, format, http.StatusBadRequest, err.Error())
		return
	}
	type created struct {
		XMLName xml.Name `json:"-" xml:"request"`
		ID      string   `json:"service_request_id" xml:"service_request_id"`
		Notice  string   `json:"service_notice" xml:"service_notice"`
		Account *string  `json:"account_id" xml:"account_id"`
	}
	o311Write(c, format, "service_requests", http.StatusOK, []created{{ID: cs.ID, Notice: "已受理 received"}})
}

// open311Key is the api_key an Open311 client sends (GeoReport v2 puts it
// in the form of a POST; we accept it on every Open311 request, so that
// reading requests needs a key too). Empty elsewhere.
func (s *Server) open311Key(c *gin.Context) string {
	if !strings.HasPrefix(c.Request.URL.Path, "/open311/") {
		return ""
	}
	if k := c.Query("api_key"); k != "" {
		return k
	}
	if c.Request.Method == http.MethodPost {
		return c.PostForm("api_key")
	}
	return ""
}

// o311Refuse answers an Open311 refusal in the client's format.
func o311Refuse(c *gin.Context, code int, msg string) {
	_, format, ok := splitFormat(c.Param("file"))
	if !ok {
		format = "json"
	}
	o311Fail(c, format, code, msg)
	c.Abort()
}
