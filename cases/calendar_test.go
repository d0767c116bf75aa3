package cases

import (
	"testing"
	"time"
)

func shanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600) // no tzdata: China has no DST, so this is exact
	}
	return loc
}

// The 2026 National Day holiday (1–7 October) and its make-up working
// Saturday (10 October), a case registered on Wednesday 30 September at
// 09:00 with a limit of three working days.
func TestEscalationAcrossHolidayAndWeekend(t *testing.T) {
	loc := shanghai(t)
	cal, err := NewCalendar(loc,
		[]string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		[]string{"2026-10-10"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	start := at("2026-09-30 09:00")
	// 15 h on 30 Sep, 24 h on 8 and 9 Oct, 9 h on Saturday 10 Oct = 72 h.
	if d := cal.Deadline(start, 3, 0); !d.Equal(at("2026-10-10 09:00")) {
		t.Fatalf("deadline %v, want Saturday 10 October 09:00 (a make-up working day)", d)
	}
	steps := []struct {
		now  string
		want int
	}{
		{"2026-10-05 12:00", LevelNone},    // holiday: the clock does not run
		{"2026-10-09 18:35", LevelNone},    // 57.58 h used of 72
		{"2026-10-09 18:37", LevelWarning}, // past 80 % (57.6 h)
		{"2026-10-10 08:59", LevelWarning},
		{"2026-10-10 09:01", LevelOverdue},
		{"2026-10-11 20:00", LevelOverdue}, // Sunday: no time passes
		{"2026-10-16 08:59", LevelOverdue}, // 5 more working days end Fri 16 Oct 09:00
		{"2026-10-16 09:00", LevelSevere},
	}
	for _, s := range steps {
		if got := cal.LevelAt(start, at(s.now), 3, 0); got != s.want {
			t.Errorf("at %s level %d, want %d (work time %v)", s.now, got, s.want, cal.WorkTime(start, at(s.now)))
		}
	}
	// A suspension of one working day pushes everything back a working day:
	// 48 h used at the old deadline, and the new one skips Sunday.
	if got := cal.LevelAt(start, at("2026-10-10 09:01"), 3, WorkDay); got != LevelNone {
		t.Errorf("with a day suspended: level %d, want 0", got)
	}
	if d := cal.Deadline(start, 3, WorkDay); !d.Equal(at("2026-10-12 09:00")) {
		t.Errorf("deadline with a day suspended %v, want Monday 12 October 09:00", d)
	}
	if !cal.IsWorkday(at("2026-10-10 12:00")) || cal.IsWorkday(at("2026-10-01 12:00")) || cal.IsWorkday(at("2026-10-11 12:00")) {
		t.Error("IsWorkday is wrong about make-up days, holidays or Sundays")
	}
	if _, err := NewCalendar(loc, []string{"10/01"}, nil); err == nil {
		t.Error("a malformed holiday was accepted")
	}
}
