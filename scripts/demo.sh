#!/usr/bin/env bash
# The first command of the README: installs what is missing, builds, and shows a sample
# video going through the shared-memory ring: vshm-capture writes it into the stream
# 'demo', vshm-view shows it from there. Without a display, runs the same pipeline
# headless and saves what the viewer would show as a PNG.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
cd "$top"
capture=build/capture/vshm-capture
view=build/viewer/vshm-view
sample=samples/testsrc2-h264.mp4
name=demo-$$

if [ ! -x "$view" ] || [ ! -x "$capture" ]; then
  echo "vshm: the viewer or capture program was not built (SDL2 or FFmpeg missing?)" >&2
  exit 1
fi

echo
echo "vshm: playing $sample through the ring: $capture -> /dev/shm/vshm.$name -> $view"
"$capture" "$sample" --loop --quiet --name "$name" &
capture_pid=$!
trap 'kill -INT $capture_pid 2>/dev/null || true; wait $capture_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -e "/dev/shm/vshm.$name" ] && break
  kill -0 $capture_pid 2>/dev/null || { echo "vshm: vshm-capture stopped early" >&2; exit 1; }
  sleep 0.1
done

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "vshm: close the window or press q to stop (i: info overlay, f: full screen)"
  "$view" "$name"
else
  snapshot="$top/build/demo-snapshot.png"
  echo "vshm: no display here (DISPLAY is not set), so the viewer runs headless and saves"
  echo "      what it would show after 60 frames (2 s of video) as a picture."
  "$view" "$name" --overlay --snapshot "$snapshot" --after 60 --timeout 20
  echo "vshm: done. Open $snapshot to see the frame the viewer drew from shared memory."
fi
