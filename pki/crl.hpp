// Certificate revocation lists (RFC 5280 §5), one per CA of the hierarchy.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pki/ossl.hpp"
#include "pki/x509_build.hpp"

namespace scep {

// RFC 5280 §5.3.1 CRLReason; the names are what `scep-lab revoke --reason` takes.
std::optional<int> crl_reason_from_name(std::string_view name);
std::string crl_reason_name(int reason);

struct revoked_entry {
    std::string serial;  // upper-case hex
    time_point revoked_at;
    int reason = 0;
};

// A v2 CRL signed by the CA, with authorityKeyIdentifier and cRLNumber.
result<x509_crl_ptr> build_crl(const X509& ca_cert, const EVP_PKEY& ca_key, const std::vector<revoked_entry>& revoked,
                               time_point this_update, std::chrono::seconds next_update_in, long crl_number);

bytes crl_to_der(const X509_CRL& crl);

}  // namespace scep
