// EVP_PKEY_get1_RSA/EC_KEY are deprecated in OpenSSL 3 but are the fast path
// into a certificate there (see set_public_key).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pki/crypto/x509_build.hpp"

#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <ctime>

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

const EVP_MD* digest_named(std::string_view name) {
    if (name == "sha1") return EVP_sha1();
    if (name == "sha256") return EVP_sha256();
    if (name == "sha384") return EVP_sha384();
    if (name == "sha512") return EVP_sha512();
    return nullptr;
}

result<void> sign_with(X509& cert, const EVP_PKEY& key, const std::optional<signature_spec>& spec) {
    EVP_PKEY* k = const_cast<EVP_PKEY*>(&key);
    if (!spec) {
        if (X509_sign(&cert, k, signing_md(key)) <= 0) return make_error(ossl_error("signing certificate"));
        return {};
    }
    const EVP_MD* md = digest_named(spec->digest);
    if (!md) return make_error("unknown signature digest \"" + spec->digest + "\"");
    if (spec->pss && !key_is_rsa(key))
        return make_error("an RSASSA-PSS signature (" + to_string(*spec) + ") needs an RSA signing key");
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, k) != 1)
        return make_error(ossl_error("signing certificate with " + to_string(*spec)));
    // RFC 4055 §3.1: the mask generation digest is the message digest, the salt its length.
    if (spec->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
        return make_error(ossl_error("RSASSA-PSS parameters"));
    if (X509_sign_ctx(&cert, ctx.get()) <= 0) return make_error(ossl_error("signing certificate with " + to_string(*spec)));
    return {};
}
}  // namespace

std::vector<int> signature_digests(const X509_ALGOR& alg) {
    const ASN1_OBJECT* oid = nullptr;
    int ptype = 0;
    const void* pval = nullptr;
    X509_ALGOR_get0(&oid, &ptype, &pval, &alg);
    const int sig_nid = OBJ_obj2nid(oid);
    if (sig_nid != NID_rsassaPss) {
        int md_nid = NID_undef;
        if (OBJ_find_sigid_algs(sig_nid, &md_nid, nullptr) != 1) return {};
        return {md_nid};
    }
    if (ptype != V_ASN1_SEQUENCE || !pval) return {};
    const ASN1_STRING* seq = static_cast<const ASN1_STRING*>(pval);
    const unsigned char* p = ASN1_STRING_get0_data(seq);
    rsa_pss_params_ptr params(d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
    ERR_clear_error();
    if (!params) return {};
    auto digest_of = [](const X509_ALGOR* a) { return a ? OBJ_obj2nid(a->algorithm) : NID_sha1; };
    int mgf_md = NID_sha1;
    if (const X509_ALGOR* mgf = params->maskGenAlgorithm) {
        // MGF1's parameter is the AlgorithmIdentifier of its hash (RFC 4055 §2.2).
        const ASN1_TYPE* mgf_param = mgf->parameter;
        if (OBJ_obj2nid(mgf->algorithm) != NID_mgf1 || !mgf_param || mgf_param->type != V_ASN1_SEQUENCE) return {};
        const unsigned char* q = ASN1_STRING_get0_data(mgf_param->value.sequence);
        x509_algor_ptr mgf_hash(d2i_X509_ALGOR(nullptr, &q, ASN1_STRING_length(mgf_param->value.sequence)));
        ERR_clear_error();
        if (!mgf_hash) return {};
        mgf_md = digest_of(mgf_hash.get());
    }
    return {digest_of(params->hashAlgorithm), mgf_md};
}

std::optional<signature_spec> signature_from_name(std::string_view name) {
    signature_spec s;
    if (name.starts_with("rsa-pss-")) {
        s.pss = true;
        name.remove_prefix(8);
    }
    if (!digest_named(name)) return std::nullopt;
    s.digest = std::string(name);
    return s;
}

std::string to_string(const signature_spec& s) { return (s.pss ? "rsa-pss-" : "") + s.digest; }

std::optional<signature_spec> signature_of(const X509& cert) {
    const int nid = X509_get_signature_nid(&cert);
    signature_spec s;
    int md_nid = NID_undef, pk_nid = NID_undef;
    if (nid == NID_rsassaPss) {
        const X509_ALGOR* alg = nullptr;
        X509_get0_signature(nullptr, &alg, &cert);
        const auto digests = alg ? signature_digests(*alg) : std::vector<int>{};
        if (digests.size() != 2 || digests[0] != digests[1]) return std::nullopt;
        md_nid = digests[0];
        s.pss = true;
    } else if (OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) != 1 ||
               (pk_nid != NID_rsaEncryption && pk_nid != NID_X9_62_id_ecPublicKey)) {
        return std::nullopt;
    }
    switch (md_nid) {
        case NID_sha1: s.digest = "sha1"; break;
        case NID_sha256: s.digest = "sha256"; break;
        case NID_sha384: s.digest = "sha384"; break;
        case NID_sha512: s.digest = "sha512"; break;
        default: return std::nullopt;
    }
    return s;
}

result<x509_ext_ptr> extension_from_line(const std::string& line, X509V3_CTX* ctx) {
    const auto eq = line.find('=');
    auto trim = [](std::string_view v) {
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
        return std::string(v);
    };
    if (eq == std::string::npos)
        return make_error("extension \"" + line + "\": write it as \"name = value\" (x509v3_config)");
    const std::string name = trim(std::string_view(line).substr(0, eq)), value = trim(std::string_view(line).substr(eq + 1));
    if (name.empty() || value.empty()) return make_error("extension \"" + line + "\": a name and a value are needed");
    X509V3_CTX test;
    if (!ctx) {
        X509V3_set_ctx(&test, nullptr, nullptr, nullptr, nullptr, X509V3_CTX_TEST);
        ctx = &test;
    }
    // Extensions read "raw" (certificatePolicies) want a configuration
    // database even when the value names no section: an empty one.
    conf_ptr conf(NCONF_new(nullptr));
    if (conf) X509V3_set_nconf(ctx, conf.get());
    x509_ext_ptr ext(X509V3_EXT_nconf(conf.get(), ctx, name.c_str(), value.c_str()));
    X509V3_set_nconf(ctx, nullptr);
    if (!ext) return make_error(ossl_error("extension \"" + line + "\" is not one OpenSSL can build (x509v3_config)"));
    return ext;
}

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
    if (req.exact_extensions) {
        for (const auto& line : *req.exact_extensions) {
            auto ext = extension_from_line(line, &ctx);
            if (!ext) return ext.err();
            if (X509_add_ext(cert.get(), ext->get(), -1) != 1) return make_error(ossl_error("extension " + line));
        }
        if (auto r = sign_with(*cert, issuer_key, req.signature); !r) return r.err();
        return cert;
    }
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

    if (auto r = sign_with(*cert, issuer_key, req.signature); !r) return r.err();
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

std::string utc_text(time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char out[32] = {};
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

std::optional<time_point> parse_utc_text(std::string_view text) {
    if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
        text[19] != 'Z')
        return std::nullopt;
    auto num = [&](std::size_t at, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return -1;
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    std::tm tm{};
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(5, 2) - 1;
    tm.tm_mday = num(8, 2);
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    if (tm.tm_year < -1900 + 1950 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 59 ||
        num(0, 4) > 9999)
        return std::nullopt;
    const int mday = tm.tm_mday;
    const std::time_t t = timegm(&tm);
    if (tm.tm_mday != mday) return std::nullopt;  // 31 February: normalised away
    return std::chrono::system_clock::from_time_t(t);
}

time_point asn1_time_point(const ASN1_TIME& t) {
    struct tm tm {};
    ASN1_TIME_to_tm(&t, &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace scep
