package ingest

import (
	"regexp"
	"strings"
	"sync"
	"time"
)

// State of a source.
type State string

// Source states.
const (
	StateConnecting State = "connecting"
	StateOnline     State = "online"
	StateOffline    State = "offline"
	// StateUnknown is a camera nobody pulls that has not been checked yet
	// (no probe has answered, or probes are off).
	StateUnknown State = "unknown"
)

// Status is a snapshot of a source's health.
type Status struct {
	State       State     `json:"state"`
	Since       time.Time `json:"since"`
	Codec       string    `json:"codec,omitempty"`
	Audio       string    `json:"audio,omitempty"`
	Width       int       `json:"width,omitempty"`
	Height      int       `json:"height,omitempty"`
	FPS         float64   `json:"fps"`
	Bitrate     int64     `json:"bitrate"` // bits per second
	Reconnects  int64     `json:"reconnects"`
	BFrames     bool      `json:"b_frames"`
	PacketsLost int64     `json:"packets_lost"`
	// Bytes is the media (video and audio) received since the pull
	// started: what a recording of the stream has to write.
	Bytes     int64  `json:"bytes"`
	Transport string `json:"transport,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Reason says why the camera is offline: a probe's finding for a
	// camera nobody pulls (ReasonUnauthorized…, ReasonDeviceOffline,
	// ReasonChannelOff), or for a pull ReasonNoMedia (the session came up
	// and no frame ever did) or ReasonFrozen (frames stopped while the
	// session lived).
	Reason string `json:"reason,omitempty"`
	// Probed is when a camera nobody pulls was last probed (its state and
	// reason are that probe's); zero for a pulled camera, whose stream is
	// its health.
	Probed time.Time `json:"probed,omitzero"`
	// Stalled says the last loss was the camera going silent (video loss)
	// rather than a refused or broken connection.
	Stalled bool `json:"stalled,omitempty"`
	// Live says a pull is running (someone watches, or it is always on):
	// the state is its stream's. Without one the state is the last
	// probe's (or unknown).
	Live bool `json:"live"`
}

// meter tracks a source's status; the packet path updates it under one lock.
type meter struct {
	mu     sync.Mutex
	st     Status
	win    time.Time
	frames int
	bytes  int
	onEdge func(Status) // called on every state change, outside the lock
}

// set moves the source to state; errMsg and reason say why it is offline
// (reason in the probes' words, or empty).
func (m *meter) set(state State, errMsg string, stalled bool, reason string) {
	m.mu.Lock()
	changed := m.st.State != state
	if changed {
		m.st.State, m.st.Since = state, time.Now()
	}
	m.st.Stalled = stalled
	if state != StateConnecting || reason != "" {
		// Reconnecting keeps why the last session failed.
		m.st.Reason = reason
	}
	if errMsg != "" || state == StateOnline {
		m.st.LastError = errMsg
	}
	if state != StateOnline {
		m.st.FPS, m.st.Bitrate = 0, 0
	}
	st := m.st
	m.mu.Unlock()
	if changed && m.onEdge != nil {
		m.onEdge(st)
	}
}

func (m *meter) update(f func(*Status)) {
	m.mu.Lock()
	f(&m.st)
	m.mu.Unlock()
}

// unit counts one received unit; rates are published once a second.
func (m *meter) unit(now time.Time, size int, video bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.win.IsZero() {
		m.win = now
	}
	m.bytes += size
	m.st.Bytes += int64(size)
	if video {
		m.frames++
	}
	if d := now.Sub(m.win); d >= time.Second {
		m.st.FPS = float64(m.frames) / d.Seconds()
		m.st.Bitrate = int64(float64(m.bytes*8) / d.Seconds())
		m.win, m.frames, m.bytes = now, 0, 0
	}
}

func (m *meter) get() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// OfflineReason names why an offline status is offline, in the probes'
// words: its own reason when it has one, frozen for a stream that went
// silent while its session lived, else read from its last error.
// statusCode is an RTSP answer's code in a client error ("bad status
// code: 401 (Unauthorized)").
var statusCode = regexp.MustCompile(`status code:? (\d{3})`)

func (s Status) OfflineReason() string {
	switch {
	case s.Reason != "":
		return s.Reason
	case s.Stalled:
		return ReasonFrozen
	}
	e := strings.ToLower(s.LastError)
	code := ""
	if m := statusCode.FindStringSubmatch(e); m != nil {
		code = m[1]
	}
	// Addresses hold numbers too (a port 40351 is not a 403): a status
	// code is read only as the RTSP client writes it.
	switch {
	case strings.Contains(e, "connection refused"):
		return ReasonRefused
	case code == "401", code == "403", strings.Contains(e, "unauthorized"):
		return ReasonUnauthorized
	case code == "404", strings.Contains(e, "not found"):
		return ReasonNotFound
	case strings.Contains(e, "timeout"), strings.Contains(e, "timed out"), strings.Contains(e, "deadline"):
		return ReasonTimeout
	case strings.Contains(e, "no h.264"), strings.Contains(e, "no video"), strings.Contains(e, "no supported"):
		return ReasonNoMedia
	}
	return ReasonRefused
}
