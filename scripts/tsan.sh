#!/usr/bin/env bash
# Builds vshm with ThreadSanitizer in ./build-tsan and runs the process suite there: the
# forked writers and readers, and test-threads, whose threads share the library in one
# process. Any report fails the run. Extra arguments go to `meson test`.
#
# ThreadSanitizer knows memory by address, within one process: it sees the library's
# process-wide state (logging, errors, the SIGBUS guard's table) used from several
# threads, not the shared memory between processes, which each maps at its own address
# (test-interleavings checks the protocol's ordering instead). The one intended race,
# the seqlock's copy of a slot's metadata, is marked for it in common/racy-copy.h;
# no suppressions are needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
if [ ! -f build-tsan/build.ninja ]; then
  # GCC warns (-Wtsan) that ThreadSanitizer does not model atomic_thread_fence(). The
  # seqlock's fences order the accesses of different processes, which it cannot see
  # anyway, so the warning is turned off rather than made an error by --werror.
  meson setup build-tsan --werror -Dbuildtype=debugoptimized -Db_sanitize=thread \
    -Db_lundef=false -Dc_args=-Wno-tsan
fi
ninja -C build-tsan
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
meson test -C build-tsan --print-errorlogs --timeout-multiplier 3 --suite process "$@"
