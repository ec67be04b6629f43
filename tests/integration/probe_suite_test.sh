#!/usr/bin/env bash
# scep-lab probe --suite rfc8894 (docs/probe.md) with the fault catalogue as
# its oracle: against the strict RFC 8894 preset with no fault the suite has
# no finding; with each fault kind that breaks RFC 8894 armed, at least one
# check reports it; with each kind RFC 8894 allows, none does. Plus --dry-run
# and the reports.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

start_server --preset plain-rfc8894 --challenge "$CHALLENGE"
TOKEN=$(head -1 "$WORK/data/admin-token")
API="http://127.0.0.1:$PORT/admin/api/faults"
findings() {
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["suite"]
print(" ".join(c["id"] for c in s["checks"] if c["result"] == "finding"))' "$1"
}
suite() {
    local out=$1
    shift
    set +e
    "$SCEP_LAB" probe "$URL" --suite rfc8894 --challenge "$CHALLENGE" --timeout 5 --format json "$@" >"$out" 2>"$out.err"
    RC=$?
    set -e
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))["suite"]' "$out" 2>/dev/null ||
        fail "the suite wrote no JSON report (exit $RC): $(head -c 400 "$out") $(tail -3 "$out.err")"
}

suite clean.json --markdown clean.md --junit clean.xml
[ "$RC" = 0 ] || fail "plain-rfc8894 without faults: exit $RC, findings: $(findings clean.json)"
[ -z "$(findings clean.json)" ] || fail "plain-rfc8894 without faults has findings: $(findings clean.json)"
checks=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["suite"]; print(len([c for c in s["checks"] if c["id"].split(".")[0] != "shape"]))' clean.json)
[ "$checks" -ge 40 ] || fail "only $checks checks besides the persona shapes"
python3 -c '
import json, sys
for c in json.load(open(sys.argv[1]))["suite"]["checks"]:
    assert c["section"].startswith("§") or "RFC" in c["section"], c
' clean.json || fail "a check without its RFC 8894 section"
python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' clean.xml || fail "the JUnit report is not XML"
contains -F '| `neg.md5` | §2.9 | pass |' <clean.md || fail "the Markdown report lacks neg.md5: $(grep md5 clean.md)"
echo "ok: plain-rfc8894 without faults: $checks checks and the persona shapes, no finding; JSON, Markdown, JUnit"

before=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates")
suite dry.json --dry-run
after=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates")
[ "$before" = "$after" ] || fail "--dry-run issued $((after - before)) certificate(s)"
[ "$RC" = 0 ] || fail "--dry-run: exit $RC: $(findings dry.json)"
echo "ok: --dry-run issues nothing"

# Fault kinds RFC 8894 allows (docs/faults.md says what a client does with
# each): a compliance suite must not call them violations.
LEGAL=" no-signing-time extra-attribute signature-algorithm-with-digest forced-cipher chain-in-degenerate certificate-other-subject delay-headers delay-body getcacert-issuing-only caps-lowercase caps-crlf caps-unknown-words "
kinds=$(curl -sf -H "Authorization: Bearer $TOKEN" "$API" | python3 -c 'import json,sys; print(" ".join(k["kind"] for k in json.load(sys.stdin)["kinds"]))')
[ "$(echo $kinds | wc -w)" -ge 40 ] || fail "the server lists only $(echo $kinds | wc -w) fault kinds"
detected=0
for kind in $kinds; do
    extra=""
    case $kind in
        http-status) extra=', "status": 500' ;;
        forced-cipher) extra=', "cipher": "des3"' ;;
        delay-headers | delay-body) extra=', "delay_ms": 500' ;;
    esac
    curl -sf -H "Authorization: Bearer $TOKEN" -X DELETE "$API" >/dev/null
    curl -sf -H "Authorization: Bearer $TOKEN" -X POST -d "{\"kind\": \"$kind\"$extra}" "$API" >/dev/null || fail "arming $kind"
    suite "fault-$kind.json"
    got=$(findings "fault-$kind.json")
    case "$LEGAL" in
        *" $kind "*)
            [ -z "$got" ] || fail "$kind is allowed by RFC 8894, yet the suite reports: $got" ;;
        *)
            [ -n "$got" ] || fail "$kind breaks RFC 8894 and no check reports it"
            [ "$RC" = 1 ] || fail "$kind: findings ($got) but exit $RC"
            detected=$((detected + 1))
            echo "ok: $kind: $got" ;;
    esac
done
curl -sf -H "Authorization: Bearer $TOKEN" -X DELETE "$API" >/dev/null
echo "PASS: probe suite ($detected fault kinds reported, $(echo $LEGAL | wc -w) allowed ones not)"
