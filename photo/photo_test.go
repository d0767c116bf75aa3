package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

// withGPS puts an EXIF block with a GPS position into a JPEG.
func withGPS(t testing.TB, jpg []byte, lat, lon float64) []byte {
	t.Helper()
	le := binary.LittleEndian
	var tiff bytes.Buffer
	w := func(v any) { _ = binary.Write(&tiff, le, v) }
	tiff.WriteString("II")
	w(uint16(42))
	w(uint32(8)) // IFD0 at 8
	w(uint16(1)) // one entry: the GPS IFD pointer
	w(uint16(0x8825))
	w(uint16(4))
	w(uint32(1))
	w(uint32(26)) // GPS IFD at 26 = 8 + 2 + 12 + 4
	w(uint32(0))  // no next IFD
	// GPS IFD: 4 entries, then the two triples of rationals at 26+2+48+4 = 80.
	w(uint16(4))
	dms := func(v float64) [6]uint32 {
		v = math.Abs(v)
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		return [6]uint32{uint32(d), 1, uint32(m), 1, uint32(s * 1000), 1000}
	}
	ref := func(tag uint16, c byte) { w(tag); w(uint16(2)); w(uint32(2)); tiff.Write([]byte{c, 0, 0, 0}) }
	rat := func(tag uint16, off uint32) { w(tag); w(uint16(5)); w(uint32(3)); w(off) }
	ns, ew := byte('N'), byte('E')
	if lat < 0 {
		ns = 'S'
	}
	if lon < 0 {
		ew = 'W'
	}
	ref(1, ns)
	rat(2, 80)
	ref(3, ew)
	rat(4, 104)
	w(uint32(0))
	w(dms(lat))
	w(dms(lon))
	app1 := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	return append(append(append([]byte{0xff, 0xd8}, seg...), app1...), jpg[2:]...)
}

func encode(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	var b bytes.Buffer
	if format == "png" {
		_ = png.Encode(&b, img)
	} else {
		_ = jpeg.Encode(&b, img, nil)
	}
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	jpg, pngb := encode(t, "jpeg"), encode(t, "png")
	heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	heic = append(heic, make([]byte, 100)...)
	gps := withGPS(t, jpg, 32.4105, 119.4188)
	for _, tc := range []struct {
		name, declared string
		b              []byte
		ct             string
		err            error
	}{
		{"jpeg", "image/jpeg", jpg, "image/jpeg", nil},
		{"png undeclared", "", pngb, "image/png", nil},
		{"heic", "image/heic", heic, "image/heic", nil},
		{"jpeg with gps", "image/jpeg", gps, "image/jpeg", nil},
		{"png declared jpeg", "image/jpeg", pngb, "", ErrTypeMismatch},
		{"jpeg declared gif", "image/gif", jpg, "", ErrTypeMismatch},
		{"text", "image/jpeg", []byte("<html>hello</html>"), "", ErrNotPhoto},
		{"truncated jpeg", "image/jpeg", jpg[:20], "", ErrNotPhoto},
		{"too large", "image/jpeg", jpg, "", ErrTooLarge},
	} {
		max := 1 << 20
		if tc.err == ErrTooLarge {
			max = 10
		}
		info, err := Check(tc.b, tc.declared, max)
		if !errors.Is(err, tc.err) || info.ContentType != tc.ct {
			t.Errorf("%s: %+v %v, want %s %v", tc.name, info, err, tc.ct, tc.err)
		}
	}
	info, _ := Check(gps, "image/jpeg", 1<<20)
	if info.Lat == nil || math.Abs(*info.Lat-32.4105) > 1e-4 || math.Abs(*info.Lon-119.4188) > 1e-4 {
		t.Fatalf("EXIF GPS: %v %v", info.Lat, info.Lon)
	}
	south := withGPS(t, jpg, -33.8688, -151.2093)
	if info, _ := Check(south, "", 1<<20); info.Lat == nil || *info.Lat > 0 || *info.Lon > 0 {
		t.Fatalf("southern and western GPS: %+v", info)
	}
}

// FuzzCheck: any upload is a photo or one of the three errors, never a panic.
func FuzzCheck(f *testing.F) {
	jpg := encode(f, "jpeg")
	f.Add(withGPS(f, jpg, 32.41, 119.42), "image/jpeg")
	f.Add(encode(f, "png"), "")
	f.Add(append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...), "image/heic")
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42}, "")
	f.Fuzz(func(t *testing.T, b []byte, declared string) {
		_, err := Check(b, declared, 10<<20)
		if err != nil && !errors.Is(err, ErrNotPhoto) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTypeMismatch) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
