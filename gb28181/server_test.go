package gb28181

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"sharpeyes/camsim"
	"sharpeyes/gb28181/manscdp"
	"sharpeyes/gb28181/sipstack"
)

// events records what the server hands on.
type events struct {
	mu      sync.Mutex
	online  []Device
	offline []string
	moved   []Device
	catalog map[string][]manscdp.Item
	info    map[string]string
	alarms  []string
	// catalogs counts the complete catalogs gathered.
	catalogs int
}

func (e *events) handler() Handler {
	return Handler{
		Online:  func(d Device) { e.mu.Lock(); e.online = append(e.online, d); e.mu.Unlock() },
		Offline: func(id, why string) { e.mu.Lock(); e.offline = append(e.offline, id+": "+why); e.mu.Unlock() },
		Moved:   func(d Device) { e.mu.Lock(); e.moved = append(e.moved, d); e.mu.Unlock() },
		Catalog: func(id string, items []manscdp.Item, complete bool) {
			e.mu.Lock()
			if complete {
				e.catalog[id] = items
				e.catalogs++
			}
			e.mu.Unlock()
		},
		DeviceInfo: func(id string, m *manscdp.Message) {
			e.mu.Lock()
			e.info[id] = m.Manufacturer + " " + m.Model
			e.mu.Unlock()
		},
		Alarm: func(id string, body []byte) { e.mu.Lock(); e.alarms = append(e.alarms, id); e.mu.Unlock() },
	}
}

func waitFor(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const (
	serverID = "32100300002000000001"
	domain   = "3210030000"
)

// startStack starts a SIP stack on a free loopback port.
func startStack(t testing.TB, lim sipstack.Limits) *sipstack.Stack {
	t.Helper()
	st, err := sipstack.New(sipstack.Config{Addr: "127.0.0.1:0", Hostname: domain, Limits: lim}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func startServer(t *testing.T, keepalive time.Duration, devices Devices) (*Server, *events) {
	t.Helper()
	return startServerOn(t, startStack(t, sipstack.Limits{}), keepalive, devices)
}

func startServerOn(t *testing.T, st *sipstack.Stack, keepalive time.Duration, devices Devices) (*Server, *events) {
	t.Helper()
	ev := &events{catalog: map[string][]manscdp.Item{}, info: map[string]string{}}
	s, err := NewServer(st, Config{ServerID: serverID, Domain: domain, Keepalive: keepalive, CatalogWait: 3 * time.Second},
		"default-pass", devices, ev.handler(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, ev
}

// TestDeviceRegistersKeepsAliveAndListsItsChannels, over UDP and TCP: a
// simulated NVR with the default password registers (after the digest
// challenge), its info and a catalog of 3 channels in 3 MESSAGEs arrive
// whole, an alarm is handed on, keepalives stopped mark it offline within
// three intervals, and Expires: 0 unregisters it.
func TestDeviceRegistersKeepsAliveAndListsItsChannels(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			const ka = 200 * time.Millisecond
			s, ev := startServer(t, ka, func(string) (Settings, bool) { return Settings{}, false })
			dev, err := camsim.StartGB(context.Background(), camsim.GBConfig{Server: s.Addr(), ServerID: serverID, Domain: domain,
				DeviceID: "32100300001110000001", Password: "default-pass", Channels: 3, Transport: transport, Keepalive: ka,
				Lon: 119.42, Lat: 32.41, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Kill()
			select {
			case <-dev.Registered:
			case <-time.After(5 * time.Second):
				t.Fatal("the device did not register")
			}
			// Over UDP the device's one socket is its address; over TCP the
			// connection it opened.
			d, ok := s.Device("32100300001110000001")
			if !ok || (transport == "udp" && d.Addr != dev.Addr()) || d.Transport != map[string]string{"udp": "UDP", "tcp": "TCP"}[transport] {
				t.Fatalf("registered as %+v (ok %v), device at %s", d, ok, dev.Addr())
			}
			waitFor(t, 8*time.Second, "the catalog", func() bool {
				ev.mu.Lock()
				defer ev.mu.Unlock()
				return len(ev.catalog["32100300001110000001"]) == 3 && ev.info["32100300001110000001"] != ""
			})
			ev.mu.Lock()
			items := append([]manscdp.Item(nil), ev.catalog["32100300001110000001"]...)
			ev.mu.Unlock()
			// Pages may be handled in any order: by channel code.
			sort.Slice(items, func(i, j int) bool { return items[i].DeviceID < items[j].DeviceID })
			for i, it := range items {
				if it.DeviceID != dev.Config().ChannelID(i+1) || !manscdp.IsVideoChannel(it.DeviceID) || !it.Online() {
					t.Fatalf("item %d: %+v", i, it)
				}
				if _, _, ok := it.Position(); !ok {
					t.Fatalf("item %d has no position", i)
				}
			}
			if err := dev.Alarm(context.Background(), 2, 5, 2); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "the alarm", func() bool { ev.mu.Lock(); defer ev.mu.Unlock(); return len(ev.alarms) == 1 })

			// Keepalives stopped but the device still answers: a silent
			// device is asked for its catalog, answers, and stays online.
			time.Sleep(2 * ka)
			ev.mu.Lock()
			catalogs := ev.catalogs
			ev.mu.Unlock()
			dev.SetKeepalive(false)
			time.Sleep(5 * ka)
			ev.mu.Lock()
			asked, gone := ev.catalogs-catalogs, len(ev.offline)
			ev.mu.Unlock()
			if gone != 0 || asked == 0 {
				t.Fatalf("keepalives lost, SIP answering: %d offline, %d catalog queries answered; want online, asked", gone, asked)
			}
			// Switched off: offline within three intervals (and a little
			// for the watcher's tick).
			dev.Kill()
			stopped := time.Now()
			waitFor(t, 6*ka, "offline", func() bool { ev.mu.Lock(); defer ev.mu.Unlock(); return len(ev.offline) == 1 })
			if took := time.Since(stopped); took > 3*ka+ka {
				t.Fatalf("offline after %v, want within 3 keepalives (%v)", took, 3*ka)
			}
			t.Logf("offline %v after the device was switched off (%v intervals)", time.Since(stopped).Round(10*time.Millisecond), ka)
		})
	}
}

// TestRegistrationRefusals: a wrong password is refused (403) and a
// disabled device too; a known device registers with its own password.
func TestRegistrationRefusals(t *testing.T) {
	s, ev := startServer(t, time.Minute, func(id string) (Settings, bool) {
		switch id {
		case "32100300001110000002":
			return Settings{Password: "its-own", Enabled: true}, true
		case "32100300001110000003":
			return Settings{Enabled: false}, true
		}
		return Settings{}, false
	})
	start := func(id, pass string) *camsim.GBDevice {
		dev, err := camsim.StartGB(context.Background(), camsim.GBConfig{Server: s.Addr(), ServerID: serverID, Domain: domain,
			DeviceID: id, Password: pass, Channels: 1, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dev.Kill)
		return dev
	}
	wrong := start("32100300001110000001", "guess")
	own := start("32100300001110000002", "its-own")
	disabled := start("32100300001110000003", "default-pass")
	select {
	case <-own.Registered:
	case <-time.After(5 * time.Second):
		t.Fatal("a device with its own password did not register")
	}
	time.Sleep(time.Second)
	for _, d := range []*camsim.GBDevice{wrong, disabled} {
		select {
		case <-d.Registered:
			t.Fatalf("device at %s registered", d.Addr())
		default:
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.online) != 1 || ev.online[0].ID != "32100300001110000002" {
		t.Fatalf("online: %+v", ev.online)
	}
}

// startDevice starts a simulated device registering with s (the default
// password, no log unless cfg says), killed with the test, and waits for
// its registration.
func startDevice(t *testing.T, s *Server, cfg camsim.GBConfig) *camsim.GBDevice {
	t.Helper()
	cfg.Server, cfg.ServerID, cfg.Domain = s.Addr(), serverID, domain
	if cfg.Password == "" {
		cfg.Password = "default-pass"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	dev, err := camsim.StartGB(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Kill)
	select {
	case <-dev.Registered:
	case <-time.After(5 * time.Second):
		t.Fatal("the device did not register")
	}
	return dev
}
