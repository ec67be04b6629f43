// The lab CA hierarchy: root -> intermediate(s) -> issuing CA, plus the RA
// certificate SCEP clients encrypt to. Generated once into the data
// directory, loaded on later starts, never regenerated silently; or loaded
// from a customer's PEM files ("bring your own").
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep {

// What `scep-lab clone` copies from a customer's certificate beyond its text
// subject, key and validity length (docs/clone.md). Parts left empty keep
// the lab's defaults; a shape applies when a certificate is generated.
struct cert_shape {
    // The subject exactly as encoded (attribute order, multi-valued RDNs,
    // string types); wins over the text subject.
    bytes subject_der;
    std::optional<signature_spec> signature;  // unset: SHA-256 (SHA-384 for P-384)
    // Every extension, in order, as x509v3_config lines (extension_from_line);
    // "${lab}" is replaced by the lab's base URL (hierarchy_spec::lab_url).
    // Unset: the lab's own extensions.
    std::optional<std::vector<std::string>> extensions;
    // The original's dates instead of now and now + validity.
    std::optional<time_point> not_before, not_after;
    bool empty() const { return subject_der.empty() && !signature && !extensions && !not_before && !not_after; }
};

// A shape's extension line with "${lab}" replaced by `lab_url`.
std::string with_lab_url(std::string line, const std::string& lab_url);
// Whether a shape's extension line builds, whatever address "${lab}" becomes.
result<x509_ext_ptr> check_extension_line(const std::string& line);

struct tier_spec {
    std::string name;     // file stem and display name: "root", "issuing"
    std::string subject;  // "CN=scep-lab Root CA,O=scep-lab"
    key_type key = key_type::rsa2048;
    std::chrono::seconds validity{};
    // Key usage of the CA certificate (OpenSSL names), when set: used when
    // the tier is generated (an existing CA is never re-issued for it).
    // Unset: keyCertSign, cRLSign, digitalSignature (+ keyEncipherment for a
    // CA that is its own RA). A CA whose usages omit what RFC 8894 §2.1.2
    // expects is how "CA-as-RA without keyEncipherment" reports are reproduced.
    std::optional<std::vector<std::string>> key_usage;
    cert_shape shape;  // a clone's copy of the customer's CA certificate
    // Extra URL paths where the lab serves this CA's CRL and certificate (DER):
    // the paths a clone's CDP and AIA keep from the customer's URLs
    // ("/CertEnroll/Contoso%20Root%20CA.crl"), as the request sends them.
    std::vector<std::string> crl_paths, cert_paths;
};

// One half of an RA pair as a clone copies it; unset parts follow ra_spec.
struct ra_half_spec {
    std::string subject;  // empty: ra_spec::ndes_subject
    std::optional<key_type> key;
    std::optional<std::chrono::seconds> validity;
    cert_shape shape;
};

struct ra_spec {
    std::string subject = "CN=scep-lab RA,O=scep-lab";
    key_type key = key_type::rsa2048;  // must be RSA: the RA decrypts (RFC 8894 §2.1.2)
    std::chrono::seconds validity = std::chrono::hours(24 * 365 * 2);
    // NDES-style RA pair (ndes.md §3): a signing certificate (digitalSignature,
    // like the EnrollmentAgentOffline template) that signs replies, and an
    // encryption certificate (keyEncipherment, like CEPEncryption) that clients
    // encrypt to; both issued by the issuing CA to the same RA name, kept in
    // ndes-ra-sign.* and ndes-ra-enc.* beside the plain ra.* pair.
    bool ndes_pair = false;
    bool pair = false;  // [pki.ra] pair: the same signing + encryption pair outside NDES mode
    std::string ndes_subject = "CN=SCEPLAB-MSCEP-RA,O=scep-lab";
    // The plain RA certificate's usages, as OpenSSL names them
    // ("digitalSignature", "keyEncipherment"; "clientAuth", "1.3.6.1.4.1.311.20.2.1").
    // An empty key_usage leaves the extension out; an empty EKU list too. The
    // variants clients trip over (docs/trust.md): macOS encrypts to the wrong
    // certificate when the RA lacks keyEncipherment or key usage altogether,
    // Windows wants an EKU. An RA on disk with other usages is re-issued
    // with the same key when the lab opens.
    std::vector<std::string> key_usage{"digitalSignature", "keyEncipherment"};
    std::vector<std::string> extended_key_usage;
    cert_shape shape;                  // the plain RA as a clone copies it
    ra_half_spec signing, encryption;  // the pair's halves as a clone copies them
};

// Bring your own: the chain as PEM files and the issuing CA's key.
struct byo_spec {
    std::vector<std::filesystem::path> chain;  // issuing CA first, up to the root (one bundle file is fine)
    std::filesystem::path issuing_key;
    std::filesystem::path ra_cert;  // optional: generated from issuing_key when empty
    std::filesystem::path ra_key;
};

struct hierarchy_spec {
    std::vector<tier_spec> tiers;  // root first, issuing CA last; 1 to 4 tiers
    // Keys written from now on are PKCS#8 encrypted with AES-256 under this
    // passphrase, and encrypted keys are read with it (never logged).
    std::string key_passphrase;
    bool ca_as_ra = false;
    ra_spec ra;
    bool bring_your_own = false;
    byo_spec byo;
    // What "${lab}" in a shape's extensions becomes: crl.base_url, or the
    // server's own address (set by `serve` once it listens).
    std::string lab_url;
};

// Checks the spec itself (depth, names, RSA for anything that decrypts).
result<void> validate(const hierarchy_spec& spec);

struct ca_entry {
    std::string name;
    x509_ptr cert;
    evp_pkey_ptr key;  // null for tiers whose key we do not hold (bring your own)
    std::filesystem::path cert_file;
};

class hierarchy {
public:
    // Root first, issuing CA last.
    const std::vector<ca_entry>& tiers() const { return tiers_; }
    const ca_entry& issuing() const { return tiers_.back(); }
    const X509& root_cert() const { return *tiers_.front().cert; }
    // The RA certificate replies are signed with (the pair's signing one).
    const X509& ra_cert() const { return ca_as_ra_ ? *issuing().cert : *ra_cert_; }
    const EVP_PKEY& ra_key() const { return ca_as_ra_ ? *issuing().key : *ra_key_; }
    // The certificate clients encrypt requests to (the pair's encryption one).
    const X509& ra_encryption_cert() const {
        if (ra_enc_cert_) return *ra_enc_cert_;
        return ra_cert();
    }
    const EVP_PKEY& ra_encryption_key() const {
        if (ra_enc_key_) return *ra_enc_key_;
        return ra_key();
    }
    // The RA certificates GetCACert sends: none when the CA is its own RA,
    // one, or the NDES pair (signing first).
    std::vector<const X509*> ra_certs() const;
    bool ca_as_ra() const { return ca_as_ra_; }
    bool ndes_pair() const { return ra_enc_cert_ != nullptr; }
    // quirks.expired_ra: replaces the RA certificate(s) in memory with copies
    // (same name and key) that expired a day before `now`. Nothing on disk changes.
    result<void> expire_ra(time_point now);
    // Issuing CA first, up to the root (or the top-most intermediate).
    std::vector<const X509*> chain(bool include_root) const;
    // Where the CA chain PEM (issuing first, root last) was written.
    const std::filesystem::path& chain_file() const { return chain_file_; }
    bool generated_now() const { return generated_now_; }

    // CA rollover (RFC 8894 §4.7): issuing CAs replaced earlier (their
    // certificates keep validating and their CRLs keep being served), and the
    // next issuing CA with its RA while one is prepared.
    const std::vector<ca_entry>& previous() const { return previous_; }
    const ca_entry* next_issuing() const { return next_ ? &*next_ : nullptr; }
    const X509* next_ra_cert() const { return next_ra_cert_.get(); }
    // Every CA whose key we hold and whose CRL we serve: tiers, then previous.
    std::vector<const ca_entry*> all_cas() const;

    static result<hierarchy> open(const hierarchy_spec& spec, const std::filesystem::path& dir, time_point now,
                                  const std::function<void(const std::string&)>& note);

private:
    std::vector<ca_entry> tiers_;
    x509_ptr ra_cert_;
    evp_pkey_ptr ra_key_;
    x509_ptr ra_enc_cert_;
    evp_pkey_ptr ra_enc_key_;
    bool ca_as_ra_ = false;
    bool generated_now_ = false;
    std::filesystem::path chain_file_;
    std::vector<ca_entry> previous_;
    std::optional<ca_entry> next_;
    x509_ptr next_ra_cert_;
    evp_pkey_ptr next_ra_key_;

    friend struct hierarchy_builder;
};

// `scep-lab rollover`: prepares the next issuing CA (same subject, new key,
// signed by the same parent) and, unless keep_ra, a new RA issued by it.
result<std::string> prepare_rollover(const hierarchy_spec& spec, const std::filesystem::path& dir, time_point now,
                                     bool keep_ra);
// `scep-lab rollover --activate`: the next CA becomes the issuing CA; the old
// one is kept as a previous CA.
result<std::string> activate_rollover(const hierarchy_spec& spec, const std::filesystem::path& dir);

}  // namespace scep
