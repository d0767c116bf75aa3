// Package ingest pulls cameras into relay streams: RTSP cameras (connect,
// describe, play, depacketize) and GB/T 28181 channels (INVITEd through
// GBOpener, their PS frames made units), each with reconnection and
// backoff, stall watch, PTS continuity and parameter-set repair; the
// Manager starts on-demand pulls with their first reader and stops them
// the idle time after the last, keeps always-on ones running, and tells
// each camera's health, pulled or not (a GB channel whose device is gone
// is offline though nobody watches).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"sharpeyes/relay"
)

// SourceConfig configures one pull source.
type SourceConfig struct {
	URL       string // rtsp:// or rtsps://, credentials allowed
	Transport string // auto (UDP, falling back to TCP), tcp or udp
	// Timeout bounds each RTSP request and how long the source may go
	// without media before it is considered stalled (default 5 s).
	Timeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay (default 500 ms, 30 s).
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
	// OnState, if set, is called on every state change.
	OnState func(Status)
	// GB, with GBOpener, makes the source a GB/T 28181 channel (INVITEd on
	// the SIP side) instead of an RTSP URL.
	GB       *GBRef
	GBOpener GBOpener
}

// Source pulls one RTSP stream (or GB/T 28181 channel) into a relay stream until its context ends.
type Source struct {
	cfg     SourceConfig
	url     *base.URL
	secrets []string // every secret of the URL, scrubbed from messages
	stream  *relay.Stream
	log     *slog.Logger
	meter   meter

	ptsMu    sync.Mutex
	lastPTS  time.Duration
	lastWall time.Time
}

// NewSource validates the config and returns a source writing into stream.
func NewSource(cfg SourceConfig, stream *relay.Stream) (*Source, error) {
	var u *base.URL
	if cfg.GB != nil {
		if cfg.GBOpener == nil {
			return nil, fmt.Errorf("%w: GB/T 28181 channel %s, and GB/T 28181 is off", ErrBadURL, cfg.GB.Channel)
		}
	} else {
		var err error
		u, err = base.ParseURL(cfg.URL)
		if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
			return nil, fmt.Errorf("%w: %s", ErrBadURL, RedactURL(cfg.URL))
		}
	}
	switch cfg.Transport {
	case "", "auto", "tcp", "udp":
	default:
		return nil, fmt.Errorf("transport %q: want auto, tcp or udp", cfg.Transport)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 500 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, url: u, stream: stream, log: cfg.Logger}
	s.secrets = Secrets(cfg.URL)
	s.meter.st = Status{State: StateConnecting, Since: time.Now()}
	s.meter.onEdge = cfg.OnState
	return s, nil
}

// Status returns the source's health.
func (s *Source) Status() Status { return s.meter.get() }

// Run connects, reads and reconnects with capped exponential backoff and
// jitter until ctx is done.
func (s *Source) Run(ctx context.Context) {
	delay := s.cfg.BackoffMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.meter.update(func(st *Status) { st.Reconnects++ })
		}
		s.meter.set(StateConnecting, "", false, "") // keeps the last session's reason
		session := s.session
		if s.cfg.GB != nil {
			session = s.gbSession
		}
		wentOnline, err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		msg := scrub(err.Error(), s.secrets...)
		stalled, reason := errors.Is(err, ErrStalled), ""
		switch {
		case stalled && wentOnline:
			reason = ReasonFrozen // frames came, then stopped with the session up
		case stalled:
			reason = ReasonNoMedia // it set up and played, and sent nothing
		}
		s.meter.set(StateOffline, msg, stalled, reason)
		if wentOnline {
			delay = s.cfg.BackoffMin
		}
		wait := jitter(delay)
		s.log.Warn("camera stream lost", "error", msg, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(delay*2, s.cfg.BackoffMax)
	}
}

// jitter spreads reconnects of many cameras by ±20%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// session runs one RTSP session; it reports whether media flowed.
func (s *Source) session(ctx context.Context) (bool, error) {
	c := &gortsplib.Client{
		Scheme:      s.url.Scheme,
		Host:        s.url.Host,
		DialContext: dialRTSP,
		// Longer than the stall watchdog, so a silent stream is reported as
		// a stall, while a camera that never answers a request still fails.
		ReadTimeout:  s.cfg.Timeout * 3 / 2,
		WriteTimeout: s.cfg.Timeout,
		// A camera that never answers UDP gets TCP after this long.
		InitialUDPReadTimeout: s.cfg.Timeout / 2,
		OnTransportSwitch: func(err error) {
			s.log.Info("switching transport", "reason", scrub(err.Error(), s.secrets...))
			s.meter.update(func(st *Status) { st.Transport = "TCP" })
		},
		OnDecodeError: func(err error) {
			s.log.Debug("decode", "error", scrub(err.Error(), s.secrets...))
		},
		OnPacketsLost: func(n uint64) {
			s.meter.update(func(st *Status) { st.PacketsLost += int64(n) })
		},
	}
	switch s.cfg.Transport {
	case "tcp":
		t := gortsplib.TransportTCP
		c.Transport = &t
	case "udp":
		t := gortsplib.TransportUDP
		c.Transport = &t
	}
	if err := c.Start2(); err != nil {
		return false, fmt.Errorf("start: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, _, err := c.Describe(s.url)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	dp, err := s.setup(c, desc)
	if err != nil {
		return false, err
	}
	if _, err := c.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}

	// gortsplib's read timeout covers a silent TCP connection; this watchdog
	// also catches a session that stays up but carries no media.
	errc := make(chan error, 1)
	go func() { errc <- c.Wait() }()
	tick := time.NewTicker(s.cfg.Timeout / 4)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			// gortsplib's play timeouts mean media stopped while the
			// session stayed up: a stall, whichever clock noticed first.
			var tcpTO liberrors.ErrClientTCPTimeout
			var udpTO liberrors.ErrClientUDPTimeout
			if errors.As(err, &tcpTO) || errors.As(err, &udpTO) {
				return dp.online(), fmt.Errorf("%w (%v)", ErrStalled, err)
			}
			return dp.online(), fmt.Errorf("session: %w", err)
		case <-tick.C:
			if last := dp.lastUnit(); time.Since(last) > s.cfg.Timeout {
				return dp.online(), fmt.Errorf("%w for %s", ErrStalled, s.cfg.Timeout)
			}
		}
	}
}

func (s *Source) setup(c *gortsplib.Client, desc *description.Session) (*depacketizer, error) {
	dp := &depacketizer{src: s, stream: s.stream, started: time.Now()}
	var h264f *format.H264
	var h265f *format.H265
	var g711f *format.G711
	var info relay.Info
	if m := desc.FindFormat(&h264f); m != nil {
		info.Video = relay.CodecH264
		info.SPS, info.PPS = h264f.SafeParams()
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("h264 decoder: %w", err)
		}
		dp.decodeVideo = func(p *rtp.Packet) ([][]byte, error) { return dec.Decode(p) }
		dp.isMoreNeeded = func(err error) bool {
			return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious)
		}
		resp, err := c.Setup(desc.BaseURL, m, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("setup video: %w", err)
		}
		s.noteTransport(resp)
		c.OnPacketRTP(m, h264f, func(p *rtp.Packet) { dp.videoPacket(c, m, p) })
	} else if m := desc.FindFormat(&h265f); m != nil {
		info.Video = relay.CodecH265
		info.VPS, info.SPS, info.PPS = h265f.SafeParams()
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("h265 decoder: %w", err)
		}
		dp.decodeVideo = func(p *rtp.Packet) ([][]byte, error) { return dec.Decode(p) }
		dp.isMoreNeeded = func(err error) bool {
			return errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
		}
		resp, err := c.Setup(desc.BaseURL, m, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("setup video: %w", err)
		}
		s.noteTransport(resp)
		c.OnPacketRTP(m, h265f, func(p *rtp.Packet) { dp.videoPacket(c, m, p) })
	} else {
		return nil, ErrNoVideo
	}
	if m := desc.FindFormat(&g711f); m != nil && g711f.SampleRate == 8000 && g711f.ChannelCount == 1 {
		info.Audio = relay.CodecPCMA
		if g711f.MULaw {
			info.Audio = relay.CodecPCMU
		}
		dec, err := g711f.CreateDecoder()
		if err == nil {
			if _, err := c.Setup(desc.BaseURL, m, 0, 0); err != nil {
				return nil, fmt.Errorf("setup audio: %w", err)
			}
			codec := info.Audio
			c.OnPacketRTP(m, g711f, func(p *rtp.Packet) {
				pts, ok := c.PacketPTS2(m, p)
				if !ok {
					return
				}
				samples, err := dec.Decode(p)
				if err != nil {
					return
				}
				dp.write(&relay.Unit{Codec: codec, Payload: samples}, pts, 8000)
			})
		}
	}
	dp.codec = info.Video
	dp.sps, dp.pps, dp.vps = info.SPS, info.PPS, info.VPS
	info.Width, info.Height = dp.dimensions()
	s.meter.update(func(st *Status) {
		st.Codec, st.Audio = string(info.Video), string(info.Audio)
		st.Width, st.Height = info.Width, info.Height
	})
	dp.info = info
	s.stream.SetInfo(info)
	return dp, nil
}

// continuePTS is the PTS the next session should start at: where the last
// one ended plus the wall time since, so timestamps keep flowing.
func (s *Source) continuePTS(now time.Time) time.Duration {
	s.ptsMu.Lock()
	defer s.ptsMu.Unlock()
	if s.lastWall.IsZero() {
		return 0
	}
	return s.lastPTS + now.Sub(s.lastWall)
}

func (s *Source) notePTS(pts time.Duration, now time.Time) {
	s.ptsMu.Lock()
	if pts > s.lastPTS || s.lastWall.IsZero() {
		s.lastPTS = pts
	}
	s.lastWall = now
	s.ptsMu.Unlock()
}

// noteTransport records the transport the camera accepted in SETUP.
func (s *Source) noteTransport(resp *base.Response) {
	tr := "UDP"
	if resp != nil && strings.Contains(strings.Join(resp.Header["Transport"], ","), "/TCP") {
		tr = "TCP"
	}
	s.meter.update(func(st *Status) { st.Transport = tr })
}
