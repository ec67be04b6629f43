// What the inspector's request and reply analyses share: SCEP and CMS
// attribute OIDs, reading signed attributes and algorithm names, and naming
// keys. Internal to pki/inspect.
#pragma once

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <string_view>

#include "pki/crypto/ossl.hpp"
#include "pki/scep/attributes.hpp"

namespace scep::inspect::detail {

// The signed attributes' OIDs, names and values (pki/scep/attributes.hpp).
using namespace scep::attributes;

// Client-chosen strings are cut here in reports.
constexpr std::size_t max_text = 256;

// The OpenSSL long name ("sha256", "aes-128-cbc", "rsaEncryption"), else the dotted OID.
std::string algorithm_name(const ASN1_OBJECT* obj);
std::string string_type_name(int type);  // "PrintableString", "UTF8String", ...
std::string clean(std::string_view s);   // printable(s, max_text)


std::string key_description(const EVP_PKEY* key);  // "RSA 2048", "EC 256 (prime256v1)"

}  // namespace scep::inspect::detail
