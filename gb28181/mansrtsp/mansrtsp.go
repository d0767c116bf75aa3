// Package mansrtsp writes and reads the MANSRTSP bodies of GB/T 28181
// (2016, annex B) that control a Playback inside its dialog, sent in SIP
// INFO (Content-Type: Application/MANSRTSP): PLAY to resume, to jump
// (Range: npt=SECONDS-, from the window's start) or to change speed
// (Scale), PAUSE, TEARDOWN. Pure: bytes in, values out.
package mansrtsp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is a body that is not a MANSRTSP request.
var ErrInvalid = errors.New("not a MANSRTSP request")

// MaxBody is the largest body read.
const MaxBody = 4 << 10

// Methods.
const (
	Play     = "PLAY"
	Pause    = "PAUSE"
	Teardown = "TEARDOWN"
)

// Request is one MANSRTSP request.
type Request struct {
	Method string
	CSeq   int
	// Scale is the speed asked for (1 normal, 4 four times, 0.5 slow;
	// negative backwards); 0 when not said.
	Scale float64
	// Range is where to play from, seconds from the window's start
	// ("npt=N-"); HasRange false when not said or "now".
	Range    float64
	HasRange bool
}

// Marshal writes the request.
func (r Request) Marshal() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s MANSRTSP/1.0\r\nCSeq: %d\r\n", r.Method, r.CSeq)
	if r.Method == Pause {
		b.WriteString("PauseTime: now\r\n")
	}
	if r.Scale != 0 {
		fmt.Fprintf(&b, "Scale: %s\r\n", strconv.FormatFloat(r.Scale, 'f', 1, 64))
	}
	if r.HasRange {
		fmt.Fprintf(&b, "Range: npt=%s-\r\n", strconv.FormatFloat(r.Range, 'f', -1, 64))
	} else if r.Method == Play && r.Scale == 0 {
		b.WriteString("Range: npt=now-\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Parse reads a request (MANSRTSP/1.0, or RTSP/1.0 as some devices write).
func Parse(body []byte) (Request, error) {
	var r Request
	if len(body) > MaxBody {
		return r, fmt.Errorf("%w: %d bytes", ErrInvalid, len(body))
	}
	lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	f := strings.Fields(lines[0])
	if len(f) != 2 || (f[1] != "MANSRTSP/1.0" && f[1] != "RTSP/1.0") {
		return r, fmt.Errorf("%w: request line %.40q", ErrInvalid, lines[0])
	}
	switch f[0] {
	case Play, Pause, Teardown:
		r.Method = f[0]
	default:
		return r, fmt.Errorf("%w: method %q", ErrInvalid, f[0])
	}
	seenCSeq := false
	for _, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			return r, fmt.Errorf("%w: header %.40q", ErrInvalid, line)
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "cseq":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return r, fmt.Errorf("%w: CSeq %q", ErrInvalid, val)
			}
			r.CSeq, seenCSeq = n, true
		case "scale":
			x, err := strconv.ParseFloat(val, 64)
			if err != nil || x == 0 || x < -64 || x > 64 {
				return r, fmt.Errorf("%w: Scale %q", ErrInvalid, val)
			}
			r.Scale = x
		case "range":
			v, ok := strings.CutPrefix(val, "npt=")
			if !ok {
				return r, fmt.Errorf("%w: Range %q", ErrInvalid, val)
			}
			start, _, _ := strings.Cut(v, "-")
			if start == "now" || v == "" || v == "-" {
				continue
			}
			x, err := strconv.ParseFloat(start, 64)
			if err != nil || x < 0 || x > 7*24*3600 {
				return r, fmt.Errorf("%w: Range %q", ErrInvalid, val)
			}
			r.Range, r.HasRange = x, true
		}
	}
	if !seenCSeq {
		return r, fmt.Errorf("%w: no CSeq", ErrInvalid)
	}
	return r, nil
}
