#!/usr/bin/env bash
# [challenge] mode = "api" with micromdm scepclient: challenges from
# `scep-lab challenge add` (the admin API) are single use, expire, can be
# revoked, hold their bindings (subject, key, client), survive a restart, and
# two enrollments racing for one single-use challenge give exactly one
# certificate. Only hashes reach the disk.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v curl >/dev/null || skip "curl not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
command -v iconv >/dev/null || skip "iconv not installed"

lab() { "$SCEP_LAB" --data-dir "$WORK/data" "$@"; }
cd "$WORK"
printf '[challenge]\nmode = "api"\n' >api.toml
start_server --config api.toml
base="http://127.0.0.1:$PORT"
new_challenge() { lab challenge add --url "$base" "$@" | head -1; }
# enroll NAME CHALLENGE: 0 when scepclient got a certificate
enroll() {
    mkdir -p "$1"
    scepclient -server-url "$URL" -challenge "$2" -private-key "$1/key.pem" -certificate "$1/cert.pem" -cn "$1" \
        >"$1/log" 2>&1
}
refused() {  # NAME CHALLENGE WHY: refused with badMessageCheck and WHY in the server log
    enroll "$1" "$2" && fail "$1: enrolled, should have been refused ($3)"
    grep -c "failInfo: badMessageCheck" "$1/log" >/dev/null || fail "$1: not badMessageCheck: $(tail -2 "$1/log")"
    grep -c "$3" server.log >/dev/null || fail "$1: the log does not say \"$3\""
}

# 1. single use
ch=$(new_challenge --label dev-one) || fail "challenge add failed"
[[ "$ch" =~ ^[0-9A-F]{32}$ ]] || fail "not a 32-hex-digit challenge: $ch"
enroll one "$ch" || fail "a fresh challenge did not enroll: $(tail -3 one/log)"
verify_chain one/cert.pem
refused one-again "$ch" "has been used"
echo "ok: a challenge from the admin API enrolls once"

# 2. expiry, revocation, unknown
ch=$(new_challenge --ttl 1s)
sleep 2
refused late "$ch" "has expired"
ch=$(new_challenge --label to-revoke)
id=$(lab challenge list --url "$base" | awk '/to-revoke/ {print $1}')
[ -n "$id" ] || fail "the challenge is not listed: $(lab challenge list --url "$base")"
lab challenge revoke "$id" --url "$base" >/dev/null || fail "revoke $id"
refused revoked "$ch" "was revoked"
refused unknown 0123456789ABCDEF0123456789ABCDEF "unknown challenge password"
echo "ok: expired, revoked and unknown challenges are refused"

# 3. bindings: each refuses a request that does not fit, and the challenge stays usable
ch=$(new_challenge --subject-regex '.*CN=dev-bound.*')
refused not-bound "$ch" "does not fit this request"
enroll dev-bound "$ch" || fail "the bound subject did not enroll: $(tail -3 dev-bound/log)"
ch=$(new_challenge --key-type ec)
refused rsa-key "$ch" "bound to an EC key"
ch=$(new_challenge --min-key-bits 4096)
refused small-key "$ch" "asks for at least 4096"
ch=$(new_challenge --client 192.0.2.1)
refused other-client "$ch" "bound to another client address"
ch=$(new_challenge --client 127.0.0.1 --key-type rsa --min-key-bits 2048)
enroll right-client "$ch" || fail "the bound client did not enroll: $(tail -3 right-client/log)"
echo "ok: subject, key type, key size and client bindings hold"

# 4. two enrollments race for one single-use challenge: exactly one certificate
ch=$(new_challenge --label race)
enroll race-a "$ch" & a=$!
enroll race-b "$ch" & b=$!
ra=0; rb=0
wait "$a" || ra=$?
wait "$b" || rb=$?
wins=0
[ "$ra" = 0 ] && wins=$((wins + 1))
[ "$rb" = 0 ] && wins=$((wins + 1))
[ "$wins" = 1 ] || fail "racing enrollments: $wins got a certificate, want exactly 1 ($(tail -1 race-a/log); $(tail -1 race-b/log))"
echo "ok: two racing enrollments, one single-use challenge: exactly one certificate"

# 5. a restart keeps the challenges; only hashes are stored
ch=$(new_challenge --label survivor)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_server --config api.toml
base="http://127.0.0.1:$PORT"
enroll survivor "$ch" || fail "a challenge did not survive the restart: $(tail -3 survivor/log)"
grep -c "$ch" data/challenges.db >/dev/null && fail "the challenge value is in challenges.db"
[ "$(stat -c %a data/challenges.db)" = 600 ] || fail "challenges.db is not owner-only"
lab challenge list --url "$base" --all >all.txt
grep -c "survivor" all.txt >/dev/null && grep "survivor" all.txt | grep -c " used " >/dev/null ||
    fail "the spent challenge is not listed as used: $(cat all.txt)"
echo "ok: challenges survive a restart; challenges.db holds hashes only (0600)"

# The status page lists the live ones, masked.
shown=$(new_challenge --label on-the-page --subject-regex '.*CN=<b>.*')
curl -s "$base/" >status.html
grep -c "on-the-page" status.html >/dev/null || fail "the status page does not list the challenge"
grep -c "$shown" status.html >/dev/null && fail "the status page shows a challenge value"
grep -c "CN=<b>" status.html >/dev/null && fail "a binding reached the page unescaped"
grep -c "CN=&lt;b&gt;" status.html >/dev/null || fail "the binding is not on the page (escaped)"
echo "ok: the status page lists live challenges without their values, bindings escaped"

# 6. bad requests to the API get clear errors and change nothing
code=$(curl -s -o bad.json -w '%{http_code}' -H "Authorization: Bearer $(cat data/admin-token)" \
    -d '{"bindings": {"owner": "me"}}' "$base/admin/api/challenges")
[ "$code" = 400 ] && grep -c "unknown binding" bad.json >/dev/null || fail "unknown binding: $code $(cat bad.json)"
code=$(curl -s -o bad2.json -w '%{http_code}' -H "Authorization: Bearer $(cat data/admin-token)" \
    -d '{"ttl": "forever"}' "$base/admin/api/challenges")
[ "$code" = 400 ] || fail "ttl forever: $code $(cat bad2.json)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$base/admin/api/challenges")" = 401 ] || fail "no token accepted"
echo "ok: malformed challenge requests are refused"

# 7. NDES mode: the admin page hands out single-use challenges from the store
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[challenge]\nmode = "api"\ndefault_ttl = "30m"\n[ndes]\nenabled = true\n' >ndes-api.toml
start_server --config ndes-api.toml
curl -s "http://127.0.0.1:$PORT/certsrv/mscep_admin/" | iconv -f UTF-16 -t UTF-8 >admin.html
page_pw=$(grep -oP 'The enrollment challenge password is: <B> \K[0-9A-F]{32}' admin.html) ||
    fail "no 32-hex-digit challenge on the admin page: $(head -c 400 admin.html)"
grep -c "expire within 30 minutes" admin.html >/dev/null || fail "the page does not give default_ttl"
mkdir -p from-page
scepclient -server-url "http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll" -challenge "$page_pw" \
    -private-key from-page/key.pem -certificate from-page/cert.pem -cn from-page >from-page/log 2>&1 ||
    fail "the admin page's challenge did not enroll: $(tail -3 from-page/log)"
lab challenge list --url "http://127.0.0.1:$PORT" --all | grep "NDES admin page" | grep -c " used " >/dev/null ||
    fail "the admin page's challenge is not listed as used"
echo "ok: in NDES mode the admin page hands out single-use challenges from the store"
echo "PASS: api challenges (8 checks)"
