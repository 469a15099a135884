#!/usr/bin/env bash
# The first command of the README: installs what is missing, builds, and runs the demo.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
echo
echo "vshm: running the ring demo (a writer and a reader process sharing frames):"
exec "$top/build/samples/vshm-ring-demo" "$@"
