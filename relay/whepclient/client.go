// Package whepclient is a WHEP viewer built on pion: it receives a camera's
// H.264 video and hands out whole access units, for tests and load tools.
package whepclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Frame is one received access unit.
type Frame struct {
	NALUs     [][]byte
	Key       bool // IDR present
	HasParams bool // SPS and PPS present
	Timestamp uint32
	Received  time.Time
}

// Signal sends an offer and returns the answer (WHEP POST, or in-process).
type Signal func(ctx context.Context, offer string) (answer string, err error)

// Client is one viewer.
type Client struct {
	pc       *webrtc.PeerConnection
	frames   chan Frame
	packets  atomic.Uint64
	lost     atomic.Uint64
	overflow atomic.Uint64
	audio    atomic.Uint64
	audioPT  atomic.Uint32
	dups     atomic.Uint64
	lastSeq  atomic.Uint32
	ssrc     atomic.Uint32
	closeFn  func()
	once     sync.Once

	srMu   sync.Mutex
	srs    int               // video sender reports received
	lastSR rtcp.SenderReport // the newest of them
	srAt   time.Time         // when it arrived
}

// Options tunes a client.
type Options struct {
	// Codecs to offer: "H264" (default) or e.g. "VP8" to test refusals.
	Codecs []string
	// Buffer is how many frames may wait unread before being dropped (default 256).
	Buffer int
	// AcceptReplays turns SRTP replay protection off so that resends of
	// packets already received (NACK tests on a lossless loopback) arrive.
	AcceptReplays bool
	// Audio also offers G.711 (PCMA, PCMU) audio and counts its packets.
	Audio bool
	// TCP restricts ICE to TCP, as a viewer behind a UDP-blocking firewall.
	TCP bool
	// DTLSServer offers "a=setup:passive": the viewer insists on being the
	// DTLS server (RFC 8842 has offers say actpass; some clients do not).
	DTLSServer bool
	// UDP, when set, is the one socket the client's media use: closing it
	// makes the viewer vanish without a word (a phone out of coverage).
	UDP net.PacketConn
}

// Dial negotiates a session through signal and starts receiving.
func Dial(ctx context.Context, signal Signal, opt Options) (*Client, error) {
	if len(opt.Codecs) == 0 {
		opt.Codecs = []string{"H264"}
	}
	if opt.Buffer == 0 {
		opt.Buffer = 256
	}
	m := &webrtc.MediaEngine{}
	pt := webrtc.PayloadType(96)
	for _, c := range opt.Codecs {
		cap := webrtc.RTPCodecCapability{MimeType: "video/" + c, ClockRate: 90000}
		if c == "H264" {
			cap.SDPFmtpLine = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
		}
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: cap, PayloadType: pt}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
		pt++
	}
	if opt.Audio {
		for _, a := range []webrtc.RTPCodecParameters{
			{PayloadType: 8, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}},
			{PayloadType: 0, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}},
		} {
			if err := m.RegisterCodec(a, webrtc.RTPCodecTypeAudio); err != nil {
				return nil, err
			}
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if opt.TCP {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	se.DisableSRTPReplayProtection(opt.AcceptReplays)
	if opt.UDP != nil {
		se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, opt.UDP))
	}
	// Receiver reports only, as a browser on a lossless link sends. pion's
	// default NACK generator misses packets that arrive before the track is
	// bound and asks for them again and again.
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(reg))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &Client{pc: pc, frames: make(chan Frame, opt.Buffer)}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		pc.Close()
		return nil, err
	}
	if opt.Audio {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			c.readAudio(tr)
			return
		}
		go c.readReports(recv)
		c.read(tr)
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	<-gathered
	sdp := pc.LocalDescription().SDP
	if opt.DTLSServer {
		sdp = strings.ReplaceAll(sdp, "a=setup:actpass", "a=setup:passive")
	}
	answer, err := signal(ctx, sdp)
	if err != nil {
		pc.Close()
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		pc.Close()
		return nil, fmt.Errorf("answer: %w", err)
	}
	return c, nil
}

// Frames delivers received access units in order.
func (c *Client) Frames() <-chan Frame { return c.frames }

// Packets and Lost count RTP packets received and sequence gaps.
func (c *Client) Packets() uint64 { return c.packets.Load() }

// Lost counts RTP packets missing from the sequence.
func (c *Client) Lost() uint64 { return c.lost.Load() }

// AudioPackets counts audio RTP packets received, and the payload type of the last.
func (c *Client) AudioPackets() (uint64, uint8) { return c.audio.Load(), uint8(c.audioPT.Load()) }

func (c *Client) readAudio(tr *webrtc.TrackRemote) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		c.audio.Add(1)
		c.audioPT.Store(uint32(pkt.PayloadType))
	}
}

// readReports keeps the sender reports of the video track.
func (c *Client) readReports(recv *webrtc.RTPReceiver) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				c.srMu.Lock()
				c.srs++
				c.lastSR, c.srAt = *sr, time.Now()
				c.srMu.Unlock()
			}
		}
	}
}

// SenderReports returns how many video sender reports arrived, the newest
// and when it arrived.
func (c *Client) SenderReports() (int, rtcp.SenderReport, time.Time) {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	return c.srs, c.lastSR, c.srAt
}

// Duplicates counts packets that arrived again (answers to NACKs).
func (c *Client) Duplicates() uint64 { return c.dups.Load() }

// LastSeq is the newest RTP sequence number received.
func (c *Client) LastSeq() uint16 { return uint16(c.lastSeq.Load()) }

// NACK asks the sender to resend packets (RFC 4585 generic NACK).
func (c *Client) NACK(seqs ...uint16) error {
	return c.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: c.ssrc.Load(), Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
}

// REMB sends the receiver's estimate of its path's rate in bit/s
// (draft-alvestrand-rmcat-remb), as browsers do.
func (c *Client) REMB(bps float32) error {
	return c.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{
		Bitrate: bps, SSRCs: []uint32{c.ssrc.Load()}}})
}

// State is the peer connection's state.
func (c *Client) State() webrtc.PeerConnectionState { return c.pc.ConnectionState() }

// OnClose sets what Close also does (e.g. a WHEP DELETE).
func (c *Client) OnClose(f func()) { c.closeFn = f }

// Close ends the session.
func (c *Client) Close() {
	c.once.Do(func() {
		if c.closeFn != nil {
			c.closeFn()
		}
		_ = c.pc.Close()
	})
}

func (c *Client) read(tr *webrtc.TrackRemote) {
	defer close(c.frames)
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return
	}
	var lastSeq uint16
	first := true
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		c.packets.Add(1)
		if !first {
			if int16(pkt.SequenceNumber-lastSeq) <= 0 { // a resend or a duplicate
				c.dups.Add(1)
				continue
			}
			if gap := pkt.SequenceNumber - lastSeq - 1; gap > 0 && gap < 1000 {
				c.lost.Add(uint64(gap))
			}
		}
		first, lastSeq = false, pkt.SequenceNumber
		c.lastSeq.Store(uint32(lastSeq))
		c.ssrc.Store(uint32(pkt.SSRC))
		au, err := dec.Decode(pkt)
		if err != nil {
			continue
		}
		f := Frame{NALUs: au, Timestamp: pkt.Timestamp, Received: time.Now()}
		sps, pps := false, false
		for _, n := range au {
			switch n[0] & 0x1f {
			case 5:
				f.Key = true
			case 7:
				sps = true
			case 8:
				pps = true
			}
		}
		f.HasParams = sps && pps
		select {
		case c.frames <- f:
		default:
			c.overflow.Add(1)
		}
	}
}

// HTTPSignal POSTs the offer to a WHEP endpoint and remembers the session
// URL; the returned func DELETEs it.
func HTTPSignal(hc *http.Client, endpoint string) (Signal, func() string) {
	var location string
	return func(ctx context.Context, offer string) (string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
			if err != nil {
				return "", err
			}
			req.Header.Set("Content-Type", "application/sdp")
			resp, err := hc.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != http.StatusCreated {
				return "", &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
			}
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			location = loc.String()
			return string(body), nil
		}, func() string {
			return location
		}
}

// Delete ends a WHEP session by its URL.
func Delete(hc *http.Client, location string) error {
	if _, err := url.Parse(location); err != nil || location == "" {
		return errors.New("no session URL")
	}
	req, _ := http.NewRequest(http.MethodDelete, location, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// StatusError is a WHEP endpoint's refusal.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("WHEP status %d: %s", e.Code, e.Body) }
