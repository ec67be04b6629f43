# Shared helpers for the peer tests: start scep-lab on port 0 with a
# temporary data dir, wait for its ready file, stop it on exit.
set -euo pipefail

SCEP_LAB=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
WORK=$(mktemp -d /tmp/scep-lab-peer.XXXXXX)
SERVER_PID=""

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$WORK/server.log" ]; then echo "--- server log" >&2; tail -n 30 "$WORK/server.log" >&2; fi
    exit 1
}

# cmd | contains [grep options] PATTERN: true when a line of cmd's output
# matches. It reads the whole input before matching: `cmd | grep -q` stops
# reading at the first match, the writer's next write then fails with
# SIGPIPE, and under `pipefail` the pipe fails although the text was there.
contains() {
    local all
    all=$(cat)
    grep -q "$@" <<<"$all"
}

skip() {
    echo "SKIP: $*"
    exit 77
}

# start_server [extra serve flags...]: sets URL and PORT
start_server() {
    rm -f "$WORK/ready.json"
    "$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$WORK/data" --ready-file "$WORK/ready.json" "$@" \
        >"$WORK/server.out" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if [ -s "$WORK/ready.json" ]; then break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || fail "scep-lab exited during start-up"
        sleep 0.1
    done
    [ -s "$WORK/ready.json" ] || fail "scep-lab did not become ready"
    PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/ready.json")
    URL="http://127.0.0.1:$PORT/scep"
}

CHALLENGE=scep-lab-challenge
CHAIN() { echo "$WORK/data/pki/ca-chain.pem"; }
# The top tier's certificate, whatever the hierarchy calls it (hierarchy.txt lists the tiers, top first).
ROOT() { echo "$WORK/data/pki/$(head -n1 "$WORK/data/pki/hierarchy.txt").crt"; }

# verify_chain CERT: the certificate chains to the generated root.
verify_chain() {
    openssl verify -CAfile "$(ROOT)" -untrusted "$(CHAIN)" "$1" >/dev/null 2>"$WORK/verify.err" ||
        fail "openssl verify failed for $1: $(cat "$WORK/verify.err")"
}

# serial_in_store CERT: the store has a row for the certificate's serial.
serial_in_store() {
    local serial
    serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)
    local n
    n=$(sqlite3 "$WORK/data/scep-lab.db" "SELECT COUNT(*) FROM certificates WHERE serial = '$serial' AND status = 'valid'")
    [ "$n" = 1 ] || fail "serial $serial not in the store (count $n)"
    echo "$serial"
}

# The transaction inspector (docs/inspector.md), read through the admin API.
# fetch_transaction QUERY: the newest transaction matching the admin API
# filters in QUERY (e.g. "transaction_id=..."); writes $WORK/tx.json,
# $WORK/tx.request.der and $WORK/tx.reply.der and sets TX_ID.
fetch_transaction() {
    local token base
    token=$(head -1 "$WORK/data/admin-token")
    base="http://127.0.0.1:$PORT/admin/api/transactions"
    TX_ID=$(curl -sf -H "Authorization: Bearer $token" "$base?limit=1&$1" |
        python3 -c 'import json,sys; items=json.load(sys.stdin)["items"]; print(items[0]["id"] if items else "")')
    [ -n "$TX_ID" ] || fail "no transaction matches $1"
    curl -sf -H "Authorization: Bearer $token" "$base/$TX_ID" >"$WORK/tx.json" || fail "GET $base/$TX_ID"
    rm -f "$WORK/tx.request.der" "$WORK/tx.reply.der"
    curl -sf -H "Authorization: Bearer $token" "$base/$TX_ID/request.der" -o "$WORK/tx.request.der" || true
    curl -sf -H "Authorization: Bearer $token" "$base/$TX_ID/reply.der" -o "$WORK/tx.reply.der" || true
}
# tx_field PATH: a field of $WORK/tx.json by dotted path (detail.request.digest);
# lists are joined with spaces; findings give their IDs.
tx_field() {
    python3 - "$WORK/tx.json" "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
if isinstance(v, list):
    v = " ".join(x["id"] if isinstance(x, dict) and "id" in x else str(x) for x in v)
elif isinstance(v, bool):
    v = "true" if v else "false"
print(v)
PY
}
# urlencode TEXT
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# check_request_with_openssl: the inspector's digest, content cipher and signer
# of $WORK/tx.request.der agree with what openssl (not this project's codec)
# decodes from the same bytes.
check_request_with_openssl() {
    local der="$WORK/tx.request.der" digest cipher subject issuer
    [ -s "$der" ] || fail "transaction $TX_ID kept no request DER"
    openssl cms -inform DER -in "$der" -cmsout -print >"$WORK/tx.cms.txt" || fail "openssl cannot parse the request"
    digest=$(awk '/digestAlgorithm:/{getline; print $2; exit}' "$WORK/tx.cms.txt")
    [ "$digest" = "$(tx_field detail.request.digest)" ] ||
        fail "digest: openssl says $digest, the inspector $(tx_field detail.request.digest)"
    openssl cms -verify -noverify -binary -inform DER -in "$der" -signer "$WORK/tx.signer.pem" -out "$WORK/tx.env.der" \
        2>"$WORK/tx.verify.err" || fail "openssl cms -verify: $(cat "$WORK/tx.verify.err")"
    cipher=$(openssl cms -inform DER -in "$WORK/tx.env.der" -cmsout -print |
        awk '/contentEncryptionAlgorithm:/{getline; print $2; exit}')
    [ "$cipher" = "$(tx_field detail.request.content_cipher)" ] ||
        fail "content cipher: openssl says $cipher, the inspector $(tx_field detail.request.content_cipher)"
    subject=$(openssl x509 -in "$WORK/tx.signer.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
    issuer=$(openssl x509 -in "$WORK/tx.signer.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
    if [ "$subject" = "$issuer" ]; then
        [ "$(tx_field detail.request.signer.kind)" = "self-signed" ] ||
            fail "openssl sees a self-signed signer, the inspector $(tx_field detail.request.signer.kind)"
    fi
    echo "ok: inspector agrees with openssl: digest $digest, cipher $cipher, signer $subject"
}
# expect_findings ID...: each ID is among the transaction's findings.
expect_findings() {
    local have
    have=" $(tx_field findings) "
    for id in "$@"; do
        case "$have" in *" $id "*) ;; *) fail "transaction $TX_ID lacks finding $id (has:$have)" ;; esac
    done
}
