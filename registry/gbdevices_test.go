package registry

import (
	"context"
	"errors"
	"testing"
)

// TestGBDevices: a device first put is enabled on UDP; changes keep its
// first-seen time; a bad password or transport names its field; unknown
// ids are ErrNotFound.
func TestGBDevices(t *testing.T) {
	s, _ := startStore(t)
	ctx := context.Background()
	const id = "32100300001110000001"
	if _, err := s.GBDevice(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	d, err := s.PutGBDevice(ctx, id, func(d *GBDevice) error { d.Manufacturer, d.Channels = "Hikvision", 4; return nil })
	if err != nil || !d.Enabled || d.MediaTransport != "udp" || d.FirstSeen.IsZero() {
		t.Fatalf("first put: %+v %v", d, err)
	}
	d2, err := s.PutGBDevice(ctx, id, func(d *GBDevice) error {
		d.Name, d.Password, d.MediaTransport = " 北村 NVR ", "secret-123", "tcp"
		return nil
	})
	if err != nil || d2.Name != "北村 NVR" || d2.Password != "secret-123" || d2.MediaTransport != "tcp" || !d2.FirstSeen.Equal(d.FirstSeen) || d2.Manufacturer != "Hikvision" {
		t.Fatalf("second put: %+v %v", d2, err)
	}
	for field, change := range map[string]func(*GBDevice){
		"password":        func(d *GBDevice) { d.Password = "short" },
		"media_transport": func(d *GBDevice) { d.MediaTransport = "sctp" },
	} {
		var fe *FieldError
		if _, err := s.PutGBDevice(ctx, id, func(d *GBDevice) error { change(d); return nil }); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if _, err := s.PutGBDevice(ctx, "not-a-code", func(*GBDevice) error { return nil }); err == nil {
		t.Fatal("a device id that is not a code was stored")
	}
	all, err := s.GBDevices(ctx)
	if err != nil || len(all) != 1 || all[0].ID != id {
		t.Fatalf("list: %+v %v", all, err)
	}
}
