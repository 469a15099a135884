#!/usr/bin/env bash
# vshmsink -> vshmsrc next to GStreamer's own shmsink -> shmsrc, on the same pipelines in
# the same run, each pair as two processes (gst/bench/gst-bench.c runs each side):
#  - throughput: videotestsrc as fast as it goes into the sink, the source into fakesink;
#    frames per second reaching fakesink, and the reading process's CPU time per frame
#    (the source, fakesink and the counting probe; the same for both pairs). 1080p NV12,
#    1080p RGBA, 2160p NV12. vshmsrc both ways: copy=true (a copy out of the ring,
#    checked intact) and copy=false (the slot itself, as shmsrc does).
#  - latency: a live 100 fps 1080p NV12 source; the writer stamps CLOCK_MONOTONIC into
#    each buffer just before the sink takes it, the reader compares at fakesink.
#  - what copy=false costs the writer: a 3-slot vshmsink at full speed while two
#    readers hold each frame 2 ms downstream; the writer's overwrites (slots it had to
#    take from a reader) with copy=true and with copy=false.
# shmsink/shmsrc are in gstreamer1.0-plugins-bad; without them only vshm is measured.
# Usage: bench/gstreamer.sh BUILD_DIR
set -euo pipefail
build=$1
bench="$build/gst/vshm-gst-bench"
[ -x "$bench" ] || { echo "gstreamer.sh: $bench is not built" >&2; exit 1; }
export GST_PLUGIN_PATH="$build/gst"
registry=$(mktemp -d)
export GST_REGISTRY="$registry/registry.bin"
socket="$registry/shm-socket"
name="bench-gst-$$"
writer=""
cleanup() {
  stop_writer
  rm -rf "$registry"
}
trap cleanup EXIT
have_shm=yes
gst-inspect-1.0 shmsink >/dev/null 2>&1 || have_shm=no

# stop_writer: SIGINT, then SIGKILL if it has not ended within 5 s.
stop_writer() {
  [ -n "$writer" ] || return 0
  kill -INT "$writer" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$writer" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  writer=""
  rm -f "$socket"
}

# run_once WRITER_PIPELINE READER_PIPELINE [reader options...]: the reader's line.
run_once() {
  local write=$1 read=$2
  shift 2
  "$bench" write $STAMP "$write" &
  writer=$!
  # shmsrc does not wait for its socket: give shmsink the time to make it.
  if [[ $write == *shmsink* ]]; then
    for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
  fi
  timeout 60 "$bench" read "$@" "$read" || echo failed
  stop_writer
}

# run_pair ...: the run with the median fps of three (the machine may be shared).
run_pair() {
  local lines=() line
  for _ in 1 2 3; do lines+=("$(run_once "$@")"); done
  for line in "${lines[@]}"; do echo "$(field fps "$line") $line"; done | sort -n | sed -n '2s/^[^ ]* //p'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "GStreamer: vshmsink -> vshmsrc vs shmsink -> shmsrc (two processes, same run)"
printf '  %-12s %-22s %10s %14s\n' case pair fps "reader CPU/frame"
STAMP=""
for spec in "NV12 1920 1080" "RGBA 1920 1080" "NV12 3840 2160"; do
  read -r format width height <<<"$spec"
  caps="video/x-raw,format=$format,width=$width,height=$height,framerate=1000/1"
  source="videotestsrc pattern=smpte ! $caps"
  label="${height}p $format"
  shm_line=""
  if [ $have_shm = yes ]; then
    shm_line=$(run_pair "$source ! shmsink name=out socket-path=$socket wait-for-connection=true sync=false" \
      "shmsrc socket-path=$socket is-live=true ! $caps ! fakesink name=in sync=false")
    printf '  %-12s %-22s %10s %11s us\n' "$label" "shmsink -> shmsrc" \
      "$(field fps "$shm_line")" "$(field cpu_us_per_frame "$shm_line")"
  fi
  for copy in true false; do
    line=$(run_pair "$source ! vshmsink name=out stream-name=$name sync=false" \
      "vshmsrc stream-name=$name copy=$copy ! fakesink name=in sync=false")
    ratio=""
    if [ -n "$shm_line" ]; then
      ratio=$(awk -v a="$(field fps "$line")" -v b="$(field fps "$shm_line")" \
        -v c="$(field cpu_us_per_frame "$line")" -v d="$(field cpu_us_per_frame "$shm_line")" \
        'BEGIN { if (b > 0 && d > 0) printf "  (fps %.2fx, CPU %.2fx of shm)", a / b, c / d }')
    fi
    printf '  %-12s %-22s %10s %11s us%s\n' "$label" "vshm copy=$copy" \
      "$(field fps "$line")" "$(field cpu_us_per_frame "$line")" "$ratio"
  done
done

echo
echo "Publish-to-observe latency, live 1080p NV12 at 100 fps (stamp before the sink -> fakesink)"
printf '  %-22s %10s %10s\n' pair "p50" "p99"
STAMP="--stamp"
caps="video/x-raw,format=NV12,width=1920,height=1080,framerate=100/1"
source="videotestsrc is-live=true pattern=smpte ! $caps"
shm_line=""
if [ $have_shm = yes ]; then
  shm_line=$(run_pair "$source ! shmsink name=out socket-path=$socket wait-for-connection=true sync=false" \
    "shmsrc socket-path=$socket is-live=true ! $caps ! fakesink name=in sync=false" --frames 500 --warmup 50)
  printf '  %-22s %7s us %7s us\n' "shmsink -> shmsrc" "$(field latency_p50_us "$shm_line")" \
    "$(field latency_p99_us "$shm_line")"
fi
for copy in true false; do
  line=$(run_pair "$source ! vshmsink name=out stream-name=$name sync=false" \
    "vshmsrc stream-name=$name copy=$copy ! fakesink name=in sync=false" --frames 500 --warmup 50)
  ratio=""
  if [ -n "$shm_line" ]; then
    ratio=$(awk -v a="$(field latency_p50_us "$line")" -v b="$(field latency_p50_us "$shm_line")" \
      -v c="$(field latency_p99_us "$line")" -v d="$(field latency_p99_us "$shm_line")" \
      'BEGIN { if (b > 0 && d > 0) printf "  (p50 %.2fx, p99 %.2fx of shm)", a / b, c / d }')
  fi
  printf '  %-22s %7s us %7s us%s\n' "vshm copy=$copy" "$(field latency_p50_us "$line")" \
    "$(field latency_p99_us "$line")" "$ratio"
done

echo
echo "What copy=false costs the writer: 3 slots, 1080p NV12 at full speed, two readers"
echo "that each hold every frame 2 ms downstream; slots the writer had to take from them"
STAMP=""
caps="video/x-raw,format=NV12,width=1920,height=1080,framerate=1000/1"
for copy in true false; do
  "$bench" write "videotestsrc pattern=smpte ! $caps ! vshmsink name=out stream-name=$name slots=3 sync=false" &
  writer=$!
  "$bench" read --frames 300 --warmup 30 \
    "vshmsrc stream-name=$name copy=$copy ! identity sleep-time=2000 ! fakesink name=in sync=false" \
    >/dev/null &
  other=$!
  line=$(timeout 60 "$bench" read --frames 300 --warmup 30 --stream "$name" \
    "vshmsrc stream-name=$name copy=$copy ! identity sleep-time=2000 ! fakesink name=in sync=false") || line=failed
  wait "$other" 2>/dev/null || true
  stop_writer
  printf '  copy=%-6s %8s overwrites while one reader took 300 frames (%s fps)\n' "$copy" \
    "$(field overwrites "$line")" "$(field fps "$line")"
done
