package gb28181

import (
	"context"
	"testing"
	"time"

	"sharpeyes/ingest"
	"sharpeyes/relay"
)

// TestChannelIsACameraOnDemand: an on-demand camera that is a GB channel
// is INVITEd by the first reader, its stream a relay stream like an RTSP
// camera's (H.264 1280x720 from a keyframe, G.711 audio), and BYE goes
// to the device the idle time after the last reader leaves.
func TestChannelIsACameraOnDemand(t *testing.T) {
	s, media, dev := streamingDevice(t, 1)
	const idle = 500 * time.Millisecond
	m := ingest.NewManager(ingest.ManagerConfig{IdleTimeout: idle, GBOpener: &Opener{Server: s, Media: media, MediaIP: "127.0.0.1"}})
	defer m.Close()
	ch := dev.Config().ChannelID(1)
	if err := m.Upsert(ingest.CameraSpec{ID: ch, OnDemand: true, GB: ingest.GBRef{Device: "32100300001110000001", Channel: ch}}); err != nil {
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
