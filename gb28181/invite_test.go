package gb28181

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
)

// streamingDevice is a server, its media port and a registered simulated
// NVR of channels channels looping the main clip.
func streamingDevice(t *testing.T, channels int) (*Server, *Media, *camsim.GBDevice) {
	t.Helper()
	s, _ := startServer(t, time.Minute, func(string) (Settings, bool) { return Settings{}, false })
	media, err := ListenMedia(context.Background(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(media.Close)
	dev := startDevice(t, s, camsim.GBConfig{DeviceID: "32100300001110000001", Channels: channels, Clip: sharpeyes.MainClip})
	return s, media, dev
}

// TestInviteStreamsAChannelAndByeStopsIt, media over UDP and over TCP
// (the device connecting): the simulated NVR answers the INVITE, its PS
// arrives on the one media port as H.264 access units starting with a
// keyframe, with G.711 audio; BYE stops it.
func TestInviteStreamsAChannelAndByeStopsIt(t *testing.T) {
	s, media, dev := streamingDevice(t, 2)
	for i, transport := range []string{"UDP", "TCP"} {
		t.Run(transport, func(t *testing.T) {
			var mu sync.Mutex
			var video, audio int
			var first ps.Frame
			ssrc := sdp.LiveSSRC(domain, i+1)
			n, _ := sdp.SDP{SSRC: ssrc}.SSRCNumber()
			stop, stats := media.Expect(n, func(f ps.Frame) {
				mu.Lock()
				defer mu.Unlock()
				if f.Codec.IsVideo() {
					if video == 0 {
						first = ps.Frame{Codec: f.Codec, Key: f.Key}
					}
					video++
				} else {
					audio++
				}
			})
			defer stop()
			offer := sdp.SDP{IP: "127.0.0.1", Port: media.Port(), Transport: transport, SSRC: ssrc}
			if transport == "TCP" {
				offer.Setup = "passive"
			}
			call, err := s.Invite(context.Background(), "32100300001110000001", dev.Config().ChannelID(1), offer)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "25 frames", func() bool { mu.Lock(); defer mu.Unlock(); return video >= 25 })
			mu.Lock()
			if first.Codec != ps.CodecH264 || !first.Key || audio == 0 {
				t.Fatalf("first frame %v key %v, %d audio frames", first.Codec, first.Key, audio)
			}
			mu.Unlock()
			byes := dev.Byes()
			if err := call.Bye(context.Background()); err != nil {
				t.Fatal(err)
			}
			if dev.Byes() != byes+1 {
				t.Fatalf("the device got %d BYEs", dev.Byes()-byes)
			}
			time.Sleep(300 * time.Millisecond)
			p1, _ := stats()
			time.Sleep(500 * time.Millisecond)
			if p2, _ := stats(); p2 != p1 {
				t.Fatalf("media went on after BYE: %d then %d packets", p1, p2)
			}
		})
	}
	if dev.Invites() != 2 {
		t.Fatalf("%d INVITEs", dev.Invites())
	}
}
