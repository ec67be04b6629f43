#!/usr/bin/env bash
# micromdm scepclient (Debian package `scep`) enrolls against scep-lab.
# It sends DES-CBC with SHA-1 and encrypts to every certificate of GetCACert.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"

start_server
cd "$WORK"
# scepclient keeps csr.pem beside the key and reuses it (same CSR, same
# transactionID), so every device gets its own folder.
mkdir -p dev1 dev2 dev3

# 1. enrollment with the right challenge
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key dev1/key.pem -certificate dev1/cert.pem -cn dev1 \
    -organization "scep-lab peer test" >scepclient.log 2>&1 || fail "scepclient enrollment: $(cat scepclient.log)"
[ -s dev1/cert.pem ] || fail "scepclient wrote no certificate"
verify_chain dev1/cert.pem
serial=$(serial_in_store dev1/cert.pem)
openssl x509 -in dev1/cert.pem -noout -subject | grep -q "CN *= *dev1" || fail "subject not copied from the CSR"
openssl x509 -in dev1/cert.pem -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" ||
    fail "clientAuth EKU missing"
grep -q "msg_type=PKCSReq .*status=SUCCESS serial=$serial" server.log || fail "request log line missing"
echo "ok: scepclient enrolled, serial $serial, chain verifies, row stored"

# 2. the /cgi-bin/pkiclient.exe path with a suffix works the same
scepclient -server-url "http://127.0.0.1:$PORT/cgi-bin/pkiclient.exe" -challenge "$CHALLENGE" \
    -private-key dev2/key.pem -certificate dev2/cert.pem -cn dev2 >scepclient2.log 2>&1 ||
    fail "enrollment via /cgi-bin/pkiclient.exe: $(cat scepclient2.log)"
verify_chain dev2/cert.pem
echo "ok: /cgi-bin/pkiclient.exe"

# 3. a wrong challenge is refused with badMessageCheck and issues nothing
before=$(sqlite3 data/scep-lab.db "SELECT COUNT(*) FROM certificates")
if scepclient -server-url "$URL" -challenge wrong -private-key dev3/key.pem -certificate dev3/cert.pem -cn dev3 \
    >scepclient3.log 2>&1; then
    fail "enrollment with a wrong challenge succeeded"
fi
grep -q "failInfo: badMessageCheck" scepclient3.log || fail "expected badMessageCheck, got: $(cat scepclient3.log)"
after=$(sqlite3 data/scep-lab.db "SELECT COUNT(*) FROM certificates")
[ "$before" = "$after" ] || fail "a refused request stored a certificate"
echo "ok: wrong challenge -> FAILURE badMessageCheck"

# 4. running the same device again re-sends the same request: same certificate, no second row
rows=$(sqlite3 data/scep-lab.db "SELECT COUNT(*) FROM certificates")
rm dev1/cert.pem
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key dev1/key.pem -certificate dev1/cert.pem -cn dev1 \
    -organization "scep-lab peer test" >scepclient4.log 2>&1 || fail "retransmission: $(cat scepclient4.log)"
[ "$(openssl x509 -in dev1/cert.pem -noout -serial | cut -d= -f2)" = "$serial" ] || fail "retransmission got a new certificate"
[ "$(sqlite3 data/scep-lab.db "SELECT COUNT(*) FROM certificates")" = "$rows" ] || fail "retransmission stored a second row"
echo "ok: retransmission returns the same certificate"
echo "PASS: scepclient peer test (4 checks)"
