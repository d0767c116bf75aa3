// Package rtspserve re-serves relay streams over RTSP (gortsplib):
// rtsp://host/{camera-id} and /{camera-id}/sub, each path reading its
// stream once for every client, credentials checked by the caller's
// Authorize; a path is let go with its last reader, and its readers when
// the stream goes silent.
package rtspserve

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"sharpeyes/relay"
)

// RTSPConfig configures the RTSP re-serve.
type RTSPConfig struct {
	Addr string // e.g. ":8554"
	// Listener, when set, is served instead of listening on Addr (the
	// gateway binds it first, to name the node by it).
	Listener net.Listener
	// ReadyTimeout bounds how long a DESCRIBE waits for an on-demand source.
	ReadyTimeout time.Duration
	// Linger keeps a path nobody has set up yet open this long (a DESCRIBE
	// before its SETUP); a path whose last reader left is let go at once
	// (the camera's own idle time keeps its pull for a quick return).
	Linger time.Duration
	// StallTimeout lets a path's readers go when its stream has sent
	// nothing for this long (its camera down, a GB/T 28181 channel whose
	// INVITE keeps failing): they are not left waiting for ever (default
	// ReadyTimeout).
	StallTimeout time.Duration
	// Authorize checks a client's credentials (RTSP Basic) for a camera;
	// nil serves everyone. ErrUnknownCamera answers 404 (a camera the client
	// may not see is one that does not exist), any other error 401.
	Authorize func(user, pass, addr, cameraID string) error
	Logger    *slog.Logger
}

// RTSPServer re-serves camera streams: rtsp://host/{camera-id} and
// rtsp://host/{camera-id}/sub. Each path reads its relay stream once and
// gortsplib fans the packets out to every RTSP client.
type RTSPServer struct {
	cfg      RTSPConfig
	provider relay.StreamProvider
	server   *gortsplib.Server
	listener net.Listener
	log      *slog.Logger

	mu    sync.Mutex
	paths map[string]*rtspPath
	wg    sync.WaitGroup
	done  chan struct{}
}

type rtspPath struct {
	key      string
	ss       *gortsplib.ServerStream
	release  func()
	cancel   context.CancelFunc
	sessions map[*gortsplib.ServerSession]struct{}
	idleFrom time.Time
	played   bool // a session was set up on it
}

// NewRTSPServer starts listening.
func NewRTSPServer(cfg RTSPConfig, provider relay.StreamProvider) (*RTSPServer, error) {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 8 * time.Second
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 10 * time.Second
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = cfg.ReadyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &RTSPServer{cfg: cfg, provider: provider, paths: map[string]*rtspPath{},
		log: cfg.Logger.With("component", "rtsp"), done: make(chan struct{})}
	addr := cfg.Addr
	if cfg.Listener != nil {
		addr = cfg.Listener.Addr().String()
	}
	r.server = &gortsplib.Server{
		Handler:     r,
		RTSPAddress: addr,
		// Basic only: passwords and tokens are stored hashed, and Digest
		// needs the secret itself on the server.
		AuthMethods: []auth.VerifyMethod{auth.VerifyMethodBasic},
		Listen: func(network, address string) (net.Listener, error) {
			if cfg.Listener != nil {
				r.listener = cfg.Listener
				return cfg.Listener, nil
			}
			l, err := net.Listen(network, address)
			r.listener = l
			return l, err
		},
	}
	if err := r.server.Start(); err != nil {
		return nil, fmt.Errorf("rtsp %s: %w", addr, err)
	}
	r.wg.Add(1)
	go r.janitor()
	return r, nil
}

// Addr is the bound address.
func (r *RTSPServer) Addr() string { return r.listener.Addr().String() }

// Close stops the server and every path.
func (r *RTSPServer) Close() {
	close(r.done)
	r.server.Close()
	r.mu.Lock()
	for _, p := range r.paths {
		r.closePathLocked(p)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *RTSPServer) janitor() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.Linger / 4)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.done:
			return
		}
		r.mu.Lock()
		for _, p := range r.paths {
			if len(p.sessions) == 0 && time.Since(p.idleFrom) > r.cfg.Linger {
				r.closePathLocked(p)
			}
		}
		r.mu.Unlock()
	}
}

func (r *RTSPServer) closePathLocked(p *rtspPath) {
	if r.paths[p.key] != p {
		return
	}
	p.cancel()
	p.ss.Close()
	p.release()
	delete(r.paths, p.key)
}

// splitPath turns "/cam/sub" into ("cam", "sub") and "/cam" into ("cam", "main").
func splitPath(path string) (string, string) {
	path = strings.Trim(path, "/")
	if id, ok := strings.CutSuffix(path, "/sub"); ok {
		return id, "sub"
	}
	return path, "main"
}

func (r *RTSPServer) path(ctxPath string) (*rtspPath, *base.Response, error) {
	id, variant := splitPath(ctxPath)
	key := id + "/" + variant
	r.mu.Lock()
	if p, ok := r.paths[key]; ok {
		r.mu.Unlock()
		return p, nil, nil
	}
	r.mu.Unlock()

	stream, release, err := r.provider.Acquire(context.Background(), id, variant)
	if err != nil {
		code := base.StatusNotFound
		if !errors.Is(err, relay.ErrUnknownCamera) && !errors.Is(err, relay.ErrUnknownStream) {
			code = base.StatusServiceUnavailable
		}
		return nil, &base.Response{StatusCode: code}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ReadyTimeout)
	err = stream.WaitReady(ctx)
	cancel()
	if err != nil {
		release()
		return nil, &base.Response{StatusCode: base.StatusServiceUnavailable}, relay.ErrSourceUnavailable
	}
	info := stream.Info()
	var video format.Format
	var enc func([][]byte) ([]*rtp.Packet, error)
	switch info.Video {
	case relay.CodecH265:
		f := &format.H265{PayloadTyp: 96, VPS: info.VPS, SPS: info.SPS, PPS: info.PPS}
		e, err := f.CreateEncoder()
		if err != nil {
			release()
			return nil, &base.Response{StatusCode: base.StatusInternalServerError}, err
		}
		video, enc = f, e.Encode
	default:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: info.SPS, PPS: info.PPS}
		e, err := f.CreateEncoder()
		if err != nil {
			release()
			return nil, &base.Response{StatusCode: base.StatusInternalServerError}, err
		}
		video, enc = f, e.Encode
	}
	vmedia := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{video}}
	desc := &description.Session{Medias: []*description.Media{vmedia}}
	var amedia *description.Media
	var aenc func([]byte) ([]*rtp.Packet, error)
	if info.Audio == relay.CodecPCMA || info.Audio == relay.CodecPCMU {
		f := &format.G711{PayloadTyp: 8, MULaw: info.Audio == relay.CodecPCMU, SampleRate: 8000, ChannelCount: 1}
		if info.Audio == relay.CodecPCMU {
			f.PayloadTyp = 0
		}
		if e, err := f.CreateEncoder(); err == nil {
			amedia = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}}
			desc.Medias = append(desc.Medias, amedia)
			aenc = e.Encode
		}
	}
	ss := &gortsplib.ServerStream{Server: r.server, Desc: desc}
	if err := ss.Initialize(); err != nil {
		release()
		return nil, &base.Response{StatusCode: base.StatusInternalServerError}, err
	}
	fctx, fcancel := context.WithCancel(context.Background())
	p := &rtspPath{key: key, ss: ss, release: release, cancel: fcancel,
		sessions: map[*gortsplib.ServerSession]struct{}{}, idleFrom: time.Now()}

	r.mu.Lock()
	if other, ok := r.paths[key]; ok { // lost a race with another client
		r.mu.Unlock()
		fcancel()
		ss.Close()
		release()
		return other, nil, nil
	}
	r.paths[key] = p
	r.mu.Unlock()

	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.feed(fctx, id, stream, ss, vmedia, enc, amedia, aenc)
		// The camera went away (removed or changed): drop its clients.
		r.mu.Lock()
		r.closePathLocked(p)
		r.mu.Unlock()
	}()
	return p, nil, nil
}

// feed packetizes the relay stream once for every RTSP client of the path.
func (r *RTSPServer) feed(ctx context.Context, cameraID string, stream *relay.Stream, ss *gortsplib.ServerStream,
	vmedia *description.Media, enc func([][]byte) ([]*rtp.Packet, error),
	amedia *description.Media, aenc func([]byte) ([]*rtp.Packet, error)) {
	gop, rd := stream.Join()
	defer rd.Close()
	vbase, abase := randUint32(), randUint32()
	write := func(u *relay.Unit) {
		ntp := u.Received
		if ntp.IsZero() {
			ntp = time.Now()
		}
		if u.Codec.IsVideo() {
			pkts, err := enc(u.NALUs)
			if err != nil {
				return
			}
			ts := vbase + uint32(u.PTS*90000/time.Second)
			for _, p := range pkts {
				p.Timestamp = ts
				_ = ss.WritePacketRTPWithNTP(vmedia, p, ntp)
			}
			return
		}
		if amedia == nil {
			return
		}
		pkts, err := aenc(u.Payload)
		if err != nil {
			return
		}
		ts := abase + uint32(u.PTS*8000/time.Second)
		for _, p := range pkts {
			p.Timestamp = ts
			_ = ss.WritePacketRTPWithNTP(amedia, p, ntp)
		}
	}
	for _, u := range gop {
		write(u)
	}
	for {
		nctx, cancel := context.WithTimeout(ctx, r.cfg.StallTimeout)
		u, err := rd.Next(nctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && nctx.Err() != nil {
				r.log.Info("nothing from the camera: its RTSP readers let go", "camera", cameraID, "after", r.cfg.StallTimeout)
			}
			return
		}
		write(u)
	}
}

// authorize checks the request's credentials for the path's camera: 401
// with a Basic challenge without them, 401 and a closed connection with
// wrong ones (gortsplib's handling of ErrServerAuth).
func (r *RTSPServer) authorize(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, error) {
	if r.cfg.Authorize == nil {
		return nil, nil
	}
	id, _ := splitPath(path)
	var h headers.Authorization
	user, pass := "", ""
	if err := h.Unmarshal(req.Header["Authorization"]); err == nil && h.Method == headers.AuthMethodBasic {
		user, pass = h.Username, h.BasicPass
	}
	addr := ""
	if a, ok := conn.NetConn().RemoteAddr().(*net.TCPAddr); ok {
		addr = a.IP.String()
	}
	if err := r.cfg.Authorize(user, pass, addr, id); err != nil {
		if user == "" {
			return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
		}
		r.log.Info("rtsp refused", "camera", id, "user", user, "addr", addr, "error", err)
		if errors.Is(err, relay.ErrUnknownCamera) {
			return &base.Response{StatusCode: base.StatusNotFound}, relay.ErrUnknownCamera
		}
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	return nil, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (r *RTSPServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if resp, err := r.authorize(ctx.Conn, ctx.Request, ctx.Path); resp != nil {
		return resp, nil, err
	}
	p, resp, err := r.path(ctx.Path)
	if err != nil {
		r.log.Info("describe refused", "path", ctx.Path, "error", err)
		return resp, nil, err
	}
	return &base.Response{StatusCode: base.StatusOK}, p.ss, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (r *RTSPServer) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if resp, err := r.authorize(ctx.Conn, ctx.Request, ctx.Path); resp != nil {
		return resp, nil, err
	}
	p, resp, err := r.path(ctx.Path)
	if err != nil {
		return resp, nil, err
	}
	r.mu.Lock()
	p.sessions[ctx.Session] = struct{}{}
	p.played = true
	r.mu.Unlock()
	ctx.Session.SetUserData(p)
	return &base.Response{StatusCode: base.StatusOK}, p.ss, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (r *RTSPServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (r *RTSPServer) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	p, ok := ctx.Session.UserData().(*rtspPath)
	if !ok {
		return
	}
	r.mu.Lock()
	delete(p.sessions, ctx.Session)
	if len(p.sessions) == 0 {
		p.idleFrom = time.Now()
		r.closePathLocked(p) // the last reader left: the stream is let go now
	}
	r.mu.Unlock()
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
