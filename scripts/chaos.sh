#!/usr/bin/env bash
# The chaos test (tests/chaos.c says what it does and what passes): a vshm-run --restart
# pipeline under random SIGKILL, SIGTERM and SIGSTOP/SIGCONT of its stages for SECONDS
# (default 60), with a reader that checks every frame's pixels. Builds ./build first.
#   ./scripts/chaos.sh [SECONDS] [--seed N]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  seconds=$1
  shift
fi
"$top/scripts/build.sh"
exec "$top/build/tests/vshm-chaos" --run "$top/build/tools/vshm-run" --seconds "$seconds" "$@"
