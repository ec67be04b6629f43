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

namespace scep::inspect::detail {

// RFC 8894 §3.2.1 attribute OIDs (id-VeriSign 2.16.840.1.113733.1.9.x) and
// the CMS ones, compared as dotted text so that nothing here depends on
// registration order.
constexpr std::string_view oid_message_type = "2.16.840.1.113733.1.9.2";
constexpr std::string_view oid_pki_status = "2.16.840.1.113733.1.9.3";
constexpr std::string_view oid_fail_info = "2.16.840.1.113733.1.9.4";
constexpr std::string_view oid_sender_nonce = "2.16.840.1.113733.1.9.5";
constexpr std::string_view oid_recipient_nonce = "2.16.840.1.113733.1.9.6";
constexpr std::string_view oid_transaction_id = "2.16.840.1.113733.1.9.7";
constexpr std::string_view oid_fail_info_text = "1.3.6.1.5.5.7.24.1";
constexpr std::string_view oid_content_type = "1.2.840.113549.1.9.3";
constexpr std::string_view oid_message_digest = "1.2.840.113549.1.9.4";
constexpr std::string_view oid_signing_time = "1.2.840.113549.1.9.5";
constexpr std::string_view oid_smime_caps = "1.2.840.113549.1.9.15";
constexpr std::string_view oid_ms_hresult = "1.3.6.1.4.1.311.21.33";

// Client-chosen strings are cut here in reports.
constexpr std::size_t max_text = 256;

std::string oid_text(const ASN1_OBJECT* obj);
// The OpenSSL long name ("sha256", "aes-128-cbc", "rsaEncryption"), else the dotted OID.
std::string algorithm_name(const ASN1_OBJECT* obj);
// "messageType", "contentType", ... for the attributes a SCEP message carries.
std::string attribute_name(const std::string& oid);
std::string string_type_name(int type);  // "PrintableString", "UTF8String", ...
std::string clean(std::string_view s);   // printable(s, max_text)
// A Content-Type's media type: before any parameters, trailing spaces gone.
std::string_view media_type(std::string_view content_type);

const ASN1_TYPE* attr_value(STACK_OF(X509_ATTRIBUTE) * attrs, std::string_view oid);
std::optional<std::string> string_value(const ASN1_TYPE* t);  // a string type's bytes
std::optional<bytes> octet_value(const ASN1_TYPE* t);
std::optional<int> int_value(const ASN1_TYPE* t);  // a decimal string

std::string key_description(const EVP_PKEY* key);  // "RSA 2048", "EC 256 (prime256v1)"

}  // namespace scep::inspect::detail
