// Issuance: checks a CSR against policy and signs it with the issuing CA.
#pragma once

#include <map>

#include <atomic>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/ca/names.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep {

struct issuance_profile {
    // The name logged with each issuance (an NDES template name in NDES mode).
    std::string name = "issuance";
    std::vector<std::string> key_usage{"digitalSignature", "keyEncipherment"};
    std::vector<std::string> extended_key_usage{"clientAuth"};
    std::chrono::seconds validity = std::chrono::hours(24 * 365);
    // Devices with a slow clock reject certificates "not yet valid".
    std::chrono::seconds backdate = std::chrono::minutes(5);
    // Subject rules: RDN short names (CN, O, OU, ...) the CSR subject must
    // carry; a CSR without one gets badRequest (NDES answers such requests
    // with CERTSRV_E_BAD_REQUESTSUBJECT).
    std::vector<std::string> required_subject;
};

// The NDES template slots (ndes.md §5), chosen by the CSR's keyUsage:
// digitalSignature only -> signature, keyEncipherment only -> encryption,
// both -> general purpose. A CSR without keyUsage (or with other bits only)
// gets the general-purpose template: unconfirmed on real NDES, the common
// reading of Microsoft's documentation.
enum class template_slot { signature, encryption, general_purpose };
template_slot select_template_slot(const X509_REQ& csr);
std::string_view to_string(template_slot s);

struct template_slots {
    issuance_profile signature;
    issuance_profile encryption;
    issuance_profile general_purpose;
    // Every [templates.NAME] the CA has, by name: what an NDES policy module
    // may choose (GetTemplate) besides the three slots.
    std::map<std::string, issuance_profile> others;
    const issuance_profile& at(template_slot s) const {
        return s == template_slot::signature    ? signature
               : s == template_slot::encryption ? encryption
                                                : general_purpose;
    }
};

// What a CSR (and a request's signer certificate) must satisfy; the
// [issuance] keys of the configuration. docs/security.md lists each check.
struct csr_policy {
    int min_rsa_bits = 2048;
    int min_ec_bits = 256;
    // RSA public exponents below this are refused. Whatever it says, e = 1
    // (a "signature" is then the padded digest itself: anyone can forge one)
    // and even exponents are always refused; 3 is the CA/Browser Forum
    // Baseline Requirements' floor (§6.1.6).
    std::uint64_t min_rsa_exponent = 3;
    // CSRs signed with MD5 (RFC 8894 §2.9: MUST NOT); only for very old devices.
    bool allow_md5 = false;
    // A key whose certificate was revoked for keyCompromise (CRLReason 1)
    // gets no new certificate (badRequest); true reproduces CAs that do not check.
    bool allow_compromised_keys = false;
    name_limits names;
};

// The structure of a public key, for CSR keys and for every request signer
// the service trusts: RSA with an odd exponent of at least 3 (and at least
// policy.min_rsa_exponent), EC on a named curve only (RFC 5480 §2.1.1: no
// explicit parameters). Other key types pass here; check_csr refuses them.
// An error naming the reason when the key is refused.
result<void> check_key_structure(const X509_PUBKEY& spki, const csr_policy& policy);

// Checks names against what OpenSSL accepts; the error names the bad entry.
result<void> validate(const issuance_profile& p);

class issuer {
public:
    issuer(const hierarchy& pki, issuance_profile profile, csr_policy policy, clock_fn clock);
    // The same issuer (profile, policy, clock, CRL URL, serial sequence) for
    // another hierarchy: a live CA rollover.
    issuer(const issuer& other, const hierarchy& pki);

    // Key type, structure and size, signature algorithm, proof of
    // possession, subject and subjectAltName (parsed; see names.hpp). An
    // error naming the reason it is refused (a SCEP badRequest).
    result<void> check_csr(const X509_REQ& req) const;
    const csr_policy& policy() const { return policy_; }
    // The profile's subject rules; the failure names the missing RDN.
    result<void> check_subject(const X509_REQ& req, const issuance_profile& p) const;
    // Signs the CSR: subject and the parsed, rebuilt SANs from the CSR
    // (never its extension bytes), usages from the profile
    // (the configured one, or `p`, e.g. an NDES template).
    result<x509_ptr> issue(const X509_REQ& req) const { return issue(req, profile_); }
    result<x509_ptr> issue(const X509_REQ& req, const issuance_profile& p) const;

    const issuance_profile& profile() const { return profile_; }
    // The CRL Distribution Point put in every issued certificate, whatever the
    // profile; set once before serving, when the listening address is known.
    // Empty = none.
    void set_crl_url(std::string url) { crl_url_ = std::move(url); }
    // Deterministic mode: the n-th certificate (counting from `first_index`)
    // gets serial SHA-256("<seed>:<n>") (first 16 bytes, positive), so a fresh
    // lab issues the same serials in the same order on every run.
    void set_serial_seed(std::string seed, std::uint64_t first_index) {
        serial_seed_ = std::move(seed);
        serial_index_ = first_index;
    }

private:
    const hierarchy& pki_;
    issuance_profile profile_;
    std::string crl_url_;
    csr_policy policy_;
    clock_fn clock_;
    std::string serial_seed_;
    mutable std::atomic<std::uint64_t> serial_index_{0};
};

}  // namespace scep
