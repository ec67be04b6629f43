#!/usr/bin/env bash
# Trust material over HTTP and `scep-lab export`, read back with openssl:
# each CA (DER and PEM), the chain (PEM bundle and .p7b), the RA, and an
# issued certificate by serial, all matching the files and the store.
. "$(dirname "$0")/lib.sh"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
command -v curl >/dev/null || skip "curl not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"

start_server
cd "$WORK"
base="http://127.0.0.1:$PORT"
get() { curl -sf -o "$2" "$base$1" || fail "GET $1"; }
lab() { "$SCEP_LAB" --data-dir "$WORK/data" "$@"; }

# 1. each CA, DER and PEM, is the certificate in the data dir
for ca in root intermediate issuing ra; do
    get "/ca/$ca.crt" "$ca.der"
    get "/ca/$ca.pem" "$ca.pem"
    openssl x509 -inform DER -in "$ca.der" -out "$ca.from-der.pem" || fail "/ca/$ca.crt is not DER"
    cmp -s "$ca.from-der.pem" "data/pki/$ca.crt" || fail "/ca/$ca.crt differs from data/pki/$ca.crt"
    cmp -s "$ca.pem" "data/pki/$ca.crt" || fail "/ca/$ca.pem differs from data/pki/$ca.crt"
done
echo "ok: root, intermediate, issuing and ra as DER and PEM"

# 2. the chain: a PEM bundle that verifies and a .p7b with all three CAs
get /ca/chain.pem chain.pem
[ "$(grep -c 'BEGIN CERTIFICATE' chain.pem)" = 3 ] || fail "chain.pem should hold 3 certificates"
openssl verify -CAfile root.pem -untrusted chain.pem issuing.pem >/dev/null || fail "chain.pem does not verify"
get /ca/chain.p7b chain.p7b
openssl pkcs7 -inform DER -in chain.p7b -print_certs -out p7b-certs.pem || fail "chain.p7b is not PKCS#7"
[ "$(grep -c 'BEGIN CERTIFICATE' p7b-certs.pem)" = 3 ] || fail "chain.p7b should hold the whole chain"
for ca in root intermediate issuing; do
    grep -q "$(sed -n 2p "$ca.pem")" p7b-certs.pem || fail "$ca missing from chain.p7b"
done
lab export chain -f p7b -o cli-chain.p7b 2>/dev/null || fail "scep-lab export chain"
cmp -s cli-chain.p7b chain.p7b || fail "export chain and /ca/chain.p7b differ"
lab export root -f der >cli-root.der || fail "scep-lab export root"
cmp -s cli-root.der root.der || fail "export root and /ca/root.crt differ"
echo "ok: chain.pem verifies, chain.p7b holds the 3 CAs, the CLI writes the same bytes"

# 3. an issued certificate by serial, in any spelling
mkdir -p dev1
scepclient -server-url "$URL" -challenge "$CHALLENGE" -private-key dev1/key.pem -certificate dev1/cert.pem -cn dev1 \
    >dev1.log 2>&1 || fail "enrollment: $(cat dev1.log)"
serial=$(openssl x509 -in dev1/cert.pem -noout -serial | cut -d= -f2)
get "/certs/$serial.pem" issued.pem
cmp -s <(openssl x509 -in issued.pem -outform DER) <(openssl x509 -in dev1/cert.pem -outform DER) ||
    fail "/certs/$serial.pem is not the certificate scepclient received"
lower=$(echo "$serial" | tr 'A-F' 'a-f' | sed 's/^0*//')
get "/certs/$lower.crt" issued.der
stored=$(sqlite3 data/scep-lab.db "SELECT hex(der) FROM certificates WHERE serial = '$(sed 's/^0*//;s/^\(.\(..\)*\)$/0\1/' <<<"$serial")' OR serial = '$serial'")
[ "$(od -An -tx1 -v issued.der | tr -d ' \n' | tr 'a-f' 'A-F')" = "$stored" ] || fail "/certs DER differs from the store"
lab export "cert:$serial" -f der | cmp -s - issued.der || fail "export cert: differs from /certs"
echo "ok: /certs/<serial> (.pem, .crt, lower case, no leading zero) and export cert: match the store"

# 3b. the noun-verb commands give what the old spellings gave, and the old
# spellings still work with a warning naming the new one (docs/cli.md)
lab cert export "$serial" -f der >cert-export.der 2>cert-export.err || fail "cert export: $(cat cert-export.err)"
cmp -s cert-export.der issued.der || fail "cert export differs from /certs"
[ ! -s cert-export.err ] || fail "cert export warned: $(cat cert-export.err)"
lab ca export root -f der >ca-root.der || fail "ca export root"
cmp -s ca-root.der root.der || fail "ca export root differs from /ca/root.crt"
lab export root -f der >old-root.der 2>old.err || fail "the old spelling export failed"
cmp -s old-root.der root.der || fail "export (old spelling) differs"
grep -q '`export` is now `scep-lab ca export`' old.err || fail "no warning for the old spelling: $(cat old.err)"
lab cert list --format json --serial "$serial" >new-list.json 2>/dev/null
lab list --format json --serial "$serial" >old-list.json 2>old-list.err
cmp -s new-list.json old-list.json || fail "list and cert list differ"
grep -q '`list` is now `scep-lab cert list`' old-list.err || fail "no warning for list: $(cat old-list.err)"
lab cert show "$serial" --format json >show.json || fail "cert show"
python3 -c 'import json,sys; o=json.load(open("show.json")); sys.exit(0 if o["serial"] and "BEGIN CERTIFICATE" in o["pem"] else 1)' ||
    fail "cert show json: $(cat show.json)"
lab cert show "$serial" | contains "^status: valid" || fail "cert show text: $(lab cert show "$serial")"
lab cert show ABCDEF 2>show.err && fail "cert show of an unknown serial succeeded"
grep -q "no certificate with serial ABCDEF" show.err || fail "cert show unknown: $(cat show.err)"
lab cert show "ZZ;DROP TABLE certificates" 2>show.err && fail "cert show took a serial that is not hex"
grep -q "is not a serial number in hex" show.err || fail "cert show non-hex: $(cat show.err)"
[ "$(sqlite3 data/scep-lab.db 'SELECT COUNT(*) FROM certificates')" -ge 1 ] || fail "the store lost its rows"
echo "ok: cert export|list|show and ca export match the old spellings, which warn"

# 4. unknown names: 404 with a reason, and the server stays up
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ca/nope.pem")" = 404 ] || fail "unknown CA not 404"
curl -s "$base/ca/nope.pem" | contains 'no CA named "nope"' || fail "unknown CA without a reason"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/certs/ABCDEF.pem")" = 404 ] || fail "unknown serial not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ca/root.zip")" = 404 ] || fail "unknown format not 404"
lab export cert:XYZ 2>err.txt && fail "a bad serial was exported"
grep -q "not a serial number" err.txt || fail "bad serial without a reason: $(cat err.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "not healthy"
echo "ok: unknown names and formats are 404 with a reason"
echo "PASS: exports (5 checks)"
