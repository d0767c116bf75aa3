package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/grid"
)

// actionBody is the body of a case action. Who acts is the authenticated
// principal: a body cannot name an actor.
type actionBody struct {
	cases.Args
}

// actor is the principal as the case machine knows it. On a case of a cell
// that names them as its grid chief (网格长), a grid worker evaluates as
// the chief.
func (s *Server) actor(p *access.Principal, cs *cases.Case, act cases.Action) cases.Actor {
	a := cases.Actor{ID: p.Username, Role: cases.Role(p.Role), User: p.Username, Department: p.Department}
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
	cs, err := s.cases.Get(c.Request.Context(), id)
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
	if act == cases.Dispatch {
		a, err := s.roleAssignee(cur, body.Assignee)
		if err == nil {
			err = s.checkAssignee(a)
		}
		if err != nil {
			writeError(c, err)
			return
		}
		body.Assignee = a
	}
	who := s.actor(principal(c), &cur, act)
	cs, err := s.cases.Act(c.Request.Context(), c.Param("id"), act, who, body.Args)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.caseView(principal(c), cs))
}

func (s *Server) listCases(c *gin.Context) {
	limit, after, ok := pageParams(c)
	if !ok {
		return
	}
	esc := -1
	if v := c.Query("escalation"); v != "" {
		var err error
		if esc, err = intParam(c, "escalation", 0, 0, 3); err != nil {
			writeError(c, err)
			return
		}
	}
	from, to, err := s.timeRange(c)
	if err != nil {
		writeError(c, err)
		return
	}
	p := principal(c)
	// ?grid= is the cell's whole subtree, as everywhere else.
	within, ok := s.gridFilter(c, p)
	if !ok {
		return
	}
	items, err := s.cases.List(c.Request.Context(), cases.Filter{State: c.Query("state"), Cells: within.list(),
		CameraID: c.Query("camera_id"), Category: c.Query("category"), Source: c.Query("source"), From: from, To: to,
		Open: c.Query("open") == "true", Escalation: esc, Limit: limit + 1, After: after, Within: caseWithin(p)})
	if err != nil {
		writeError(c, err)
		return
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = encodeCursor(0, items[limit-1].ID)
	}
	views := make([]caseView, len(items))
	for i, cs := range items {
		views[i] = s.caseView(p, cs)
	}
	c.JSON(http.StatusOK, gin.H{"items": views, "next_cursor": next})
}

// timeRange reads from and to (RFC 3339 or YYYY-MM-DD in the street's time
// zone; to is exclusive).
func (s *Server) timeRange(c *gin.Context) (from, to time.Time, err error) {
	loc := s.cfg.Location
	if loc == nil {
		loc = time.Local
	}
	for _, q := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := c.Query(q.name)
		if v == "" {
			continue
		}
		if *q.t, err = time.Parse(time.RFC3339, v); err == nil {
			continue
		}
		if *q.t, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return from, to, &queryError{q.name, "must be RFC 3339 or YYYY-MM-DD"}
		}
	}
	return from, to, nil
}

// caseView is a case as answered: its deadline, the actions the caller may
// take on it now, and (one case) the pictures of the alarms that opened it.
type caseView struct {
	cases.Case
	Deadline *time.Time `json:"deadline,omitempty"`
	Actions  []string   `json:"actions"`
	Media    []string   `json:"media,omitempty"`
}

func (s *Server) caseView(p *access.Principal, cs cases.Case) caseView {
	v := caseView{Case: cs, Actions: []string{}}
	if cs.State.Open() && cs.LimitDays > 0 {
		d := s.cases.Deadline(cs)
		v.Deadline = &d
	}
	if !p.Can(access.CasesWrite) {
		return v
	}
	who := s.actor(p, &cs, "")
	for _, a := range cases.Allowed(cs.State, who, cs.Assignee) {
		v.Actions = append(v.Actions, string(a))
	}
	if chief := s.actor(p, &cs, cases.Evaluate); chief.Role != who.Role && slices.Contains(cases.Allowed(cs.State, chief, cs.Assignee), cases.Evaluate) {
		v.Actions = append(v.Actions, string(cases.Evaluate))
	}
	return v
}

func (s *Server) getCase(c *gin.Context) {
	cs, ok := s.visibleCase(c, c.Param("id"))
	if !ok {
		return
	}
	media, err := s.events.MediaOfIncident(c.Request.Context(), cs.IncidentID, 20)
	if err != nil {
		writeError(c, err)
		return
	}
	v := s.caseView(principal(c), cs)
	v.Media = media
	c.JSON(http.StatusOK, v)
}

func (s *Server) caseAudit(c *gin.Context) {
	if _, ok := s.visibleCase(c, c.Param("id")); !ok {
		return
	}
	rows, err := s.cases.Audit(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": rows, "next_cursor": ""})
}

// manualCase is a case filed by the 12345 hotline, for a resident at the
// counter (walk-in, 来访) or by a grid worker.
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
	// Handling of a grid report: "file" (申办, default) leaves it for the
	// centre to register and dispatch; "immediate" (即办) is a grid worker
	// who handled it on the spot: registered and resolved at once, for the
	// centre to verify. Resolution is the note of the resolve.
	Handling   string `json:"handling"`
	Resolution string `json:"resolution"`
}

func (s *Server) createCase(c *gin.Context) {
	var in manualCase
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if in.Source != "hotline" && in.Source != "grid-report" && in.Source != "walk-in" {
		writeError(c, &queryError{"source", "must be hotline, walk-in or grid-report"})
		return
	}
	if in.Priority == 0 {
		in.Priority = 3
	}
	if in.LimitDays == 0 {
		in.LimitDays = 5
	}
	if in.Grid == "" && in.Lat != nil && in.Lon != nil {
		if cells, _ := s.places.Cells(events.Event{CameraID: in.CameraID, Lat: in.Lat, Lon: in.Lon}); len(cells) > 0 {
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
	var state cases.State
	note := cases.Note{Text: "登记：" + map[string]string{"hotline": "12345热线", "walk-in": "来访", "grid-report": "网格上报"}[in.Source],
		Key: "filed", Args: map[string]string{"source": in.Source}}
	switch in.Handling {
	case "", "file":
	case "immediate":
		if in.Source != "grid-report" || (p.Role != access.GridWorker && p.Role != access.Admin) {
			writeError(c, fmt.Errorf("%w: 即办 (handling immediate) is a grid worker's own grid report", ErrForbidden))
			return
		}
		if strings.TrimSpace(in.Resolution) == "" {
			writeError(c, &queryError{"resolution", "say how it was handled on the spot"})
			return
		}
		state, note = cases.Registered, cases.Note{Text: "即办：网格员当场处置并上报", Key: "handled_on_spot"}
	default:
		writeError(c, &queryError{"handling", "must be file (申办) or immediate (即办)"})
		return
	}
	cs, err := s.cases.CreateNoted(c.Request.Context(), cases.Case{Source: in.Source, Category: in.Category, State: state,
		Title: strings.TrimSpace(in.Title), Description: in.Description, Grid: in.Grid, CameraID: in.CameraID,
		Lat: in.Lat, Lon: in.Lon, Priority: in.Priority, LimitDays: in.LimitDays, Reporter: in.Reporter}, who, note)
	if err != nil {
		writeError(c, err)
		return
	}
	if state == cases.Registered {
		if cs, err = s.cases.Act(c.Request.Context(), cs.ID, cases.Resolve, who, cases.Args{Note: in.Resolution}); err != nil {
			writeError(c, err) // the case stays registered, for the centre
			return
		}
	}
	c.Header("Location", "/api/v1/cases/"+cs.ID)
	c.JSON(http.StatusCreated, s.caseView(p, cs))
}

// checkAssignee accepts an assignee someone will see: a department that
// at least one enabled department user belongs to, or an enabled user who
// works cases (a grid worker or a department user). Anything else would
// orphan the case.
func (s *Server) checkAssignee(a string) error {
	shown := a
	if len(shown) > 64 {
		shown = shown[:64] + "…"
	}
	if a == "" || len(a) > 64 {
		return &queryError{"assignee", fmt.Sprintf("%q is not a department or a user", shown)}
	}
	var depts []string
	for _, u := range s.ids.Users() {
		if u.Disabled {
			continue
		}
		role := access.Role(u.Role)
		if role == access.Department && u.Department != "" {
			if u.Department == a {
				return nil
			}
			if !slices.Contains(depts, u.Department) {
				depts = append(depts, u.Department)
			}
		}
		if u.Username == a && (role == access.GridWorker || role == access.Department) {
			return nil
		}
	}
	slices.Sort(depts)
	return &queryError{"assignee", fmt.Sprintf("no department or case-working user is called %q (departments: %s; or a grid worker's or department user's name, or role:ROLE of the case's cell)",
		shown, strings.Join(depts, ", "))}
}

// roleAssignee turns a dispatch to "role:police" (a 一长六员 role) into the
// user the case's cell names in that role; other assignees pass as given.
func (s *Server) roleAssignee(cs cases.Case, assignee string) (string, error) {
	role, ok := strings.CutPrefix(assignee, "role:")
	if !ok {
		return assignee, nil
	}
	cell, found := s.grids.Index().Get(cs.Grid)
	if !found {
		return "", &queryError{"assignee", fmt.Sprintf("the case has no grid cell whose %s could be named", role)}
	}
	who, known := cell.Roles.Get(role)
	switch {
	case !known:
		return "", &queryError{"assignee", fmt.Sprintf("unknown role %q (%s)", role, strings.Join(grid.RoleNames(), ", "))}
	case who == "":
		return "", &queryError{"assignee", fmt.Sprintf("cell %s names no %s", cell.Code, role)}
	}
	return who, nil
}
