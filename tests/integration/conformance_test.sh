#!/usr/bin/env bash
# `scep-lab conformance` (docs/conformance.md) against real clients: a short
# subset of cases with micromdm scepclient — one a correct client passes
# (bad-signature: scepclient refuses it), one scepclient fails
# (wrong-recipient-nonce: it installs the certificate) — checked in the table,
# the exit code, the Markdown and the JUnit XML; the same through a command
# template; certmonger's profile on one case; bad options refused by name.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
cd "$WORK"

rc=0
"$SCEP_LAB" conformance --client scepclient --case bad-signature --case wrong-recipient-nonce --case caps-lowercase \
    --timeout 30 --markdown card.md --junit card.xml --work-dir runs >table.txt 2>err.txt || rc=$?
cat table.txt
[ "$rc" = 1 ] || fail "exit $rc with a FAIL among the cases (want 1): $(cat err.txt)"
row() { awk -v c="$1" '$1 == c {print $2; exit}' table.txt; }
[ "$(row baseline)" = pass ] || fail "baseline: $(grep '^baseline' table.txt)"
[ "$(row bad-signature)" = pass ] || fail "bad-signature: $(grep '^bad-signature' table.txt)"
grep -q "^bad-signature .*refused (exit [1-9]" table.txt || fail "bad-signature was not refused"
[ "$(row wrong-recipient-nonce)" = FAIL ] || fail "wrong-recipient-nonce: $(grep '^wrong-recipient-nonce' table.txt)"
grep -q "^wrong-recipient-nonce .*certificate written.*should have refused" table.txt || fail "the FAIL says why"
[ "$(row caps-lowercase)" = pass ] || fail "caps-lowercase: $(grep '^caps-lowercase' table.txt)"
grep -q "^3 pass, 1 FAIL, 0 reported" table.txt || fail "the summary: $(tail -1 table.txt)"
# The runs' evidence: the FAIL case's directory holds the certificate scepclient wrote.
openssl x509 -in runs/cases/wrong-recipient-nonce/cert.pem -noout -subject | grep -c >/dev/null "conformance-wrong-recipient-nonce" ||
    fail "no certificate in the FAIL case's directory"
[ ! -e runs/cases/bad-signature/cert.pem ] || fail "bad-signature left a certificate"
echo "ok: table and exit code (bad-signature pass, wrong-recipient-nonce FAIL)"

grep -q "| wrong-recipient-nonce | refuse | \*\*FAIL\*\* | certificate written |" card.md || fail "Markdown: $(cat card.md)"
grep -q "| bad-signature | refuse | pass | refused" card.md || fail "Markdown bad-signature row"
grep -q "^Client: scep [0-9]" card.md || fail "Markdown names no client version: $(head -3 card.md)"
python3 - card.xml <<'PY' || fail "JUnit XML: $(cat card.xml)"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
cases = {c.get("name"): c for c in suite.findall("testcase")}
assert suite.get("tests") == "4" and suite.get("failures") == "1", suite.attrib
assert cases["wrong-recipient-nonce"].find("failure") is not None
assert all(cases[n].find("failure") is None for n in ("baseline", "bad-signature", "caps-lowercase"))
PY
echo "ok: Markdown and JUnit XML scorecards"

# A command template with placeholders, and --no-fail.
rc=0
"$SCEP_LAB" conformance --case wrong-recipient-nonce --timeout 30 --no-fail -- \
    scepclient -server-url {url} -challenge {challenge} -private-key {dir}/key.pem -certificate {dir}/cert.pem -cn {cn} \
    >template.txt 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "--no-fail exited $rc: $(cat template.txt)"
grep -q "^wrong-recipient-nonce *FAIL" template.txt && grep -q "^baseline *pass" template.txt ||
    fail "the template run: $(cat template.txt)"
echo "ok: a command template ({url} {challenge} {dir} {cn}) scores the same, --no-fail exits 0"

# A client that cannot enroll: the baseline says so.
rc=0
"$SCEP_LAB" conformance --case bad-signature --timeout 10 -- /bin/false >false.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "^baseline *FAIL .*does not enroll against a correct server" false.txt || fail "/bin/false: $(cat false.txt)"
rc=0
"$SCEP_LAB" conformance --case bad-signature --timeout 10 -- no-such-client-here {url} >missing.txt 2>&1 || rc=$?
grep -q "could not be executed" missing.txt || fail "a missing command: $(cat missing.txt)"
# A client that never ends is killed at the timeout and counted as a hang.
rc=0
"$SCEP_LAB" conformance --case bad-signature --timeout 2 -- sleep 30 >hang.txt 2>&1 || rc=$?
grep -q "^baseline *FAIL *no answer (killed after 2 s)" hang.txt || fail "sleep 30: $(cat hang.txt)"
echo "ok: a failing, a missing and a hanging client are classified"

# Bad options: refused by name, exit 2, nothing run.
for args in "--client nosuch" "--case no-such-case --client scepclient" "" "--client scepclient -- scepclient"; do
    rc=0
    # shellcheck disable=SC2086
    "$SCEP_LAB" conformance $args >bad.txt 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "conformance $args: exit $rc, not 2: $(cat bad.txt)"
    [ -s bad.txt ] || fail "conformance $args said nothing"
done
# (to a file: grep -q ending the pipe early would fail it under pipefail)
"$SCEP_LAB" conformance --list >list.txt || fail "--list exited $?"
grep -q "^pending-forever	poll	" list.txt || fail "--list: $(head -3 list.txt)"
echo "ok: bad options refused"

if command -v certmonger >/dev/null && command -v dbus-run-session >/dev/null; then
    rc=0
    "$SCEP_LAB" conformance --client certmonger --case wrong-recipient-nonce --timeout 60 >cm.txt 2>&1 || rc=$?
    cat cm.txt
    [ "$rc" = 0 ] && grep -q "^baseline *pass *certificate written" cm.txt &&
        grep -q "^wrong-recipient-nonce *pass *refused.*nonce" cm.txt || fail "certmonger profile: $(cat cm.txt)"
    echo "ok: certmonger's profile (a private daemon per case) enrolls and refuses a wrong nonce"
fi

# Against a lab that already runs (a CI job's fixture): --server with its
# admin token; the same verdicts as with a private lab; its certificates land
# in that lab's store; refused without a token or with rules armed.
export SCEP_LAB_ADMIN_TOKEN=conformance-test-token-0123456789
start_server --challenge shared-lab-secret
rc=0
"$SCEP_LAB" conformance --server "http://127.0.0.1:$PORT" --challenge shared-lab-secret --client scepclient \
    --case bad-signature --case wrong-recipient-nonce --timeout 30 >remote.txt 2>remote.err || rc=$?
cat remote.txt
[ "$rc" = 1 ] || fail "--server: exit $rc with a FAIL among the cases: $(cat remote.err)"
grep -q "against http://127.0.0.1:$PORT/scep" remote.txt || fail "--server did not score against the running lab"
grep -q "^baseline *pass" remote.txt && grep -q "^bad-signature *pass" remote.txt &&
    grep -q "^wrong-recipient-nonce *FAIL" remote.txt || fail "--server verdicts differ from a private lab's: $(cat remote.txt)"
n=$("$SCEP_LAB" --data-dir "$WORK/data" cert list --subject conformance- --format json | grep -o '"serial"' | wc -l)
[ "$n" -ge 2 ] || fail "the running lab's store holds $n conformance certificates"
curl -sf -H "Authorization: Bearer $SCEP_LAB_ADMIN_TOKEN" "http://127.0.0.1:$PORT/admin/api/faults" | contains '"faults":\[\]' ||
    fail "--server left fault rules armed"
rc=0
SCEP_LAB_ADMIN_TOKEN= "$SCEP_LAB" conformance --server "http://127.0.0.1:$PORT" --client scepclient >notoken.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "needs the lab's admin token" notoken.txt || fail "--server without a token: exit $rc: $(cat notoken.txt)"
"$SCEP_LAB" fault add --url "http://127.0.0.1:$PORT" bad-signature >/dev/null || fail "fault add"
rc=0
"$SCEP_LAB" conformance --server "http://127.0.0.1:$PORT" --client scepclient >armed.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "fault rules armed already" armed.txt || fail "--server with a rule armed: exit $rc: $(cat armed.txt)"
rc=0
"$SCEP_LAB" conformance --admin-token x --client scepclient >orphan.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "go with --server" orphan.txt || fail "--admin-token without --server: exit $rc"
echo "ok: --server scores against a running lab with its token (same verdicts; refused without a token or with rules armed)"
echo "PASS: scep-lab conformance against real clients"
