#!/bin/sh
# Re-creates the committed camera clips (run once; the outputs are committed).
# A moving test pattern with temporal noise so the encoder has real work, 4 s,
# 25 fps, IDR every 2 s (50 frames), no B-frames, SPS/PPS repeated before every
# IDR, AUD before every access unit, and x264's own info SEI removed.
set -e
cd "$(dirname "$0")"
enc() { # size profile bitrate out
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=$1:rate=25,noise=alls=12:allf=t+u" -t 4 \
    -c:v libx264 -profile:v "$2" -preset veryfast -bf 0 -g 50 -keyint_min 50 -sc_threshold 0 \
    -b:v "$3" -maxrate "$3" -bufsize "$3" -pix_fmt yuv420p \
    -x264-params "repeat-headers=1:aud=1" -bsf:v filter_units=remove_types=6 \
    -f h264 "$4"
}
enc 1280x720 high 1500k main.h264
enc 640x360 main 400k sub.h264
# H.265 for the H.265 path (2 s, 640x360, ~300 kbps, VPS/SPS/PPS before every IRAP).
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25,noise=alls=12:allf=t+u" -t 2 \
  -c:v libx265 -preset veryfast \
  -x265-params "bframes=0:keyint=50:min-keyint=50:scenecut=0:repeat-headers=1:aud=1:info=0:log-level=error" \
  -b:v 300k -pix_fmt yuv420p -f hevc h265.h265
