package cases

import (
	"context"
	"sort"
	"time"

	"sharpeyes/sqlstore"
)

// Figures are the centre's dashboard numbers for cases created in a period.
//   - response rate: share of cases that got a first response (registered,
//     resolved on the spot, rejected or merged) within one working day;
//   - resolution rate: share of the cases to be handled (not rejected or
//     duplicate) that are closed or evaluated;
//   - satisfaction rate: share of evaluations rated 4 or 5.
type Figures struct {
	From             time.Time      `json:"from"`
	To               time.Time      `json:"to"`
	Cases            int            `json:"cases"`
	ResponseRate     float64        `json:"response_rate"`
	ResolutionRate   float64        `json:"resolution_rate"`
	SatisfactionRate float64        `json:"satisfaction_rate"`
	Evaluations      int            `json:"evaluations"`
	ByState          map[string]int `json:"by_state"`
	ByCategory       map[string]int `json:"by_category"`
	OpenByEscalation map[int]int    `json:"open_by_escalation"`
	ByGrid           []GridFigures  `json:"by_grid"`
}

// GridFigures are the three rates of one grid cell.
type GridFigures struct {
	Grid             string  `json:"grid"`
	Cases            int     `json:"cases"`
	ResponseRate     float64 `json:"response_rate"`
	ResolutionRate   float64 `json:"resolution_rate"`
	SatisfactionRate float64 `json:"satisfaction_rate"`
}

type tally struct{ n, responded, toHandle, resolved, rated, satisfied int }

func (t tally) rates() (float64, float64, float64) {
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	return ratio(t.responded, t.n), ratio(t.resolved, t.toHandle), ratio(t.satisfied, t.rated)
}

// Figures computes the dashboard for cases created in [from, to), limited
// to grids when given (a grid subtree, already expanded).
func (s *Store) Figures(ctx context.Context, from, to time.Time, grids []string) (Figures, error) {
	want := map[string]bool{}
	for _, g := range grids {
		want[g] = true
	}
	return s.FiguresOf(ctx, from, to, func(c Case) bool { return len(want) == 0 || want[c.Grid] })
}

// FiguresOf is Figures over the cases keep accepts.
func (s *Store) FiguresOf(ctx context.Context, from, to time.Time, keep func(Case) bool) (Figures, error) {
	f := Figures{From: from, To: to, ByState: map[string]int{}, ByCategory: map[string]int{}, OpenByEscalation: map[int]int{}}
	first, err := s.firstResponses(ctx)
	if err != nil {
		return f, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+caseColumns+` FROM cases WHERE created_at >= ? AND created_at < ?`), from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return f, err
	}
	defer rows.Close()
	var total tally
	per := map[string]*tally{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return f, err
		}
		if !keep(c) {
			continue
		}
		g := per[c.Grid]
		if g == nil {
			g = &tally{}
			per[c.Grid] = g
		}
		f.Cases++
		f.ByState[string(c.State)]++
		f.ByCategory[c.Category]++
		if c.State.Open() {
			f.OpenByEscalation[c.Escalation]++
		}
		for _, t := range []*tally{&total, g} {
			s.count(t, c, first)
		}
	}
	f.Evaluations = total.rated
	f.ResponseRate, f.ResolutionRate, f.SatisfactionRate = total.rates()
	for grid, t := range per {
		r, res, sat := t.rates()
		f.ByGrid = append(f.ByGrid, GridFigures{Grid: grid, Cases: t.n, ResponseRate: r, ResolutionRate: res, SatisfactionRate: sat})
	}
	sort.Slice(f.ByGrid, func(i, j int) bool { return f.ByGrid[i].Grid < f.ByGrid[j].Grid })
	return f, rows.Err()
}

// firstResponses maps each case to the time of its first response.
func (s *Store) firstResponses(ctx context.Context) (map[string]int64, error) {
	first := map[string]int64{}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT case_id, MIN(at) FROM case_audit
		WHERE action IN ('register','resolve','reject','mark_duplicate') GROUP BY case_id`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		first[id] = at
	}
	return first, rows.Err()
}

// count adds a case to a tally of the three rates.
func (s *Store) count(t *tally, c Case, first map[string]int64) {
	t.n++
	if at, ok := first[c.ID]; ok && s.cal != nil && s.cal.WorkTime(c.CreatedAt, time.UnixMilli(at)) <= WorkDay {
		t.responded++
	}
	if c.State != Rejected && c.State != Duplicate {
		t.toHandle++
		if c.State == Closed || c.State == Evaluated {
			t.resolved++
		}
	}
	if c.Rating != nil {
		t.rated++
		if *c.Rating >= 4 {
			t.satisfied++
		}
	}
}

// GridReport is one grid's line of a review (日点评 / 周小结 / 月通报).
type GridReport struct {
	Rank             int      `json:"rank"`
	Grid             string   `json:"grid"`
	Received         int      `json:"received"`
	ClosedOnTime     int      `json:"closed_on_time"`
	Overdue          int      `json:"overdue"`
	Escalated        int      `json:"escalated"`
	ResponseRate     float64  `json:"response_rate"`
	ResolutionRate   float64  `json:"resolution_rate"`
	SatisfactionRate float64  `json:"satisfaction_rate"`
	TopCategories    []string `json:"top_categories"`
}

// Report reviews the cases created in [from, to) that keep accepts, one
// line per grid, ranked: by resolution rate, then the share closed on
// time, then fewer overdue. A case is overdue when it closed after its
// deadline or is still open past it (at now).
func (s *Store) Report(ctx context.Context, from, to, now time.Time, keep func(Case) bool) ([]GridReport, error) {
	first, err := s.firstResponses(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := sqlstore.Collect(ctx, s.db, s.q(`SELECT `+caseColumns+` FROM cases WHERE created_at >= ? AND created_at < ?`),
		[]any{from.UnixMilli(), to.UnixMilli()}, scanCase)
	if err != nil {
		return nil, err
	}
	type acc struct {
		GridReport
		t    tally
		cats map[string]int
	}
	per := map[string]*acc{}
	for _, c := range cs {
		if !keep(c) {
			continue
		}
		a := per[c.Grid]
		if a == nil {
			a = &acc{GridReport: GridReport{Grid: c.Grid}, cats: map[string]int{}}
			per[c.Grid] = a
		}
		s.count(&a.t, c, first)
		a.Received++
		a.cats[c.Category]++
		if c.Escalation > 0 {
			a.Escalated++
		}
		if s.cal == nil {
			continue
		}
		deadline := s.cal.Deadline(c.SLAStart, c.LimitDays, time.Duration(c.Paused)*time.Millisecond)
		switch {
		case c.ClosedAt != nil && !c.ClosedAt.After(deadline):
			a.ClosedOnTime++
		case c.ClosedAt != nil, c.State.Open() && now.After(deadline):
			a.Overdue++
		}
	}
	out := make([]GridReport, 0, len(per))
	for _, a := range per {
		a.ResponseRate, a.ResolutionRate, a.SatisfactionRate = a.t.rates()
		cats := make([]string, 0, len(a.cats))
		for k := range a.cats {
			cats = append(cats, k)
		}
		sort.Slice(cats, func(i, j int) bool {
			return a.cats[cats[i]] > a.cats[cats[j]] || a.cats[cats[i]] == a.cats[cats[j]] && cats[i] < cats[j]
		})
		a.TopCategories = cats[:min(3, len(cats))]
		out = append(out, a.GridReport)
	}
	onTime := func(r GridReport) float64 { return float64(r.ClosedOnTime) / float64(max(r.Received, 1)) }
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.ResolutionRate != b.ResolutionRate:
			return a.ResolutionRate > b.ResolutionRate
		case onTime(a) != onTime(b):
			return onTime(a) > onTime(b)
		case a.Overdue != b.Overdue:
			return a.Overdue < b.Overdue
		}
		return a.Grid < b.Grid
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}
