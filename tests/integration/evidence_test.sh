#!/usr/bin/env bash
# scep-lab inspect with evidence (docs/evidence.md): tcpdump captures the
# loopback while micromdm's scepclient enrolls (fails once with a wrong
# challenge, and is held PENDING once, then polls after the approval),
# certmonger enrolls through a private daemon, the lab's own bench enrolls by
# POST and GET over keep-alive connections, and curl sends HTTP/1.0 and a
# chunked POST. The capture is
# decoded and checked against what the lab's live inspector recorded of the
# same exchanges (operations, transaction IDs, statuses, findings), against
# tshark's reading of the same packets (every HTTP request and status), and
# against openssl cms on the request bodies tshark exports; HTTPS opened with
# curl's session secrets as tshark opens it. Then an IIS W3C
# log and an event log export of the same exchanges are attached to them;
# an IIS log alone has its GET PKIOperation decoded from the query; damaged
# files end with a message naming where.
HERE=$(cd "$(dirname "$0")" && pwd)  # webdriver.py
source "$HERE/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v tcpdump >/dev/null || skip "tcpdump not installed (apt-get install tcpdump)"
command -v tshark >/dev/null || skip "tshark not installed (apt-get install tshark)"
command -v chromedriver >/dev/null || skip "chromedriver not installed (Debian package chromium-driver)"
command -v evtxexport >/dev/null || skip "evtxexport not installed (apt-get install libevtx-utils)"
[ "$(id -u)" = 0 ] || skip "capturing on the loopback needs root (tcpdump)"
cd "$WORK"

command -v certmonger >/dev/null || skip "certmonger not installed"
command -v dbus-run-session >/dev/null || skip "dbus-run-session not installed"
# The lab also logs as IIS does (log.iis_dir): the IIS log of the same exchanges.
printf '[approval]\npending_subjects = ["hold-"]\n[log]\niis_dir = "%s/iis"\n' "$WORK" >"$WORK/hold.toml"
start_server --config "$WORK/hold.toml"
BASE="http://127.0.0.1:$PORT"
TOKEN=$(head -1 "$WORK/data/admin-token")

# 1. A capture of real clients.
tcpdump -i lo -U -w cap.pcap "tcp port $PORT" >/dev/null 2>tcpdump.log &
TCPDUMP=$!
for _ in $(seq 1 100); do grep -q "listening on" tcpdump.log 2>/dev/null && break; sleep 0.1; done
grep -q "listening on" tcpdump.log || fail "tcpdump did not start: $(cat tcpdump.log)"
stop_tcpdump() { kill -INT "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true; }
trap 'stop_tcpdump; cleanup' EXIT

# Each device in its own directory: scepclient keeps its CSR (csr.pem) in the current one and reuses it.
mkdir dev1 dev2
(cd dev1 && scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key key.pem -certificate cert.pem -cn dev1 \
    >../sc1.log 2>&1) || fail "scepclient enrollment: $(cat sc1.log)"
rc=0
(cd dev2 && scepclient -server-url "$URL" -challenge wrong-secret -private-key key.pem -certificate cert.pem -cn dev2 \
    >../sc2.log 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "scepclient enrolled with a wrong challenge"
# Held for approval: scepclient is stopped while it waits (it polls every 30 s),
# the request approved, and scepclient run again with the same key and CSR
# (the same transactionID) gets the certificate.
mkdir hold
(cd hold && timeout 5 scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key key.pem -certificate cert.pem \
    -cn hold-1 >../hold1.log 2>&1) || true
HOLD_TXID=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT transaction_id FROM pending_requests WHERE status = 'pending'")
[ -n "$HOLD_TXID" ] || fail "no pending request for hold-1: $(cat hold1.log)"
curl -sf -X POST -H "Authorization: Bearer $TOKEN" "$BASE/admin/api/pending/$(urlencode "$HOLD_TXID")/approve" >/dev/null ||
    fail "approving $HOLD_TXID"
(cd hold && timeout 60 scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key key.pem -certificate cert.pem \
    -cn hold-1 >../hold2.log 2>&1) || fail "scepclient after the approval: $(cat hold2.log)"
# certmonger, through a private daemon (tests/integration/certmonger_test.sh).
mkdir -p "$WORK"/cm/{cas,requests,config,local,home,out}
cat >"$WORK/cm/run.sh" <<SCRIPT
#!/usr/bin/env bash
set -u
export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \\
    CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \\
    CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"
out="$WORK/cm/out"
getcert add-scep-ca -s -c scep-lab -u "$URL" || exit 10
getcert request -s -c scep-lab -I cm -f "\$out/cm.pem" -k "\$out/cm.key" -L "$CHALLENGE" -N CN=cm-host.lab -w >/dev/null 2>&1
# A request that started before certmonger had the CA's certificates stops at
# CA_UNCONFIGURED: resubmitted once they are there (as in https_test.sh).
for _ in \$(seq 1 25); do
    getcert list -s -i cm >"\$out/cm.list"
    grep -q "status: CA_UNCONFIGURED" "\$out/cm.list" || break
    sleep 0.2
    getcert resubmit -s -i cm -w >/dev/null 2>&1
done
getcert list -s -i cm >"\$out/cm.list"
SCRIPT
chmod +x "$WORK/cm/run.sh"
(export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \
    CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \
    CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"
 timeout 120 dbus-run-session -- certmonger -s -n -c "$WORK/cm/run.sh" >"$WORK/cm/daemon.log" 2>&1) ||
    fail "certmonger run failed: $(tail -5 "$WORK/cm/daemon.log")"
grep -q "status: MONITORING" "$WORK/cm/out/cm.list" || fail "certmonger did not enroll: $(cat "$WORK/cm/out/cm.list")"
"$SCEP_LAB" bench "$URL" -n 3 -c 1 --no-floor >bench-post.out 2>&1 || fail "bench (POST): $(cat bench-post.out)"
"$SCEP_LAB" bench "$URL" -n 2 -c 1 --get --no-floor >bench-get.out 2>&1 || fail "bench (GET): $(cat bench-get.out)"
curl -s --http1.0 -o caps10.txt "$URL?operation=GetCACaps" || fail "curl HTTP/1.0"
# A client whose User-Agent is markup: it must stay text in every report.
HOSTILE_UA='<img src=x onerror="document.title=1"><script>document.title="pwned"</script>'
curl -s -o /dev/null -A "$HOSTILE_UA" "$URL?operation=GetCACert" || fail "curl with a hostile User-Agent"
# A chunked POST of a request the lab has seen (a retransmission: same answer).
"$SCEP_LAB" transaction list --data-dir "$WORK/data" --format json >live-before.json
REQ_ID=$(python3 -c '
import json,sys
rows=json.load(open("live-before.json"))["items"]
print(next(r["id"] for r in rows if r["operation"]=="PKIOperation" and r["pki_status"]=="SUCCESS"))')
"$SCEP_LAB" transaction show "$REQ_ID" --data-dir "$WORK/data" --format json >/dev/null
sqlite3 "$WORK/data/transactions.db" "SELECT writefile('req.der', request_der) FROM transactions WHERE id=$REQ_ID" >/dev/null
[ -s req.der ] || fail "no request DER kept for transaction $REQ_ID"
curl -s -o chunked.out -H "Transfer-Encoding: chunked" -H "Content-Type: application/x-pki-message" \
    --data-binary @req.der "$URL?operation=PKIOperation" || fail "curl chunked POST"
# tcpdump writes what it has read of the kernel's buffer: wait until the
# file holds every exchange the lab answered (and its last response) before stopping it.
"$SCEP_LAB" transaction list --data-dir "$WORK/data" --format json >live-count.json
want=$(python3 -c 'import json; print(json.load(open("live-count.json"))["total"])')
for _ in $(seq 1 100); do
    have=$(tshark -r cap.pcap -o "http.tcp.port:$PORT" -Y 'http.response_for.uri contains "/scep"' 2>/dev/null | wc -l || true)
    [ "${have:-0}" -ge "$want" ] && break
    sleep 0.2
done
[ "${have:-0}" -ge "$want" ] || fail "tcpdump wrote $have of $want answers in 20 s"
stop_tcpdump
cat "$WORK"/iis/u_ex*.log >u_ex.log || fail "the lab wrote no IIS log in $WORK/iis"
head -4 u_ex.log | contains "^#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port" || fail "not an IIS W3C header: $(head -4 u_ex.log)"
[ -s cap.pcap ] || fail "tcpdump wrote nothing"

# 2. Decoded with the lab here (its RA key opens the requests).
"$SCEP_LAB" inspect cap.pcap --data-dir "$WORK/data" --format json >ev.json 2>ev.err || fail "inspect cap.pcap: $(cat ev.err)"
"$SCEP_LAB" inspect cap.pcap --data-dir "$WORK/data" >ev.txt 2>&1 || fail "inspect (text): $(cat ev.txt)"
contains "^Client 127.0.0.1" <ev.txt || fail "the text timeline has no client: $(head -20 ev.txt)"
"$SCEP_LAB" transaction list --data-dir "$WORK/data" --format json >live.json

# The evidence's exchanges are the live inspector's, one for one, with the same decoding.
python3 - <<'PY' || fail "the capture's decoding differs from the live inspector's (above)"
import json, sys
ev = json.load(open("ev.json"))
live = json.load(open("live.json"))["items"][::-1]  # oldest first
rows = [x for c in ev["clients"] for x in c["exchanges"]]
rows.sort(key=lambda r: (r["time"], r["id"]))
ok = True
def say(*a):
    global ok
    ok = False
    print(*a, file=sys.stderr)
if len(rows) != len(live):
    say("evidence has", len(rows), "SCEP exchanges, the live log", len(live))
# Left out of the comparison: findings that depend on when the client stopped,
# and the server's own decisions that a reply does not carry (a wrong
# challenge is a FAILURE badMessageCheck on the wire; only the server knows why).
ignore = {"flow.stopped-after-getcacaps", "flow.stopped-after-getcacert", "challenge.wrong"}
for e, l in zip(rows, live):
    for k in ("method", "operation", "http_status", "message_type", "transaction_id", "pki_status", "fail_info"):
        if e[k] != l[k]:
            say(f"{l['operation']} #{l['id']}: {k} evidence={e[k]!r} live={l[k]!r}")
    ef = sorted(set(e["findings"]) - ignore)
    lf = sorted(set(l["findings"]) - ignore)
    if ef != lf:
        say(f"{l['operation']} #{l['id']} {l['transaction_id']}: findings evidence={ef} live={lf}")
ops = [r["operation"] for r in rows]
for need in ("GetCACaps", "GetCACert", "PKIOperation"):
    if need not in ops: say("no", need, "in the evidence")
statuses = {r["pki_status"] for r in rows}
if not {"SUCCESS", "FAILURE", "PENDING"} <= statuses: say("expected SUCCESS, FAILURE and PENDING, got", statuses)
# certmonger sends no User-Agent: its request is known by the subject it asked for.
subjects = {r["detail"].get("request", {}).get("csr", {}).get("subject", "") for r in rows}
if not any("cm-host.lab" in x for x in subjects): say("no certmonger request in the evidence:", subjects)
if not any("hold-1" in x for x in subjects): say("no held request in the evidence:", subjects)
methods = {(r["operation"], r["method"]) for r in rows}
if ("PKIOperation", "GET") not in methods or ("PKIOperation", "POST") not in methods:
    say("expected PKIOperation by GET and POST:", methods)
opened = [r for r in rows if r["operation"] == "PKIOperation" and r["detail"]["request"].get("csr")]
if not opened: say("no request was opened with the lab's RA key")
if ev["files"][0]["kind"] != "pcap capture": say("kind", ev["files"][0]["kind"])
sys.exit(0 if ok else 1)
PY

# tshark reads the same packets: every HTTP request (method, URI) and status, in order.
tshark -r cap.pcap -o "http.tcp.port:$PORT" -Y http.request -T fields -e http.request.method -e http.request.uri \
    2>/dev/null | sort >tshark-req.txt
tshark -r cap.pcap -o "http.tcp.port:$PORT" -Y http.response -T fields -e http.response.code \
    -e http.response_for.uri 2>/dev/null | grep "/scep" | cut -f1 | sort | uniq -c >tshark-status.txt
python3 - <<'PY' || fail "the capture's HTTP differs from tshark's"
import json, subprocess, sys, urllib.parse
ev = json.load(open("ev.json"))
rows = [x for c in ev["clients"] for x in c["exchanges"]]
tshark = sorted(l.rstrip("\n") for l in open("tshark-req.txt") if l.strip())
# tshark's URI is the request target; the row keeps the path and the query's length.
ours = sorted(f"{r['method']}\t{r['path']}" for r in rows)
# The timeline has the SCEP exchanges; the bench's /metrics reads are not.
theirs = sorted(t.split("?")[0] for t in tshark if t.split("\t")[1].startswith("/scep"))
tshark = [t for t in tshark if t.split("\t")[1].startswith("/scep")]
if ours != theirs:
    print("requests differ:\n ours  ", ours, "\n tshark", theirs, file=sys.stderr); sys.exit(1)
qlen = sorted(r["query_length"] for r in rows)
tq = sorted(len(t.split("?", 1)[1]) if "?" in t else 0 for t in tshark)
if qlen != tq:
    print("query lengths differ", qlen, tq, file=sys.stderr); sys.exit(1)
counts = {}
for r in rows: counts[str(r["http_status"])] = counts.get(str(r["http_status"]), 0) + 1
theirs = {l.split()[1]: int(l.split()[0]) for l in open("tshark-status.txt") if l.strip()}
if counts != theirs:
    print("statuses differ", counts, theirs, file=sys.stderr); sys.exit(1)
PY

# openssl cms reads the bodies tshark exports (POSTed requests, CertReps):
# every transactionID in them is one the evidence shows.
mkdir -p objects
tshark -r cap.pcap -o "http.tcp.port:$PORT" --export-objects "http,objects" >/dev/null 2>&1 || true
checked=0
for f in objects/*; do
    [ -f "$f" ] || continue
    openssl cms -cmsout -inform DER -in "$f" -print >body.cms 2>/dev/null || continue
    grep -q "pkcs7-signedData" body.cms || continue
    txid=$(tr -d '\n' <body.cms |
        sed -n 's/.*2\.16\.840\.1\.113733\.1\.9\.7.*PRINTABLESTRING:\([0-9A-Za-z+\/=]*\).*/\1/p' | cut -c1-200)
    [ -n "$txid" ] || continue
    python3 - "$txid" <<'PY' || fail "openssl's transactionID $txid is not in the evidence"
import json, sys
ev = json.load(open("ev.json"))
ids = {x["transaction_id"] for c in ev["clients"] for x in c["exchanges"]}
sys.exit(0 if sys.argv[1] in ids else 1)
PY
    checked=$((checked + 1))
done
# Ten PKIOperations at least were answered with a CertRep.
[ "$checked" -ge 10 ] || fail "openssl read only $checked SCEP messages of those tshark exported"

# 3. The lab's IIS log and an event export of the same exchanges are attached to them.
python3 - <<'PY'
import json, datetime
ev = json.load(open("ev.json"))
rows = [x for c in ev["clients"] for x in c["exchanges"]]
fail = next(datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for r in rows if r["pki_status"] == "FAILURE")
open("events.txt", "w").write("Level\tDate and Time\tSource\tEvent ID\tTask Category\n"
    f"Error\t{fail:%m/%d/%Y %I:%M:%S %p}\tMicrosoft-Windows-NetworkDeviceEnrollmentService\t29\tNone\t"
    "The password in the certificate request cannot be verified. It may have been used already.\n"
    "Error\t1/1/2020 1:00:00 AM\tMicrosoft-Windows-NetworkDeviceEnrollmentService\t30\tNone\tunrelated\n")
PY
"$SCEP_LAB" inspect events.txt u_ex.log cap.pcap --data-dir "$WORK/data" --format json >ev2.json 2>ev2.err ||
    fail "inspect with three files: $(cat ev2.err)"
python3 - <<'PY' || fail "the IIS log or the events were not attached"
import json, sys
ev = json.load(open("ev2.json"))
kinds = [f["kind"] for f in ev["files"]]
assert kinds == ["pcap capture", "IIS W3C log", "event log export"], kinds  # read in that order, whatever the command line's
iis = ev["files"][1]
rows = [x for c in ev["clients"] for x in c["exchanges"]]
assert iis["matched"] == iis["scep_lines"] == len(rows), (iis, len(rows))
assert all("iis" in r["detail"]["evidence"] for r in rows)
with_event = [r for r in rows if r["detail"]["evidence"].get("events")]
assert len(with_event) == 1 and with_event[0]["pki_status"] == "FAILURE", [r["pki_status"] for r in with_event]
assert "challenge.wrong" in with_event[0]["findings"], with_event[0]["findings"]  # event 29 says why
assert ev["unmatched_events_total"] == 1 and ev["unmatched_events"][0]["id"] == 30
PY

# The HTML report, in a real browser: the timeline and the details, no
# script (the hostile User-Agent is text), nothing fetched; its screenshot is
# the one in docs/evidence.md (EVIDENCE_SCREENSHOT_OUT=path writes it there).
"$SCEP_LAB" inspect cap.pcap u_ex.log events.txt --data-dir "$WORK/data" --html report.html >/dev/null 2>&1 ||
    fail "inspect --html"
! grep -qi "<script" report.html || fail "the report holds a script element"
DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$DPORT" --allowed-ips=127.0.0.1 >chromedriver.log 2>&1 &
DRIVER_PID=$!
trap 'kill $DRIVER_PID 2>/dev/null || true; stop_tcpdump; cleanup' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$DPORT/status" >/dev/null && break; sleep 0.1; done
ROWS=$(python3 -c 'import json; print(sum(len(c["exchanges"]) for c in json.load(open("ev.json"))["clients"]))')
cat >browser.py <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from webdriver import Session, fail
driver, page, here, rows, shot, profile = sys.argv[1:7]
b = Session(driver, profile)
try:
    b.window(1280, 1000)
    b.go("file://" + page)
    if b.title() != "scep-lab evidence report": fail("title: " + repr(b.title()))
    n = b.run("return document.querySelectorAll('table.timeline tr').length - 1;")
    if n != int(rows): fail(f"{n} rows in the timeline, {rows} exchanges")
    if b.run("return document.scripts.length;") != 0: fail("a script element in the page")
    if b.run("return document.querySelectorAll('img').length;") != 0: fail("the hostile User-Agent became an image")
    # The failed enrollment: its details open on a click and hold the NDES event and the findings.
    i = b.run("""var d = document.querySelectorAll('details');
      for (var k = 0; k < d.length; k++) if (d[k].querySelector('summary').textContent.indexOf('FAILURE') >= 0) return k;
      return -1;""")
    if i < 0: fail("no FAILURE in the details")
    b.run(f"document.querySelectorAll('details')[{i}].querySelector('summary').click(); return 1;")
    if not b.run(f"return document.querySelectorAll('details')[{i}].open;"): fail("the details did not open")
    text = b.run(f"return document.querySelectorAll('details')[{i}].innerText;")
    for want in ("cannot be verified", "envelope.single-des", "IIS"):
        if want not in text: fail(f"{want!r} not in the opened details: {text[:400]}")
    b.run(f"document.querySelectorAll('details')[{i}].scrollIntoView(); window.scrollBy(0, -300); return 1;")
    b.screenshot(shot)
    if b.title() != "scep-lab evidence report": fail("the title changed: a script ran")
    print("ok")
finally:
    b.close()
PY
python3 browser.py "http://127.0.0.1:$DPORT" "$WORK/report.html" "$HERE" "$ROWS" "$WORK/report.png" "$WORK/chrome-profile" \
    >browser.out 2>&1 || fail "browser: $(tail -5 browser.out)"
grep -q '^ok$' browser.out || fail "browser: $(cat browser.out)"
[ "$(stat -c %s report.png)" -gt 20000 ] || fail "the screenshot is empty"
[ -z "${EVIDENCE_SCREENSHOT_OUT:-}" ] || cp report.png "$EVIDENCE_SCREENSHOT_OUT"
grep -q "onerror" report.html && ! grep -q "<img" report.html || fail "the hostile User-Agent is not escaped in the report"

# The same event as an EVTX file (made by tests/support/make_evtx.py, read
# through libevtx), with an event of another program that is left out; what
# inspect reads of it must be what evtxexport reads.
FAIL_TIME=$(python3 -c '
import json
rows = [x for c in json.load(open("ev.json"))["clients"] for x in c["exchanges"]]
print(next(r["time"][:19] + "Z" for r in rows if r["pki_status"] == "FAILURE"))')
python3 "$HERE/../support/make_evtx.py" app.evtx "[
  {\"id\": 29, \"level\": 2, \"time\": \"$FAIL_TIME\", \"provider\": \"Microsoft-Windows-NetworkDeviceEnrollmentService\",
   \"data\": [\"The password in the certificate request cannot be verified. It may have been used already.\"]},
  {\"id\": 16384, \"level\": 4, \"time\": \"$FAIL_TIME\", \"provider\": \"Microsoft-Windows-Security-SPP\", \"data\": [\"x\"]},
  {\"id\": 31, \"level\": 3, \"time\": \"2020-01-01T00:00:00Z\", \"provider\": \"Microsoft-Windows-NetworkDeviceEnrollmentService\",
   \"data\": [\"a <b> & c\", \"second\"]}]" || fail "make_evtx.py"
"$SCEP_LAB" inspect app.evtx cap.pcap --data-dir "$WORK/data" --format json >ev3.json 2>ev3.err || fail "inspect with an EVTX: $(cat ev3.err)"
"$SCEP_LAB" inspect app.evtx --data-dir "$WORK/data" --format json >evtx-alone.json 2>&1 || fail "inspect app.evtx: $(cat evtx-alone.json)"
evtxexport -f xml app.evtx >evtxexport.xml 2>&1 || fail "evtxexport: $(cat evtxexport.xml)"
python3 - <<'PY' || fail "the EVTX was not read as evtxexport reads it, or not attached"
import json, re, xml.etree.ElementTree as ET
ev = json.load(open("ev3.json"))
kinds = [f["kind"] for f in ev["files"]]
assert kinds == ["pcap capture", "EVTX event log"], kinds
assert ev["files"][1]["events"] == 2 and ev["files"][1]["other_sources"] == 1 and ev["files"][1]["matched"] == 1, ev["files"][1]
rows = [x for c in ev["clients"] for x in c["exchanges"]]
attached = [r for r in rows if r["detail"].get("evidence", {}).get("events")]
assert len(attached) == 1 and attached[0]["pki_status"] == "FAILURE"
assert attached[0]["detail"]["evidence"]["events"][0]["id"] == 29
# evtxexport's reading: every <Event> of an enrollment source.
text = open("evtxexport.xml").read()
theirs = []
for block in re.findall(r"<Event .*?</Event>", text, re.S):
    e = ET.fromstring(block)
    ns = {"e": "http://schemas.microsoft.com/win/2004/08/events/event"}
    provider = e.find("e:System/e:Provider", ns).get("Name")
    if "NetworkDeviceEnrollment" not in provider: continue
    theirs.append((int(e.find("e:System/e:EventID", ns).text), provider,
                   "; ".join(d.text or "" for d in e.findall("e:EventData/e:Data", ns))))
ours = [(x["id"], x["source"], x["text"]) for x in json.load(open("evtx-alone.json"))["unmatched_events"]]
assert sorted(ours) == sorted(theirs), (ours, theirs)
assert any("a <b> & c" in t for _, _, t in ours)
PY

# HTTPS: a capture of the lab's TLS port with curl's session secrets
# (SSLKEYLOGFILE), TLS 1.3 and 1.2 with AES-GCM and ChaCha20-Poly1305, and
# one connection without secrets; tshark reads the same requests with the same keys.
HPORT=$(sed -n 's/.*"https_port":\([0-9]*\).*/\1/p' "$WORK/ready.json")
[ -n "$HPORT" ] || fail "the lab has no HTTPS port"
HURL="https://127.0.0.1:$HPORT/scep"
tcpdump -i lo -U -w tls.pcap "tcp port $HPORT" >/dev/null 2>tcpdump-tls.log &
TCPDUMP=$!
for _ in $(seq 1 100); do grep -q "listening on" tcpdump-tls.log 2>/dev/null && break; sleep 0.1; done
hcurl() { SSLKEYLOGFILE="$WORK/keys.log" curl -s --cacert "$WORK/data/pki/ca-chain.pem" -o /dev/null -w "%{http_code}" "$@"; }
hcode=$(hcurl --tls13-ciphers TLS_AES_128_GCM_SHA256 "$HURL?operation=GetCACaps")
hcode+=" $(hcurl --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 -H "Content-Type: application/x-pki-message" --data-binary @req.der "$HURL?operation=PKIOperation")"
hcode+=" $(hcurl --tls-max 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384 "$HURL?operation=GetCACert")"
hcode+=" $(hcurl --tls-max 1.2 --ciphers ECDHE-RSA-CHACHA20-POLY1305 "$HURL?operation=GetCACaps")"
hcode+=" $(curl -s --cacert "$WORK/data/pki/ca-chain.pem" -o /dev/null -w "%{http_code}" "$HURL?operation=GetCACert")"
[ "$hcode" = "200 200 200 200 200" ] || fail "curl over HTTPS: $hcode"
for _ in $(seq 1 100); do
    have=$(tshark -r tls.pcap -Y 'tcp.flags.fin == 1' 2>/dev/null | wc -l || true)
    [ "${have:-0}" -ge 10 ] && break
    sleep 0.2
done
stop_tcpdump
[ -s keys.log ] || fail "curl wrote no key log"
"$SCEP_LAB" inspect tls.pcap --tls-keylog keys.log --data-dir "$WORK/data" --format json >tls.json 2>tls.err ||
    fail "inspect --tls-keylog: $(cat tls.err)"
tshark -r tls.pcap -o "tls.keylog_file:$WORK/keys.log" -o "http.tls.port:$HPORT" -Y http.request -T fields \
    -e http.request.method -e http.request.uri 2>/dev/null | sort >tshark-tls.txt
python3 - <<'PY' || fail "the HTTPS capture was not opened as tshark opens it"
import json
ev = json.load(open("tls.json"))
rows = [x for c in ev["clients"] for x in c["exchanges"]]
got = sorted(f"{r['method']}\t{r['path']}?operation={r['operation']}" for r in rows)
theirs = [l.rstrip("\n") for l in open("tshark-tls.txt") if l.strip()]
assert got == sorted(theirs), (got, theirs)
assert len(rows) == 4, len(rows)
assert [r["pki_status"] for r in rows if r["operation"] == "PKIOperation"] == ["SUCCESS"], rows
assert all(r["detail"]["evidence"].get("tls") for r in rows)
content = sorted(t["content"] for t in ev["tls_sessions"])
assert len(content) == 5, content
assert sum(c.startswith("decrypted (TLS 1.3") for c in content) == 2, content
assert sum(c.startswith("decrypted (TLS 1.2") for c in content) == 2, content
assert sum(c.startswith("not decrypted") for c in content) == 1, content
PY
"$SCEP_LAB" inspect tls.pcap --data-dir "$WORK/data" | contains "not readable: no key log" ||
    fail "without a key log the TLS sessions do not say why they were not read"
printf 'CLIENT_RANDOM zz\n%s\n' "$(head -c 2000 /dev/zero | tr '\0' a)" >bad-keys.log
rc=0; "$SCEP_LAB" inspect tls.pcap --tls-keylog bad-keys.log --data-dir "$WORK/data" >/dev/null 2>bad-keys.err || rc=$?
[ "$rc" = 2 ] && contains "longer than 1 KiB" <bad-keys.err || fail "a broken key log: exit $rc $(cat bad-keys.err)"

# 4. A look-alike server from the capture: the same visible configuration as the lab that answered.
"$SCEP_LAB" clone --from-capture cap.pcap --out fromcap >clone.out 2>&1 || fail "clone --from-capture: $(cat clone.out)"
contains "server 127.0.0.1:$PORT" <fromcap/fidelity.md || contains "127.0.0.1:$PORT" <clone.out ||
    fail "the clone does not name the server it copied: $(head -5 clone.out)"
# Only what the capture did not show may differ: GetNextCACert was not asked, and
# the clone keeps the CertRep it saw (a URL shows none without enrolling).
rc=0; "$SCEP_LAB" clone --compare "$URL" fromcap >compare.out 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "clone --compare of the lab and its clone from the capture: exit $rc $(cat compare.out)"
others=$(grep "DIFFERS" compare.out | grep -vE "DIFFERS +(next\.status|certrep\.)" || true)
[ -z "$others" ] || fail "the clone from the capture differs from the lab: $others"
# What the clone keeps as the original is the lab's GetCACert answer, byte for byte.
curl -s -o getcacert.der "$URL?operation=GetCACert" || fail "curl GetCACert"
cmp -s getcacert.der fromcap/original/getcacert.p7b || fail "the clone's original GetCACert is not the lab's answer"
rc=0; "$SCEP_LAB" clone --from-capture u_ex.log --out fromlog >clone2.out 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -e fromlog ] && contains "logs do not" <clone2.out || fail "clone --from-capture of an IIS log: exit $rc $(cat clone2.out)"

# 5. An IIS log alone: rows from its lines, a GET PKIOperation decoded from the query, 404.15 explained.
MSG=$(python3 -c 'import base64,urllib.parse; print(urllib.parse.quote(base64.b64encode(open("req.der","rb").read()).decode(), safe=""))')
cat >iis-only.log <<EOF
#Software: Microsoft Internet Information Services 10.0
#Version: 1.0
#Date: 2026-12-05 09:00:00
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
2026-12-05 09:00:01 10.0.0.5 GET /certsrv/mscep/mscep.dll/pkiclient.exe operation=GetCACaps&message=default 443 - 192.0.2.10 Dalvik/2.1.0+(Linux;+U;+Android+14) - 200 0 0 12
2026-12-05 09:00:02 10.0.0.5 GET /certsrv/mscep/mscep.dll/pkiclient.exe operation=PKIOperation&message=$MSG 443 - 192.0.2.10 - - 200 0 0 40
2026-12-05 09:00:03 10.0.0.5 GET /certsrv/mscep/mscep.dll/pkiclient.exe operation=PKIOperation&message=MIIabc 443 - 192.0.2.10 - - 404 15 0 1
2026-12-05 09:00:04 10.0.0.5 GET /index.html - 443 - 192.0.2.11 - - 200 0 0 1
EOF
"$SCEP_LAB" inspect iis-only.log --data-dir "$WORK/data" --format json >iis.json 2>iis.err || fail "inspect iis-only.log: $(cat iis.err)"
python3 - <<'PY' || fail "the IIS-only timeline is wrong"
import json
ev = json.load(open("iis.json"))
rows = ev["clients"][0]["exchanges"]
assert ev["clients"][0]["client"] == "192.0.2.10" and len(rows) == 3, [(c["client"], len(c["exchanges"])) for c in ev["clients"]]
assert rows[1]["detail"]["request"]["csr"]["subject"], rows[1]["detail"]["request"]
assert rows[1]["transaction_id"]
assert rows[2]["detail"]["evidence"]["iis"]["meaning"].startswith("denied by request filtering: query string too long"), rows[2]
assert ev["files"][0]["lines"] == 4 and ev["files"][0]["scep_lines"] == 3
PY
"$SCEP_LAB" inspect iis-only.log --data-dir "$WORK/data" | contains "IIS 404.15" || fail "the text timeline does not show IIS 404.15"

# --import: into the running lab's transaction list, beside its own exchanges, marked.
before=$(curl -s "$BASE/transactions.json?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
"$SCEP_LAB" inspect iis-only.log --import --data-dir "$WORK/data" >import.out 2>import.err || fail "inspect --import: $(cat import.err)"
contains "imported 3 exchange" <import.err || fail "inspect --import said: $(cat import.err)"
curl -s "$BASE/transactions.json?client=192.0.2.10" >imported.json
python3 - "$before" <<'PY' || fail "the lab does not list the imported exchanges: $(cat imported.json)"
import json, sys
got = json.load(open("imported.json"))
assert got["total"] == 3, got["total"]
assert {r["operation"] for r in got["items"]} == {"GetCACaps", "PKIOperation"}
PY
IMPORTED_ID=$(python3 -c 'import json; print(json.load(open("imported.json"))["items"][0]["id"])')
curl -s "$BASE/transactions/$IMPORTED_ID" | contains "imported from" || fail "the imported exchange's page does not say so"
after=$(curl -s "$BASE/transactions.json?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$after" = $((before + 3)) ] || fail "the lab's log went from $before to $after rows (3 imported)"

# 6. Damaged and foreign files.
head -c $(( $(stat -c %s cap.pcap) - 50 )) cap.pcap >cut.pcap
rc=0; "$SCEP_LAB" inspect cut.pcap --data-dir "$WORK/data" >cut.out 2>cut.err || rc=$?
[ "$rc" = 1 ] && contains "offset" <cut.err || fail "a cut capture: exit $rc, $(cat cut.err)"
contains "^Client 127.0.0.1" <cut.out || fail "a cut capture lost what came before the cut"
head -c 5000 /dev/urandom >noise.bin
printf '\xd4\xc3\xb2\xa1' >bad.pcap; head -c 4000 /dev/urandom >>bad.pcap
for f in noise.bin bad.pcap "$WORK"; do
    rc=0; "$SCEP_LAB" inspect "$f" cap.pcap --data-dir "$WORK/data" >hostile.out 2>hostile.err || rc=$?
    [ "$rc" != 0 ] && [ "$rc" -lt 128 ] && [ -s hostile.err ] || fail "inspect $f: exit $rc $(cat hostile.err)"
done
kill -0 "$SERVER_PID" || fail "the server stopped"
echo "OK: evidence ($(python3 -c 'import json; print(sum(len(c["exchanges"]) for c in json.load(open("ev.json"))["clients"]))') exchanges from the capture, checked against the live inspector, tshark and openssl)"
