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
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v curl >/dev/null || skip "curl not installed"
cd "$WORK"

cat >wrapper.sh <<'SH'
#!/bin/bash
# scepclient the way a CI job calls it: a script that fetches and keeps the
# CA certificates, enrolls, and (on CRASH_ON's case) runs a client part that
# crashes; the script's exit status is its last command's.
url=$1 challenge=$2 dir=$3 cn=$4
curl -s -o "$dir/ca-certs.p7b" "$url?operation=GetCACert" || true
scepclient -server-url "$url" -challenge "$challenge" -private-key "$dir/key.pem" -certificate "$dir/cert.pem" -cn "$cn"
status=$?
if [ -n "${CRASH_ON:-}" ]; then "$CRASHER" "$dir" "$CRASH_ON" || exit $?; fi
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
    openssl pkcs7 -inform DER -in wrapped/cases/getcacert-other-ra/ca-certs.p7b -print_certs -noout >/dev/null ||
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
echo "PASS: conformance verdicts through a wrapper"
