package gbplatform

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"sharpeyes/camsim"
)

// PSFrame is one video frame of received MPEG-PS as ffprobe reads it:
// its presentation time, whether it is a keyframe, and the camsim time
// stamp (SEI) it carries.
type PSFrame struct {
	PTS   time.Duration
	Key   bool
	Stamp time.Time // zero: none
}

// ReadPS reads PS the way a platform's player does, with ffprobe (each
// video packet's time and flags) and ffmpeg (the H.264 it carries, for
// the SEI time stamps: one a frame, as camsim writes them). An error
// when ffprobe cannot read it or the two disagree on the frames.
func ReadPS(ctx context.Context, body []byte) ([]PSFrame, error) {
	dir, err := os.MkdirTemp("", "gbplatform-ps")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "received.ps")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-f", "mpeg", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe cannot read the PS: %w", err)
	}
	var frames []PSFrame
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 2 {
			continue
		}
		pts, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue // a packet with no time
		}
		frames = append(frames, PSFrame{PTS: time.Duration(pts * float64(time.Second)), Key: strings.HasPrefix(f[1], "K")})
	}
	annexb, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "mpeg", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "h264", "-").Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg cannot read the PS: %w", err)
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(annexb); err != nil {
		return nil, fmt.Errorf("the PS's H.264: %w", err)
	}
	var stamps []time.Time
	for _, n := range nalus {
		if at, ok := camsim.ParseTimestampSEI(n); ok {
			stamps = append(stamps, at)
		}
	}
	if len(stamps) > 0 && len(stamps) != len(frames) {
		return nil, fmt.Errorf("ffprobe reads %d frames, the H.264 holds %d time stamps", len(frames), len(stamps))
	}
	for i := range stamps {
		frames[i].Stamp = stamps[i]
	}
	return frames, nil
}
