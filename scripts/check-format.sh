#!/usr/bin/env bash
# Fails, naming the files, when a C file in the repository is not formatted the way the
# repository's .clang-format says (Debian 12's clang-format 14). CI runs it; fix with
#   clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check-format.sh: clang-format not found; install the clang-format package" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
unformatted=()
for file in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    unformatted+=("$file")
  fi
done
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "check-format.sh: not formatted with .clang-format (run clang-format -i on them):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
echo "check-format.sh: all ${#files[@]} C files are formatted"
