// Signed attributes of a SCEP pkiMessage (RFC 8894 §3.2.1) and CMS
// (RFC 5652 §11), by dotted OID: their names and values as a reader sees
// them. The inspector and the device personas read messages with these.
#pragma once

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <string_view>

#include "pki/crypto/ossl.hpp"

namespace scep::attributes {

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

std::string oid_text(const ASN1_OBJECT* obj);
// "messageType", "contentType", ... for the attributes a SCEP message carries; else the OID.
std::string attribute_name(const std::string& oid);

const ASN1_TYPE* attr_value(STACK_OF(X509_ATTRIBUTE) * attrs, std::string_view oid);
std::optional<std::string> string_value(const ASN1_TYPE* t);  // a string type's bytes
std::optional<bytes> octet_value(const ASN1_TYPE* t);
std::optional<int> int_value(const ASN1_TYPE* t);  // a decimal string

}  // namespace scep::attributes
