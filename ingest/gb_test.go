package ingest

import (
	"context"
	"testing"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/gb28181/ps"
	"sharpeyes/relay"
)

// fakeOpener is a GB/T 28181 device in process: Open sends G.711 audio
// for a while before the first video frame, then the clip's frames.
type fakeOpener struct {
	t          *testing.T
	registered bool
}

func (f *fakeOpener) Presence(string) (bool, time.Time) { return f.registered, time.Time{} }

func (f *fakeOpener) Open(ctx context.Context, _ GBRef, onFrame func(ps.Frame)) (<-chan struct{}, func(), error) {
	clip, err := camsim.ParseClip(sharpeyes.MainClip)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		pts := int64(0)
		for i := 0; i < 10; i++ { // audio first, as many devices send it
			onFrame(ps.Frame{Codec: ps.CodecG711A, StreamID: 0xC0, PTS: pts, HasPTS: true, Data: make([]byte, 160)})
			pts += 1800
			time.Sleep(5 * time.Millisecond)
		}
		for i := 0; ctx.Err() == nil; i++ {
			var au []byte
			for _, n := range clip.Units[i%len(clip.Units)] {
				au = append(au, 0, 0, 0, 1)
				au = append(au, n...)
			}
			onFrame(ps.Frame{Codec: ps.CodecH264, StreamID: 0xE0, PTS: pts, HasPTS: true, Data: au})
			pts += 3600
			time.Sleep(40 * time.Millisecond)
		}
	}()
	return done, cancel, nil
}

// TestGBStreamIsReadyWithItsVideo: a GB/T 28181 channel whose device
// sends audio before its first video frame is not ready until the video
// is known (before, the audio made it ready with no video, and the
// cascade answered a platform's INVITE "sends no video").
func TestGBStreamIsReadyWithItsVideo(t *testing.T) {
	m := NewManager(ManagerConfig{Timeout: 5 * time.Second, GBOpener: &fakeOpener{t: t, registered: true}})
	defer m.Close()
	if err := m.Upsert(CameraSpec{ID: "ch1", OnDemand: true, GB: GBRef{Device: "32100300001110000001", Channel: "32100300001310000001"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, release, err := m.Acquire(ctx, "ch1", Main)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if info := st.Info(); info.Video != relay.CodecH264 || info.Audio != relay.CodecPCMA {
		t.Fatalf("ready with %+v, want H.264 video and G.711 audio", info)
	}
}

// TestIdleGBChannelIsOfflineWithItsDevice: a GB channel nobody pulls is
// offline while its device is not registered, or its catalog says OFF.
func TestIdleGBChannelIsOfflineWithItsDevice(t *testing.T) {
	op := &fakeOpener{t: t}
	m := NewManager(ManagerConfig{GBOpener: op})
	defer m.Close()
	spec := CameraSpec{ID: "ch1", OnDemand: true, GB: GBRef{Device: "32100300001110000001", Channel: "32100300001310000001"}}
	_ = m.Upsert(spec)
	if st, _ := m.Status("ch1"); st.State != StateOffline || st.Reason != ReasonDeviceOffline {
		t.Fatalf("device not registered: %+v", st.Status)
	}
	op.registered = true
	if st, _ := m.Status("ch1"); st.State != StateOnline || st.Live {
		t.Fatalf("device registered: %+v", st.Status)
	}
	spec.Off = "its device's catalog says the channel is OFF"
	_ = m.Upsert(spec)
	if st, _ := m.Status("ch1"); st.State != StateOffline || st.Reason != ReasonChannelOff {
		t.Fatalf("channel OFF: %+v", st.Status)
	}
}
