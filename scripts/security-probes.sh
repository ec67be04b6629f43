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
if grep -q "$challenge_hex" <<<"$(sqlite3 "$WORK/held/data/scep-lab.db" "SELECT hex(csr) FROM pending_requests")"; then
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
if grep -q "password cache is full" <<<"$page"; then c="cache full (locked out)"; else c="a password is issued"; fi
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

# Round two, probes that need their own server.
# 18: log.capture_dir made under umask 000, then a planted <name>.tmp link.
echo precious >"$WORK/victim"
umask 000
start capture --config <(printf '[log]\ncapture_dir = "%s"\n' "$WORK/capture/captures")
umask 022
row "18 log.capture_dir made by the server (umask 000)" "mode $(stat -c '%a' "$WORK/capture/captures")"
ln -s "$WORK/victim" "$WORK/capture/captures/1-PROBETX.request.der.tmp"  # the first capture's name
"$PROBES" enroll "http://127.0.0.1:$PORT/scep" CN=probe-capture scep-lab-challenge PROBETX >/dev/null
row "18 a planted <capture>.tmp link to another file" "the other file holds: $(cat "$WORK/victim")"
# 19: a webhook URL with a credential in its query, unreachable.
start webhook --config <(printf '[challenge]\nmode = "webhook"\nwebhook_url = "http://127.0.0.1:1/hook?token=probe-s3cret"\nwebhook_timeout = "1s"\n')
answer=$("$PROBES" enroll "http://127.0.0.1:$PORT/scep")
where=""
echo "$answer" | grep -c probe-s3cret >/dev/null && where="$where the reply,"
curl -s "http://127.0.0.1:$PORT/transactions.json" | grep -c probe-s3cret >/dev/null && where="$where /transactions.json,"
grep -c probe-s3cret "$WORK/webhook/log" >/dev/null && where="$where the log,"
curl -s -H "Authorization: Bearer $(head -n1 "$WORK/webhook/data/admin-token")" "http://127.0.0.1:$PORT/admin/api/config" |
    grep -c probe-s3cret >/dev/null && where="$where /admin/api/config,"
row "19 webhook_url with ?token=, unreachable" "${where:- the token is in no reply, page, log or config view;} $(echo "$answer" | cut -c1-80)"
# 20, 21: api challenges: a pattern binding, a subject-only binding, the NDES admin page.
start api --config <(printf '[challenge]\nmode = "api"\n')
API_TOKEN=$(head -n1 "$WORK/api/data/admin-token")
new_challenge() {
    curl -s -H "Authorization: Bearer $API_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"bindings\":$1}" "http://127.0.0.1:$PORT/admin/api/challenges" | sed -n 's/.*"challenge":"\([0-9A-F]*\)".*/\1/p'
}
c1=$(new_challenge '{"subject_regex":"CN=laptop-42(,.*)?"}')
c2=$(new_challenge '{"subject_regex":"CN=laptop-42(,.*)?"}')
row "20 challenge bound to CN=laptop-42(,.*)?, CSR CN=attacker,O=xCN=laptop-42" \
    "$("$PROBES" enroll "http://127.0.0.1:$PORT/scep" "CN=attacker,O=xCN=laptop-42" "$c1" | cut -c1-110)"
row "20 the same binding, CSR CN=laptop-420" "$("$PROBES" enroll "http://127.0.0.1:$PORT/scep" "CN=laptop-420" "$c2" | cut -c1-110)"
c3=$(new_challenge '{"subject":"CN=laptop-42"}')
row "20 challenge bound to subject CN=laptop-42 only, CSR CN=laptop-42 + SAN email:administrator@corp" \
    "$("$PROBES" enroll "http://127.0.0.1:$PORT/scep" "CN=laptop-42" "$c3" "" "administrator@corp" | cut -c1-110)"
start apindes --config <(printf '[challenge]\nmode = "api"\n[ndes]\nenabled = true\nadmin_encoding = "utf-8"\n')
passwords=0; full=0
for _ in $(seq 1 20); do
    page=$(curl -s "http://127.0.0.1:$PORT/certsrv/mscep_admin/")
    echo "$page" | grep -c "enrollment challenge password is" >/dev/null && passwords=$((passwords + 1))
    echo "$page" | grep -c "password cache is full" >/dev/null && full=$((full + 1))
done
row "21 twenty anonymous NDES admin-page visits (api challenges)" "$passwords passwords, $full 'cache is full' pages"
# 22: scep-lab challenge-server: a signed GenerateChallenge sent twice, and one an hour old.
"$BIN" challenge-server --secret k --port-file "$WORK/cs.port" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$WORK/cs.port" ] && break; sleep 0.1; done
CS_PORT=$(cat "$WORK/cs.port")
signed() {  # signed BODY: the HTTP status of one signed call
    local sig; sig=$(printf '%s' "$1" | openssl dgst -sha256 -hmac k | sed 's/.* //')
    curl -s -o /dev/null -w '%{http_code}' -H "X-Scep-Lab-Signature: sha256=$sig" -d "$1" "http://127.0.0.1:$CS_PORT/"
}
body="{\"scep_lab_policy\":1,\"method\":\"GenerateChallenge\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"nonce\":\"$RANDOM$RANDOM\"}"
first=$(signed "$body"); again=$(signed "$body")
old=$(signed "{\"scep_lab_policy\":1,\"method\":\"GenerateChallenge\",\"timestamp\":\"$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)\"}")
row "22 challenge-server: a signed GenerateChallenge, then the same bytes again, then one an hour old" "$first, $again, $old"
silent_start=$(date +%s%3N)
exec 7<>"/dev/tcp/127.0.0.1/$CS_PORT"
timeout 30 cat <&7 >/dev/null
exec 7>&-
row "22 challenge-server: a connection that sends nothing" "closed after $((($(date +%s%3N) - silent_start) / 1000)) s"
