// Challenge password checks, injected into the SCEP service: a static secret
// (RFC 8894 §2.2), NDES one-time passwords handed out by the admin page, or
// none (NDES with EnforcePassword = 0).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "pki/crypto/ossl.hpp"
#include "pki/crypto/x509_build.hpp"

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
// why it is checked before it is held.
bytes csr_without_challenge(const X509_REQ& req);

// Why a challenge was refused: the kind (NDES reports each with its own
// HRESULT, docs/ndes.md) and the text for failInfoText and the log.
struct challenge_refusal {
    enum class kind { missing, wrong, used, expired } why;
    std::string text;
};

class challenge_verifier {
public:
    virtual ~challenge_verifier() = default;
    // nullopt when the challenge is accepted, else why not (badMessageCheck).
    virtual std::optional<challenge_refusal> verify(const std::optional<challenge_attr>& challenge) = 0;
};

// One secret for every request, compared in constant time; empty = none required.
class static_challenge final : public challenge_verifier {
public:
    explicit static_challenge(std::string secret) : secret_(std::move(secret)) {}
    std::optional<challenge_refusal> verify(const std::optional<challenge_attr>& challenge) override;

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
    std::optional<challenge_refusal> verify(const std::optional<challenge_attr>& challenge) override;

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

}  // namespace scep
