#!/usr/bin/env bash
# The status page in a real browser (issue 7): headless Debian Chromium driven
# through chromedriver's WebDriver protocol (python3, standard library only).
# The page loads, shows a freshly enrolled certificate and the CA chain;
# a request held for approval is approved by typing the admin token and
# clicking Approve, and the waiting client then gets its certificate.
. "$(dirname "$0")/lib.sh"
command -v chromedriver >/dev/null || skip "chromedriver not installed (Debian package chromium-driver)"
command -v chromium >/dev/null || skip "chromium not installed"
command -v scepclient >/dev/null || skip "scepclient not installed"

printf '[approval]\npending_subjects = ["hold-"]\n' >"$WORK/hold.toml"
start_server --config "$WORK/hold.toml"
TOKEN=$(head -1 "$WORK/data/admin-token")
BASE="http://127.0.0.1:$PORT"

enroll() {  # enroll NAME [SECONDS]: scepclient with its own folder; exit status kept
    mkdir -p "$WORK/$1"
    timeout "${2:-60}" scepclient -server-url "$URL" -challenge "$CHALLENGE" -cn "$1" -private-key "$WORK/$1/key.pem" \
        -certificate "$WORK/$1/cert.pem" >"$WORK/$1/log" 2>&1
}
enroll shown-1 || fail "scepclient shown-1 failed: $(tail -3 "$WORK/shown-1/log")"
SERIAL=$(openssl x509 -in "$WORK/shown-1/cert.pem" -noout -serial | cut -d= -f2)
enroll hold-1 5 || true  # PENDING: scepclient would poll every 30 s; its request is stored
[ ! -s "$WORK/hold-1/cert.pem" ] || fail "hold-1 got a certificate before approval"
TXID=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT transaction_id FROM pending_requests WHERE status = 'pending'")
[ -n "$TXID" ] || fail "no pending request for hold-1"

DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$DPORT" --allowed-ips=127.0.0.1 >"$WORK/chromedriver.log" 2>&1 &
DRIVER_PID=$!
trap 'kill $DRIVER_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$DPORT/status" >/dev/null && break; sleep 0.1; done

cat >"$WORK/browser.py" <<'PY'
import json, sys, time, urllib.request
driver, base, serial, txid, token = sys.argv[1:6]
def call(method, path, body=None):
    req = urllib.request.Request(driver + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--user-data-dir=" + sys.argv[6]]}}}}
sid = call("POST", "/session", caps)["sessionId"]
S = "/session/" + sid
def find(css):
    v = call("POST", S + "/element", {"using": "css selector", "value": css})
    # W3C key, or the legacy "ELEMENT" one.
    if not isinstance(v, dict) or not v: fail("no element " + css + ": " + repr(v))
    return v.get("element-6066-11e4-a4ab-0ecc4a8a6f0b") or v.get("ELEMENT") or next(iter(v.values()))
def text(css):
    return call("GET", S + "/element/" + find(css) + "/text")
def run(script):
    return call("POST", S + "/execute/sync", {"script": script, "args": []})
try:
    call("POST", S + "/url", {"url": base + "/"})
    if call("GET", S + "/title") != "scep-lab": fail("page title")
    if text("#scep-url") != base + "/scep": fail("SCEP URL shown: " + text("#scep-url"))
    if text("#challenge") != "scep-lab-challenge": fail("challenge not shown")
    recent = text("#recent")
    if serial not in recent or "CN=shown-1" not in recent: fail("fresh certificate not listed: " + recent)
    chain = text("#chain")
    if "scep-lab Root CA" not in chain or "scep-lab Issuing CA" not in chain: fail("CA chain missing: " + chain)
    pending = text("#pending")
    if txid not in pending or "hold-1" not in pending: fail("pending request not listed: " + pending)
    # Wrong token first: the page says why and nothing changes.
    call("POST", S + "/element/" + find("#token") + "/value", {"text": "wrong-token-wrong-token"})
    call("POST", S + "/element/" + find("button.approve") + "/click", {})
    for _ in range(50):
        msg = text("#admin-msg")
        if "invalid token" in msg: break
        time.sleep(0.1)
    else: fail("wrong token not reported: " + msg)
    call("POST", S + "/element/" + find("#token") + "/clear", {})
    call("POST", S + "/element/" + find("#token") + "/value", {"text": token})
    call("POST", S + "/element/" + find("button.approve") + "/click", {})
    for _ in range(100):
        time.sleep(0.1)
        try:
            if run("return document.getElementById('no-pending') !== null;"): break
        except Exception:
            pass  # the page is reloading
    else: fail("the pending request did not disappear after Approve")
    print("ok")
finally:
    call("DELETE", S)
PY
python3 "$WORK/browser.py" "http://127.0.0.1:$DPORT" "$BASE" "$SERIAL" "$TXID" "$TOKEN" "$WORK/chrome-profile" \
    >"$WORK/browser.out" 2>&1 || fail "browser: $(tail -5 "$WORK/browser.out")"
grep -q '^ok$' "$WORK/browser.out" || fail "browser: $(cat "$WORK/browser.out")"
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT status FROM pending_requests WHERE transaction_id = '$TXID'")" = approved ] ||
    fail "the request is not approved in the store"
grep -q "op=admin.*http=401" "$WORK/server.log" || fail "the wrong token did not reach the admin API"
echo "ok: Chromium showed the URL, challenge, chain, the fresh certificate and the pending request; Approve (with the token) released it"

enroll hold-1 || fail "scepclient hold-1 after approval failed: $(tail -3 "$WORK/hold-1/log")"
verify_chain "$WORK/hold-1/cert.pem"
echo "ok: the waiting client got its certificate at its next attempt"

# The transaction inspector's pages: a refused enrollment is listed (and a
# second one appears without a reload), and its page shows the failInfo, the
# reason and the finding.
mkdir -p "$WORK/bad-1" "$WORK/bad-2"
scepclient -server-url "$URL" -challenge wrong -cn bad-1 -private-key "$WORK/bad-1/key.pem" \
    -certificate "$WORK/bad-1/cert.pem" >"$WORK/bad-1/log" 2>&1 && fail "bad-1 enrolled with a wrong challenge"
fetch_transaction "finding=challenge.wrong"
cat >"$WORK/transactions.py" <<'PY'
import json, subprocess, sys, time, urllib.request
driver, base, tx_id, url, work = sys.argv[1:6]
def call(method, path, body=None):
    req = urllib.request.Request(driver + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--user-data-dir=" + work + "/chrome-profile-2"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
S = "/session/" + sid
def run(script):
    return call("POST", S + "/execute/sync", {"script": script, "args": []})
def wait_for(script, what, tries=100):
    for _ in range(tries):
        v = run(script)
        if v: return v
        time.sleep(0.1)
    fail(what)
try:
    call("POST", S + "/url", {"url": base + "/transactions"})
    rows = wait_for("var t = document.querySelector('#transactions tbody'); return t && t.rows.length > 0 ? t.innerText : '';",
                    "the transactions list stayed empty")
    if "badMessageCheck" not in rows or "challenge.wrong" not in rows: fail("the refused enrollment is not listed: " + rows)
    run("var s = document.querySelector('select[name=finding]'); s.value = 'challenge.wrong'; s.dispatchEvent(new Event('change'));")
    wait_for("return document.getElementById('list-msg').textContent.indexOf('1 transactions match') === 0;",
             "the finding filter did not narrow the list")
    # A second refused client while the page stays open: it appears without a reload.
    subprocess.run(["scepclient", "-server-url", url, "-challenge", "wrong", "-cn", "bad-2",
                    "-private-key", work + "/bad-2/key.pem", "-certificate", work + "/bad-2/cert.pem"],
                   timeout=60, capture_output=True)
    wait_for("return document.getElementById('list-msg').textContent.indexOf('2 transactions match') === 0;",
             "the list did not refresh by itself: " + run("return document.getElementById('list-msg').textContent;"), 60)
    call("POST", S + "/url", {"url": base + "/transactions/" + tx_id})
    fail_info = run("return document.getElementById('fail-info').innerText;")
    reason = run("return document.getElementById('reason').innerText;")
    findings = run("return document.getElementById('findings').innerText;")
    if fail_info.strip() != "badMessageCheck": fail("failInfo shown: " + fail_info)
    if "wrong challenge password" not in reason: fail("reason shown: " + reason)
    if "challenge.wrong" not in findings or "RFC 8894" not in findings: fail("finding shown: " + findings)
    page = run("return document.body.innerText;")
    if "PrintableString" not in page or "Story" not in page: fail("decoded request or story missing")
    print("ok")
finally:
    call("DELETE", S)
PY
python3 "$WORK/transactions.py" "http://127.0.0.1:$DPORT" "$BASE" "$TX_ID" "$URL" "$WORK" >"$WORK/transactions.out" 2>&1 ||
    fail "browser (transactions): $(tail -5 "$WORK/transactions.out")"
grep -q '^ok$' "$WORK/transactions.out" || fail "browser (transactions): $(cat "$WORK/transactions.out")"
echo "ok: Chromium listed the refused enrollment, filtered by finding, showed a new one without a reload, and its page shows failInfo, reason and finding"
echo "PASS: status page in Chromium (3 checks)"
