#!/usr/bin/env bash
# Every OpenSSL object is owned by RAII (pki/crypto/ossl.hpp): outside that
# folder there is no bare *_free / OPENSSL_free call and no one-off deleter
# (a lambda or function-pointer deleter, or ossl_free<> spelled out instead
# of a named alias). Ownership moves with release(). Tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(grep -rnE '(\b[A-Za-z0-9_]+_free\(|OPENSSL_free\(|decltype\(\[|decltype\(&[A-Za-z0-9_]+_free\)|ossl_free<)' \
    --include='*.cpp' --include='*.hpp' pki server peers client cli config tests |
    grep -v '^pki/crypto/' | grep -vE '\bsqlite3_free\(' |
    grep -vE '^pki/evidence/evtx\.cpp:.*\blibevtx_[a-z_]+_free\(' || true)
if [ -n "$hits" ]; then
    echo "FAIL: OpenSSL objects freed by hand or with a one-off deleter (use or add an alias in pki/crypto/ossl.hpp):"
    echo "$hits"
    exit 1
fi
echo "PASS: no bare OpenSSL frees or one-off deleters outside pki/crypto"
