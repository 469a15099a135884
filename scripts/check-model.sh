#!/usr/bin/env bash
# Checks the model of the slot protocol, docs/protocol.pml, with the SPIN model checker
# (Debian package spin): every reachable state of the model must satisfy its properties,
# with the second reader lossy (the default mode), lossless, and lossless with the writer
# waiting for it before its first frame (as --wait-readers does), and every deliberately
# broken variant of the model must violate the property it names, which shows that the
# properties can fail. The test suite runs this (suite 'model').
#
#   scripts/check-model.sh                 check the model and every broken variant
#   scripts/check-model.sh --trail NAME    print SPIN's counterexample for one of them
#                                          (NAME as listed below, e.g. wake-early)
#
# Exits 0 when the model passes and every variant fails as it should, 1 otherwise, and
# 77 (a skipped test) when spin or a C compiler is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
model=$top/docs/protocol.pml
cc=${CC:-cc}

if ! command -v spin >/dev/null; then
  echo "check-model.sh: SKIP: needs the SPIN model checker (Debian package spin)"
  exit 77
fi
if ! command -v "$cc" >/dev/null; then
  echo "check-model.sh: SKIP: needs a C compiler ($cc) to build SPIN's verifier"
  exit 77
fi

# name, SPIN options (comma separated, - for none), what must happen ("pass", or the
# property the variant breaks), and the search: depth-first (dfs) visits every state
# with the least memory; breadth-first (bfs) finds the shortest counterexample, which
# for one variant is also much sooner.
configurations=(
  "model              -                                            pass dfs"
  "model-lossless     -DLOSSLESS_READER                            pass dfs"
  "no-recheck         -DBROKEN_NO_RECHECK                          P1   dfs"
  "ignore-holders     -DBROKEN_IGNORE_HOLDERS                      P3   dfs"
  "publish-load-store -DBROKEN_PUBLISH_LOAD_STORE                  P3   bfs"
  "wait-for-holders   -DBROKEN_WAIT_FOR_HOLDERS                    P4   dfs"
  "wake-early         -DBROKEN_WAKE_EARLY                          P5   dfs"
  "no-sleep-recheck   -DBROKEN_NO_SLEEP_RECHECK                    P5   dfs"
  "writer-wait-order  -DLOSSLESS_READER,-DBROKEN_WRITER_WAIT_ORDER P5   dfs"
  "no-lossless-wait   -DLOSSLESS_READER,-DBROKEN_NO_LOSSLESS_WAIT  P6   dfs"
  "consume-early      -DLOSSLESS_READER,-DBROKEN_CONSUME_EARLY     P6   dfs"
  "first-latest       -DLOSSLESS_READER,-DBROKEN_FIRST_LATEST      P6   bfs"
  "attach-early       -DLOSSLESS_READER,-DBROKEN_ATTACH_EARLY      P6   bfs"
  "model-wait-reader  -DLOSSLESS_READER,-DWAIT_FOR_READER          pass dfs"
  "counted-early      -DLOSSLESS_READER,-DWAIT_FOR_READER,-DBROKEN_COUNTED_EARLY P7 bfs"
)

work=$(mktemp -d "${TMPDIR:-/tmp}/vshm-model.XXXXXX")
trap 'rm -rf "$work"' EXIT

# verify NAME OPTIONS EXPECTED SEARCH: builds and runs SPIN's verifier for one
# configuration in its own directory; prints one line; returns 0 if it went as EXPECTED
# says.
verify() {
  local name=$1 expected=$3 options=()
  [ "$2" = "-" ] || IFS=, read -r -a options <<<"$2"
  local dir=$work/$name
  mkdir "$dir"
  cp "$model" "$dir/protocol.pml"
  cd "$dir"
  if ! spin -a "${options[@]}" protocol.pml >spin.out 2>&1; then
    echo "$name: SPIN cannot read the model:" >&2
    cat spin.out >&2
    return 1
  fi
  # Safety properties only (assertions and end states), states stored compressed;
  # MEMLIM (MB) stops a model grown too big instead of filling the machine. A variant's
  # verifier runs for a moment, so it is not worth optimising.
  local build=(-DSAFETY -DCOLLAPSE -DMEMLIM=3072)
  if [ "$expected" = pass ]; then build+=(-O1); else build+=(-O0); fi
  [ "$4" != bfs ] || build+=(-DBFS)
  if ! "$cc" -w "${build[@]}" -o pan pan.c 2>cc.out; then
    echo "$name: cannot build SPIN's verifier:" >&2
    cat cc.out >&2
    return 1
  fi
  # -m: the deepest path SPIN may follow (the model needs under 5,000; deeper stops the
  # search, which fails the check below); -w: 2^w hash table slots, enough for a variant.
  local run=(-m50000)
  [ "$expected" = pass ] || run+=(-w21)
  ./pan "${run[@]}" >pan.out 2>&1 || true
  local errors states depth seconds
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out)
  seconds=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.out)
  local figures="$states states, depth $depth, ${seconds:-0} s"
  if [ -z "$errors" ] || grep -qiE 'too small|out of memory|memlim' pan.out; then
    echo "$name: FAILED: the search did not run to its end ($figures):" >&2
    cat pan.out >&2
    return 1
  fi
  if [ "$expected" = pass ]; then
    if [ "$errors" -eq 0 ] && ! grep -q 'Search not completed' pan.out; then
      echo "$name: passed, every state explored: $figures"
      return 0
    fi
    echo "$name: FAILED: SPIN found a violation ($figures); its counterexample:" >&2
    spin -t -p "${options[@]}" protocol.pml | tail -n 60 >&2
    return 1
  fi
  if [ "$errors" -eq 0 ]; then
    echo "$name: FAILED: this broken variant passed, so $expected cannot fail ($figures)" >&2
    return 1
  fi
  # Which assertion failed: the line SPIN's replay of the trail names ends with the
  # property's name in a comment.
  local line broken steps
  steps=$(sed -n 's/.*violated.*(at depth \([0-9]*\)).*/\1/p' pan.out | head -n 1)
  line=$(spin -t "${options[@]}" protocol.pml 2>&1 |
    sed -n 's/^spin: protocol.pml:\([0-9]*\), Error: assertion violated.*/\1/p' | head -n 1)
  broken=$(sed -n "${line:-0}p" protocol.pml | sed -n 's|.*/\* \([A-Z0-9]*\) \*/.*|\1|p')
  if [ "$broken" != "$expected" ]; then
    echo "$name: FAILED: expected a violation of $expected, SPIN found ${broken:-something else} at protocol.pml:${line:-?}" >&2
    return 1
  fi
  echo "$name: fails as it should, $expected violated at depth $steps ($figures)"
  return 0
}

if [ "${1:-}" = "--trail" ]; then
  for configuration in "${configurations[@]}"; do
    read -r name options expected search <<<"$configuration"
    [ "$name" = "${2:-}" ] || continue
    # Breadth-first: the shortest counterexample is the one to read.
    verify "$name" "$options" "$expected" bfs || true
    IFS=, read -r -a flags <<<"$options"
    [ "$options" = "-" ] && flags=()
    cd "$work/$name"
    if [ -f protocol.pml.trail ]; then
      spin -t -p -g -l "${flags[@]}" protocol.pml
    fi
    exit 0
  done
  echo "check-model.sh: no configuration called '${2:-}'" >&2
  exit 1
fi
if [ $# -gt 0 ]; then
  echo "usage: check-model.sh [--trail NAME]" >&2
  exit 1
fi

failed=0
for configuration in "${configurations[@]}"; do
  read -r name options expected search <<<"$configuration"
  verify "$name" "$options" "$expected" "$search" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "check-model.sh: the model of the slot protocol does not check out (above)" >&2
  exit 1
fi
echo "check-model.sh: the model holds, and every broken variant is caught"
