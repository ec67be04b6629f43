#!/usr/bin/env bash
# The HTTPS listener (issue 6): clients that verify the server against the
# exported lab chain (openssl s_client -verify_return_error, curl, certmonger
# add-scep-ca -R) reach it; clients that do not trust it, or speak TLS 1.1,
# are refused. The certificate is reused across restarts, issued again when
# the names change, and a tester's own certificate can replace it.
. "$(dirname "$0")/lib.sh"

https_port() { sed -n 's/.*"https_port":\([0-9]*\).*/\1/p' "$WORK/ready.json"; }
# What the HTTPS listener serves. s_client's own exit status is not the
# question (it may report the close after stdin's end as an error); the
# certificates it printed are, and the checks below read them.
served() { openssl s_client -connect "127.0.0.1:$HPORT" "$@" </dev/null 2>/dev/null || true; }
# s_client LOG [options]: the whole output in LOG, its exit status ignored for
# the same reason (with TLS 1.3 it sometimes reports the close after stdin's
# end as a failure). What it says decides: verified() when the chain and the
# name verified, handshake_refused() when no cipher was agreed.
s_client() { local log=$1; shift; openssl s_client -connect "127.0.0.1:$HPORT" "$@" </dev/null >"$log" 2>&1 || true; }
verified() { grep -q "Verify return code: 0 (ok)" "$1" && ! grep -q "Cipher is (NONE)" "$1"; }
handshake_refused() { grep -q "Cipher is (NONE)" "$1"; }

start_server
HPORT=$(https_port)
[ -n "$HPORT" ] || fail "ready file has no https_port: $(cat "$WORK/ready.json")"
grep -q "\"https_url\":\"https://127.0.0.1:$HPORT/scep\"" "$WORK/ready.json" || fail "ready file has no https_url"

# The trust anchor comes from the plain HTTP export, as a tester would get it.
curl -sf "http://127.0.0.1:$PORT/ca/root.pem" -o "$WORK/root.pem" || fail "cannot download /ca/root.pem"
cmp -s <(openssl x509 -in "$WORK/root.pem" -outform DER) <(openssl x509 -in "$(ROOT)" -outform DER) ||
    fail "/ca/root.pem is not the lab root"

# 1. openssl s_client verifies the chain and the name.
for name in localhost 127.0.0.1; do
    flag=-verify_hostname; [ "$name" = 127.0.0.1 ] && flag=-verify_ip
    s_client "$WORK/s0-$name.log" -servername localhost -CAfile "$WORK/root.pem" -verify_return_error "$flag" "$name"
    verified "$WORK/s0-$name.log" || fail "s_client did not verify for $name: $(tail -5 "$WORK/s0-$name.log")"
done
# The server sends its certificate and the intermediates, not the root.
sent=$(served -showcerts | grep -c "BEGIN CERTIFICATE")
[ "$sent" = 3 ] || fail "expected server + 2 intermediate certificates in the handshake, got $sent"
echo "ok: s_client verifies the HTTPS chain against the exported root (localhost and 127.0.0.1), 3 certificates sent"

# scep-lab health over HTTPS verifies against the data dir's root.
"$SCEP_LAB" --data-dir "$WORK/data" health --url "https://localhost:$HPORT" >/dev/null || fail "health over HTTPS failed"
out=$("$SCEP_LAB" --data-dir "$WORK/nodata" health --url "https://localhost:$HPORT" 2>&1) &&
    fail "health trusted the lab without its root"
echo "$out" | contains "certificate verify failed" || fail "health without the root: $out"
echo "ok: scep-lab health checks HTTPS against the lab root, and fails without it"

# 2. Refusals: an unrelated trust anchor, a wrong name, TLS 1.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other.key" -subj "/CN=other root" -days 1 \
    -out "$WORK/other-root.pem" 2>/dev/null
s_client "$WORK/s1.log" -CAfile "$WORK/other-root.pem" -verify_return_error
verified "$WORK/s1.log" && fail "s_client trusted the server with an unrelated root"
grep -q "unable to get local issuer certificate\|verify error" "$WORK/s1.log" || fail "no verify error: $(tail -3 "$WORK/s1.log")"
s_client "$WORK/s2.log" -CAfile "$WORK/root.pem" -verify_return_error -verify_hostname scep.example.com
verified "$WORK/s2.log" && fail "s_client accepted a wrong host name"
grep -q "hostname mismatch" "$WORK/s2.log" || fail "no hostname mismatch: $(tail -3 "$WORK/s2.log")"
s_client "$WORK/s3.log" -tls1_1
handshake_refused "$WORK/s3.log" || fail "TLS 1.1 handshake succeeded: $(grep 'Cipher is' "$WORK/s3.log")"
curl -sf --cacert "$WORK/root.pem" "https://localhost:$HPORT/healthz" >/dev/null || fail "server unhealthy after refused handshakes"
echo "ok: unrelated root, wrong host name and TLS 1.1 are refused; the server keeps serving"

# 3. Exports of the TLS chain match what the server sends.
curl -sf --cacert "$WORK/root.pem" "https://localhost:$HPORT/ca/tls-chain.pem" -o "$WORK/tls-chain.pem" || fail "no /ca/tls-chain.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$WORK/tls-chain.pem")" = 4 ] || fail "tls-chain.pem should hold server, 2 intermediates, root"
openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/tls-chain.pem" "$WORK/tls-chain.pem" >/dev/null ||
    fail "tls-chain.pem does not verify"
curl -sf "http://127.0.0.1:$PORT/ca/tls-chain.p7b" -o "$WORK/tls-chain.p7b" || fail "no /ca/tls-chain.p7b"
[ "$(openssl pkcs7 -inform DER -in "$WORK/tls-chain.p7b" -print_certs | grep -c 'BEGIN CERTIFICATE')" = 4 ] ||
    fail "tls-chain.p7b should hold 4 certificates"
"$SCEP_LAB" --data-dir "$WORK/data" export tls-chain >"$WORK/tls-chain-cli.pem" || fail "scep-lab export tls-chain failed"
cmp -s "$WORK/tls-chain.pem" "$WORK/tls-chain-cli.pem" || fail "CLI and HTTP tls-chain differ"
served | openssl x509 -outform DER >"$WORK/served.der"
openssl x509 -in "$WORK/tls-chain.pem" -outform DER | cmp -s - "$WORK/served.der" || fail "exported tls certificate is not the served one"
https_serial=$(openssl x509 -in "$WORK/tls-chain.pem" -noout -serial | cut -d= -f2)
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT requester FROM certificates WHERE serial = '$https_serial'")" = "scep-lab https" ] ||
    fail "the HTTPS certificate is not in the store"
openssl x509 -in "$WORK/tls-chain.pem" -noout -ext extendedKeyUsage | contains "TLS Web Server Authentication" ||
    fail "HTTPS certificate lacks serverAuth"
echo "ok: /ca/tls-chain.pem, .p7b and \`export tls-chain\` agree with the handshake; the certificate is in the store"

# 4. SCEP over HTTPS with a verifying client: certmonger add-scep-ca -R.
# certmonger 0.79 (bookworm) verifies GetCACaps/GetCACert against -R but the
# PKIOperation connection against the system store (seen with strace: the
# second connection opens /etc/ssl/certs/ca-certificates.crt), so a device
# must also trust the lab root system-wide; docs/trust.md says so. Here that
# is a private mount namespace whose system bundle is the lab root, so the
# machine's own trust store is never touched.
if command -v certmonger >/dev/null && command -v dbus-run-session >/dev/null && [ "$(id -u)" = 0 ] &&
    unshare -m true 2>/dev/null; then
    mkdir -p "$WORK"/cm/{cas,requests,config,local,home,out}
    export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \
        CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \
        CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"  # not /var/lib/certmonger/lock: peers run in parallel
    cat >"$WORK/cm/run.sh" <<SCRIPT
#!/usr/bin/env bash
out="$WORK/cm/out"
getcert add-scep-ca -s -c lab-https -u "https://localhost:$HPORT/scep" -R "$WORK/root.pem" || exit 10
getcert request -s -c lab-https -I tls -f "\$out/tls.pem" -k "\$out/tls.key" -L "$CHALLENGE" -N CN=cm-https.lab -w >/dev/null 2>&1
# certmonger fetches the CA's certificates in the background after add-scep-ca;
# a request that starts first stops at CA_UNCONFIGURED ("No RA certificate"):
# once they are there, resubmit it (a slow, sanitized server makes the race
# visible). The check below still wants MONITORING.
for _ in \$(seq 1 25); do
    getcert list -s -i tls >"\$out/tls.list"
    grep -q "status: CA_UNCONFIGURED" "\$out/tls.list" || break
    sleep 0.2
    getcert resubmit -s -i tls -w >/dev/null 2>&1
done
getcert list -s -i tls >"\$out/tls.list"
getcert add-scep-ca -s -c untrusted -u "https://localhost:$HPORT/scep" -R "$WORK/other-root.pem" || exit 11
getcert request -s -c untrusted -I untrusted -f "\$out/untrusted.pem" -k "\$out/untrusted.key" -L "$CHALLENGE" -N CN=cm-untrusted.lab >/dev/null 2>&1
for _ in \$(seq 1 50); do
    getcert list -s -i untrusted >"\$out/untrusted.list"
    grep -q "status: \(CA_UNREACHABLE\|CA_UNCONFIGURED\|CA_REJECTED\)" "\$out/untrusted.list" && break
    sleep 0.2
done
SCRIPT
    chmod +x "$WORK/cm/run.sh"
    cp "$WORK/root.pem" "$WORK/system-bundle.pem"
    timeout 120 unshare -m --propagation private sh -c \
        'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && exec dbus-run-session -- certmonger -s -n -c "$2"' \
        sh "$WORK/system-bundle.pem" "$WORK/cm/run.sh" >"$WORK/cm/daemon.log" 2>&1 ||
        fail "certmonger run failed: $(tail -5 "$WORK/cm/daemon.log")"
    grep -q "status: MONITORING" "$WORK/cm/out/tls.list" || fail "certmonger did not enroll over HTTPS: $(cat "$WORK/cm/out/tls.list")"
    verify_chain "$WORK/cm/out/tls.pem"
    grep -q "op=PKIOperation.*status=SUCCESS.*tls=TLSv1" "$WORK/server.log" || fail "no PKIOperation over TLS in the log"
    grep -q "status: CA_UNREACHABLE\|status: CA_UNCONFIGURED\|status: CA_REJECTED" "$WORK/cm/out/untrusted.list" ||
        fail "certmonger trusted the server with an unrelated root: $(cat "$WORK/cm/out/untrusted.list")"
    [ ! -s "$WORK/cm/out/untrusted.pem" ] || fail "the untrusting client got a certificate"
    echo "ok: certmonger (add-scep-ca -R root.pem) enrolled over HTTPS; with an unrelated root it stopped"
else
    certmonger_skipped="certmonger, dbus-run-session, root or mount namespaces missing"
fi

# 5. Restart: the same certificate; changed names: a new one.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_server
HPORT=$(https_port)
served | openssl x509 -noout -serial | contains "$https_serial" ||
    fail "the HTTPS certificate changed on a plain restart"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[https]\nnames = ["scep.lab", "127.0.0.2"]\nmin_version = "1.3"\n' >"$WORK/names.toml"
start_server --config "$WORK/names.toml"
HPORT=$(https_port)
grep -q 'issued the HTTPS certificate reason="the HTTPS names changed"' "$WORK/server.log" || fail "no reissue on a name change"
s_client "$WORK/s4.log" -CAfile "$WORK/root.pem" -verify_return_error -verify_hostname scep.lab
verified "$WORK/s4.log" || fail "new name scep.lab does not verify: $(tail -3 "$WORK/s4.log")"
s_client "$WORK/s5.log" -tls1_2
handshake_refused "$WORK/s5.log" || fail "TLS 1.2 accepted with min_version = 1.3: $(grep 'Cipher is' "$WORK/s5.log")"
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE requester = 'scep-lab https'")" = 2 ] ||
    fail "expected two HTTPS certificates in the store"
echo "ok: restart keeps the certificate; new names issue a new one (in the store); min_version 1.3 refuses TLS 1.2"

# 6. Your own certificate (here from \`scep-lab issue --profile tls-server\`), HTTPS only.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$SCEP_LAB" --data-dir "$WORK/data" issue --profile tls-server --dns own.lab --out "$WORK/own" >/dev/null ||
    fail "scep-lab issue --profile tls-server failed"
for f in cert.pem key.pem chain.pem fullchain.pem; do [ -s "$WORK/own/$f" ] || fail "issue wrote no $f"; done
printf '[https]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/own/fullchain.pem" "$WORK/own/key.pem" >"$WORK/own.toml"
start_server --config "$WORK/own.toml" --no-http
HPORT=$(https_port)
grep -q '"url":"https://' "$WORK/ready.json" || fail "with --no-http the ready file should give the https URL"
s_client "$WORK/s6.log" -CAfile "$WORK/root.pem" -verify_return_error -verify_hostname own.lab
verified "$WORK/s6.log" || fail "own certificate does not verify: $(tail -3 "$WORK/s6.log")"
curl -sf --cacert "$WORK/root.pem" --resolve "own.lab:$HPORT:127.0.0.1" "https://own.lab:$HPORT/scep?operation=GetCACaps" | contains POSTPKIOperation || fail "GetCACaps over HTTPS with the own certificate failed"
out=$("$SCEP_LAB" --data-dir "$WORK/data" health --url "https://127.0.0.1:$HPORT" 2>&1) &&
    fail "health accepted own.lab's certificate for 127.0.0.1"
echo "ok: https.cert_file/key_file serve your own certificate; --no-http leaves HTTPS alone; names are checked"

# 7. Bad HTTPS settings stop the start with a clear message.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
printf '[https]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/own/cert.pem" "$WORK/radius-nokey.pem" >"$WORK/bad1.toml"
out=$("$SCEP_LAB" --config "$WORK/bad1.toml" serve --data-dir "$WORK/data" --port 0 --https-port 0 2>&1) && fail "started with a missing key file"
echo "$out" | contains "https.key_file" || fail "missing key not named: $out"
printf '[https]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/own/cert.pem" "$WORK/other.key" >"$WORK/bad2.toml"
out=$("$SCEP_LAB" --config "$WORK/bad2.toml" serve --data-dir "$WORK/data" --port 0 --https-port 0 2>&1) && fail "started with a mismatched key"
echo "$out" | contains "does not belong" || fail "mismatched key not explained: $out"
printf '[https]\ncert_file = "%s"\n' "$WORK/own/cert.pem" >"$WORK/bad3.toml"
out=$("$SCEP_LAB" --config "$WORK/bad3.toml" serve --data-dir "$WORK/data" 2>&1) && fail "started with cert_file alone"
echo "$out" | contains "go together" || fail "cert_file without key_file not explained: $out"
out=$("$SCEP_LAB" serve --data-dir "$WORK/data" --no-http --no-https 2>&1) && fail "started with nothing to listen on"
echo "$out" | contains "nothing would listen" || fail "no-http + no-https not explained: $out"
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE requester = 'scep-lab https'")" = 2 ] ||
    fail "the store changed after refused starts"
echo "ok: missing key, mismatched key, cert without key, nothing to listen on: refused with the setting named"
# A check that could not run is a skip, not a pass (exit 77), after the rest ran.
[ -z "${certmonger_skipped:-}" ] || skip "every other HTTPS check passed; certmonger over HTTPS did not run: $certmonger_skipped"
echo "PASS: HTTPS peer test (7 checks)"
