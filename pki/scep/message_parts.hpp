// What the pkiMessage files share (message.cpp, pki_request.cpp,
// cert_rep.cpp): the SCEP attribute OIDs, signed-attribute access, signing
// and enveloping. Not part of the codec's interface (message.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/scep/message.hpp"

namespace scep::detail {

// SCEP attribute OIDs (RFC 8894 §3.2.1, id-VeriSign 2.16.840.1.113733.1.9.x)
// and id-scep-failInfoText (1.3.6.1.5.5.7.24.1), registered once per process.
struct scep_nids {
    int message_type, pki_status, fail_info, sender_nonce, recipient_nonce, transaction_id, fail_info_text, hresult;
    int unknown;  // an attribute no client knows (fault injection)
};
const scep_nids& nids();

std::optional<std::string> string_attr(PKCS7_SIGNER_INFO* si, int nid, int* asn1_type = nullptr);
std::optional<bytes> octet_attr(PKCS7_SIGNER_INFO* si, int nid);
std::optional<int> int_attr(PKCS7_SIGNER_INFO* si, int nid);
bool add_string_attr(PKCS7_SIGNER_INFO* si, int nid, int asn1_type, std::string_view value);
bool add_octet_attr(PKCS7_SIGNER_INFO* si, int nid, byte_view value);
std::optional<digest_alg> digest_from_nid(int nid);
std::optional<content_cipher> cipher_from_nid(int nid);
std::string nid_name(const ASN1_OBJECT* obj);
result<bytes> pkcs7_to_der(PKCS7* p7);
PKCS7_SIGNER_INFO* first_signer(PKCS7* p7);

// Verifies the signature of a SignedData against exactly `signer` (nothing
// from the message itself is trusted, and no chain is built: a PKCSReq signer
// is self-signed, RFC 8894 §2.3) and returns the signed content, or nullopt
// with the OpenSSL error queue left for the caller's message.
std::optional<bytes> verify_against(PKCS7* p7, const X509& signer);

// SignedData with the given signed attributes over `content`.
result<bytes> sign_with_attributes(const X509& signer_cert, const EVP_PKEY& signer_key, digest_alg digest,
                                   byte_view content, bool include_signer_cert,
                                   const std::function<bool(PKCS7_SIGNER_INFO*)>& add_attrs,
                                   bool without_signing_time = false,
                                   const std::function<bool(PKCS7_SIGNER_INFO*)>& after_signing = {});

// EnvelopedData to the recipients: PKCS#7 with RSA key transport (what every
// SCEP client reads); OpenSSL's CMS for the recipient kinds RFC 2315 has no
// room for (RFC 5652 §6.2: key agreement for EC).
result<bytes> encrypt_envelope(byte_view content, const std::vector<const X509*>& recipients, content_cipher cipher,
                               key_transport transport = key_transport::rsa_pkcs1, bool by_key_id = false);

}  // namespace scep::detail
