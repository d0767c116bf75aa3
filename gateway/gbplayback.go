package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"sharpeyes/api"
	"sharpeyes/gb28181"
	"sharpeyes/gb28181/mansrtsp"
	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
	"sharpeyes/recording"
	"sharpeyes/registry"
)

// deviceSilence is how long a device's Playback may send nothing before
// it is given up.
const deviceSilence = 10 * time.Second

// PlayDevice plays a window of what cam's device keeps (a Playback at
// scale) to w as fragmented MP4 whose time 0 is the first frame the
// device sends (at start, or the keyframe before it where the device
// starts there). It ends at the window's end (the device's MediaStatus
// 121 and what was still on its way), when ctx ends (the viewer left),
// or when the device falls silent; the session ends with a BYE whatever
// ended it.
func (b *gbSide) PlayDevice(ctx context.Context, cam registry.Camera, start time.Time, d time.Duration, scale float64, w io.Writer) error {
	return b.history(ctx, cam, "Playback", start, start.Add(d), 0, scale, w)
}

// downloadSpeed is how many times real time a device is asked to send a
// Download at (as it allows).
const downloadSpeed = 4

// DownloadDevice fetches [from, to] of what cam's device keeps (a
// Download) into w as fragmented MP4, for an evidence clip; it answers
// the footage's provenance. recording.ErrNoFootage when the camera has no
// device or the device sends no picture; recording.ErrOtherNode when its
// device is registered with another node.
func (b *gbSide) DownloadDevice(ctx context.Context, cam registry.Camera, from, to time.Time, w io.Writer) (string, error) {
	if cam.GB == nil {
		return "", fmt.Errorf("%w: camera %s has no device of its own", recording.ErrNoFootage, cam.ID)
	}
	if _, ok := b.server.Device(cam.GB.DeviceID); !ok {
		return "", fmt.Errorf("%w: device %s is not registered here", recording.ErrOtherNode, cam.GB.DeviceID)
	}
	prov := fmt.Sprintf("GB/T 28181 device %s channel %s, Download %s–%s", cam.GB.DeviceID, cam.GB.ChannelID,
		from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	err := b.history(ctx, cam, "Download", from, to, downloadSpeed, 1, w)
	if errors.Is(err, recording.ErrNoKeyframe) || errors.Is(err, api.ErrNoAnswer) {
		err = fmt.Errorf("%w: %v", recording.ErrNoFootage, err)
	}
	return prov, err
}

// history receives a Playback or Download of cam's device and writes it
// to w as fragmented MP4, until the device says it is all sent, ctx ends,
// the device ends the call or falls silent.
func (b *gbSide) history(ctx context.Context, cam registry.Camera, session string, from, to time.Time, speed int, scale float64, w io.Writer) error {
	if cam.GB == nil {
		return fmt.Errorf("camera %s is no GB/T 28181 channel", cam.ID)
	}
	ssrc := sdp.HistorySSRC(b.Config.Domain, int(b.hseq.Add(1)))
	n, _ := sdp.SDP{SSRC: ssrc}.SSRCNumber()
	frames := make(chan ps.Frame, 1024)
	stop, _ := b.media.Expect(n, func(f ps.Frame) {
		if !f.Codec.IsVideo() {
			return
		}
		f.Data = append([]byte(nil), f.Data...)
		select {
		case frames <- f:
		default: // the viewer is too slow: a frame lost rather than the media port held
		}
	})
	defer stop()
	offer := sdp.SDP{IP: b.opener.MediaIP, Port: b.media.Port(), Transport: "UDP", SSRC: ssrc}
	if b.opener.Transport != nil && b.opener.Transport(cam.GB.DeviceID) == "tcp" {
		offer.Transport, offer.Setup = "TCP", "passive"
	}
	call, err := b.server.History(ctx, cam.GB.DeviceID, cam.GB.ChannelID, session, offer, from, to, speed)
	switch {
	case errors.Is(err, gb28181.ErrNotRegistered):
		return fmt.Errorf("%w: device %s is not registered", api.ErrBusy, cam.GB.DeviceID)
	case err != nil:
		return fmt.Errorf("%w: %v", api.ErrBusy, err)
	}
	defer func() { _ = call.Bye(context.WithoutCancel(ctx)) }()
	log := b.log.With("camera", cam.ID, "device", cam.GB.DeviceID)
	if scale != 1 {
		if err := call.Control(ctx, mansrtsp.Request{Method: mansrtsp.Play, Scale: scale}); err != nil {
			log.Warn("device playback speed not set", "scale", scale, "error", err)
		}
	}
	st := recording.NewStream(w, time.Second)
	silence := time.NewTimer(deviceSilence)
	defer silence.Stop()
	var drain <-chan time.Time
	for {
		select {
		case f := <-frames:
			if err := st.WriteH264(ps.SplitAnnexB(f.Data), f.PTS); err != nil {
				return err // the viewer is gone
			}
			silence.Reset(deviceSilence)
		case <-call.Sent():
			// What the device sent last is still on its way for a moment.
			if drain == nil {
				drain = time.After(300 * time.Millisecond)
			}
		case <-drain:
			return st.Close()
		case <-call.Done(): // the device ended it
			return st.Close()
		case <-silence.C:
			if st.Frames() == 0 {
				return fmt.Errorf("%w: device %s sent nothing of %s in %v", api.ErrNoAnswer, cam.GB.DeviceID, cam.GB.ChannelID, deviceSilence)
			}
			log.Warn("device playback fell silent")
			return st.Close()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
