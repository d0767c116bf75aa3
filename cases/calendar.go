package cases

import (
	"fmt"
	"time"
)

// Calendar says which days are working days: Monday to Friday, less the
// public holidays, plus the weekend days made working days (调休上班).
// Working time is counted in whole days: a time limit of three working days
// is 72 hours that fall on working days.
type Calendar struct {
	Loc      *time.Location
	holidays map[string]bool
	workdays map[string]bool
}

// NewCalendar builds a calendar in loc (Asia/Shanghai for a street) from
// dates written 2006-01-02.
func NewCalendar(loc *time.Location, holidays, workdays []string) (*Calendar, error) {
	c := &Calendar{Loc: loc, holidays: map[string]bool{}, workdays: map[string]bool{}}
	for _, d := range holidays {
		if _, err := time.ParseInLocation(time.DateOnly, d, loc); err != nil {
			return nil, fmt.Errorf("holiday %q: want YYYY-MM-DD", d)
		}
		c.holidays[d] = true
	}
	for _, d := range workdays {
		if _, err := time.ParseInLocation(time.DateOnly, d, loc); err != nil {
			return nil, fmt.Errorf("working day %q: want YYYY-MM-DD", d)
		}
		c.workdays[d] = true
	}
	return c, nil
}

// IsWorkday tells whether the day of t is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	t = t.In(c.Loc)
	d := t.Format(time.DateOnly)
	if c.workdays[d] {
		return true
	}
	if c.holidays[d] {
		return false
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

func (c *Calendar) dayStart(t time.Time) time.Time {
	t = t.In(c.Loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, c.Loc)
}

// WorkTime is how much of [from, to) falls on working days.
func (c *Calendar) WorkTime(from, to time.Time) time.Duration {
	var total time.Duration
	for day := c.dayStart(from); day.Before(to); day = day.AddDate(0, 0, 1) {
		if !c.IsWorkday(day) {
			continue
		}
		s, e := day, day.AddDate(0, 0, 1)
		if from.After(s) {
			s = from
		}
		if to.Before(e) {
			e = to
		}
		if e.After(s) {
			total += e.Sub(s)
		}
	}
	return total
}

// AddWork is the instant at which d of working time has passed since from.
func (c *Calendar) AddWork(from time.Time, d time.Duration) time.Time {
	t := from
	for day := c.dayStart(from); ; day = day.AddDate(0, 0, 1) {
		if !c.IsWorkday(day) {
			continue
		}
		s, e := day, day.AddDate(0, 0, 1)
		if t.After(s) {
			s = t
		}
		if left := e.Sub(s); d <= left {
			return s.Add(d)
		} else if left > 0 {
			d -= left
		}
	}
}

// WorkDay is one working day of SLA time.
const WorkDay = 24 * time.Hour

// Escalation levels (督办).
const (
	LevelNone    = 0
	LevelWarning = 1 // 80 % of the time limit used
	LevelOverdue = 2 // past the limit
	LevelSevere  = 3 // overdue by five more working days
)

// Level is the escalation a case has reached: used is the working time
// spent (suspensions excluded), limit the time allowed.
func Level(used, limit time.Duration) int {
	switch {
	case used >= limit+5*WorkDay:
		return LevelSevere
	case used > limit:
		return LevelOverdue
	case used*5 >= limit*4:
		return LevelWarning
	}
	return LevelNone
}

// LevelAt is the escalation level at now of a clock started at start with
// limit working days, paused for paused working time.
func (c *Calendar) LevelAt(start, now time.Time, limitDays int, paused time.Duration) int {
	return Level(c.WorkTime(start, now)-paused, time.Duration(limitDays)*WorkDay)
}

// Deadline is when a clock started at start with limitDays runs out.
func (c *Calendar) Deadline(start time.Time, limitDays int, paused time.Duration) time.Time {
	return c.AddWork(start, time.Duration(limitDays)*WorkDay+paused)
}
