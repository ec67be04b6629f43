#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan, UBSan) in build-fuzz and runs
# each for SECONDS (default 60), starting from tests/fuzz/seeds and keeping
# what it learns in build-fuzz/corpus. Prints executions and coverage per
# target; a crash stops with the reproducer saved in build-fuzz/crashes.
#   scripts/fuzz.sh [seconds] [target...]   targets: pki_message http_query csr_policy config subject_match clone_inputs
#     capture har iis_log ndes_events evtx
# JOBS=2 runs two targets at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pki_message http_query csr_policy config subject_match clone_inputs capture har iis_log ndes_events evtx)
scripts/deps.sh fuzz
dir=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCEP_LAB_FUZZ=ON \
    -DCMAKE_UNITY_BUILD="${SCEP_LAB_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 -DSCEP_LAB_BUILD_TESTS=OFF >/dev/null
# The build takes minutes from nothing: its step counter on a terminal (one
# redrawn line), a line every 15 s in a log.
cmake --build "$dir" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}" >"$dir/build.log" 2>&1 &
build_pid=$!
t0=$(date +%s) shown=$t0
while kill -0 "$build_pid" 2>/dev/null; do
    sleep 1
    step=$(grep -o '^\[[0-9]*/[0-9]*\]' "$dir/build.log" | tail -1 || true)
    now=$(date +%s)
    if [ -t 2 ]; then
        printf '\rfuzz build %s (%d s)   ' "${step:-[starting]}" $((now - t0)) >&2
    elif [ $((now - shown)) -ge 15 ]; then
        echo "fuzz build ${step:-[starting]} ($((now - t0)) s)" >&2
        shown=$now
    fi
done
[ -t 2 ] && printf '\r%40s\r' '' >&2
build_rc=0
wait "$build_pid" || build_rc=$?
if [ "$build_rc" != 0 ]; then
    echo "FAIL: the fuzz targets do not build (clang):" >&2
    grep -E "error|Error" -A3 "$dir/build.log" | head -n 40 >&2
    exit 1
fi
mkdir -p "$dir/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run() {
    local t=$1 corpus="$dir/corpus/$1"
    mkdir -p "$corpus"
    # An EVTX file is a 4 KiB header and 64 KiB chunks: shorter inputs never reach its records.
    local max_len=65536
    [ "$t" = evtx ] && max_len=139264
    # -rss_limit_mb: a real leak or blow-up fails; -timeout: one input may not hang.
    if ! "$dir/tests/fuzz/fuzz_$t" "$corpus" "tests/fuzz/seeds/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -max_len="$max_len" -artifact_prefix="$dir/crashes/$t-" -print_final_stats=1 >"$dir/$t.log" 2>&1; then
        echo "FAIL: fuzz_$t found a problem; reproducer in $dir/crashes/ (log: $dir/$t.log)" >&2
        tail -n 40 "$dir/$t.log" >&2
        return 1
    fi
    local execs cov ft corpus_n
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$dir/$t.log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$dir/$t.log" | tail -1 | cut -d' ' -f2)
    corpus_n=$(find "$corpus" -type f | wc -l)
    printf '%-12s %6ss  %9s execs  %6s exec/s  cov %5s  ft %6s  corpus %5s\n' "$t" "$seconds" "$execs" \
        "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/$t.log")" "$cov" "$ft" "$corpus_n"
}

status=0
running=0
for t in "${targets[@]}"; do
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "${JOBS:-1}" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
done
exit $status
