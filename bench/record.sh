#!/usr/bin/env bash
# vshm-record next to FFmpeg, in the same run:
#   1. encode CPU per frame, the 1080p test pattern with x264 veryfast: vshm-record
#      reading the frames in the ring, against `ffmpeg -f rawvideo -i pipe:` encoding
#      the very same frames with the same settings, fed through a pipe (target <= 1.0x);
#   2. glass-to-glass latency over loopback SRT at 720p30: the pattern's capture time
#      at the sender to its publication at the receiver, one clock on one machine (p50
#      and p99; target p50 <= 3 frame intervals with --low-latency, the default for
#      network outputs), with SRT's receive latency at 20 ms (loopback) and at its
#      default of 120 ms; the receiver is vshm-capture, and for reference FFmpeg set for
#      low latency, piping its frames into a stream (what the link itself allows).
# Usage: bench/record.sh BUILD_DIR
set -euo pipefail
build=$1
capture="$build/capture/vshm-capture"
record="$build/record/vshm-record"
cpu_of="$build/bench/vshm-cpu-of"
to_pipe="$build/bench/vshm-stream-to-pipe"
probe="$build/bench/vshm-glass-to-glass"
from_pipe="$build/bench/vshm-pipe-to-stream"
for program in "$capture" "$record" "$cpu_of" "$to_pipe" "$probe" "$from_pipe"; do
  [ -x "$program" ] || { echo "record.sh: $program is not built" >&2; exit 1; }
done
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null ||
  { echo "record.sh: the ffmpeg and ffprobe programs are missing (package ffmpeg)" >&2; exit 1; }

frames=240
runs=3
work=$(mktemp -d /tmp/vshm-bench-record.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT

count_frames() {
  ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$1"
}

# The pattern as fast as the slowest lossless reader takes it, from the moment that
# reader is there (a reader that came after a short pattern had ended would wait for
# nothing), and a few frames more than are encoded.
pattern() {
  "$capture" test --size "$1" --fps 30 --fast --wait-readers 1 --frames $((frames + 60)) \
    --name "$2" --quiet
}

read -r load1 load5 _ < /proc/loadavg
echo "vshm-record against ffmpeg (load average $load1 / $load5 on $(nproc) cores: other work"
echo "shares this machine, and the figures move with it; compare the ratios)"
echo
echo "Encode CPU per frame, 1920x1080 I420 test pattern, libx264 veryfast, GOP 60,"
echo "$frames frames, $runs runs"
printf '  %-5s %16s %16s %8s %s\n' run "vshm-record" "ffmpeg pipe:" ratio verdict
ratios=()
for run in $(seq $runs); do
  name="bench-record-$$-$run"
  "$cpu_of" "$work/cpu-vshm" "$record" "$name" "$work/vshm.mp4" --frames "$frames" --lossless \
    --preset veryfast --gop 60 --overwrite --quiet &
  pids+=($!)
  pattern 1920x1080 "$name"
  wait "${pids[-1]}"
  pids=()
  "$to_pipe" "$name.pipe" "$frames" |
    "$cpu_of" "$work/cpu-ffmpeg" ffmpeg -nostdin -loglevel error -f rawvideo -pix_fmt yuv420p \
      -s 1920x1080 -r 30 -i pipe: -c:v libx264 -preset veryfast -g 60 -y "$work/ffmpeg.mp4" &
  pids+=($!)
  pattern 1920x1080 "$name.pipe"
  wait "${pids[-1]}"
  pids=()
  ours=$(count_frames "$work/vshm.mp4")
  theirs=$(count_frames "$work/ffmpeg.mp4")
  ratio=$(awk -v a="$(cat "$work/cpu-vshm")" -v n="$ours" -v b="$(cat "$work/cpu-ffmpeg")" \
    -v m="$theirs" 'BEGIN { printf "%.2f", (a / n) / (b / m) }')
  ratios+=("$ratio")
  awk -v run="$run" -v a="$(cat "$work/cpu-vshm")" -v n="$ours" -v b="$(cat "$work/cpu-ffmpeg")" \
    -v m="$theirs" -v r="$ratio" 'BEGIN {
      printf "  %-5s %10.2f ms (%d) %9.2f ms (%d) %7.2fx %s\n", run, a / n * 1e3, n,
        b / m * 1e3, m, r, (r <= 1.0 ? "PASS" : "MISS") }'
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "  median ratio ${median}x (target <= 1.0x: vshm-record copies each frame out of its slot"
echo "  once, as x264 keeps frames; ffmpeg gets it through a pipe, a copy in and one out; x264"
echo "  then copies it into its own buffers in both)"

echo
echo "Glass-to-glass over loopback SRT, 1280x720 test pattern at 30 fps (33.3 ms a frame):"
echo "vshm-capture test -> vshm-record srt://...?mode=listener -> receiver -> a stream;"
echo "300 frames matched by the number drawn in them. Receivers: vshm-capture srt://...,"
echo "and for reference FFmpeg set for low latency (-fflags nobuffer -flags low_delay"
echo "-probesize 32 -analyzeduration 0 -threads 1) piping frames into a stream as they come"
printf '  %-34s %10s %10s %8s %s\n' "receiver, SRT receive latency" p50 p99 "frames" verdict
for receiver in vshm-capture ffmpeg; do
  for latency in 20000 default; do
    name="bench-g2g-$$-$receiver-$latency"
    port=$((20000 + RANDOM % 20000))
    options=""
    [ "$latency" != default ] && options="&latency=$latency"
    "$capture" test --size 1280x720 --fps 30 --name "$name" --quiet &
    pids+=($!)
    "$record" "$name" "srt://127.0.0.1:$port?mode=listener$options" --quiet &
    pids+=($!)
    sleep 0.5
    url="srt://127.0.0.1:$port?mode=caller$options"
    if [ "$receiver" = vshm-capture ]; then
      "$capture" "$url" --name "$name.remote" --quiet &
      pids+=($!)
    else
      ffmpeg -nostdin -loglevel fatal -fflags nobuffer -flags low_delay -probesize 32 \
        -analyzeduration 0 -threads 1 -i "$url" -fps_mode passthrough -pix_fmt yuv420p \
        -f rawvideo pipe:1 | "$from_pipe" "$name.remote" 1280x720 &
      pids+=($!)
    fi
    # The first seconds are the receiver starting (probing the stream): not measured.
    sleep 2
    label="$receiver, ${latency} us"
    [ "$latency" = default ] && label="$receiver, default (120 ms)"
    if read -r count p50 p99 < <("$probe" "$name" "$name.remote" 300); then
      awk -v l="$label" -v a="$p50" -v b="$p99" 'BEGIN {
        f = a / 33333.3
        printf "  %-34s %7.1f ms %7.1f ms %8.1f %s\n", l, a / 1e3, b / 1e3, f, (f <= 3 ? "PASS" : "MISS") }'
    else
      echo "  $label: no frame went through"
    fi
    cleanup
  done
done
echo "  (target: p50 <= 3 frame intervals; the sender encodes and sends a frame within a few"
echo "  ms of its capture, the rest is the link and the receiving side)"
