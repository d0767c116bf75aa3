package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"sharpeyes/api"
	"sharpeyes/gb28181"
	"sharpeyes/registry"
)

// deviceRecords answers what a GB/T 28181 channel's device keeps
// (RecordInfo), each answer kept briefly: a timeline drawn, zoomed and
// drawn again asks the device once.
type deviceRecords struct {
	server *gb28181.Server
	loc    *time.Location // the devices' local time (the street's)
	ttl    time.Duration
	wait   time.Duration // for a device's pages

	mu    sync.Mutex
	cache map[string]cachedRecords
}

type cachedRecords struct {
	at    time.Time
	spans []api.DeviceSpan
	whole bool
}

// maxCachedRecords bounds the answers kept.
const maxCachedRecords = 256

func newDeviceRecords(s *gb28181.Server, loc *time.Location) *deviceRecords {
	return &deviceRecords{server: s, loc: loc, ttl: 30 * time.Second, wait: 10 * time.Second, cache: map[string]cachedRecords{}}
}

// Records asks cam's device for its recordings over [from, to].
func (d *deviceRecords) Records(ctx context.Context, cam registry.Camera, from, to time.Time) ([]api.DeviceSpan, bool, error) {
	if cam.GB == nil {
		return nil, false, fmt.Errorf("camera %s is no GB/T 28181 channel", cam.ID)
	}
	key := fmt.Sprintf("%s|%d|%d", cam.ID, from.Unix(), to.Unix())
	now := time.Now()
	d.mu.Lock()
	if c, ok := d.cache[key]; ok && now.Sub(c.at) < d.ttl {
		d.mu.Unlock()
		return c.spans, c.whole, nil
	}
	d.mu.Unlock()
	recs, err := d.server.RecordInfo(ctx, cam.GB.DeviceID, cam.GB.ChannelID, from, to, d.loc, d.wait)
	switch {
	case errors.Is(err, gb28181.ErrNotRegistered):
		return nil, false, fmt.Errorf("%w: device %s is not registered", api.ErrBusy, cam.GB.DeviceID)
	case errors.Is(err, gb28181.ErrNoAnswer):
		return nil, false, fmt.Errorf("%w: %v", api.ErrNoAnswer, err)
	case err != nil:
		return nil, false, fmt.Errorf("%w: %v", api.ErrBusy, err)
	}
	spans := make([]api.DeviceSpan, 0, len(recs.Items))
	for _, r := range recs.Items {
		spans = append(spans, api.DeviceSpan{Start: r.Start.UTC(), End: r.End.UTC(), Type: r.Type})
	}
	d.mu.Lock()
	if len(d.cache) >= maxCachedRecords {
		for k, c := range d.cache {
			if now.Sub(c.at) >= d.ttl || len(d.cache) >= maxCachedRecords {
				delete(d.cache, k)
			}
		}
	}
	d.cache[key] = cachedRecords{at: now, spans: spans, whole: recs.Complete}
	d.mu.Unlock()
	return spans, recs.Complete, nil
}
