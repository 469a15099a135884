#!/usr/bin/env bash
# End-to-end latency through chains of 0, 1 and 3 filters at 1080p (capture stamp to a
# reader at the end of the chain, p50 and p99), and the per-frame cost each filter
# stage adds next to one pass (memcpy) over the frame's bytes, measured in the same run.
# Usage: bench/chain.sh BUILD_DIR
set -euo pipefail
build=$1
capture="$build/capture/vshm-capture"
filters="$build/samples/filters"
probe="$build/bench/vshm-latency-probe"
memcpy_frame="$build/bench/vshm-memcpy-frame"
for program in "$capture" "$probe" "$memcpy_frame" "$filters/vshm-filter-invert"; do
  [ -x "$program" ] || { echo "chain.sh: $program is not built" >&2; exit 1; }
done
frames=300
prefix="bench-chain-$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

bytes=$((1920 * 1080 * 3 / 2))
copy_ns=$("$memcpy_frame" "$bytes")
echo "Chains at 1080p I420, 60 fps test pattern; $frames frames at the end of each chain"
printf '  %-28s %10s %10s   %s\n' chain "p50" "p99" "per-frame cost of each filter (x one memcpy of $((bytes / 1024)) KiB = $(awk -v c="$copy_ns" 'BEGIN { printf "%.0f us", c / 1e3 }'))"
for chain in "" "invert" "invert mirror invert"; do
  "$capture" test --size 1920x1080 --format i420 --fps 60 --quiet --name "$prefix.0" &
  pids+=($!)
  stage=0
  for filter in $chain; do
    next=$((stage + 1))
    "$filters/vshm-filter-$filter" "$prefix.$stage" "$prefix.$next" 2>"/tmp/$prefix.$next.err" &
    pids+=($!)
    stage=$next
  done
  read -r count p50 p99 < <("$probe" "$prefix.$stage" "$frames")
  cleanup
  costs=""
  for ((s = 1; s <= stage; s++)); do
    us=$(sed -n 's/.* \([0-9.]*\) us per frame.*/\1/p' "/tmp/$prefix.$s.err" | tail -n 1)
    costs+=$(awk -v u="$us" -v c="$copy_ns" 'BEGIN { printf "%.0f us (%.1fx)  ", u, u * 1e3 / c }')
    rm -f "/tmp/$prefix.$s.err"
  done
  label="capture -> reader"
  [ -n "$chain" ] && label="capture -> ${chain// / -> } -> reader"
  printf '  %-28s %7.1f us %7.1f us   %s\n' "${label:0:28}" "$p50" "$p99" "${costs:--}"
done
