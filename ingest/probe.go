package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// Why a probed or pulled camera is offline (DESIGN.md "Camera health";
// ReasonDeviceOffline and ReasonChannelOff are the GB/T 28181 ones).
const (
	ReasonTimeout      = "timeout"      // no answer in time
	ReasonRefused      = "refused"      // connection refused, or the camera declined (5xx)
	ReasonUnauthorized = "unauthorized" // its credentials are not accepted
	ReasonNotFound     = "not_found"    // no such stream at its URL
	ReasonNoMedia      = "no_media"     // it describes no video, or sends none
	ReasonFrozen       = "frozen"       // the session lives, the picture does not move
)

// Probe is what a probe of a camera found.
type Probe struct {
	Online bool
	Reason string // when offline: one of the Reason constants
	// Detail says what was seen, credentials scrubbed (for the log and
	// the status's hover text).
	Detail string
	Took   time.Duration
}

// ProbeRTSP checks an RTSP camera without watching it: OPTIONS, then
// DESCRIBE with its credentials; no SETUP, no PLAY, no viewer counted.
// Online means it described a video stream. timeout bounds the whole
// probe.
func ProbeRTSP(ctx context.Context, rawURL string, timeout time.Duration) Probe {
	start := time.Now()
	p := probeRTSP(ctx, rawURL, timeout)
	p.Took = time.Since(start)
	return p
}

func probeRTSP(ctx context.Context, rawURL string, timeout time.Duration) Probe {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return Probe{Reason: ReasonNotFound, Detail: "not an RTSP URL"}
	}
	var secrets []string
	if pu, perr := url.Parse(rawURL); perr == nil && pu.User != nil {
		if pw, ok := pu.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		DialContext:  (&net.Dialer{}).DialContext,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		Transport:    &tcp,
	}
	if err := c.Start2(); err != nil {
		return classify(fmt.Errorf("start: %w", err), ctx, secrets)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	if _, err := c.Options(u); err != nil {
		// Some cameras answer OPTIONS only once authenticated, or not at
		// all: DESCRIBE is what counts, unless the camera is not there.
		var bad liberrors.ErrClientBadStatusCode
		if !errors.As(err, &bad) {
			return classify(fmt.Errorf("options: %w", err), ctx, secrets)
		}
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		return classify(fmt.Errorf("describe: %w", err), ctx, secrets)
	}
	var h264 *format.H264
	var h265 *format.H265
	if desc.FindFormat(&h264) == nil && desc.FindFormat(&h265) == nil {
		return Probe{Reason: ReasonNoMedia, Detail: "its description has no H.264 or H.265 video"}
	}
	return Probe{Online: true}
}

// classify names why a probe failed.
func classify(err error, ctx context.Context, secrets []string) Probe {
	detail := scrub(err.Error(), secrets...)
	var bad liberrors.ErrClientBadStatusCode
	var netErr net.Error
	switch {
	case errors.As(err, &bad):
		switch {
		case bad.Code == base.StatusUnauthorized || bad.Code == base.StatusForbidden:
			return Probe{Reason: ReasonUnauthorized, Detail: detail}
		case bad.Code == base.StatusNotFound:
			return Probe{Reason: ReasonNotFound, Detail: detail}
		}
		return Probe{Reason: ReasonRefused, Detail: detail}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Probe{Reason: ReasonRefused, Detail: detail}
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Probe{Reason: ReasonTimeout, Detail: detail}
	}
	var timedOut liberrors.ErrClientRequestTimedOut
	if errors.As(err, &timedOut) {
		return Probe{Reason: ReasonTimeout, Detail: detail}
	}
	// The connection dropped, a junk reply: it did not answer as a camera.
	return Probe{Reason: ReasonRefused, Detail: detail}
}
