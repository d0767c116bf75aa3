// Command camsim serves a fleet of simulated RTSP cameras:
// rtsp://HOST/cam1 … camN (1280x720) and …/camK/sub (640x360), H.264 25 fps.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sharpeyes"
	"sharpeyes/camsim"
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
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
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
	log.Info("serving", "cameras", *n, "first", "rtsp://"+fleet.Addr()+"/cam1", "sub", "rtsp://"+fleet.Addr()+"/cam1/sub")
	<-ctx.Done()
	fleet.Close()
}
