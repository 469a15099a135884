#!/usr/bin/env bash
# Filter chains at 1080p I420 (the test pattern at 60 fps), measured in one run:
#  - the end-to-end latency through each chain (capture stamp to a reader sleeping at
#    the end of it), p50 and p99;
#  - what the filter stages add to the p50. Each chain runs $rounds times, each time
#    right after a run with no filter, and what it adds is the median of those paired
#    differences: a p50 moves by tens of microseconds from one run to the next on a
#    shared machine, as much as the overhead it is about;
#  - where that goes, per stage, on the frames themselves: the time from a frame's
#    input being published to its output being published (the stage's latency: its
#    wake-up, its bookkeeping and its work), next to its compute (the time in
#    process()), both medians as each filter reports them. What a stage takes beyond
#    its compute is its overhead, which has a target of 2 futex wake-ups per stage,
#    held against two measurements of a wake-up in the same run (vshm-bench --futex):
#    between two busy processes (the ping-pong's), and of a process that slept a frame
#    interval as the stages do. The end-to-end figure adds what the stages cost their
#    neighbours: on two CPUs, capture drawing its next frame, the filters and the
#    reader take turns, and a skewed distribution's medians do not add up;
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
frames=${CHAIN_FRAMES:-300}
rounds=${CHAIN_ROUNDS:-3}
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

# run_chain "FILTER ..." : prints "p50_us p99_us hop_us compute_us stage_us ..." (a
# compute and an input-to-output time per stage; hop: the last stage's publish to the
# reader's observe, p50).
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
  local p50 p99 hop
  read -r _ p50 p99 hop < <("$probe" "$prefix.$stage" "$frames")
  stop_chain
  local costs="" s
  for ((s = 1; s <= stage; s++)); do
    costs+=" $(sed -n 's/.*(median \([0-9.]*\) us).*/\1/p' "$scratch/$s.err" | tail -n 1)"
    costs+=" $(sed -n 's/.* \([0-9.]*\) us input to output (median).*/\1/p' "$scratch/$s.err" | tail -n 1)"
  done
  echo "$p50 $p99 $hop$costs"
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure "FILTER ...": $rounds runs of the chain, each right after a run with no
# filter. Sets measured to "added_us p50_us p99_us compute_us stage_us ...": the median
# of the paired differences of the p50s, then the medians of the chain's p50, p99 and
# each stage's two times; adds the runs with no filter to base_p50s and base_p99s. (A
# function run in this shell, not in a $(...), so that those globals keep what it adds.)
measure() {
  local round added="" p50s="" p99s="" computes=() b50 b99 c50 c99 stage_costs
  for ((round = 0; round < rounds; round++)); do
    read -r b50 b99 _ < <(run_chain "")
    base_p50s+=" $b50" base_p99s+=" $b99"
    read -r c50 c99 _ stage_costs < <(run_chain "$1")
    added+=" $(awk -v a="$c50" -v b="$b50" 'BEGIN { print a - b }')"
    p50s+=" $c50" p99s+=" $c99"
    local i=0 cost
    for cost in $stage_costs; do computes[i]+=" $cost"; i=$((i + 1)); done
  done
  local line c
  line="$(median <<<"$added") $(median <<<"$p50s") $(median <<<"$p99s")"
  for c in "${computes[@]}"; do line+=" $(median <<<"$c")"; done
  measured=$line
}

echo "Chains at 1080p I420, 60 fps test pattern; $frames frames at the end of each chain"
awk -v c="$copy_ns" -v f="$futex_ns" -v i="$idle_ns" -v b="$bytes" 'BEGIN {
  printf "  futex wake-up, one way, p50: %.1f us between busy processes (ping-pong), %.1f us\n", f / 1e3, i / 1e3
  printf "  after sleeping 1/60 s; memcpy of the %d KiB frame in cache %.0f us\n", b / 1024, c / 1e3 }'
base_p50s="" base_p99s=""
measure "template"
read -r copy_added copy_p50 copy_p99 copy_cost copy_stage <<<"$measured"
printf '  %-24s %9s %9s %9s %9s %9s %9s %-11s %-14s\n' "filters" p50 p99 added "in stages" \
  compute overhead "<= 2 wakes" "compute / copy"
printf '  %-24s %59s %-11s\n' "" "(in stages - compute)" "pp / asleep"
[ -n "$data" ] &&
  printf '# chain\tp50 us\tp99 us\tadded us\tcompute us\toverhead us\t2 wakes pp us\t2 wakes asleep us\tcompute/copy\tin stages us\n' \
    >"$data/chain.tsv"
tsv() { [ -z "$data" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$data/chain.tsv"; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "PASS" : "MISS") }'; }
rows=() tsv_rows=()
for chain in template invert grayscale mirror "invert mirror invert"; do
  if [ "$chain" = template ]; then
    added=$copy_added p50=$copy_p50 p99=$copy_p99 costs="$copy_cost $copy_stage"
  else
    measure "$chain"
    read -r added p50 p99 costs <<<"$measured"
  fi
  stages=$(wc -w <<<"$chain")
  # costs: each stage's compute, then its input-to-output time.
  compute=$(awk -v c="$costs" 'BEGIN { n = split(c, v, " "); for (i = 1; i <= n; i += 2) s += v[i]; print s }')
  in_stages=$(awk -v c="$costs" 'BEGIN { n = split(c, v, " "); for (i = 2; i <= n; i += 2) s += v[i]; print s }')
  overhead=$(awk -v a="$in_stages" -v c="$compute" 'BEGIN { print a - c }')
  wakes_pp=$(awk -v f="$futex_ns" -v n="$stages" 'BEGIN { print 2 * n * f / 1e3 }')
  wakes_idle=$(awk -v f="$idle_ns" -v n="$stages" 'BEGIN { print 2 * n * f / 1e3 }')
  ratio=$(awk -v c="$compute" -v k="$copy_cost" -v n="$stages" 'BEGIN { print c / (n * k) }')
  label="${chain// / ! }"
  copy_verdict=$(verdict "$ratio" 1.5)
  if [ "$chain" = template ]; then
    label="template (a copy)" copy_verdict=""
  fi
  rows+=("$(printf '  %-24s %6.0f us %6.0f us %6.0f us %6.0f us %6.0f us %6.0f us %-4s/ %-4s %7.2fx %s' \
    "$label" "$p50" "$p99" "$added" "$in_stages" "$compute" "$overhead" \
    "$(verdict "$overhead" "$wakes_pp")" "$(verdict "$overhead" "$wakes_idle")" "$ratio" \
    "$copy_verdict")")
  tsv_rows+=("${chain// / ! }|$p50|$p99|$added|$compute|$overhead|$wakes_pp|$wakes_idle|$ratio|$in_stages")
done
# Printed once all is measured: the runs with no filter were made between the others.
base_p50=$(median <<<"$base_p50s") base_p99=$(median <<<"$base_p99s")
printf '  %-24s %6.0f us %6.0f us  (median of the %d runs with no filter)\n' "(none)" "$base_p50" \
  "$base_p99" "$(wc -w <<<"$base_p50s")"
tsv "none" "$base_p50" "$base_p99" 0 0 0 0 0 0 0
printf '%s\n' "${rows[@]}"
for row in "${tsv_rows[@]}"; do
  IFS='|' read -r -a fields <<<"$row"
  tsv "${fields[@]}"
done
awk -v k="$copy_cost" -v c="$copy_ns" 'BEGIN {
  printf "  The copy (template) takes %.0f us a frame, %.1fx the memcpy in cache: its input was\n", k, k * 1e3 / c
  printf "  just written by another process. The overhead of n stages is held against 2n wake-ups.\n" }'
echo "  Added: the median, over $rounds runs of each chain, of its p50 less that of a run with no filter just before."
echo "  In stages: the sum over the stages of each one's median time from input published to output published."
