package api

import (
	"context"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/health"
	"sharpeyes/ingest"
	"sharpeyes/registry"
)

// Health is the cameras' health history: every camera's changes over a
// span, each led by the one in force at its start.
type Health interface {
	History(ctx context.Context, from, to time.Time) (map[string][]health.Change, error)
}

// shareView is how a span of camera-time was spent: the online rate (the
// share of the known time online; null when nothing was known) and the
// seconds online, offline and unknown.
type shareView struct {
	Rate     *float64 `json:"rate"`
	OnlineS  int64    `json:"online_s"`
	OfflineS int64    `json:"offline_s"`
	UnknownS int64    `json:"unknown_s"`
}

func viewShare(sh health.Share) shareView {
	v := shareView{OnlineS: int64(sh.Online / time.Second), OfflineS: int64(sh.Offline / time.Second), UnknownS: int64(sh.Unknown / time.Second)}
	if r, ok := sh.Rate(); ok {
		r = math.Round(r*1e4) / 1e4
		v.Rate = &r
	}
	return v
}

// dayView is one day of the online rate.
type dayView struct {
	Date string `json:"date"` // YYYY-MM-DD in the street's time zone
	shareView
}

// cellRate is one cell's (and its subtree's) cameras over the span.
type cellRate struct {
	Code    string    `json:"code"`
	Name    string    `json:"name"`
	Cameras int       `json:"cameras"`
	Offline int       `json:"offline"` // offline now
	Today   shareView `json:"today"`
	Period  shareView `json:"period"`
}

// offlineCamera is a camera offline now, with why and since when.
type offlineCamera struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Grid   string    `json:"grid"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// cameraRate is one camera's rate (?include=cameras).
type cameraRate struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Grid   string    `json:"grid"`
	State  string    `json:"state"`
	Today  shareView `json:"today"`
	Period shareView `json:"period"`
}

// onlineRate is GET /health/online-rate.
type onlineRate struct {
	Grid     string          `json:"grid,omitempty"`
	From     time.Time       `json:"from"`
	To       time.Time       `json:"to"`
	Cameras  int             `json:"cameras"`
	Today    shareView       `json:"today"`
	Period   shareView       `json:"period"`
	Days     []dayView       `json:"days"`
	Cells    []cellRate      `json:"cells"`
	Offline  []offlineCamera `json:"offline"`
	ByCamera []cameraRate    `json:"by_camera,omitempty"`
}

// rateCamera is a camera counted in a rate: where it lies, its share per
// day of the span and its last recorded change (if any).
type rateCamera struct {
	cam  registry.Camera
	base string
	days []health.Share
	last *health.Change
}

// camerasFor lists the cameras p may see that pass want, with their
// shares per day of [from, to) in the street's time zone.
func (s *Server) camerasFor(ctx context.Context, p *access.Principal, want cellFilter, from, to time.Time) ([]rateCamera, error) {
	hist, err := s.health.History(ctx, from, to)
	if err != nil {
		return nil, err
	}
	ix := s.grids.Index()
	var out []rateCamera
	for _, cam := range s.catalog.All() {
		cells := locate(ix, cam)
		if !seesCells(p, cells) || !want.keeps(append([]string{cells.Base}, cells.Special...)...) {
			continue
		}
		rc := rateCamera{cam: cam, base: cells.Base, days: health.Days(hist[cam.ID], from, to, s.cfg.Location)}
		if ch := hist[cam.ID]; len(ch) > 0 {
			rc.last = &ch[len(ch)-1]
		}
		out = append(out, rc)
	}
	return out, nil
}

func sumShares(xs []health.Share) health.Share {
	var t health.Share
	for _, x := range xs {
		t = t.Add(x)
	}
	return t
}

// onlineRate answers the online rate (设备在线率) of the caller's cameras
// under ?grid= (default: all they see): today's, the last ?days= (1–92,
// default 30) day by day, per child cell, and the cameras offline now,
// longest first.
func (s *Server) onlineRate(c *gin.Context) {
	days, err := intParam(c, "days", 30, 1, 92)
	if err != nil {
		writeError(c, err)
		return
	}
	p := principal(c)
	want, ok := s.gridFilter(c, p)
	if !ok {
		return
	}
	now, today := s.today()
	from := today.AddDate(0, 0, -(days - 1))
	cams, err := s.camerasFor(c.Request.Context(), p, want, from, now)
	if err != nil {
		writeError(c, err)
		return
	}
	out := onlineRate{Grid: c.Query("grid"), From: from, To: now, Cameras: len(cams), Days: []dayView{}, Cells: []cellRate{}, Offline: []offlineCamera{}}
	perDay := make([]health.Share, days)
	var all []health.Share
	for _, rc := range cams {
		for i := range min(len(rc.days), days) {
			perDay[i] = perDay[i].Add(rc.days[i])
		}
		all = append(all, rc.days...)
	}
	for i, sh := range perDay {
		out.Days = append(out.Days, dayView{Date: from.AddDate(0, 0, i).Format("2006-01-02"), shareView: viewShare(sh)})
	}
	out.Today, out.Period = viewShare(perDay[days-1]), viewShare(sumShares(all))

	// Who is offline now, and since when.
	ix := s.grids.Index()
	offlineNow := map[string]bool{}
	withStatus := c.Query("include") == "cameras"
	for _, rc := range cams {
		st := s.quickStatus(c.Request.Context(), rc)
		if st.State == ingest.StateOffline {
			offlineNow[rc.cam.ID] = true
			since := st.Since
			// The history remembers an outage begun before this node
			// started (or took the camera over); its status only since.
			if rc.last != nil && rc.last.State == health.Offline && (since.IsZero() || rc.last.At.Before(since)) {
				since = rc.last.At
			}
			out.Offline = append(out.Offline, offlineCamera{ID: rc.cam.ID, Name: rc.cam.Name, Grid: rc.base, Reason: st.OfflineReason(), Since: since})
		}
		if withStatus {
			last := health.Share{}
			if len(rc.days) > 0 {
				last = rc.days[len(rc.days)-1]
			}
			out.ByCamera = append(out.ByCamera, cameraRate{ID: rc.cam.ID, Name: rc.cam.Name, Grid: rc.base, State: string(st.State),
				Today: viewShare(last), Period: viewShare(sumShares(rc.days))})
		}
	}
	sort.SliceStable(out.Offline, func(i, j int) bool {
		a, b := out.Offline[i], out.Offline[j]
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.ID < b.ID
	})

	// The cells one level down (the roots the caller sees without ?grid=).
	for _, code := range ix.Children(c.Query("grid")) {
		if !seesGrid(p, ix, code) {
			continue
		}
		row := cellRate{Code: code}
		if cell, ok := ix.Get(code); ok {
			row.Name = cell.Name
		}
		var todays, period []health.Share
		for _, rc := range cams {
			if rc.base == "" || !ix.Within(rc.base, code) {
				continue
			}
			row.Cameras++
			if offlineNow[rc.cam.ID] {
				row.Offline++
			}
			if len(rc.days) > 0 {
				todays = append(todays, rc.days[len(rc.days)-1])
			}
			period = append(period, rc.days...)
		}
		if row.Cameras == 0 {
			continue
		}
		row.Today, row.Period = viewShare(sumShares(todays)), viewShare(sumShares(period))
		out.Cells = append(out.Cells, row)
	}
	c.JSON(http.StatusOK, out)
}

// cellShares is each cell's cameras' share over [from, to) (a camera
// counts for its base cell and every cell above it), for the reviews.
func (s *Server) cellShares(ctx context.Context, p *access.Principal, want cellFilter, from, to time.Time) (map[string]health.Share, map[string]int, error) {
	hist, err := s.health.History(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	ix := s.grids.Index()
	shares, counts := map[string]health.Share{}, map[string]int{}
	for _, cam := range s.catalog.All() {
		cells := locate(ix, cam)
		if cells.Base == "" || !seesCells(p, cells) || !want.keeps(append([]string{cells.Base}, cells.Special...)...) {
			continue
		}
		sh := health.Tally(hist[cam.ID], from, to)
		for code, depth := cells.Base, 0; code != "" && depth < 32; depth++ { // a cell and those above it
			shares[code] = shares[code].Add(sh)
			counts[code]++
			cell, ok := ix.Get(code)
			if !ok {
				break
			}
			code = cell.Parent
		}
	}
	return shares, counts, nil
}

// gridGauge is a cell's figures for /metrics: today's online rate of the
// cameras in its subtree and how many are in each state, as the health
// history last recorded them (so every node of a cluster tells the same).
type gridGauge struct {
	grid                     string
	rate                     float64
	known                    bool
	online, offline, unknown int
}

// gridGauges are the cells p sees that hold cameras p sees.
func (s *Server) gridGauges(ctx context.Context, p *access.Principal) ([]gridGauge, error) {
	now, today := s.today()
	hist, err := s.health.History(ctx, today, now)
	if err != nil {
		return nil, err
	}
	ix := s.grids.Index()
	type acc struct {
		share                    health.Share
		online, offline, unknown int
	}
	per := map[string]*acc{}
	for _, cam := range s.catalog.All() {
		cells := locate(ix, cam)
		if cells.Base == "" || !seesCells(p, cells) {
			continue
		}
		ch := hist[cam.ID]
		sh := health.Tally(ch, today, now)
		state := health.Unknown
		if len(ch) > 0 {
			state = ch[len(ch)-1].State
		}
		for code, depth := cells.Base, 0; code != "" && depth < 32; depth++ {
			if seesGrid(p, ix, code) {
				a := per[code]
				if a == nil {
					a = &acc{}
					per[code] = a
				}
				a.share = a.share.Add(sh)
				switch state {
				case health.Online:
					a.online++
				case health.Offline:
					a.offline++
				default:
					a.unknown++
				}
			}
			cell, ok := ix.Get(code)
			if !ok {
				break
			}
			code = cell.Parent
		}
	}
	out := make([]gridGauge, 0, len(per))
	for code, a := range per {
		g := gridGauge{grid: code, online: a.online, offline: a.offline, unknown: a.unknown}
		g.rate, g.known = a.share.Rate()
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].grid < out[j].grid })
	return out, nil
}

// healthFigures is the dashboard's block of the cameras' health: how many
// the caller sees, in each state as last recorded, and the online rate
// over [from, to) and today.
type healthFigures struct {
	Cameras int       `json:"cameras"`
	Online  int       `json:"online"`
	Offline int       `json:"offline"`
	Unknown int       `json:"unknown"`
	Period  shareView `json:"period"`
	Today   shareView `json:"today"`
}

func (s *Server) healthFigures(ctx context.Context, p *access.Principal, want cellFilter, from, to time.Time) (healthFigures, error) {
	now, today := s.today()
	to = minTime(to, now)
	start := minTime(from, today)
	if !from.Before(to) {
		start = today
	}
	hist, err := s.health.History(ctx, start, now)
	if err != nil {
		return healthFigures{}, err
	}
	ix := s.grids.Index()
	var f healthFigures
	var period, todays health.Share
	for _, cam := range s.catalog.All() {
		cells := locate(ix, cam)
		if !seesCells(p, cells) || !want.keeps(append([]string{cells.Base}, cells.Special...)...) {
			continue
		}
		ch := hist[cam.ID]
		f.Cameras++
		switch state := lastState(ch); state {
		case health.Online:
			f.Online++
		case health.Offline:
			f.Offline++
		default:
			f.Unknown++
		}
		if from.Before(to) {
			period = period.Add(health.Tally(ch, from, to))
		}
		todays = todays.Add(health.Tally(ch, today, now))
	}
	f.Period, f.Today = viewShare(period), viewShare(todays)
	return f, nil
}

// lastState is the state the changes end in (unknown: none).
func lastState(ch []health.Change) health.State {
	if len(ch) == 0 {
		return health.Unknown
	}
	return ch[len(ch)-1].State
}

// today is now and the start of today in the street's time zone.
func (s *Server) today() (now, midnight time.Time) {
	now = time.Now().In(s.cfg.Location)
	return now, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
}

// quickStatus is a camera's status for a listing of many: this node's
// own for the cameras it owns, else what the health history last
// recorded (one etcd read per camera of another node would be hundreds
// a panel refresh).
func (s *Server) quickStatus(ctx context.Context, rc rateCamera) statusView {
	if owner := s.cluster.Owner(rc.cam.ID); owner.ID == s.cluster.Self().ID {
		return s.statusOf(ctx, rc.cam.ID)
	}
	v := statusView{Status: ingest.Status{State: ingest.StateUnknown}, Node: s.cluster.Owner(rc.cam.ID).ID}
	if rc.last != nil {
		v.Since = rc.last.At
		switch rc.last.State {
		case health.Online:
			v.State = ingest.StateOnline
		case health.Offline:
			v.State, v.Reason = ingest.StateOffline, rc.last.Reason
		}
	}
	return v
}
