#!/usr/bin/env bash
# Replaying 10-bit HDR video into the ring as P010 (vshm-capture --fast: decode, convert
# to P010 straight into the slot, publish) next to FFmpeg decoding the same file to
# nothing (ffmpeg -f null), in the same run. Target: >= 0.9x FFmpeg's frames/s.
#
# vshm-capture decodes in one thread on purpose (damaged files come out as
# `ffmpeg -threads 1` decodes them), so the comparison that target is about is with
# `ffmpeg -threads 1`; FFmpeg with its default threads, and FFmpeg converting to P010
# too, are shown beside it for scale.
# Usage: bench/hifi.sh BUILD_DIR [FILE ...]   (default: a 1280x720 HEVC Main 10 PQ file
# made here with FFmpeg's libx265)
set -euo pipefail
build=$1
shift
capture="$build/capture/vshm-capture"
[ -x "$capture" ] || { echo "hifi: $capture not built (FFmpeg missing?)" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "hifi: the ffmpeg program is missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -eq 0 ]; then
  ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30:duration=2 \
    -c:v libx265 -preset ultrafast -x265-params log-level=error -crf 28 -pix_fmt yuv420p10le \
    -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -tag:v hvc1 \
    "$tmp/hdr10-720p.mp4"
  set -- "$tmp/hdr10-720p.mp4"
fi
passes=5
runs=5

now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ffmpeg_null() { # THREADS PASSES FILE [OUTPUT OPTIONS]
  local threads=$1 loops=$(($2 - 1)) file=$3
  shift 3
  ffmpeg -nostdin -loglevel error -threads "$threads" -stream_loop "$loops" -i "$file" "$@" \
    -f null -
}

echo "P010 replay into the ring vs FFmpeg decoding to nothing ($passes passes, median of $runs runs;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
printf '  %-22s %7s %9s %13s %9s %13s %9s %s\n' file frames "vshm f/s" "ffmpeg -t1" ratio \
  "-t1 to p010" "ffmpeg" verdict
for file in "$@"; do
  frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$file")
  total=$((frames * passes))
  # The line that announces the stream ends "into 'NAME' (WxH FORMAT); watch it with ...".
  format=$("$capture" "$file" --frames 1 --fast --name "bench-hifi-$$" 2>&1 |
    sed -n "s/.* into 'bench-hifi-$$' ([0-9]*x[0-9]* \([a-z0-9]*\)).*/\1/p")
  [ "$format" = p010 ] || { echo "hifi: $file goes into the ring as '$format', not p010" >&2; exit 1; }
  ours=() single=() converting=() threaded=()
  for _ in $(seq $runs); do
    start=$(now)
    "$capture" "$file" --loop --frames "$total" --fast --quiet --name "bench-hifi-$$"
    ours+=($(( $(now) - start )))
    start=$(now)
    ffmpeg_null 1 $passes "$file"
    single+=($(( $(now) - start )))
    start=$(now)
    ffmpeg_null 1 $passes "$file" -pix_fmt p010le
    converting+=($(( $(now) - start )))
    start=$(now)
    ffmpeg_null 0 $passes "$file"
    threaded+=($(( $(now) - start )))
  done
  awk -v s="$(basename "$file")" -v n="$total" \
    -v a="$(printf '%s\n' "${ours[@]}" | median)" -v b="$(printf '%s\n' "${single[@]}" | median)" \
    -v c="$(printf '%s\n' "${converting[@]}" | median)" \
    -v d="$(printf '%s\n' "${threaded[@]}" | median)" 'BEGIN {
    fa = n * 1e9 / a; fb = n * 1e9 / b; fc = n * 1e9 / c; fd = n * 1e9 / d; r = fa / fb
    printf "  %-22s %7d %9.0f %13.0f %8.2fx %13.0f %9.0f %s\n", s, n, fa, fb, r, fc, fd,
      (r >= 0.9 ? "PASS" : "MISS") }'
done
