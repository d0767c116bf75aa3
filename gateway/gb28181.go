package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync/atomic"
	"time"

	"sharpeyes/api"
	"sharpeyes/configs"
	"sharpeyes/events"
	"sharpeyes/gb28181"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
	"sharpeyes/ingest"
	"sharpeyes/registry"
)

// gbSide is the gateway's GB/T 28181 device side: the SIP stack (which
// the cascade shares), the media port, the SIP server devices register
// with, and what they say put in the registry (devices, their channels
// as cameras) and the event intake (alarms, a device gone offline). It
// starts in two steps: "gb28181 sip" (Start: the stack and the media
// port, before the pulls, which end their calls through them) and
// "gb28181 devices" (the server: devices are taken once the rest of the
// gateway can take what they say).
type gbSide struct {
	gbDeps
	log    *slog.Logger
	stack  *sipstack.Stack // the one SIP stack, for devices and superior platforms
	server *gb28181.Server
	media  *gb28181.Media
	opener *ingest.GBChannels
	sn     atomic.Int64 // DeviceControl serial numbers
	hseq   atomic.Int64 // Playback and Download SSRCs
	rec    *deviceRecords
}

// gbDeps is what the device side works with.
type gbDeps struct {
	Config  configs.GB28181Config
	Store   *registry.Store
	Catalog *registry.Catalog
	Own     *ownEvents                                      // offline of a device's channels
	Record  func(ctx context.Context, e events.Event) error // an alarm into the event intake
	Loc     *time.Location                                  // the devices' local time (the street's)
	Log     *slog.Logger
}

// newGBSide makes the SIP stack and the device server; Start listens.
func newGBSide(d gbDeps) (*gbSide, error) {
	cfg := d.Config
	b := &gbSide{gbDeps: d, log: d.Log.With("component", "gb28181")}
	var err error
	if b.stack, err = sipstack.New(sipstack.Config{Addr: cfg.SIPAddr, Hostname: cfg.Domain, Await: true}, d.Log); err != nil {
		return nil, err
	}
	b.server, err = gb28181.NewServer(b.stack, gb28181.Config{ServerID: cfg.ServerID, Domain: cfg.Domain, Keepalive: cfg.KeepaliveTimeout.D() / 3,
		MaxChannels: cfg.MaxChannels}, cfg.Password, b.settings, gb28181.Handler{
		Online: b.online, Offline: b.offline, Catalog: b.catalog, DeviceInfo: b.deviceInfo, Alarm: b.alarm,
	}, d.Log)
	if err != nil {
		b.stack.Close()
		return nil, err
	}
	b.rec = newDeviceRecords(b.server, d.Loc)
	return b, nil
}

// Records is what a channel's device keeps over [from, to] (api.GB).
func (b *gbSide) Records(ctx context.Context, cam registry.Camera, from, to time.Time) ([]api.DeviceSpan, bool, error) {
	return b.rec.Records(ctx, cam, from, to)
}

// Start opens the media port and the SIP stack. Until the server starts
// a device's request is answered 503 (it tries again).
func (b *gbSide) Start(ctx context.Context) error {
	cfg := b.Config
	var err error
	if b.media, err = gb28181.ListenMedia(ctx, cfg.MediaAddr, b.Log); err != nil {
		return fmt.Errorf("gb28181 media %s: %w", cfg.MediaAddr, err)
	}
	if err := b.stack.Start(ctx); err != nil {
		b.media.Close()
		return fmt.Errorf("gb28181 sip %s: %w", cfg.SIPAddr, err)
	}
	mediaIP := cfg.MediaIP
	if mediaIP == "" {
		if host, _, err := net.SplitHostPort(cfg.SIPAddr); err == nil && host != "" && !net.ParseIP(host).IsUnspecified() {
			mediaIP = host
		} else {
			mediaIP = outboundIP()
		}
	}
	b.opener = &ingest.GBChannels{Server: b.server, Media: b.media, MediaIP: mediaIP, Transport: b.transport}
	return nil
}

// Close closes the stack and the media port (the server closed before).
func (b *gbSide) Close() {
	b.stack.Close()
	b.media.Close()
}

func (g *Gateway) startSIP(ctx context.Context) error {
	if !g.cfg.GB28181.Enabled {
		return nil
	}
	gb, err := newGBSide(gbDeps{Config: g.cfg.GB28181, Store: g.store, Catalog: g.catalog, Own: g.own, Record: g.recordOwn, Loc: g.location(), Log: g.log})
	if err != nil {
		return err
	}
	if err := g.parts.start(ctx, "gb28181 sip", gb); err != nil {
		return err
	}
	g.gb = gb
	return nil
}

func (g *Gateway) startGBDevices(ctx context.Context) error {
	if g.gb == nil {
		return nil
	}
	return g.parts.start(ctx, "gb28181 devices", g.gb.server)
}

// outboundIP is the address of the interface the default route leaves by
// (no packet is sent), or loopback.
func outboundIP() string {
	c, err := net.Dial("udp", "192.0.2.1:9") // TEST-NET-1: routed, never reached
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

func (b *gbSide) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// settings answers a device's password and whether it may register.
func (b *gbSide) settings(id string) (gb28181.Settings, bool) {
	ctx, cancel := b.ctx()
	defer cancel()
	d, err := b.Store.GBDevice(ctx, id)
	if err != nil {
		if !errors.Is(err, registry.ErrNotFound) {
			b.log.Warn("device settings not read; refusing it for now", "device", id, "error", err)
			return gb28181.Settings{Enabled: false}, true
		}
		return gb28181.Settings{}, false
	}
	return gb28181.Settings{Password: d.Password, Enabled: d.Enabled}, true
}

func (b *gbSide) transport(id string) string {
	ctx, cancel := b.ctx()
	defer cancel()
	if d, err := b.Store.GBDevice(ctx, id); err == nil {
		return d.MediaTransport
	}
	return "udp"
}

func (b *gbSide) online(d gb28181.Device) {
	ctx, cancel := b.ctx()
	defer cancel()
	if _, err := b.Store.PutGBDevice(ctx, d.ID, func(x *registry.GBDevice) error {
		x.LastRegistered = time.Now().UTC().Truncate(time.Millisecond)
		return nil
	}); err != nil {
		b.log.Warn("device not recorded", "device", d.ID, "error", err)
	}
	b.channelEvents(d.ID, events.PhaseEnd)
}

func (b *gbSide) offline(id, why string) {
	b.channelEvents(id, events.PhaseStart) // the server logged it
}

// channelEvents raises (start) or clears (end) the gateway's own offline
// event on every channel of device id.
func (b *gbSide) channelEvents(id, phase string) {
	if b.Own == nil {
		return
	}
	var cams []string
	for _, c := range b.Catalog.All() {
		if c.GB != nil && c.GB.DeviceID == id && !c.GB.Gone {
			cams = append(cams, c.ID)
		}
	}
	b.Own.offline(cams, phase)
}

func (b *gbSide) deviceInfo(id string, m *manscdp.Message) {
	ctx, cancel := b.ctx()
	defer cancel()
	if _, err := b.Store.PutGBDevice(ctx, id, func(x *registry.GBDevice) error {
		x.Manufacturer, x.Model, x.Firmware, x.Channels = gb28181.Clip(m.Manufacturer, 64), gb28181.Clip(m.Model, 64), gb28181.Clip(m.Firmware, 64), m.Channel
		if x.Name == "" {
			x.Name = gb28181.Clip(m.DeviceName, 200)
		}
		return nil
	}); err != nil {
		b.log.Warn("device info not recorded", "device", id, "error", err)
	}
}

// catalog applies a device's catalog to the registry as gb28181.PlanCatalog
// plans it: channels created or updated, never duplicated, at most
// maxChannels a device, those a whole catalog no longer lists marked gone.
func (b *gbSide) catalog(id string, items []manscdp.Item, complete bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mine []registry.Camera
	for _, c := range b.Catalog.All() {
		if c.GB != nil && c.GB.DeviceID == id {
			mine = append(mine, c)
		}
	}
	plan := gb28181.PlanCatalog(id, items, complete, mine, b.Catalog.Get, b.Config.MaxChannels)
	for _, ch := range plan.Channels {
		var err error
		if ch.New {
			_, err = b.Store.CreateCamera(ctx, ch.Camera(id))
		} else {
			_, err = b.Store.UpdateCamera(ctx, ch.ID, func(c *registry.Camera) error {
				if c.GB == nil || c.GB.DeviceID != id {
					return fmt.Errorf("%w: camera %s is not a channel of device %s", registry.ErrExists, c.ID, id)
				}
				ch.Apply(c)
				return nil
			})
		}
		if err != nil {
			b.log.Warn("channel not registered as a camera", "device", id, "camera", ch.ID, "error", err)
		}
	}
	for _, cam := range plan.Foreign {
		b.log.Warn("channel not registered as a camera: its code is another camera's", "device", id, "camera", cam)
	}
	if plan.Capped > 0 {
		b.log.Warn("device's catalog over the channel cap: channels not added", "device", id, "cap", b.Config.MaxChannels, "not_added", plan.Capped)
	}
	for _, cam := range plan.Gone {
		if _, err := b.Store.UpdateCamera(ctx, cam, func(c *registry.Camera) error { c.GB.Gone = true; return nil }); err != nil {
			b.log.Warn("channel gone from the catalog not marked", "camera", cam, "error", err)
		} else {
			b.log.Info("channel gone from the device's catalog", "device", id, "camera", cam)
		}
	}
}

// alarm takes a device's Alarm notification into the event intake as a
// gb28181 event of its channel. An alarm of the device itself, or of one
// of its codes that is no camera (an alarm input), is its first
// channel's (where the device stands); one naming another device's
// channel is refused. Nothing a device says of an alarm loses it: see
// events.FromGB28181.
func (b *gbSide) alarm(id string, body []byte) {
	e, err := events.FromGB28181(body, time.Now())
	if err != nil {
		b.log.Warn("MESSAGE Alarm is no alarm", "device", id, "error", err)
		return
	}
	if b.Record == nil {
		return
	}
	if c, ok := b.Catalog.Get(e.CameraID); ok {
		if c.GB == nil || c.GB.DeviceID != id {
			b.log.Warn("alarm of a camera that is not the device's refused", "device", id, "camera", e.CameraID)
			return
		}
	} else if first := b.firstChannel(id); first != "" {
		e.CameraID = first
	} else {
		e.CameraID = id // a device without channels yet: the alarm is kept under its code
	}
	ctx, cancel := b.ctx()
	defer cancel()
	if err := b.Record(ctx, e); err != nil {
		b.log.Warn("alarm not recorded", "device", id, "camera", e.CameraID, "error", err)
	}
}

// firstChannel is the device's channel with the lowest code that is not
// gone ("" when it has none).
func (b *gbSide) firstChannel(id string) string {
	first := ""
	for _, c := range b.Catalog.All() {
		if c.GB != nil && c.GB.DeviceID == id && !c.GB.Gone && (first == "" || c.ID < first) {
			first = c.ID
		}
	}
	return first
}

// gbOrNil is the GB/T 28181 side for the API (a nil interface when off).
func (g *Gateway) gbOrNil() api.GB {
	if g.gb == nil {
		return nil
	}
	return g.gb
}

// GBAddr is the SIP address GB/T 28181 devices register at ("" when off).
func (g *Gateway) GBAddr() string {
	if g.gb == nil {
		return ""
	}
	return g.gb.server.Addr()
}

// Devices implements api.GB.
func (b *gbSide) Devices(ctx context.Context) ([]api.GBDeviceView, error) {
	ds, err := b.Store.GBDevices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.GBDeviceView, len(ds))
	for i, d := range ds {
		out[i] = b.view(d)
	}
	return out, nil
}

// Device implements api.GB.
func (b *gbSide) Device(ctx context.Context, id string) (api.GBDeviceView, error) {
	d, err := b.Store.GBDevice(ctx, id)
	if err != nil {
		return api.GBDeviceView{}, err
	}
	return b.view(d), nil
}

// PatchDevice implements api.GB.
func (b *gbSide) PatchDevice(ctx context.Context, id string, p api.GBDevicePatch) (api.GBDeviceView, error) {
	if _, err := b.Store.GBDevice(ctx, id); err != nil {
		return api.GBDeviceView{}, err // only devices that registered or were set
	}
	d, err := b.Store.PutGBDevice(ctx, id, func(d *registry.GBDevice) error {
		if p.Name != nil {
			d.Name = *p.Name
		}
		if p.Password != nil {
			d.Password = *p.Password
		}
		if p.MediaTransport != nil {
			d.MediaTransport = *p.MediaTransport
		}
		if p.Enabled != nil {
			d.Enabled = *p.Enabled
		}
		return nil
	})
	if err != nil {
		return api.GBDeviceView{}, err
	}
	return b.view(d), nil
}

func (b *gbSide) view(d registry.GBDevice) api.GBDeviceView {
	v := api.GBDeviceView{GBDevice: d, OwnPassword: d.Password != "", ChannelIDs: []string{}}
	v.GBDevice.Password = ""
	if live, ok := b.server.Device(d.ID); ok {
		v.Online, v.Address, v.Transport, v.LastKeepalive, v.Expires = true, live.Addr, live.Transport, live.LastKeepalive, live.Expires
	}
	for _, c := range b.Catalog.All() {
		if c.GB != nil && c.GB.DeviceID == d.ID {
			v.ChannelIDs = append(v.ChannelIDs, c.ID)
		}
	}
	sort.Strings(v.ChannelIDs)
	v.ReportedChannels, v.Channels = d.Channels, len(v.ChannelIDs)
	return v
}

// PTZ implements api.GB: a DeviceControl with the PTZCmd to the channel
// through its device.
func (b *gbSide) PTZ(ctx context.Context, cam registry.Camera, action string, speed int) error {
	cmd, err := manscdp.PTZCmd(action, speed)
	if err != nil {
		return &registry.FieldError{Field: "action", Msg: err.Error()}
	}
	if _, ok := b.server.Device(cam.GB.DeviceID); !ok {
		return fmt.Errorf("%w: device %s is not registered", api.ErrBusy, cam.GB.DeviceID)
	}
	if err := b.server.Message(ctx, cam.GB.DeviceID, cam.GB.ChannelID, manscdp.Control(int(b.sn.Add(1)), cam.GB.ChannelID, cmd)); err != nil {
		return fmt.Errorf("%w: %v", api.ErrBusy, err)
	}
	b.log.Info("PTZ", "camera", cam.ID, "action", action, "speed", speed)
	return nil
}
