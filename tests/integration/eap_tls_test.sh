#!/usr/bin/env bash
# End to end EAP-TLS (issue 6): FreeRADIUS runs with a certificate from
# `scep-lab issue --profile radius-server` and the lab chain, with CRL
# checking on; two client certificates are enrolled over SCEP with micromdm
# scepclient; one is revoked. eapol_test (wpa_supplicant's EAP peer) then
# authenticates on loopback: the valid certificate gets Access-Accept, the
# revoked one Access-Reject, and a client that expects another RADIUS server
# name refuses the server.
. "$(dirname "$0")/lib.sh"
command -v freeradius >/dev/null || skip "freeradius not installed"
command -v eapol_test >/dev/null || skip "eapol_test (Debian package eapoltest) not installed"
command -v scepclient >/dev/null || skip "scepclient not installed"

start_server

# 1. The RADIUS server certificate, FreeRADIUS layout.
"$SCEP_LAB" --data-dir "$WORK/data" issue --profile radius-server --dns radius.lab --out "$WORK/radius-certs" \
    >"$WORK/issue.out" 2>&1 || fail "scep-lab issue failed: $(cat "$WORK/issue.out")"
for f in server.pem server.key ca.pem; do [ -s "$WORK/radius-certs/$f" ] || fail "issue wrote no $f"; done
[ "$(stat -c %a "$WORK/radius-certs/server.key")" = 600 ] || fail "server.key is not 0600"
openssl x509 -in "$WORK/radius-certs/server.pem" -noout -ext extendedKeyUsage | contains "TLS Web Server Authentication" ||
    fail "the RADIUS certificate has no serverAuth EKU"
radius_serial=$(openssl x509 -in "$WORK/radius-certs/server.pem" -noout -serial | cut -d= -f2)
[ "$(sqlite3 "$WORK/data/scep-lab.db" "SELECT requester FROM certificates WHERE serial = '$radius_serial'")" = \
    "scep-lab issue radius-server" ] || fail "the RADIUS certificate is not recorded in the store"
echo "ok: radius-server certificate $radius_serial (serverAuth, DNS:radius.lab) recorded in the store"

# 2. Two client certificates over SCEP; the second is revoked.
for dev in good revoked; do
    mkdir -p "$WORK/$dev"
    scepclient -server-url "$URL" -challenge "$CHALLENGE" -cn "eap-$dev" -private-key "$WORK/$dev/key.pem" \
        -certificate "$WORK/$dev/cert.pem" >"$WORK/$dev/scepclient.log" 2>&1 ||
        fail "scepclient ($dev) failed: $(tail -3 "$WORK/$dev/scepclient.log")"
    verify_chain "$WORK/$dev/cert.pem"
done
revoked_serial=$(openssl x509 -in "$WORK/revoked/cert.pem" -noout -serial | cut -d= -f2)
"$SCEP_LAB" --data-dir "$WORK/data" revoke "$revoked_serial" --reason keyCompromise >/dev/null ||
    fail "revoke failed"
# FreeRADIUS reads CRLs from a hashed directory (ca_path); the CRL comes from
# the URL in the client certificates' CRL distribution point.
crl_url=$(openssl x509 -in "$WORK/good/cert.pem" -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
[ -n "$crl_url" ] || fail "client certificate has no CRL distribution point"
mkdir -p "$WORK/crl"
curl -sf "$crl_url" -o "$WORK/crl/issuing.crl.der" || fail "cannot fetch $crl_url"
openssl crl -inform DER -in "$WORK/crl/issuing.crl.der" -out "$WORK/crl/issuing.crl.pem"
openssl crl -in "$WORK/crl/issuing.crl.pem" -noout -text | contains "Serial Number: $revoked_serial" ||
    fail "the CRL does not list $revoked_serial"
rm "$WORK/crl/issuing.crl.der"
openssl rehash "$WORK/crl" 2>/dev/null || c_rehash "$WORK/crl" >/dev/null
echo "ok: two SCEP clients enrolled; $revoked_serial revoked and on the CRL"

# 3. A private FreeRADIUS on a free loopback UDP port.
RPORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
R="$WORK/radius"
mkdir -p "$R"/{log,run}
cat >"$R/radiusd.conf" <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $R/log
raddbdir = $R
radacctdir = $R/log
name = radiusd
confdir = $R
modconfdir = $R
run_dir = $R/run
db_dir = $R
libdir = /usr/lib/freeradius
pidfile = $R/run/radiusd.pid
max_request_time = 30
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {
    destination = files
    file = $R/log/radius.log
    auth = yes
}
security {
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}
client loopback {
    ipaddr = 127.0.0.1
    secret = testing123
}
listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $RPORT
    virtual_server = default
}
modules {
    eap {
        default_eap_type = tls
        timer_expire = 60
        max_sessions = 64
        tls-config tls-common {
            private_key_file = $WORK/radius-certs/server.key
            certificate_file = $WORK/radius-certs/server.pem
            ca_file = $WORK/radius-certs/ca.pem
            ca_path = $WORK/crl
            check_crl = yes
            cipher_list = "DEFAULT"
            tls_min_version = "1.2"
            tls_max_version = "1.2"
            ecdh_curve = "prime256v1"
            cache {
                enable = no
            }
        }
        tls {
            tls = tls-common
        }
    }
}
server default {
    authorize {
        eap {
            ok = return
        }
    }
    authenticate {
        eap
    }
    post-auth {
        Post-Auth-Type REJECT {
            eap
        }
    }
}
CONF
touch "$R/dictionary"
freeradius -f -xx -l "$R/log/debug.log" -d "$R" -n radiusd >"$R/log/stdout.log" 2>&1 &
RADIUS_PID=$!
stop_radius() { kill "$RADIUS_PID" 2>/dev/null || true; wait "$RADIUS_PID" 2>/dev/null || true; }
trap 'stop_radius; cleanup' EXIT
for _ in $(seq 1 100); do
    grep -q "Ready to process requests" "$R/log/debug.log" "$R/log/stdout.log" 2>/dev/null && break
    kill -0 "$RADIUS_PID" 2>/dev/null || fail "freeradius did not start: $(tail -20 "$R/log/stdout.log" "$R/log/debug.log" 2>/dev/null)"
    sleep 0.1
done
grep -q "Ready to process requests" "$R/log/debug.log" "$R/log/stdout.log" 2>/dev/null ||
    fail "freeradius not ready: $(tail -20 "$R/log/stdout.log")"

# eapol_test DEVICE [SERVER-NAME]: EAP-TLS with that device's certificate;
# the client checks the RADIUS certificate against the lab chain and name.
eap() {
    local dev=$1 name=${2:-radius.lab}
    cat >"$WORK/$dev/eapol.conf" <<CONF
network={
    ssid="scep-lab"
    key_mgmt=WPA-EAP
    eap=TLS
    identity="eap-$dev"
    ca_cert="$WORK/radius-certs/ca.pem"
    domain_match="$name"
    client_cert="$WORK/$dev/cert.pem"
    private_key="$WORK/$dev/key.pem"
}
CONF
    timeout 30 eapol_test -c "$WORK/$dev/eapol.conf" -a 127.0.0.1 -p "$RPORT" -s testing123 -t 10 \
        >"$WORK/$dev/eapol-$name.log" 2>&1
}

eap good || fail "valid SCEP certificate not accepted: $(grep -E 'FAILURE|Reject|reason|verify' "$WORK/good/eapol-radius.lab.log" | tail -5)"
grep -q "Access-Accept" "$WORK/good/eapol-radius.lab.log" || fail "no Access-Accept for the valid certificate"
grep -q "SUCCESS" "$WORK/good/eapol-radius.lab.log" || fail "eapol_test did not report SUCCESS"
echo "ok: EAP-TLS with the SCEP-issued certificate -> Access-Accept"

if eap revoked; then fail "the revoked certificate was accepted"; fi
grep -q "Access-Reject" "$WORK/revoked/eapol-radius.lab.log" || fail "no Access-Reject for the revoked certificate"
grep -q "OpenSSL says error 23 : certificate revoked" "$R/log/debug.log" ||
    fail "FreeRADIUS did not reject for revocation: $(grep -i error "$R/log/debug.log" | tail -3)"
echo "ok: EAP-TLS with the revoked certificate -> Access-Reject (certificate revoked)"

# The client side of trust: a device told to expect another server name
# (TLSTrustedServerNames in an Apple profile) refuses this RADIUS server.
if eap good other.lab; then fail "the client accepted a RADIUS certificate for the wrong name"; fi
grep -q "Domain match 'other.lab' not found" "$WORK/good/eapol-other.lab.log" ||
    fail "eapol_test did not fail on the server name: $(tail -5 "$WORK/good/eapol-other.lab.log")"
echo "ok: a client expecting other.lab refuses the radius.lab certificate"
echo "PASS: EAP-TLS peer test (4 checks)"
