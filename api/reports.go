package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/cases"
)

// period is the span a review covers, in the street's time zone: the day
// (日点评), the ISO week from Monday (周小结) or the calendar month (月通报)
// that holds date.
func period(kind string, date time.Time) (from, to time.Time, err error) {
	d := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, date.Location())
	switch kind {
	case "day":
		return d, d.AddDate(0, 0, 1), nil
	case "week":
		from = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		return from, from.AddDate(0, 0, 7), nil
	case "month":
		from = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, d.Location())
		return from, from.AddDate(0, 1, 0), nil
	}
	return time.Time{}, time.Time{}, &queryError{"period", "must be day, week or month"}
}

// csvText keeps text text in a spreadsheet: a cell that starts like a
// formula (=, +, -, @, or a tab or carriage return before one) is opened
// by Excel and WPS as one, so it gets a leading apostrophe (OWASP's advice
// for CSV injection).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// reports answers a review per grid for a period, ranked; format=csv
// answers the same table as a download.
func (s *Server) reports(c *gin.Context) {
	loc := s.cfg.Location
	if loc == nil {
		loc = time.Local
	}
	date := time.Now().In(loc)
	if v := c.Query("date"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			writeError(c, &queryError{"date", "must be YYYY-MM-DD"})
			return
		}
		if t.Year() < 2000 || t.After(date.AddDate(0, 0, 1)) {
			writeError(c, &queryError{"date", "must be a day from 2000-01-01 to today: a review looks back"})
			return
		}
		date = t
	}
	from, to, err := period(c.DefaultQuery("period", "day"), date)
	if err != nil {
		writeError(c, err)
		return
	}
	p := principal(c)
	want, ok := s.gridFilter(c, p)
	if !ok {
		return
	}
	items, err := s.cases.Report(c.Request.Context(), from, to, time.Now(), func(cs cases.Case) bool {
		return seesCase(p, cs) && want.keeps(cs.Grid)
	})
	if err != nil {
		writeError(c, err)
		return
	}
	rows, err := s.withOnlineRate(c.Request.Context(), p, want, items, from, minTime(to, time.Now()))
	if err != nil {
		writeError(c, err)
		return
	}
	switch c.DefaultQuery("rank_by", "resolution") {
	case "resolution":
	case "online_rate":
		rankByOnlineRate(rows)
	default:
		writeError(c, &queryError{"rank_by", "must be resolution or online_rate"})
		return
	}
	ix := s.grids.Index()
	switch c.Query("format") {
	case "":
		c.JSON(http.StatusOK, gin.H{"period": c.DefaultQuery("period", "day"), "from": from, "to": to, "items": rows})
	case "csv":
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s-%s.csv"`, c.DefaultQuery("period", "day"), from.Format("20060102")))
		c.Status(http.StatusOK)
		c.Writer.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = c.Writer.Write([]byte("\ufeff")) // Excel reads UTF-8 with a BOM
		w := csv.NewWriter(c.Writer)
		_ = w.Write([]string{"rank", "grid", "name", "received", "closed_on_time", "overdue", "escalated", "response_rate", "resolution_rate", "satisfaction_rate", "top_categories", "cameras", "online_rate"})
		pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
		for _, r := range rows {
			online := ""
			if r.OnlineRate != nil {
				online = pct(*r.OnlineRate)
			}
			cell, _ := ix.Get(r.Grid)
			_ = w.Write([]string{strconv.Itoa(r.Rank), csvText(r.Grid), csvText(cell.Name), strconv.Itoa(r.Received), strconv.Itoa(r.ClosedOnTime),
				strconv.Itoa(r.Overdue), strconv.Itoa(r.Escalated), pct(r.ResponseRate), pct(r.ResolutionRate), pct(r.SatisfactionRate),
				csvText(strings.Join(r.TopCategories, ";")), strconv.Itoa(r.Cameras), online})
		}
		w.Flush()
	default:
		writeError(c, &queryError{"format", "must be csv or absent"})
	}
}

// reportRow is a review's line: the grid's cases and its cameras' online
// rate over the period (null when nothing was known of them, or no
// health history is kept).
type reportRow struct {
	cases.GridReport
	Cameras    int      `json:"cameras"`
	OnlineRate *float64 `json:"online_rate"`
}

// withOnlineRate adds each grid's online rate over [from, to) to the
// review, and a line for every cell with cameras and no case (ranked
// after those with cases, by code).
func (s *Server) withOnlineRate(ctx context.Context, p *access.Principal, want cellFilter, items []cases.GridReport, from, to time.Time) ([]reportRow, error) {
	rows := make([]reportRow, 0, len(items))
	for _, it := range items {
		rows = append(rows, reportRow{GridReport: it})
	}
	if s.health == nil {
		return rows, nil
	}
	shares, counts, err := s.cellShares(ctx, p, want, from, to)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range rows {
		seen[rows[i].Grid] = true
		rows[i].Cameras = counts[rows[i].Grid]
		rows[i].OnlineRate = viewShare(shares[rows[i].Grid]).Rate
	}
	// Cells with cameras of their own (a camera's base cell) and no case.
	ix := s.grids.Index()
	var more []string
	for _, cam := range s.catalog.All() {
		cells := locate(ix, cam)
		if b := cells.Base; b != "" && !seen[b] && counts[b] > 0 {
			seen[b] = true
			more = append(more, b)
		}
	}
	sort.Strings(more)
	for _, code := range more {
		rows = append(rows, reportRow{GridReport: cases.GridReport{Grid: code, TopCategories: []string{}}, Cameras: counts[code], OnlineRate: viewShare(shares[code]).Rate})
	}
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows, nil
}

// rankByOnlineRate ranks the lines by their online rate (highest first,
// grids with nothing known last), then as they were.
func rankByOnlineRate(rows []reportRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].OnlineRate, rows[j].OnlineRate
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		default:
			return *a > *b
		}
	})
	for i := range rows {
		rows[i].Rank = i + 1
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
