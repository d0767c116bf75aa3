// Package webrtc serves relay streams to browsers over WHEP (RFC 9725):
// one pion API with a UDP and an ICE-TCP mux, each access unit packetized
// once and shared by every viewer of a camera (live shards written with
// UDP GSO), the GOP cache sent paced from the newest keyframe, NACK and
// REMB, SRTP sealed by the gateway where it can; offers are bounded
// before anything starts.
package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"sharpeyes/relay"
)

// ICEServer is a STUN or TURN server handed to clients and used by the server.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"credential" json:"credential,omitempty"`
}

// WebRTCConfig configures the WHEP server.
type WebRTCConfig struct {
	UDPAddr    string // one muxed UDP port for every peer, e.g. ":8189"
	TCPAddr    string // ICE-TCP on one port; empty disables
	PublicIPs  []string
	ICEServers []ICEServer
	// ReadyTimeout bounds how long an offer waits for an on-demand source
	// to connect (default 8 s).
	ReadyTimeout time.Duration
	// MaxSessions caps concurrent viewers (0: no cap).
	MaxSessions int
	// DisableGSO sends every packet with its own system call instead of
	// batching a frame's packets with UDP GSO (gso.go).
	DisableGSO bool
	// CatchUp paces the cached GOP a joining viewer is sent (pace.go).
	CatchUp CatchUp
	Logger  *slog.Logger
}

// WHEP serves WebRTC viewers (WHEP, RFC 9725) from relay streams.
type WHEP struct {
	cfg   WebRTCConfig
	media *webrtc.MediaEngine
	se    webrtc.SettingEngine // copied into each session's API (sessionAPI)

	netMu    sync.Mutex
	net      *stdnet.Net // interfaces, shared by new sessions
	netAt    time.Time
	udp      net.PacketConn
	gso      *gsoConn
	tcp      net.Listener
	udpMux   ice.UDPMux
	tcpMux   ice.TCPMux
	provider relay.StreamProvider
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
	reserved int // offers being answered, counted against MaxSessions
	shards   map[*relay.Stream][]*liveShard
	// shardSize is how many viewers a live shard serves (fanout.go).
	shardSize int

	retransmits uint64Counter
	reaped      uint64Counter // sessions ended because the viewer fell silent
	ownSRTP     uint64Counter // sessions whose SRTP the gateway sealed itself
	ownFailed   uint64Counter // UDP sessions that kept pion's SRTP (srtp.go)
	// onCatchUp, when set (tests), sees every unit sent while catching up.
	onCatchUp func(u *relay.Unit, at time.Time, rate, burst float64)
}

// NewWHEP opens the media ports and returns a WHEP server.
func NewWHEP(cfg WebRTCConfig, provider relay.StreamProvider) (*WHEP, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 8 * time.Second
	}
	w := &WHEP{cfg: cfg, provider: provider, sessions: map[string]*session{}, shardSize: shardSize,
		log: cfg.Logger.With("component", "whep")}
	w.ctx, w.cancel = context.WithCancel(context.Background())

	w.media = &webrtc.MediaEngine{}
	if err := registerCodecs(w.media); err != nil {
		return nil, err
	}
	// No interceptors: NACKs are answered by each session from the shared
	// payloads (nack.go), not by pion's responder, which copies every
	// packet per viewer; sender reports come from one loop for all viewers
	// (reportLoop), not a goroutine per viewer; a send-only peer has
	// nothing to send receiver reports about.
	se := webrtc.SettingEngine{LoggerFactory: newPionLogs(cfg.Logger)}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A connected viewer that falls silent is disconnected after 1.5 s and
	// reaped reapGrace later (session.reapIfSilent); keepalives every second
	// keep a live viewer (which answers them, and sends RTCP receiver
	// reports) far from that. The failed timeout stays long: a viewer still
	// connecting (through TURN on a slow link) gets the 15 s run allows.
	se.SetICETimeouts(1500*time.Millisecond, 20*time.Second, time.Second)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	var err error
	w.udp, err = net.ListenPacket("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("webrtc udp %s: %w", cfg.UDPAddr, err)
	}
	udpConn, ok := w.udp.(*net.UDPConn)
	if !ok {
		w.udp.Close()
		return nil, fmt.Errorf("webrtc udp %s: not a UDP socket", cfg.UDPAddr)
	}
	w.gso = newGSOConn(udpConn, !cfg.DisableGSO, w.log)
	w.udpMux = webrtc.NewICEUDPMux(nil, w.gso)
	se.SetICEUDPMux(w.udpMux)
	if cfg.TCPAddr != "" {
		w.tcp, err = net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			w.udp.Close()
			return nil, fmt.Errorf("webrtc tcp %s: %w", cfg.TCPAddr, err)
		}
		w.tcpMux = webrtc.NewICETCPMux(nil, w.tcp, 64)
		se.SetICETCPMux(w.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	w.se = se
	if _, err := w.interfaces(); err != nil {
		w.udp.Close()
		if w.tcp != nil {
			w.tcp.Close()
		}
		return nil, fmt.Errorf("network interfaces: %w", err)
	}
	w.wg.Add(1)
	go w.reportLoop()
	return w, nil
}

// interfacesMaxAge is how long the host's interface list is shared by new
// sessions before it is read again.
const interfacesMaxAge = 30 * time.Second

// interfaces is the host's network interface list, shared by the sessions'
// ICE agents: each agent otherwise reads its own at every join, and keeps
// it (the kernel's whole netlink answer, ≈ 12 KB a viewer). It is read
// again, for sessions from then on, once it is interfacesMaxAge old.
func (w *WHEP) interfaces() (*stdnet.Net, error) {
	w.netMu.Lock()
	defer w.netMu.Unlock()
	if w.net == nil || time.Since(w.netAt) > interfacesMaxAge {
		n, err := stdnet.NewNet()
		if err != nil {
			if w.net != nil {
				return w.net, nil // keep the list we have
			}
			return nil, err
		}
		w.net, w.netAt = n, time.Now()
	}
	return w.net, nil
}

// sessionAPI is the pion API of one viewer: the server's settings, with
// that viewer's handshake going to k (srtp.go) when the gateway is its
// DTLS server. As the server it skips the HelloVerifyRequest cookie,
// keeping the handshake as short as it is with the gateway as the client:
// the cookie guards against spoofed source addresses, and ICE has checked
// the viewer's address (with the offer's credentials) before pion accepts
// a DTLS packet from it.
func (w *WHEP) sessionAPI(k *handshakeKeys, dtlsServer bool) *webrtc.API {
	se := w.se
	if n, err := w.interfaces(); err == nil {
		se.SetNet(n)
	}
	if dtlsServer {
		_ = se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer) // a valid role: no error
		se.SetDTLSInsecureSkipHelloVerify(true)
		se.SetDTLSKeyLogWriter(k)
		se.SetDTLSServerHelloMessageHook(k.serverHello)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(w.media), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
}

// h264Profiles are offered so any browser's H.264 offer finds a match; the
// profile actually sent is the camera's, which browsers decode regardless.
var h264Profiles = []string{"42001f", "42e01f", "4d001f", "64001f"}

func registerCodecs(m *webrtc.MediaEngine) error {
	// goog-remb: browsers then send their estimate of the path's rate,
	// which the catch-up keeps under (pace.go).
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "goog-remb"}}
	pt := webrtc.PayloadType(102)
	for _, p := range h264Profiles {
		c := webrtc.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + p}}
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register h264: %w", err)
		}
		pt++
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH265, ClockRate: 90000, RTCPFeedback: fb}}, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("register h265: %w", err)
	}
	for _, a := range []webrtc.RTPCodecParameters{
		{PayloadType: 0, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}},
		{PayloadType: 8, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}},
	} {
		if err := m.RegisterCodec(a, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("register g711: %w", err)
		}
	}
	return nil
}

// UDPAddr is the bound UDP media address.
func (w *WHEP) UDPAddr() net.Addr { return w.udp.LocalAddr() }

// ICEServers are the servers to advertise to clients (WHEP Link headers).
func (w *WHEP) ICEServers() []ICEServer { return w.cfg.ICEServers }

// Close ends every session and releases the ports.
func (w *WHEP) Close() {
	w.cancel()
	w.mu.Lock()
	all := make([]*session, 0, len(w.sessions))
	for _, s := range w.sessions {
		all = append(all, s)
	}
	w.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	w.wg.Wait()
	if w.tcpMux != nil {
		w.tcpMux.Close()
	}
	w.udpMux.Close()
	if w.tcp != nil {
		w.tcp.Close()
	}
	w.udp.Close()
}

// Sessions is the number of live sessions for a camera ("" for all).
func (w *WHEP) Sessions(cameraID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cameraID == "" {
		return len(w.sessions)
	}
	n := 0
	for _, s := range w.sessions {
		if s.camera == cameraID {
			n++
		}
	}
	return n
}

// MaxOfferMedia bounds the media sections of an offer: a viewer needs a
// video and an audio section (a data channel at most besides); hundreds
// would cost hundreds of answered sections and transceivers.
const MaxOfferMedia = 4

// Bounds of an offer beyond MaxOfferMedia: the gateway checks every
// candidate an offer names (STUN to each, repeatedly), so an offer naming
// thousands would make it a reflector; a browser names a few per network
// interface. ICE credentials are as RFC 8839 bounds them.
const (
	MaxOfferBytes      = 64 << 10
	MaxOfferCandidates = 32
	maxUfrag           = 256
	maxICEPwd          = 256
)

// offerCodecs checks the offer parses and is bounded (size, media
// sections, candidates, ICE credentials; no section refused with port 0)
// and lists the video and audio codecs in it.
func offerCodecs(offer string) (map[string]bool, error) {
	if len(offer) > MaxOfferBytes {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrBadOffer, len(offer), MaxOfferBytes)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if n := len(sd.MediaDescriptions); n > MaxOfferMedia {
		return nil, fmt.Errorf("%w: %d media sections; a viewer needs one video and one audio section (at most %d)", ErrBadOffer, n, MaxOfferMedia)
	}
	candidates := 0
	checkAttrs := func(attrs []sdp.Attribute) error {
		for _, a := range attrs {
			switch a.Key {
			case "candidate":
				candidates++
			case "ice-ufrag":
				if len(a.Value) < 4 || len(a.Value) > maxUfrag {
					return fmt.Errorf("%w: ice-ufrag of %d characters (RFC 8839: 4 to %d)", ErrBadOffer, len(a.Value), maxUfrag)
				}
			case "ice-pwd":
				if len(a.Value) < 22 || len(a.Value) > maxICEPwd {
					return fmt.Errorf("%w: ice-pwd of %d characters (RFC 8839: 22 to %d)", ErrBadOffer, len(a.Value), maxICEPwd)
				}
			}
		}
		return nil
	}
	if err := checkAttrs(sd.Attributes); err != nil {
		return nil, err
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Port.Value == 0 {
			return nil, fmt.Errorf("%w: a %s section with port 0 (refused in its own offer)", ErrBadOffer, md.MediaName.Media)
		}
		if err := checkAttrs(md.Attributes); err != nil {
			return nil, err
		}
	}
	if candidates > MaxOfferCandidates {
		return nil, fmt.Errorf("%w: %d ICE candidates (at most %d)", ErrBadOffer, candidates, MaxOfferCandidates)
	}
	codecs := map[string]bool{}
	hasVideo := false
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "video" {
			hasVideo = true
		}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			parts := strings.Fields(a.Value)
			if len(parts) == 2 {
				name, _, _ := strings.Cut(parts[1], "/")
				codecs[strings.ToUpper(name)] = true
			}
		}
	}
	if !hasVideo {
		return nil, fmt.Errorf("%w: no video media section", ErrBadOffer)
	}
	return codecs, nil
}

// offerLetsUsServeDTLS tells whether the gateway may answer as the DTLS
// server: unless the offer insists on being the server itself ("passive";
// offers say "actpass", RFC 8842, and a missing setup means "active",
// RFC 4145).
func offerLetsUsServeDTLS(offer string) bool {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(offer) != nil {
		return false
	}
	setup, _ := sd.Attribute("setup")
	for _, md := range sd.MediaDescriptions {
		if v, ok := md.Attribute("setup"); ok {
			setup = v
			break
		}
	}
	return setup != "passive"
}

// Offer starts a session for a camera stream and returns its id and answer.
func (w *WHEP) Offer(ctx context.Context, cameraID, variant, offer string) (string, string, error) {
	// The offer first: junk must not start a camera pull.
	codecs, err := offerCodecs(offer)
	if err != nil {
		return "", "", err
	}
	// A place under the cap is taken before the session exists, so
	// concurrent offers cannot all pass the check.
	if !w.reserve() {
		return "", "", ErrTooManySessions
	}
	placed := false
	defer func() {
		if !placed {
			w.unreserve()
		}
	}()
	stream, release, err := w.provider.Acquire(w.ctx, cameraID, variant)
	if err != nil {
		return "", "", err
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	readyCtx, cancel := context.WithTimeout(ctx, w.cfg.ReadyTimeout)
	err = stream.WaitReady(readyCtx)
	cancel()
	if err != nil {
		return "", "", fmt.Errorf("%w: no media within %s", relay.ErrSourceUnavailable, w.cfg.ReadyTimeout)
	}
	info := stream.Info()
	if !codecs[string(info.Video)] {
		return "", "", fmt.Errorf("%w: camera sends %s", ErrCodecNotOffered, info.Video)
	}
	s, answer, err := w.newSession(cameraID, variant, stream, info, codecs, offer, release)
	placed = true // newSession moved the reservation into the session map, or gave it back
	if err != nil {
		return "", "", err
	}
	ok = true
	return s.id, answer, nil
}

// Delete ends a session.
func (w *WHEP) Delete(id string) error {
	w.mu.Lock()
	s, ok := w.sessions[id]
	w.mu.Unlock()
	if !ok {
		return ErrSessionNotFound
	}
	s.close()
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mimeOf maps a relay codec to its WebRTC MIME type.
func mimeOf(c relay.Codec) string {
	switch c {
	case relay.CodecH265:
		return webrtc.MimeTypeH265
	case relay.CodecPCMA:
		return webrtc.MimeTypePCMA
	case relay.CodecPCMU:
		return webrtc.MimeTypePCMU
	}
	return webrtc.MimeTypeH264
}

// reserve takes a place under MaxSessions for an offer being answered.
func (w *WHEP) reserve() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.MaxSessions > 0 && len(w.sessions)+w.reserved >= w.cfg.MaxSessions {
		return false
	}
	w.reserved++
	return true
}

func (w *WHEP) unreserve() {
	w.mu.Lock()
	w.reserved--
	w.mu.Unlock()
}

func (w *WHEP) newSession(cameraID, variant string, stream *relay.Stream, info relay.Info, codecs map[string]bool, offer string, release func()) (_ *session, _ string, err error) {
	defer func() {
		if err != nil {
			w.unreserve()
		}
	}()
	keys := &handshakeKeys{}
	pc, err := w.sessionAPI(keys, offerLetsUsServeDTLS(offer)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("peer connection: %w", err)
	}
	s := &session{
		w: w, id: newID(), camera: cameraID, variant: variant, stream: stream, pc: pc, release: release, keys: keys,
		done: make(chan struct{}), log: w.log.With("camera", cameraID, "stream", variant),
	}
	s.ctx, s.cancel = context.WithCancel(w.ctx)
	s.video = newOutTrack(webrtc.RTPCodecTypeVideo, mimeOf(info.Video), "video")
	if info.Video == relay.CodecH264 && len(info.SPS) > 1 {
		s.video.prefer = fmt.Sprintf("%02x", info.SPS[1])
	}
	fail := func(err error) (*session, string, error) {
		s.cancel()
		_ = pc.Close()
		return nil, "", err
	}
	if _, err := pc.AddTransceiverFromTrack(s.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fail(fmt.Errorf("add video: %w", err))
	}
	if info.Audio != "" && codecs[string(info.Audio)] {
		s.audio = newOutTrack(webrtc.RTPCodecTypeAudio, mimeOf(info.Audio), "audio")
		if _, err := pc.AddTransceiverFromTrack(s.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return fail(fmt.Errorf("add audio: %w", err))
		}
	}
	for _, tr := range pc.GetTransceivers() {
		snd := tr.Sender()
		if snd == nil {
			continue
		}
		if snd.Track() == s.video {
			go readRTCP(snd, &feedback{s: s, sent: &s.sent, retransmits: &w.retransmits, losses: &s.losses, remb: &s.remb})
		} else {
			go readRTCP(snd, nil)
		}
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			s.connectedOnce.Do(func() { close(s.connected) })
		case webrtc.PeerConnectionStateDisconnected:
			// Nothing heard from the viewer (keepalive answers, RTCP) for
			// 1.5 s: a phone out of coverage, a closed tab. Give it as long
			// again to come back, then end the session.
			go s.reapIfSilent(reapGrace)
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			go s.close()
		}
	})
	s.connected = make(chan struct{})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("local description: %w", err))
	}
	select {
	case <-gathered:
	case <-time.After(3 * time.Second):
		return fail(errors.New("ICE gathering timed out"))
	}
	// Follow the selected pair's address: UDP GSO batches per destination.
	if snd := pc.GetSenders(); len(snd) > 0 && snd[0].Transport() != nil {
		ice := snd[0].Transport().ICETransport()
		ice.OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) { s.setRemote(p) })
		s.ice = ice
	}
	w.mu.Lock()
	w.sessions[s.id] = s
	w.reserved--
	w.mu.Unlock()
	w.wg.Add(1)
	go s.run()
	return s, pc.LocalDescription().SDP, nil
}

// session is one WHEP viewer.
type session struct {
	w       *WHEP
	id      string
	camera  string
	variant string
	stream  *relay.Stream
	pc      *webrtc.PeerConnection
	video   *outTrack
	audio   *outTrack
	release func()
	log     *slog.Logger

	ctx           context.Context
	cancel        context.CancelFunc
	connected     chan struct{}
	connectedOnce sync.Once
	done          chan struct{}
	closeOnce     sync.Once

	vseq, aseq uint16
	keyed      bool          // a keyframe has been sent
	sent       sentRing      // video frames sent, for NACKs
	losses     uint64Counter // NACKs received: congestion during a catch-up
	remb       atomic.Uint64 // the viewer's estimate of its path (REMB), bit/s; 0: none yet

	ice    *webrtc.ICETransport
	remote atomic.Pointer[netip.AddrPort] // viewer's UDP address; nil over ICE-TCP

	keys     *handshakeKeys
	tap      atomic.Pointer[rtpTap]     // pion's first packet, to check keys by
	own      atomic.Pointer[srtpSender] // set once the session seals its own SRTP
	ownTried bool                       // by the sender: the take-over was tried
	vstats   srStats                    // what the sender reports say (reportLoop)
	astats   srStats

	reader *relay.Reader // set by run before it reads; closed by close
	stamp  stamper       // used by whoever sends: run, then the live shard
	shard  *liveShard    // the live shard sending to the session (under w.mu)
	from   uint64        // first unit the shard sends it (under shard.mu)
}

// setRemote follows the selected pair: the viewer's address when the
// pair's packets leave through the shared UDP socket (a host candidate of
// the UDP mux), else nil.
func (s *session) setRemote(p *webrtc.ICECandidatePair) {
	if p == nil || p.Remote == nil || p.Remote.Protocol != webrtc.ICEProtocolUDP ||
		p.Local == nil || p.Local.Typ != webrtc.ICECandidateTypeHost {
		s.remote.Store(nil)
		return
	}
	ip, err := netip.ParseAddr(p.Remote.Address)
	if err != nil {
		s.remote.Store(nil)
		return
	}
	ap := netip.AddrPortFrom(ip, p.Remote.Port)
	s.remote.Store(&ap)
}

// reapGrace is how long a disconnected viewer has to come back.
const reapGrace = 1500 * time.Millisecond

// reapIfSilent ends the session if the viewer is still not connected
// after grace, counting it as reaped.
func (s *session) reapIfSilent(grace time.Duration) {
	select {
	case <-time.After(grace):
	case <-s.done:
		return
	}
	if st := s.pc.ConnectionState(); st == webrtc.PeerConnectionStateDisconnected || st == webrtc.PeerConnectionStateFailed {
		s.w.reaped.add(1)
		s.log.Info("viewer gone silent: session reaped", "silent_s", 1.5+grace.Seconds())
		s.close()
	}
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.cancel()
		_ = s.pc.Close()
		s.w.mu.Lock()
		delete(s.w.sessions, s.id)
		s.w.detachLocked(s)
		r := s.reader
		s.w.mu.Unlock()
		if r != nil {
			r.Close()
		}
		if t := s.tap.Swap(nil); t != nil {
			s.w.gso.untap(t)
		}
		if s.release != nil {
			s.release()
		}
	})
}

// run waits for the connection, sends the cached GOP paced, and then
// follows the stream live: over UDP in a live shard shared with other
// viewers (fanout.go), over ICE-TCP by itself.
func (s *session) run() {
	defer s.w.wg.Done()
	attached := false
	defer func() {
		if !attached {
			s.close()
		}
	}()
	select {
	case <-s.connected:
	case <-s.done:
		return
	case <-time.After(15 * time.Second):
		s.log.Info("viewer never connected")
		return
	}
	ctx := s.ctx // cancelled by close, or when the server closes

	if s.remote.Load() == nil && s.ice != nil {
		if p, err := s.ice.GetSelectedCandidatePair(); err == nil {
			s.setRemote(p)
		}
	}
	if ap := s.remote.Load(); ap != nil {
		if _, ssrc, ok := s.video.params(); ok {
			s.tap.Store(s.w.gso.tap(*ap, ssrc))
		}
	}
	gop, r := s.stream.Join()
	s.w.mu.Lock()
	s.reader = r
	closed := s.ctx.Err() != nil
	s.w.mu.Unlock()
	if closed { // close ran before the reader was set
		r.Close()
		return
	}
	s.vseq, s.aseq = uint16(randUint32()), uint16(randUint32())
	s.stamp = stamper{v: randUint32(), a: randUint32()}
	gop = s.catchUpPlan(gop, r)
	if len(gop) > 0 {
		if !s.catchUp(ctx, gop, r, &s.stamp) {
			return
		}
	}
	attached = s.follow(ctx, r)
}

// follow sends the stream live from r until the session ends (false) or
// a live shard takes it over (true). A viewer joins a shard only once a
// keyframe has been sent to it.
func (s *session) follow(ctx context.Context, r *relay.Reader) bool {
	for {
		if s.keyed && s.remote.Load() != nil && s.w.attach(s, r.Position()) {
			return true
		}
		u, err := r.Next(ctx)
		if err != nil {
			return false
		}
		if err := s.sendLive(ctx, u, &s.stamp, nil); err != nil {
			return false
		}
	}
}

// stamper maps units to RTP time. Live units keep their PTS spacing from
// an anchor; catch-up units are stamped by when they are sent, so the
// browser's jitter buffer sees them arrive on time and does not grow.
type stamper struct {
	v, a      uint32        // RTP bases
	anchorPTS time.Duration // PTS of the unit stamped at anchorTS
	anchorTS  uint32        // video RTP time at anchorPTS (offset from v)
	anchored  bool
	lastV     uint32 // last video RTP time sent (offset from v)
}

func (t *stamper) video(pts time.Duration) uint32 {
	if !t.anchored {
		t.anchorPTS, t.anchorTS, t.anchored = pts, t.lastV, true
	}
	ts := t.anchorTS + uint32((pts-t.anchorPTS)*90000/time.Second)
	if int32(ts-t.lastV) <= 0 && t.lastV != 0 {
		ts = t.lastV + 1 // never backwards
	}
	t.lastV = ts
	return t.v + ts
}

func (t *stamper) audio(pts time.Duration) uint32 {
	if !t.anchored {
		t.anchorPTS, t.anchorTS, t.anchored = pts, t.lastV, true
	}
	return t.a + uint32(int64(t.anchorTS)*8000/90000) + uint32((pts-t.anchorPTS)*8000/time.Second)
}

// catchUpPlan decides what a joining viewer is sent from the cache: the
// GOP (paced), or nothing when the GOP cache is off or the catch-up would
// take longer than CatchUp.Max at its rate — then the reader waits for the
// next keyframe.
func (s *session) catchUpPlan(gop []*relay.Unit, r *relay.Reader) []*relay.Unit {
	cfg := s.w.cfg.CatchUp.withDefaults()
	if len(gop) == 0 {
		return nil
	}
	if s.w.cfg.CatchUp.Off {
		r.WaitKey()
		return nil
	}
	rest := 0
	for _, u := range gop[1:] {
		if u.Codec.IsVideo() {
			rest += u.Size()
		}
	}
	live := s.stream.Bitrate() / 8
	rate := max(cfg.Rate*live, cfg.MinRate/8)
	if gain := rate - live; rest > 0 && (gain <= 0 || time.Duration(float64(rest)/gain*float64(time.Second)) > cfg.Max) {
		r.WaitKey()
		return nil
	}
	return gop
}

// catchUp sends the cached keyframe at once, then the rest of the GOP and
// what arrives meanwhile through the pacer, until nothing is waiting: the
// viewer is live. Only video is sent while catching up. False when the
// session ended.
func (s *session) catchUp(ctx context.Context, gop []*relay.Unit, r *relay.Reader, t *stamper) bool {
	cfg := s.w.cfg.CatchUp.withDefaults()
	live := s.stream.Bitrate() / 8
	p := newPacer(max(cfg.Rate*live, cfg.MinRate/8), max(live*1.25, cfg.MinRate/16), time.Now)
	start := time.Now()
	sent := 0
	losses, remb := s.losses.v.Load(), s.remb.Load()
	send := func(u *relay.Unit) bool {
		if !u.Codec.IsVideo() {
			return true
		}
		if sent > 0 { // the keyframe goes at once: the instant first frame
			if n := s.losses.v.Load(); n != losses {
				losses = n
				p.congested()
			}
			// A browser's estimate starts low and climbs with what it
			// receives, so its level says little; a drop of 15 % or more
			// is its overuse detector firing: keep under the new estimate.
			if b := s.remb.Load(); b != remb {
				if float64(b) < 0.85*float64(remb) {
					p.estimated(float64(b))
				}
				remb = b
			}
			if p.wait(ctx, u.Size()) != nil {
				return false
			}
		} else {
			p.tokens -= float64(u.Size())
		}
		t.lastV = max(t.lastV, uint32(time.Since(start)*90000/time.Second))
		ts := t.v + t.lastV
		if err := s.sendVideo(ctx, u, ts, sent == 0, nil); err != nil {
			return false
		}
		t.anchorPTS, t.anchorTS, t.anchored = u.PTS, t.lastV, true
		sent++
		if s.w.onCatchUp != nil {
			s.w.onCatchUp(u, time.Now(), p.rate, p.burst)
		}
		return true
	}
	for _, u := range gop {
		if !send(u) {
			return false
		}
	}
	for r.Pending() {
		u, err := r.Next(ctx)
		if err != nil || !send(u) {
			return false
		}
	}
	s.log.Debug("caught up", "units", sent, "took_ms", time.Since(start).Milliseconds(), "rate_bps", int(p.rate*8))
	return true
}

// sendLive sends one unit at the live edge; b is the live shard's batch
// when the shard has opened a span for the session (begin), else nil.
func (s *session) sendLive(ctx context.Context, u *relay.Unit, t *stamper, b *gsoBatch) error {
	if u.Codec.IsVideo() {
		return s.sendVideo(ctx, u, t.video(u.PTS), false, b)
	}
	if s.audio == nil {
		return nil
	}
	h := rtp.Header{Version: 2, SequenceNumber: s.aseq, Timestamp: t.audio(u.PTS), Marker: false}
	s.aseq++
	n, err := s.writeRTP(s.audio, &h, u.Payload, b)
	if n > 0 {
		s.astats.sent(h.Timestamp, time.Now(), 1, len(u.Payload))
	}
	return err
}

// sendVideo writes one access unit. The first write of a session is retried
// until SRTP is ready: pion reports "connected" before it is and silently
// drops writes made meanwhile.
func (s *session) sendVideo(ctx context.Context, u *relay.Unit, ts uint32, first bool, b *gsoBatch) error {
	// Not on the first write: until SRTP is ready the DTLS handshake is
	// still talking to this address, and it must not wait in a queue.
	if ap := s.remote.Load(); ap != nil && b == nil && !first && s.w.gso.hold(*ap) {
		defer func() { _ = s.w.gso.flush(*ap) }()
	}
	payloads := payloads(u)
	s.sent.put(u, s.vseq, len(payloads), ts)
	h := rtp.Header{Version: 2, Timestamp: ts} // one header per frame, not per packet
	sent, octets := 0, 0
	for i, p := range payloads {
		h.SequenceNumber, h.Marker = s.vseq, i == len(payloads)-1
		for {
			n, err := s.writeRTP(s.video, &h, p, b)
			if err != nil {
				return err
			}
			if n > 0 {
				sent, octets = sent+1, octets+len(p)
				if !s.ownTried {
					s.takeOverSRTP(&h, p)
				}
			}
			if n > 0 || !first {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
		first = false
		s.vseq++
	}
	if sent > 0 {
		s.vstats.sent(ts, time.Now(), sent, octets)
	}
	s.keyed = s.keyed || u.Key
	return nil
}

// writeRTP sends one RTP packet on tr. Once the session seals its own
// SRTP, the packet is sealed into b (a live shard's batch) or, outside a
// shard, sent through the shared socket (batched when the address is
// held); before that, and for viewers the session cannot seal for, it
// goes through pion. n == 0 with no error: SRTP is not ready yet.
func (s *session) writeRTP(tr *outTrack, h *rtp.Header, payload []byte, b *gsoBatch) (int, error) {
	o := s.own.Load()
	if o == nil {
		return tr.write(h, payload)
	}
	pt, ssrc, ok := tr.params()
	if !ok {
		return 0, nil
	}
	h.PayloadType, h.SSRC = pt, ssrc
	if b != nil {
		return len(payload), b.seal(o, h, payload)
	}
	ap := s.remote.Load()
	if ap == nil {
		s.log.Info("the viewer's path left the shared UDP socket, where the gateway seals its SRTP; ending the session (its player reconnects)")
		return 0, ErrPathLeftUDP
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	pkt, err := o.sealLocked(o.scratch[:0], h, payload)
	o.scratch = pkt[:0]
	if err != nil {
		return 0, err
	}
	if _, err := s.w.gso.WriteToAddrPort(pkt, *ap); err != nil {
		return 0, err
	}
	return len(payload), nil
}

// takeOverSRTP is tried once, after pion has sealed and sent the
// session's first video packet (h, payload): the session derives the
// keys from the handshake and, if sealing that packet again gives exactly
// what pion sent, seals every packet after it itself.
func (s *session) takeOverSRTP(h *rtp.Header, payload []byte) {
	s.ownTried = true
	t := s.tap.Swap(nil)
	if t == nil {
		return // not a UDP viewer of the shared socket when it connected
	}
	sent, seq := s.w.gso.untap(t)
	if sent == nil || seq != h.SequenceNumber {
		s.w.ownFailed.add(1)
		s.log.Debug("pion's first packet not seen; the viewer keeps pion's SRTP")
		return
	}
	o, err := s.keys.sender()
	if err == nil && !o.matches(h, payload, sent) {
		err = fmt.Errorf("%w: the derived keys do not give pion's packet", ErrOwnSRTP)
	}
	if err != nil {
		s.w.ownFailed.add(1)
		if errors.Is(err, errNoHandshake) {
			// Expected: the offer made the gateway the DTLS client.
			s.log.Debug("the viewer keeps pion's SRTP", "error", err)
		} else {
			s.log.Warn("the viewer keeps pion's SRTP", "error", err)
		}
		return
	}
	s.own.Store(o)
	s.w.ownSRTP.add(1)
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// uint64Counter is a counter safe for concurrent use.
type uint64Counter struct{ v atomic.Uint64 }

func (c *uint64Counter) add(n uint64) {
	if c != nil {
		c.v.Add(n)
	}
}

// SendStats reports system calls made for batched video packets and the
// packets they carried.
func (w *WHEP) SendStats() (calls, packets uint64) { return w.gso.stats() }

// SRTPSealed counts sessions whose SRTP the gateway sealed itself, and
// UDP sessions that kept pion's (their keys could not be checked).
func (w *WHEP) SRTPSealed() (own, pion uint64) { return w.ownSRTP.v.Load(), w.ownFailed.v.Load() }

// Reaped counts sessions ended because their viewer fell silent.
func (w *WHEP) Reaped() uint64 { return w.reaped.v.Load() }

// Retransmits counts packets resent in answer to NACKs.
func (w *WHEP) Retransmits() uint64 { return w.retransmits.v.Load() }
