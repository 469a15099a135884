#!/usr/bin/env bash
# Replaying a sample as fast as possible into the ring (vshm-capture --fast) next to
# FFmpeg decoding the same file to nothing (ffmpeg -f null), in the same run: the ring
# should add almost nothing to decoding. Target: >= 0.9x FFmpeg's frames/s.
# Usage: bench/capture-vs-ffmpeg.sh BUILD_DIR [SAMPLE ...]
set -euo pipefail
build=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
capture="$build/capture/vshm-capture"
[ -x "$capture" ] || { echo "capture-vs-ffmpeg: $capture not built (FFmpeg missing?)" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "capture-vs-ffmpeg: the ffmpeg program is missing" >&2; exit 1; }
[ $# -gt 0 ] || set -- "$top/samples/testsrc2-h264.mp4" "$top/samples/smptehdbars-vp9.webm" \
  "$top/samples/mandelbrot-mjpeg422.avi"
passes=10
runs=5

now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "Replaying into the ring vs decoding to nothing ($passes passes of each file, median of $runs runs)"
printf '  %-26s %8s %14s %14s %8s %s\n' sample frames "vshm frames/s" "ffmpeg frames/s" ratio verdict
for sample in "$@"; do
  frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$sample")
  total=$((frames * passes))
  ours=() theirs=()
  for _ in $(seq $runs); do
    start=$(now)
    "$capture" "$sample" --loop --frames "$total" --fast --quiet --name "bench-capture-$$"
    ours+=($(( $(now) - start )))
    start=$(now)
    ffmpeg -nostdin -loglevel error -stream_loop $((passes - 1)) -i "$sample" -f null -
    theirs+=($(( $(now) - start )))
  done
  ours_ns=$(printf '%s\n' "${ours[@]}" | median)
  theirs_ns=$(printf '%s\n' "${theirs[@]}" | median)
  awk -v s="$(basename "$sample")" -v n="$total" -v a="$ours_ns" -v b="$theirs_ns" 'BEGIN {
    fa = n * 1e9 / a; fb = n * 1e9 / b; r = fa / fb
    printf "  %-26s %8d %14.0f %14.0f %7.2fx %s\n", s, n, fa, fb, r, (r >= 0.9 ? "PASS" : "MISS") }'
done
