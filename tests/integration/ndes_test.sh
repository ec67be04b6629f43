#!/usr/bin/env bash
# NDES presets against micromdm scepclient (Debian package `scep`), curl and
# openssl: the password scraped from the UTF-16 admin page as public tools do,
# the RA pair and NDES GetCACert order, the default template, single use, and
# the ndes-legacy preset's IIS query limit (404.15) and HTTP.sys URL limit
# (414) and injected statuses, with the
# server healthy after each.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v curl >/dev/null || skip "curl not installed"
command -v iconv >/dev/null || skip "iconv not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"

healthy() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] || fail "not healthy: $1"
}
stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
# scrape: the password from the admin page, decoded from UTF-16 (BOM) and
# matched with the expression NDES scrapers use.
scrape() {
    curl -s "http://127.0.0.1:$PORT/certsrv/mscep_admin/" >"$WORK/admin.html"
    head -c 2 "$WORK/admin.html" | od -An -tx1 | contains "ff fe" || fail "admin page has no UTF-16LE BOM"
    iconv -f UTF-16 -t UTF-8 "$WORK/admin.html" | grep -oP 'The enrollment challenge password is: <B> \K\S+'
}

start_server --preset ndes-default
cd "$WORK"
NDES="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
grep -q "NDES templates signature=IPSECIntermediateOffline" server.log || fail "templates not logged at start"

# 1. GetCACert: the CA chain first, then the RA signing and encryption certificates.
curl -s "$NDES?operation=GetCACert&message=SCEPLAB-CA" -o getcacert.p7b
openssl pkcs7 -inform der -in getcacert.p7b -print_certs -noout | grep '^subject' >getcacert.txt
[ "$(wc -l <getcacert.txt)" = 5 ] || fail "GetCACert should send 3 CAs and 2 RA certificates: $(cat getcacert.txt)"
head -1 getcacert.txt | contains "Issuing CA" || fail "NDES order starts with the CA: $(cat getcacert.txt)"
[ "$(grep -c MSCEP-RA getcacert.txt)" = 2 ] || fail "RA pair missing: $(cat getcacert.txt)"
openssl x509 -in data/pki/ndes-ra-sign.crt -noout -ext keyUsage | contains "Digital Signature" || fail "signing RA KU"
openssl x509 -in data/pki/ndes-ra-enc.crt -noout -ext keyUsage | contains "Key Encipherment" || fail "encryption RA KU"
openssl verify -CAfile data/pki/root.crt -untrusted data/pki/ca-chain.pem data/pki/ndes-ra-sign.crt \
    data/pki/ndes-ra-enc.crt >/dev/null || fail "RA pair does not chain to the root"
echo "ok: GetCACert in NDES order with the RA pair"

# 2. a scraped one-time password enrolls once, with the NDES default template
mkdir -p dev1 dev2
password=$(scrape) || fail "no password on the admin page"
[[ "$password" =~ ^[0-9A-F]{16}$ ]] || fail "password is not 16 upper-case hex digits: $password"
scepclient -server-url "$NDES" -challenge "$password" -private-key dev1/key.pem -certificate dev1/cert.pem -cn dev1 \
    >dev1.log 2>&1 || fail "scepclient with a scraped password: $(cat dev1.log)"
verify_chain dev1/cert.pem
openssl x509 -in dev1/cert.pem -noout -ext extendedKeyUsage | contains "1.3.6.1.5.5.8.2.2\|IKE" ||
    fail "not the IPSECIntermediateOffline EKU: $(openssl x509 -in dev1/cert.pem -noout -ext extendedKeyUsage)"
grep -q "template IPSECIntermediateOffline (general purpose slot)" server.log || fail "template not in the request log"
if scepclient -server-url "$NDES" -challenge "$password" -private-key dev2/key.pem -certificate dev2/cert.pem -cn dev2 \
    >dev2.log 2>&1; then
    fail "a used password enrolled again"
fi
grep -q "failInfo: badMessageCheck" dev2.log || fail "reused password: expected badMessageCheck: $(cat dev2.log)"
grep -q "$password" server.log && fail "the password appears in the log"
# NDES as installed writes its events: the preset turns the event log on.
grep -q "NDES events are written" server.log || fail "ndes-default does not write the NDES event log"
[ -s data/ndes-events.log ] || fail "the reused password wrote no NDES event"
echo "ok: scraped password enrolls once (IPSECIntermediateOffline), reuse -> badMessageCheck (and an NDES event)"
stop_server

# 3. ndes-legacy: no POSTPKIOperation, so scepclient sends GET; IIS's 2048-byte
#    query limit answers as IIS request filtering does (404, logged 404.15), exactly;
#    the server stays up and GetCACaps says why.
start_server --preset ndes-legacy
NDES="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
[ "$(curl -s "$NDES?operation=GetCACaps" | tr '\n' ' ')" = "SHA-1 DES3 " ] || fail "ndes-legacy GetCACaps"
grep -q "quirk active: max_query_bytes = 2048" server.log || fail "active quirks not logged at start"
mkdir -p dev3
password=$(scrape)
if scepclient -server-url "$NDES" -challenge "$password" -private-key dev3/key.pem -certificate dev3/cert.pem -cn dev3 \
    >dev3.log 2>&1; then
    fail "a 2048-bit GET request passed the 2048-byte query limit"
fi
grep -q "404 Not Found" dev3.log || fail "scepclient did not see IIS's 404: $(cat dev3.log)"
grep -q "op=url-limit http=404 .*exceeds quirks.max_query_bytes = 2048 (IIS request filtering: 404.15)" server.log ||
    fail "404.15 not logged"
healthy "after 404.15"
curl -sv -o /dev/null "$NDES?operation=GetCACaps&message=$(head -c 3000 /dev/zero | tr '\0' A)" 2>curl.txt
grep -q "^< HTTP/1.1 404" curl.txt && grep -qi "^< Server: Microsoft-IIS/10.0" curl.txt &&
    grep -qi "^< X-Powered-By: ASP.NET" curl.txt || fail "long GetCACaps query: $(grep '^<' curl.txt)"
# Past HTTP.sys's 16384-byte URL limit the answer is its 414, before IIS.
curl -sv -o /dev/null "$NDES?operation=GetCACaps&message=$(head -c 17000 /dev/zero | tr '\0' A)" 2>curl.txt
grep -q "^< HTTP/1.1 414" curl.txt && grep -qi "^< Server: Microsoft-HTTPAPI/2.0" curl.txt ||
    fail "a 17000-byte URL: $(grep '^<' curl.txt)"
healthy "after 414"
echo "ok: ndes-legacy answers IIS's 404.15 to GET PKIOperation, HTTP.sys's 414 to a longer URL, and stays healthy"
stop_server

# 4. injected statuses: GetCACert 503 stops scepclient before it sends anything.
printf '[quirks]\nfail_status = { GetCACert = 503 }\nlatency = "300ms"\n' >quirks.toml
start_server --preset ndes-single-password --config quirks.toml
NDES="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$NDES?operation=GetCACert")" = 503 ] || fail "GetCACert not 503"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$NDES?operation=GetCACaps")" = 200 ] || fail "GetCACaps affected"
ms=$(curl -s -o /dev/null -w '%{time_total}' "$NDES?operation=GetCACaps" | awk '{print int($1 * 1000)}')
[ "$ms" -ge 300 ] || fail "latency quirk: answered in ${ms} ms, expected at least 300"
mkdir -p dev4
if scepclient -server-url "$NDES" -challenge "$CHALLENGE" -private-key dev4/key.pem -certificate dev4/cert.pem -cn dev4 \
    >dev4.log 2>&1; then
    fail "enrolled although GetCACert fails"
fi
grep -q "503" dev4.log || fail "scepclient did not report the 503: $(cat dev4.log)"
healthy "after injected 503s"
echo "ok: injected 503 on GetCACert, ${ms} ms with 300ms latency, healthy"
stop_server

# 5. NDES error codes and events: a wrong password and a template the CA does
#    not publish, each with NDES's HRESULT in the reply and the log, and the
#    event NDES would write in data/ndes-events.log.
rm -rf data
printf '[ndes]\nevent_log = true\nca_templates = ["User", "Machine"]\n' >events.toml
start_server --preset ndes-single-password --config events.toml
NDES="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
mkdir -p dev5 dev6
scepclient -server-url "$NDES" -challenge wrong-password -private-key dev5/key.pem -certificate dev5/cert.pem -cn dev5 \
    >dev5.log 2>&1 && fail "a wrong password enrolled"
scepclient -server-url "$NDES" -challenge "$CHALLENGE" -private-key dev6/key.pem -certificate dev6/cert.pem -cn dev6 \
    >dev6.log 2>&1 && fail "a template the CA does not publish enrolled"
grep -c "fail_info=badMessageCheck hresult=0x80070490" server.log >/dev/null || fail "no hresult for the wrong password in the log"
grep -c "fail_info=badRequest hresult=0x80094800" server.log >/dev/null || fail "no 0x80094800 for the template in the log"
events=data/ndes-events.log
[ -s "$events" ] || fail "no $events"
head -1 "$events" | grep -c "^Level.Date and Time.Source.Event ID.Task Category$" >/dev/null || fail "event file header: $(head -1 "$events")"
awk -F'\t' 'NR > 1 && $1 == "Error" && $3 == "Microsoft-Windows-NetworkDeviceEnrollmentService" && $4 == 29 &&
    $6 ~ /cannot be verified.*0x80070490/ {found = 1} END {exit !found}' "$events" || fail "no event 29: $(cat "$events")"
awk -F'\t' 'NR > 1 && $4 == 31 && $6 == "The Network Device Enrollment Service cannot submit the certificate request (0x80094800). The requested certificate template is not supported by this CA." {found = 1} END {exit !found}' "$events" ||
    fail "no event 31 with 0x80094800: $(cat "$events")"
[ "$(sqlite3 data/scep-lab.db "select count(*) from certificates where subject like '%dev%'")" = 0 ] || fail "a refused request was stored"
healthy "after NDES failures"
echo "ok: NDES HRESULTs in the log and events 29 and 31 in $events"
echo "PASS: NDES peer test (5 checks)"
