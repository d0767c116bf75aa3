package ps

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// ffmpegPS muxes an elementary stream clip of testdata into MPEG-PS with
// ffmpeg's own muxer (`-f vob`: no program stream map).
func ffmpegPS(t *testing.T, clip, format string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.ps")
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-f", format, "-framerate", "25", "-i", filepath.Join("..", "..", "testdata", clip),
		"-c", "copy", "-f", "vob", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (make test installs it): %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probe answers ffprobe's codec, size and decoded frame count of a file.
func probe(t *testing.T, b []byte, format string) (codec string, width, height, frames int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out, err := exec.Command("ffprobe", append(args, f)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	parts := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(parts) != 4 {
		t.Fatalf("ffprobe said %q", out)
	}
	width, _ = strconv.Atoi(parts[1])
	height, _ = strconv.Atoi(parts[2])
	frames, _ = strconv.Atoi(parts[3])
	return parts[0], width, height, frames
}

// collect demuxes b written in random chunks and answers its frames
// (copied) and the demuxer.
func collect(b []byte, seed uint64) ([]Frame, *Demuxer) {
	var frames []Frame
	d := NewDemuxer(func(f Frame) {
		f.Data = bytes.Clone(f.Data)
		frames = append(frames, f)
	})
	r := rand.New(rand.NewPCG(seed, 1))
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(3000))
		d.Write(b[:n])
		b = b[n:]
	}
	d.Flush()
	return frames, d
}

func annexB(frames []Frame) []byte {
	var es []byte
	for _, f := range frames {
		if f.Codec.IsVideo() {
			es = append(es, f.Data...)
		}
	}
	return es
}

// TestDemuxesFFmpegsProgramStream: ffmpeg's MPEG-PS of H.264 and of H.265
// (no program stream map) demuxes, in chunks of any size and over RTP, to
// the frames ffprobe counts in it, each told H.264 or H.265 by its NAL
// units, with rising timestamps; the access units decode to the same
// frame count.
func TestDemuxesFFmpegsProgramStream(t *testing.T) {
	for _, c := range []struct{ clip, format, codec string }{{"main.h264", "h264", "h264"}, {"h265.h265", "hevc", "hevc"}} {
		t.Run(c.codec, func(t *testing.T) {
			b := ffmpegPS(t, c.clip, c.format)
			codec, _, _, want := probe(t, b, "")
			if codec != c.codec {
				t.Fatalf("ffprobe reads ffmpeg's PS as %s", codec)
			}
			for seed := range uint64(3) {
				frames, d := collect(b, seed)
				if len(frames) != want {
					t.Fatalf("seed %d: %d frames, ffprobe counts %d (stats %+v)", seed, len(frames), want, d.Stats())
				}
				wantCodec := map[string]Codec{"h264": CodecH264, "hevc": CodecH265}[c.codec]
				for i, f := range frames {
					if f.Codec != wantCodec || f.StreamID < 0xE0 {
						t.Fatalf("frame %d: %v on %#x", i, f.Codec, f.StreamID)
					}
					if i > 0 && f.DTS <= frames[i-1].DTS {
						t.Fatalf("frame %d: dts %d after %d", i, f.DTS, frames[i-1].DTS)
					}
				}
				if s := d.Stats(); s.Resyncs != 0 || s.Skipped != 0 {
					t.Fatalf("clean input resynchronised: %+v", s)
				}
			}
			// Over RTP as it is (1,400-byte packets, no frame alignment,
			// one timestamp, no marker bits): the NAL units alone cut it.
			var overRTP []Frame
			d := NewDemuxer(func(f Frame) { overRTP = append(overRTP, Frame{PTS: f.PTS, Data: bytes.Clone(f.Data)}) })
			p := NewDepacketizer(d)
			for i, seq := 0, uint16(65000); i < len(b); i, seq = i+1400, seq+1 { // the sequence number wraps
				p.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: 1234}, Payload: b[i:min(i+1400, len(b))]})
			}
			d.Flush()
			if len(overRTP) != want {
				t.Fatalf("over RTP: %d frames, ffprobe counts %d", len(overRTP), want)
			}
			frames, _ := collect(b, 9)
			for i := range frames {
				if !bytes.Equal(frames[i].Data, overRTP[i].Data) || frames[i].PTS != overRTP[i].PTS {
					t.Fatalf("frame %d differs over RTP", i)
				}
			}
			if _, _, _, got := probe(t, annexB(frames), c.format); got != want {
				t.Fatalf("the demuxed access units decode to %d frames, want %d", got, want)
			}
		})
	}
}

// gbPackets is b (one program stream) cut into frames at its pack headers
// and each frame into RTP packets as a GB/T 28181 device sends them.
func gbPackets(t *testing.T, b []byte) []*rtp.Packet {
	t.Helper()
	frames, _ := collect(b, 0)
	var m Muxer
	m.Video = frames[0].Codec
	pk := Packetizer{PayloadType: 96, SSRC: 0x10000001, MTU: 1400}
	var pkts []*rtp.Packet
	for _, f := range frames {
		key := false
		for _, n := range SplitAnnexB(f.Data) {
			if len(n) > 0 && ((f.Codec == CodecH264 && n[0]&0x1F == 5) || (f.Codec == CodecH265 && n[0]>>1&0x3F >= 16 && n[0]>>1&0x3F <= 21)) {
				key = true
			}
		}
		ps := m.AppendVideo(nil, f.Data, f.PTS, f.DTS, key)
		pkts = append(pkts, pk.Packets(ps, uint32(f.PTS))...)
	}
	return pkts
}

// TestRTPReorderAndLoss: GB-style RTP (one frame per pack, split across
// packets) put back in order within the window; a lost packet costs the
// frames it touched and the demuxer resynchronises at the next pack,
// every other frame intact and in order.
func TestRTPReorderAndLoss(t *testing.T) {
	b := ffmpegPS(t, "main.h264", "h264")
	want, _ := collect(b, 0)
	pkts := gbPackets(t, b)
	run := func(pkts []*rtp.Packet) ([]Frame, *Depacketizer, *Demuxer) {
		var got []Frame
		d := NewDemuxer(func(f Frame) { f.Data = bytes.Clone(f.Data); got = append(got, f) })
		p := NewDepacketizer(d)
		for _, pkt := range pkts {
			p.Push(pkt)
		}
		d.Flush()
		return got, p, d
	}
	same := func(a, b Frame) bool { return a.PTS == b.PTS && bytes.Equal(a.Data, b.Data) }

	// In order.
	got, _, _ := run(pkts)
	if len(got) != len(want) {
		t.Fatalf("%d frames over RTP, want %d", len(got), len(want))
	}
	for i := range got {
		if !same(got[i], want[i]) {
			t.Fatalf("frame %d differs over RTP", i)
		}
	}

	// Reordered: each packet after the first swapped with one up to 8
	// later. (A stream joined mid-frame starts at its next keyframe: the
	// parameter sets are in the keyframe's pack.)
	r := rand.New(rand.NewPCG(7, 7))
	shuffled := append([]*rtp.Packet(nil), pkts...)
	for i := 1; i+8 < len(shuffled); i += 9 {
		j := i + r.IntN(8)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	shuffled = append(shuffled[:10], append([]*rtp.Packet{shuffled[5]}, shuffled[10:]...)...) // a duplicate
	got, p, _ := run(shuffled)
	if len(got) != len(want) || p.Lost != 0 || p.Late != 1 {
		t.Fatalf("reordered: %d frames (want %d), lost %d, late %d", len(got), len(want), p.Lost, p.Late)
	}
	for i := range got {
		if !same(got[i], want[i]) {
			t.Fatalf("frame %d differs after reordering", i)
		}
	}

	// Lost: three packets in the middle of frames 10, 40 and 41.
	var lossy []*rtp.Packet
	drop := map[uint32]bool{uint32(want[10].PTS): true, uint32(want[40].PTS): true, uint32(want[41].PTS): true}
	dropped := map[uint32]bool{}
	for _, pkt := range pkts {
		if drop[pkt.Timestamp] && !dropped[pkt.Timestamp] && !pkt.Marker {
			dropped[pkt.Timestamp] = true
			continue
		}
		lossy = append(lossy, pkt)
	}
	got, p, d := run(lossy)
	if p.Lost != 3 || d.Stats().Frames == 0 {
		t.Fatalf("lost %d packets, want 3", p.Lost)
	}
	k := 0
	for _, f := range got {
		for k < len(want) && want[k].PTS != f.PTS {
			k++
		}
		if k == len(want) || !same(f, want[k]) {
			t.Fatalf("frame at pts %d after loss is not one of the sent frames intact", f.PTS)
		}
		if drop[uint32(f.PTS)] {
			t.Fatalf("frame at pts %d lost a packet yet was emitted", f.PTS)
		}
	}
	if len(got) < len(want)-3 {
		t.Fatalf("%d of %d frames after losing 3 packets, want all but 3", len(got), len(want))
	}
}

// TestMuxerRoundTripAndFFprobe: the gateway's own program stream (what the
// cascade sends upward): H.264 and H.265 with G.711 audio, frames larger
// than one PES, demux to the same frames, and ffprobe reads it as the
// codec with the clip's picture size and frame count.
func TestMuxerRoundTripAndFFprobe(t *testing.T) {
	for _, c := range []struct{ clip, format, codec string }{{"main.h264", "h264", "h264"}, {"h265.h265", "hevc", "hevc"}} {
		t.Run(c.codec, func(t *testing.T) {
			src, _ := collect(ffmpegPS(t, c.clip, c.format), 0)
			// One frame made large: three PES.
			src[3].Data = append(bytes.Clone(src[3].Data), make([]byte, 150_000)...)
			m := Muxer{Video: src[0].Codec, Audio: CodecG711A}
			var out []byte
			var audio [][]byte
			for i, f := range src {
				out = m.AppendVideo(out, f.Data, f.PTS, f.DTS, i == 0)
				a := bytes.Repeat([]byte{byte(i)}, 320) // 40 ms of A-law
				audio = append(audio, a)
				out = m.AppendAudio(out, a, f.PTS)
			}
			got, d := collect(out, 3)
			var video, sound []Frame
			for _, f := range got {
				if f.Codec.IsVideo() {
					video = append(video, f)
				} else {
					sound = append(sound, f)
				}
			}
			if len(video) != len(src) || len(sound) != len(src) || d.Stats().Resyncs != 0 {
				t.Fatalf("%d video and %d audio frames of %d, stats %+v", len(video), len(sound), len(src), d.Stats())
			}
			for i := range src {
				if !bytes.Equal(video[i].Data, src[i].Data) || video[i].PTS != src[i].PTS || video[i].DTS != src[i].DTS || video[i].Codec != src[i].Codec {
					t.Fatalf("video frame %d differs", i)
				}
				if !bytes.Equal(sound[i].Data, audio[i]) || sound[i].Codec != CodecG711A || sound[i].PTS != src[i].PTS {
					t.Fatalf("audio frame %d differs (%v)", i, sound[i].Codec)
				}
			}
			// ffprobe, without the padded frame.
			src[3].Data = src[3].Data[:len(src[3].Data)-150_000]
			out = out[:0]
			for i, f := range src {
				out = m.AppendVideo(out, f.Data, f.PTS, f.DTS, i%25 == 0)
			}
			codec, w, h, n := probe(t, out, "")
			_, ww, wh, wn := probe(t, annexB(src), c.format)
			if codec != c.codec || w != ww || h != wh || n != wn {
				t.Fatalf("ffprobe reads our PS as %s %dx%d, %d frames; want %s %dx%d, %d", codec, w, h, n, c.codec, ww, wh, wn)
			}
		})
	}
}

// TestWrongMapAndJunk: a map naming H.265 over H.264 data is overruled by
// the NAL units (and counted); junk between packs and a PES cut short are
// skipped to the next pack header, the frames around them intact.
func TestWrongMapAndJunk(t *testing.T) {
	src, _ := collect(ffmpegPS(t, "main.h264", "h264"), 0)
	m := Muxer{Video: CodecH265}
	var out []byte
	for i, f := range src[:20] {
		out = m.AppendVideo(out, f.Data, f.PTS, f.DTS, i == 0)
		switch i {
		case 5:
			out = append(out, []byte("junk that is not a start code")...)
		case 9:
			out = out[:len(out)-100]                     // the end of frame 9's PES lost
			out = append(out, 0, 0, 1, 0xE0, 0xFF, 0xFF) // and a PES claiming 64 KiB that never come
		}
	}
	got, d := collect(out, 5)
	if d.Stats().MapErrors == 0 {
		t.Error("the wrong map was not counted")
	}
	if d.Stats().Resyncs < 2 {
		t.Errorf("junk and a cut PES: %d resyncs", d.Stats().Resyncs)
	}
	k := 0
	for _, f := range got {
		if f.Codec != CodecH264 {
			t.Fatalf("frame at %d taken as %v", f.PTS, f.Codec)
		}
		for k < 20 && src[k].PTS != f.PTS {
			k++
		}
		if k == 20 || !bytes.Equal(f.Data, src[k].Data) {
			t.Fatalf("frame at pts %d is not a sent frame intact", f.PTS)
		}
	}
	if len(got) < 17 {
		t.Fatalf("%d of 20 frames around the junk", len(got))
	}
}

// FuzzDemux: any bytes, in any chunks, through the demuxer and the RTP
// depacketizer: no panic, no frame larger than its input.
func FuzzDemux(f *testing.F) {
	var m Muxer
	m.Video, m.Audio = CodecH264, CodecG711U
	seed := m.AppendVideo(nil, []byte{0, 0, 0, 1, 0x67, 0x42, 0, 0x1F, 0, 0, 0, 1, 0x65, 0x88, 0x84}, 3600, 3600, true)
	seed = m.AppendAudio(seed, []byte{1, 2, 3, 4}, 3600)
	f.Add(seed, uint8(7))
	f.Add([]byte{0, 0, 1, 0xBA, 0x21, 0, 1, 0, 1, 0x80, 0, 1, 0, 0, 1, 0xE0, 0, 5, 0x0F, 0, 0, 1, 9}, uint8(3))
	f.Add([]byte{0, 0, 1, 0xBC, 0, 12, 0xE0, 0xFF, 0xFF, 0xFF, 0, 8, 0x1B, 0xE0, 0xFF, 0xF0}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		total := 0
		d := NewDemuxer(func(fr Frame) {
			total += len(fr.Data)
			if len(fr.Data) > len(b) {
				t.Fatalf("a frame of %d bytes from %d", len(fr.Data), len(b))
			}
		})
		n := int(chunk) + 1
		for rest := b; len(rest) > 0; {
			k := min(n, len(rest))
			d.Write(rest[:k])
			rest = rest[k:]
		}
		d.Flush()
		// The same bytes as RTP packets with scrambled sequence numbers.
		d2 := NewDemuxer(nil)
		p := NewDepacketizer(d2)
		for i := 0; i < len(b); i += n {
			seq := uint16(i / n)
			if chunk&1 == 1 {
				seq ^= uint16(chunk)
			}
			p.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(i / 3)}, Payload: b[i:min(i+n, len(b))]})
		}
	})
}

// TestCarrierBoundaries: a sender that puts a new RTP timestamp and the
// marker bit on every 2,048-byte pack, mid-frame (lzh2nix/gb28181Simulator
// sending ffmpeg's PS), has its frames whole, as ffprobe counts them
// (before, each pack's marker cut a frame short); a sender that follows
// GB/T 28181 (one timestamp a frame, the marker on its last packet) has
// its boundaries followed after two proved right: a frame is handed on as
// its last packet arrives, not when the next one starts.
func TestCarrierBoundaries(t *testing.T) {
	b := ffmpegPS(t, "main.h264", "h264")
	want, _ := collect(b, 0)
	var packs [][]byte
	for i := 0; i < len(b); {
		j := bytes.Index(b[i+4:], []byte{0, 0, 1, 0xBA})
		if j < 0 {
			packs = append(packs, b[i:])
			break
		}
		packs = append(packs, b[i:i+4+j])
		i += 4 + j
	}
	var got []Frame
	d := NewDemuxer(func(f Frame) { f.Data = bytes.Clone(f.Data); got = append(got, f) })
	p := NewDepacketizer(d)
	seq := uint16(0)
	for k, pack := range packs {
		for i := 0; i < len(pack); i += 1448 {
			end := min(i+1448, len(pack))
			p.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(40 * k), Marker: end == len(pack)}, Payload: pack[i:end]})
			seq++
		}
	}
	d.Flush()
	if len(got) != len(want) {
		t.Fatalf("a marker on every pack: %d frames, want %d (stats %+v)", len(got), len(want), d.Stats())
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("frame %d cut short: %d bytes, want %d", i, len(got[i].Data), len(want[i].Data))
		}
	}
	if d.Stats().Misplaced == 0 {
		t.Error("no misplaced boundary counted")
	}
	t.Logf("%d packs, %d frames whole; stats %+v", len(packs), len(got), d.Stats())

	// GB/T 28181 style: each frame's last packet hands it on at once once
	// two boundaries proved right.
	pkts := gbPackets(t, b)
	var emitted int
	d2 := NewDemuxer(func(Frame) { emitted++ })
	p2 := NewDepacketizer(d2)
	frames := 0
	for _, pkt := range pkts {
		p2.Push(pkt)
		if pkt.Marker {
			frames++
			if frames > 3 && emitted != frames {
				t.Fatalf("frame %d: %d frames handed on when its last packet came", frames, emitted)
			}
		}
	}
	if s := d2.Stats(); s.Misplaced != 0 || s.Boundaries < uint64(frames-2) {
		t.Fatalf("a GB/T 28181 sender: %+v", s)
	}
}
