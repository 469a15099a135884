#!/bin/sh
# Runs the vshm benchmark (bench/: the machine's limits next to vshm's figures, then
# capture, filter chains, camera and viewer) from a release build of its own,
# build-bench/ at the top of the repository, configuring it first if it is missing.
# Usage: scripts/bench.sh        (takes about two minutes; run it on an idle machine)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"

for tool in meson ninja cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench.sh: '$tool' not found; install the build tools first (see README.md)" >&2
    exit 1
  fi
done

if [ ! -f "$build/build.ninja" ]; then
  echo "bench.sh: configuring a release build in $build"
  meson setup "$build" "$root" -Dbuildtype=release
fi
echo "bench.sh: building $build/bench/vshm-bench"
ninja -C "$build" bench/vshm-bench
echo "bench.sh: running $build/bench/vshm-bench"
echo
"$build/bench/vshm-bench"
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^capture/vshm-capture:'; then
  ninja -C "$build" capture/vshm-capture bench/vshm-latency-probe bench/vshm-memcpy-frame \
    samples/filters/vshm-filter-invert samples/filters/vshm-filter-mirror >/dev/null
  echo
  "$root/bench/capture-vs-ffmpeg.sh" "$build"
  echo; "$root/bench/hifi.sh" "$build"
  echo
  "$root/bench/chain.sh" "$build"
fi
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^tests/libfake-camera.so:'; then
  ninja -C "$build" capture/vshm-capture tests/libfake-camera.so bench/vshm-memcpy-frame >/dev/null
  echo
  "$root/bench/camera.sh" "$build"
fi
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^viewer/vshm-view:' && command -v Xvfb >/dev/null; then
  ninja -C "$build" viewer/vshm-view capture/vshm-capture bench/vshm-memcpy-frame >/dev/null
  echo
  "$root/bench/viewer.sh" "$build"
fi
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^gst/vshm-gst-bench:'; then
  ninja -C "$build" gst/vshm-gst-bench gst/libgstvshm.so >/dev/null
  echo
  "$root/bench/gstreamer.sh" "$build"
fi
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^python/bench/vshm-python-bench-acquire:'; then
  # The Python module (its extension and package files) and what its benchmark runs.
  python_module=$(ninja -C "$build" -t targets all | sed -n 's|^\(python/vshm/[^/:]*\.[sp][oy]\): .*|\1|p')
  ninja -C "$build" python/bench/vshm-python-bench-acquire capture/vshm-capture \
    samples/filters/vshm-filter-invert $python_module >/dev/null
  echo
  sh "$build/python/bench/vshm-python-bench"
fi
