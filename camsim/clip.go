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

// ParseClip splits an H.264 Annex-B stream into access units. Access unit
// delimiters start a unit and are dropped (cameras rarely send them);
// the clip must start with an IDR and contain SPS and PPS.
func ParseClip(annexb []byte) (*Clip, error) {
	var nalus h264.AnnexB
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
		if len(n) == 0 {
			continue
		}
		typ := h264.NALUType(n[0] & 0x1f)
		switch typ {
		case h264.NALUTypeAccessUnitDelimiter:
			flush()
			continue
		case h264.NALUTypeSPS:
			if c.SPS == nil {
				c.SPS = n
			}
		case h264.NALUTypePPS:
			if c.PPS == nil {
				c.PPS = n
			}
		}
		cur = append(cur, n)
	}
	flush()
	if len(c.Units) == 0 || c.SPS == nil || c.PPS == nil {
		return nil, fmt.Errorf("clip: %w", errClipIncomplete)
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
	var nalus h264.AnnexB // Annex-B framing is the same for both codecs
	if err := nalus.Unmarshal(annexb); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	c := &Clip{H265: true}
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
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_AUD_NUT:
			flush()
			continue
		case h265.NALUType_VPS_NUT:
			if c.VPS == nil {
				c.VPS = n
			}
		case h265.NALUType_SPS_NUT:
			if c.SPS == nil {
				c.SPS = n
			}
		case h265.NALUType_PPS_NUT:
			if c.PPS == nil {
				c.PPS = n
			}
		}
		cur = append(cur, n)
	}
	flush()
	if len(c.Units) == 0 || c.VPS == nil || c.SPS == nil || c.PPS == nil {
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
