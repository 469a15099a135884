#!/usr/bin/env bash
# Filter chains at 1080p I420 (the test pattern at 60 fps), measured in one run:
#  - the end-to-end latency through each chain (capture stamp to a reader sleeping at
#    the end of it), p50 and p99;
#  - what the filter stages add to the p50, next to their own compute (the median time
#    per frame of process(), as each filter reports it): the rest, the stages' overhead,
#    has a target of 2 futex wake-ups per stage, held against two measurements of a
#    wake-up in the same run (vshm-bench --futex): between two busy processes (the
#    ping-pong's), and of a process that slept a frame interval as the stages do;
#  - each filter's compute next to a copy of the frame in the same place, the template
#    filter (a memcpy of every row from the input slot into the output slot): target
#    <= 1.5x. Also shown: one memcpy of the frame between two buffers already in this
#    CPU's cache, the bound no filter reading another process's frame can reach.
# Usage: bench/chain.sh BUILD_DIR [DATA_DIR]
#   With DATA_DIR, also writes DATA_DIR/chain.tsv for scripts/bench.sh --report.
set -euo pipefail
build=$1
data=${2:-}
capture="$build/capture/vshm-capture"
filters="$build/samples/filters"
probe="$build/bench/vshm-latency-probe"
memcpy_frame="$build/bench/vshm-memcpy-frame"
bench="$build/bench/vshm-bench"
for program in "$capture" "$probe" "$memcpy_frame" "$bench"; do
  [ -x "$program" ] || { echo "chain.sh: $program is not built" >&2; exit 1; }
done
for filter in template invert grayscale mirror; do
  [ -x "$filters/vshm-filter-$filter" ] || { echo "chain.sh: vshm-filter-$filter is not built" >&2; exit 1; }
done
frames=300
prefix="bench-chain-$$"
scratch=$(mktemp -d)
pids=()
stop_chain() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_chain
  rm -rf "$scratch"
}
trap cleanup EXIT

bytes=$((1920 * 1080 * 3 / 2))
copy_ns=$("$memcpy_frame" "$bytes")
read -r futex_ns _ idle_ns _ < <("$bench" --futex)

# run_chain "FILTER ..." : prints "p50_us p99_us compute_us ..." (one per stage).
run_chain() {
  "$capture" test --size 1920x1080 --format i420 --fps 60 --quiet --name "$prefix.0" &
  pids+=($!)
  local stage=0 filter next
  for filter in $1; do
    next=$((stage + 1))
    "$filters/vshm-filter-$filter" "$prefix.$stage" "$prefix.$next" 2>"$scratch/$next.err" &
    pids+=($!)
    stage=$next
  done
  local p50 p99
  read -r _ p50 p99 < <("$probe" "$prefix.$stage" "$frames")
  stop_chain
  local costs="" s
  for ((s = 1; s <= stage; s++)); do
    costs+=" $(sed -n 's/.*(median \([0-9.]*\) us).*/\1/p' "$scratch/$s.err" | tail -n 1)"
  done
  echo "$p50 $p99$costs"
}

echo "Chains at 1080p I420, 60 fps test pattern; $frames frames at the end of each chain"
awk -v c="$copy_ns" -v f="$futex_ns" -v i="$idle_ns" -v b="$bytes" 'BEGIN {
  printf "  futex wake-up, one way, p50: %.1f us between busy processes (ping-pong), %.1f us\n", f / 1e3, i / 1e3
  printf "  after sleeping 1/60 s; memcpy of the %d KiB frame in cache %.0f us\n", b / 1024, c / 1e3 }'
read -r base_p50 base_p99 < <(run_chain "")
read -r copy_p50 copy_p99 copy_cost < <(run_chain "template")
printf '  %-24s %9s %9s %9s %9s %9s %-11s %-14s\n' "filters" p50 p99 added compute overhead \
  "<= 2 wakes" "compute / copy"
printf '  %-24s %49s %-11s\n' "" "(added - compute)" "pp / asleep"
[ -n "$data" ] &&
  printf '# chain\tp50 us\tp99 us\tadded us\tcompute us\toverhead us\t2 wakes pp us\t2 wakes asleep us\tcompute/copy\n' \
    >"$data/chain.tsv"
tsv() { [ -z "$data" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$data/chain.tsv"; }
printf '  %-24s %6.0f us %6.0f us\n' "(none)" "$base_p50" "$base_p99"
tsv "none" "$base_p50" "$base_p99" 0 0 0 0 0 0
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "PASS" : "MISS") }'; }
for chain in template invert grayscale mirror "invert mirror invert"; do
  if [ "$chain" = template ]; then
    p50=$copy_p50 p99=$copy_p99 costs=$copy_cost
  else
    read -r p50 p99 costs < <(run_chain "$chain")
  fi
  stages=$(wc -w <<<"$chain")
  compute=$(awk -v c="$costs" 'BEGIN { n = split(c, v, " "); for (i = 1; i <= n; i++) s += v[i]; print s }')
  added=$(awk -v a="$p50" -v b="$base_p50" 'BEGIN { print a - b }')
  overhead=$(awk -v a="$added" -v c="$compute" 'BEGIN { print a - c }')
  wakes_pp=$(awk -v f="$futex_ns" -v n="$stages" 'BEGIN { print 2 * n * f / 1e3 }')
  wakes_idle=$(awk -v f="$idle_ns" -v n="$stages" 'BEGIN { print 2 * n * f / 1e3 }')
  ratio=$(awk -v c="$compute" -v k="$copy_cost" -v n="$stages" 'BEGIN { print c / (n * k) }')
  label="${chain// / ! }"
  copy_verdict=$(verdict "$ratio" 1.5)
  if [ "$chain" = template ]; then
    label="template (a copy)" copy_verdict=""
  fi
  printf '  %-24s %6.0f us %6.0f us %6.0f us %6.0f us %6.0f us %-4s/ %-4s %7.2fx %s\n' "$label" \
    "$p50" "$p99" "$added" "$compute" "$overhead" "$(verdict "$overhead" "$wakes_pp")" \
    "$(verdict "$overhead" "$wakes_idle")" "$ratio" "$copy_verdict"
  tsv "${chain// / ! }" "$p50" "$p99" "$added" "$compute" "$overhead" "$wakes_pp" "$wakes_idle" "$ratio"
done
awk -v k="$copy_cost" -v c="$copy_ns" 'BEGIN {
  printf "  The copy (template) takes %.0f us a frame, %.1fx the memcpy in cache: its input was\n", k, k * 1e3 / c
  printf "  just written by another process. The overhead of n stages is held against 2n wake-ups.\n" }'
