# Shared helpers for the peer tests: start scep-lab on port 0 with a
# temporary data dir, wait for its ready file, stop it on exit.
set -euo pipefail

SCEP_LAB=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
WORK=$(mktemp -d /tmp/scep-lab-peer.XXXXXX)
SERVER_PID=""

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$WORK/server.log" ]; then echo "--- server log" >&2; tail -n 30 "$WORK/server.log" >&2; fi
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

# start_server [extra serve flags...]: sets URL and PORT
start_server() {
    rm -f "$WORK/ready.json"
    "$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$WORK/data" --ready-file "$WORK/ready.json" "$@" \
        >"$WORK/server.out" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if [ -s "$WORK/ready.json" ]; then break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || fail "scep-lab exited during start-up"
        sleep 0.1
    done
    [ -s "$WORK/ready.json" ] || fail "scep-lab did not become ready"
    PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/ready.json")
    URL="http://127.0.0.1:$PORT/scep"
}

CHALLENGE=scep-lab-challenge
CHAIN() { echo "$WORK/data/pki/ca-chain.pem"; }
# The top tier's certificate, whatever the hierarchy calls it (hierarchy.txt lists the tiers, top first).
ROOT() { echo "$WORK/data/pki/$(head -n1 "$WORK/data/pki/hierarchy.txt").crt"; }

# verify_chain CERT: the certificate chains to the generated root.
verify_chain() {
    openssl verify -CAfile "$(ROOT)" -untrusted "$(CHAIN)" "$1" >/dev/null 2>"$WORK/verify.err" ||
        fail "openssl verify failed for $1: $(cat "$WORK/verify.err")"
}

# serial_in_store CERT: the store has a row for the certificate's serial.
serial_in_store() {
    local serial
    serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)
    local n
    n=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE serial = '$serial' AND status = 'valid'")
    [ "$n" = 1 ] || fail "serial $serial not in the store (count $n)"
    echo "$serial"
}
