// Helpers shared by the tests: temporary folders, a lab PKI made by the code
// under test, and a SCEP requester built on the project's own codec.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

#include "pki/ca/hierarchy.hpp"
#include "pki/scep/message.hpp"
#include "pki/scep/service.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/x509_build.hpp"

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

// Hostile keys, as an attacker makes them. An RSA key whose public exponent
// is `e` (2048-bit modulus): for e = 1 (or any e a real key cannot have) the
// private exponent is 1, so it "signs" with s = m: exactly what anyone can do
// with nothing but the public key. e = 3 or 65537 give real keys.
evp_pkey_ptr rsa_key_with_exponent(unsigned long e);
// A real RSA-3072 key whose public exponent has 3,070 bits (odd, so accepted):
// verifying its signature takes ~15 ms, which widens any check-then-act window.
evp_pkey_ptr rsa_key_with_huge_exponent();
// A P-256 key that encodes its curve as explicit parameters (RFC 5480 forbids).
evp_pkey_ptr ec_key_with_explicit_curve();
// A CSR for `key` with `subject`, the given extensions (DER values, by NID)
// and challenge, signed with `md` (MD5 included).
x509_req_ptr make_csr(const EVP_PKEY& key, const std::string& subject,
                      const std::vector<std::pair<int, bytes>>& extensions = {}, const std::string& challenge = "",
                      const EVP_MD* md = EVP_sha256());
// A CSR whose subject holds these attributes as UTF8Strings, whatever their
// length (OpenSSL's own name parser enforces RFC 5280's upper bounds; a
// hostile client does not), SHA-256-signed, with an optional challenge.
x509_req_ptr make_csr_with_rdns(const EVP_PKEY& key, const std::vector<std::pair<int, std::string>>& rdns,
                                const std::string& challenge = "");
// A CSR for CN=`cn` signed RSASSA-PSS (RFC 4055) whose parameters name `md`
// and MGF1 with `mgf1_md`. OpenSSL 3 will not sign PSS with MD5, so it is
// signed with SHA-256 and the parameters rewritten, as a hostile client
// sends them (the signature then verifies only for SHA-256).
x509_req_ptr make_pss_csr(const EVP_PKEY& key, const std::string& cn, const EVP_MD* md, const EVP_MD* mgf1_md,
                          const std::string& challenge = "");
// `count` small extensions (Netscape comments "x0", "x1", ...) for make_csr:
// a CSR whose decoded form is large.
std::vector<std::pair<int, bytes>> many_extensions(int count);
// GeneralNames DER with the given raw entries (GEN_DNS, GEN_IPADD, ... and
// their bytes), as a hostile client encodes them: nothing is checked.
bytes general_names_der(const std::vector<std::pair<int, std::string>>& entries);

// Raw bytes to a loopback port; what came back before the server closed
// the connection or `wait` passed.
struct raw_answer {
    std::string bytes;
    bool closed = false;
};
raw_answer raw_http_exchange(const std::string& host, std::uint16_t port, const std::string& request,
                             std::chrono::seconds wait = std::chrono::seconds(3));

// NDES's three template slots, all IPSECIntermediateOffline (its default),
// and one more template, `extra`, lasting `validity` ([templates.NAME]).
template_slots ndes_template_slots(const std::string& extra, std::chrono::hours validity);

// A requester whose CSR and self-signed signer use `key`.
requester requester_with_key(evp_pkey_ptr key, const std::string& subject = "CN=device-1,O=scep-lab tests",
                             const std::string& challenge = "secret");

// A requester whose subject holds these attributes as UTF8Strings, of any
// length (make_csr_with_rdns), with a fresh RSA-2048 key.
requester requester_with_rdns(const std::vector<std::pair<int, std::string>>& rdns, const std::string& challenge);

// `n` RenewalReqs of `csr`, each with its own transactionID and nonce, signed
// by the certificate being renewed and its key, encrypted to `recipient`.
std::vector<bytes> renewal_requests(const X509_REQ& csr, const X509& old_cert, const EVP_PKEY& old_key,
                                    const X509& recipient, int n);

// A PKCSReq pkiMessage for `r`, encrypted to `recipient`.
bytes make_pkcs_req(const requester& r, const X509& recipient, const std::string& txid, const bytes& nonce,
                    content_cipher cipher = content_cipher::aes_128_cbc, digest_alg digest = digest_alg::sha256,
                    message_type type = message_type::pkcs_req);


// An in-memory store whose writes fail while `fail_writes` is set, with an
// error that names a file (as SQLite's do): for "disk full" tests.
class write_failing_store : public lab_cert_store {
public:
    bool fail_writes = false;
    static constexpr const char* failure_text = "/var/lib/scep-lab/scep-lab.db: database or disk is full";

    result<insert_outcome> insert(const cert_record& rec) override {
        if (fail_writes) return make_error(failure_text);
        return inner_->insert(rec);
    }
    result<insert_outcome> insert_renewal(const cert_record& rec, const renewal_step& step) override {
        if (fail_writes) return make_error(failure_text);
        return inner_->insert_renewal(rec, step);
    }
    result<bool> key_compromised(const std::string& h) override { return inner_->key_compromised(h); }
    result<std::optional<cert_record>> find_by_transaction(const std::string& t) override {
        return inner_->find_by_transaction(t);
    }
    result<std::optional<cert_record>> find_by_serial(const std::string& s) override { return inner_->find_by_serial(s); }
    result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) override {
        return inner_->list(limit, offset);
    }
    result<std::int64_t> count() override { return inner_->count(); }
    result<cert_page> search(const cert_query& q) override { return inner_->search(q); }
    result<std::map<std::string, std::int64_t>> count_by_status() override { return inner_->count_by_status(); }
    result<std::int64_t> reset() override { return inner_->reset(); }
    result<revoke_outcome> revoke(const std::string& serial, int reason,
                                  std::chrono::system_clock::time_point when) override {
        if (fail_writes) return make_error(failure_text);
        return inner_->revoke(serial, reason, when);
    }
    result<void> supersede(const std::string& serial) override { return inner_->supersede(serial); }
    result<void> probe_write() override {
        if (fail_writes) return make_error(failure_text);
        return {};
    }
    result<void> release_transaction(const std::string& t) override { return inner_->release_transaction(t); }
    result<std::vector<revoked_entry>> revoked_by(const std::string& aki) override { return inner_->revoked_by(aki); }
    result<void> add_pending(const pending_record& rec) override {
        if (fail_writes) return make_error(failure_text);
        return inner_->add_pending(rec);
    }
    result<std::optional<pending_record>> find_pending(const std::string& t) override { return inner_->find_pending(t); }
    result<decide_outcome> decide_pending(const std::string& t, bool approve, const std::string& reason) override {
        return inner_->decide_pending(t, approve, reason);
    }
    result<void> mark_pending_issued(const std::string& t, const std::string& serial) override {
        return inner_->mark_pending_issued(t, serial);
    }
    result<std::vector<pending_record>> list_pending(bool all) override { return inner_->list_pending(all); }
    result<std::size_t> seed(std::size_t n, const cert_record& tmpl, const std::string& tag) override {
        return inner_->seed(n, tmpl, tag);
    }

private:
    std::unique_ptr<lab_cert_store> inner_ = make_memory_store();
};

// The service over a two-tier lab PKI and an in-memory store.
struct service_lab {
    explicit service_lab(service_config cfg);
    service_lab(service_config cfg, const hierarchy_spec& spec);
    temp_dir dir;
    std::optional<hierarchy> pki;
    std::optional<issuer> iss;
    std::unique_ptr<lab_cert_store> store = make_memory_store();
    std::optional<scep_service> service;
};

// One PKCSReq from `dev` through lab.service, encrypted to the lab's
// encryption RA: the reply verified against the signing RA and, on
// SUCCESS, the certificate decrypted with the requester's key.
struct enrollment {
    cert_rep rep;
    x509_ptr cert;
};
enrollment enroll_through(service_lab& lab, const requester& dev, key_transport transport = key_transport::rsa_pkcs1,
                          content_cipher cipher = content_cipher::aes_128_cbc);

}  // namespace scep::test
