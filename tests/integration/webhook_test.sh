#!/usr/bin/env bash
# [challenge] mode = "webhook" and "ndes-policy" with micromdm scepclient,
# against `scep-lab challenge-server` (docs/challenges.md):
#   webhook, both body formats: allow; deny with the reason in the log; a
#   timeout; a malformed answer; a wrong HMAC secret; an unreachable URL; an
#   https URL verified against webhook_ca_file (and refused with another CA);
#   a re-sent transaction is answered from the store without a call;
#   ndes-policy: VerifyRequest's HRESULT in the NDES FAILURE reply, the log
#   and the event file; GetTemplate choosing the template the certificate is
#   issued from; Notify received with the issued certificate; the NDES admin
#   page's password from the module's GenerateChallenge.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v python3 >/dev/null || skip "python3 not installed"
command -v iconv >/dev/null || skip "iconv not installed"
cd "$WORK"

HOOK_PID=""
stop_hook() {
    if [ -n "$HOOK_PID" ]; then kill "$HOOK_PID" 2>/dev/null || true; wait "$HOOK_PID" 2>/dev/null || true; fi
    HOOK_PID=""
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
OTHER_PID=""
trap 'stop_hook; [ -z "$OTHER_PID" ] || kill "$OTHER_PID" 2>/dev/null || true; cleanup' EXIT
# start_hook LOG ARGS...: the reference server on a free port; sets HOOK_PORT
start_hook() {
    local log=$1
    shift
    rm -f hook.port
    "$SCEP_LAB" challenge-server --port-file hook.port --log "$log" "$@" >hook.out 2>&1 &
    HOOK_PID=$!
    for _ in $(seq 1 100); do [ -s hook.port ] && break; sleep 0.05; done
    [ -s hook.port ] || fail "challenge-server did not start: $(cat hook.out)"
    HOOK_PORT=$(cat hook.port)
}
# enroll NAME CHALLENGE [URL]: 0 when scepclient got a certificate
enroll() {
    mkdir -p "$1"
    scepclient -server-url "${3:-$URL}" -challenge "$2" -private-key "$1/key.pem" -certificate "$1/cert.pem" \
        -cn "$1" >"$1/log" 2>&1
}
# refused NAME CHALLENGE WORDS [URL]: refused, and the server log's line for it says WORDS
refused() {
    enroll "$1" "$2" "${4:-}" && fail "$1: enrolled, should have been refused ($3)"
    grep -c "failInfo: badMessageCheck" "$1/log" >/dev/null || fail "$1: not badMessageCheck: $(tail -2 "$1/log")"
    grep "PKIOperation" server.log | grep -c "$3" >/dev/null || fail "$1: the log does not say \"$3\""
}
calls() { grep -c "\"challenge\":\"$2\"" "$1" || true; }

# 1. webhook, this project's format: allow, deny with reason, timeout, malformed
start_hook calls.jsonl --secret s3cret --allow good --allow again --rule bad='deny:device is not enrolled' \
    --rule slow=timeout:5 --rule junk=malformed --rule oops=status:500
cat >hook.toml <<EOF
[challenge]
mode = "webhook"
webhook_url = "http://127.0.0.1:$HOOK_PORT/scep-challenge"
webhook_secret = "s3cret"
webhook_timeout = "1s"
EOF
start_server --config hook.toml
grep -c "challenges decided by a webhook" server.log >/dev/null || fail "the mode is not logged at start"
enroll good good || fail "an allowed challenge did not enroll: $(tail -3 good/log)"
verify_chain good/cert.pem
grep '"challenge":"good"' calls.jsonl | grep -c '"signature":"ok"' >/dev/null || fail "call not signed: $(cat calls.jsonl)"
grep '"challenge":"good"' calls.jsonl | grep -c '"subject":"CN=good' >/dev/null || fail "subject not sent: $(cat calls.jsonl)"
refused bad bad "the challenge webhook denied the request: device is not enrolled"
refused nope nope "denied the request: the challenge is not on the allow-list"
started=$(date +%s%N)
refused slow slow "no answer within 1000 ms (timed out)"
elapsed=$((($(date +%s%N) - started) / 1000000))
[ "$elapsed" -lt 4500 ] || fail "the 1s webhook timeout took ${elapsed} ms"
refused junk junk "answer is not a JSON object"
refused oops oops "answered HTTP 500"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" | grep -c 200 >/dev/null || fail "not healthy"
for n in bad nope slow junk oops; do
    [ -s "$n/cert.pem" ] && fail "$n: a certificate was written"
done
[ "$(sqlite3 data/store.db 'select count(*) from certificates' 2>/dev/null || echo 1)" = 1 ] ||
    fail "refused enrollments stored certificates"
echo "ok: webhook allow, deny with reason, timeout (${elapsed} ms), malformed and HTTP 500"

# 2. a re-sent transaction (same key and subject: same transactionID) is answered from the store, without a call
enroll again again || fail "again: $(tail -3 again/log)"
before=$(calls calls.jsonl again)
enroll again again || fail "the re-sent transaction failed: $(tail -3 again/log)"
[ "$(calls calls.jsonl again)" = "$before" ] || fail "the webhook was called for a re-sent transaction"
echo "ok: a re-sent transaction does not call the webhook ($before call)"

# 3. a wrong secret (the hook answers 401) and an unreachable URL
stop_server
sed -i 's/webhook_secret = "s3cret"/webhook_secret = "wrong"/' hook.toml
start_server --config hook.toml
refused badmac good "answered HTTP 401: {\\\\\"error\\\\\":\\\\\"bad X-Scep-Lab-Signature\\\\\"}"
grep '"signature":"bad X-Scep-Lab-Signature"' calls.jsonl >/dev/null || fail "the hook did not refuse the signature"
stop_server
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s#webhook_url = .*#webhook_url = \"http://127.0.0.1:$closed/x\"#" hook.toml
start_server --config hook.toml
refused unreachable good "challenge webhook failed: POST http://127.0.0.1:$closed/x: Connection refused"
echo "ok: a wrong HMAC secret and an unreachable webhook refuse, the server keeps serving"
stop_server

# 3b. https://: the URL is another lab's HTTPS listener (it has no webhook: HTTP 404), trusted through
#     webhook_ca_file; with another CA bundle the TLS handshake is refused.
"$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$WORK/other" --ready-file other.json \
    >other.out 2>other.log &
OTHER_PID=$!
for _ in $(seq 1 300); do [ -s other.json ] && break; sleep 0.1; done
[ -s other.json ] || fail "the second lab did not start: $(tail -3 other.log)"
https_port=$(sed -n 's/.*"https_port":\([0-9]*\).*/\1/p' other.json)
cat >tls.toml <<EOF
[challenge]
mode = "webhook"
webhook_url = "https://127.0.0.1:$https_port/hook"
webhook_ca_file = "$WORK/other/pki/ca-chain.pem"
EOF
start_server --config tls.toml
refused tls-trusted good "challenge webhook failed: the webhook answered HTTP 404"
stop_server
sed -i "s#webhook_ca_file = .*#webhook_ca_file = \"$WORK/data/pki/ca-chain.pem\"#" tls.toml
start_server --config tls.toml
refused tls-untrusted good "certificate verify failed"
stop_server
kill "$OTHER_PID"; wait "$OTHER_PID" 2>/dev/null || true
OTHER_PID=""
echo "ok: an https webhook is verified against webhook_ca_file (trusted: it is reached; another CA: refused)"
stop_hook

# 4. step-ca's SCEPCHALLENGE body and X-Smallstep-Signature (base64 secret)
secret=$(printf 'step-secret-bytes' | base64)
start_hook step.jsonl --secret "$secret" --allow stepgood
cat >step.toml <<EOF
[challenge]
mode = "webhook"
webhook_url = "http://127.0.0.1:$HOOK_PORT/"
webhook_format = "step-ca"
webhook_secret = "$secret"
webhook_id = "0d1b7c1e-webhook"
EOF
start_server --config step.toml
enroll stepgood stepgood || fail "step-ca format: $(tail -3 stepgood/log)"
grep '"call":"SCEPCHALLENGE"' step.jsonl | grep -c '"signature":"ok"' >/dev/null ||
    fail "step-ca call not recognised or not signed: $(cat step.jsonl)"
refused stepbad stepbad "denied the request: the challenge is not on the allow-list"
echo "ok: step-ca's webhook body, signed as step-ca signs it"
stop_server
stop_hook

# 5. ndes-policy: VerifyRequest HRESULT, GetTemplate, Notify with the certificate
start_hook policy.jsonl --secret pol --allow intune-ok --rule intune-expired=hresult:0x800B0110 --template IntuneWiFi
cat >policy.toml <<EOF
[ndes]
enabled = true
event_log = true
[challenge]
mode = "ndes-policy"
webhook_url = "http://127.0.0.1:$HOOK_PORT/policy"
webhook_secret = "pol"
get_template = true
[log]
capture_dir = "$WORK/capture"
[templates.IntuneWiFi]
validity = "30d"
extended_key_usage = ["clientAuth"]
EOF
start_server --config policy.toml
NDES="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
grep '"call":"Initialize"' policy.jsonl >/dev/null || fail "no Initialize at start: $(cat policy.jsonl)"
enroll intune-ok intune-ok "$NDES" || fail "policy-verified request: $(tail -3 intune-ok/log)"
verify_chain intune-ok/cert.pem
openssl x509 -in intune-ok/cert.pem -noout -ext extendedKeyUsage | grep -c "Client Authentication" >/dev/null ||
    fail "not issued from IntuneWiFi"
days=$(( ($(date -d "$(openssl x509 -in intune-ok/cert.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))
[ "$days" -ge 29 ] && [ "$days" -le 30 ] || fail "validity $days days, IntuneWiFi's is 30"
serial=$(openssl x509 -in intune-ok/cert.pem -noout -serial | cut -d= -f2)
grep '"call":"GetTemplate"' policy.jsonl | grep -c '"ndes_template":"IPSECIntermediateOffline"' >/dev/null ||
    fail "GetTemplate was not offered NDES's choice"
grep '"call":"VerifyRequest"' policy.jsonl | grep '"challenge":"intune-ok"' | grep -c '"ndes_template":"IntuneWiFi"' \
    >/dev/null || fail "VerifyRequest did not get the module's template"
grep '"call":"Notify"' policy.jsonl | grep '"disposition":0' | grep -c "\"issued_serial\":\"$serial\"" >/dev/null ||
    fail "Notify did not carry the issued certificate $serial: $(grep Notify policy.jsonl)"
echo "ok: GetTemplate chose IntuneWiFi ($days days, clientAuth), Notify got certificate $serial"

refused intune-expired intune-expired "VerifyRequest failed with 0x800B0110" "$NDES"
grep "PKIOperation" server.log | grep "intune-expired" >/dev/null && fail "the challenge reached the log"
grep "PKIOperation" server.log | grep -c "hresult=0x800B0110" >/dev/null || fail "HRESULT not in the request log"
grep -c "0x800B0110" data/ndes-events.log >/dev/null || fail "no NDES event with the HRESULT"
grep '"call":"Notify"' policy.jsonl | grep -c '"last_hresult":"0x800B0110"' >/dev/null ||
    fail "Notify did not report the failure's HRESULT"
# The HRESULT on the wire: the FAILURE's 1.3.6.1.4.1.311.21.33 attribute, decimal as NDES sends it.
reply=$(ls -v capture/*.reply.der | tail -1)
openssl asn1parse -inform der -in "$reply" >reply.asn1 || fail "the captured reply does not parse"
grep -A3 ":1.3.6.1.4.1.311.21.33" reply.asn1 | grep -c "PRINTABLESTRING *:-2146762480" >/dev/null ||
    fail "the FAILURE reply does not carry -2146762480 (0x800B0110): $(grep -A3 311.21.33 reply.asn1)"
echo "ok: VerifyRequest's HRESULT 0x800B0110 in the FAILURE reply, the log, the event file and Notify"
# The NDES admin page's password comes from the module's GenerateChallenge, and enrolls.
curl -s "http://127.0.0.1:$PORT/certsrv/mscep_admin/" >admin.html
password=$(iconv -f UTF-16 -t UTF-8 admin.html | grep -oP 'The enrollment challenge password is: <B> \K\S+') ||
    fail "no password on the admin page: $(iconv -f UTF-16 -t UTF-8 admin.html | head -c 400)"
grep '"call":"GenerateChallenge"' policy.jsonl | grep -c "\"challenge\":\"$password\"" >/dev/null ||
    fail "the admin page's password is not the module's GenerateChallenge answer"
enroll from-admin-page "$password" "$NDES" || fail "the GenerateChallenge password did not enroll: $(tail -3 from-admin-page/log)"
echo "ok: the NDES admin page shows GenerateChallenge's password, and it enrolls"
stop_server
grep '"call":"Uninitialize"' policy.jsonl >/dev/null || fail "no Uninitialize at stop"
echo "ok: Initialize at start, Uninitialize at stop"
