#!/usr/bin/env bash
# micromdm scepclient (Debian package `scep`) enrolls against scep-lab.
# It sends DES-CBC with SHA-1 and encrypts to every certificate of GetCACert.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"

printf '[log]\ncapture_dir = "%s/capture"\n' "$WORK" >"$WORK/capture.toml"
start_server --config "$WORK/capture.toml"
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
openssl x509 -in dev1/cert.pem -noout -subject | contains "CN *= *dev1" || fail "subject not copied from the CSR"
openssl x509 -in dev1/cert.pem -noout -ext extendedKeyUsage | contains "TLS Web Client Authentication" ||
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

# 5. the inspector shows what scepclient actually sent, checked against openssl's decoding
txid=$(sqlite3 data/scep-lab.db "SELECT transaction_id FROM certificates WHERE serial = '$serial'")
fetch_transaction "transaction_id=$(urlencode "$txid")&status=SUCCESS"  # the retransmission (check 4)
case "$(tx_field reason)" in *retransmission*) ;; *) fail "retransmission not explained: $(tx_field reason)" ;; esac
[ "$(tx_field detail.challenge)" = "not checked" ] || fail "a retransmission's challenge was checked again"
fetch_transaction "transaction_id=$(urlencode "$txid")&status=SUCCESS&offset=1"  # the first enrollment
grep -q "method=POST op=PKIOperation .*txid=\"$txid\"" server.log || fail "the request log does not show a POST"
[ "$(tx_field method)" = POST ] || fail "inspector method $(tx_field method), the request log says POST"
check_request_with_openssl
[ "$(tx_field detail.request.message_type_name)" = PKCSReq ] || fail "message type $(tx_field detail.request.message_type_name)"
[ "$(tx_field detail.request.csr.challenge)" = PrintableString ] || fail "challenge type $(tx_field detail.request.csr.challenge)"
[ "$(tx_field detail.challenge)" = accepted ] || fail "challenge outcome $(tx_field detail.challenge)"
[ "$(tx_field detail.reply.pki_status)" = SUCCESS ] || fail "reply status $(tx_field detail.reply.pki_status)"
# scepclient signs with SHA-1, encrypts with single DES, and names its signer "SCEP SIGNER".
expect_findings http.post-content-type digest.sha1 envelope.single-des envelope.cipher-not-advertised signer.subject-mismatch
grep -q "$CHALLENGE" "$WORK/tx.json" && fail "the challenge value appears in the transaction"
# scepclient is no device: no persona's request rules all hold (docs/personas.md).
[ -z "$(tx_field device)" ] || fail "the inspector takes scepclient for $(tx_field device): $(tx_field detail.device.text)"
[ "$(tx_field detail.device.consistent)" = false ] || fail "scepclient's request is consistent with a persona: $(tx_field detail.device.text)"
echo "ok: inspector: $(tx_field findings); scepclient is no device persona: $(tx_field detail.device.text)"
fetch_transaction "finding=challenge.wrong"
[ "$(tx_field fail_info)" = badMessageCheck ] || fail "wrong challenge transaction: failInfo $(tx_field fail_info)"
[ -n "$(tx_field reason)" ] || fail "wrong challenge transaction has no reason"
"$SCEP_LAB" --data-dir "$WORK/data" transactions --finding challenge.wrong --format json >tx-list.json ||
    fail "scep-lab transactions failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"] >= 1 and d["items"][0]["fail_info"] == "badMessageCheck"' \
    tx-list.json || fail "scep-lab transactions --finding challenge.wrong: $(cat tx-list.json)"
echo "ok: the refused enrollment is listed with its failInfo, reason and finding"

# 6. scep-lab inspect decodes the capture log.capture_dir wrote, with the lab's RA key
capture=$(ls "$WORK"/capture/1-*.request.der | head -1)
[ -s "$capture" ] || fail "no capture written"
"$SCEP_LAB" --data-dir "$WORK/data" inspect "$capture" >inspect.txt 2>&1 || fail "scep-lab inspect: $(cat inspect.txt)"
for want in "message_type_name: PKCSReq" "subject: CN=dev1" "challenge: PrintableString" "content_cipher: des-cbc" \
    "encrypted_to: " "[error] envelope.single-des"; do
    grep -qF "$want" inspect.txt || fail "scep-lab inspect output lacks \"$want\": $(cat inspect.txt)"
done
grep -q "$CHALLENGE" inspect.txt && fail "scep-lab inspect printed the challenge value"
"$SCEP_LAB" inspect "$(dirname "$0")/../data/ndes-failure-certrep.pem" >ndes.txt 2>&1 || fail "inspect NDES vector: $(cat ndes.txt)"
for want in "kind: CertRep" "pki_status: FAILURE" "fail_info: badRequest" "HRESULT -2147024809" "digest: sha1"; do
    grep -qF "$want" ndes.txt || fail "NDES vector: no \"$want\": $(cat ndes.txt)"
done
echo "not a message" >junk.der
"$SCEP_LAB" inspect junk.der >junk.txt 2>&1 && fail "inspect accepted junk"
grep -qE "neither DER, PEM nor base64|not a DER/BER PKCS#7" junk.txt || fail "inspect junk: $(cat junk.txt)"
: >empty.der
"$SCEP_LAB" inspect empty.der >empty.txt 2>&1 && fail "inspect accepted an empty file"
grep -q "empty file" empty.txt || fail "inspect empty file: $(cat empty.txt)"
"$SCEP_LAB" inspect no-such-file.der >missing.txt 2>&1 && fail "inspect accepted a missing file"
grep -q "no-such-file.der" missing.txt || fail "inspect missing file: $(cat missing.txt)"
echo "ok: scep-lab inspect decodes a capture (decrypted with the RA key) and the NDES failure vector"

# 7. scep.reply_includes_chain = "full": the degenerate carries the issued
#    certificate, then the CA chain up to the root (what Cisco VPN clients
#    want); scepclient still writes its own certificate.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[scep]\nreply_includes_chain = "full"\n' >chain.toml
start_server --config chain.toml
mkdir -p chained
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key chained/key.pem -certificate chained/cert.pem \
    -cn chained >chained/log 2>&1 || fail "enrollment with the chain in the reply: $(tail -3 chained/log)"
openssl x509 -in chained/cert.pem -noout -subject | contains "CN *= *chained" || fail "scepclient wrote another certificate"
verify_chain chained/cert.pem
fetch_transaction "operation=PKIOperation&status=SUCCESS"
openssl cms -verify -noverify -binary -inform DER -in "$WORK/tx.reply.der" -out env.der 2>/dev/null &&
    openssl cms -decrypt -provider legacy -provider default -inform DER -in env.der -inkey chained/key.pem -out deg.der ||
    fail "cannot open the reply"
subjects=$(openssl pkcs7 -inform DER -in deg.der -print_certs -noout | grep -c "^subject")
tiers=$(grep -c "BEGIN CERTIFICATE" "$(CHAIN)")
[ "$subjects" = $((tiers + 1)) ] || fail "the degenerate holds $subjects certificates, want 1 + $tiers"
openssl pkcs7 -inform DER -in deg.der -print_certs -noout | head -1 | contains "CN *= *chained" ||
    fail "the issued certificate is not first"
echo "ok: reply_includes_chain = \"full\": the degenerate carries the certificate and $tiers CA certificates"

# 8. RA usage variants on an existing lab: an RA with digitalSignature only and
#    an EKU is re-issued at start (same key); then a separate encryption RA
#    ([pki.ra] pair) outside NDES mode. scepclient enrolls against both.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
old_ra_key=$(openssl x509 -in data/pki/ra.crt -noout -pubkey)
printf '[pki.ra]\nkey_usage = ["digitalSignature"]\nextended_key_usage = ["1.3.6.1.4.1.311.20.2.1"]\n' >ra-usage.toml
start_server --config ra-usage.toml
grep -c "re-issued the RA certificate" "$WORK/server.log" >/dev/null || fail "the RA was not re-issued for the new usages"
[ "$(openssl x509 -in data/pki/ra.crt -noout -pubkey)" = "$old_ra_key" ] || fail "the re-issued RA has another key"
openssl x509 -in data/pki/ra.crt -noout -ext keyUsage | grep -c "Key Encipherment" >/dev/null && fail "the RA still has keyEncipherment"
openssl x509 -in data/pki/ra.crt -noout -ext extendedKeyUsage | grep -c "1.3.6.1.4.1.311.20.2.1" >/dev/null ||
    fail "the RA lacks the configured EKU: $(openssl x509 -in data/pki/ra.crt -noout -ext extendedKeyUsage)"
mkdir -p ra-sig
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key ra-sig/key.pem -certificate ra-sig/cert.pem -cn ra-sig \
    >ra-sig/log 2>&1 || fail "enrollment with a signature-only RA: $(tail -3 ra-sig/log)"
verify_chain ra-sig/cert.pem
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[pki.ra]\npair = true\n' >ra-pair.toml
start_server --config ra-pair.toml
curl -s "$URL?operation=GetCACert" -o pair.p7b
ras=$(openssl pkcs7 -inform DER -in pair.p7b -print_certs -noout | grep -c "MSCEP-RA" || true)
[ "$ras" = 2 ] || fail "GetCACert should carry the signing and the encryption RA: $(openssl pkcs7 -inform DER -in pair.p7b -print_certs -noout)"
mkdir -p ra-pair
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key ra-pair/key.pem -certificate ra-pair/cert.pem \
    -cn ra-pair >ra-pair/log 2>&1 || fail "enrollment with a separate encryption RA: $(tail -3 ra-pair/log)"
verify_chain ra-pair/cert.pem
echo "ok: RA with digitalSignature only and an EKU (re-issued, same key), and a separate encryption RA: scepclient enrolls"
echo "PASS: scepclient peer test (8 checks)"
