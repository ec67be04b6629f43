// Certificate revocation lists (RFC 5280 §5), one per CA of the hierarchy.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep {

// RFC 5280 §5.3.1 CRLReason names.
std::string crl_reason_name(int reason);
// The reasons a certificate can be revoked with (`scep-lab revoke --reason`,
// the admin API): every CRLReason but removeFromCRL, which only takes an
// entry off a delta CRL (RFC 5280 §5.3.1) and would leave the certificate
// valid on a full one.
// The error names the accepted reasons.
result<int> revocation_reason_from_name(std::string_view name);

// Revokes a stored certificate. Revoking it again with the reason it has is
// answered `already_revoked`; with another reason `conflict` (the first
// revocation stands: the reason and date on the CRL do not change).
struct revocation {
    enum class outcome { revoked, already_revoked, conflict, not_found } result = outcome::not_found;
    int reason = 0;          // the reason in force
    std::string revoked_at;  // when it was revoked
};
result<revocation> revoke_certificate(cert_store& store, const std::string& serial, int reason);

// Where a CA's CRL is served: "/crl/<CA name>.crl" under the server's base
// URL (the CRL Distribution Point of issued certificates points there).
inline constexpr std::string_view crl_path_prefix = "/crl/";
inline constexpr std::string_view crl_path_suffix = ".crl";
inline std::string crl_path(std::string_view ca_name) {
    return std::string(crl_path_prefix) + std::string(ca_name) + std::string(crl_path_suffix);
}

// A v2 CRL signed by the CA, with authorityKeyIdentifier and cRLNumber.
result<x509_crl_ptr> build_crl(const X509& ca_cert, const EVP_PKEY& ca_key, const std::vector<revoked_entry>& revoked,
                               time_point this_update, std::chrono::seconds next_update_in, long crl_number);

// The current CRL of one CA of the hierarchy: the certificates its key issued
// that the store holds revoked; cRLNumber grows with the time (seconds since
// the epoch), as RFC 5280 §5.2.3 asks.
result<x509_crl_ptr> build_ca_crl(const ca_entry& ca, cert_store& store, time_point now,
                                  std::chrono::seconds validity);

bytes crl_to_der(const X509_CRL& crl);

}  // namespace scep
