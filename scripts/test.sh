#!/usr/bin/env bash
# One command on a fresh Debian machine: install what is missing (build
# tools and the real peers), build, and run every test.
#   scripts/test.sh             the whole suite
#   scripts/test.sh --sanitize  the same under AddressSanitizer + UBSan
# Extra arguments after the options go to ctest (e.g. -L unit, -R matrix).
# The whole suite (no ctest arguments) ends with a short run of every
# libFuzzer target (FUZZ_SECONDS, default 15; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then sanitize=1; shift; fi
scripts/deps.sh test
SCEP_LAB_SANITIZE=$sanitize scripts/build.sh
dir=$([ "$sanitize" = 1 ] && echo build-sanitize || echo build)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j "${JOBS:-2}" --timeout 600 "$@"
if [ $# -eq 0 ] && [ "${FUZZ_SECONDS:-15}" != 0 ] && [ "$sanitize" = 0 ]; then
    echo "== short fuzz run of every target (${FUZZ_SECONDS:-15} s each)"
    JOBS=2 scripts/fuzz.sh "${FUZZ_SECONDS:-15}"
fi
