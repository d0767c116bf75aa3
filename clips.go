// Package sharpeyes holds the media clips committed under testdata/, so the
// camera simulator, the demo and the benchmarks can loop them without a path
// on disk. testdata/make-clips.sh documents how they were made.
package sharpeyes

import _ "embed"

// MainClip is 4 s of 1280x720 25 fps H.264 High (about 1.5 Mbps, no B-frames,
// IDR every 2 s, SPS/PPS before each IDR, access unit delimiters), Annex-B.
//
//go:embed testdata/main.h264
var MainClip []byte

// SubClip is the same pattern at 640x360, about 400 kbps, H.264 Main.
//
//go:embed testdata/sub.h264
var SubClip []byte

// H265Clip is 2 s of 640x360 25 fps H.265 (about 300 kbps, no B-frames,
// IRAP every 2 s, VPS/SPS/PPS before each, access unit delimiters), Annex-B.
//
//go:embed testdata/h265.h265
var H265Clip []byte
