#!/usr/bin/env bash
# The certificate lifecycle with real peers: micromdm scepclient renews
# (RenewalReq, no challenge); a revoked certificate is on the served CRL and
# `openssl verify -crl_check` refuses it; certmonger is held PENDING, gets its
# certificate after `scep-lab pending approve`, and renews (PKCSReq signed with the
# old certificate).
. "$(dirname "$0")/lib.sh"
for tool in scepclient certmonger dbus-run-session curl sqlite3; do
    command -v "$tool" >/dev/null || skip "$tool not installed"
done
SCEP_LAB_BIN=$SCEP_LAB
lab() { "$SCEP_LAB_BIN" --data-dir "$WORK/data" "$@"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
db() { sqlite3 "$WORK/data/scep-lab.db" "$1"; }

start_server
cd "$WORK"
mkdir -p dev1 dev2

# --- 1. micromdm scepclient renewal: RenewalReq signed with the old certificate, no challenge
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key dev1/key.pem -certificate dev1/cert.pem \
    -cn renew-me >dev1/enroll.log 2>&1 || fail "enrollment: $(cat dev1/enroll.log)"
old=$(serial_of dev1/cert.pem)
scepclient -server-url "$URL" -private-key dev1/key.pem -certificate dev1/cert.pem -cn renew-me \
    >dev1/renew.log 2>&1 || fail "renewal: $(cat dev1/renew.log)"
new=$(serial_of dev1/cert.pem)
[ "$old" != "$new" ] || fail "renewal returned the old certificate $old"
verify_chain dev1/cert.pem
grep -q "msg_type=RenewalReq .*status=SUCCESS serial=$new detail=\"renewal of $old\"" server.log ||
    fail "no RenewalReq success in the log"
[ "$(db "SELECT status FROM certificates WHERE serial='$old'")" = superseded ] || fail "old certificate not superseded"
[ "$(db "SELECT replaces_serial FROM certificates WHERE serial='$new'")" = "$old" ] || fail "renewal link missing"
echo "ok: scepclient renewal $old -> $new (RenewalReq, no challenge)"

# --- 2. revocation and the CRL
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key dev2/key.pem -certificate dev2/cert.pem \
    -cn revoke-me >dev2/enroll.log 2>&1 || fail "enrollment: $(cat dev2/enroll.log)"
gone=$(serial_of dev2/cert.pem)
openssl x509 -in dev2/cert.pem -noout -ext crlDistributionPoints | contains "URI:http://127.0.0.1:$PORT/crl/issuing.crl" ||
    fail "no CRL distribution point in the certificate"
lab cert revoke "$gone" --reason keyCompromise >revoke.log || fail "scep-lab revoke: $(cat revoke.log)"
lab revoke 00FF00 >revoke-missing.log 2>&1 && fail "revoking an unknown serial succeeded"
grep -q "no certificate with serial 00FF00\|no certificate with serial FF00" revoke-missing.log || fail "unclear error: $(cat revoke-missing.log)"
lab revoke "$new" --reason stolen >revoke-reason.log 2>&1 && fail "an unknown reason was accepted"
grep -q 'unknown reason "stolen"' revoke-reason.log || fail "unclear error: $(cat revoke-reason.log)"
[ "$(db "SELECT status FROM certificates WHERE serial='$new'")" = valid ] || fail "a refused revoke changed the store"
curl -sf -o issuing.crl "http://127.0.0.1:$PORT/crl/issuing.crl" || fail "cannot fetch the CRL"
openssl crl -inform DER -in issuing.crl -noout -text >crl.txt || fail "openssl crl cannot read the CRL"
grep -q "Serial Number: $gone" crl.txt || fail "revoked serial $gone not on the CRL"
grep -q "Key Compromise" crl.txt || fail "reason missing on the CRL"
openssl crl -inform DER -in issuing.crl -out issuing.crl.pem
openssl crl -in issuing.crl.pem -noout -verify -CAfile "$WORK/data/pki/issuing.crt" 2>&1 | contains "verify OK" ||
    fail "CRL signature does not verify against the issuing CA"
if openssl verify -crl_check -CAfile "$(ROOT)" -untrusted "$(CHAIN)" -CRLfile issuing.crl.pem dev2/cert.pem \
    >verify-revoked.log 2>&1; then
    fail "openssl verify -crl_check accepted a revoked certificate"
fi
grep -q "certificate revoked" verify-revoked.log || fail "unexpected verify output: $(cat verify-revoked.log)"
openssl verify -crl_check -CAfile "$(ROOT)" -untrusted "$(CHAIN)" -CRLfile issuing.crl.pem dev1/cert.pem \
    >verify-ok.log 2>&1 || fail "openssl verify -crl_check refused a valid certificate: $(cat verify-ok.log)"
for ca in root intermediate; do
    curl -sf "http://127.0.0.1:$PORT/crl/$ca.crl" | openssl crl -inform DER -noout 2>/dev/null ||
        fail "CRL of $ca missing or unreadable"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/crl/nope.crl")" = 404 ] || fail "unknown CRL not 404"
echo "ok: revoked $gone is on the CRL; openssl verify -crl_check refuses it and accepts $new"

# --- 3. certmonger: held PENDING, approved, then renewed
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[approval]\npending_subjects = ["CN=held\\\\."]\n' >approval.toml
start_server --config "$WORK/approval.toml"
mkdir -p cm/{cas,requests,config,local,home,out}
export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \
    CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \
    CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"  # not /var/lib/certmonger/lock: peers run in parallel
cat >cm/run.sh <<SCRIPT
#!/usr/bin/env bash
set -u
out="$WORK/cm/out"
wait_for() { for _ in \$(seq 1 60); do grep -q "status: \$2" <<<"\$(getcert list -s -i "\$1")" && return 0; sleep 0.5; done; return 1; }
getcert add-scep-ca -s -c lab -u "$URL" || exit 10
getcert request -s -c lab -I held -f "\$out/held.pem" -k "\$out/held.key" -L "$CHALLENGE" -N CN=held.lab >/dev/null
# The request is held once the server has stored it: poll the pending list
# (a fixed sleep read it before certmonger had sent anything on a slow machine).
for _ in \$(seq 1 100); do
    "$SCEP_LAB_BIN" --data-dir "$WORK/data" pending list >"\$out/pending.txt" 2>/dev/null
    grep -q "CN=held" "\$out/pending.txt" && break
    sleep 0.2
done
grep -q "CN=held" "\$out/pending.txt" || exit 13
getcert list -s -i held >"\$out/held.before"
txid=\$(head -1 "\$out/pending.txt" | cut -d' ' -f1)
"$SCEP_LAB_BIN" --data-dir "$WORK/data" pending approve "\$txid" >"\$out/approve.txt" || exit 11
getcert resubmit -s -i held >/dev/null
wait_for held MONITORING || { getcert list -s -i held >"\$out/held.after"; exit 12; }
getcert list -s -i held >"\$out/held.after"
cp "\$out/held.pem" "\$out/held.first.pem"
getcert request -s -c lab -I free -f "\$out/free.pem" -k "\$out/free.key" -L "$CHALLENGE" -N CN=free.lab -w >/dev/null
cp "\$out/free.pem" "\$out/free.first.pem"
getcert resubmit -s -i free >/dev/null
for _ in \$(seq 1 60); do cmp -s "\$out/free.pem" "\$out/free.first.pem" || break; sleep 0.5; done
getcert list -s -i free >"\$out/free.after"
SCRIPT
chmod +x cm/run.sh
timeout 150 dbus-run-session -- certmonger -s -n -c "$WORK/cm/run.sh" >cm/daemon.log 2>&1 ||
    fail "certmonger script failed ($?): $(cat cm/out/held.before cm/out/held.after 2>/dev/null)"
grep -q "CA_WORKING\|CA_UNCONFIGURED\|SUBMITTING" cm/out/held.before || fail "held request was not waiting: $(cat cm/out/held.before)"
grep -q "msg_type=PKCSReq .*status=PENDING" server.log || fail "no PENDING answer in the log"
grep -q "CN=held.lab" cm/out/pending.txt || fail "scep-lab pending list did not list the request"
verify_chain cm/out/held.pem
serial_in_store cm/out/held.pem >/dev/null
echo "ok: certmonger held PENDING, approved with scep-lab pending approve, certificate issued"

first=$(serial_of cm/out/free.first.pem)
second=$(serial_of cm/out/free.pem)
[ "$first" != "$second" ] || fail "certmonger resubmit did not renew: $(cat cm/out/free.after)"
grep -q "msg_type=PKCSReq .*status=SUCCESS serial=$second detail=\"renewal of $first\"" server.log ||
    fail "certmonger renewal was not a PKCSReq signed with the old certificate"
verify_chain cm/out/free.pem
echo "ok: certmonger renewal $first -> $second (PKCSReq signed with the old certificate)"

# --- 4. live rollover: prepared, offered and activated on the running server (no restart)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_server
pid=$SERVER_PID
base="http://127.0.0.1:$PORT"
curl -s "$URL?operation=GetCACaps" | grep -c GetNextCACert >/dev/null && fail "GetNextCACert advertised before a rollover"
cp data/pki/issuing.crt old-issuing.crt
# The tiers between the root and the issuing CA (hierarchy.txt lists them top first).
: >parents.pem
sed '1d;$d' data/pki/hierarchy.txt | while read -r tier; do cat "data/pki/$tier.crt" >>parents.pem; done
cat old-issuing.crt parents.pem >old-chain.pem
lab ca rollover --live --url "$base" >roll1.txt 2>&1 || fail "rollover --live: $(cat roll1.txt)"
curl -s "$URL?operation=GetCACaps" | grep -c GetNextCACert >/dev/null || fail "GetNextCACert not advertised after rollover --live"
[ "$(curl -s -o next.der -w '%{http_code}' "$URL?operation=GetNextCACert")" = 200 ] || fail "GetNextCACert did not answer"
openssl smime -verify -noverify -inform DER -in next.der -binary -out next-certs.der 2>/dev/null ||
    fail "GetNextCACert is not signed content"
openssl pkcs7 -inform DER -in next-certs.der -print_certs -out next-certs.pem || fail "GetNextCACert holds no degenerate PKCS#7"
[ "$(grep -c 'BEGIN CERTIFICATE' next-certs.pem)" = 2 ] || fail "GetNextCACert should carry the next RA and CA"
mkdir -p live1 live2
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key live1/key.pem -certificate live1/cert.pem -cn live-before \
    >live1.log 2>&1 || fail "scepclient during the prepared rollover: $(cat live1.log)"
openssl verify -CAfile "$(ROOT)" -untrusted old-chain.pem live1/cert.pem >/dev/null ||
    fail "while only prepared, certificates still come from the old CA"
lab ca rollover --live --activate --url "$base" >roll2.txt 2>&1 || fail "rollover --live --activate: $(cat roll2.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL?operation=GetNextCACert")" = 404 ] || fail "GetNextCACert after activation"
curl -s "$URL?operation=GetCACaps" | grep -c GetNextCACert >/dev/null && fail "GetNextCACert still advertised after activation"
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key live2/key.pem -certificate live2/cert.pem -cn live-after \
    >live2.log 2>&1 || fail "scepclient after activation: $(cat live2.log)"
cmp -s old-issuing.crt data/pki/issuing.crt && fail "the issuing CA file did not change"
cat data/pki/issuing.crt parents.pem >new-chain.pem
openssl verify -CAfile "$(ROOT)" -untrusted new-chain.pem live2/cert.pem >/dev/null ||
    fail "after activation, certificates come from the new CA"
openssl verify -CAfile "$(ROOT)" -untrusted old-chain.pem live2/cert.pem >/dev/null 2>&1 &&
    fail "the new certificate verifies with the old CA"
verify_chain live1/cert.pem  # the chain file keeps the old CA
[ "$SERVER_PID" = "$pid" ] && kill -0 "$pid" || fail "the server restarted or died"
grep -c "live rollover: the next CA is now the issuing CA" server.log >/dev/null || fail "no live rollover in the log"
# A second activation has nothing to activate: a clear error, the server keeps serving.
lab ca rollover --live --activate --url "$base" >roll3.txt 2>&1 && fail "activated twice"
grep -ci "no next\|nothing\|not prepared\|no prepared" roll3.txt >/dev/null || fail "second activation: $(cat roll3.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "not healthy after a refused rollover"
echo "ok: live rollover: GetNextCACert offered, then activated; scepclient enrolled before (old CA) and after (new CA), same server process"
echo "PASS: lifecycle peer test (5 checks)"
