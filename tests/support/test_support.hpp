// Helpers shared by the tests: temporary folders, a lab PKI made by the code
// under test, and a SCEP requester built on the project's own codec.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "pki/hierarchy.hpp"
#include "pki/message.hpp"
#include "pki/scep_service.hpp"
#include "pki/x509_build.hpp"

namespace scep::test {

class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

hierarchy_spec small_spec(int tiers = 2, bool ca_as_ra = false, key_type key = key_type::rsa2048);

// A lab PKI (small_spec(tiers)) in its own temporary folder, under dir/pki.
struct lab_fixture {
    explicit lab_fixture(int tiers = 3);
    temp_dir dir;
    std::optional<hierarchy> pki;
};

// A device: key, CSR with an optional challenge, and its self-signed signer.
struct requester {
    evp_pkey_ptr key;
    x509_req_ptr csr;
    x509_ptr signer;
};
struct requester_options {
    std::string subject = "CN=device-1,O=scep-lab tests";
    std::string challenge = "secret";
    bool challenge_as_utf8 = false;
    std::vector<std::string> dns_names;
    key_type key = key_type::rsa2048;
    std::vector<std::string> extra_ext;  // OpenSSL conf-style "keyUsage=critical,digitalSignature"
};
requester make_requester(const requester_options& opts = {});

// A PKCSReq pkiMessage for `r`, encrypted to `recipient`.
bytes make_pkcs_req(const requester& r, const X509& recipient, const std::string& txid, const bytes& nonce,
                    content_cipher cipher = content_cipher::aes_128_cbc, digest_alg digest = digest_alg::sha256,
                    message_type type = message_type::pkcs_req);


// The service over a two-tier lab PKI and an in-memory store.
struct service_lab {
    explicit service_lab(service_config cfg);
    service_lab(service_config cfg, const hierarchy_spec& spec);
    temp_dir dir;
    std::optional<hierarchy> pki;
    std::optional<issuer> iss;
    std::unique_ptr<cert_store> store = make_memory_store();
    std::optional<scep_service> service;
};

}  // namespace scep::test
