// Package photo checks uploaded photos (JPEG, PNG, HEIC) by their content,
// not their name or declared type, and reads the GPS position a camera
// phone writes into a JPEG's EXIF. Pure: no I/O.
package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoded to check
	_ "image/png"
	"math"
)

// ErrNotPhoto means the bytes are not a JPEG, PNG or HEIC photo.
var ErrNotPhoto = errors.New("not a JPEG, PNG or HEIC photo")

// ErrTooLarge means the photo is over the size limit.
var ErrTooLarge = errors.New("photo too large")

// ErrTypeMismatch means the declared content type is not what the bytes are.
var ErrTypeMismatch = errors.New("declared content type does not match the photo")

// Info is what a checked photo is.
type Info struct {
	ContentType   string
	Width, Height int // 0 for HEIC (not decoded)
	Lat, Lon      *float64
}

// Check sniffs a photo, checks it against max bytes and the declared
// content type ("" or application/octet-stream: not declared), and reads
// its EXIF GPS position when it has one.
func Check(b []byte, declared string, max int) (Info, error) {
	if len(b) > max {
		return Info{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), max)
	}
	var info Info
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		info.ContentType = "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		info.ContentType = "image/png"
	case isHEIC(b):
		info.ContentType = "image/heic"
	default:
		return Info{}, ErrNotPhoto
	}
	switch declared {
	case "", "application/octet-stream", info.ContentType:
	case "image/jpg", "image/pjpeg":
		if info.ContentType != "image/jpeg" {
			return Info{}, fmt.Errorf("%w: declared %s, the bytes are %s", ErrTypeMismatch, declared, info.ContentType)
		}
	case "image/heif":
		if info.ContentType != "image/heic" {
			return Info{}, fmt.Errorf("%w: declared %s, the bytes are %s", ErrTypeMismatch, declared, info.ContentType)
		}
	default:
		return Info{}, fmt.Errorf("%w: declared %s, the bytes are %s", ErrTypeMismatch, declared, info.ContentType)
	}
	if info.ContentType != "image/heic" {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > 100_000_000 {
			return Info{}, fmt.Errorf("%w: the %s does not decode", ErrNotPhoto, info.ContentType)
		}
		info.Width, info.Height = cfg.Width, cfg.Height
	}
	if info.ContentType == "image/jpeg" {
		info.Lat, info.Lon = jpegGPS(b)
	}
	return info, nil
}

// isHEIC: an ISO-BMFF file whose ftyp box names a HEIF/HEIC brand.
func isHEIC(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size < 16 || size > len(b) || size > 4096 {
		return false
	}
	for i := 8; i+4 <= size; i += 4 {
		if i == 12 {
			continue // minor version
		}
		switch string(b[i : i+4]) {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			return true
		}
	}
	return false
}

// jpegGPS finds the EXIF GPS position of a JPEG (nil when there is none).
func jpegGPS(b []byte) (*float64, *float64) {
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return nil, nil
		}
		marker := b[i+1]
		if marker == 0xda || marker == 0xd9 { // image data: no more metadata
			return nil, nil
		}
		n := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if n < 2 || i+2+n > len(b) {
			return nil, nil
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffGPS(seg[6:])
		}
		i += 2 + n
	}
	return nil, nil
}

// tiffGPS reads GPSLatitude/Longitude (and their refs) from an EXIF TIFF block.
func tiffGPS(t []byte) (*float64, *float64) {
	if len(t) < 8 {
		return nil, nil
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil, nil
	}
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte // the 4-byte value/offset field
	}
	ifd := func(off uint32) []entry {
		if int64(off)+2 > int64(len(t)) {
			return nil
		}
		n := int(bo.Uint16(t[off:]))
		var out []entry
		for k := 0; k < n && k < 256; k++ {
			p := int(off) + 2 + 12*k
			if p+12 > len(t) {
				break
			}
			out = append(out, entry{bo.Uint16(t[p:]), bo.Uint16(t[p+2:]), bo.Uint32(t[p+4:]), t[p+8 : p+12]})
		}
		return out
	}
	var gpsOff uint32
	for _, e := range ifd(bo.Uint32(t[4:])) {
		if e.tag == 0x8825 {
			gpsOff = bo.Uint32(e.value)
		}
	}
	if gpsOff == 0 {
		return nil, nil
	}
	var latRef, lonRef string
	var lat, lon []float64
	rationals := func(e entry) []float64 {
		if e.typ != 5 || e.count != 3 {
			return nil
		}
		off := int64(bo.Uint32(e.value))
		if off+24 > int64(len(t)) {
			return nil
		}
		out := make([]float64, 3)
		for k := range out {
			num, den := bo.Uint32(t[off+int64(8*k):]), bo.Uint32(t[off+int64(8*k)+4:])
			if den == 0 {
				return nil
			}
			out[k] = float64(num) / float64(den)
		}
		return out
	}
	for _, e := range ifd(gpsOff) {
		switch e.tag {
		case 1:
			latRef = string(e.value[:1])
		case 2:
			lat = rationals(e)
		case 3:
			lonRef = string(e.value[:1])
		case 4:
			lon = rationals(e)
		}
	}
	if lat == nil || lon == nil {
		return nil, nil
	}
	la := lat[0] + lat[1]/60 + lat[2]/3600
	lo := lon[0] + lon[1]/60 + lon[2]/3600
	if latRef == "S" {
		la = -la
	}
	if lonRef == "W" {
		lo = -lo
	}
	if la > 90 || lo > 180 || math.IsNaN(la) || math.IsNaN(lo) {
		return nil, nil
	}
	return &la, &lo
}
