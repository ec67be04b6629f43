// Challenge password checks, injected into the SCEP service: a static secret
// (RFC 8894 §2.2), NDES one-time passwords handed out by the admin page, or
// none (NDES with EnforcePassword = 0).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/store/challenges.hpp"

namespace scep {

// The challengePassword attribute of a CSR (PKCS#9), if any, and the ASN.1
// string type it was encoded with (NDES refuses UTF8String).
struct challenge_attr {
    std::string value;
    int asn1_type = 0;
};
std::optional<challenge_attr> csr_challenge(const X509_REQ& req);
// The CSR's DER with its challengePassword attributes removed: what a held
// (pending) request is stored as. Its signature no longer verifies, which is
// why it is checked before it is held. An error when the copy does not parse
// again: OpenSSL reads some encodings it cannot write back (a parameter
// tagged [UNIVERSAL 0] constructed comes back as an end-of-contents marker).
result<bytes> csr_without_challenge(const X509_REQ& req);

// Why a challenge was refused: the kind (NDES reports each with its own
// HRESULT, docs/ndes.md) and the text for failInfoText and the log.
// A webhook or policy module may deny (denied), fail to answer (unavailable)
// or, for NDES's policy module, answer with its own HRESULT.
struct challenge_refusal {
    enum class kind { missing, wrong, used, expired, denied, unavailable };
    challenge_refusal(kind k, std::string t, std::optional<std::uint32_t> hr = std::nullopt)
        : why(k), text(std::move(t)), hresult(hr) {}
    kind why;
    std::string text;
    std::optional<std::uint32_t> hresult;  // the policy module's, sent as NDES sends it
};

// What a verifier may look at: the challenge, and for the modes that bind a
// challenge to a device (docs/challenges.md) the CSR and the client address.
struct challenge_context {
    challenge_context(std::optional<challenge_attr> c = std::nullopt) : challenge(std::move(c)) {}  // NOLINT: implicit
    std::optional<challenge_attr> challenge;
    const X509_REQ* csr = nullptr;
    std::string client;
    // For the webhook and policy-module modes: the transaction, its message
    // type ("PKCSReq", "RenewalReq"), the certificate that signed it (a
    // renewal's existing certificate) and the template NDES chose.
    std::string transaction_id;
    std::string message_type;
    const X509* signer = nullptr;
    std::string template_name;
};

// How a transaction whose challenge was checked ended (NDES's Notify).
struct challenge_outcome {
    int disposition = 2;            // X509SCEPDisposition: 0 success, 2 failure, 3 pending
    std::uint32_t last_hresult = 0;  // S_OK, or what the FAILURE carried
    const X509* issued = nullptr;    // success: the certificate
    std::string text;                // failure: failInfoText
};

class challenge_verifier {
public:
    virtual ~challenge_verifier() = default;
    // nullopt when the challenge is accepted (and, for single-use kinds,
    // spent), else why not (badMessageCheck).
    virtual std::optional<challenge_refusal> verify(const challenge_context& ctx) = 0;
    // Before verify, in NDES mode with templates: `name` is NDES's choice by
    // key usage; a policy module may choose another (GetTemplate).
    virtual std::optional<challenge_refusal> choose_template(const challenge_context&, std::string&) {
        return std::nullopt;
    }
    // After a transaction whose challenge went through verify is decided
    // (only when notifies(): building the outcome costs a store lookup).
    virtual bool notifies() const { return false; }
    virtual void notify(const challenge_context&, const challenge_outcome&) {}
};

// One secret for every request, compared in constant time; empty = none required.
class static_challenge final : public challenge_verifier {
public:
    explicit static_challenge(std::string secret) : secret_(std::move(secret)) {}
    std::optional<challenge_refusal> verify(const challenge_context& ctx) override;

private:
    std::string secret_;
};

// NDES dynamic passwords: upper-case hex, single use, expire after `validity`,
// at most `capacity` unused ones at a time (KB959193; defaults 60 min and 5).
class one_time_passwords final : public challenge_verifier {
public:
    one_time_passwords(std::chrono::seconds validity, std::size_t capacity, std::size_t bytes, clock_fn clock);

    // A fresh password, or nullopt when the cache is full ("password cache is full").
    std::optional<std::string> issue();
    std::optional<challenge_refusal> verify(const challenge_context& ctx) override;

    std::chrono::seconds validity() const { return validity_; }
    std::size_t unused();

private:
    void expire_locked(time_point now);

    std::chrono::seconds validity_;
    std::size_t capacity_;
    std::size_t bytes_;
    clock_fn clock_;
    std::mutex mu_;
    std::map<std::string, time_point> unused_;  // password -> expiry
    std::map<std::string, time_point> used_;    // kept until expiry, to say "already used"
    std::map<std::string, time_point> expired_;  // recently expired, to say "expired" (bounded)
};

// What an api-mode challenge is bound to; every set field must hold for the
// CSR and the client. Stored with the challenge as "key=value" lines.
struct challenge_bindings {
    std::string subject;            // exactly this subject ("CN=dev-1,O=Org", compared as names)
    std::string subject_regex;      // RE2, matched against the whole subject as printed (RFC 4514): anchored at both ends
    std::vector<std::string> sans;  // the CSR's subjectAltNames must all be among these ("DNS:a", "IP:192.0.2.1");
                                    // with a subject binding and no sans, the CSR may carry none
    std::string key_type;           // "rsa" or "ec"
    int min_key_bits = 0;
    std::string client;             // the client address that must send it

    std::string to_text() const;
    // Checks every field (a subject that parses, a regex that compiles, SANs
    // in the "DNS:" form, a known key type); the error names the field.
    static result<challenge_bindings> from_text(const std::string& text);
    result<void> validate() const;
    // Why the CSR or client does not satisfy them, or nullopt.
    std::optional<std::string> mismatch(const X509_REQ& csr, const std::string& client) const;
};

// What the challenge store keys a challenge by: hex SHA-256 of its value.
std::string challenge_hash(std::string_view value);

// [challenge] mode = "api": challenges handed out by the admin API, checked
// and spent against the challenge store.
class api_challenges final : public challenge_verifier {
public:
    api_challenges(challenge_store& store, clock_fn clock) : store_(store), clock_(std::move(clock)) {}
    std::optional<challenge_refusal> verify(const challenge_context& ctx) override;

    struct issued {
        std::string secret;  // shown once, never stored
        challenge_row row;
    };
    // A new challenge: 16 random bytes as 32 hex digits, its SHA-256 stored.
    result<issued> issue(std::chrono::seconds ttl, int uses, const challenge_bindings& bindings, const std::string& label);
    challenge_store& store() { return store_; }
    // How many challenges with this label are live and unused (at most `limit` are counted).
    result<std::size_t> unused_with_label(const std::string& label, std::size_t limit);

private:
    challenge_store& store_;
    clock_fn clock_;
};

}  // namespace scep
