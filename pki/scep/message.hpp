// SCEP pkiMessage codec (RFC 8894 §3). Server side: decode a request in two
// stages (structure, then signature and envelope) and build CertRep replies.
// Client side: build requests and parse replies, for tests and `scep-lab bench`.
//
// The legacy PKCS7 API is used rather than CMS on purpose: CMS DER-sorts the
// SET OF certificates, which can put a CA certificate before the issued one,
// and Apple devices pair the *first* certificate of a reply with their key
// (iOS error 22008). PKCS7 keeps insertion order.
#pragma once

#include <optional>

#include "pki/scep/ndes_errors.hpp"
#include <string>
#include <string_view>
#include <vector>

#include "pki/crypto/ossl.hpp"
#include "pki/scep/outcome.hpp"

namespace scep {

// The HTTP operations (RFC 8894 §4.1: operation=...).
inline constexpr std::string_view scep_operations[] = {"GetCACaps", "GetCACert", "GetNextCACert", "PKIOperation"};


// Content-encryption algorithms of the pkcsPKIEnvelope (RFC 8894 §3.2.2).
enum class content_cipher { des_cbc, des_ede3_cbc, aes_128_cbc, aes_192_cbc, aes_256_cbc };
std::string_view to_string(content_cipher c);
std::optional<content_cipher> content_cipher_from_name(std::string_view name);  // "aes128", "des3", ...
const EVP_CIPHER* evp_cipher(content_cipher c);
inline constexpr content_cipher all_content_ciphers[] = {
    content_cipher::des_cbc, content_cipher::des_ede3_cbc, content_cipher::aes_128_cbc,
    content_cipher::aes_192_cbc, content_cipher::aes_256_cbc};

// Message digests for signatures. MD5 is refused (RFC 8894 §2.9) unless
// cipher_policy::allow_md5 (old Cisco IOS); it is not in all_digest_algs.
enum class digest_alg { sha1, sha224, sha256, sha384, sha512, md5 };
std::string_view to_string(digest_alg d);
std::optional<digest_alg> digest_alg_from_name(std::string_view name);  // "sha256", "SHA-256"
const EVP_MD* evp_md(digest_alg d);
inline constexpr digest_alg all_digest_algs[] = {digest_alg::sha1, digest_alg::sha224, digest_alg::sha256,
                                                 digest_alg::sha384, digest_alg::sha512};

// A protocol-level failure: answered with a signed CertRep, pkiStatus=FAILURE.
struct scep_failure {
    fail_info info;
    std::string text;
    failure_cause cause = failure_cause::unspecified;  // what NDES would report (ndes_errors.hpp)
};

// A request after stage one: the outer SignedData parsed, the SCEP attributes
// read. Nothing is verified yet.
struct pki_request {
    int type = 0;  // raw messageType; may be a value this server does not know
    std::string transaction_id;
    int transaction_id_asn1_type = V_ASN1_PRINTABLESTRING;  // echoed as received
    bytes sender_nonce;
    std::optional<digest_alg> digest;  // nullopt: an algorithm we refuse (badAlg)
    std::string digest_name;           // as the request named it, for messages
    x509_ptr signer_cert;              // nullptr when the client sent none
    // Filled by open_pki_request:
    std::optional<content_cipher> cipher;
    bytes message_data;  // decrypted messageData (a PKCS#10 for PKCSReq/RenewalReq)
    // Filled by the service as it decides, for the transaction inspector:
    // catalogue IDs (pki/inspect/findings.hpp) its decisions raised, and
    // whether the challenge was "accepted" or "refused" ("" = not checked).
    std::vector<std::string> findings;
    std::string challenge_result;
    std::string requester;      // the client's address (fault rules select by it)
    x509_req_ptr csr;           // the messageData parsed as a PKCS#10 (PKCSReq, RenewalReq)
    bool csr_verified = false;  // its signature was verified (issuer::check_csr)
    std::optional<bool> signer_self_signed;  // once the service has checked

    pkcs7_ptr p7;
};

// Stage one. An error here means the input is not a SCEP pkiMessage at all
// (HTTP 400): not DER/BER PKCS#7, not SignedData, or missing the attributes a
// CertRep needs (transactionID, senderNonce, messageType).
result<pki_request> decode_pki_request(byte_view der);

// How a request's content-encryption key reaches the RA (RFC 8894 §3.2.2
// names PKCS#1 v1.5; RSAES-OAEP, RFC 8017 §7.1, is what FIPS-mode HSMs offer).
enum class key_transport { rsa_pkcs1, rsaes_oaep };

// The content-encryption algorithm (NID) of a DER EnvelopedData, read by hand
// (RFC 5652 §6.1) so that envelopes PKCS#7 cannot parse (a KeyAgreeRecipientInfo
// for an EC recipient) are covered too; nullopt when it is not one.
std::optional<int> enveloped_content_nid(byte_view der);

// Decrypts a DER EnvelopedData for `cert`/`key` with OpenSSL's CMS API: key
// transport (PKCS#1 v1.5 or OAEP) for RSA, key agreement (ECDH) for EC.
result<bytes> decrypt_envelope(byte_view der, const X509& cert, const EVP_PKEY& key);

struct cipher_policy {
    bool allow_single_des = false;
    bool allow_md5 = false;  // MD5 request digests (old Cisco IOS); the reply mirrors them
};

// Stage two: check the digest, verify the signature with the signer
// certificate the request carries, and decrypt the envelope with the RA key.
std::optional<scep_failure> open_pki_request(pki_request& req, const X509& ra_cert, const EVP_PKEY& ra_key,
                                             const cipher_policy& policy);

// What a CertRep says (RFC 8894 §3.3.2).
struct cert_rep_params {
    std::string transaction_id;
    int transaction_id_asn1_type = V_ASN1_PRINTABLESTRING;
    bytes recipient_nonce;  // the request's senderNonce
    pki_status status = pki_status::success;
    std::optional<fail_info> failure;
    std::string fail_info_text;  // id-scep-failInfoText, sent when non-empty
    digest_alg digest = digest_alg::sha256;
    // SUCCESS only: the issued certificate (or, for GetCRL, a CRL), encrypted to `recipient`.
    const X509* issued = nullptr;
    const X509_CRL* crl = nullptr;
    const X509* recipient = nullptr;
    content_cipher cipher = content_cipher::aes_128_cbc;
    std::vector<const X509*> chain;  // CA certificates after the issued one (scep.reply_includes_chain)
    bool include_signer_cert = true;
    // NDES failure shape (shared/reference/vectors/ndes-failure-certrep.pem):
    // content is one 0x00 byte, no certificates, no signingTime, no
    // failInfoText, and Microsoft's HRESULT attribute 1.3.6.1.4.1.311.21.33.
    bool ndes_failure_shape = false;
    std::string hresult;  // decimal, as NDES writes it ("-2147024809")
    // Fault injection only (pki/scep/faults.hpp): a CertRep no correct server sends.
    struct faults {
        bool wrong_recipient_nonce = false, omit_recipient_nonce = false;
        bool wrong_transaction_id = false, omit_transaction_id = false;
        bool omit_sender_nonce = false;
        std::optional<int> message_type;  // sent instead of 3 (CertRep)
        std::optional<int> pki_status;    // sent instead of `status`
        bool omit_signing_time = false;
        bool extra_attribute = false;                 // a signed attribute no client knows
        bool corrupt_signature = false;               // one bit of the signature flipped
        bool signature_algorithm_with_digest = false;  // sha256WithRSAEncryption, not rsaEncryption
        bool digest_algorithm_mismatch = false;       // the SignerInfo names another digest than the one used
        std::optional<content_cipher> cipher;         // the envelope's cipher, whatever the request used
        bool no_envelope = false;                     // the degenerate sent as the content, unencrypted
        std::vector<const X509*> extra_certs;         // added to the degenerate after the issued certificate
        bool empty_degenerate = false;                // the degenerate carries no certificate
        bool attributes_out_of_order = false;         // signed attributes not in DER order, signed as sent
        const X509* signer_cert = nullptr;            // signs instead of the RA (with signer_key)
        const EVP_PKEY* signer_key = nullptr;
    } fault;
};
result<bytes> build_cert_rep(const cert_rep_params& p, const X509& signer_cert, const EVP_PKEY& signer_key);

// Degenerate certs-only SignedData (RFC 8894 §3.4), certificates in the given
// order; GetCRL replies carry a CRL in it instead (RFC 8894 §3.3.4).
bytes build_degenerate(const std::vector<const X509*>& certs, const std::vector<const X509_CRL*>& crls = {});
result<std::vector<x509_ptr>> parse_degenerate(byte_view der);

struct degenerate_contents {
    std::vector<x509_ptr> certs;
    std::vector<x509_crl_ptr> crls;
};
result<degenerate_contents> parse_degenerate_contents(byte_view der);

// messageData of GetCert and GetCRL (RFC 8894 §3.3.3, §3.3.4).
struct issuer_and_serial {
    x509_name_ptr issuer;
    std::string serial;  // upper-case hex
};
bytes encode_issuer_and_serial(const X509_NAME& issuer, const ASN1_INTEGER& serial);
result<issuer_and_serial> decode_issuer_and_serial(byte_view der);
// messageData of CertPoll: SEQUENCE { issuer Name, subject Name } (RFC 8894 §3.3.3).
bytes encode_issuer_and_subject(const X509_NAME& issuer, const X509_NAME& subject);

// SignedData over `content` (id-data), signed by `signer` with SHA-256;
// GetNextCACert replies are this (RFC 8894 §4.7.1).
result<bytes> sign_content(byte_view content, const X509& signer, const EVP_PKEY& key);
// Verifies such a SignedData against `signer` and returns its content.
result<bytes> verify_signed_content(byte_view der, const X509& signer);

// ---- client side ----

struct pki_request_params {
    message_type type = message_type::pkcs_req;
    std::string transaction_id;
    bytes sender_nonce;
    bytes message_data;  // e.g. DER PKCS#10
    digest_alg digest = digest_alg::sha256;
    content_cipher cipher = content_cipher::aes_128_cbc;
    key_transport transport = key_transport::rsa_pkcs1;
    // The recipient named by subjectKeyIdentifier (KeyTransRecipientInfo v2,
    // RFC 5652 §6.2.1) rather than issuer and serial number.
    bool recipient_by_key_id = false;
};
result<bytes> build_pki_request(const pki_request_params& p, const X509& signer_cert, const EVP_PKEY& signer_key,
                                const std::vector<const X509*>& recipients);

struct cert_rep {
    int type = 0;
    pki_status status = pki_status::failure;
    std::optional<fail_info> failure;
    std::string fail_info_text;
    std::string transaction_id;
    bytes sender_nonce;
    bytes recipient_nonce;
    std::optional<digest_alg> digest;
    bytes envelope;  // SUCCESS: the encrypted degenerate SignedData
    std::optional<content_cipher> envelope_cipher;
    int certificate_count = 0;  // certificates carried in the outer SignedData
};
// Verifies the reply was signed by `signer` (the RA) and reads its attributes.
result<cert_rep> parse_cert_rep(byte_view der, const X509& signer);
// Decrypts a SUCCESS reply's envelope and returns the certificates inside.
result<std::vector<x509_ptr>> decrypt_cert_rep(const cert_rep& rep, const X509& recipient_cert,
                                               const EVP_PKEY& recipient_key);
result<degenerate_contents> decrypt_cert_rep_contents(const cert_rep& rep, const X509& recipient_cert,
                                                      const EVP_PKEY& recipient_key);

// Transaction ID as most clients make it: hex SHA-256 of the public key would
// collide across retries of the same key, so use random bytes instead.
std::string make_transaction_id();

}  // namespace scep
