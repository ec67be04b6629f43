#!/usr/bin/env bash
# scripts/security-probes.sh against this build: every docs/security.md probe
# gets the answer the policy promises (and the script itself keeps working).
. "$(dirname "$0")/lib.sh"
export SECURITY_PROBES=${2:?usage: $0 scep-lab security_probes}
"$(dirname "$0")/../../scripts/security-probes.sh" "$SCEP_LAB" >"$WORK/table.tsv" 2>"$WORK/err" ||
    fail "security-probes.sh failed: $(cat "$WORK/err")"
cat "$WORK/table.tsv"
answer() { grep -F "$1" "$WORK/table.tsv" | head -n1 | cut -f2-; }
expect() {  # expect PROBE-PREFIX PATTERN
    local a; a=$(answer "$1")
    [ -n "$a" ] || fail "no row for \"$1\""
    echo "$a" | grep -qE -- "$2" || fail "\"$1\" answered: $a (expected /$2/)"
}
grep -q "probe error" "$WORK/table.tsv" && fail "a probe could not run"
expect "1 RenewalReq forged" "^FAILURE badRequest: signer certificate: the RSA public exponent 1"
expect "1 PKCSReq with an e=1" "^FAILURE badRequest"
expect "1 PKCSReq with an explicit-curve" "^FAILURE badRequest: CSR key: the EC key carries explicit"
expect "1 PKCSReq with an MD5" "^FAILURE badRequest: the CSR is signed with MD5"
expect "2 six anonymous" "^0 carried a one-time password; X-Scep-Lab-Challenge: withheld"
expect "2 the admin page afterwards" "a password is issued"
expect "2 profile with the mscep_admin login" "^200, carries a one-time password"
expect "3 SAN DNS:good.com" "^FAILURE badRequest: subjectAltName"
expect "3 SAN DNS:*	" "^FAILURE badRequest"
expect "3 SAN DNS:*.*.com" "^FAILURE badRequest"
expect "3 SAN extension that does not decode" "^FAILURE badRequest"
expect "4 revoke" "removeFromCRL: 400 .* keyCompromise: 200 .* superseded: 409"
expect "5 POST with Transfer-Encoding: xchunked" "^answers: 400; connection closed"
expect "5 Transfer-Encoding: chunked, gzip" "^answers: 400; connection closed"
expect "5 HTTP/1.1 without Host" "^answers: 400"
expect "5 two Host headers" "^answers: 400"
expect "5 absolute-form target" "^answers: 200"
expect "5 PUT /ca/root.pem" "^answers: 405 \(Allow: GET, HEAD\)"
expect "5 DELETE /healthz" "^answers: 405"
expect "6 renew adding a SAN" "adding evil.lab: FAILURE badRequest.*renewal: SUCCESS.*again: FAILURE badCertId"
expect "8 modes" "^\. 700 scep-lab.db 600 scep-lab.db-wal 600 scep-lab.db-shm 600 admin-token 600"
expect "8 the held CSR" "^no challengePassword"
expect "9 admin subject filter" "^400"
expect "9 admin offset" "^400"
expect "9 Authorization: bearer" "^200$"
expect "9 the text log after" "^one line: "
if [ "$(id -u)" = 0 ] && ! grep -q "^7 full disk	skipped" "$WORK/table.tsv"; then
    expect "7 PKCSReq on a full disk" "^FAILURE badRequest: the server could not store the certificate$"
    expect "7 /readyz while the disk is full" "\(503\)$"
    expect "7 /readyz once there is space" "\(200\)$"
fi
echo "PASS: every security probe got the answer docs/security.md promises"
