package api

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics answers /metrics: every camera to a scraper that sees the whole
// street, only its cameras to one limited to some cells.
func (s *Server) metrics(c *gin.Context) {
	p := principal(c)
	reg := prometheus.NewRegistry()
	coll := &collector{pulls: s.pulls, whep: s.whep, csp: s.csps.count, rec: s.rec}
	if !p.Where.All {
		coll.sees = func(id string) bool {
			_, ok := s.visibleCamera(p, id)
			return ok
		}
	}
	if s.health != nil {
		coll.grids = func() ([]gridGauge, error) {
			ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
			defer cancel()
			return s.gridGauges(ctx, p)
		}
	}
	reg.MustRegister(coll)
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}

// collector reads per-camera figures at scrape time: no goroutines, no
// state to keep in step with cameras coming and going.
type collector struct {
	pulls Pulls
	whep  WHEPServer
	csp   func() uint64
	rec   Recordings // nil: none
	// sees keeps the cameras of the scraper's jurisdiction (nil: all).
	sees func(cameraID string) bool
	// grids are the cells' online rates (nil: no health history).
	grids func() ([]gridGauge, error)
}

var (
	descState      = prometheus.NewDesc("sharpeyes_camera_up", "1 when the camera is online (its stream, or its last probe for a camera nobody pulls), 0 when offline; absent while unknown.", []string{"camera", "stream"}, nil)
	descGridRate   = prometheus.NewDesc("sharpeyes_grid_online_rate", "Today's online rate of the cameras in the grid cell and below it: the share of known camera-time online (street time zone).", []string{"grid"}, nil)
	descGridCams   = prometheus.NewDesc("sharpeyes_grid_cameras", "Cameras in the grid cell and below it, by their last recorded health.", []string{"grid", "state"}, nil)
	descGridErr    = prometheus.NewDesc("sharpeyes_grid_online_rate_error", "1 when the health history could not be read for this scrape.", nil, nil)
	descBitrate    = prometheus.NewDesc("sharpeyes_camera_bitrate_bits_per_second", "Bitrate received from the camera.", []string{"camera", "stream"}, nil)
	descFPS        = prometheus.NewDesc("sharpeyes_camera_fps", "Video frames per second received from the camera.", []string{"camera", "stream"}, nil)
	descViewers    = prometheus.NewDesc("sharpeyes_camera_viewers", "Readers (WebRTC and RTSP) of the camera stream.", []string{"camera", "stream"}, nil)
	descReconnects = prometheus.NewDesc("sharpeyes_camera_reconnects_total", "Reconnections to the camera since its pull started.", []string{"camera", "stream"}, nil)
	descDropped    = prometheus.NewDesc("sharpeyes_camera_dropped_frames_total", "Frames skipped for viewers that fell behind.", []string{"camera", "stream"}, nil)
	descFrames     = prometheus.NewDesc("sharpeyes_camera_frames_total", "Units received from the camera since its pull started.", []string{"camera", "stream"}, nil)
	descReceived   = prometheus.NewDesc("sharpeyes_camera_received_bytes_total", "Media bytes (video and audio) received from the camera since its pull started.", []string{"camera", "stream"}, nil)
	descRecording  = prometheus.NewDesc("sharpeyes_recording_cameras", "Cameras this node is recording now.", nil, nil)
	descWritten    = prometheus.NewDesc("sharpeyes_recording_written_bytes_total", "Bytes of footage this node has written to segments since it started.", nil, nil)
	descFull       = prometheus.NewDesc("sharpeyes_recording_storage_full", "1 while recording is paused because only footage held as evidence is left to delete.", nil, nil)
	descSessions   = prometheus.NewDesc("sharpeyes_webrtc_sessions", "Open WebRTC (WHEP) sessions.", nil, nil)
	descSendCalls  = prometheus.NewDesc("sharpeyes_webrtc_batched_send_calls_total", "System calls that sent batched (UDP GSO) video packets.", nil, nil)
	descSendPkts   = prometheus.NewDesc("sharpeyes_webrtc_batched_packets_total", "Video packets sent through batched (UDP GSO) calls.", nil, nil)
	descResends    = prometheus.NewDesc("sharpeyes_webrtc_nack_retransmits_total", "Packets resent in answer to viewers' NACKs.", nil, nil)
	descReaped     = prometheus.NewDesc("sharpeyes_webrtc_sessions_reaped_total", "Viewer sessions ended because the viewer fell silent (no DELETE: out of coverage, tab closed).", nil, nil)
	descCSP        = prometheus.NewDesc("sharpeyes_csp_violations_total", "Content-Security-Policy violations reported by browsers (a page element the policy blocked).", nil, nil)
	descSealed     = prometheus.NewDesc("sharpeyes_webrtc_srtp_sessions_total", "UDP viewer sessions by who sealed their SRTP: the gateway itself, or pion (its keys could not be checked).", []string{"sealer"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descBitrate, descFPS, descViewers, descReconnects, descDropped, descFrames, descReceived, descRecording, descWritten, descFull, descSessions, descSendCalls, descSendPkts, descResends, descReaped, descSealed, descCSP, descGridRate, descGridCams, descGridErr} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	pulled := map[string]bool{}
	for _, p := range c.pulls.Pulls() {
		pulled[p.Camera] = true
		if c.sees != nil && !c.sees(p.Camera) {
			continue
		}
		up := 0.0
		if p.Status.State == "online" {
			up = 1
		}
		l := []string{p.Camera, p.Variant}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, up, l...)
		ch <- prometheus.MustNewConstMetric(descBitrate, prometheus.GaugeValue, float64(p.Status.Bitrate), l...)
		ch <- prometheus.MustNewConstMetric(descFPS, prometheus.GaugeValue, p.Status.FPS, l...)
		ch <- prometheus.MustNewConstMetric(descViewers, prometheus.GaugeValue, float64(p.Relay.Readers), l...)
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(p.Status.Reconnects), l...)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(p.Relay.Dropped), l...)
		ch <- prometheus.MustNewConstMetric(descFrames, prometheus.CounterValue, float64(p.Relay.Units), l...)
		ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(p.Status.Bytes), l...)
	}
	// A camera nobody pulls that is known to be down (its GB/T 28181
	// device unregistered, its channel off) is down here too.
	for _, id := range c.pulls.IDs() {
		if pulled[id] || c.sees != nil && !c.sees(id) {
			continue
		}
		st, err := c.pulls.Status(id)
		switch {
		case err != nil:
		case st.State == "offline":
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 0, id, "main")
		case st.State == "online": // its last probe (or its GB device) says so
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, id, "main")
		}
	}
	if c.grids != nil {
		gs, err := c.grids()
		failed := 0.0
		if err != nil {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(descGridErr, prometheus.GaugeValue, failed)
		for _, g := range gs {
			if g.known {
				ch <- prometheus.MustNewConstMetric(descGridRate, prometheus.GaugeValue, g.rate, g.grid)
			}
			ch <- prometheus.MustNewConstMetric(descGridCams, prometheus.GaugeValue, float64(g.online), g.grid, "online")
			ch <- prometheus.MustNewConstMetric(descGridCams, prometheus.GaugeValue, float64(g.offline), g.grid, "offline")
			ch <- prometheus.MustNewConstMetric(descGridCams, prometheus.GaugeValue, float64(g.unknown), g.grid, "unknown")
		}
	}
	if c.rec != nil && c.sees == nil { // the node's figures: for a scraper of the whole street
		full := 0.0
		if c.rec.StorageFull() {
			full = 1
		}
		ch <- prometheus.MustNewConstMetric(descRecording, prometheus.GaugeValue, float64(len(c.rec.Recording())))
		ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(c.rec.Written()))
		ch <- prometheus.MustNewConstMetric(descFull, prometheus.GaugeValue, full)
	}
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(c.whep.Sessions("")))
	calls, pkts := c.whep.SendStats()
	ch <- prometheus.MustNewConstMetric(descSendCalls, prometheus.CounterValue, float64(calls))
	ch <- prometheus.MustNewConstMetric(descSendPkts, prometheus.CounterValue, float64(pkts))
	ch <- prometheus.MustNewConstMetric(descResends, prometheus.CounterValue, float64(c.whep.Retransmits()))
	ch <- prometheus.MustNewConstMetric(descReaped, prometheus.CounterValue, float64(c.whep.Reaped()))
	ch <- prometheus.MustNewConstMetric(descCSP, prometheus.CounterValue, float64(c.csp()))
	own, pion := c.whep.SRTPSealed()
	ch <- prometheus.MustNewConstMetric(descSealed, prometheus.CounterValue, float64(own), "gateway")
	ch <- prometheus.MustNewConstMetric(descSealed, prometheus.CounterValue, float64(pion), "pion")
}
