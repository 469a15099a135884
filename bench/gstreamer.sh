#!/usr/bin/env bash
# vshmsink -> vshmsrc next to GStreamer's own shmsink -> shmsrc, on the same pipelines in
# the same run, each pair as two processes (gst/bench/gst-bench.c runs each side):
#  - throughput: videotestsrc as fast as it goes into the sink, the source into fakesink;
#    frames per second reaching fakesink, and the reading process's CPU time per frame
#    (the source, fakesink and the counting probe; the same for both pairs). 1080p NV12,
#    1080p RGBA, 2160p NV12. vshmsrc both ways: copy=true (a copy out of the ring,
#    checked intact) and copy=false (the slot itself, as shmsrc does). For scale, the
#    same stream read by libvshm alone (vshm-gst-bench bare: wait, acquire, release, no
#    GStreamer), measured the same way: the cost of waking a sleeping reader here.
#  - latency: a live 100 fps 1080p NV12 source; the writer stamps CLOCK_MONOTONIC into
#    each buffer just before the sink takes it, the reader compares at fakesink. For
#    scale, a bare futex wake-up of a process asleep 1/60 s (vshm-bench --futex),
#    measured in the same run: what any reader that sleeps between frames pays.
#  - what copy=false costs the writer: a 3-slot vshmsink at full speed while two
#    readers hold each frame 2 ms downstream; the writer's overwrites (slots it had to
#    take from a reader) with copy=true and with copy=false.
# Every pair runs $GST_ROUNDS times (5 unless set), in rounds that take the pairs in turn
# (a shared machine's load then weighs on each pair alike), and each figure is the
# median of its runs. Five, not three: this 2-CPU VM runs the same pipeline at one of
# two speeds from one run to the next (97 or 147 f/s at 2160p, for either pair), and a
# median of three often reported whichever speed a pair happened to meet.
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
rounds=${GST_ROUNDS:-5}
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

# run_once MODE WRITER_PIPELINE READER [reader options...]: the reader's line. MODE is
# read (READER is a pipeline) or bare (READER is a vshm stream, read by libvshm alone).
run_once() {
  local mode=$1 write=$2 read=$3
  shift 3
  "$bench" write ${STAMP:+"$STAMP"} "$write" &
  writer=$!
  # shmsrc does not wait for its socket: give shmsink the time to make it.
  if [[ $write == *shmsink* ]]; then
    for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
  fi
  timeout 60 "$bench" "$mode" "$@" "$read" || echo failed
  stop_writer
}

# Each pair measured: its writer and reader pipelines, reader options and reader mode
# (read unless set), by key.
declare -A write_of read_of opts_of mode_of result_of

# run_pairs KEY...: runs each pair $rounds times, in rounds that take every pair in turn,
# so that a change in the machine's load (it may be shared) meets every pair alike
# rather than one pair's runs. result_of[KEY] holds, for each figure, its median over
# the runs (a failed run counts as 0).
run_pairs() {
  local key name round
  local -A lines=()
  for ((round = 0; round < rounds; round++)); do
    for key in "$@"; do
      # shellcheck disable=SC2086
      lines[$key]+="$(run_once "${mode_of[$key]:-read}" "${write_of[$key]}" "${read_of[$key]}" ${opts_of[$key]:-})"$'\n'
    done
  done
  for key in "$@"; do
    result_of[$key]=""
    for name in fps cpu_us_per_frame latency_p50_us latency_p99_us; do
      result_of[$key]+="$name=$(median "$name" "${lines[$key]}") "
    done
  done
}
# median NAME LINES: the median of the runs' NAME, a run without it counting as 0
# (empty if no run has it).
median() {
  local line value values="" found=no
  while read -r line; do
    [ -n "$line" ] || continue
    value=$(field "$1" "$line")
    [ -z "$value" ] || found=yes
    values+="${value:-0}"$'\n'
  done <<<"$2"
  [ $found = no ] || sort -n <<<"${values%$'\n'}" | sed -n "$(((rounds + 1) / 2))p"
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
  write_of[shm]="$source ! shmsink name=out socket-path=$socket wait-for-connection=true sync=false"
  read_of[shm]="shmsrc socket-path=$socket is-live=true ! $caps ! fakesink name=in sync=false"
  for copy in true false; do
    write_of[$copy]="$source ! vshmsink name=out stream-name=$name sync=false"
    read_of[$copy]="vshmsrc stream-name=$name copy=$copy ! fakesink name=in sync=false"
  done
  write_of[bare]="$source ! vshmsink name=out stream-name=$name sync=false"
  read_of[bare]=$name
  mode_of[bare]=bare
  shm_line=""
  if [ $have_shm = yes ]; then
    run_pairs shm true false bare
    shm_line=${result_of[shm]}
    printf '  %-12s %-22s %10s %11s us\n' "$label" "shmsink -> shmsrc" \
      "$(field fps "$shm_line")" "$(field cpu_us_per_frame "$shm_line")"
  else
    run_pairs true false bare
  fi
  for copy in true false bare; do
    line=${result_of[$copy]}
    ratio=""
    if [ -n "$shm_line" ]; then
      ratio=$(awk -v a="$(field fps "$line")" -v b="$(field fps "$shm_line")" \
        -v c="$(field cpu_us_per_frame "$line")" -v d="$(field cpu_us_per_frame "$shm_line")" \
        'BEGIN { if (b > 0 && d > 0) printf "  (fps %.2fx, CPU %.2fx of shm)", a / b, c / d }')
    fi
    pair="vshm copy=$copy"
    [ "$copy" != bare ] || pair="libvshm reader alone"
    printf '  %-12s %-22s %10s %11s us%s\n' "$label" "$pair" \
      "$(field fps "$line")" "$(field cpu_us_per_frame "$line")" "$ratio"
  done
done
echo "  (libvshm reader alone: vshmsink's stream read by a C loop of wait, acquire and"
echo "  release, no GStreamer: what a reader that sleeps between frames costs here, for"
echo "  scale; vshmsrc copy=false adds GStreamer's per-buffer path to it)"

echo
echo "Publish-to-observe latency, live 1080p NV12 at 100 fps (stamp before the sink -> fakesink)"
printf '  %-22s %10s %10s\n' pair "p50" "p99"
STAMP="--stamp"
caps="video/x-raw,format=NV12,width=1920,height=1080,framerate=100/1"
source="videotestsrc is-live=true pattern=smpte ! $caps"
write_of[shm]="$source ! shmsink name=out socket-path=$socket wait-for-connection=true sync=false"
read_of[shm]="shmsrc socket-path=$socket is-live=true ! $caps ! fakesink name=in sync=false"
opts_of[shm]="--frames 500 --warmup 50"
for copy in true false; do
  write_of[$copy]="$source ! vshmsink name=out stream-name=$name sync=false"
  read_of[$copy]="vshmsrc stream-name=$name copy=$copy ! fakesink name=in sync=false"
  opts_of[$copy]="--frames 500 --warmup 50"
done
shm_line=""
if [ $have_shm = yes ]; then
  run_pairs shm true false
  shm_line=${result_of[shm]}
  printf '  %-22s %7s us %7s us\n' "shmsink -> shmsrc" "$(field latency_p50_us "$shm_line")" \
    "$(field latency_p99_us "$shm_line")"
else
  run_pairs true false
fi
for copy in true false; do
  line=${result_of[$copy]}
  ratio=""
  if [ -n "$shm_line" ]; then
    ratio=$(awk -v a="$(field latency_p50_us "$line")" -v b="$(field latency_p50_us "$shm_line")" \
      -v c="$(field latency_p99_us "$line")" -v d="$(field latency_p99_us "$shm_line")" \
      'BEGIN { if (b > 0 && d > 0) printf "  (p50 %.2fx, p99 %.2fx of shm)", a / b, c / d }')
  fi
  printf '  %-22s %7s us %7s us%s\n' "vshm copy=$copy" "$(field latency_p50_us "$line")" \
    "$(field latency_p99_us "$line")" "$ratio"
done
# For scale, measured now: what waking a process that sleeps between frames costs on
# its own, a bare futex wake-up of a process asleep 1/60 s. Both pairs pay a wake-up.
limits="$build/bench/vshm-bench"
if [ -x "$limits" ] && read -r _ _ idle_ns _ < <("$limits" --futex); then
  line=${result_of[false]}
  awk -v i="$idle_ns" -v v="$(field latency_p50_us "$line")" -v s="$(field latency_p50_us "$shm_line")" 'BEGIN {
    printf "  for scale: a bare futex wake-up of a process asleep 1/60 s, one way, p50: %.1f us", i / 1e3
    if (v > 0) printf " (vshm copy=false p50 %.2fx it", v * 1e3 / i
    if (v > 0 && s > 0) printf ", shm %.2fx", s * 1e3 / i
    if (v > 0) printf ")"
    printf "\n"
  }'
fi

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
