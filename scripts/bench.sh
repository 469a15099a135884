#!/usr/bin/env bash
# Runs the vshm benchmark (bench/: the machine's limits next to vshm's figures, then
# capture, filter chains, camera, viewer, GStreamer and Python) from a release build of
# its own, build-bench/ at the top of the repository, configuring it first if it is
# missing, and prints what it measures.
# Usage: scripts/bench.sh [--report]
#   --report  also writes docs/benchmarks.md and its plots (docs/benchmarks/*.svg,
#             drawn by gnuplot) from this run, stating the machine it ran on.
# Takes about thirteen minutes, the release build included; run it on an idle machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
report=false
case "${1:-}" in
  "") ;;
  --report) report=true ;;
  -h | --help)
    sed -n '2,9s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *)
    echo "bench.sh: unknown option '$1'; try 'scripts/bench.sh --help'" >&2
    exit 2
    ;;
esac
[ $# -le 1 ] || { echo "bench.sh: too many arguments; try 'scripts/bench.sh --help'" >&2; exit 2; }

for tool in meson ninja cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench.sh: '$tool' not found; install the build tools first (see README.md)" >&2
    exit 1
  fi
done
if $report && ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench.sh: --report draws its plots with gnuplot; install it first" \
    "(scripts/install-deps.sh, or apt-get install gnuplot-nox)" >&2
  exit 1
fi

data=""
if $report; then
  data=$(mktemp -d)
  trap 'rm -rf "$data"' EXIT
fi

# part NAME COMMAND...: runs one part of the benchmark; with --report its output is kept
# as NAME.txt for the report too.
part() {
  local name=$1
  shift
  echo
  if $report; then
    "$@" | tee "$data/$name.txt"
  else
    "$@"
  fi
}

# Whether the release build has target $1. grep reads the whole list: with pipefail, grep
# -q quitting at the first match would kill ninja with SIGPIPE and fail the test.
has_target() {
  ninja -C "$build" -t targets all 2>/dev/null | grep "^$1:" >/dev/null
}

if [ ! -f "$build/build.ninja" ]; then
  echo "bench.sh: configuring a release build in $build"
  meson setup "$build" "$root" -Dbuildtype=release
fi
echo "bench.sh: building $build/bench/vshm-bench"
ninja -C "$build" bench/vshm-bench
if $report; then
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  os=$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release 2>/dev/null || true)
  revision=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "unknown")
  {
    echo "- CPU: ${cpu:-unknown}, $(nproc) CPUs available to the benchmark"
    echo "- System: Linux $(uname -r) ($(uname -m))${os:+, $os}"
    echo "- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), vshm $revision"
    echo "- Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$data/machine.txt"
fi
echo "bench.sh: running $build/bench/vshm-bench"
if $report; then
  part vshm-bench "$build/bench/vshm-bench" --data "$data"
else
  part vshm-bench "$build/bench/vshm-bench"
fi
if has_target capture/vshm-capture; then
  ninja -C "$build" capture/vshm-capture bench/vshm-latency-probe bench/vshm-memcpy-frame \
    samples/filters/vshm-filter-template samples/filters/vshm-filter-invert \
    samples/filters/vshm-filter-grayscale samples/filters/vshm-filter-mirror >/dev/null
  part capture-vs-ffmpeg "$root/bench/capture-vs-ffmpeg.sh" "$build"
  part chain "$root/bench/chain.sh" "$build" ${data:+"$data"}
  part hifi "$root/bench/hifi.sh" "$build"
fi
if has_target record/vshm-record; then
  ninja -C "$build" record/vshm-record capture/vshm-capture bench/vshm-cpu-of \
    bench/vshm-stream-to-pipe bench/vshm-pipe-to-stream bench/vshm-glass-to-glass >/dev/null
  part record "$root/bench/record.sh" "$build"
fi
if has_target tests/libfake-camera.so; then
  ninja -C "$build" capture/vshm-capture tests/libfake-camera.so bench/vshm-memcpy-frame >/dev/null
  part camera "$root/bench/camera.sh" "$build"
fi
if has_target viewer/vshm-view && command -v Xvfb >/dev/null; then
  ninja -C "$build" viewer/vshm-view capture/vshm-capture bench/vshm-memcpy-frame >/dev/null
  part viewer "$root/bench/viewer.sh" "$build"
fi
if has_target gst/vshm-gst-bench; then
  ninja -C "$build" gst/vshm-gst-bench gst/libgstvshm.so >/dev/null
  part gstreamer "$root/bench/gstreamer.sh" "$build"
fi
if has_target python/bench/vshm-python-bench-acquire; then
  # The Python module (its extension and package files) and what its benchmark runs.
  python_module=$(ninja -C "$build" -t targets all | sed -n 's|^\(python/vshm/[^/:]*\.[sp][oy]\): .*|\1|p')
  ninja -C "$build" python/bench/vshm-python-bench-acquire capture/vshm-capture \
    samples/filters/vshm-filter-invert $python_module >/dev/null
  part python sh "$build/python/bench/vshm-python-bench"
fi
if $report; then
  echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$data/machine.txt"
  echo
  "$root/bench/report.sh" "$data" "$root/docs"
fi
