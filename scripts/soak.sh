#!/usr/bin/env bash
# Load and crash test, on loopback, stopping by itself:
#  1. soak: 64 concurrent connections, 50,000 enrollments (SOAK_REQUESTS),
#     zero failures, serials unique, store rows = successes;
#  2. crash: kill -9 the server in the middle of load, restart it on the same
#     data dir: every certificate a client received is in the store,
#     PRAGMA integrity_check is ok, and the server enrolls again.
# Keys: SOAK_KEYS distinct RSA-2048 keys (default 2000) are cycled over the
# requests, each request with its own CSR and transactionID; they are cached
# in build/bench-keys-rsa2048.pem (generating RSA keys is the slow part).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${SOAK_REQUESTS:-50000}
keys=${SOAK_KEYS:-2000}
conns=${SOAK_CONNECTIONS:-64}
scripts/deps.sh test >/dev/null
[ -x "${BUILD_DIR:-build}/cli/scep-lab" ] || scripts/build.sh >/dev/null
bin=$(readlink -f "${BUILD_DIR:-build}/cli/scep-lab")
cache=$(readlink -f "${BUILD_DIR:-build}")/bench-keys-rsa2048.pem
work=$(mktemp -d /tmp/scep-lab-soak.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/server.log" >&2 || true; exit 1; }

start() {
    rm -f "$work/ready.json"
    "$bin" serve --port 0 --no-https --data-dir "$work/data" --ready-file "$work/ready.json" --log-level warn \
        >>"$work/server.out" 2>>"$work/server.log" &
    pid=$!
    for _ in $(seq 1 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
    [ -s "$work/ready.json" ] || fail "server did not start"
    port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ready.json")
    url="http://127.0.0.1:$port/scep"
}
rows() { sqlite3 "$work/data/scep-lab.db" "SELECT COUNT(*) FROM certificates"; }

echo "== soak: $requests enrollments, $conns connections, $keys distinct keys"
start
"$bin" bench "$url" -n "$requests" -c "$conns" --keys "$keys" --key-cache "$cache" -k 50 --json \
    >"$work/soak.json" || true
cat "$work/soak.json"
ok=$(sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' "$work/soak.json")
bad=$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' "$work/soak.json")
[ "$bad" = 0 ] || fail "$bad failed enrollments"
[ "$ok" = "$requests" ] || fail "$ok of $requests succeeded"
[ "$(rows)" = "$ok" ] || fail "store has $(rows) rows for $ok successes"
dupes=$(sqlite3 "$work/data/scep-lab.db" "SELECT COUNT(*) - COUNT(DISTINCT serial) FROM certificates")
[ "$dupes" = 0 ] || fail "$dupes duplicate serials"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "ok: $ok enrollments, 0 failures, $(rows) rows, serials unique; server peak RSS $((rss / 1024)) MB"

echo "== crash: kill -9 under load, restart, nothing a client received is lost"
before=$(rows)
"$bin" bench "$url" -n 20000 -c "$conns" --keys "$keys" --key-cache "$cache" -k 1 --received "$work/received.txt" \
    --json >"$work/crash.json" &
bench=$!
# Kill once the load is well under way (the bench prepares its requests first).
for _ in $(seq 1 600); do
    [ "$(rows)" -ge $((before + 3000)) ] && break
    kill -0 "$bench" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
wait "$bench" || true
received=$(wc -l <"$work/received.txt")
[ "$received" -gt 0 ] || fail "no enrollment finished before the kill"
start
cut -d' ' -f1 "$work/received.txt" | sort >"$work/received.sorted"
sqlite3 "$work/data/scep-lab.db" "SELECT transaction_id FROM certificates" | sort >"$work/stored.sorted"
missing=$(comm -23 "$work/received.sorted" "$work/stored.sorted" | wc -l)
[ "$missing" = 0 ] || fail "$missing certificates a client received are not in the store"
# And the serials the clients decrypted are the stored ones.
while read -r txid serial; do echo "$serial"; done <"$work/received.txt" | sort >"$work/received.serials"
sqlite3 "$work/data/scep-lab.db" "SELECT serial FROM certificates" | sort >"$work/stored.serials"
missing=$(comm -23 "$work/received.serials" "$work/stored.serials" | wc -l)
[ "$missing" = 0 ] || fail "$missing received serials are not in the store"
integrity=$(sqlite3 "$work/data/scep-lab.db" "PRAGMA integrity_check")
[ "$integrity" = ok ] || fail "integrity_check: $integrity"
"$bin" bench "$url" -n 50 -c 4 --keys 50 --key-cache "$cache" -k 1 --json >"$work/after.json" ||
    fail "enrollment after restart: $(cat "$work/after.json")"
echo "ok: killed after $((received)) received certificates (store grew from $before to $(($(rows) - 50)));" \
    "all $received are stored, integrity_check ok, 50 enrollments after restart"
echo "PASS: soak"
