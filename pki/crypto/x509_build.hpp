// Building and signing X.509 certificates; shared by the CA hierarchy and issuance.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pki/crypto/ossl.hpp"

namespace scep {

using time_point = std::chrono::system_clock::time_point;
using clock_fn = std::function<time_point()>;
inline clock_fn system_clock_fn() { return [] { return std::chrono::system_clock::now(); }; }

enum class key_type { rsa2048, rsa3072, rsa4096, ec_p256, ec_p384 };
inline constexpr key_type all_key_types[] = {key_type::rsa2048, key_type::rsa3072, key_type::rsa4096,
                                             key_type::ec_p256, key_type::ec_p384};
std::string_view to_string(key_type k);  // "rsa2048", "ec-p256"
// "rsa2048, rsa3072, ..." (with another separator if given), for messages and help.
std::string key_type_names(std::string_view separator = ", ");
std::optional<key_type> key_type_from_name(std::string_view name);
bool is_rsa(key_type k);
result<evp_pkey_ptr> generate_key(key_type k);

// Parses "CN=Lab Root,O=scep-lab" (RFC 4514 order, commas escaped as "\,")
// or the OpenSSL form "/CN=Lab Root/O=scep-lab".
result<x509_name_ptr> parse_subject(std::string_view text);

// Key size in bits for RSA, curve size for EC; 0 when unknown.
int key_bits(const EVP_PKEY& key);
bool key_is_rsa(const EVP_PKEY& key);
bool key_is_ec(const EVP_PKEY& key);

// The signature digest that fits a CA key: SHA-384 for P-384, SHA-256 otherwise.
const EVP_MD* signing_md(const EVP_PKEY& key);

// How a certificate is signed, when not by signing_md: a digest ("sha1",
// "sha256", "sha384", "sha512"; RFC 5754, SHA-1 for what customers still run)
// and, for RSA keys, RSASSA-PSS (RFC 4055) instead of PKCS#1 v1.5. Spelled
// "sha256" or "rsa-pss-sha256".
struct signature_spec {
    std::string digest = "sha256";
    bool pss = false;
    bool operator==(const signature_spec&) const = default;
};
std::optional<signature_spec> signature_from_name(std::string_view name);
std::string to_string(const signature_spec& s);
// What `cert` is signed with, as a spec; nullopt for an algorithm outside
// these (MD5, Ed25519, PSS with a mask digest other than its own, ...).
std::optional<signature_spec> signature_of(const X509& cert);
// The digests a signature algorithm uses: its own for the classic OIDs; for
// RSASSA-PSS (RFC 4055 §3.1) the hash and the MGF1 hash of its parameters
// (SHA-1 where absent). Empty when they cannot be read.
std::vector<int> signature_digests(const X509_ALGOR& alg);

// One extension as an OpenSSL configuration line, "name = value"
// ("keyUsage = critical,keyCertSign,cRLSign", "subjectKeyIdentifier = hash",
// "1.3.6.1.4.1.311.20.2 = DER:1E:08:00:53:00:75:00:62"): x509v3_config(5).
// Checked without a certificate; the error names the line.
result<x509_ext_ptr> extension_from_line(const std::string& line, X509V3_CTX* ctx = nullptr);

struct cert_request {
    const X509_NAME* subject = nullptr;
    const EVP_PKEY* public_key = nullptr;
    time_point not_before;
    time_point not_after;
    // OpenSSL configuration-style extensions, e.g. {NID_key_usage, "critical,digitalSignature"}.
    std::vector<std::pair<int, std::string>> extensions;
    // Extensions copied as they are (subjectAltName from a CSR).
    std::vector<const X509_EXTENSION*> copied_extensions;
    // A chosen serial (deterministic mode); empty = random_serial().
    bytes serial;
    // When set: every extension of the certificate, in this order, as
    // extension_from_line reads them; subjectKeyIdentifier and
    // authorityKeyIdentifier only where listed. `extensions` and
    // `copied_extensions` are then not used.
    std::optional<std::vector<std::string>> exact_extensions;
    // Unset: signing_md of the issuer's key, PKCS#1 v1.5 for RSA.
    std::optional<signature_spec> signature;
};

// Random positive 128-bit serial (RFC 5280 §4.1.2.2 allows up to 20 octets).
asn1_integer_ptr random_serial();
// The same shape (positive, 16 octets) from given bytes: deterministic serials.
asn1_integer_ptr serial_from_bytes(bytes b);

// Signs `req` with `issuer_key`. `issuer_cert` null means self-signed.
// Adds subjectKeyIdentifier and authorityKeyIdentifier.
result<x509_ptr> sign_certificate(const cert_request& req, const X509* issuer_cert, const EVP_PKEY& issuer_key);

// Self-signed certificate for a requester (SCEP signer for PKCSReq, RFC 8894 §2.3).
result<x509_ptr> self_signed(const EVP_PKEY& key, const X509_NAME& subject, time_point now);

time_point asn1_time_point(const ASN1_TIME& t);
// "2031-05-01T12:00:00Z" (RFC 3339, UTC, whole seconds) and back.
std::string utc_text(time_point t);
std::optional<time_point> parse_utc_text(std::string_view text);

}  // namespace scep
