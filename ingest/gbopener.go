package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"sharpeyes/gb28181"
	"sharpeyes/gb28181/ps"
	"sharpeyes/gb28181/sdp"
)

// GBChannels opens GB/T 28181 device channels' live video: an INVITE
// with a fresh SSRC through the device side's SIP server, the media on
// the shared port, over the transport the device is set to (UDP, or TCP
// with the device connecting).
type GBChannels struct {
	Server *gb28181.Server
	Media  *gb28181.Media
	// MediaIP is the address devices send media to (the gateway's, as
	// they reach it).
	MediaIP string
	// Transport answers the media transport of a device: "udp" (default) or "tcp".
	Transport func(deviceID string) string
	seq       atomic.Int64
}

var _ GBOpener = (*GBChannels)(nil)

// Open implements GBOpener.
func (o *GBChannels) Open(ctx context.Context, ref GBRef, onFrame func(ps.Frame)) (<-chan struct{}, func(), error) {
	ssrc := sdp.LiveSSRC(o.Server.Domain(), int(o.seq.Add(1)))
	n, _ := sdp.SDP{SSRC: ssrc}.SSRCNumber()
	stop, _ := o.Media.Expect(n, onFrame)
	offer := sdp.SDP{IP: o.MediaIP, Port: o.Media.Port(), Transport: "UDP", SSRC: ssrc}
	if o.Transport != nil && o.Transport(ref.Device) == "tcp" {
		offer.Transport, offer.Setup = "TCP", "passive"
	}
	call, err := o.Server.Invite(ctx, ref.Device, ref.Channel, offer)
	if err != nil {
		stop()
		return nil, nil, err
	}
	stops := []func(){stop}
	// Some devices stream with an SSRC of their own, which they answer.
	if own, ok := call.Answer.SSRCNumber(); ok && own != n {
		s2, _ := o.Media.Expect(own, onFrame)
		stops = append(stops, s2)
	}
	var once sync.Once
	closeCall := func() {
		once.Do(func() {
			_ = call.Bye(context.WithoutCancel(ctx)) // a device that does not answer has ended it anyway
			for _, s := range stops {
				s()
			}
		})
	}
	return call.Done(), closeCall, nil
}

// Presence implements GBOpener.
func (o *GBChannels) Presence(device string) (bool, time.Time) { return o.Server.Presence(device) }

// String names the opener in logs.
func (o *GBChannels) String() string {
	return fmt.Sprintf("gb28181 media %s:%d", o.MediaIP, o.Media.Port())
}
