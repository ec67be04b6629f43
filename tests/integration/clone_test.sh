#!/usr/bin/env bash
# scep-lab clone (docs/clone.md): an NDES-preset lab with non-default choices
# is cloned from its URL; the clone serves; openssl compares every cloned
# property of every certificate, GetCACaps byte for byte, the HTTP identity
# and the admin page's encoding; `clone --compare` reports only keys,
# serials, dates and fingerprints; micromdm's scepclient enrolls against the
# clone with the URL and the kind of challenge it would use on the original.
# Then a CA set built with openssl the way AD CS writes it is cloned from
# files, and hostile files are refused with nothing written.
source "$(dirname "$0")/lib.sh"
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
command -v scepclient >/dev/null || skip "scepclient not installed (apt-get install scep)"
cd "$WORK"

# An odd subject: PrintableString C, a BMPString CN, a multi-valued RDN (OU+O), DC in IA5String.
cat >orig.toml <<'TOML'
[server]
header_server = "Microsoft-IIS/10.0"
header_powered_by = "ASP.NET"
[https]
enabled = false
[scep]
capabilities_line_end = "crlf"
[ndes]
ra_subject = "CN=WEB1-MSCEP-RA,OU=PKI,O=Contoso,C=US"
[[pki.tiers]]
name = "root"
subject = "CN=Contoso Root CA,DC=contoso,DC=com"
key = "rsa4096"
validity = "7300d"
[[pki.tiers]]
name = "issuing"
subject = "CN=Contoso Issuing CA 01"
# C (PrintableString), OU+O in one RDN (UTF8String), CN as BMPString
subject_der = "MGAxCzAJBgNVBAYTAlVTMRwwCgYDVQQLDANQS0kwDgYDVQQKDAdDb250b3NvMTMwMQYDVQQDHioAQwBvAG4AdABvAHMAbwAgAEkAcwBzAHUAaQBuAGcAIABDAEEAIAAwADE="
key = "rsa2048"
validity = "1825d"
signature = "sha1"
extensions = [
  "basicConstraints = critical,CA:TRUE,pathlen:0",
  "keyUsage = digitalSignature,keyCertSign,cRLSign",
  "subjectKeyIdentifier = hash",
  "authorityKeyIdentifier = keyid:always",
  "1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:SubCA",
  "1.3.6.1.4.1.311.21.1 = ASN1:INTEGER:0",
  "extendedKeyUsage = serverAuth,clientAuth,1.3.6.1.4.1.311.20.2.1",
  "crlDistributionPoints = URI:http://pki.contoso.com/CertEnroll/Contoso%20Root%20CA.crl",
  "certificatePolicies = 1.3.6.1.4.1.99999.1.1",
]
TOML
start_server --preset ndes-default --config orig.toml
ORIG="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
ORIG_PID=$SERVER_PID
openssl x509 -in "$WORK/data/pki/issuing.crt" -noout -subject -nameopt multiline,show_type | contains "BMPSTRING" ||
    fail "the original's issuing CA does not carry the BMPString subject from subject_der"

# 1. Clone from the URL (only GetCACaps, GetCACert, GetNextCACert and the open admin page).
"$SCEP_LAB" clone --url "$ORIG" --admin-open --verbatim-urls --out c1 >clone.out 2>&1 || fail "clone failed: $(cat clone.out)"
[ -s c1/scep-lab.toml ] && [ -s c1/fidelity.md ] && [ -s c1/original/getcacert.p7b ] || fail "clone wrote no configuration"
contains "cert.issuing.signature .*copied .*sha1WithRSAEncryption" <clone.out || fail "fidelity: SHA-1 issuing CA not copied: $(cat clone.out)"
contains "admin.encoding .*copied .*utf-16le-bom" <clone.out || fail "fidelity: admin page encoding"
grep -c "operation=PKIOperation" "$WORK/server.log" >/dev/null && fail "clone sent a PKIOperation to the original"
"$SCEP_LAB" transaction list --url "http://127.0.0.1:$PORT" --format json 2>/dev/null | contains '"PKIOperation"' &&
    fail "the original recorded a PKIOperation from clone"
echo "ok: cloned from the URL with GetCACaps, GetCACert, GetNextCACert and the admin page only"

# serve_clone DIR: serves DIR/scep-lab.toml on port 0; sets SERVED_PORT, adds its pid to PIDS.
PIDS=""
trap 'kill $PIDS 2>/dev/null; cleanup' EXIT
serve_clone() {
    "$SCEP_LAB" --config "$1/scep-lab.toml" serve --port 0 --ready-file "$1.ready" >"$1.log" 2>&1 &
    PIDS="$PIDS $!"
    SERVED_PID=$!
    for _ in $(seq 1 300); do [ -s "$1.ready" ] && break; sleep 0.1; done
    [ -s "$1.ready" ] || { cat "$1.log"; fail "the clone in $1 does not start"; }
    SERVED_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$1.ready")
}

# 2. Serve the clone beside the original.
serve_clone c1
CPORT=$SERVED_PORT
CLONE="http://127.0.0.1:$CPORT/certsrv/mscep/mscep.dll"

# 3. openssl, property by property, certificate by certificate.
curl -s "$ORIG?operation=GetCACert&message=CA" >a.p7b
curl -s "$CLONE?operation=GetCACert&message=CA" >b.p7b
openssl pkcs7 -inform DER -in a.p7b -print_certs >a.pem && openssl pkcs7 -inform DER -in b.p7b -print_certs >b.pem ||
    fail "GetCACert is not a PKCS#7 openssl reads"
split_certs() { awk -v p="$2" 'BEGIN{n=0} /BEGIN CERT/{n++} n>0{print > (p n ".pem")}' "$1"; }
split_certs a.pem a; split_certs b.pem b
na=$(grep -c "BEGIN CERT" a.pem); nb=$(grep -c "BEGIN CERT" b.pem)
[ "$na" = 4 ] && [ "$nb" = 4 ] || fail "GetCACert: $na certificates from the original, $nb from the clone (4 each)"
props=0
for i in 1 2 3 4; do
    for what in subject issuer; do
        x=$(openssl x509 -in a$i.pem -noout -$what -nameopt RFC2253,show_type,dump_der); y=$(openssl x509 -in b$i.pem -noout -$what -nameopt RFC2253,show_type,dump_der)
        [ "$x" = "$y" ] || fail "certificate $i: $what differs: $x / $y"; props=$((props + 1))
    done
    x=$(openssl x509 -in a$i.pem -noout -text | grep -E "Public-Key|Signature Algorithm|Hash Algorithm" | sort -u)
    y=$(openssl x509 -in b$i.pem -noout -text | grep -E "Public-Key|Signature Algorithm|Hash Algorithm" | sort -u)
    [ "$x" = "$y" ] || fail "certificate $i: key or signature algorithm differs: $x / $y"; props=$((props + 1))
    # Every extension, in order, with its criticality and value; key identifiers by form only.
    ext() { openssl x509 -in "$1" -noout -text -certopt no_header,no_version,no_serial,no_signame,no_validity,no_subject,no_issuer,no_pubkey,no_sigdump,no_aux |
        sed -E '/Key Identifier/{n;s/[0-9A-F]{2}(:[0-9A-F]{2})+/ID/}'; }
    x=$(ext a$i.pem); y=$(ext b$i.pem)
    [ "$x" = "$y" ] || fail "certificate $i: extensions differ: $(diff <(echo "$x") <(echo "$y"))"; props=$((props + 1))
    span() { echo $(( $(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s) - $(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s) )); }
    [ "$(span a$i.pem)" = "$(span b$i.pem)" ] || fail "certificate $i: validity $(span a$i.pem) s vs $(span b$i.pem) s"; props=$((props + 1))
    [ "$(openssl x509 -in a$i.pem -noout -serial)" != "$(openssl x509 -in b$i.pem -noout -serial)" ] || fail "certificate $i: same serial: keys were copied?"
    [ "$(openssl x509 -in a$i.pem -noout -pubkey)" != "$(openssl x509 -in b$i.pem -noout -pubkey)" ] || fail "certificate $i: same key"
done
curl -s "$ORIG?operation=GetCACaps" >a.caps; curl -s "$CLONE?operation=GetCACaps" >b.caps
cmp -s a.caps b.caps || fail "GetCACaps differs: $(od -c a.caps | head -3) / $(od -c b.caps | head -3)"
grep -c $'\r' b.caps >/dev/null || fail "the clone's GetCACaps lost the CRLF line ends"
for h in Server X-Powered-By; do
    x=$(curl -sI "$ORIG?operation=GetCACaps" | grep -i "^$h:" | tr -d '\r'); y=$(curl -sI "$CLONE?operation=GetCACaps" | grep -i "^$h:" | tr -d '\r')
    [ -n "$x" ] && [ "$x" = "$y" ] || fail "header $h: '$x' vs '$y'"
done
x=$(curl -s "http://127.0.0.1:$PORT/certsrv/mscep_admin/" | head -c 2 | od -An -tx1); y=$(curl -s "http://127.0.0.1:$CPORT/certsrv/mscep_admin/" | head -c 2 | od -An -tx1)
[ "$x" = "$y" ] && [ "$x" = " ff fe" ] || fail "admin page BOM: '$x' vs '$y'"
echo "ok: openssl finds $props certificate properties equal (subjects with types and DER, keys, signatures, extensions, validity), keys and serials new; GetCACaps byte for byte, Server, X-Powered-By, admin page encoding"

# 4. clone --compare: only what a clone cannot copy.
"$SCEP_LAB" clone --compare "$ORIG" "$CLONE" --admin-open >cmp.out 2>&1 || fail "compare found differences: $(grep -A2 DIFFERS cmp.out)"
contains "0 difference(s) beyond keys" <cmp.out || fail "compare summary: $(tail -1 cmp.out)"
contains "(expected) cert.issuing.serial" <cmp.out || fail "compare does not list the serials as expected differences"
"$SCEP_LAB" clone --compare "$ORIG" c1 --admin-open >cmp-dir.out 2>&1 || fail "compare with the clone directory: $(grep -A2 DIFFERS cmp-dir.out)"
# The default clone points CDP/AIA at the lab: one real difference, named.
"$SCEP_LAB" clone --url "$ORIG" --admin-open --out c2 >/dev/null 2>&1 || fail "the default clone failed"
rc=0; "$SCEP_LAB" clone --compare c1 c2 >cmp2.out 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "two clones of one server read differently ($rc): $(grep -A2 DIFFERS cmp2.out)"
"$SCEP_LAB" clone --compare "$ORIG" "$ORIG" --format json | contains '"unexpected":0' || fail "a server differs from itself"
contains "crlDistributionPoints .*approximated" <<<"$(cat c2/fidelity.md | tr '|' ' ')" || fail "c2's fidelity does not say the CDP was rewritten"
# Served: the CDP keeps the customer's path on the lab's address, and the lab answers it with the root's CRL.
serve_clone c2
C2PORT=$SERVED_PORT
C2_PID=$SERVED_PID
curl -s "http://127.0.0.1:$C2PORT/certsrv/mscep/mscep.dll?operation=GetCACert&message=CA" | openssl pkcs7 -inform DER -print_certs >c2.pem
cdp=$(openssl crl2pkcs7 -nocrl -certfile c2.pem | openssl pkcs7 -print_certs -text -noout | grep -o "URI:http://127.0.0.1:$C2PORT/[^ ]*" | head -1)
[ "$cdp" = "URI:http://127.0.0.1:$C2PORT/CertEnroll/Contoso%20Root%20CA.crl" ] || fail "the clone's CDP is '$cdp'"
curl -sf "${cdp#URI:}" -o c2.crl || fail "the lab does not serve its CDP URL ${cdp#URI:}"
[ "$(openssl crl -inform DER -in c2.crl -noout -issuer -nameopt RFC2253 | cut -d= -f2-)" = "CN=Contoso Root CA,DC=contoso,DC=com" ] ||
    fail "the CRL at the CDP URL is not the root's"
kill $C2_PID
echo "ok: clone --compare: exit 0 with only serials, dates, fingerprints; the default clone serves the root's CRL at the customer's CDP path on its own address"

# 5. A real client enrolls against the clone as it would against the original.
pw=$(curl -s "http://127.0.0.1:$CPORT/certsrv/mscep_admin/" | iconv -f UTF-16 -t UTF-8 | grep -oP 'password is: <B> \K[0-9A-F]{16}') ||
    fail "no password on the clone's admin page"
mkdir -p dev
scepclient -server-url "$CLONE" -challenge "$pw" -private-key dev/key.pem -certificate dev/cert.pem -cn clone-device \
    >dev/log 2>&1 || fail "scepclient did not enroll against the clone: $(tail -3 dev/log)"
openssl verify -CAfile <(openssl x509 -in b2.pem) -untrusted b1.pem dev/cert.pem >/dev/null 2>&1 ||
    openssl verify -partial_chain -CAfile b.pem dev/cert.pem >/dev/null || fail "the certificate does not chain to the clone's CAs"
echo "ok: scepclient enrolled against the clone with its admin page's password"

# 6. From files: a CA set built with openssl the way AD CS writes it (root
# not sent, CDP with ldap and http, AIA, the CA version and template name).
mkdir adcs && cd adcs
openssl req -x509 -newkey rsa:4096 -sha256 -days 7300 -nodes -keyout root.key -out root.crt \
    -subj "/DC=com/DC=fabrikam/CN=Fabrikam Root CA" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "1.3.6.1.4.1.311.21.1=ASN1:INTEGER:0" 2>/dev/null
cat >ext.cnf <<'CNF'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = digitalSignature,keyCertSign,cRLSign
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:SubCA
1.3.6.1.4.1.311.21.1 = ASN1:INTEGER:65537
crlDistributionPoints = cdp
authorityInfoAccess = caIssuers;URI:http://pki.fabrikam.com/CertEnroll/root_Fabrikam%20Root%20CA.crt
[cdp]
fullname = @cdp_uris
[cdp_uris]
URI.0 = ldap:///CN=Fabrikam%20Root%20CA,CN=root,CN=CDP,CN=Public%20Key%20Services,CN=Services,CN=Configuration,DC=fabrikam,DC=com?certificateRevocationList?base?objectClass=cRLDistributionPoint
URI.1 = http://pki.fabrikam.com/CertEnroll/Fabrikam%20Root%20CA.crl
[ra_sign]
keyUsage = critical,digitalSignature
extendedKeyUsage = 1.3.6.1.4.1.311.20.2.1
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:EnrollmentAgentOffline
[ra_enc]
keyUsage = critical,keyEncipherment
extendedKeyUsage = 1.3.6.1.4.1.311.20.2.1
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:CEPEncryption
CNF
openssl req -new -newkey rsa:2048 -nodes -keyout ca.key -subj "/DC=com/DC=fabrikam/CN=Fabrikam Issuing CA" -out ca.csr 2>/dev/null
openssl x509 -req -in ca.csr -CA root.crt -CAkey root.key -set_serial 0x610000000002 -days 3650 -sha256 -extfile ext.cnf -extensions ca -out ca.crt 2>/dev/null
for h in sign enc; do
    openssl req -new -newkey rsa:2048 -nodes -keyout $h.key -subj "/C=US/O=Fabrikam/CN=NDES01-MSCEP-RA" -out $h.csr 2>/dev/null
    openssl x509 -req -in $h.csr -CA ca.crt -CAkey ca.key -set_serial 0x1300000003 -days 730 -sha256 -extfile ext.cnf -extensions ra_$h -out $h.crt 2>/dev/null
done
cat ca.crt sign.crt enc.crt >bundle.pem
openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform DER -out getcacert.p7b
printf 'POSTPKIOperation\r\nRenewal\r\nSHA-512\r\nSHA-256\r\nSHA-1\r\nDES3\r\n' >caps.txt
cd ..
"$SCEP_LAB" clone --caps adcs/caps.txt --cacert adcs/getcacert.p7b --out c3 >c3.out 2>&1 || fail "clone from files: $(cat c3.out)"
contains "cert.root .*generated" <c3.out || fail "the missing root is not reported as generated"
# The http URLs go to the lab's address with their paths; the LDAP URL (commas, and the lab serves no LDAP) is left out, and said so.
contains "crlDistributionPoints .*approximated .*1 LDAP URL(s) left out" <c3.out || fail "the CDP rewrite is not reported: $(grep crlDist c3.out)"
contains "authorityInfoAccess .*approximated" <c3.out || fail "the AIA rewrite is not reported: $(grep -i infoaccess c3.out)"
"$SCEP_LAB" clone --caps adcs/caps.txt --cacert adcs/getcacert.p7b --verbatim-urls --out c3v >/dev/null 2>&1 || fail "verbatim clone from files"
"$SCEP_LAB" --config c3v/scep-lab.toml init >/dev/null 2>&1 || fail "the verbatim clone does not generate"
x=$(openssl x509 -in adcs/ca.crt -noout -ext crlDistributionPoints,authorityInfoAccess); y=$(openssl x509 -in c3v/data/pki/issuing.crt -noout -ext crlDistributionPoints,authorityInfoAccess)
[ "$x" = "$y" ] || fail "--verbatim-urls: CDP/AIA differ: $x / $y"
"$SCEP_LAB" --config c3/scep-lab.toml init >c3.init 2>&1 || fail "the clone from files does not generate: $(tail -3 c3.init)"
x=$(openssl x509 -in adcs/ca.crt -noout -subject -nameopt RFC2253,show_type,dump_der); y=$(openssl x509 -in c3/data/pki/issuing.crt -noout -subject -nameopt RFC2253,show_type,dump_der)
[ "$x" = "$y" ] || fail "files: issuing subject $x / $y"
for oid in 1.3.6.1.4.1.311.20.2 1.3.6.1.4.1.311.21.1 "Authority Information Access" "CRL Distribution"; do
    openssl x509 -in c3/data/pki/issuing.crt -noout -text | contains "$oid" || fail "files: the clone's issuing CA lacks $oid"
done
openssl x509 -in c3/data/pki/issuing.crt -noout -text | contains "URI:http://127.0.0.1:8080/CertEnroll/Fabrikam%20Root%20CA.crl" ||
    fail "files: the CDP does not keep its path on the lab's address"
grep -c 'crl_paths = \["/CertEnroll/Fabrikam%20Root%20CA.crl"\]' c3/scep-lab.toml >/dev/null || fail "files: the root does not serve the CDP path"
[ "$(openssl x509 -in c3/data/pki/root.crt -noout -subject -nameopt RFC2253 | cut -d= -f2-)" = "$(openssl x509 -in adcs/ca.crt -noout -issuer -nameopt RFC2253 | cut -d= -f2-)" ] ||
    fail "files: the generated root is not the issuing CA's issuer"
grep -cE 'chain = "(no-root|issuing-only)"' c3/scep-lab.toml >/dev/null || fail "files: the clone does not leave the root out of GetCACert"
openssl x509 -in c3/data/pki/issuing.crt -noout -text | contains "CA Issuers - URI:http://127.0.0.1:8080/CertEnroll/root_Fabrikam%20Root%20CA.crt" ||
    fail "files: the AIA does not keep its path on the lab's address: $(openssl x509 -in c3/data/pki/issuing.crt -noout -ext authorityInfoAccess)"
echo "ok: an AD CS-shaped CA set cloned from files: root generated to fit, CDP/AIA paths kept on the lab's address (LDAP left out; --verbatim-urls keeps them byte for byte), Microsoft extensions copied"

# 6a. Over HTTPS: a plain lab's https:// URL, verified against its chain.
"$SCEP_LAB" --preset plain-rfc8894 serve --port 0 --https-port 0 --data-dir "$WORK/tls-data" --ready-file tls.ready >tls.log 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 300); do [ -s tls.ready ] && break; sleep 0.1; done
HTTPS_BASE=$(sed -n 's/.*"https_base_url":"\([^"]*\)".*/\1/p' tls.ready)
[ -n "$HTTPS_BASE" ] || fail "no HTTPS listener: $(cat tls.ready)"
"$SCEP_LAB" clone --url "$HTTPS_BASE/scep" --ca-file "$WORK/tls-data/pki/ca-chain.pem" --out c5 >c5.out 2>&1 ||
    fail "clone over HTTPS: $(cat c5.out)"
grep -c "enabled = false" c5/scep-lab.toml >/dev/null && fail "a clone of an HTTPS server turned HTTPS off"
rc=0; "$SCEP_LAB" clone --url "$HTTPS_BASE/scep" --out c6 >c6.out 2>&1 || rc=$?
[ "$rc" = 2 ] && [ ! -e c6 ] || fail "clone over HTTPS without the lab's chain: exit $rc (want 2, nothing written): $(cat c6.out)"
echo "ok: cloned over HTTPS with --ca-file; without it the server's certificate is not trusted and nothing is written"

# 6b. The NDES failure vector in tests/data (a real NDES's FAILURE CertRep,
# no certificate in it): its CA's name and SHA-1 digest are all it shows.
VECTOR="$DATA/ndes-failure-certrep.pem"
"$SCEP_LAB" clone --certrep "$VECTOR" --ndes --out c4 >c4.out 2>&1 || fail "clone from the CertRep: $(cat c4.out)"
contains "cert.issuing .*generated" <c4.out || fail "the CertRep clone does not say the CA was generated"
contains "certrep.digest .*copied .*sha1" <c4.out || fail "the CertRep's SHA-1 digest is not copied: $(grep digest c4.out)"
"$SCEP_LAB" --config c4/scep-lab.toml init >c4.init 2>&1 || fail "the CertRep clone does not generate: $(tail -3 c4.init)"
[ "$(openssl x509 -in c4/data/pki/issuing.crt -noout -subject -nameopt RFC2253 | cut -d= -f2-)" = "CN=SRV2012-CA" ] ||
    fail "the CertRep clone's CA is not CN=SRV2012-CA"
want=$(openssl cms -cmsout -inform PEM -in "$VECTOR" -print | grep -m1 -A1 "issuerAndSerialNumber" | tail -1 | sed 's/.*issuer: //')
[ "$want" = "CN=SRV2012-CA" ] || fail "openssl reads the vector's signer issuer as '$want'"
echo "ok: the NDES failure vector cloned from its CertRep: CA name (exact DER) and SHA-1 replies, the rest generated"

# 7. Hostile files: a clear error naming the file, nothing written.
head -c 100 adcs/getcacert.p7b >trunc.p7b; : >empty.p7b; head -c 2000000 /dev/urandom >big.p7b
printf '\x89PNG\r\n\x1a\n' >png.p7b; printf 'POSTPKIOperation\n\x00\x01' >bin.caps
for bad in trunc.p7b empty.p7b big.p7b png.p7b; do
    rc=0; "$SCEP_LAB" clone --cacert $bad --out bad-out >bad.out 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "$bad: exit $rc, want 2"
    contains "$bad" <bad.out || fail "$bad: the error does not name the file: $(cat bad.out)"
    [ ! -e bad-out ] || fail "$bad: something was written"
done
"$SCEP_LAB" clone --caps bin.caps --cacert adcs/getcacert.p7b --out bad-out >bad.out 2>&1 && fail "binary GetCACaps accepted"
contains "bin.caps" <bad.out && [ ! -e bad-out ] || fail "binary caps: $(cat bad.out)"
"$SCEP_LAB" clone --cacert adcs/getcacert.p7b --out c1 >bad.out 2>&1 && fail "clone wrote over an existing clone"
rc=0; "$SCEP_LAB" clone --compare "$ORIG" nowhere.p7b >bad.out 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "compare with a missing file: exit $rc, not 2"
# Servers gone wrong (tests/integration/hostile_server.py): an error naming what went wrong, nothing written.
python3 "$(dirname "$DATA")/integration/hostile_server.py" "$WORK/hostile.port" >hostile.log 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 50); do [ -s hostile.port ] && break; sleep 0.1; done
HP=$(cat hostile.port)
for kind in garbage huge hang redirect-loop; do
    rc=0; "$SCEP_LAB" clone --url "http://127.0.0.1:$HP/$kind" --timeout 3 --out bad-out >bad.out 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "hostile server $kind: exit $rc, want 2: $(cat bad.out)"
    [ ! -e bad-out ] || fail "hostile server $kind: something was written"
    contains -E "GetCACaps|GetCACert|body limit|timed out" <bad.out || fail "hostile server $kind: the error says nothing: $(cat bad.out)"
done
kill -0 "$ORIG_PID" || fail "the original server died"
echo "ok: truncated, empty, 2 MB, PNG and binary inputs refused naming the file, nothing written; compare exits 2 on bad input; servers answering garbage, 100 MB, nothing or a redirect loop: exit 2, nothing written"
echo "PASS: clone (9 checks)"
