// d2i_RSA_PUBKEY, d2i_EC_PUBKEY and EVP_PKEY_assign_* are deprecated in
// OpenSSL 3 but are the reader that does not go through provider decoders
// (fast_parse.hpp says why that matters).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "pki/crypto/fast_parse.hpp"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <algorithm>

namespace scep::fast_parse {
namespace {

// A library context with only the null provider: no decoders, no key
// managers, no algorithms. Nothing but parsing ever uses it, and no object
// parsed here keeps a reference to it once its keys are attached (the
// attached X509_PUBKEY is a new one, in the default context).
struct keyless_context {
    OSSL_LIB_CTX* ctx = nullptr;
    OSSL_PROVIDER* null_provider = nullptr;
    keyless_context() {
        ctx = OSSL_LIB_CTX_new();
        if (ctx) null_provider = OSSL_PROVIDER_load(ctx, "null");
        if (!null_provider) {
            // Without an explicit provider the context would fall back to
            // "default", and with it the decoders this is meant to avoid.
            OSSL_LIB_CTX_free(ctx);
            ctx = nullptr;
        }
        ERR_clear_error();
    }
    // Constructed after libcrypto registered its exit handler (creating the
    // context initialises it), so released before libcrypto's own clean-up.
    ~keyless_context() {
        if (null_provider) OSSL_PROVIDER_unload(null_provider);
        if (ctx) OSSL_LIB_CTX_free(ctx);
    }
};

OSSL_LIB_CTX* keyless() {
    static keyless_context holder;
    return holder.ctx;
}

template <class T>
T* parse_keyless(byte_view der, const ASN1_ITEM* item, std::size_t& consumed) {
    OSSL_LIB_CTX* ctx = keyless();
    if (!ctx || der.empty()) return nullptr;
    const unsigned char* p = der.data();
    auto* obj = reinterpret_cast<T*>(ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()), item, ctx, nullptr));
    consumed = static_cast<std::size_t>(p - der.data());
    return obj;
}

// The SubjectPublicKeyInfo as a legacy key, for the two key types SCEP
// clients use; nullptr for anything else.
evp_pkey_ptr legacy_key(X509_PUBKEY& spki) {
    ASN1_OBJECT* oid = nullptr;
    X509_ALGOR* alg = nullptr;
    if (X509_PUBKEY_get0_param(&oid, nullptr, nullptr, &alg, &spki) != 1 || !oid) return {};
    const int nid = OBJ_obj2nid(oid);
    if (nid == NID_X9_62_id_ecPublicKey) {
        int ptype = V_ASN1_UNDEF;
        X509_ALGOR_get0(nullptr, &ptype, nullptr, alg);
        if (ptype != V_ASN1_OBJECT) return {};  // explicit parameters: the standard path judges them
    } else if (nid != NID_rsaEncryption) {
        return {};
    }
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(&spki, &der);
    if (len <= 0) return {};
    ossl_buffer_ptr owned(der);
    const unsigned char* p = der;
    evp_pkey_ptr key(EVP_PKEY_new());
    if (!key) return {};
    if (nid == NID_rsaEncryption) {
        RSA* rsa = d2i_RSA_PUBKEY(nullptr, &p, len);
        if (!rsa || EVP_PKEY_assign_RSA(key.get(), rsa) != 1) {
            RSA_free(rsa);
            return {};
        }
    } else {
        EC_KEY* ec = d2i_EC_PUBKEY(nullptr, &p, len);
        if (!ec || EVP_PKEY_assign_EC_KEY(key.get(), ec) != 1) {
            EC_KEY_free(ec);
            return {};
        }
    }
    return key;
}

template <class T>
bool encodes_to(T& obj, int (*i2d)(const T*, unsigned char**), byte_view expected) {
    unsigned char* out = nullptr;
    const int len = i2d(&obj, &out);
    if (len <= 0) return false;
    ossl_buffer_ptr owned(out);
    return static_cast<std::size_t>(len) == expected.size() && std::equal(expected.begin(), expected.end(), out);
}

// Attaches the certificate's key, if its TBSCertificate encodes back to the
// bytes it was parsed from.
bool attach_key(X509& cert) {
    evp_pkey_ptr key = legacy_key(*X509_get_X509_PUBKEY(&cert));
    if (!key) return false;
    // Before the key is set, i2d_X509 writes the TBSCertificate as parsed.
    unsigned char* before = nullptr;
    const int before_len = i2d_X509(&cert, &before);
    if (before_len <= 0) return false;
    ossl_buffer_ptr owned(before);
    if (X509_set_pubkey(&cert, key.get()) != 1) return false;
    return encodes_to<X509>(cert, i2d_X509, byte_view(before, static_cast<std::size_t>(before_len)));
}

bool attach_keys(PKCS7& p7, int depth) {
    if (depth > 4) return false;
    if (PKCS7_type_is_signed(&p7)) {
        if (!p7.d.sign) return false;
        STACK_OF(X509)* certs = p7.d.sign->cert;
        for (int i = 0; i < sk_X509_num(certs); ++i)
            if (!attach_key(*sk_X509_value(certs, i))) return false;
        return !p7.d.sign->contents || attach_keys(*p7.d.sign->contents, depth + 1);
    }
    if (PKCS7_type_is_signedAndEnveloped(&p7)) {
        if (!p7.d.signed_and_enveloped) return false;
        STACK_OF(X509)* certs = p7.d.signed_and_enveloped->cert;
        for (int i = 0; i < sk_X509_num(certs); ++i)
            if (!attach_key(*sk_X509_value(certs, i))) return false;
        return true;
    }
    // data, envelopedData, digestedData, encryptedData: no certificates.
    return PKCS7_type_is_data(&p7) || PKCS7_type_is_enveloped(&p7) || PKCS7_type_is_digest(&p7) ||
           PKCS7_type_is_encrypted(&p7);
}

}  // namespace

namespace {

// A certificate or a request: parsed without its key, the key attached, and
// the whole kept only if it encodes to exactly the bytes parsed.
template <class Ptr, class Spki, class SetKey, class Encode>
Ptr parse_with_key(byte_view der, const ASN1_ITEM* item, Spki spki, SetKey set_key, Encode i2d) {
    using T = typename Ptr::element_type;
    std::size_t consumed = 0;
    Ptr obj(parse_keyless<T>(der, item, consumed));
    bool ok = false;
    if (obj) {
        evp_pkey_ptr key = legacy_key(*spki(obj.get()));
        ok = key && set_key(obj.get(), key.get()) == 1 && encodes_to<T>(*obj, i2d, der.first(consumed));
    }
    ERR_clear_error();
    return ok ? std::move(obj) : nullptr;
}

}  // namespace

x509_ptr certificate(byte_view der) {
    return parse_with_key<x509_ptr>(der, ASN1_ITEM_rptr(X509), X509_get_X509_PUBKEY, X509_set_pubkey, i2d_X509);
}

x509_req_ptr request(byte_view der) {
    return parse_with_key<x509_req_ptr>(der, ASN1_ITEM_rptr(X509_REQ), X509_REQ_get_X509_PUBKEY, X509_REQ_set_pubkey,
                                        i2d_X509_REQ);
}

pkcs7_ptr pkcs7(byte_view der) {
    std::size_t consumed = 0;
    pkcs7_ptr p7(parse_keyless<PKCS7>(der, ASN1_ITEM_rptr(PKCS7), consumed));
    const bool ok = p7 && attach_keys(*p7, 0);
    ERR_clear_error();
    return ok ? std::move(p7) : nullptr;
}

}  // namespace scep::fast_parse

namespace scep {

// The parsers of ossl.hpp try the fast path first; what it leaves (nullptr)
// is parsed the standard way, with OpenSSL's own error messages.
result<x509_ptr> x509_from_der(byte_view der) {
    if (x509_ptr fast = fast_parse::certificate(der)) return fast;
    const unsigned char* p = der.data();
    x509_ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) return make_error(ossl_error("not a DER certificate"));
    return cert;
}

result<x509_req_ptr> x509_req_from_der(byte_view der) {
    if (x509_req_ptr fast = fast_parse::request(der)) return fast;
    const unsigned char* p = der.data();
    x509_req_ptr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    if (!req) return make_error(ossl_error("not a DER PKCS#10 request"));
    return req;
}

result<pkcs7_ptr> pkcs7_from_der(byte_view der) {
    if (pkcs7_ptr fast = fast_parse::pkcs7(der)) return fast;
    // d2i_PKCS7 accepts BER with indefinite lengths, which Apple devices and
    // jscep send (micromdm/scep#79).
    const unsigned char* p = der.data();
    pkcs7_ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
    if (!p7) return make_error(ossl_error("not a DER/BER PKCS#7 ContentInfo"));
    return p7;
}

}  // namespace scep
