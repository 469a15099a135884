#!/usr/bin/env bash
# vshm-capture's CPU time per camera frame, 1080p YUYV from the fake camera
# (tests/fake-camera.c, preloaded in place of libv4l2), with mmap buffers (one copy of
# each frame into its slot) and with USERPTR (the slots lent to the driver: no copy),
# next to one memcpy of the frame measured in the same run.
#  - The fake writes only each frame's 8-byte stamp (FAKE_CAMERA_FILL=none), as a real
#    camera's DMA engine costs the CPU nothing; what is left is the capture's own work.
#  - CPU per frame is the difference between a 420-frame and a 120-frame run, divided
#    by 300, so that start-up does not count.
#  - The fake runs inside vshm-capture's process, so its own work (timers, bookkeeping,
#    the stamp) is counted in both modes; it is small next to a 4 MB copy but not zero.
#  - Each userptr run must really have lent the slots: its stderr is checked for
#    "USERPTR: no copy", and the benchmark stops if it fell back to mmap.
# Usage: bench/camera.sh BUILD_DIR
set -euo pipefail
build=$1
capture="$build/capture/vshm-capture"
fake="$build/tests/libfake-camera.so"
memcpy_frame="$build/bench/vshm-memcpy-frame"
for program in "$capture" "$fake" "$memcpy_frame"; do
  [ -e "$program" ] || { echo "camera.sh: $program is not built" >&2; exit 1; }
done

width=1920 height=1080 fps=120
bytes=$((width * height * 2))
name="bench-camera-$$"
export FAKE_CAMERA_DEVICE=/dev/video-bench FAKE_CAMERA_FORMATS=YUYV
export FAKE_CAMERA_SIZES="${width}x${height}" FAKE_CAMERA_FPS=$fps FAKE_CAMERA_FILL=none

# CPU seconds (user + system) vshm-capture used for N frames with --io MODE.
capture_run() {
  local io=$1 frames=$2
  TIMEFORMAT='%U %S'
  { time LD_PRELOAD="$fake" "$capture" v4l2:/dev/video-bench --io "$io" \
      --frames "$frames" --name "$name" 2>"/tmp/$name.err" ; } 2>"/tmp/$name.time"
  local expected="mmap + one copy"
  [ "$io" = userptr ] && expected="USERPTR: no copy"
  if ! grep -q "$expected" "/tmp/$name.err" || grep -q "no longer takes\|no USERPTR" "/tmp/$name.err"; then
    echo "camera.sh: the --io $io run did not use $expected; vshm-capture said:" >&2
    cat "/tmp/$name.err" >&2
    exit 1
  fi
  awk '{ print $1 + $2 }' "/tmp/$name.time"
}
trap 'rm -f "/tmp/$name".*' EXIT

copy_ns=$("$memcpy_frame" "$bytes")
echo "vshm-capture on the fake camera, ${width}x${height} YUYV at $fps fps: CPU per frame"
printf '  %-22s %14s %12s\n' mode "CPU/frame" "vs memcpy"
printf '  %-22s %11.3f ms %11.2fx\n' "one memcpy of a frame" "$(awk -v c="$copy_ns" 'BEGIN { print c / 1e6 }')" 1
for io in mmap userptr; do
  short=$(capture_run "$io" 120)
  long=$(capture_run "$io" 420)
  awk -v io="$io" -v c="$copy_ns" -v a="$short" -v b="$long" 'BEGIN {
    per = (b - a) / 300 * 1e9
    label = io == "mmap" ? "mmap + copy" : "userptr (no copy)"
    printf "  %-22s %11.3f ms %11.2fx\n", label, per / 1e6, per / c }'
done
echo "  (CPU time is counted by the kernel in clock ticks: compare runs, not digits.)"
