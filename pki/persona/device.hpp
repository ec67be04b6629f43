// What a persona does with what a server sends, and how it builds what it
// sends: the device's decisions, without I/O (`scep-lab probe` does the
// HTTP in client/probe, tests call these directly).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/crypto/ossl.hpp"
#include "pki/persona/persona.hpp"
#include "pki/scep/message.hpp"

namespace scep::persona {

// Where a device gives up: an error kind (error_kinds()), what it saw, and
// the device's own code for it when its sources give one.
struct refusal {
    std::string kind;
    std::string why;
    std::string device_error;
};

// GetCACert as the persona reads it (RFC 8894 §4.2.1).
struct ca_view {
    std::vector<x509_ptr> certs;   // as sent
    const X509* ca = nullptr;
    const X509* encrypt_to = nullptr;  // the pkcsPKIEnvelope's recipient
    const X509* verify_with = nullptr;  // the CertRep's signer
    std::string layout;  // "CA only", "CA + combined RA", "CA + signing RA + encryption RA", ...
    std::vector<std::string> notes;
    std::optional<refusal> stop;
};
// `pin`: the SHA-1 thumbprint (hex, any case) of a CA the profile trusts;
// `trusted`: certificates the profile installed (a root not sent in GetCACert).
ca_view read_ca_certs(const persona& p, int http_status, std::string_view content_type, std::string_view body,
                      const std::string& pin = {}, const std::vector<const X509*>& trusted = {});

// Everything one enrollment of a device needs, made as the persona makes it.
struct device_identity {
    evp_pkey_ptr key;
    x509_req_ptr csr;
    x509_ptr signer;  // the self-signed certificate (or the old certificate, renewing)
    const EVP_PKEY* signer_key = nullptr;
    std::string transaction_id;
    bytes nonce;
    std::string subject;
};
struct identity_options {
    std::string challenge;          // "" = none
    std::string device_name;        // {device}; "" = the persona's
    const X509* old_cert = nullptr;  // renewing: signs with this certificate and old_key
    const EVP_PKEY* old_key = nullptr;
    bool include_challenge = true;
    const EVP_PKEY* reuse_key = nullptr;  // a key made before (tests), else a new one
    std::string subject;                  // renewing: the subject kept; "" = the persona's template
};
result<device_identity> make_identity(const persona& p, const identity_options& o);
// The same device asking about its certificate (GetCert, GetCRL: RFC 8894
// §3.3.3, §3.3.4): signed with `cert` and the identity's key, same
// transactionID, a new senderNonce of `nonce_bytes`.
device_identity signing_with(const device_identity& id, const X509& cert, std::size_t nonce_bytes);

// A challenge the device cannot put in its CSR (Windows: outside PrintableString).
std::optional<refusal> check_challenge(const persona& p, std::string_view challenge);

// The pkiMessage the device sends, encoded as it encodes it.
result<bytes> build_request(const persona& p, const device_identity& id, message_type type, byte_view message_data,
                            const caps_choice& caps, const X509& recipient);
// BER with indefinite lengths for the outer layers of a SignedData
// (ContentInfo, SignedData, encapContentInfo, eContent as a constructed
// OCTET STRING), as Apple's Security framework writes it. The signature is
// unchanged: it covers the signed attributes and the content octets only.
bytes to_indefinite_ber(byte_view der);
// The GET message parameter: base64, percent-encoded; with line breaks
// (%0A every 64 characters) when the persona sends them.
std::string get_message_value(const persona& p, byte_view der);

// A CertRep as the persona checks it (RFC 8894 §3.3.2).
struct reply_view {
    std::optional<pki_status> status;
    std::optional<fail_info> failure;
    std::string fail_info_text;
    std::string hresult;  // Microsoft's attribute 1.3.6.1.4.1.311.21.33, as sent
    std::vector<std::string> attributes;  // signed attributes, by name, in the order sent
    bool attributes_der_sorted = true;     // in DER (sorted SET OF) order
    std::vector<x509_ptr> certs;         // SUCCESS: from the envelope
    std::vector<x509_crl_ptr> crls;      // GetCRL
    x509_ptr issued;                     // SUCCESS: the certificate for the device's key
    std::optional<refusal> stop;
};
reply_view read_reply(const persona& p, int http_status, std::string_view content_type, std::string_view body,
                      const X509& verify_with, const device_identity& id, bool expect_certificate = true);

// Text for a certificate in a report: "CN=... (serial 1A2B, RSA 2048)".
std::string describe(const X509& cert);

}  // namespace scep::persona
