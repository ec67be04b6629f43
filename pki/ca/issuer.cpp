#include "pki/ca/issuer.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace scep {

namespace {

constexpr std::string_view key_usage_names[] = {
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "keyCertSign",      "cRLSign",        "encipherOnly",    "decipherOnly"};

bool is_dotted_oid(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}

}  // namespace

result<void> validate(const issuance_profile& p) {
    for (const auto& ku : p.key_usage)
        if (std::find(std::begin(key_usage_names), std::end(key_usage_names), ku) == std::end(key_usage_names))
            return make_error("unknown key usage \"" + ku + "\" (known: digitalSignature, nonRepudiation, "
                              "keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, "
                              "decipherOnly)");
    for (const auto& eku : p.extended_key_usage) {
        if (is_dotted_oid(eku)) continue;
        if (OBJ_sn2nid(eku.c_str()) == NID_undef && OBJ_ln2nid(eku.c_str()) == NID_undef)
            return make_error("unknown extended key usage \"" + eku +
                              "\" (use a name such as clientAuth, serverAuth, emailProtection, or a dotted OID)");
    }
    if (p.validity < std::chrono::minutes(1)) return make_error("validity must be at least one minute");
    for (const auto& rdn : p.required_subject)
        if (OBJ_txt2nid(rdn.c_str()) == NID_undef)
            return make_error("required_subject: unknown attribute \"" + rdn + "\" (use CN, O, OU, C, ...)");
    if (p.backdate < std::chrono::seconds::zero()) return make_error("backdate must not be negative");
    return {};
}

template_slot select_template_slot(const X509_REQ& csr) {
    bool ds = false, ke = false;
    if (x509_ext_stack_ptr exts{X509_REQ_get_extensions(const_cast<X509_REQ*>(&csr))}) {
        if (asn1_bit_string_ptr ku{
                static_cast<ASN1_BIT_STRING*>(X509V3_get_d2i(exts.get(), NID_key_usage, nullptr, nullptr))}) {
            ds = ASN1_BIT_STRING_get_bit(ku.get(), 0) == 1;  // RFC 5280 §4.2.1.3 bit 0
            ke = ASN1_BIT_STRING_get_bit(ku.get(), 2) == 1;  // bit 2
        }
    }
    ERR_clear_error();
    if (ds && !ke) return template_slot::signature;
    if (ke && !ds) return template_slot::encryption;
    return template_slot::general_purpose;
}

std::string_view to_string(template_slot s) {
    switch (s) {
        case template_slot::signature: return "signature";
        case template_slot::encryption: return "encryption";
        case template_slot::general_purpose: return "general purpose";
    }
    return "general purpose";
}

issuer::issuer(const hierarchy& pki, issuance_profile profile, csr_policy policy, clock_fn clock)
    : pki_(pki), profile_(std::move(profile)), policy_(policy), clock_(std::move(clock)) {}

issuer::issuer(const issuer& other, const hierarchy& pki)
    : pki_(pki),
      profile_(other.profile_),
      crl_url_(other.crl_url_),
      policy_(other.policy_),
      clock_(other.clock_),
      serial_seed_(other.serial_seed_),
      serial_index_(other.serial_index_.load()) {}

result<void> issuer::check_subject(const X509_REQ& req, const issuance_profile& p) const {
    const X509_NAME* subject = X509_REQ_get_subject_name(&req);
    for (const auto& rdn : p.required_subject) {
        int nid = OBJ_txt2nid(rdn.c_str());
        if (nid == NID_undef || X509_NAME_get_index_by_NID(subject, nid, -1) < 0)
            return make_error("the CSR subject \"" + name_to_string(*subject) + "\" has no " +
                                                            rdn + ", which profile \"" + p.name + "\" requires");
    }
    return {};
}

result<void> check_key_structure(const X509_PUBKEY& spki, const csr_policy& policy) {
    ASN1_OBJECT* alg_oid = nullptr;
    X509_ALGOR* alg = nullptr;
    if (X509_PUBKEY_get0_param(&alg_oid, nullptr, nullptr, &alg, const_cast<X509_PUBKEY*>(&spki)) != 1 || !alg_oid)
        return make_error("the public key's algorithm cannot be read");
    const int nid = OBJ_obj2nid(alg_oid);
    if (nid == NID_X9_62_id_ecPublicKey) {
        int ptype = V_ASN1_UNDEF;
        X509_ALGOR_get0(nullptr, &ptype, nullptr, alg);
        if (ptype != V_ASN1_OBJECT)
            return make_error("the EC key carries explicit curve parameters; only named curves are accepted (RFC 5480 §2.1.1)");
        return {};
    }
    if (nid != NID_rsaEncryption) return {};
    EVP_PKEY* key = X509_PUBKEY_get0(const_cast<X509_PUBKEY*>(&spki));
    BIGNUM* e_raw = nullptr;
    if (!key || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1) {
        ERR_clear_error();
        return make_error("the RSA public key cannot be read");
    }
    bignum_ptr e(e_raw);
    // e = 1: s^e = s, so the padded digest is its own "signature" and anyone
    // can sign for the key. Even e: not an RSA key (gcd(e, phi) > 1).
    if (BN_is_negative(e.get()) || BN_is_zero(e.get()) || BN_is_one(e.get()) || !BN_is_odd(e.get())) {
        ossl_string_ptr dec(BN_bn2dec(e.get()));
        std::string shown = dec ? std::string(dec.get()).substr(0, 24) : "?";
        return make_error("the RSA public exponent " + shown + " is refused: it must be odd and at least 3");
    }
    if (BN_num_bits(e.get()) <= 64 && BN_get_word(e.get()) < policy.min_rsa_exponent)
        return make_error("the RSA public exponent " + std::to_string(BN_get_word(e.get())) +
                          " is below issuance.min_rsa_exponent (" + std::to_string(policy.min_rsa_exponent) + ")");
    return {};
}

result<void> issuer::check_csr(const X509_REQ& req) const {
    X509_REQ* r = const_cast<X509_REQ*>(&req);
    EVP_PKEY* key = X509_REQ_get0_pubkey(r);
    if (!key) {
        ERR_clear_error();
        return make_error("CSR public key cannot be read");
    }
    if (auto key_ok = check_key_structure(*X509_REQ_get_X509_PUBKEY(r), policy_); !key_ok)
        return make_error("CSR key: " + key_ok.message());
    int bits = key_bits(*key);
    if (key_is_rsa(*key)) {
        if (bits < policy_.min_rsa_bits)
            return make_error("RSA key of " + std::to_string(bits) +
                                                            " bits is below the minimum of " +
                                                            std::to_string(policy_.min_rsa_bits));
    } else if (key_is_ec(*key)) {
        if (bits < policy_.min_ec_bits)
            return make_error("EC key of " + std::to_string(bits) +
                                                            " bits is below the minimum of " +
                                                            std::to_string(policy_.min_ec_bits));
    } else {
        return make_error(std::string("unsupported key type ") + OBJ_nid2sn(EVP_PKEY_get_base_id(key)) +
                                " (RSA and EC are accepted)");
    }
    // RFC 8894 §2.9: MD5 MUST NOT be used. SHA-1 stays accepted: older clients
    // (and NDES-era devices) still sign CSRs with it.
    // RSASSA-PSS names its digests in its parameters: both the hash and the
    // MGF1 hash meet the same rules.
    const X509_ALGOR* sig_alg = nullptr;
    X509_REQ_get0_signature(r, nullptr, &sig_alg);
    const std::vector<int> digests = sig_alg ? signature_digests(*sig_alg) : std::vector<int>{};
    if (digests.empty()) return make_error("the CSR's signature algorithm is unknown");
    for (int md_nid : digests) {
        if (md_nid == NID_undef) continue;  // Ed25519 and the like hash inside the algorithm
        if (md_nid == NID_md2 || md_nid == NID_md4 || md_nid == NID_mdc2)
            return make_error(std::string("the CSR is signed with ") + OBJ_nid2sn(md_nid) + ", which is refused");
        if (md_nid == NID_md5 && !policy_.allow_md5)
            return make_error("the CSR is signed with MD5" +
                               std::string(digests.size() > 1 ? " (in its RSASSA-PSS parameters)" : "") +
                               " (RFC 8894 §2.9 forbids it); issuance.allow_md5_csr = true accepts it for legacy "
                               "devices");
        if (digests.size() > 1 && EVP_get_digestbynid(md_nid) == nullptr)
            return make_error("the CSR's RSASSA-PSS parameters name an unknown digest");
    }
    if (X509_REQ_verify(r, key) != 1) {
        ERR_clear_error();
        return make_error("CSR signature (proof of possession) does not verify");
    }
    const X509_NAME* subject = X509_REQ_get_subject_name(&req);
    if (auto ok = check_subject_name(*subject, policy_.names); !ok) return ok;
    auto sans = requested_sans(req, policy_.names);
    if (!sans) return sans.err();
    if (X509_NAME_entry_count(subject) == 0 && sans->empty())
        return make_error("CSR has an empty subject and no subjectAltName");
    return {};
}

result<x509_ptr> issuer::issue(const X509_REQ& req, const issuance_profile& p) const {
    const ca_entry& ca = pki_.issuing();
    auto now = clock_();
    cert_request cr;
    cr.subject = X509_REQ_get_subject_name(&req);
    cr.public_key = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(&req));
    cr.not_before = now - p.backdate;
    // A certificate must not outlive its issuer (RFC 5280 §6.1.3).
    cr.not_after = std::min(now + p.validity, asn1_time_point(*X509_get0_notAfter(ca.cert.get())));
    cr.extensions.push_back({NID_basic_constraints, "critical,CA:FALSE"});
    if (!p.key_usage.empty()) cr.extensions.push_back({NID_key_usage, "critical," + join(p.key_usage)});
    if (!p.extended_key_usage.empty())
        cr.extensions.push_back({NID_ext_key_usage, join(p.extended_key_usage)});
    if (!crl_url_.empty()) cr.extensions.push_back({NID_crl_distribution_points, "URI:" + crl_url_});

    // The names are parsed and the extension rebuilt from them: whatever
    // else the CSR's bytes carried never reaches the certificate.
    auto sans = requested_sans(req, policy_.names);
    if (!sans) return sans.err();
    x509_ext_ptr san_ext;
    if (!sans->empty()) {
        auto built = build_san_extension(*sans, X509_NAME_entry_count(cr.subject) == 0);
        if (!built) return built.err();
        san_ext = std::move(*built);
        cr.copied_extensions.push_back(san_ext.get());
    }
    if (!serial_seed_.empty()) {
        const std::string material = serial_seed_ + ":" + std::to_string(serial_index_++);
        cr.serial = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(material.data()), material.size()));
    }
    return sign_certificate(cr, ca.cert.get(), *ca.key);
}

}  // namespace scep
