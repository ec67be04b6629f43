#!/usr/bin/env bash
# `scep-lab conformance` verdicts hold for any client (issue 29): the whole
# catalogue through a wrapper script around scepclient — one that keeps the
# GetCACert answers it was sent, the way some wrappers do — scores exactly as
# the built-in scepclient profile; a stand-in that crashes under the wrapper
# (exit 139, bash's "Segmentation fault" line) is a crash, not a refusal; a
# "client" that only prints a certificate enrolls nothing and exercises no
# fault. The two catalogue runs go side by side (their time is scepclient's
# 30-second PENDING polls).
. "$(dirname "$0")/lib.sh"
CRASHER=$(readlink -f "${2:?usage: $0 scep-lab crashing_client}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v curl >/dev/null || skip "curl not installed"
cd "$WORK"

cat >wrapper.sh <<'SH'
#!/bin/bash
# scepclient the way a CI job calls it: a script that fetches and keeps the
# CA certificates, enrolls, and (on CRASH_ON's case) runs a client part that
# crashes; the script's exit status is its last command's.
url=$1 challenge=$2 dir=$3 cn=$4
curl -s "$url?operation=GetCACert" | openssl pkcs7 -inform DER -print_certs -out "$dir/ca-certs.pem" 2>/dev/null || true
scepclient -server-url "$url" -challenge "$challenge" -private-key "$dir/key.pem" -certificate "$dir/cert.pem" -cn "$cn"
status=$?
# (In a sanitized build the stand-in is instrumented too: its sanitizer
# must let the signal through, as an uninstrumented client would.)
if [ -n "${CRASH_ON:-}" ]; then
    ASAN_OPTIONS=handle_segv=0:${ASAN_OPTIONS:-} UBSAN_OPTIONS=handle_segv=0:${UBSAN_OPTIONS:-} "$CRASHER" "$dir" "$CRASH_ON" || exit $?
fi
exit $status
SH
export CRASHER

# 1. The whole catalogue, the profile and the wrapper side by side.
libs=$(ldd "$SCEP_LAB")
if grep -q libasan <<<"$libs"; then
    echo "skipped the whole-catalogue comparison: a sanitized build (it runs in the plain build; the rest runs here)"
else
    rc_profile=0 rc_wrapper=0
    "$SCEP_LAB" conformance --client scepclient --timeout 35 --no-fail --markdown profile.md --work-dir profile \
        >profile.txt 2>profile.err &
    p1=$!
    "$SCEP_LAB" conformance --timeout 35 --no-fail --markdown wrapper.md --junit wrapper.xml --work-dir wrapped -- \
        bash "$WORK/wrapper.sh" {url} {challenge} {dir} {cn} >wrapper.txt 2>wrapper.err &
    p2=$!
    wait $p1 || rc_profile=$?
    wait $p2 || rc_wrapper=$?
    [ "$rc_profile" = 0 ] || fail "the profile run exited $rc_profile: $(tail -5 profile.err)"
    [ "$rc_wrapper" = 0 ] || fail "the wrapper run exited $rc_wrapper: $(tail -5 wrapper.err)"
    # | case | expected | verdict | outcome | detail |
    verdicts() { awk -F' [|] ' '/^[|] [a-z]/ && $1 != "| Case" {sub(/^[|] /, "", $1); print $1, $3}' "$1"; }
    verdicts profile.md >profile.verdicts
    verdicts wrapper.md >wrapper.verdicts
    n=$("$SCEP_LAB" conformance --list | wc -l)
    [ "$(wc -l <profile.verdicts)" = "$n" ] || fail "the profile scored $(wc -l <profile.verdicts) of $n cases"
    diff profile.verdicts wrapper.verdicts >verdicts.diff ||
        fail "the wrapper's verdicts differ from the profile's: $(cat verdicts.diff)"
    # The saved GetCACert answers were there, and the foreign RA's did not count as a certificate written.
    grep -q "BEGIN CERTIFICATE" wrapped/cases/getcacert-other-ra/ca-certs.pem ||
        fail "the wrapper kept no GetCACert answer in getcacert-other-ra"
    grep -q "^getcacert-other-ra pass$" wrapper.verdicts || fail "getcacert-other-ra: $(grep getcacert-other-ra wrapper.md)"
    grep -q "^pending-forever pass$" wrapper.verdicts || fail "pending-forever: $(grep pending-forever wrapper.md)"
    grep -q "| pending-forever | poll | pass | no answer (killed after 35 s) | still polling at the timeout (polled 1 time)" wrapper.md ||
        fail "pending-forever does not say how the client polled: $(grep pending-forever wrapper.md)"
    # A template's report: the script's name, a JUnit class name without its dot.
    grep -q "^### wrapper.sh" wrapper.md || fail "the wrapper's scorecard title: $(head -1 wrapper.md)"
    grep -q 'classname="scep-lab.conformance.wrapper_sh"' wrapper.xml || fail "JUnit class name: $(grep -m1 classname wrapper.xml)"
    # The refusals quote the client's error, not its last (stale) line.
    grep "^| bad-signature |" wrapper.md | contains "client: parsing pkiMessage response" ||
        fail "bad-signature's detail: $(grep '^| bad-signature' wrapper.md)"
    echo "ok: the whole catalogue ($n cases) scores the same through a wrapper that keeps GetCACert answers"
    cat wrapper.txt | tail -2
fi

# 2. A client part that crashes under the wrapper: exit 139 and bash's line.
rc=0
CRASH_ON=truncated-body "$SCEP_LAB" conformance --case truncated-body --case base64-body --timeout 30 \
    --client-name "crashing scepclient" --client-version "stand-in 1" --markdown crash.md --work-dir crash -- \
    bash "$WORK/wrapper.sh" {url} {challenge} {dir} {cn} >crash.txt 2>&1 || rc=$?
cat crash.txt
[ "$rc" = 1 ] || fail "a crash exited $rc, not 1"
grep -q "^truncated-body *FAIL *crash (SIGSEGV under a wrapper (exit 139))" crash.txt || fail "the crash: $(grep truncated-body crash.txt)"
grep -q "Segmentation fault" crash/cases/truncated-body/client.log || fail "bash printed no crash line"
grep -q "^base64-body *reported" crash.txt || fail "base64-body (no crash there): $(grep base64-body crash.txt)"
grep -q "^### crashing scepclient" crash.md && grep -q "^Client: stand-in 1\." crash.md || fail "--client-name/--client-version: $(head -3 crash.md)"
echo "ok: a crash under a wrapper is a FAIL (crash), not a refusal"

# 3. A "client" that only prints a certificate: it never enrolls and no fault meets it.
cert=$(ls "$WORK"/crash/cases/baseline/cert.pem)
rc=0
"$SCEP_LAB" conformance --case no-envelope --case getcacert-other-ra --timeout 10 -- sh -c 'cat "$0"' "$cert" >cat.txt 2>&1 || rc=$?
cat cat.txt
[ "$rc" = 1 ] || fail "the printing client exited $rc, not 1 (its baseline fails)"
grep -q "^baseline *FAIL *refused (exit 0)" cat.txt || fail "baseline: $(grep ^baseline cat.txt)"
grep -q "^no-envelope *not exercised .*the client sent no PKIOperation request" cat.txt || fail "no-envelope: $(grep ^no-envelope cat.txt)"
grep -q "^getcacert-other-ra *not exercised .*the client sent no GetCACert request" cat.txt || fail "getcacert-other-ra: $(grep ^getcacert-other-ra cat.txt)"
grep -q "0 pass, 1 FAIL, 0 reported, 2 not exercised" cat.txt || fail "summary: $(tail -1 cat.txt)"
echo "ok: a client that only prints a certificate scores nothing but a failed baseline"
# 4. Devices in the loop (docs/conformance.md's worked example, run as
# written): scepclient started in the background by a trigger, a check for
# its certificate; the verdicts equal the command mode's on the same cases.
# The same with certmonger (its profile's script started by the trigger).
# All four runs side by side.
verdicts() { awk -F' [|] ' '/^[|] [a-z]/ && $1 != "| Case" {sub(/^[|] /, "", $1); print $1, $3}' "$1"; }
# (between the markers: the fence lines go, the shell text stays)
example=$(sed -n '/<!-- observe-example:begin -->/,/<!-- observe-example:end -->/p' "$ROOT/docs/conformance.md" |
    sed '1,2d;$d' | sed '$d')
grep -q "scep-lab conformance --trigger" <<<"$example" || fail "no worked example in docs/conformance.md"
scep-lab() { "$SCEP_LAB" "$@"; }
mkdir -p observe && cd observe
cases=$(grep -o -- "--case [a-z0-9-]*" <<<"$example" | tr '\n' ' ')
# shellcheck disable=SC2086
"$SCEP_LAB" conformance --client scepclient --timeout 40 --no-fail --markdown command.md $cases >command.txt 2>&1 &
p_command=$!
cm_cases="--case bad-signature --case wrong-recipient-nonce --case no-signing-time --case getcacert-other-ra --case caps-empty --case http-status-500"
have_cm=0
if command -v certmonger >/dev/null && command -v dbus-run-session >/dev/null; then
    have_cm=1
    # shellcheck disable=SC2086
    "$SCEP_LAB" conformance --client certmonger --timeout 60 --no-fail --markdown cm-command.md --work-dir cm-command \
        $cm_cases >cm-command.txt 2>&1 &
    p_cm=$!
    for _ in $(seq 1 100); do [ -s cm-command/cases/baseline/certmonger-client.sh ] && break; sleep 0.1; done
    cp cm-command/cases/baseline/certmonger-client.sh "$WORK/certmonger-client.sh" || fail "no certmonger profile script"
    # shellcheck disable=SC2086,SC2016
    "$SCEP_LAB" conformance --trigger "sh '$WORK/certmonger-client.sh' \"\$SCEP_LAB_URL\" \"\$SCEP_LAB_CHALLENGE\" \"\$SCEP_LAB_DIR\" \"\$SCEP_LAB_CN\" >/dev/null 2>&1 &" \
        --check 'test -s "$SCEP_LAB_DIR/cert.pem"' --settle 5 --timeout 60 --no-fail --markdown cm-device.md \
        --work-dir cm-device $cm_cases >cm-device.txt 2>&1 &
    p_cm_device=$!
fi
eval "$example" >device.txt 2>device.err || fail "the worked example failed: $(tail -5 device.err)"
wait $p_command || fail "the command-mode run: $(tail -5 command.txt)"
cat device.txt
verdicts command.md >command.verdicts
verdicts device.md >device.verdicts
[ "$(wc -l <device.verdicts)" -ge 8 ] || fail "the worked example scored $(wc -l <device.verdicts) cases: $(cat device.txt)"
diff command.verdicts device.verdicts >device.diff || fail "observe mode's verdicts differ from command mode's: $(cat device.diff)"
grep -q "(observed)" device.md && fail "the check should tell every case: $(grep observed device.md)"
grep -q "^| pending-forever | poll | pass | no certificate (check); 1 retry or poll | polled 1 time" device.md ||
    fail "pending-forever observed: $(grep pending-forever device.md)"
echo "ok: the worked example (a device stand-in behind a trigger, a check) scores as command mode"
if [ "$have_cm" = 1 ]; then
    wait $p_cm || fail "certmonger command mode: $(tail -5 cm-command.txt)"
    wait $p_cm_device || fail "certmonger observe mode: $(tail -5 cm-device.txt)"
    cat cm-device.txt
    verdicts cm-command.md >cm-command.verdicts
    verdicts cm-device.md >cm-device.verdicts
    [ "$(wc -l <cm-device.verdicts)" = 7 ] || fail "certmonger observe mode scored $(wc -l <cm-device.verdicts) cases"
    diff cm-command.verdicts cm-device.verdicts >cm.diff || fail "certmonger: observe mode differs from command mode: $(cat cm.diff)"
    echo "ok: certmonger behind a trigger scores as its profile"
fi
cd "$WORK"

# 5. Without a check, what the log cannot tell is marked observed; a trigger
# that fails is not exercised; the prompt of --manual is on the status page.
rc=0
"$SCEP_LAB" conformance --trigger 'exit 3' --case bad-signature --timeout 10 --no-fail >failed-trigger.txt 2>&1 || rc=$?
grep -q "^baseline *not exercised *trigger failed (exit 3)" failed-trigger.txt || fail "a failing trigger: $(cat failed-trigger.txt)"
"$SCEP_LAB" conformance --trigger "$(grep -A3 "^trigger=" <<<"$example" | sed "1s/^trigger='//;\$s/'\$//")" --settle 3 --timeout 20 \
    --case wrong-recipient-nonce --no-fail --markdown unchecked.md >unchecked.txt 2>&1 || fail "an unchecked run: $(cat unchecked.txt)"
grep -q "^wrong-recipient-nonce *reported\* *observed: no further request" unchecked.txt || fail "unchecked: $(cat unchecked.txt)"
grep -q "| wrong-recipient-nonce | refuse | reported (observed) |" unchecked.md || fail "unchecked scorecard: $(cat unchecked.md)"
grep -q "^baseline *pass *enrolled" unchecked.txt || fail "unchecked baseline: $(cat unchecked.txt)"
echo "ok: without a check the lab says what it cannot tell"
for bad in "--trigger x --client scepclient" "--check x --client scepclient" "--device-cn x --client scepclient" "--trigger x -- scepclient"; do
    rc=0
    # shellcheck disable=SC2086
    "$SCEP_LAB" conformance $bad >bad.txt 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "conformance $bad: exit $rc: $(cat bad.txt)"
done
echo "ok: observe options out of place are refused"

# --manual: the prompt is in the terminal and on the lab's status page while a case waits.
"$SCEP_LAB" conformance --manual --case bad-signature --timeout 6 --no-fail --work-dir manual >manual.txt 2>manual.err &
p_manual=$!
for _ in $(seq 1 100); do [ -s manual/server/ready.json ] && break; sleep 0.1; done
base=$(sed -n 's/.*"base_url":"\([^"]*\)".*/\1/p' manual/server/ready.json)
[ -n "$base" ] || fail "the manual run's lab did not start"
page=""
for _ in $(seq 1 30); do
    page=$(curl -s "$base/" || true)
    grep -q 'id="prompt"' <<<"$page" && break
    sleep 0.2
done
grep -q "conformance case 1/2: baseline" <<<"$page" || fail "no prompt on the status page: $(grep -c . <<<"$page") lines"
grep -q "Make the device enroll now" <<<"$page" || fail "the prompt says what to do"
wait $p_manual || true
grep -q "== conformance case 2/2: bad-signature" manual.err || fail "no prompt in the terminal: $(cat manual.err)"
grep -q "The fault is armed: a CertRep whose signature does not verify" manual.err ||
    grep -q "The fault is armed:" manual.err || fail "the prompt names the fault: $(cat manual.err)"
grep -q "^baseline *FAIL *nothing seen" manual.txt || fail "a device that never came: $(cat manual.txt)"
echo "ok: --manual prompts in the terminal and on the status page"
# 6. The inspector names a story that stops after GetCACert, with what the
# client was sent: here the RA and the issuing CA without the CAs above it.
export SCEP_LAB_ADMIN_TOKEN=catalogue-test-token-0123456789
start_server
"$SCEP_LAB" fault add --url "http://127.0.0.1:$PORT" getcacert-issuing-only >/dev/null || fail "fault add"
curl -s -o /dev/null "$URL?operation=GetCACaps"
curl -s -o /dev/null "$URL?operation=GetCACert"
api() { curl -s -H "Authorization: Bearer $SCEP_LAB_ADMIN_TOKEN" "http://127.0.0.1:$PORT/admin/api/$1"; }
api "transactions?finding=flow.stopped-after-getcacert" | contains '"total":0' || fail "raised before the client was quiet"
sleep 6
api "transactions?finding=flow.stopped-after-getcacert" >stopped.json
id=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"]==1, d; print(d["items"][0]["id"])' stopped.json) ||
    fail "no flow.stopped-after-getcacert: $(cat stopped.json)"
detail=$(api "transactions/$id" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([f.get("detail", "") for f in d["detail"]["findings"] if f["id"] == "flow.stopped-after-getcacert"][0])')
grep -q "no root: a client that needs the whole chain from the reply cannot build it" <<<"$detail" ||
    fail "the finding's detail: $detail"
echo "ok: a client that stops after GetCACert is named, with what it was sent"
echo "PASS: conformance verdicts through a wrapper"
