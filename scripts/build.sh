#!/usr/bin/env bash
# Installs what is missing, then configures (once) and builds vshm in ./build with
# warnings as errors. Extra arguments go to `meson setup` the first time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
if [ ! -f build/build.ninja ]; then
  meson setup build --werror "$@"
fi
ninja -C build
