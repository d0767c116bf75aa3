// Package sdp reads and writes the session descriptions of GB/T 28181
// media INVITEs: RFC 4566 with the standard's y= (SSRC) and f= (media
// parameters) lines, one video stream of MPEG-PS. Pure.
package sdp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrInvalid is a session description that is not a GB/T 28181 media one.
var ErrInvalid = errors.New("bad SDP")

// SDP is the session description of a GB/T 28181 media INVITE (RFC 4566
// with the standard's y= SSRC and f= media lines), one video stream of
// MPEG-PS.
type SDP struct {
	Origin  string // o= user: the channel id
	Session string // s=: Play, Playback, Download
	IP      string // c= address of the media
	Port    int    // m= port
	// Transport is UDP or TCP (m= RTP/AVP or TCP/RTP/AVP); Setup, for
	// TCP, active or passive (RFC 4145).
	Transport string
	Setup     string
	// Direction is recvonly (the platform's offer) or sendonly (the device's answer).
	Direction   string
	PayloadType int    // the PS payload type (96)
	SSRC        string // y=: ten digits
	F           string // f=: video and audio parameters, as sent
	Start, Stop int64  // t=: 0 0 live; a recording's window (Unix seconds) for Playback and Download
	// URI is u=: the recording asked for ("channel:0" for a time window).
	URI string
	// DownloadSpeed is a=downloadspeed: how many times real time a
	// Download is sent at (0: not said).
	DownloadSpeed int
}

// maxSDP is the largest session description read.
const maxSDP = 8 << 10

// Parse reads a GB/T 28181 INVITE or answer SDP: the first video m=
// line whose formats include a PS rtpmap (or payload 96 when no rtpmap
// says otherwise).
func Parse(b []byte) (SDP, error) {
	var s SDP
	if len(b) > maxSDP {
		return s, fmt.Errorf("%w: %d bytes", ErrInvalid, len(b))
	}
	var pts []int
	inVideo, seenVideo := false, false
	ps := -1
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return s, fmt.Errorf("%w: line %.40q", ErrInvalid, line)
		}
		v := line[2:]
		switch line[0] {
		case 'v':
			if v != "0" {
				return s, fmt.Errorf("%w: version %q", ErrInvalid, v)
			}
		case 'o':
			if f := strings.Fields(v); len(f) >= 1 {
				s.Origin = f[0]
			}
			if f := strings.Fields(v); len(f) == 6 && s.IP == "" {
				s.IP = f[5]
			}
		case 's':
			s.Session = v
		case 'u':
			s.URI = v
		case 'c':
			f := strings.Fields(v)
			if len(f) != 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
				return s, fmt.Errorf("%w: c=%s", ErrInvalid, v)
			}
			if !seenVideo || inVideo { // the session's, or the video stream's own
				s.IP = f[2]
			}
		case 't':
			f := strings.Fields(v)
			if len(f) == 2 {
				s.Start, _ = strconv.ParseInt(f[0], 10, 64)
				s.Stop, _ = strconv.ParseInt(f[1], 10, 64)
			}
		case 'm':
			if seenVideo {
				inVideo = false
				continue // the first video stream is the one
			}
			f := strings.Fields(v)
			if len(f) < 4 {
				return s, fmt.Errorf("%w: m=%s", ErrInvalid, v)
			}
			if f[0] != "video" {
				continue
			}
			port, err := strconv.Atoi(f[1])
			if err != nil || port < 0 || port > 65535 {
				return s, fmt.Errorf("%w: m= port %q", ErrInvalid, f[1])
			}
			switch strings.ToUpper(f[2]) {
			case "RTP/AVP":
				s.Transport = "UDP"
			case "TCP/RTP/AVP", "RTP/AVP/TCP":
				s.Transport = "TCP"
			default:
				return s, fmt.Errorf("%w: m= protocol %q", ErrInvalid, f[2])
			}
			for _, p := range f[3:] {
				n, err := strconv.Atoi(p)
				if err != nil || n < 0 || n > 127 {
					return s, fmt.Errorf("%w: m= format %q", ErrInvalid, p)
				}
				pts = append(pts, n)
			}
			s.Port, inVideo, seenVideo = port, true, true
		case 'a':
			if !inVideo {
				continue
			}
			name, val, _ := strings.Cut(v, ":")
			switch name {
			case "rtpmap":
				f := strings.Fields(val)
				if len(f) == 2 && strings.HasPrefix(strings.ToUpper(f[1]), "PS/") {
					if n, err := strconv.Atoi(f[0]); err == nil {
						ps = n
					}
				}
			case "setup":
				s.Setup = strings.ToLower(val)
			case "downloadspeed":
				if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n > 0 && n <= 64 {
					s.DownloadSpeed = n
				}
			case "recvonly", "sendonly", "sendrecv", "inactive":
				s.Direction = name
			}
		case 'y':
			if len(v) == 0 || len(v) > 10 || strings.Trim(v, "0123456789") != "" {
				return s, fmt.Errorf("%w: y=%q is not up to ten digits", ErrInvalid, v)
			}
			s.SSRC = v
		case 'f':
			s.F = v
		}
	}
	if !seenVideo {
		return s, fmt.Errorf("%w: no video stream", ErrInvalid)
	}
	switch {
	case ps >= 0:
		s.PayloadType = ps
	case contains(pts, 96):
		s.PayloadType = 96
	default:
		return s, fmt.Errorf("%w: no PS payload among %v", ErrInvalid, pts)
	}
	if ip := net.ParseIP(s.IP); ip == nil {
		return s, fmt.Errorf("%w: media address %q", ErrInvalid, s.IP)
	}
	return s, nil
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// SSRCNumber is the y= value as the RTP SSRC it names.
func (s SDP) SSRCNumber() (uint32, bool) {
	n, err := strconv.ParseUint(s.SSRC, 10, 32)
	return uint32(n), err == nil && s.SSRC != ""
}

// Marshal writes the description.
func (s SDP) Marshal() []byte {
	proto := "RTP/AVP"
	if s.Transport == "TCP" {
		proto = "TCP/RTP/AVP"
	}
	pt := s.PayloadType
	if pt == 0 {
		pt = 96
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=%s 0 0 IN IP4 %s\r\ns=%s\r\n", s.Origin, s.IP, s.Session)
	if s.URI != "" {
		fmt.Fprintf(&b, "u=%s\r\n", s.URI)
	}
	fmt.Fprintf(&b, "c=IN IP4 %s\r\nt=%d %d\r\n", s.IP, s.Start, s.Stop)
	fmt.Fprintf(&b, "m=video %d %s %d\r\n", s.Port, proto, pt)
	if s.Direction != "" {
		fmt.Fprintf(&b, "a=%s\r\n", s.Direction)
	}
	fmt.Fprintf(&b, "a=rtpmap:%d PS/90000\r\n", pt)
	if s.Transport == "TCP" && s.Setup != "" {
		fmt.Fprintf(&b, "a=setup:%s\r\na=connection:new\r\n", s.Setup)
	}
	if s.DownloadSpeed > 0 {
		fmt.Fprintf(&b, "a=downloadspeed:%d\r\n", s.DownloadSpeed)
	}
	if s.SSRC != "" {
		fmt.Fprintf(&b, "y=%s\r\n", s.SSRC)
	}
	if s.F != "" {
		fmt.Fprintf(&b, "f=%s\r\n", s.F)
	}
	return []byte(b.String())
}

// HistorySSRC is the y= of a Playback or Download (GB/T 28181 appendix:
// 1 for history, the domain's digits 4-8, then a four-digit sequence).
func HistorySSRC(domain string, seq int) string {
	return "1" + LiveSSRC(domain, seq)[1:]
}

// LiveSSRC is the y= of a live stream (GB/T 28181 appendix: 0 for live,
// the domain's digits 4-8, then a four-digit sequence).
func LiveSSRC(domain string, seq int) string {
	mid := "00000"
	if len(domain) >= 8 {
		mid = domain[3:8]
	}
	return fmt.Sprintf("0%s%04d", mid, seq%10000)
}
