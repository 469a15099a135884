#!/usr/bin/env bash
# Builds vshm with AddressSanitizer and UndefinedBehaviorSanitizer in ./build-sanitize
# and runs the whole test suite there. Any report fails the run. test-hostile-writer's
# storm lasts 20 s here (VSHM_HOSTILE_SECONDS).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
if [ ! -f build-sanitize/build.ninja ]; then
  meson setup build-sanitize --werror -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-sanitize
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# test-hostile-writer mutates a live segment for this long (5 s in the plain suite).
export VSHM_HOSTILE_SECONDS=${VSHM_HOSTILE_SECONDS:-20}
meson test -C build-sanitize --print-errorlogs --timeout-multiplier 3 "$@"
