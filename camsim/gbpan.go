package camsim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"sharpeyes/gb28181/manscdp"
)

// Panning channels (GBConfig.Pan): each is a 1280x720 window onto a
// 2560x720 still scene (SMPTE HD bars), encoded live by ffmpeg at 25 fps,
// that a PTZ left or right moves at two pixels a second per unit of
// speed until a stop, within the scene.
const (
	panSceneW, panW, panH = 2560, 1280, 720
	panPxPerSpeed         = 2.0
)

// pan is where one channel's window stands: x at `at`, moving v px/s.
type pan struct {
	x, v float64
	at   time.Time
	gen  int           // bumped at each command: encoders restart
	wake chan struct{} // closed at each command
}

func (p *pan) pos(now time.Time) float64 {
	return min(max(p.x+p.v*now.Sub(p.at).Seconds(), 0), panSceneW-panW)
}

// panState answers channel ch's window (made at 0 on first use).
func (d *GBDevice) panState(ch int) *pan {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pans == nil {
		d.pans = map[int]*pan{}
	}
	p := d.pans[ch]
	if p == nil {
		p = &pan{at: time.Now(), wake: make(chan struct{})}
		d.pans[ch] = p
	}
	return p
}

// PanPosition answers where channel i's window's left edge is now (px).
func (d *GBDevice) PanPosition(i int) float64 {
	p := d.panState(i)
	d.mu.Lock()
	defer d.mu.Unlock()
	return p.pos(time.Now())
}

// move applies a PTZCmd to channel ch's window.
func (d *GBDevice) move(ch int, cmd string) {
	action, speed, err := manscdp.ParsePTZCmd(cmd)
	if err != nil {
		return
	}
	p := d.panState(ch)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	p.x, p.at, p.v = p.pos(now), now, 0
	switch action {
	case "left":
		p.v = -float64(speed) * panPxPerSpeed
	case "right":
		p.v = float64(speed) * panPxPerSpeed
	}
	p.gen++
	close(p.wake)
	p.wake = make(chan struct{})
}

// panUnits sends channel ch's live picture, one access unit (NAL units,
// no AUD) at a time, until ctx ends: an ffmpeg encode of the window from
// where it stands, started again at each PTZ command.
func (d *GBDevice) panUnits(ctx context.Context, ch int, out chan<- [][]byte) error {
	p := d.panState(ch)
	for ctx.Err() == nil {
		d.mu.Lock()
		x, v, wake := p.pos(time.Now()), p.v, p.wake
		d.mu.Unlock()
		ectx, cancel := context.WithCancel(ctx)
		crop := fmt.Sprintf("crop=%d:%d:'clip(%.1f+%.1f*t,0,%d)':0", panW, panH, x, v, panSceneW-panW)
		cmd := exec.CommandContext(ectx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
			"-i", fmt.Sprintf("smptehdbars=size=%dx%d:rate=25", panSceneW, panH), "-vf", crop,
			"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "25",
			"-x264-params", "aud=1:repeat-headers=1", "-pix_fmt", "yuv420p", "-f", "h264", "-")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			cancel()
			return err
		}
		if err := cmd.Start(); err != nil {
			cancel()
			return fmt.Errorf("camsim pan: ffmpeg: %w", err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			splitAUs(stdout, func(au [][]byte) bool {
				select {
				case out <- au:
					return true
				case <-ectx.Done():
					return false
				}
			})
		}()
		select {
		case <-ctx.Done():
		case <-wake: // a PTZ command: encode from the new position
		}
		cancel()
		_ = cmd.Wait()
		wg.Wait()
	}
	return ctx.Err()
}

// splitAUs reads an Annex B stream with access unit delimiters and hands
// each access unit's NAL units (the delimiter left out) to emit, until
// the stream ends or emit says stop.
func splitAUs(r io.Reader, emit func([][]byte) bool) {
	br := bufio.NewReaderSize(r, 1<<16)
	var buf []byte
	var au [][]byte
	chunk := make([]byte, 1<<16)
	flushNAL := func(nal []byte) bool {
		nal = bytes.TrimRight(nal, "\x00")
		if len(nal) == 0 {
			return true
		}
		if nal[0]&0x1F == 9 { // AUD: the unit before is whole
			if len(au) > 0 && !emit(au) {
				return false
			}
			au = nil
			return true
		}
		au = append(au, append([]byte(nil), nal...))
		return true
	}
	for {
		n, err := br.Read(chunk)
		buf = append(buf, chunk[:n]...)
		// Complete NAL units lie between two start codes.
		for {
			first := bytes.Index(buf, []byte{0, 0, 1})
			if first < 0 {
				break
			}
			next := bytes.Index(buf[first+3:], []byte{0, 0, 1})
			if next < 0 {
				buf = buf[first:]
				break
			}
			if !flushNAL(buf[first+3 : first+3+next]) {
				return
			}
			buf = buf[first+3+next:]
		}
		if err != nil {
			return
		}
	}
}
