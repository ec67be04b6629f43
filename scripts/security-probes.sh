#!/usr/bin/env bash
# The docs/security.md probes against a real scep-lab binary on loopback:
# what an attacker sends, and what the server answers. Prints a table.
#   scripts/security-probes.sh [BINARY]    default: build/cli/scep-lab
# Needs a build with tests (build/tests/security_probes, or SECURITY_PROBES=path),
# curl, iconv and sqlite3.
# As root, the full-disk probe mounts a 4 MB tmpfs for its data directory.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/cli/scep-lab}")
PROBES=$(realpath "${SECURITY_PROBES:-build/tests/security_probes}")
[ -x "$BIN" ] && [ -x "$PROBES" ] || { echo "build first: $BIN / $PROBES missing" >&2; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    mountpoint -q "$WORK/full/data" 2>/dev/null && umount "$WORK/full/data"
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME [serve flags...]: a server on a free loopback port; sets PORT.
start() {
    local name=$1; shift
    mkdir -p "$WORK/$name"
    "$BIN" --data-dir "$WORK/$name/data" serve --listen 127.0.0.1 --port 0 --no-https \
        --ready-file "$WORK/$name/ready.json" "$@" >"$WORK/$name/out" 2>"$WORK/$name/log" &
    PIDS+=($!)
    for _ in $(seq 1 300); do [ -s "$WORK/$name/ready.json" ] && break; sleep 0.1; done
    [ -s "$WORK/$name/ready.json" ] || { echo "$name did not start: $(cat "$WORK/$name/log")" >&2; exit 1; }
    PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/$name/ready.json")
}
row() { printf '%s\t%s\n' "$1" "$2"; }

# Items 1, 3, 4, 5, 6, 9: the SCEP, HTTP and admin probes. Item 8's modes
# are read first: the probe tool opens the store itself.
start main
TOKEN=$(head -n1 "$WORK/main/data/admin-token")
modes=$(cd "$WORK/main/data" && stat -c '%n %a' . scep-lab.db scep-lab.db-wal scep-lab.db-shm admin-token | tr '\n' ' ')
"$PROBES" "http://127.0.0.1:$PORT/scep" "$WORK/main/data" "$TOKEN"
if grep -q "^forged-log-line" "$WORK/main/log"; then
    row "9 the text log after that transactionID" "a forged line starts with 'forged-log-line'"
else
    row "9 the text log after that transactionID" "one line: $(grep -o 'txid="PROBE[^"]*"' "$WORK/main/log" | head -n1)"
fi

# Item 8: secrets at rest.
row "8 modes of the data directory and store files" "$modes"
start held --config <(printf '[approval]\nmode = "manual"\n')
row "8 PKCSReq held for approval" "$("$PROBES" enroll "http://127.0.0.1:$PORT/scep")"
challenge_hex=$(printf 'scep-lab-challenge' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
if sqlite3 "$WORK/held/data/scep-lab.db" "SELECT hex(csr) FROM pending_requests" | grep -q "$challenge_hex"; then
    row "8 the held CSR in the store" "holds the challengePassword in clear"
else
    row "8 the held CSR in the store" "no challengePassword ($(sqlite3 "$WORK/held/data/scep-lab.db" "SELECT COUNT(*) FROM pending_requests") held)"
fi

# Item 2: the Apple profile in NDES dynamic mode, anonymous then with a login.
cat >"$WORK/ndes.toml" <<'TOML'
[ndes]
admin_users = ["admin:admin-pass"]
TOML
start ndes --preset ndes-default --config "$WORK/ndes.toml"
with_password=0
for i in 1 2 3 4 5 6; do
    curl -s -D "$WORK/ndes/h" -o "$WORK/ndes/p.mobileconfig" "http://127.0.0.1:$PORT/profiles/apple.mobileconfig"
    grep -q "<key>Challenge</key>" "$WORK/ndes/p.mobileconfig" && with_password=$((with_password + 1))
done
row "2 six anonymous profile downloads (NDES dynamic)" \
    "$with_password carried a one-time password; $(grep -i '^X-Scep-Lab-Challenge' "$WORK/ndes/h" | tr -d '\r')"
page=$(curl -s -u admin:admin-pass "http://127.0.0.1:$PORT/certsrv/mscep_admin/" | iconv -f UTF-16LE -t UTF-8 2>/dev/null)
if echo "$page" | grep -q "password cache is full"; then c="cache full (locked out)"; else c="a password is issued"; fi
row "2 the admin page afterwards" "$c"
code=$(curl -s -u admin:admin-pass -o "$WORK/ndes/q.mobileconfig" -w '%{http_code}' "http://127.0.0.1:$PORT/profiles/apple.mobileconfig")
grep -q "<key>Challenge</key>" "$WORK/ndes/q.mobileconfig" && c="carries a one-time password" || c="no challenge"
row "2 profile with the mscep_admin login" "$code, $c"

# Item 7: a full disk under the running server.
if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/full/data" && mount -t tmpfs -o size=4m tmpfs "$WORK/full/data" 2>/dev/null; then
    start full
    dd if=/dev/zero of="$WORK/full/data/filler" bs=64k >/dev/null 2>&1
    answer=""
    for _ in $(seq 1 40); do
        answer=$("$PROBES" enroll "http://127.0.0.1:$PORT/scep")
        case "$answer" in FAILURE*) break ;; esac
    done
    row "7 PKCSReq on a full disk" "$answer"
    row "7 /readyz while the disk is full" "$(curl -s -w ' (%{http_code})' "http://127.0.0.1:$PORT/readyz" | tr -d '\n')"
    row "7 what the server log says" "$(grep -o 'store error: [^"]*' "$WORK/full/log" | head -n1 | cut -c1-100)"
    rm -f "$WORK/full/data/filler"
    row "7 /readyz once there is space" "$(curl -s -w ' (%{http_code})' "http://127.0.0.1:$PORT/readyz" | tr -d '\n')"
else
    row "7 full disk" "skipped (needs root and tmpfs)"
fi
