#!/usr/bin/env bash
# scep-lab probe (docs/probe.md): every device persona against scep-lab's
# presets, against micromdm's scepserver (Debian `scep`), against servers
# whose faults a device would refuse, and against hostile servers; each
# verdict read from the JSON report and, where a certificate was issued,
# from the server's own store.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
cd "$WORK"

# probe OUT.json [probe args...]: runs the probe, keeps its exit status in RC.
probe() {
    local out=$1
    shift
    set +e
    "$SCEP_LAB" probe "$@" --format json >"$out" 2>"$out.err"
    RC=$?
    set -e
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out" 2>/dev/null ||
        fail "probe $* wrote no JSON report (exit $RC): $(head -c 600 "$out") $(tail -3 "$out.err")"
}
# step OUT.json PERSONA STEP FIELD: one field of one step ("result", "kind", "device_error", "summary").
step() {
    python3 - "$@" <<'PY'
import json, sys
report, persona, step, field = sys.argv[1:5]
for run in json.load(open(report))["personas"]:
    if run["persona"] == persona:
        for s in run["steps"]:
            if s["step"] == step:
                print(s.get(field, ""))
                sys.exit(0)
print("<no such step>")
PY
}
# expect OUT.json PERSONA STEP RESULT [TEXT]: the step's result, and TEXT in its summary or device error.
expect() {
    local got
    got=$(step "$1" "$2" "$3" result)
    [ "$got" = "$4" ] || fail "$2 $3: expected \"$4\", got \"$got\": $(step "$1" "$2" "$3" summary) [$(step "$1" "$2" "$3" device_error)]"
    if [ $# -ge 5 ]; then
        { step "$1" "$2" "$3" summary; step "$1" "$2" "$3" device_error; } | contains -F -- "$5" ||
            fail "$2 $3: \"$5\" not in: $(step "$1" "$2" "$3" summary) [$(step "$1" "$2" "$3" device_error)]"
    fi
}
PERSONAS="rfc8894 android-jscep cisco-ios ios windows-intune"
footprint_in_store() {
    python3 -c '
import json, sys
for run in json.load(open(sys.argv[1]))["personas"]:
    for m in run["footprint"]:
        print(m["serial"])' "$1" >"$1.serials"
    [ -s "$1.serials" ] || fail "$1: no certificate in the footprint"
    while read -r serial; do
        n=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE upper(serial) = upper('$serial')")
        [ "$n" = 1 ] || fail "footprint serial $serial is not in the server's store"
    done <"$1.serials"
    echo "ok: the footprint's $(wc -l <"$1.serials") serials are the store's"
}
restart() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK/data"
    start_server "$@"
    TOKEN=$(head -1 "$WORK/data/admin-token")
}
ndes_url() { sed -n 's/.*"ndes_url":"\([^"]*\)".*/\1/p' "$WORK/ready.json"; }

# --- bad files are named before anything is sent
echo "not a certificate" >bad.pem
set +e
"$SCEP_LAB" probe http://127.0.0.1:9/scep --persona ios --trust bad.pem >bad.out 2>bad.err
rc=$?
set -e
[ "$rc" = 1 ] && contains -F -- "--trust bad.pem" <bad.err || fail "a bad --trust file: exit $rc, $(cat bad.err)"
set +e
"$SCEP_LAB" probe http://127.0.0.1:9/scep --persona ios --challenge-file missing.txt >bad.out 2>bad.err
rc=$?
set -e
[ "$rc" = 1 ] && contains -F "missing.txt" <bad.err || fail "a missing --challenge-file: exit $rc, $(cat bad.err)"
echo "ok: a bad --trust file and a missing --challenge-file are named before any request"

# --- the default lab: every persona enrolls, renews as it renews, and the footprint is the store's
start_server
TOKEN=$(head -1 "$WORK/data/admin-token")
probe default.json "$URL" --persona all --challenge "$CHALLENGE" --markdown default.md --junit default.xml
[ "$RC" = 0 ] || fail "default lab: exit $RC, expected 0: $(cat default.json | head -c 400)"
for p in $PERSONAS; do
    expect default.json "$p" enroll passed SUCCESS
    expect default.json "$p" renew passed SUCCESS
done
expect default.json rfc8894 renew passed "RenewalReq signed by the old certificate"
expect default.json cisco-ios renew passed "PKCSReq signed by the old certificate"
expect default.json ios renew passed "a new enrollment"
expect default.json rfc8894 GetCert passed
expect default.json rfc8894 GetCRL passed "a CRL from"
expect default.json ios GetCert skipped
footprint_in_store default.json
python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' default.xml || fail "the JUnit report is not XML"
contains -F '| windows-intune | ok | ok | ok |' <default.md || fail "the Markdown matrix lacks the windows-intune row: $(head -12 default.md)"
"$SCEP_LAB" probe "$URL" --persona all --challenge "$CHALLENGE" >default.txt || fail "text report: exit $?"
contains -E '^ios +ok +ok +ok' <default.txt || fail "the text matrix: $(head -10 default.txt)"
echo "ok: every persona enrolls and renews against the default lab; reports: text, JSON, Markdown, JUnit"

# What each persona sent, as the lab's inspector recorded it.
txs() {
    curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/admin/api/transactions?limit=200" >txs.json
    python3 - txs.json "$1" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
print("\n".join(json.dumps(i) for i in items if sys.argv[2] in json.dumps(i)))
PY
}
txs "pkiclient.exe" | contains -F 'NDES client' || fail "no request from the Windows User-Agent reached /pkiclient.exe"
txs "Cisco PKI" | contains -F '"GET"' || fail "the Cisco persona's requests are not GETs"
echo "ok: the lab recorded the Windows persona's /pkiclient.exe requests and the Cisco persona's GETs"
# The inspector names the device: each persona's requests are consistent with it, and only with it.
count() { python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
for p in android-jscep cisco-ios ios windows-intune; do
    n=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/admin/api/transactions?device=$p&operation=PKIOperation&limit=1000" | count)
    [ "$n" -ge 4 ] || fail "the inspector names only $n PKIOperation rows $p"
    python3 - txs.json "$p" <<'PY' || fail "a request of the $p persona is not named $p"
import json, sys
uas = {"ios": "profiled/", "windows-intune": "Mozilla/4.0 (compatible; Win32", "android-jscep": "Dalvik/",
       "cisco-ios": "Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)"}
rows = [i for i in json.load(open(sys.argv[1]))["items"] if i["user_agent"].startswith(uas[sys.argv[2]])]
bad = [(r["id"], r["operation"], r["device"]) for r in rows if r["device"] != sys.argv[2]]
assert rows and not bad, bad
PY
done
txs "scep-lab-probe (rfc8894)" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert rows and all(r["device"] == "" for r in rows), [r["device"] for r in rows]' ||
    fail "the generic RFC 8894 client was taken for a device"
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/admin/api/transactions?device=nokia" | contains -F 'is not a persona' ||
    fail "an unknown device filter is not refused by name"
echo "ok: the inspector names each persona's requests (device=NAME filters them); the RFC 8894 client is no device"

# --- a dry run issues nothing
before=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates")
probe dry.json "$URL" --persona all --dry-run
[ "$RC" = 0 ] || fail "dry run: exit $RC"
after=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates")
[ "$before" = "$after" ] || fail "a dry run issued $((after - before)) certificate(s)"
expect dry.json ios enroll skipped "dry run"
expect dry.json ios GetCACert passed
echo "ok: --dry-run reads GetCACaps and GetCACert and issues nothing"

# --- the device would refuse the server
restart --challenge "lab_secret!"
probe charset.json "$URL" --persona windows-intune --persona ios --challenge "lab_secret!"
[ "$RC" = 1 ] || fail "a challenge Windows cannot encode: exit $RC"
expect charset.json windows-intune enroll "the device would refuse the server" "0x2ab0003"
[ "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["personas"]; print(sum(len(s["exchanges"]) for p in r if p["persona"]=="windows-intune" for s in p["steps"] if s["step"]=="enroll"))' charset.json)" = 0 ] ||
    fail "the Windows persona sent a PKIOperation with a challenge it cannot encode"
expect charset.json ios enroll passed
echo "ok: a challenge outside PrintableString stops the Windows persona before it sends (0x2ab0003); iOS enrolls"

# One-use challenges from the lab's challenge API, a new one per enrollment.
cat >api.toml <<'TOML'
[challenge]
mode = "api"
TOML
restart --config api.toml
probe api.json "$URL" --persona ios --persona rfc8894 --admin-token "$TOKEN"
[ "$RC" = 0 ] || fail "challenges from the lab's API: exit $RC: $(head -c 600 api.json)"
expect api.json ios renew passed "a new enrollment"
used=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/admin/api/challenges?all=true" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); items=d["challenges"] if isinstance(d,dict) else d; print(sum(1 for c in items if c.get("state")=="used"))')
[ "$used" = 3 ] || fail "expected 3 used one-use challenges (iOS enroll and re-enroll, RFC 8894 enroll), found $used"
echo "ok: one-use challenges fetched from the lab's API, one per enrollment ($used used)"

cat >nodigest.toml <<'TOML'
[scep]
capabilities = ["POSTPKIOperation", "AES"]
TOML
restart --config nodigest.toml
probe nodigest.json "$URL" --persona ios --persona rfc8894 --challenge "$CHALLENGE"
expect nodigest.json ios GetCACaps "the device would refuse the server" "22006"
expect nodigest.json rfc8894 enroll passed
echo "ok: capabilities without a digest stop iOS (22006); the RFC 8894 client falls back to SHA-1"

# Fault rules a device refuses (docs/faults.md), each armed for PKIOperation replies.
arm() { curl -sf -H "Authorization: Bearer $TOKEN" -X POST -d "$1" "http://127.0.0.1:$PORT/admin/api/faults" >/dev/null || fail "arming $1"; }
clear_faults() { curl -sf -H "Authorization: Bearer $TOKEN" -X DELETE "http://127.0.0.1:$PORT/admin/api/faults" >/dev/null; }
restart
for case in "unknown-signer:reply-signature:22003" "wrong-recipient-nonce:reply-nonce:4001" \
            "missing-transaction-id:reply-attribute:4001" "certificate-other-key:reply-certificate:22008" \
            "wrong-content-type:reply-content-type:4001"; do
    IFS=: read -r kind want code <<<"$case"
    clear_faults
    arm "{\"kind\": \"$kind\", \"when\": {\"operation\": \"PKIOperation\"}}"
    probe "fault-$kind.json" "$URL" --persona ios --challenge "$CHALLENGE"
    expect "fault-$kind.json" ios enroll "the device would refuse the server" "$code"
    [ "$(step "fault-$kind.json" ios enroll kind)" = "$want" ] ||
        fail "$kind: the iOS persona stopped with $(step "fault-$kind.json" ios enroll kind), expected $want"
done
clear_faults
echo "ok: five CertRep faults stop the iOS persona with its documented codes"

# --- NDES presets: the one-time password from the admin page (UTF-16), IIS's query limit
restart --preset ndes-default
probe ndes.json "$(ndes_url)" --persona all --ndes-user u --ndes-password p
[ "$RC" = 0 ] || fail "ndes-default with admin-page passwords: exit $RC: $(head -c 600 ndes.json)"
expect ndes.json windows-intune enroll passed
echo "ok: every persona enrolls against ndes-default with one-time passwords read from the admin page"
restart --preset ndes-legacy
probe legacy.json "$(ndes_url)" --persona all --ndes-user u --ndes-password p
for p in $PERSONAS; do expect legacy.json "$p" enroll "refused by the server"; done
expect legacy.json windows-intune enroll "refused by the server" "0x80190194"
expect legacy.json cisco-ios GetCACaps passed "digest sha1 (SHA-1 advertised), cipher des3 (DES3 advertised), GET"
echo "ok: ndes-legacy (no POST, IIS maxQueryString 2048) refuses every persona's GET with 404 (Windows: 0x80190194)"
restart --preset plain-rfc8894 --challenge "$CHALLENGE"
probe plain.json "$URL" --persona all --challenge "$CHALLENGE"
expect plain.json cisco-ios enroll "refused by the server" "badAlg"
expect plain.json ios enroll passed
echo "ok: plain-rfc8894 (no SHA-1, no DES3) refuses the Cisco persona's MD5/DES request (badAlg); the others enroll"
restart --preset ndes-pending-approval
probe pending.json "$(ndes_url)" --persona ios --ndes-user u --ndes-password p
expect pending.json ios poll "the device would refuse the server" "still PENDING after 3 polls"
echo "ok: a request held for approval is polled as the persona polls and given up"

# --- micromdm's scepserver, side by side
if command -v scepserver >/dev/null; then
    mkdir -p micromdm && (cd micromdm && scepserver ca -init -depot depot >/dev/null 2>&1) || fail "scepserver ca -init"
    scepserver -depot micromdm/depot -port 0 -challenge secret >micromdm/log 2>&1 &
    MPID=$!
    MPORT=""
    for _ in $(seq 1 50); do
        # `|| true`: until scepserver listens grep finds nothing, and under set -e
        # a failed assignment would end the script without a word.
        MPORT=$(ss -Hltnp 2>/dev/null | grep "pid=$MPID," | grep -oE ':[0-9]+ ' | head -1 | tr -d ': ' || true)
        [ -n "$MPORT" ] && break
        sleep 0.1
    done
    [ -n "$MPORT" ] || { kill $MPID; fail "scepserver did not listen: $(cat micromdm/log)"; }
    probe micromdm.json "http://127.0.0.1:$MPORT/scep" --persona all --challenge secret
    # The same personas and suite against scep-lab's micromdm-like preset and micromdm itself.
    restart --preset micromdm-like --challenge "$CHALLENGE"
    set +e
    "$SCEP_LAB" probe --compare "$URL" "http://127.0.0.1:$MPORT/scep" --challenge "$CHALLENGE" --challenge-b secret \
        --format json --markdown compare.md >compare.json 2>compare.err
    CRC=$?
    set -e
    kill $MPID
    [ "$CRC" = 1 ] || fail "--compare of two different servers: exit $CRC: $(tail -3 compare.err)"
    python3 - compare.json <<'PY' || fail "--compare: $(head -c 600 compare.json)"
import json, sys
c = json.load(open(sys.argv[1]))
d = {x["what"]: (x["a"], x["b"]) for x in c["differences"]}
def has(what, a, b):
    assert what in d, (what, sorted(d))
    assert d[what][0].startswith(a) and d[what][1].startswith(b), (what, d[what])
has("rfc8894 GetCert", "passed", "refused by the server: HTTP 500")
has("rfc8894 GetCRL", "passed", "refused by the server: HTTP 500")
has("windows-intune GetCACert", "passed", "refused by the server: HTTP 404")
has("cisco-ios GetCACert", "passed", "refused by the server: HTTP 404")
has("suite getcrl", "pass", "finding")
assert "ios enroll" not in d, d.get("ios enroll")  # both enroll an iPhone
# The visible configuration too (scep-lab clone's comparison): the CA's name differs; serials only counted.
has("configuration cert.issuing.subject", "C=US (PrintableString), O=scep-ca (UTF8String)", "C=US (PrintableString), O=scep-ca (PrintableString)")
assert c["configuration_expected_differences"] > 0, c["configuration_expected_differences"]
assert not any(k.endswith(".serial") for k in d), sorted(d)
PY
    contains -F '| rfc8894 GetCert | passed | refused by the server: HTTP 500 |' <compare.md || fail "the Markdown comparison: $(head -12 compare.md)"
    echo "ok: --compare scep-lab (micromdm-like) with micromdm: GetCert/GetCRL 500 and /pkiclient.exe 404 on micromdm only; iOS enrolls on both"
    expect micromdm.json ios GetCACert passed "one certificate (the CA does both RA roles)"
    expect micromdm.json ios enroll passed
    expect micromdm.json android-jscep enroll passed
    expect micromdm.json rfc8894 GetCert "refused by the server" "HTTP 500"
    expect micromdm.json rfc8894 GetCRL "refused by the server" "HTTP 500"
    expect micromdm.json windows-intune GetCACert "refused by the server" "HTTP 404"
    expect micromdm.json cisco-ios GetCACert "refused by the server" "HTTP 404"
    echo "ok: micromdm's scepserver: iOS and Android enroll; no GetCert/GetCRL (500); /pkiclient.exe is 404"
else
    echo "note: scepserver is not installed; the micromdm comparison did not run"
fi

# --- two labs with the same preset: no difference
restart --preset plain-rfc8894 --challenge "$CHALLENGE"
FIRST_URL=$URL
FIRST_PID=$SERVER_PID
mkdir -p second
"$SCEP_LAB" --preset plain-rfc8894 serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$WORK/second/data" \
    --ready-file "$WORK/second/ready.json" --challenge "$CHALLENGE" >second/out 2>second/log &
SECOND_PID=$!
for _ in $(seq 1 300); do [ -s second/ready.json ] && break; sleep 0.1; done
SECOND_URL=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' second/ready.json)
set +e
"$SCEP_LAB" probe --compare "$FIRST_URL" "$SECOND_URL" --challenge "$CHALLENGE" >same.txt 2>same.err
SRC=$?
set -e
kill $SECOND_PID
wait $SECOND_PID 2>/dev/null || true
[ "$SRC" = 0 ] || fail "two labs with the same preset differ (exit $SRC): $(head -20 same.txt) $(tail -3 same.err)"
contains -F 'no difference' <same.txt || fail "--compare of two equal labs: $(head -5 same.txt)"
contains "visible configuration property came out the same (.* key, serial and date differences aside)" <same.txt ||
    fail "--compare did not compare the configuration: $(head -5 same.txt)"
echo "ok: --compare of two labs with the same preset finds no difference"

# --- hostile servers: each ends with a clear finding within its timeout
python3 "$HERE/hostile_server.py" "$WORK/hostile.port" >hostile.log 2>&1 &
HPID=$!
for _ in $(seq 1 50); do [ -s hostile.port ] && break; sleep 0.1; done
[ -s hostile.port ] || fail "the hostile server did not start: $(cat hostile.log)"
HPORT=$(cat hostile.port)
for case in "garbage:the device would refuse the server:GetCACert" "hang:refused by the server:no answer within" \
            "redirect-loop:the device would refuse the server:more than 3 redirects" \
            "huge:refused by the server:body limit"; do
    IFS=: read -r path want text <<<"$case"
    start=$(date +%s)
    probe "hostile-$path.json" "http://127.0.0.1:$HPORT/$path" --persona rfc8894 --timeout 3 --challenge x
    took=$(($(date +%s) - start))
    [ "$RC" = 1 ] || { kill $HPID; fail "hostile $path: exit $RC"; }
    [ "$took" -le 20 ] || { kill $HPID; fail "hostile $path took $took s"; }
    first=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["personas"][0]["steps"]; print(next(s["step"] for s in r if s["result"] not in ("passed","skipped")))' "hostile-$path.json")
    expect "hostile-$path.json" rfc8894 "$first" "$want" "$text"
    echo "ok: hostile server ($path): $first $want within $took s"
done
kill $HPID
echo "PASS: probe"
