#!/usr/bin/env bash
# The second command of the README: installs what is missing, builds, runs every test.
# Extra arguments go to `meson test` (for example --suite unit, or a test name).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
cd "$top"
meson test -C build --print-errorlogs "$@"
