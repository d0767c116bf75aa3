// Package camsim simulates cameras for tests, the demo and benchmarks: a
// fleet of RTSP cameras that loop committed H.264 clips on live timelines
// (with faults to inject), and GB/T 28181 NVRs that register, answer
// their catalog, stream PS over RTP on INVITE, send alarms and pan on PTZ.
// camsim/gbplatform is a simulated superior platform.
package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// Config describes a fleet. Cameras are reachable at rtsp://Listen/camN (main)
// and rtsp://Listen/camN/sub.
type Config struct {
	Listen string // TCP address; port 0 picks a free port
	// UDPRTPAddress and UDPRTCPAddress enable UDP transport (an even port and
	// the next one). Empty: TCP only, and clients asking for UDP fall back.
	UDPRTPAddress  string
	UDPRTCPAddress string
	Cameras        int
	Main, Sub      []byte // H.264 Annex-B clips
	// H265, when set, replaces Main and Sub: every stream serves this H.265 clip.
	H265 []byte
	// Audio adds a G.711 A-law track (8 kHz mono, a 1 kHz tone) to every stream.
	Audio      bool
	FPS        int    // default 25
	User, Pass string // when set, clients must authenticate (basic or digest)
	// DropEvery closes every client session at this interval (0: never).
	DropEvery time.Duration
	Logger    *slog.Logger
}

// Fleet is a running set of simulated cameras.
type Fleet struct {
	cfg      Config
	log      *slog.Logger
	server   *gortsplib.Server
	listener net.Listener
	tracksMu sync.RWMutex
	tracks   map[string]*track // by path: "cam1", "cam1/sub"
	refuse   atomic.Bool

	mu       sync.Mutex
	sessions map[*gortsplib.ServerSession]string // path of each playing session

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type track struct {
	clip    *Clip
	stream  *gortsplib.ServerStream
	media   *description.Media
	encode  func([][]byte) ([]*rtp.Packet, error)
	audio   *description.Media // nil without audio
	aenc    *rtplpcm.Encoder
	offset  int // start position in the clip, so cameras' GOPs do not align
	stalled atomic.Bool
}

// Start builds the fleet and starts serving.
func Start(cfg Config) (*Fleet, error) {
	if cfg.Cameras < 1 {
		return nil, fmt.Errorf("camsim: cameras must be at least 1")
	}
	if cfg.FPS == 0 {
		cfg.FPS = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var mainClip, subClip *Clip
	var err error
	if cfg.H265 != nil {
		if mainClip, err = ParseClipH265(cfg.H265); err != nil {
			return nil, fmt.Errorf("camsim: h265 %w", err)
		}
		subClip = mainClip
	} else {
		if mainClip, err = ParseClip(cfg.Main); err != nil {
			return nil, fmt.Errorf("camsim: main %w", err)
		}
		if subClip, err = ParseClip(cfg.Sub); err != nil {
			return nil, fmt.Errorf("camsim: sub %w", err)
		}
	}
	f := &Fleet{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "camsim"),
		tracks:   map[string]*track{},
		sessions: map[*gortsplib.ServerSession]string{},
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.server = &gortsplib.Server{
		Handler:        f,
		RTSPAddress:    cfg.Listen,
		UDPRTPAddress:  cfg.UDPRTPAddress,
		UDPRTCPAddress: cfg.UDPRTCPAddress,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			f.listener = l
			return l, err
		},
	}
	if err := f.server.Start(); err != nil {
		return nil, fmt.Errorf("camsim: listen %s: %w", cfg.Listen, err)
	}
	// The server already accepts connections: requests wait on tracksMu
	// until every track exists (a client may reconnect the instant a
	// restarted camera listens again).
	f.tracksMu.Lock()
	defer f.tracksMu.Unlock()
	for i := 1; i <= cfg.Cameras; i++ {
		offset := rand.IntN(len(mainClip.Units))
		for _, sub := range []bool{false, true} {
			clip := mainClip
			if sub {
				clip = subClip
			}
			t, err := f.newTrack(clip, offset)
			if err != nil {
				f.tracksMu.Unlock()
				f.Close()
				f.tracksMu.Lock() // for the deferred unlock
				return nil, err
			}
			f.tracks[Path(i, sub)] = t
		}
	}
	for _, t := range f.tracks {
		f.wg.Add(1)
		go f.run(t)
	}
	if cfg.DropEvery > 0 {
		f.wg.Add(1)
		go f.dropLoop()
	}
	return f, nil
}

func (f *Fleet) newTrack(clip *Clip, offset int) (*track, error) {
	t := &track{clip: clip, offset: offset}
	var forma format.Format
	if clip.H265 {
		h := &format.H265{PayloadTyp: 96, VPS: clip.VPS, SPS: clip.SPS, PPS: clip.PPS}
		enc, err := h.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("camsim: encoder: %w", err)
		}
		forma, t.encode = h, enc.Encode
	} else {
		h := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: clip.SPS, PPS: clip.PPS}
		enc, err := h.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("camsim: encoder: %w", err)
		}
		forma, t.encode = h, enc.Encode
	}
	t.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	desc := &description.Session{Medias: []*description.Media{t.media}}
	if f.cfg.Audio {
		g := &format.G711{PayloadTyp: 8, MULaw: false, SampleRate: 8000, ChannelCount: 1}
		enc, err := g.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("camsim: audio encoder: %w", err)
		}
		t.audio = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{g}}
		t.aenc = enc
		desc.Medias = append(desc.Medias, t.audio)
	}
	t.stream = &gortsplib.ServerStream{Server: f.server, Desc: desc}
	if err := t.stream.Initialize(); err != nil {
		return nil, fmt.Errorf("camsim: stream: %w", err)
	}
	return t, nil
}

// tone is one frame period of a 1 kHz sine as 16-bit big-endian samples,
// A-law encoded: a whole number of cycles, so it loops without clicks.
func tone(samples int) []byte {
	lpcm := make([]byte, 2*samples)
	for i := 0; i < samples; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
		lpcm[2*i], lpcm[2*i+1] = byte(uint16(v)>>8), byte(v)
	}
	out, _ := g711.Alaw(lpcm).Marshal()
	return out
}

// Path is the RTSP path of camera i (1-based): "camI" or "camI/sub".
func Path(i int, sub bool) string {
	p := "cam" + strconv.Itoa(i)
	if sub {
		p += "/sub"
	}
	return p
}

// Addr is the address the fleet listens on.
func (f *Fleet) Addr() string { return f.listener.Addr().String() }

// URL is the RTSP URL of camera i (1-based), with credentials when configured.
func (f *Fleet) URL(i int, sub bool) string {
	cred := ""
	if f.cfg.User != "" {
		cred = f.cfg.User + ":" + f.cfg.Pass + "@"
	}
	return "rtsp://" + cred + f.Addr() + "/" + Path(i, sub)
}

// SetRefuse makes every DESCRIBE answer 503 Service Unavailable, as a camera
// that is up but will not stream.
func (f *Fleet) SetRefuse(v bool) { f.refuse.Store(v) }

// SetStalled stops (or resumes) sending media for camera i while keeping its
// RTSP sessions open: a hung encoder.
func (f *Fleet) SetStalled(i int, v bool) error {
	for _, sub := range []bool{false, true} {
		t, ok := f.tracks[Path(i, sub)]
		if !ok {
			return fmt.Errorf("camsim: camera %d: %w", i, ErrNoSuchCamera)
		}
		t.stalled.Store(v)
	}
	return nil
}

// Drop closes every session reading camera i (0: every camera).
func (f *Fleet) Drop(i int) {
	f.mu.Lock()
	var victims []*gortsplib.ServerSession
	for ss, p := range f.sessions {
		if i == 0 || strings.TrimSuffix(p, "/sub") == Path(i, false) {
			victims = append(victims, ss)
		}
	}
	f.mu.Unlock()
	for _, ss := range victims {
		ss.Close()
	}
}

// Sessions counts the sessions currently playing camera i (0: all cameras).
func (f *Fleet) Sessions(i int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.sessions {
		if i == 0 || strings.TrimSuffix(p, "/sub") == Path(i, false) {
			n++
		}
	}
	return n
}

// Close stops the fleet and waits for its goroutines.
func (f *Fleet) Close() {
	f.cancel()
	f.wg.Wait()
	for _, t := range f.tracks {
		t.stream.Close()
	}
	f.server.Close()
}

func (f *Fleet) dropLoop() {
	defer f.wg.Done()
	tick := time.NewTicker(f.cfg.DropEvery)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
			f.Drop(0)
		}
	}
}

// run sends the track's clip in a loop on a live timeline with continuous
// RTP timestamps, whether anyone watches or not, as a real camera does.
func (f *Fleet) run(t *track) {
	defer f.wg.Done()
	frame := time.Second / time.Duration(f.cfg.FPS)
	tsStep := uint32(90000 / f.cfg.FPS)
	start := time.Now()
	baseTS, audioBase := rand.Uint32(), rand.Uint32()
	audioFrame := tone(8000 / f.cfg.FPS)
	for n := 0; ; n++ {
		deadline := start.Add(time.Duration(n) * frame)
		if d := time.Until(deadline); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-f.ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		} else if f.ctx.Err() != nil {
			return
		}
		if t.stalled.Load() {
			continue
		}
		src := t.clip.Units[(t.offset+n)%len(t.clip.Units)]
		now := time.Now()
		au := src
		if !t.clip.H265 {
			au = withSEI(src, TimestampSEI(now))
		}
		pkts, err := t.encode(au)
		if err != nil {
			f.log.Error("encode", "error", err)
			continue
		}
		ts := baseTS + uint32(n)*tsStep
		for _, p := range pkts {
			p.Timestamp = ts
			_ = t.stream.WritePacketRTPWithNTP(t.media, p, now)
		}
		if t.audio != nil {
			apkts, err := t.aenc.Encode(audioFrame)
			if err == nil {
				for _, p := range apkts {
					p.Timestamp = audioBase + uint32(n*len(audioFrame))
					_ = t.stream.WritePacketRTPWithNTP(t.audio, p, now)
				}
			}
		}
	}
}

// withSEI puts sei in front of the first slice, after any SPS/PPS.
func withSEI(au [][]byte, sei []byte) [][]byte {
	out := make([][]byte, 0, len(au)+1)
	done := false
	for _, n := range au {
		typ := h264.NALUType(n[0] & 0x1f)
		if !done && typ != h264.NALUTypeSPS && typ != h264.NALUTypePPS {
			out = append(out, sei)
			done = true
		}
		out = append(out, n)
	}
	return out
}

func (f *Fleet) lookup(path string) (*track, bool) {
	f.tracksMu.RLock()
	defer f.tracksMu.RUnlock()
	t, ok := f.tracks[strings.Trim(path, "/")]
	return t, ok
}

func (f *Fleet) authorize(conn *gortsplib.ServerConn, req *base.Request) bool {
	if f.cfg.User == "" {
		return true
	}
	return conn.VerifyCredentials(req, f.cfg.User, f.cfg.Pass)
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (f *Fleet) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !f.authorize(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if f.refuse.Load() {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, errors.New("refusing")
	}
	t, ok := f.lookup(ctx.Path)
	if !ok {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, t.stream, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (f *Fleet) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !f.authorize(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	t, ok := f.lookup(ctx.Path)
	if !ok {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, t.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (f *Fleet) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	f.mu.Lock()
	f.sessions[ctx.Session] = strings.Trim(ctx.Path, "/")
	f.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (f *Fleet) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	f.mu.Lock()
	delete(f.sessions, ctx.Session)
	f.mu.Unlock()
}

// Cameras is the number of cameras in the fleet.
func (f *Fleet) Cameras() int { return f.cfg.Cameras }
