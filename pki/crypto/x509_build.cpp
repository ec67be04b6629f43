// EVP_PKEY_get1_RSA/EC_KEY are deprecated in OpenSSL 3 but are the fast path
// into a certificate there (see set_public_key).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pki/crypto/x509_build.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <algorithm>

namespace scep {

std::string_view to_string(key_type k) {
    switch (k) {
        case key_type::rsa2048: return "rsa2048";
        case key_type::rsa3072: return "rsa3072";
        case key_type::rsa4096: return "rsa4096";
        case key_type::ec_p256: return "ec-p256";
        case key_type::ec_p384: return "ec-p384";
    }
    return "?";
}

std::optional<key_type> key_type_from_name(std::string_view name) {
    for (auto k : all_key_types)
        if (to_string(k) == name) return k;
    return std::nullopt;
}

std::string key_type_names(std::string_view separator) {
    std::string out;
    for (auto k : all_key_types) out += (out.empty() ? "" : std::string(separator)) + std::string(to_string(k));
    return out;
}

bool is_rsa(key_type k) { return k == key_type::rsa2048 || k == key_type::rsa3072 || k == key_type::rsa4096; }

result<evp_pkey_ptr> generate_key(key_type k) {
    EVP_PKEY* key = nullptr;
    switch (k) {
        case key_type::rsa2048: key = EVP_RSA_gen(2048); break;
        case key_type::rsa3072: key = EVP_RSA_gen(3072); break;
        case key_type::rsa4096: key = EVP_RSA_gen(4096); break;
        case key_type::ec_p256: key = EVP_EC_gen("P-256"); break;
        case key_type::ec_p384: key = EVP_EC_gen("P-384"); break;
    }
    if (!key) return make_error(ossl_error("key generation failed"));
    return evp_pkey_ptr(key);
}

result<x509_name_ptr> parse_subject(std::string_view text) {
    x509_name_ptr name(X509_NAME_new());
    std::vector<std::string> parts;
    std::string cur;
    char sep = ',';
    std::string_view body = text;
    if (!body.empty() && body.front() == '/') {
        sep = '/';
        body.remove_prefix(1);
    }
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c == '\\' && i + 1 < body.size()) {
            cur += body[++i];
        } else if (c == sep) {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty() || !parts.empty()) parts.push_back(cur);
    // RFC 4514 strings list the most specific RDN first, the reverse of the
    // DER order; the OpenSSL "/O=../CN=.." form is already in DER order.
    if (sep == ',') std::reverse(parts.begin(), parts.end());
    for (auto& part : parts) {
        auto trim = [](std::string s) {
            auto b = s.find_first_not_of(' ');
            auto e = s.find_last_not_of(' ');
            return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
        };
        auto eq = part.find('=');
        if (eq == std::string::npos) return make_error("subject component \"" + part + "\" has no '='");
        std::string key = trim(part.substr(0, eq));
        std::string value = trim(part.substr(eq + 1));
        if (value.empty()) return make_error("subject component " + key + " is empty");
        if (X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1) {
            ERR_clear_error();
            return make_error("unknown subject attribute \"" + key + "\" (use CN, O, OU, C, L, ST, ...)");
        }
    }
    if (X509_NAME_entry_count(name.get()) == 0) return make_error("subject is empty");
    return name;
}

int key_bits(const EVP_PKEY& key) { return EVP_PKEY_get_bits(&key); }
bool key_is_rsa(const EVP_PKEY& key) { return EVP_PKEY_get_base_id(&key) == EVP_PKEY_RSA; }
bool key_is_ec(const EVP_PKEY& key) { return EVP_PKEY_get_base_id(&key) == EVP_PKEY_EC; }

const EVP_MD* signing_md(const EVP_PKEY& key) {
    if (key_is_ec(key) && key_bits(key) >= 384) return EVP_sha384();
    return EVP_sha256();
}

asn1_integer_ptr random_serial() { return serial_from_bytes(random_bytes(16)); }

asn1_integer_ptr serial_from_bytes(bytes b) {
    b.resize(16);
    b[0] &= 0x7f;  // positive
    b[0] |= 0x01;  // never zero, always 16 octets after the sign bit is cleared
    bignum_ptr bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
    return asn1_integer_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

namespace {
bool set_time(ASN1_TIME* t, time_point tp) {
    return ASN1_TIME_set(t, std::chrono::system_clock::to_time_t(tp)) != nullptr;
}

bool add_conf_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
    x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}
// OpenSSL 3.0 puts a provider key into a certificate by encoding it and
// decoding it again through its provider decoders (~190 µs, the slowest step
// of an issuance); a legacy key takes the old encoder path (~4 µs) and stays
// usable from the certificate. The conversion only copies the public numbers.
bool set_public_key(X509& cert, const EVP_PKEY& key) {
    EVP_PKEY* k = const_cast<EVP_PKEY*>(&key);
    evp_pkey_ptr legacy;
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
        if (RSA* rsa = EVP_PKEY_get1_RSA(k)) {
            legacy.reset(EVP_PKEY_new());
            if (!legacy || EVP_PKEY_assign_RSA(legacy.get(), rsa) != 1) {
                RSA_free(rsa);
                legacy.reset();
            }
        }
    } else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        if (EC_KEY* ec = EVP_PKEY_get1_EC_KEY(k)) {
            legacy.reset(EVP_PKEY_new());
            if (!legacy || EVP_PKEY_assign_EC_KEY(legacy.get(), ec) != 1) {
                EC_KEY_free(ec);
                legacy.reset();
            }
        }
    }
    ERR_clear_error();
    return X509_set_pubkey(&cert, legacy ? legacy.get() : k) == 1;
}
}  // namespace

result<x509_ptr> sign_certificate(const cert_request& req, const X509* issuer_cert, const EVP_PKEY& issuer_key) {
    x509_ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return make_error(ossl_error("X509_new"));
    auto serial = req.serial.empty() ? random_serial() : serial_from_bytes(req.serial);
    X509_set_serialNumber(cert.get(), serial.get());
    X509_set_subject_name(cert.get(), const_cast<X509_NAME*>(req.subject));
    X509_set_issuer_name(cert.get(), issuer_cert ? X509_get_subject_name(issuer_cert)
                                                 : const_cast<X509_NAME*>(req.subject));
    if (!req.public_key || !set_public_key(*cert, *req.public_key))
        return make_error(ossl_error("setting the public key"));
    if (!set_time(X509_getm_notBefore(cert.get()), req.not_before) ||
        !set_time(X509_getm_notAfter(cert.get()), req.not_after))
        return make_error(ossl_error("setting validity"));

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert ? const_cast<X509*>(issuer_cert) : cert.get(), cert.get(), nullptr, nullptr,
                   0);
    for (const auto& [nid, value] : req.extensions)
        if (!add_conf_ext(cert.get(), &ctx, nid, value))
            return make_error(ossl_error("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value));
    for (const X509_EXTENSION* ext : req.copied_extensions)
        if (X509_add_ext(cert.get(), const_cast<X509_EXTENSION*>(ext), -1) != 1)
            return make_error(ossl_error("copying extension"));
    if (!add_conf_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash"))
        return make_error(ossl_error("subjectKeyIdentifier"));
    // For a self-signed certificate the issuer is the certificate itself, whose
    // SKI was just added, so keyid resolves for the root too.
    if (!add_conf_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"))
        return make_error(ossl_error("authorityKeyIdentifier"));

    if (X509_sign(cert.get(), const_cast<EVP_PKEY*>(&issuer_key), signing_md(issuer_key)) <= 0)
        return make_error(ossl_error("signing certificate"));
    return cert;
}

result<x509_ptr> self_signed(const EVP_PKEY& key, const X509_NAME& subject, time_point now) {
    cert_request req;
    req.subject = &subject;
    req.public_key = &key;
    req.not_before = now - std::chrono::hours(1);
    req.not_after = now + std::chrono::hours(24);
    req.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                      {NID_key_usage, "critical,digitalSignature,keyEncipherment"}};
    return sign_certificate(req, nullptr, key);
}

time_point asn1_time_point(const ASN1_TIME& t) {
    struct tm tm {};
    ASN1_TIME_to_tm(&t, &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace scep
