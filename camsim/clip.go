package camsim

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Clip is an H.264 or H.265 elementary stream split into access units,
// ready to loop.
type Clip struct {
	H265   bool
	Units  [][][]byte // access units, each a list of NAL units without start codes
	Width  int
	Height int
	VPS    []byte // H.265 only
	SPS    []byte
	PPS    []byte
}

// nalKind classifies a NAL unit for splitting a clip.
type nalKind int

const (
	nalOther nalKind = iota
	nalAUD
	nalVPS
	nalSPS
	nalPPS
)

// split cuts an Annex-B stream into access units at access unit delimiters
// (which are dropped: cameras rarely send them) and keeps the first
// parameter sets.
func split(annexb []byte, kind func([]byte) nalKind) (*Clip, error) {
	var nalus h264.AnnexB // Annex-B framing is the same for H.264 and H.265
	if err := nalus.Unmarshal(annexb); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	c := &Clip{}
	var cur [][]byte
	flush := func() {
		if len(cur) > 0 {
			c.Units = append(c.Units, cur)
			cur = nil
		}
	}
	for _, n := range nalus {
		if len(n) < 2 {
			continue
		}
		switch kind(n) {
		case nalAUD:
			flush()
			continue
		case nalVPS:
			c.VPS = firstOf(c.VPS, n)
		case nalSPS:
			c.SPS = firstOf(c.SPS, n)
		case nalPPS:
			c.PPS = firstOf(c.PPS, n)
		}
		cur = append(cur, n)
	}
	flush()
	if len(c.Units) == 0 || c.SPS == nil || c.PPS == nil {
		return nil, fmt.Errorf("clip: %w", errClipIncomplete)
	}
	return c, nil
}

func firstOf(have, n []byte) []byte {
	if have != nil {
		return have
	}
	return n
}

// ParseClip splits an H.264 Annex-B stream into access units; it must start
// with an IDR and contain SPS and PPS.
func ParseClip(annexb []byte) (*Clip, error) {
	c, err := split(annexb, func(n []byte) nalKind {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			return nalAUD
		case h264.NALUTypeSPS:
			return nalSPS
		case h264.NALUTypePPS:
			return nalPPS
		}
		return nalOther
	})
	if err != nil {
		return nil, err
	}
	if !h264.IsRandomAccess(c.Units[0]) {
		return nil, fmt.Errorf("clip: %w", errClipNoIDR)
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		return nil, fmt.Errorf("clip: SPS: %w", err)
	}
	c.Width, c.Height = sps.Width(), sps.Height()
	return c, nil
}

// ParseClipH265 is ParseClip for H.265: it must start with an IRAP picture
// and contain VPS, SPS and PPS.
func ParseClipH265(annexb []byte) (*Clip, error) {
	c, err := split(annexb, func(n []byte) nalKind {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_AUD_NUT:
			return nalAUD
		case h265.NALUType_VPS_NUT:
			return nalVPS
		case h265.NALUType_SPS_NUT:
			return nalSPS
		case h265.NALUType_PPS_NUT:
			return nalPPS
		}
		return nalOther
	})
	if err != nil {
		return nil, err
	}
	c.H265 = true
	if c.VPS == nil {
		return nil, fmt.Errorf("clip: %w", errClipIncomplete)
	}
	if !h265.IsRandomAccess(c.Units[0]) {
		return nil, fmt.Errorf("clip: %w", errClipNoIDR)
	}
	var sps h265.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		return nil, fmt.Errorf("clip: SPS: %w", err)
	}
	c.Width, c.Height = sps.Width(), sps.Height()
	return c, nil
}
