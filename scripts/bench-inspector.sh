#!/usr/bin/env bash
# What the transaction inspector costs, measured in one run on this machine:
#  1. throughput: `scep-lab bench` (BENCH_REQUESTS x BENCH_CONNECTIONS) against
#     two labs, the inspector on and off, alternated ROUNDS times so that
#     drift hits both; prints each run and the median ratio (target: on >= 90 %
#     of off);
#  2. retention: SOAK_REQUESTS enrollments against the inspector-on lab
#     (retention 10,000): the transaction log's rows and file size after the
#     first 10,000 and at the end, which must stay bounded.
# Loopback only, port 0, stops by itself.
#   BENCH_REQUESTS (3000) BENCH_CONNECTIONS (16) ROUNDS (3) SOAK_REQUESTS (50000)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${BENCH_REQUESTS:-3000}
conns=${BENCH_CONNECTIONS:-16}
rounds=${ROUNDS:-3}
soak=${SOAK_REQUESTS:-50000}
scripts/deps.sh test >/dev/null
[ -x "${BUILD_DIR:-build}/cli/scep-lab" ] || scripts/build.sh >/dev/null
bin=$(readlink -f "${BUILD_DIR:-build}/cli/scep-lab")
cache=$(readlink -f "${BUILD_DIR:-build}")/bench-keys-rsa2048.pem
work=$(mktemp -d /tmp/scep-lab-bench-inspector.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start NAME on|off: a lab in $work/NAME; sets url_NAME
start() {
    SCEP_LAB_INSPECTOR=$2 "$bin" serve --port 0 --no-https --data-dir "$work/$1" --ready-file "$work/$1.ready" \
        --log-level warn >"$work/$1.out" 2>"$work/$1.log" &
    pids+=("$!")
    for _ in $(seq 1 300); do [ -s "$work/$1.ready" ] && break; sleep 0.1; done
    [ -s "$work/$1.ready" ] || fail "lab $1 did not start: $(tail -3 "$work/$1.log")"
    printf -v "url_$1" 'http://127.0.0.1:%s/scep' "$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/$1.ready")"
}
# rate URL N: enrollments per second of one bench run (every reply checked for SUCCESS)
rate() {
    local out
    out=$("$bin" bench "$1" -n "$2" -c "$conns" --keys 2000 --key-cache "$cache" --json) || fail "bench: $out"
    [ "$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' <<<"$out")" = 0 ] || fail "failed enrollments: $out"
    sed -n 's/.*"enrollments_per_second":\([0-9.E+-]*\).*/\1/p' <<<"$out" | awk '{printf "%.0f\n", $1}'
}

start on on
start off off
[ -f "$work/on/transactions.db" ] || fail "the inspector-on lab has no transactions.db"
[ ! -f "$work/off/transactions.db" ] || fail "the inspector-off lab wrote transactions.db"
echo "== throughput: $requests enrollments x $conns connections, $rounds rounds, inspector off then on"
rate "$url_off" 300 >/dev/null  # warm-up (and fills the key cache)
rate "$url_on" 300 >/dev/null
ons=() offs=()
for r in $(seq 1 "$rounds"); do
    off=$(rate "$url_off" "$requests")
    on=$(rate "$url_on" "$requests")
    offs+=("$off") ons+=("$on")
    echo "round $r: off $off/s, on $on/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m_off=$(median "${offs[@]}")
m_on=$(median "${ons[@]}")
ratio=$(awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "%.1f", 100 * a / b}')
echo "median: off $m_off/s, on $m_on/s: recording keeps $ratio % of the throughput"

echo "== retention: $soak enrollments against the inspector-on lab (retention 10000)"
db="$work/on/transactions.db"
size() { du -cb "$db" "$db-wal" 2>/dev/null | tail -1 | cut -f1; }
rows() { sqlite3 "$db" "SELECT COUNT(*) FROM transactions"; }
done_so_far=$(sqlite3 "$db" "SELECT COALESCE(MAX(id), 0) FROM transactions")
first=$((10000 > done_so_far ? 10000 - done_so_far : 1))
rate "$url_on" "$first" >/dev/null
echo "after $((done_so_far + first)) transactions: $(rows) rows, $(size) bytes (log + WAL)"
size_10k=$(size)
rest=$((soak - first))
[ "$rest" -gt 0 ] && rate "$url_on" "$rest" >/dev/null
total=$(sqlite3 "$db" "SELECT MAX(id) FROM transactions")
echo "after $total transactions: $(rows) rows, $(size) bytes (log + WAL)"
[ "$(rows)" -le $((10000 + 64)) ] || fail "retention not enforced: $(rows) rows"
[ "$(size)" -le $((size_10k * 2)) ] || fail "the log grew from $size_10k to $(size) bytes"
rss=$(awk '/VmHWM/ {print $2}' "/proc/${pids[0]}/status")
echo "ok: bounded; inspector-on server peak RSS $((rss / 1024)) MB"
