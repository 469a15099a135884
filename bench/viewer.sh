#!/usr/bin/env bash
# vshm-view's cost per frame and its capture-to-present latency, under a private Xvfb.
#  - CPU per frame: the viewer's CPU time (all its threads, including the renderer's)
#    for 300 frames, taken as the difference between a 420-frame and a 120-frame run so
#    start-up does not count, next to one memcpy of the same frame in the same run.
#  - latency p50/p99 at 60 fps 1080p, as vshm-view reports it (capture stamp to
#    after SDL_RenderPresent).
# Usage: bench/viewer.sh BUILD_DIR
set -euo pipefail
build=$1
capture="$build/capture/vshm-capture"
view="$build/viewer/vshm-view"
memcpy_frame="$build/bench/vshm-memcpy-frame"
for program in "$capture" "$view" "$memcpy_frame"; do
  [ -x "$program" ] || { echo "viewer.sh: $program is not built" >&2; exit 1; }
done
command -v Xvfb >/dev/null || { echo "viewer.sh: Xvfb is not installed" >&2; exit 1; }

display=$((200 + $$ % 100))
Xvfb ":$display" -screen 0 3840x2160x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
name="bench-view-$$"
capture_pid=""
cleanup() {
  [ -n "$capture_pid" ] && kill -INT "$capture_pid" 2>/dev/null && wait "$capture_pid" 2>/dev/null
  kill "$xvfb" 2>/dev/null && wait "$xvfb" 2>/dev/null
  rm -f "/tmp/$name".*
}
trap cleanup EXIT
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.05; done
export DISPLAY=":$display"

# CPU seconds (user + system) the viewer used to show N frames, and its summary line.
viewer_run() {
  local frames=$1 times
  TIMEFORMAT='%U %S'
  { time "$view" "$name" --snapshot "/tmp/$name.png" --after "$frames" --timeout 60 \
      2>"/tmp/$name.err" ; } 2>"/tmp/$name.time"
  awk '{ print $1 + $2 }' "/tmp/$name.time"
}

echo "vshm-view under Xvfb, its CPU per frame next to one memcpy of the frame"
printf '  %-12s %12s %16s %8s\n' frame "memcpy/frame" "viewer CPU/frame" ratio
for size in 1920x1080 3840x2160; do
  width=${size%x*} height=${size#*x}
  bytes=$((width * height * 3 / 2))
  copy_ns=$("$memcpy_frame" "$bytes")
  fps=30
  [ "$size" = 1920x1080 ] && fps=60
  "$capture" test --size "$size" --format i420 --fps "$fps" --quiet --name "$name" &
  capture_pid=$!
  sleep 0.5
  short=$(viewer_run 120)
  long=$(viewer_run 420)
  summary=$(tail -n 1 "/tmp/$name.err")
  kill -INT "$capture_pid"; wait "$capture_pid" || true; capture_pid=""
  awk -v s="$size I420" -v c="$copy_ns" -v a="$short" -v b="$long" 'BEGIN {
    per = (b - a) / 300 * 1e9
    printf "  %-12s %9.2f ms %13.2f ms %7.1fx\n", s, c / 1e6, per / 1e6, per / c }'
  if [ "$size" = 1920x1080 ]; then
    latency=$(echo "$summary" | sed -n 's/.*latency \(p50 [^;]*\);.*/\1/p')
    renderer=$(echo "$summary" | sed -n 's/.*; renderer \(.*\)$/\1/p')
  fi
done
echo "  capture-to-present latency, 1080p I420 at 60 fps: ${latency:-not reported}"
echo "  renderer: ${renderer:-unknown}"
echo "  (Under Xvfb the renderer is software OpenGL (llvmpipe) or SDL's software renderer:"
echo "   the upload, the YUV conversion and the drawing all run on the CPU and count here.)"
