#!/usr/bin/env bash
# Apple configuration profiles (issue 6): the .mobileconfig downloaded from
# /profiles/apple.mobileconfig and written by `scep-lab profile apple` parses
# as a property list (python3 plistlib), every UUID reference resolves, each
# CA payload is the lab's certificate, CAFingerprint matches the CA it names,
# the Wi-Fi payload ties EAP-TLS to the SCEP payload and the RADIUS names,
# and a real SCEP client enrolls with the URL and challenge the profile
# carries (static challenge, and NDES one-time passwords).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"
python3 -c 'import plistlib' 2>/dev/null || skip "python3 has no plistlib"

start_server
HPORT=$(sed -n 's/.*"https_port":\([0-9]*\).*/\1/p' "$WORK/ready.json")
"$SCEP_LAB" --data-dir "$WORK/data" issue --profile radius-server --dns radius.lab --out "$WORK/radius" >/dev/null ||
    fail "issue radius-server failed"
for ca in root intermediate issuing; do curl -sf "http://127.0.0.1:$PORT/ca/$ca.crt" -o "$WORK/$ca.der" || fail "no /ca/$ca.crt"; done

# check.py PROFILE CA_DIR EXPECTED_URL [expectations...]: the structural checks.
cat >"$WORK/check.py" <<'PY'
import hashlib, plistlib, re, sys
path, ca_dir, url = sys.argv[1], sys.argv[2], sys.argv[3]
opts = dict(a.split("=", 1) for a in sys.argv[4:])
with open(path, "rb") as f:
    p = plistlib.load(f)
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
assert p["PayloadType"] == "Configuration" and p["PayloadVersion"] == 1
payloads = p["PayloadContent"]
uuids = [x["PayloadUUID"] for x in payloads] + [p["PayloadUUID"]]
if len(set(uuids)) != len(uuids): fail("payload UUIDs are not unique")
if any(not re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}", u) for u in uuids):
    fail("a UUID is not in the version-5 layout")
ids = [x["PayloadIdentifier"] for x in payloads]
if len(set(ids)) != len(ids): fail("payload identifiers are not unique")
by_uuid = {x["PayloadUUID"]: x for x in payloads}
ca = [x for x in payloads if x["PayloadType"] in ("com.apple.security.root", "com.apple.security.pkcs1")]
names = []
for x in ca:
    name = x["PayloadCertificateFileName"].rsplit(".", 1)[0]
    names.append(name)
    want = open(f"{ca_dir}/{name}.der", "rb").read()
    if x["PayloadContent"] != want: fail(f"CA payload {name} is not the lab's {name} certificate")
    if (x["PayloadType"] == "com.apple.security.root") != (name == "root"): fail(f"{name} has payload type {x['PayloadType']}")
expected_cas = opts.get("cas", "root,intermediate,issuing").split(",")
if names != [n for n in expected_cas if n]: fail(f"CA payloads {names}, expected {expected_cas}")
scep = [x for x in payloads if x["PayloadType"] == "com.apple.security.scep"]
if len(scep) != 1: fail("expected one SCEP payload")
sc = scep[0]["PayloadContent"]
if sc["URL"] != url: fail(f"SCEP URL {sc['URL']} != {url}")
for key in ("Name", "Subject", "Keysize", "Key Type", "Key Usage", "Retries", "RetryDelay", "CAFingerprint"):
    if key not in sc: fail(f"SCEP payload lacks {key}")
if sc["Key Type"] != "RSA" or sc["Keysize"] != int(opts.get("keysize", 2048)) or sc["Key Usage"] != 5:
    fail("SCEP key settings")
if not all(isinstance(rdn, list) and len(rdn) == 1 and len(rdn[0]) == 2 for rdn in sc["Subject"]):
    fail("Subject is not an array of arrays of pairs")
m = re.match(r"CAFingerprint: (SHA-1|SHA-256) of (\w+) CA", scep[0]["PayloadDescription"])
if not m: fail("SCEP payload does not say which CA CAFingerprint names")
der = open(f"{ca_dir}/{m.group(2)}.der", "rb").read()
digest = hashlib.sha1(der).digest() if m.group(1) == "SHA-1" else hashlib.sha256(der).digest()
if sc["CAFingerprint"] != digest: fail(f"CAFingerprint is not the {m.group(1)} of the {m.group(2)} CA")
if "challenge" in opts and sc.get("Challenge") != opts["challenge"]: fail(f"Challenge {sc.get('Challenge')!r}")
wifi = [x for x in payloads if x["PayloadType"] == "com.apple.wifi.managed"]
if "ssid" in opts:
    if len(wifi) != 1: fail("expected one Wi-Fi payload")
    w = wifi[0]
    if w["SSID_STR"] != opts["ssid"] or w["EncryptionType"] != opts.get("security", "WPA2"): fail("Wi-Fi SSID/security")
    if by_uuid.get(w["PayloadCertificateUUID"], {}).get("PayloadType") != "com.apple.security.scep":
        fail("PayloadCertificateUUID does not name the SCEP payload")
    eap = w["EAPClientConfiguration"]
    if eap["AcceptEAPTypes"] != [13]: fail("EAP type is not EAP-TLS (13)")
    anchors = eap["PayloadCertificateAnchorUUID"]
    if not anchors or any(by_uuid.get(a, {}).get("PayloadType") not in ("com.apple.security.root", "com.apple.security.pkcs1") for a in anchors):
        fail("an anchor UUID does not resolve to a CA payload in the file")
    if sorted(anchors) != sorted(x["PayloadUUID"] for x in ca): fail("anchors are not exactly the CA payloads")
    if eap.get("TLSTrustedServerNames") != opts["radius"].split(","): fail(f"TLSTrustedServerNames {eap.get('TLSTrustedServerNames')}")
elif wifi:
    fail("unexpected Wi-Fi payload")
print(sc.get("Challenge", ""))
PY

# 1. Download with Wi-Fi; the RADIUS names come from the issued certificate.
curl -sf -D "$WORK/h1" "http://127.0.0.1:$PORT/profiles/apple.mobileconfig?ssid=LabNet" -o "$WORK/p1.mobileconfig" ||
    fail "download failed"
grep -qi "content-type: application/x-apple-aspen-config" "$WORK/h1" || fail "wrong content type: $(cat "$WORK/h1")"
python3 "$WORK/check.py" "$WORK/p1.mobileconfig" "$WORK" "$URL" ssid=LabNet radius=radius.lab challenge="$CHALLENGE" \
    >"$WORK/c1" || fail "$(cat "$WORK/c1")"
echo "ok: profile with CA, SCEP and Wi-Fi payloads; references resolve; CAFingerprint and CA payloads match the lab"

# 2. Stable: the same request gives the same bytes, and the CLI the same profile.
curl -sf "http://127.0.0.1:$PORT/profiles/apple.mobileconfig?ssid=LabNet" -o "$WORK/p1b.mobileconfig"
cmp -s "$WORK/p1.mobileconfig" "$WORK/p1b.mobileconfig" || fail "two downloads differ"
"$SCEP_LAB" --data-dir "$WORK/data" profile apple --url "$URL" --ssid LabNet -o "$WORK/cli.mobileconfig" 2>/dev/null ||
    fail "scep-lab profile apple failed"
cmp -s "$WORK/p1.mobileconfig" "$WORK/cli.mobileconfig" || fail "CLI and HTTP profiles differ"
echo "ok: stable UUIDs and content: repeated downloads and the CLI give identical files"

# 3. --omit reproduces incomplete chains; WPA3, SHA-256 fingerprint, explicit names.
curl -sf "http://127.0.0.1:$PORT/profiles/apple.mobileconfig?ssid=Lab3&security=WPA3&omit=root&omit=intermediate&fingerprint=sha256&fingerprint_ca=root&radius_name=a.lab&radius_name=b.lab" \
    -o "$WORK/p3.mobileconfig" || fail "download with omit failed"
python3 "$WORK/check.py" "$WORK/p3.mobileconfig" "$WORK" "$URL" ssid=Lab3 security=WPA3 radius=a.lab,b.lab cas=issuing \
    >"$WORK/c3" || fail "$(cat "$WORK/c3")"
"$SCEP_LAB" --data-dir "$WORK/data" profile apple --url "$URL" --omit root -o "$WORK/cli3.mobileconfig" 2>/dev/null
python3 "$WORK/check.py" "$WORK/cli3.mobileconfig" "$WORK" "$URL" cas=intermediate,issuing >"$WORK/c3b" || fail "$(cat "$WORK/c3b")"
echo "ok: omit=root,intermediate leaves only the issuing CA; WPA3, SHA-256 CAFingerprint of the root, named RADIUS servers"

# 4. Over HTTPS the SCEP URL is the HTTPS one.
curl -sf --cacert "$(ROOT)" "https://localhost:$HPORT/profiles/apple.mobileconfig" -o "$WORK/p4.mobileconfig" ||
    fail "HTTPS download failed"
python3 "$WORK/check.py" "$WORK/p4.mobileconfig" "$WORK" "https://localhost:$HPORT/scep" >"$WORK/c4" || fail "$(cat "$WORK/c4")"
echo "ok: downloaded over HTTPS, the profile enrolls over HTTPS"

# 5. Signed (CMS): verifies against the lab root, holds the same profile.
curl -sf "http://127.0.0.1:$PORT/profiles/apple.mobileconfig?ssid=LabNet&sign=1" -o "$WORK/signed.mobileconfig" ||
    fail "signed download failed"
openssl smime -verify -inform DER -in "$WORK/signed.mobileconfig" -CAfile "$(ROOT)" -purpose any \
    -out "$WORK/signed-content.xml" 2>"$WORK/verify.log" || fail "signature does not verify: $(cat "$WORK/verify.log")"
cmp -s "$WORK/signed-content.xml" "$WORK/p1.mobileconfig" || fail "signed content differs from the unsigned profile"
openssl pkcs7 -inform DER -in "$WORK/signed.mobileconfig" -print_certs | contains "scep-lab Profile Signing" ||
    fail "no profile-signing certificate in the CMS"
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE requester = 'scep-lab profile signer'")" = 1 ] ||
    fail "the profile signer is not in the store"
echo "ok: signed profile verifies against the lab root and carries the unsigned profile"

# 6. A real client enrolls with what the profile says.
read -r P_URL P_CHALLENGE < <(python3 -c 'import plistlib,sys; p=plistlib.load(open(sys.argv[1],"rb")); s=[x for x in p["PayloadContent"] if x["PayloadType"]=="com.apple.security.scep"][0]["PayloadContent"]; print(s["URL"], s["Challenge"])' "$WORK/p1.mobileconfig")
if command -v scepclient >/dev/null; then
    mkdir -p "$WORK/dev"
    scepclient -server-url "$P_URL" -challenge "$P_CHALLENGE" -private-key "$WORK/dev/key.pem" \
        -certificate "$WORK/dev/cert.pem" >"$WORK/dev/log" 2>&1 || fail "scepclient with the profile's settings failed"
    verify_chain "$WORK/dev/cert.pem"
    echo "ok: scepclient enrolled with the profile's URL and challenge"
fi

# 7. Bad requests: 400 with the reason; the server keeps serving.
for q in "bogus=1" "omit=nosuchca" "ssid=x&security=WEP" "key_size=3000" "sign=yes" "fingerprint=md5" "subject=notadn"; do
    code=$(curl -s -o "$WORK/bad.txt" -w '%{http_code}' "http://127.0.0.1:$PORT/profiles/apple.mobileconfig?$q")
    [ "$code" = 400 ] || fail "$q answered $code"
    [ -s "$WORK/bad.txt" ] || fail "$q: no reason given"
done
out=$("$SCEP_LAB" --data-dir "$WORK/data" profile apple --omit nosuchca 2>&1) && fail "CLI accepted --omit nosuchca"
echo "$out" | contains "nosuchca" || fail "CLI error does not name the CA: $out"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "server unhealthy after bad profile requests"
echo "ok: bad parameters -> 400 naming the problem (HTTP) or exit 1 (CLI); server healthy"

# 8. NDES one-time passwords: each download by someone the NDES admin page
# would give one to carries a fresh one, which enrolls once; anonymous
# downloads carry none and cannot use up the password cache.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
cat >"$WORK/ndes-login.toml" <<'TOML'
[ndes]
admin_users = ["mdm:profile-pass"]
TOML
start_server --preset ndes-default --config "$WORK/ndes-login.toml"
NDES_URL="http://127.0.0.1:$PORT/certsrv/mscep/mscep.dll"
TOKEN=$(head -n1 "$WORK/data/admin-token")
for i in 1 2 3 4 5 6; do
    curl -sf -D "$WORK/anon.h" "http://127.0.0.1:$PORT/profiles/apple.mobileconfig" -o "$WORK/anon.mobileconfig" ||
        fail "anonymous NDES download $i"
    python3 "$WORK/check.py" "$WORK/anon.mobileconfig" "$WORK" "$NDES_URL" >"$WORK/anon.out" || fail "$(cat "$WORK/anon.out")"
    [ -z "$(cat "$WORK/anon.out")" ] || fail "an anonymous NDES profile carries a password"
done
grep -qi "^X-Scep-Lab-Challenge: withheld" "$WORK/anon.h" || fail "no X-Scep-Lab-Challenge header: $(cat "$WORK/anon.h")"
curl -sf -u mdm:profile-pass "http://127.0.0.1:$PORT/profiles/apple.mobileconfig" -o "$WORK/ndes1.mobileconfig" ||
    fail "NDES download with the mscep_admin login"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/profiles/apple.mobileconfig" \
    -o "$WORK/ndes2.mobileconfig" || fail "NDES download with the admin token"
for i in 1 2; do
    python3 "$WORK/check.py" "$WORK/ndes$i.mobileconfig" "$WORK" "$NDES_URL" >"$WORK/otp$i" || fail "$(cat "$WORK/otp$i")"
done
otp1=$(cat "$WORK/otp1"); otp2=$(cat "$WORK/otp2")
[[ "$otp1" =~ ^[0-9A-F]{16}$ ]] || fail "NDES profile challenge is not a one-time password: $otp1"
[ "$otp1" != "$otp2" ] || fail "two NDES profiles carry the same password"
if command -v scepclient >/dev/null; then
    mkdir -p "$WORK/ndes"
    scepclient -server-url "$NDES_URL" -challenge "$otp1" -private-key "$WORK/ndes/key.pem" \
        -certificate "$WORK/ndes/cert.pem" >"$WORK/ndes/log" 2>&1 || fail "scepclient with the NDES profile's password failed"
    verify_chain "$WORK/ndes/cert.pem"
fi
out=$("$SCEP_LAB" --preset ndes-default --data-dir "$WORK/data" profile apple 2>&1) && fail "CLI made an NDES profile without a password"
echo "$out" | contains "one-time passwords live in the running server" || fail "CLI NDES error unclear: $out"
# The six anonymous downloads left the five-password cache to the admin page.
for i in 1 2 3; do
    curl -sf -u mdm:profile-pass "http://127.0.0.1:$PORT/certsrv/mscep_admin/" | iconv -f UTF-16LE -t UTF-8 2>/dev/null | contains "The enrollment challenge password is" || fail "the admin page gave no password after anonymous profile downloads"
done
echo "ok: NDES mode: login/token profiles carry a fresh one-time password that enrolls; anonymous ones carry none and leave the cache alone; the CLI asks for --challenge"
echo "PASS: Apple profile peer test (8 checks)"
