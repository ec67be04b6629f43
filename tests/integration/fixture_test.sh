#!/usr/bin/env bash
# scripts/fixture.sh (issue 7): start writes an env file a pipeline can
# source; a real client enrolls with it; the admin token in it works;
# SCEP_LAB_SERIAL_SEED makes the serial the documented SHA-256 value; stop
# ends the server cleanly and removes the data dir.
set -euo pipefail
BIN=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
FIXTURE=$(cd "$(dirname "$0")/../.." && pwd)/scripts/fixture.sh
WORK=$(mktemp -d /tmp/scep-lab-fixture-test.XXXXXX)
export SCEP_LAB_FIXTURE_ENV="$WORK/fixture.env" SCEP_LAB_BIN="$BIN"
cleanup() { [ -f "$SCEP_LAB_FIXTURE_ENV" ] && "$FIXTURE" stop >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v scepclient >/dev/null || { echo "SKIP: scepclient not installed"; exit 77; }

SCEP_LAB_SERIAL_SEED=fixture-test "$FIXTURE" start 2>"$WORK/start.log" || fail "start: $(cat "$WORK/start.log")"
[ "$(stat -c %a "$SCEP_LAB_FIXTURE_ENV")" = 600 ] || fail "the env file (it holds the admin token) is not 0600"
# shellcheck disable=SC1090
. "$SCEP_LAB_FIXTURE_ENV"
for v in SCEP_LAB_URL SCEP_LAB_HTTPS_URL SCEP_LAB_CHALLENGE SCEP_LAB_CA_CHAIN SCEP_LAB_ROOT_CA SCEP_LAB_ADMIN_TOKEN SCEP_LAB_PID; do
    [ -n "${!v:-}" ] || fail "$v missing from the env file"
done
"$FIXTURE" start 2>"$WORK/again.log" && fail "a second start over a running fixture succeeded"
grep -q "exists" "$WORK/again.log" || fail "second start did not explain: $(cat "$WORK/again.log")"

mkdir "$WORK/dev"
scepclient -server-url "$SCEP_LAB_URL" -challenge "$SCEP_LAB_CHALLENGE" -private-key "$WORK/dev/key.pem" \
    -certificate "$WORK/dev/cert.pem" >"$WORK/dev/log" 2>&1 || fail "scepclient failed: $(tail -3 "$WORK/dev/log")"
openssl verify -CAfile "$SCEP_LAB_ROOT_CA" -untrusted "$SCEP_LAB_CA_CHAIN" "$WORK/dev/cert.pem" >/dev/null ||
    fail "certificate does not verify against the env file's chain"
serial=$(openssl x509 -in "$WORK/dev/cert.pem" -noout -serial | cut -d= -f2)
want=$(python3 -c 'import hashlib; b=bytearray(hashlib.sha256(b"fixture-test:0").digest()[:16]); b[0]=(b[0]&0x7f)|1; print(b.hex().upper())')
[ "$serial" = "$want" ] || fail "with SCEP_LAB_SERIAL_SEED=fixture-test the first serial is $serial, expected $want"
echo "ok: env file complete; scepclient enrolled; serial is SHA-256(\"fixture-test:0\") as documented"

found=$(curl -sf -H "Authorization: Bearer $SCEP_LAB_ADMIN_TOKEN" "$SCEP_LAB_BASE_URL/admin/api/certificates?serial=$serial")
grep -q "\"total\":1" <<<"$found" || fail "admin API with the env file's token did not find $serial"
curl -sf --cacert "$SCEP_LAB_ROOT_CA" "${SCEP_LAB_HTTPS_URL%/scep}/readyz" >/dev/null || fail "HTTPS /readyz failed"
echo "ok: the admin token and the HTTPS URL from the env file work"

"$FIXTURE" stop 2>"$WORK/stop.log" || fail "stop failed: $(cat "$WORK/stop.log")"
kill -0 "$SCEP_LAB_PID" 2>/dev/null && fail "scep-lab still runs after stop"
[ -e "$SCEP_LAB_DATA_DIR" ] && fail "the data dir was not removed"
[ -e "$SCEP_LAB_FIXTURE_ENV" ] && fail "the env file was not removed"
"$FIXTURE" stop 2>/dev/null && fail "stop without a fixture succeeded"
echo "ok: stop ends the server and removes its data; a second stop says there is nothing to stop"

# 4. What serve arguments set is what the env file says: the challenge...
"$FIXTURE" start -- --challenge my-ci-secret 2>"$WORK/start2.log" || fail "start --challenge: $(cat "$WORK/start2.log")"
grep -qx "SCEP_LAB_CHALLENGE=my-ci-secret" "$SCEP_LAB_FIXTURE_ENV" ||
    fail "--challenge my-ci-secret is not in the env file: $(grep CHALLENGE "$SCEP_LAB_FIXTURE_ENV")"
[ "$("$FIXTURE" challenge)" = my-ci-secret ] || fail "fixture.sh challenge does not print the static challenge"
. "$SCEP_LAB_FIXTURE_ENV"
mkdir "$WORK/dev2"
scepclient -server-url "$SCEP_LAB_URL" -challenge "$SCEP_LAB_CHALLENGE" -private-key "$WORK/dev2/key.pem"     -certificate "$WORK/dev2/cert.pem" >"$WORK/dev2/log" 2>&1 || fail "scepclient with --challenge: $(tail -3 "$WORK/dev2/log")"
"$FIXTURE" stop 2>/dev/null
echo "ok: --challenge reaches the env file and scepclient enrolls with it"

# ...and an NDES preset: the env file has the NDES URLs and says passwords
# come from the admin page; `fixture.sh challenge` reads one; scepclient enrolls.
unset SCEP_LAB_CHALLENGE
"$FIXTURE" start -- --preset ndes-default 2>"$WORK/start3.log" || fail "start --preset ndes-default: $(cat "$WORK/start3.log")"
. "$SCEP_LAB_FIXTURE_ENV"
[ "${SCEP_LAB_CHALLENGE_MODE:-}" = ndes-admin-page ] || fail "ndes-default: challenge mode is ${SCEP_LAB_CHALLENGE_MODE:-unset}"
[ -z "${SCEP_LAB_CHALLENGE:-}" ] || fail "ndes-default: a static challenge is in the env file: $SCEP_LAB_CHALLENGE"
[[ "${SCEP_LAB_NDES_URL:-}" == */certsrv/mscep/mscep.dll ]] || fail "no NDES URL in the env file"
[[ "${SCEP_LAB_NDES_ADMIN_URL:-}" == */certsrv/mscep_admin/ ]] || fail "no NDES admin page URL in the env file"
password=$("$FIXTURE" challenge) || fail "fixture.sh challenge read no NDES password"
[[ "$password" =~ ^[0-9A-F]{16}$ ]] || fail "not an NDES password: $password"
mkdir "$WORK/dev3"
scepclient -server-url "$SCEP_LAB_NDES_URL" -challenge "$password" -private-key "$WORK/dev3/key.pem"     -certificate "$WORK/dev3/cert.pem" >"$WORK/dev3/log" 2>&1 || fail "scepclient against ndes-default: $(tail -3 "$WORK/dev3/log")"
echo "ok: --preset ndes-default: NDES URLs in the env file, a one-time password from fixture.sh challenge enrolls"

# 5. A fixture whose server died (kill -9: no clean stop) does not block the next start.
kill -KILL "$SCEP_LAB_PID"
for _ in $(seq 1 100); do kill -0 "$SCEP_LAB_PID" 2>/dev/null || break; sleep 0.05; done
data=$SCEP_LAB_DATA_DIR
"$FIXTURE" start 2>"$WORK/start4.log" || fail "start after a killed fixture: $(cat "$WORK/start4.log")"
grep -q "gone" "$WORK/start4.log" || fail "the stale env file was not reported: $(cat "$WORK/start4.log")"
"$FIXTURE" stop 2>/dev/null
rm -rf "$data"
echo "ok: an env file left by a killed server is replaced, with a note"

# 6. A start that fails leaves nothing: no env file, no temporary data dir.
mkdir "$WORK/tmp"
TMPDIR="$WORK/tmp" "$FIXTURE" start -- --port 99999 2>"$WORK/start5.log" && fail "start with --port 99999 succeeded"
grep -q "65535" "$WORK/start5.log" || fail "the failed start did not show the server's reason: $(cat "$WORK/start5.log")"
[ -e "$SCEP_LAB_FIXTURE_ENV" ] && fail "a failed start left the env file"
[ -z "$(ls -A "$WORK/tmp")" ] || fail "a failed start left $(ls "$WORK/tmp") behind"
echo "ok: a failed start prints the server's reason and leaves nothing behind"
echo "PASS: fixture (7 checks)"
