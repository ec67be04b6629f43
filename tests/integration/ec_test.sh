#!/usr/bin/env bash
# EC keys on both sides, checked with tools that are not scep-lab's codec:
#   1. EC P-256 and P-384 requesters (scep-lab bench, every reply decrypted):
#      each captured CertRep's envelope is a CMS KeyAgreeRecipientInfo that
#      `openssl cms -decrypt` opens with the requester's key; the certificate
#      inside chains to the root and carries the requester's key;
#   2. scep.ec_requesters = "refuse": badAlg, nothing stored;
#   3. an ECDSA issuing CA (P-256, under a P-384 root) behind an RSA RA:
#      micromdm scepclient and certmonger enroll, certificates signed with
#      ecdsa-with-SHA256 that chain to the root.
. "$(dirname "$0")/lib.sh"
SOURCE_DIR=$(readlink -f "$(dirname "$0")/../..")
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v certmonger >/dev/null || skip "certmonger not installed"
command -v dbus-run-session >/dev/null || skip "dbus-run-session not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"

stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cd "$WORK"
printf '[log]\ncapture_dir = "%s/capture"\n' "$WORK" >capture.toml
start_server --config capture.toml

# 1. EC requesters, one enrollment per curve, the reply opened by openssl.
for curve in p256 p384; do
    rm -rf capture && mkdir capture
    "$SCEP_LAB" bench "$URL" -n 1 -c 1 -k 1 --key "ec-$curve" --key-cache "key-$curve.pem" --json >"bench-$curve.json" 2>&1 ||
        fail "bench --key ec-$curve: $(cat "bench-$curve.json")"
    grep -q '"succeeded":1,"failed":0,"decrypted":1' "bench-$curve.json" || fail "ec-$curve: $(cat "bench-$curve.json")"
    reply=$(ls capture/*.reply.der)
    # The CertRep's signed content is the envelope (RFC 8894 §3.3.2): take it out, signature checked.
    openssl cms -verify -noverify -inform DER -in "$reply" -binary -out "env-$curve.der" 2>verify.err ||
        fail "ec-$curve: the CertRep signature does not verify: $(cat verify.err)"
    openssl cms -cmsout -print -inform DER -in "env-$curve.der" >"env-$curve.txt"
    grep -q "d.kari" "env-$curve.txt" || fail "ec-$curve: no KeyAgreeRecipientInfo: $(head -20 "env-$curve.txt")"
    grep -q "dhSinglePass-stdDH-sha1kdf-scheme" "env-$curve.txt" || fail "ec-$curve: not the SHA-1 X9.63 KDF scheme"
    grep -A3 "d.originatorKey" "env-$curve.txt" | contains "parameter: NULL" ||
        fail "ec-$curve: originator parameters are not NULL as NDES writes them"
    openssl cms -decrypt -inform DER -in "env-$curve.der" -inkey "key-$curve.pem" -binary -out "deg-$curve.der" 2>dec.err ||
        fail "ec-$curve: openssl cms -decrypt with the requester's key: $(cat dec.err)"
    openssl pkcs7 -inform DER -in "deg-$curve.der" -print_certs -out "cert-$curve.pem" || fail "ec-$curve: not a degenerate PKCS#7"
    verify_chain "cert-$curve.pem"
    [ "$(openssl x509 -in "cert-$curve.pem" -noout -pubkey)" = "$(openssl pkey -in "key-$curve.pem" -pubout)" ] ||
        fail "ec-$curve: the certificate does not carry the requester's key"
    serial_in_store "cert-$curve.pem" >/dev/null
    echo "ok: EC $curve requester: KARI reply opened by openssl cms, chain verified"
done
stop_server

# 2. ec_requesters = "refuse"
printf '[scep]\nec_requesters = "refuse"\n' >refuse.toml
start_server --config refuse.toml
before=$(sqlite3 data/scep-lab.db 'select count(*) from certificates')
rc=0
"$SCEP_LAB" bench "$URL" -n 2 -c 1 --key ec-p256 --json >refuse.json 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "ec_requesters = refuse: bench exit $rc: $(cat refuse.json)"
grep -q '"FAILURE badAlg":2' refuse.json || fail "ec_requesters = refuse: $(cat refuse.json)"
[ "$(sqlite3 data/scep-lab.db 'select count(*) from certificates')" = "$before" ] || fail "refused EC requests stored a certificate"
# RSA requesters are unaffected.
"$SCEP_LAB" bench "$URL" -n 1 -c 1 --json >refuse-rsa.json 2>&1 || fail "RSA with ec_requesters = refuse: $(cat refuse-rsa.json)"
stop_server
echo "ok: ec_requesters = refuse answers badAlg, RSA unaffected"

# 3. ECDSA issuing CA with an RSA RA
rm -rf data
start_server --config "$SOURCE_DIR/config/examples/ecdsa-issuing-ca.toml"
openssl x509 -in data/pki/ra.crt -noout -text | contains "Public Key Algorithm: rsaEncryption" || fail "the RA is not RSA"
mkdir -p sc sc0
# Without a selector scepclient encrypts to every GetCACert certificate and
# panics on the ECDSA one (a finding worth knowing: smallstep/certificates
# #1414 is the same setup); -ca-fingerprint picks the RSA RA.
rc=0
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key sc0/key.pem -certificate sc0/cert.pem -cn no-selector \
    >sc0.log 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -c "ecdsa.PublicKey, not \*rsa.PublicKey" sc0.log >/dev/null ||
    fail "scepclient without -ca-fingerprint was expected to fail on the ECDSA CA certificate (exit $rc): $(tail -3 sc0.log)"
ra_fp=$(openssl x509 -in data/pki/ra.crt -outform DER | sha256sum | cut -d' ' -f1)
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key sc/key.pem -certificate sc/cert.pem -cn ecdsa-ca-dev \
    -ca-fingerprint "$ra_fp" >sc.log 2>&1 || fail "scepclient against the ECDSA CA: $(cat sc.log)"
verify_chain sc/cert.pem
openssl x509 -in sc/cert.pem -noout -text | contains "Signature Algorithm: ecdsa-with-SHA256" ||
    fail "scepclient's certificate is not signed with ECDSA"
echo "ok: scepclient enrolled under the ECDSA issuing CA"

mkdir -p cm/{cas,requests,config,local,home,out}
export CERTMONGER_CAS_DIR="$WORK/cm/cas" CERTMONGER_REQUESTS_DIR="$WORK/cm/requests" \
    CERTMONGER_CONFIG_DIR="$WORK/cm/config" CERTMONGER_LOCAL_CA_DIR="$WORK/cm/local" HOME="$WORK/cm/home" \
    CERTMONGER_SYSTEM_LOCK_FILE="$WORK/cm/lock"
cat >cm/run.sh <<SCRIPT
#!/usr/bin/env bash
out="$WORK/cm/out"
getcert add-scep-ca -s -c lab -u "$URL" || exit 10
getcert request -s -c lab -I ec -f "\$out/cm.pem" -k "\$out/cm.key" -L "$CHALLENGE" -N CN=cm-ecdsa.lab -w >"\$out/cm.log" 2>&1
getcert list -s -i ec >"\$out/cm.list"
SCRIPT
chmod +x cm/run.sh
timeout 120 dbus-run-session -- certmonger -s -n -c "$WORK/cm/run.sh" >cm/daemon.log 2>&1 || fail "certmonger run failed"
grep -q "status: MONITORING" cm/out/cm.list || fail "certmonger under the ECDSA CA: $(cat cm/out/cm.list cm/out/cm.log)"
verify_chain cm/out/cm.pem
openssl x509 -in cm/out/cm.pem -noout -text | contains "Signature Algorithm: ecdsa-with-SHA256" ||
    fail "certmonger's certificate is not signed with ECDSA"
echo "ok: certmonger enrolled under the ECDSA issuing CA"
echo "PASS: EC requesters and the ECDSA issuing CA (5 checks)"
