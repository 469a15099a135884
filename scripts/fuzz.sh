#!/usr/bin/env bash
# Fuzzes what a reader checks in the bytes it maps (tests/fuzz/fuzz-reader.c says what)
# with clang's libFuzzer, AddressSanitizer and UBSan, for SECONDS (default 60), starting
# from the committed corpus in tests/fuzz/corpus. Builds in ./build-fuzz. New inputs
# libFuzzer finds go to build-fuzz/corpus (copy the interesting ones to the committed
# corpus by hand); the input of any crash, sanitizer report, leak or timeout goes to
# build-fuzz/artifacts/ and fails the run. CI runs it for 60 s.
#   ./scripts/fuzz.sh [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-60}
"$top/scripts/install-deps.sh"

# The library's sources, compiled into the target: libFuzzer needs its coverage
# instrumentation in them. All but the filter helper, which needs the programs'
# scaffolding (program/) and is not what a reader checks.
files=()
for source in common/*.c; do
  [ "$source" = common/filter.c ] || files+=("$source")
done
mkdir -p build-fuzz/corpus build-fuzz/artifacts
echo "vshm: building build-fuzz/fuzz-reader (clang, libFuzzer, ASan, UBSan)"
clang -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I common/include -I common tests/fuzz/fuzz-reader.c "${files[@]}" \
  -o build-fuzz/fuzz-reader

# The target writes /dev/shm/vshm.fuzz-<its pid>; a crash leaves that file behind.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
build-fuzz/fuzz-reader -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
  build-fuzz/corpus tests/fuzz/corpus &
fuzzer=$!
wait "$fuzzer" || status=$?
rm -f "/dev/shm/vshm.fuzz-$fuzzer"
if [ "$status" -ne 0 ]; then
  echo "vshm: the fuzzer failed (status $status); its input is in build-fuzz/artifacts/" >&2
  exit 1
fi
echo "vshm: $seconds s of fuzzing found nothing; $(ls build-fuzz/corpus | wc -l) inputs in build-fuzz/corpus"
