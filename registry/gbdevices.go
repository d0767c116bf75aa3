package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"sharpeyes/model"
)

// GBDevice is a GB/T 28181 device (an NVR or IP camera that registers
// with the gateway): what an operator sets, and what it last said of
// itself. Its channels are cameras with a gb field.
type GBDevice struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Password is the device's own digest password (empty: the default
	// gb28181.password); write-only: never answered.
	Password       string `json:"password,omitempty"`
	MediaTransport string `json:"media_transport"` // udp or tcp: how it sends media
	Enabled        bool   `json:"enabled"`
	Manufacturer   string `json:"manufacturer"`
	Model          string `json:"model"`
	Firmware       string `json:"firmware"`
	Channels       int    `json:"channels"`
	// FirstSeen and LastRegistered: when it first and last registered.
	FirstSeen      time.Time `json:"first_seen"`
	LastRegistered time.Time `json:"last_registered"`
	Rev            int64     `json:"-"`
}

// Validate checks what an operator may set.
func (d *GBDevice) Validate() error {
	if !model.IsGBCode(d.ID) {
		return &FieldError{Field: "id", Msg: "must be a 20-digit GB/T 28181 code"}
	}
	if len(d.Name) > 200 {
		return &FieldError{Field: "name", Msg: "must be at most 200 bytes"}
	}
	if d.Password != "" && (len(d.Password) < 8 || len(d.Password) > 128) {
		return &FieldError{Field: "password", Msg: "must be 8 to 128 characters (empty: the default password)"}
	}
	switch d.MediaTransport {
	case "udp", "tcp":
	default:
		return &FieldError{Field: "media_transport", Msg: "must be udp or tcp"}
	}
	return nil
}

func (s *Store) gbDeviceKey(id string) string { return s.prefix + "gb/devices/" + id }

// GBDevices lists the devices, by id.
func (s *Store) GBDevices(ctx context.Context) ([]GBDevice, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+"gb/devices/", clientv3.WithPrefix())
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]GBDevice, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var d GBDevice
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			s.log.Warn("GB/T 28181 device not read", "key", string(kv.Key), "error", err)
			continue
		}
		d.Rev = kv.ModRevision
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GBDevice answers one device; ErrNotFound if it never registered nor was set.
func (s *Store) GBDevice(ctx context.Context, id string) (GBDevice, error) {
	if !model.IsGBCode(id) {
		return GBDevice{}, fmt.Errorf("device %q: %w", id, ErrNotFound)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.gbDeviceKey(id))
	if err != nil {
		return GBDevice{}, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return GBDevice{}, fmt.Errorf("device %s: %w", id, ErrNotFound)
	}
	var d GBDevice
	if err := json.Unmarshal(resp.Kvs[0].Value, &d); err != nil {
		return GBDevice{}, fmt.Errorf("device %s: stored value: %w", id, err)
	}
	d.Rev = resp.Kvs[0].ModRevision
	return d, nil
}

// PutGBDevice applies change to device id (a new device, enabled and on
// UDP, if there is none yet), atomically.
func (s *Store) PutGBDevice(ctx context.Context, id string, change func(*GBDevice) error) (GBDevice, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.GBDevice(ctx, id)
		var rev int64
		switch {
		case err == nil:
			rev = cur.Rev
		case errors.Is(err, ErrNotFound):
			cur = GBDevice{ID: id, MediaTransport: "udp", Enabled: true, FirstSeen: s.now().UTC().Truncate(time.Millisecond)}
		default:
			return GBDevice{}, err
		}
		next := cur
		if err := change(&next); err != nil {
			return GBDevice{}, err
		}
		next.ID, next.FirstSeen = cur.ID, cur.FirstSeen
		next.Name = strings.TrimSpace(next.Name)
		if err := next.Validate(); err != nil {
			return GBDevice{}, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return GBDevice{}, err
		}
		newRev, ok, err := s.casPut(ctx, s.gbDeviceKey(id), b, rev)
		if err != nil {
			return GBDevice{}, err
		}
		if ok {
			next.Rev = newRev
			return next, nil
		}
	}
	return GBDevice{}, fmt.Errorf("device %s: too many concurrent updates: %w", id, ErrUnavailable)
}
