package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181"
	"sharpeyes/gb28181/sipstack"
	"sharpeyes/relay"
)

// streamingDevice is the device side of GB/T 28181 on loopback, its media
// port and a registered simulated NVR of channels channels looping the
// main clip.
func streamingDevice(t *testing.T, channels int) (*gb28181.Server, *gb28181.Media, *camsim.GBDevice) {
	t.Helper()
	const serverID, domain = "32100300002000000001", "3210030000"
	log := slog.New(slog.DiscardHandler)
	stack, err := sipstack.New(sipstack.Config{Addr: "127.0.0.1:0", Hostname: domain}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	s, err := gb28181.NewServer(stack, gb28181.Config{ServerID: serverID, Domain: domain}, "default-pass",
		func(string) (gb28181.Settings, bool) { return gb28181.Settings{}, false }, gb28181.Handler{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	media, err := gb28181.ListenMedia(context.Background(), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(media.Close)
	dev, err := camsim.StartGB(context.Background(), camsim.GBConfig{Server: s.Addr(), ServerID: serverID, Domain: domain,
		DeviceID: "32100300001110000001", Password: "default-pass", Channels: channels, Clip: sharpeyes.MainClip, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Kill)
	select {
	case <-dev.Registered:
	case <-time.After(5 * time.Second):
		t.Fatal("the device did not register")
	}
	return s, media, dev
}

// TestChannelIsACameraOnDemand: an on-demand camera that is a GB channel
// is INVITEd by the first reader, its stream a relay stream like an RTSP
// camera's (H.264 1280x720 from a keyframe, G.711 audio), and BYE goes
// to the device the idle time after the last reader leaves.
func TestChannelIsACameraOnDemand(t *testing.T) {
	s, media, dev := streamingDevice(t, 1)
	const idle = 500 * time.Millisecond
	m := NewManager(ManagerConfig{IdleTimeout: idle, GBOpener: &GBChannels{Server: s, Media: media, MediaIP: "127.0.0.1"}})
	defer m.Close()
	ch := dev.Config().ChannelID(1)
	if err := m.Upsert(CameraSpec{ID: ch, OnDemand: true, GB: GBRef{Device: "32100300001110000001", Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	if dev.Invites() != 0 {
		t.Fatal("INVITE before any reader")
	}
	st, release, err := m.Acquire(context.Background(), ch, "sub")
	if err != nil {
		t.Fatal(err)
	}
	rd := st.UncountedFromGOP()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var video, audio int
	for video < 25 {
		u, err := rd.Next(ctx)
		if err != nil {
			t.Fatalf("after %d frames: %v", video, err)
		}
		if u.Codec.IsVideo() {
			if video == 0 && (!u.Key || u.Codec != relay.CodecH264) {
				t.Fatalf("first unit %v key %v", u.Codec, u.Key)
			}
			video++
		} else {
			audio++
		}
	}
	info := st.Info()
	if info.Width != 1280 || info.Height != 720 || info.Audio != relay.CodecPCMA || dev.Invites() != 1 {
		t.Fatalf("info %+v, audio %d, invites %d", info, audio, dev.Invites())
	}
	released := time.Now()
	release()
	for dev.Byes() == 0 {
		if time.Since(released) > idle+2*time.Second {
			t.Fatal("no BYE after the last reader left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(released); took < idle {
		t.Fatalf("BYE %v after the last reader, before the idle time %v", took, idle)
	}
	t.Logf("BYE %v after the last reader left (idle time %v)", time.Since(released).Round(10*time.Millisecond), idle)
}
