package webrtc

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// outTrack is a TrackLocal that hands its negotiated write stream to the
// session, which writes headers it builds itself with payloads shared across
// viewers: nothing is marshalled per viewer in our code.
type outTrack struct {
	kind     webrtc.RTPCodecType
	mime     string
	id       string
	prefer   string // preferred H.264 profile-level-id prefix (profile_idc), e.g. "64"
	mu       sync.Mutex
	bound    bool
	pt       uint8
	ssrc     uint32
	writer   webrtc.TrackLocalWriter
	boundCh  chan struct{}
	boundErr error
}

func newOutTrack(kind webrtc.RTPCodecType, mime, id string) *outTrack {
	return &outTrack{kind: kind, mime: mime, id: id, boundCh: make(chan struct{})}
}

func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, t.mime) {
			continue
		}
		if t.mime == webrtc.MimeTypeH264 && !strings.Contains(c.SDPFmtpLine, "packetization-mode=1") {
			continue
		}
		if chosen == nil || (t.prefer != "" && strings.Contains(c.SDPFmtpLine, "profile-level-id="+t.prefer)) {
			c := c
			chosen = &c
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pt, t.ssrc, t.writer = uint8(chosen.PayloadType), uint32(ctx.SSRC()), ctx.WriteStream()
	if !t.bound {
		t.bound = true
		close(t.boundCh)
	}
	return *chosen, nil
}

func (t *outTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.writer = nil
	t.mu.Unlock()
	return nil
}

func (t *outTrack) ID() string                { return t.id }
func (t *outTrack) RID() string               { return "" }
func (t *outTrack) StreamID() string          { return "sharpeyes" }
func (t *outTrack) Kind() webrtc.RTPCodecType { return t.kind }

// params are the negotiated payload type and the SSRC (ok once bound).
func (t *outTrack) params() (pt uint8, ssrc uint32, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pt, t.ssrc, t.bound
}

// write sends one packet; n == 0 with no error means SRTP is not ready yet.
func (t *outTrack) write(h *rtp.Header, payload []byte) (int, error) {
	t.mu.Lock()
	w := t.writer
	h.PayloadType, h.SSRC = t.pt, t.ssrc
	t.mu.Unlock()
	if w == nil {
		return 0, nil
	}
	return w.WriteRTP(h, payload)
}
