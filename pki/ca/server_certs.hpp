// Server certificates issued by the lab's issuing CA: the lab's own HTTPS
// certificate, and certificates for the servers a tester runs beside it
// (a RADIUS server for EAP-TLS, a web server), written in the file layouts
// those servers expect. All carry serverAuth (RFC 5280 §4.2.1.12) and the
// names as subjectAltName (RFC 6125: clients match names there, not in the CN).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep {

enum class server_profile { tls_server, radius_server };
std::optional<server_profile> server_profile_from_name(std::string_view name);  // "tls-server", "radius-server"
std::string_view to_string(server_profile p);

struct server_cert_spec {
    server_profile profile = server_profile::tls_server;
    // DNS names and IP addresses (told apart by their syntax), in order; the
    // first DNS name (or the first name) is also the common name unless set.
    std::vector<std::string> names;
    std::string common_name;
    std::string organization = "scep-lab";
    key_type key = key_type::rsa2048;
    // 397 days: under the 398-day limit Apple and the browsers apply to TLS
    // server certificates.
    std::chrono::seconds validity = std::chrono::hours(24 * 397);
    std::string crl_url;  // CRL distribution point; omitted when empty
};

struct server_cert {
    evp_pkey_ptr key;
    x509_ptr cert;
};

// Checks the names (non-empty, DNS names or IP addresses) and issues.
result<server_cert> issue_server_cert(const hierarchy& pki, const server_cert_spec& spec, time_point now);

// The SAN list as subject_alt_names() prints it ("DNS:a,IP Address:1.2.3.4"),
// sorted, for comparing a certificate with the names it should carry.
std::vector<std::string> wanted_san_entries(const std::vector<std::string>& names);
std::vector<std::string> san_entries(const X509& cert);

// Writes key, certificate and chain into `dir` (created, key 0600):
//  radius-server: server.pem (certificate, then the intermediates),
//                 server.key, ca.pem (every CA, root last) — FreeRADIUS'
//                 certs/ layout for mods-available/eap tls-config;
//  tls-server:    cert.pem, key.pem, chain.pem (CAs without the root) and
//                 fullchain.pem (certificate + chain) — certbot's layout.
// Both also get root.pem. Returns the files written.
result<std::vector<std::filesystem::path>> write_server_files(const hierarchy& pki, const server_cert& sc,
                                                              server_profile profile,
                                                              const std::filesystem::path& dir,
                                                              const std::string& key_passphrase);

// The lab's own HTTPS certificate, kept at `cert_file`/`key_file`: loaded when
// it is still right, otherwise issued again. `reason` says which (empty when
// the files were reused): missing, unreadable, key mismatch, not issued by
// the current issuing CA, names changed, expiring within 30 days.
struct https_identity {
    server_cert sc;
    bool issued_now = false;
    std::string reason;
};
// A certificate the lab keeps in files and issues again when needed (the
// HTTPS certificate, the profile signer): loaded when it is readable, matches
// its key, was issued by the current issuing CA and does not expire within 30
// days; otherwise nullopt, and `reason` says why ("no <what> certificate yet",
// "the <what> key does not match its certificate", ...).
std::optional<server_cert> load_kept_cert(const hierarchy& pki, std::string_view what,
                                          const std::filesystem::path& cert_file,
                                          const std::filesystem::path& key_file, const std::string& key_passphrase,
                                          time_point now, std::string& reason);

result<https_identity> ensure_https_cert(const hierarchy& pki, const server_cert_spec& spec,
                                         const std::filesystem::path& cert_file,
                                         const std::filesystem::path& key_file, const std::string& key_passphrase,
                                         time_point now);

}  // namespace scep
