package webrtc

import (
	"errors"
	"testing"
)

// FuzzOfferCodecs: any offer body either parses or is ErrBadOffer; never a panic.
func FuzzOfferCodecs(f *testing.F) {
	f.Add("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 H264/90000\r\na=rtpmap:102 H265/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=rtpmap:8 PCMA/8000\r\n")
	f.Add("v=0\r\n")
	f.Add("")
	f.Add("v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		codecs, err := offerCodecs(offer)
		if err != nil && !errors.Is(err, ErrBadOffer) {
			t.Fatalf("error %v is not ErrBadOffer", err)
		}
		if err == nil && codecs == nil {
			t.Fatal("no error and no codecs map")
		}
	})
}
