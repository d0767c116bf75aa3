package sdp

import (
	"errors"
	"strings"
	"testing"
)

// What a Hikvision NVR answers to an INVITE (its own SSRC, f= line).
const hikAnswer = "v=0\r\no=34020000001320000001 0 0 IN IP4 192.168.1.64\r\ns=Play\r\nc=IN IP4 192.168.1.64\r\nt=0 0\r\n" +
	"m=video 15060 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\na=filesize:0\r\ny=0200000123\r\nf=v/2/5/25/1/4096a///\r\n"

// TestSDP: a device's answer and the gateway's offers read back as
// written (UDP, TCP passive and active), and malformed descriptions are
// refused with ErrInvalid.
func TestSDP(t *testing.T) {
	s, err := Parse([]byte(hikAnswer))
	if err != nil {
		t.Fatal(err)
	}
	if s.IP != "192.168.1.64" || s.Port != 15060 || s.Transport != "UDP" || s.PayloadType != 96 || s.SSRC != "0200000123" ||
		s.Direction != "sendonly" || s.F != "v/2/5/25/1/4096a///" || s.Origin != "34020000001320000001" || s.Session != "Play" {
		t.Fatalf("%+v", s)
	}
	if n, ok := s.SSRCNumber(); !ok || n != 200000123 {
		t.Fatalf("ssrc %d %v", n, ok)
	}
	for _, offer := range []SDP{
		{Origin: "34020000001320000001", Session: "Play", IP: "10.0.0.2", Port: 30000, Transport: "UDP", Direction: "recvonly", SSRC: LiveSSRC("3210030000", 7)},
		{Origin: "34020000001320000001", Session: "Play", IP: "10.0.0.2", Port: 30000, Transport: "TCP", Setup: "passive", Direction: "recvonly", SSRC: "0100000008"},
		{Origin: "x", Session: "Play", IP: "10.0.0.2", Port: 30001, Transport: "TCP", Setup: "active", Direction: "sendonly", SSRC: "1", F: "v/////a/1/8/1"},
	} {
		got, err := Parse(offer.Marshal())
		offer.PayloadType = 96
		if err != nil || got != offer {
			t.Fatalf("round trip:\n got %+v %v\nwant %+v\n%s", got, err, offer, offer.Marshal())
		}
	}
	if got := LiveSSRC("3210030000", 7); got != "0003000007" {
		t.Fatalf("live ssrc %s", got)
	}
	for _, bad := range []string{"", "junk", "v=1\r\nm=video 1 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\n",
		strings.Replace(hikAnswer, "m=video 15060", "m=audio 15060", 1),
		strings.Replace(hikAnswer, "15060", "99999", 1),
		strings.Replace(hikAnswer, "RTP/AVP 96", "RTP/SAVP 96", 1),
		strings.Replace(hikAnswer, "y=0200000123", "y=02000001234567", 1),
		strings.Replace(hikAnswer, "y=0200000123", "y=abc", 1),
		strings.Replace(strings.Replace(hikAnswer, "RTP/AVP 96", "RTP/AVP 8", 1), "a=rtpmap:96 PS/90000\r\n", "", 1),
		strings.Replace(hikAnswer, "IN IP4 192.168.1.64", "IN IP4 not-an-ip", -1),
		hikAnswer + strings.Repeat("a=x\r\n", 3000),
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%.50q: %v", bad, err)
		}
	}
}

// FuzzSDP: any description parses or is refused with ErrInvalid, and what
// parses marshals to a description that parses to the same.
func FuzzSDP(f *testing.F) {
	f.Add([]byte(hikAnswer))
	f.Add(SDP{Origin: "a", Session: "Play", IP: "10.0.0.2", Port: 1, Transport: "TCP", Setup: "passive", SSRC: "0100000001"}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if strings.ContainsAny(s.Origin+s.Session+s.IP+s.F+s.Setup+s.Direction, "\r\n") {
			return // fields with line breaks cannot be written back
		}
		again, err := Parse(s.Marshal())
		if err != nil {
			t.Fatalf("%+v marshals to something unreadable: %v\n%s", s, err, s.Marshal())
		}
		if again.IP != s.IP || again.Port != s.Port || again.Transport != s.Transport || again.SSRC != s.SSRC {
			t.Fatalf("round trip changed %+v to %+v", s, again)
		}
	})
}

// TestHistorySessions: a Playback offer says its window (t=), the
// recording (u=) and an SSRC starting 1; a Download its speed; both
// read back as written.
func TestHistorySessions(t *testing.T) {
	offer := SDP{Origin: "32100300001310000001", Session: "Download", IP: "127.0.0.1", Port: 30000, Transport: "UDP", Direction: "recvonly",
		SSRC: HistorySSRC("3210030000", 7), Start: 1764979200, Stop: 1764979230, URI: "32100300001310000001:0", DownloadSpeed: 4}
	got, err := Parse(offer.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.URI != offer.URI || got.DownloadSpeed != 4 || got.Start != offer.Start || got.Stop != offer.Stop || got.Session != "Download" ||
		got.SSRC != "1003000007" {
		t.Fatalf("read back %+v from\n%s", got, offer.Marshal())
	}
	if !strings.Contains(string(offer.Marshal()), "s=Download\r\nu=32100300001310000001:0\r\nc=") {
		t.Fatalf("u= is not after s=:\n%s", offer.Marshal())
	}
}
