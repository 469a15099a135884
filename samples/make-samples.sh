#!/usr/bin/env bash
# Makes the sample videos in samples/ from FFmpeg's synthetic sources. The results are
# committed; run this again only to change them (needs the ffmpeg program, with
# libx264, libx265 and libvpx as Debian's has, and python3). Each line below says what
# the sample covers.
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

# Video as phones and cameras shoot it (each 1 s, small):
# Portrait phone video: the picture stored sideways, 320x180, and the MP4 track's display
# matrix saying how to turn it upright (180x320, the clock at the top left). FFmpeg 5.1
# writes a turn with -metadata:s:v:0 rotate=N on a stream copy: rotate=90 is read back
# as "turn 90 degrees anticlockwise", so the picture is stored turned clockwise.
portrait() { # ROTATE TRANSPOSE OUTPUT
  ff -f lavfi -i testsrc2=size=180x320:rate=30:duration=1 -vf "transpose=$2" -c:v libx264 \
    -preset veryfast -crf 26 -pix_fmt yuv420p -g 30 -bf 2 "$tmp/stored.mp4"
  ff -i "$tmp/stored.mp4" -c copy -metadata:s:v:0 rotate="$1" "$3"
}
portrait 90 clock "$out/portrait-rot90-h264.mp4"
portrait 270 cclock "$out/portrait-rot270-h264.mp4"
# A mirror image (a selfie camera's): stored mirrored left to right, and a display matrix
# that mirrors it back. FFmpeg 5.1 cannot write a mirroring matrix, so display-matrix.py
# sets the track header's matrix (ISO/IEC 14496-12) in the file FFmpeg made.
ff -f lavfi -i testsrc2=size=320x180:rate=30:duration=1 -vf hflip -c:v libx264 -preset veryfast \
  -crf 26 -pix_fmt yuv420p -g 30 -bf 2 "$out/mirrored-h264.mp4"
python3 "$out/display-matrix.py" "$out/mirrored-h264.mp4" hflip
# Every display matrix must be there as FFmpeg reads it, or the tests prove nothing.
for sample in portrait-rot90-h264.mp4:90 portrait-rot270-h264.mp4:-90 mirrored-h264.mp4:-180; do
  ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 \
    "$out/${sample%%:*}" | grep -qx -- "${sample##*:}" ||
    { echo "make-samples: ${sample%%:*} lacks its display matrix" >&2; exit 1; }
done
# Anamorphic video: 16:9 pictures squeezed into 180x180 (sample aspect 16:9, in MP4) and
# into 240x180 (4:3, in Matroska); both are meant to be shown 320x180.
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -vf scale=180:180,setsar=16/9 \
  -c:v libx264 -preset veryfast -crf 26 -pix_fmt yuv420p "$out/anamorphic-16-9-h264.mp4"
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -vf scale=240:180,setsar=4/3 \
  -c:v libx264 -preset veryfast -crf 26 -pix_fmt yuv420p "$out/anamorphic-4-3-h264.mkv"
# HDR: HEVC 10-bit, BT.2020 with PQ (HDR10); VP9 profile 2 10-bit, BT.2020 with HLG.
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v libx265 -preset ultrafast \
  -x265-params log-level=error -crf 28 -pix_fmt yuv420p10le -color_primaries bt2020 \
  -color_trc smpte2084 -colorspace bt2020nc -tag:v hvc1 "$out/hdr10-pq-hevc.mp4"
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v libvpx-vp9 -profile:v 2 \
  -b:v 200k -deadline realtime -cpu-used 8 -pix_fmt yuv420p10le -color_primaries bt2020 \
  -color_trc arib-std-b67 -colorspace bt2020nc "$out/hlg-vp9-10bit.webm"
# H.264 High 4:4:4: full chroma.
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v libx264 -preset veryfast -crf 26 \
  -pix_fmt yuv444p -profile:v high444 "$out/testsrc2-h264-444.mp4"

ls -l "$out"/*.mp4 "$out"/*.webm "$out"/*.avi "$out"/*.mkv "$out"/*.ts
