// Issuance: checks a CSR against policy and signs it with the issuing CA.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pki/hierarchy.hpp"
#include "pki/message.hpp"
#include "pki/x509_build.hpp"

namespace scep {

struct issuance_profile {
    std::vector<std::string> key_usage{"digitalSignature", "keyEncipherment"};
    std::vector<std::string> extended_key_usage{"clientAuth"};
    std::chrono::seconds validity = std::chrono::hours(24 * 365);
    // Devices with a slow clock reject certificates "not yet valid".
    std::chrono::seconds backdate = std::chrono::minutes(5);
    // CRL Distribution Point URL put in issued certificates; empty = none.
    std::string crl_url;
};

struct csr_policy {
    int min_rsa_bits = 2048;
    int min_ec_bits = 256;
};

// Checks names against what OpenSSL accepts; the error names the bad entry.
result<void> validate(const issuance_profile& p);

// The challengePassword attribute of a CSR (PKCS#9), if any, and the ASN.1
// string type it was encoded with (NDES refuses UTF8String).
struct challenge_attr {
    std::string value;
    int asn1_type = 0;
};
std::optional<challenge_attr> csr_challenge(const X509_REQ& req);

class issuer {
public:
    issuer(const hierarchy& pki, issuance_profile profile, csr_policy policy, clock_fn clock);

    // Proof of possession, key type and size, a usable name.
    std::optional<scep_failure> check_csr(const X509_REQ& req) const;
    // Signs the CSR: subject and SANs from the CSR, usages from the profile.
    result<x509_ptr> issue(const X509_REQ& req) const;

    const issuance_profile& profile() const { return profile_; }
    // Set once before serving, when the listening address is known.
    void set_crl_url(std::string url) { profile_.crl_url = std::move(url); }

private:
    const hierarchy& pki_;
    issuance_profile profile_;
    csr_policy policy_;
    clock_fn clock_;
};

}  // namespace scep
