#!/usr/bin/env bash
# The status page in a real browser (issue 7): headless Debian Chromium driven
# through chromedriver's WebDriver protocol (webdriver.py: python3, standard
# library only).
# The page loads, shows a freshly enrolled certificate and the CA chain;
# a request held for approval is approved by typing the admin token and
# clicking Approve, and the waiting client then gets its certificate.
HERE=$(cd "$(dirname "$0")" && pwd)  # webdriver.py
. "$HERE/lib.sh"
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
import sys
sys.path.insert(0, sys.argv[7])
from webdriver import Session, fail
driver, base, serial, txid, token, profile = sys.argv[1:7]
b = Session(driver, profile)
try:
    b.go(base + "/")
    if b.title() != "scep-lab": fail("page title")
    if b.text("#scep-url") != base + "/scep": fail("SCEP URL shown: " + b.text("#scep-url"))
    if b.text("#challenge") != "scep-lab-challenge": fail("challenge not shown")
    recent = b.text("#recent")
    if serial not in recent or "CN=shown-1" not in recent: fail("fresh certificate not listed: " + recent)
    chain = b.text("#chain")
    if "scep-lab Root CA" not in chain or "scep-lab Issuing CA" not in chain: fail("CA chain missing: " + chain)
    pending = b.text("#pending")
    if txid not in pending or "hold-1" not in pending: fail("pending request not listed: " + pending)
    # Wrong token first: the page says why and nothing changes.
    b.type("#token", "wrong-token-wrong-token")
    b.click("button.approve")
    b.wait_for("return document.getElementById('admin-msg').textContent.indexOf('invalid token') >= 0;",
               "wrong token not reported: " + b.text("#admin-msg"), 50)
    b.clear("#token")
    b.type("#token", token)
    b.click("button.approve")
    b.wait_for("return document.getElementById('no-pending') !== null;",
               "the pending request did not disappear after Approve")
    print("ok")
finally:
    b.close()
PY
python3 "$WORK/browser.py" "http://127.0.0.1:$DPORT" "$BASE" "$SERIAL" "$TXID" "$TOKEN" "$WORK/chrome-profile" "$HERE" \
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
import subprocess, sys
sys.path.insert(0, sys.argv[6])
from webdriver import Session, fail
driver, base, tx_id, url, work = sys.argv[1:6]
shots = sys.argv[7]
b = Session(driver, work + "/chrome-profile-2")
try:
    b.go(base + "/transactions")
    rows = b.wait_for("var t = document.querySelector('#transactions tbody'); return t && t.rows.length > 0 ? t.innerText : '';",
                      "the transactions list stayed empty")
    if "badMessageCheck" not in rows or "challenge.wrong" not in rows: fail("the refused enrollment is not listed: " + rows)
    b.run("var s = document.querySelector('select[name=finding]'); s.value = 'challenge.wrong'; s.dispatchEvent(new Event('change'));")
    b.wait_for("return document.getElementById('list-msg').textContent.indexOf('1 transaction matches') === 0;",
               "the finding filter did not narrow the list")
    # A second refused client while the page stays open: it appears without a reload.
    subprocess.run(["scepclient", "-server-url", url, "-challenge", "wrong", "-cn", "bad-2",
                    "-private-key", work + "/bad-2/key.pem", "-certificate", work + "/bad-2/cert.pem"],
                   timeout=60, capture_output=True)
    b.wait_for("return document.getElementById('list-msg').textContent.indexOf('2 transactions match') === 0;",
               "the list did not refresh by itself", 60)
    # At 1280 px, everything at a glance: refused rows red in their status,
    # successful ones (single DES, accepted) not, the reason column, no
    # horizontal scrolling; the screenshots are kept.
    b.window(1280, 900)
    b.go(base + "/transactions")
    b.wait_for("return document.querySelectorAll('#transactions tbody tr').length >= 4;", "the list is short")
    look = b.run("""
      var rows = Array.from(document.querySelectorAll('#transactions tbody tr'));
      function status(r) { return r.cells[6]; }
      var ok = rows.filter(function (r) { return status(r).textContent.indexOf('SUCCESS') === 0; });
      var bad = rows.filter(function (r) { return status(r).textContent.indexOf('FAILURE') === 0; });
      return {ok: ok.length, bad: bad.length,
              ok_class: ok.map(function (r) { return r.className + '/' + status(r).className; }),
              bad_class: bad.map(function (r) { return status(r).className; }),
              ok_color: ok.length ? getComputedStyle(status(ok[0])).color : '',
              bad_color: bad.length ? getComputedStyle(status(bad[0])).color : '',
              ok_weight: ok.length ? getComputedStyle(status(ok[0])).fontWeight : '',
              bad_time_weight: bad.length ? getComputedStyle(bad[0].cells[1]).fontWeight : '',
              reason: bad.length ? bad[0].cells[7].textContent : '',
              first_finding: bad.length ? bad[0].cells[8].textContent.split(' ')[0] : '',
              txid_title: rows[0].cells[5].querySelector('span') ? rows[0].cells[5].querySelector('span').title : '',
              width: document.documentElement.scrollWidth};""")
    if look["ok"] < 1 or look["bad"] < 2: fail("successes and failures not both listed: %r" % look)
    if any(c.startswith("row-error") for c in look["ok_class"]): fail("a successful enrollment is marked as an error: %r" % look)
    if int(look["bad_time_weight"]) >= 600: fail("a refused row is bold all along: %r" % look)
    if look["ok_color"] == look["bad_color"] or int(look["ok_weight"]) >= 600: fail("success looks like failure: %r" % look)
    if "wrong challenge password" not in look["reason"]: fail("no reason column: %r" % look)
    if look["first_finding"] != "challenge.wrong": fail("the deciding finding is not first: %r" % look)
    if look["width"] > 1280: fail("the list is wider than 1280 px: %r" % look)
    b.screenshot(shots + "/transactions-1280.png")
    b.go(base + "/")
    summary = b.text("#failures-summary")
    import re
    m = re.search(r"(\d+) of (\d+) exchanges failed", summary)
    if not m or int(m.group(1)) < 2: fail("no failure summary on the status page: " + summary)
    if "badMessageCheck" not in b.text("#failures"): fail("the failures table: " + b.text("#failures"))
    b.screenshot(shots + "/status-1280.png")
    b.go(base + "/transactions/" + tx_id)
    fail_info, reason, findings = b.text("#fail-info"), b.text("#reason"), b.text("#findings")
    if fail_info.strip() != "badMessageCheck": fail("failInfo shown: " + fail_info)
    if "wrong challenge password" not in reason: fail("reason shown: " + reason)
    if "challenge.wrong" not in findings or "RFC 8894" not in findings: fail("finding shown: " + findings)
    page = b.run("return document.body.innerText;")
    if "PrintableString" not in page or "Story" not in page: fail("decoded request or story missing")
    print("ok")
finally:
    b.close()
PY
# The screenshots stay beside the binary's build (build/screenshots/).
SHOTS=$(dirname "$(dirname "$SCEP_LAB")")/screenshots
mkdir -p "$SHOTS"
# Without JavaScript (curl): the list is rendered by the server.
curl -sf "$BASE/transactions?finding=challenge.wrong" >"$WORK/nojs.html" || fail "GET /transactions"
grep -q '<span class="sev-error">challenge.wrong</span>' "$WORK/nojs.html" && grep -q "1 transaction matches" "$WORK/nojs.html" ||
    fail "the list is not rendered without JavaScript: $(grep -c '<tr' "$WORK/nojs.html") rows"
python3 "$WORK/transactions.py" "http://127.0.0.1:$DPORT" "$BASE" "$TX_ID" "$URL" "$WORK" "$HERE" "$SHOTS" >"$WORK/transactions.out" 2>&1 ||
    fail "browser (transactions): $(tail -5 "$WORK/transactions.out")"
grep -q '^ok$' "$WORK/transactions.out" || fail "browser (transactions): $(cat "$WORK/transactions.out")"
echo "ok: Chromium listed the refused enrollment, filtered by finding, showed a new one without a reload, and its page shows failInfo, reason and finding"
echo "ok: at 1280 px refusals and successes differ at a glance, the reason and the deciding finding lead, the status page sums up failures (screenshots: $SHOTS)"
echo "PASS: status page in Chromium (3 checks)"
