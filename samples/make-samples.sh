#!/usr/bin/env bash
# Makes the sample videos in samples/ from FFmpeg's synthetic sources. The results are
# committed; run this again only to change them (needs the ffmpeg program, with
# libx264 and libvpx as Debian's has). Each line below says what the sample covers.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# H.264 in MP4, 4:2:0, 320x240 at 30 fps, 4 s: the everyday file, and the pacing test.
ff -f lavfi -i testsrc2=size=320x240:rate=30:duration=4 -c:v libx264 -preset veryfast \
  -crf 26 -pix_fmt yuv420p -g 30 -bf 2 -movflags +faststart "$out/testsrc2-h264.mp4"

# VP9 in WebM, 4:2:0, 640x360 at 25 fps, 2 s, BT.709 colour tagged.
ff -f lavfi -i smptehdbars=size=640x360:rate=25:duration=2 -c:v libvpx-vp9 -b:v 300k \
  -deadline realtime -cpu-used 8 -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 \
  -color_trc bt709 "$out/smptehdbars-vp9.webm"

# MJPEG in AVI, full-range 4:2:2 (yuvj422p), 320x240 at 25 fps, 2 s.
ff -f lavfi -i mandelbrot=size=320x240:rate=25 -t 2 -c:v mjpeg -q:v 5 -pix_fmt yuvj422p \
  "$out/mandelbrot-mjpeg422.avi"

# Lossless RGB (FFV1, bgr0) in Matroska at an odd size, 317x237, 15 fps, 2 s.
ff -f lavfi -i testsrc=size=317x237:rate=15:duration=2 -c:v ffv1 -pix_fmt bgr0 \
  "$out/testsrc-odd-rgb-ffv1.mkv"

# H.264 in MPEG-TS whose resolution changes mid-stream: 1 s of 320x240, then 1 s of
# 480x270 (a new SPS in the same stream), 30 fps.
ff -f lavfi -i testsrc2=size=320x240:rate=30:duration=1 -c:v libx264 -preset veryfast \
  -crf 28 -pix_fmt yuv420p -bf 0 -mpegts_copyts 1 "$tmp/a.ts"
ff -f lavfi -i testsrc2=size=480x270:rate=30:duration=1 -c:v libx264 -preset veryfast \
  -crf 28 -pix_fmt yuv420p -bf 0 -output_ts_offset 1 "$tmp/b.ts"
cat "$tmp/a.ts" "$tmp/b.ts" >"$out/size-change-h264.ts"

ls -l "$out"/*.mp4 "$out"/*.webm "$out"/*.avi "$out"/*.mkv "$out"/*.ts
