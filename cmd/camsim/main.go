// Command camsim serves a fleet of simulated RTSP cameras:
// rtsp://HOST/cam1 … camN (1280x720) and …/camK/sub (640x360), H.264 25 fps.
// With --gb-server it also runs simulated GB/T 28181 NVRs that register
// there, keep alive, answer their catalog and stream their channels as PS
// over RTP when INVITEd. With --platform-listen it is instead a simulated
// superior platform (级联): lower platforms register there; with
// --platform-play it INVITEs that many of a lower platform's channels,
// holds them, and prints what arrived as one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
	"sharpeyes/camsim/gbplatform"
	"sharpeyes/gb28181/manscdp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8555", "RTSP listen address (TCP)")
	udp := flag.Int("udp-port", 0, "even UDP port for RTP (RTCP uses the next); 0 = TCP only")
	n := flag.Int("cameras", 4, "number of cameras")
	user := flag.String("user", "", "require this user name (basic or digest auth)")
	pass := flag.String("pass", "", "password for --user")
	dropEvery := flag.Duration("drop-every", 0, "close every client session at this interval (fault)")
	stallAfter := flag.Duration("stall-after", 0, "stop sending media on every camera after this long, keeping sessions open (fault)")
	refuse := flag.Bool("refuse", false, "answer every DESCRIBE with 503 (fault)")
	codec := flag.String("codec", "h264", "video codec: h264 (main 1280x720, sub 640x360) or h265 (640x360 on both)")
	audio := flag.Bool("audio", false, "add a G.711 A-law track (8 kHz, 1 kHz tone)")
	gbServer := flag.String("gb-server", "", "GB/T 28181 platform SIP address (host:port) the simulated NVRs register with")
	gbServerID := flag.String("gb-server-id", "32100300002000000001", "the platform's 20-digit id")
	gbDomain := flag.String("gb-domain", "3210030000", "the platform's domain (SIP realm)")
	gbPassword := flag.String("gb-password", "", "the NVRs' registration password")
	gbDevices := flag.Int("gb-devices", 1, "number of simulated NVRs")
	gbChannels := flag.Int("gb-channels", 4, "channels per NVR")
	gbTransport := flag.String("gb-transport", "udp", "SIP transport: udp or tcp")
	gbKeepalive := flag.Duration("gb-keepalive", time.Minute, "keepalive interval")
	gbPan := flag.Bool("gb-pan", false, "channels pan on PTZ left/right (a live ffmpeg encode instead of the clip)")
	platListen := flag.String("platform-listen", "", "run a simulated superior platform on this SIP address (UDP and TCP) instead of cameras")
	platID := flag.String("platform-id", "32100000002000000001", "the platform's 20-digit id")
	platPass := flag.String("platform-password", "", "what lower platforms register with")
	platLower := flag.String("platform-lower", "", "the lower platform's id whose channels --platform-play INVITEs")
	platPlay := flag.Int("platform-play", 0, "INVITE this many of the lower platform's channels, one after another, then hold them")
	platMode := flag.String("platform-mode", "udp", "media: udp, tcp-passive (the platform listens) or tcp-active (it connects)")
	platHold := flag.Duration("platform-hold", time.Minute, "how long the INVITEd channels are held")
	platWait := flag.Duration("platform-wait", 0, "wait this long after the catalog arrived before the first INVITE")
	platSession := flag.String("platform-session", "Play", "what --platform-play asks for: Play (live), Playback or Download (recordings)")
	platBack := flag.Duration("platform-back", 2*time.Minute, "Playback and Download: the window starts this long before the INVITEs")
	platWindow := flag.Duration("platform-window", time.Minute, "Playback and Download: the window's length")
	platSpeed := flag.Int("platform-speed", 4, "Download: the downloadspeed asked for")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *platListen != "" {
		h := historyAsk{session: *platSession, back: *platBack, window: *platWindow, speed: *platSpeed}
		if err := runPlatform(log, *platListen, *platID, *platPass, *platLower, *platPlay, *platMode, *platHold, *platWait, h); err != nil {
			log.Error("platform", "error", err)
			os.Exit(1)
		}
		return
	}
	cfg := camsim.Config{
		Listen: *listen, Cameras: *n, Main: sharpeyes.MainClip, Sub: sharpeyes.SubClip,
		User: *user, Pass: *pass, DropEvery: *dropEvery, Audio: *audio, Logger: log,
	}
	switch *codec {
	case "h264":
	case "h265":
		cfg.H265 = sharpeyes.H265Clip
	default:
		log.Error("--codec must be h264 or h265")
		os.Exit(2)
	}
	if *udp > 0 {
		host := "127.0.0.1"
		cfg.UDPRTPAddress = fmt.Sprintf("%s:%d", host, *udp)
		cfg.UDPRTCPAddress = fmt.Sprintf("%s:%d", host, *udp+1)
	}
	fleet, err := camsim.Start(cfg)
	if err != nil {
		log.Error("start", "error", err)
		os.Exit(1)
	}
	fleet.SetRefuse(*refuse)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stallAfter > 0 {
		time.AfterFunc(*stallAfter, func() {
			for i := 1; i <= *n; i++ {
				_ = fleet.SetStalled(i, true)
			}
			log.Info("all cameras stalled")
		})
	}
	if *gbServer != "" {
		for i := 1; i <= *gbDevices; i++ {
			dev, err := camsim.StartGB(ctx, camsim.GBConfig{Server: *gbServer, ServerID: *gbServerID, Domain: *gbDomain,
				DeviceID: fmt.Sprintf("%s111%07d", *gbDomain, i), Password: *gbPassword, Channels: *gbChannels,
				Transport: *gbTransport, Keepalive: *gbKeepalive, Clip: sharpeyes.MainClip, Pan: *gbPan, Log: log})
			if err != nil {
				log.Error("gb28181 device", "error", err)
				os.Exit(1)
			}
			defer dev.Close()
		}
		log.Info("GB/T 28181 NVRs registering", "server", *gbServer, "devices", *gbDevices, "channels", *gbChannels)
	}
	log.Info("serving", "cameras", *n, "first", "rtsp://"+fleet.Addr()+"/cam1", "sub", "rtsp://"+fleet.Addr()+"/cam1/sub")
	<-ctx.Done()
	fleet.Close()
}

// runPlatform is --platform-listen: a simulated superior platform; with
// play > 0 it waits for lower's catalog, INVITEs play of its channels one
// after another (each when the one before has its first frame), holds
// them for hold, ends them and prints one JSON line: the time from each
// INVITE to its first packet and to its first whole frame, and the bytes
// received.
func runPlatform(log *slog.Logger, listen, id, pass, lower string, play int, mode string, hold, wait time.Duration, h historyAsk) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := gbplatform.StartPlatform(ctx, gbplatform.PlatformConfig{Listen: listen, ServerID: id, Password: pass, Log: log})
	if err != nil {
		return err
	}
	defer p.Close()
	log.Info("simulated superior platform listening", "addr", p.Addr(), "id", id)
	if play <= 0 {
		<-ctx.Done()
		return nil
	}
	var items []manscdp.Item
	for len(items) < play {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		items, _, _ = p.Catalog(lower)
	}
	log.Info("catalog", "channels", len(items), "inviting_in", wait)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
	}
	if h.session != "Play" {
		return playBack(ctx, log, p, lower, items[:play], mode, hold, h)
	}
	var calls []*gbplatform.PlatformCall
	var packetMS, frameMS []float64
	for _, it := range items[:play] {
		c, err := p.Play(ctx, lower, it.DeviceID, mode, io.Discard)
		if err != nil {
			return fmt.Errorf("INVITE %s: %w", it.DeviceID, err)
		}
		for end := time.Now().Add(10 * time.Second); c.FirstFrame().IsZero() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		_, _, first := c.Packets()
		packetMS = append(packetMS, float64(first.Sub(c.Invited).Microseconds())/1000)
		frameMS = append(frameMS, float64(c.FirstFrame().Sub(c.Invited).Microseconds())/1000)
		calls = append(calls, c)
	}
	log.Info("holding", "streams", len(calls), "for", hold)
	start := make([]int64, len(calls))
	for i, c := range calls {
		_, start[i], _ = c.Packets()
	}
	select {
	case <-ctx.Done():
	case <-time.After(hold):
	}
	var got int64
	for i, c := range calls {
		_, b, _ := c.Packets()
		got += b - start[i]
		_ = c.Bye(context.Background())
	}
	out, _ := json.Marshal(map[string]any{"streams": len(calls), "mode": mode, "invite_to_first_packet_ms": packetMS,
		"invite_to_first_frame_ms": frameMS, "hold_s": hold.Seconds(), "mbit_s": float64(got) * 8 / hold.Seconds() / 1e6})
	fmt.Println(string(out))
	return nil
}

// historyAsk is what --platform-play asks for when it is not live video.
type historyAsk struct {
	session      string // Playback or Download
	back, window time.Duration
	speed        int
}

// playBack is --platform-play with --platform-session Playback or
// Download: the channels' recordings of one window, all INVITEd at once
// and received until each says it was sent whole (MediaStatus 121) or
// hold is over; it prints one JSON line: how long each took, the bytes
// received and their rate.
func playBack(ctx context.Context, log *slog.Logger, p *gbplatform.Platform, lower string, items []manscdp.Item, mode string, hold time.Duration, h historyAsk) error {
	from := time.Now().Add(-h.back).Truncate(time.Second)
	to := from.Add(h.window)
	log.Info("history", "session", h.session, "from", from, "to", to, "streams", len(items))
	start := time.Now()
	calls := make([]*gbplatform.PlatformCall, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls[i], errs[i] = p.History(ctx, lower, it.DeviceID, mode, h.session, from, to, h.speed, io.Discard)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("INVITE %s %s: %w", h.session, items[i].DeviceID, err)
		}
	}
	log.Info("receiving", "streams", len(calls))
	took := make([]float64, len(calls)) // -1: not sent whole within hold
	hctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.Sent():
				took[i] = time.Since(start).Seconds()
			case <-hctx.Done():
				took[i] = -1
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	log.Info("sent whole", "streams", len(calls), "after", elapsed)
	var got int64
	for _, c := range calls {
		_, b, _ := c.Packets()
		got += b
		_ = c.Bye(context.Background())
	}
	out, _ := json.Marshal(map[string]any{"streams": len(calls), "session": h.session, "mode": mode, "window_s": h.window.Seconds(),
		"speed": h.speed, "took_s": took, "elapsed_s": elapsed.Seconds(), "bytes": got, "mbit_s": float64(got) * 8 / elapsed.Seconds() / 1e6})
	fmt.Println(string(out))
	return nil
}
