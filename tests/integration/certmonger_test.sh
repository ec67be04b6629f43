#!/usr/bin/env bash
# certmonger (getcert add-scep-ca / request) enrolls against scep-lab through
# a private certmonger daemon on its own D-Bus session (docs/testing.md).
. "$(dirname "$0")/lib.sh"
command -v certmonger >/dev/null || skip "certmonger not installed"
command -v dbus-run-session >/dev/null || skip "dbus-run-session not installed"

start_server
mkdir -p "$WORK"/cm/{cas,requests,config,local,home,out}
export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \
    CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \
    CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"  # not /var/lib/certmonger/lock: peers run in parallel

cat >"$WORK/cm/run.sh" <<SCRIPT
#!/usr/bin/env bash
set -u
out="$WORK/cm/out"
getcert add-scep-ca -s -c scep-lab -u "$URL" || exit 10
getcert request -s -c scep-lab -I good -f "\$out/good.pem" -k "\$out/good.key" -L "$CHALLENGE" \
    -N CN=cm-host.lab -D cm-host.lab -w -v >"\$out/good.log" 2>&1
getcert request -s -c scep-lab -I bad -f "\$out/bad.pem" -k "\$out/bad.key" -L wrong-challenge \
    -N CN=cm-bad.lab -w -v >"\$out/bad.log" 2>&1
getcert list -s -i good >"\$out/good.list"
getcert list -s -i bad >"\$out/bad.list"
SCRIPT
chmod +x "$WORK/cm/run.sh"
timeout 120 dbus-run-session -- certmonger -s -n -c "$WORK/cm/run.sh" >"$WORK/cm/daemon.log" 2>&1 ||
    fail "certmonger run failed: $(tail -5 "$WORK/cm/daemon.log")"

out="$WORK/cm/out"
grep -q "status: MONITORING" "$out/good.list" || fail "certmonger did not get the certificate: $(cat "$out/good.list" "$out/good.log")"
[ -s "$out/good.pem" ] || fail "no certificate file"
verify_chain "$out/good.pem"
serial=$(serial_in_store "$out/good.pem")
openssl x509 -in "$out/good.pem" -noout -ext subjectAltName | contains "DNS:cm-host.lab" || fail "SAN not copied"
grep -q "op=PKIOperation.*msg_type=PKCSReq.*status=SUCCESS" "$WORK/server.log" || fail "no PKCSReq in the log"
echo "ok: certmonger enrolled (GET PKIOperation), serial $serial"

grep -q "status: CA_REJECTED" "$out/bad.list" || fail "wrong challenge not rejected: $(cat "$out/bad.list")"
grep -q "fail_info=badMessageCheck" "$WORK/server.log" || fail "expected badMessageCheck in the server log"
[ ! -s "$out/bad.pem" ] || fail "a rejected request got a certificate"
echo "ok: wrong challenge -> CA_REJECTED (badMessageCheck)"

# The inspector shows what certmonger actually sent, checked against openssl's decoding.
fetch_transaction "operation=PKIOperation&status=SUCCESS"
grep -q "method=GET op=PKIOperation" "$WORK/server.log" || fail "the request log shows no GET PKIOperation"
[ "$(tx_field method)" = GET ] || fail "inspector method $(tx_field method), the request log says GET"
check_request_with_openssl
[ "$(tx_field detail.request.csr.subject)" = "CN=cm-host.lab" ] || fail "CSR subject $(tx_field detail.request.csr.subject)"
case "$(tx_field detail.request.csr.sans)" in *DNS:cm-host.lab*) ;; *) fail "CSR SANs $(tx_field detail.request.csr.sans)" ;; esac
# certmonger uses GET although POSTPKIOperation is advertised.
expect_findings http.get-despite-post http.get-too-long
grep -q "$CHALLENGE" "$WORK/tx.json" && fail "the challenge value appears in the transaction"
# certmonger is no device: no persona's request rules all hold (docs/personas.md).
[ -z "$(tx_field device)" ] || fail "the inspector takes certmonger for $(tx_field device): $(tx_field detail.device.text)"
[ "$(tx_field detail.device.consistent)" = false ] || fail "certmonger's request is consistent with a persona: $(tx_field detail.device.text)"
echo "ok: certmonger is no device persona: $(tx_field detail.device.text)"
echo "ok: inspector on certmonger's request: $(tx_field detail.request.digest), $(tx_field detail.request.content_cipher), signer $(tx_field detail.request.signer.kind); findings: $(tx_field findings)"
fetch_transaction "finding=challenge.wrong"
[ "$(tx_field fail_info)" = badMessageCheck ] || fail "certmonger's refused request: failInfo $(tx_field fail_info)"

# NDES mode: certmonger against /certsrv/mscep/mscep.dll with the single password.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[ndes]\nenabled = true\npassword_mode = "single"\n' >"$WORK/ndes.toml"
start_server --config "$WORK/ndes.toml"
NDES_URL="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
cat >"$WORK/cm/ndes.sh" <<SCRIPT
#!/usr/bin/env bash
out="$WORK/cm/out"
getcert add-scep-ca -s -c ndes -u "$NDES_URL" || exit 10
getcert request -s -c ndes -I ndes -f "\$out/ndes.pem" -k "\$out/ndes.key" -L "$CHALLENGE" -N CN=ndes-host.lab -w >/dev/null 2>&1
getcert list -s -i ndes >"\$out/ndes.list"
SCRIPT
chmod +x "$WORK/cm/ndes.sh"
timeout 120 dbus-run-session -- certmonger -s -n -c "$WORK/cm/ndes.sh" >"$WORK/cm/daemon-ndes.log" 2>&1 ||
    fail "certmonger NDES run failed"
grep -q "status: MONITORING" "$out/ndes.list" || fail "certmonger did not enroll against NDES mode: $(cat "$out/ndes.list")"
verify_chain "$out/ndes.pem"
grep -q "GET op=PKIOperation.*msg_type=PKCSReq.*status=SUCCESS" "$WORK/server.log" || fail "no GET PKCSReq in NDES mode"
echo "ok: certmonger enrolled at /certsrv/mscep/mscep.dll (NDES mode, single password)"
echo "PASS: certmonger peer test (3 checks)"
