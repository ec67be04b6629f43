#include "pki/scep/message.hpp"

#include "pki/crypto/der.hpp"
#include "pki/crypto/x509_build.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <mutex>

namespace scep {

namespace {

// SCEP attribute OIDs (RFC 8894 §3.2.1, id-VeriSign 2.16.840.1.113733.1.9.x)
// and id-scep-failInfoText (1.3.6.1.5.5.7.24.1), registered once per process.
struct scep_nids {
    int message_type, pki_status, fail_info, sender_nonce, recipient_nonce, transaction_id, fail_info_text, hresult;
    int unknown;  // an attribute no client knows (fault injection)
};

int register_oid(const char* oid, const char* sn, const char* ln) {
    int nid = OBJ_txt2nid(oid);
    if (nid == NID_undef) nid = OBJ_create(oid, sn, ln);
    ERR_clear_error();
    return nid;
}

const scep_nids& nids() {
    static const scep_nids n = [] {
        return scep_nids{
            register_oid("2.16.840.1.113733.1.9.2", "scep-messageType", "SCEP messageType"),
            register_oid("2.16.840.1.113733.1.9.3", "scep-pkiStatus", "SCEP pkiStatus"),
            register_oid("2.16.840.1.113733.1.9.4", "scep-failInfo", "SCEP failInfo"),
            register_oid("2.16.840.1.113733.1.9.5", "scep-senderNonce", "SCEP senderNonce"),
            register_oid("2.16.840.1.113733.1.9.6", "scep-recipientNonce", "SCEP recipientNonce"),
            register_oid("2.16.840.1.113733.1.9.7", "scep-transactionID", "SCEP transactionID"),
            register_oid("1.3.6.1.5.5.7.24.1", "scep-failInfoText", "SCEP failInfoText"),
            register_oid("1.3.6.1.4.1.311.21.33", "ms-hresult", "Microsoft enrollment HRESULT"),
            // Under the OID arc for examples (RFC 7229 §2, id-TEST 1.3.6.1.5.5.7.13).
            register_oid("1.3.6.1.5.5.7.13.99", "scep-lab-unknown", "scep-lab fault: unknown attribute"),
        };
    }();
    return n;
}

std::optional<std::string> string_attr(PKCS7_SIGNER_INFO* si, int nid, int* asn1_type = nullptr) {
    ASN1_TYPE* t = PKCS7_get_signed_attribute(si, nid);
    if (!t) return std::nullopt;
    switch (t->type) {
        case V_ASN1_PRINTABLESTRING:
        case V_ASN1_IA5STRING:
        case V_ASN1_UTF8STRING:
        case V_ASN1_T61STRING:
        case V_ASN1_VISIBLESTRING: {
            const ASN1_STRING* s = t->value.asn1_string;
            if (asn1_type) *asn1_type = t->type;
            return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
        default:
            return std::nullopt;
    }
}

std::optional<bytes> octet_attr(PKCS7_SIGNER_INFO* si, int nid) {
    ASN1_TYPE* t = PKCS7_get_signed_attribute(si, nid);
    if (!t || t->type != V_ASN1_OCTET_STRING) return std::nullopt;
    const ASN1_STRING* s = t->value.octet_string;
    const auto* d = ASN1_STRING_get0_data(s);
    return bytes(d, d + ASN1_STRING_length(s));
}

std::optional<int> int_attr(PKCS7_SIGNER_INFO* si, int nid) {
    auto s = string_attr(si, nid);
    if (!s || s->empty()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || p != s->data() + s->size()) return std::nullopt;
    return v;
}

bool add_string_attr(PKCS7_SIGNER_INFO* si, int nid, int asn1_type, std::string_view value) {
    asn1_string_ptr s(ASN1_STRING_type_new(asn1_type));
    if (!s || ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) != 1) return false;
    if (PKCS7_add_signed_attribute(si, nid, asn1_type, s.get()) != 1) return false;
    (void)s.release();  // owned by the signer info now
    return true;
}

bool add_octet_attr(PKCS7_SIGNER_INFO* si, int nid, byte_view value) {
    asn1_octet_string_ptr s(ASN1_OCTET_STRING_new());
    if (!s || ASN1_OCTET_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) != 1) return false;
    if (PKCS7_add_signed_attribute(si, nid, V_ASN1_OCTET_STRING, s.get()) != 1) return false;
    (void)s.release();  // owned by the signer info now
    return true;
}

std::optional<digest_alg> digest_from_nid(int nid) {
    switch (nid) {
        case NID_sha1: return digest_alg::sha1;
        case NID_sha224: return digest_alg::sha224;
        case NID_sha256: return digest_alg::sha256;
        case NID_sha384: return digest_alg::sha384;
        case NID_sha512: return digest_alg::sha512;
        case NID_md5: return digest_alg::md5;
        default: return std::nullopt;
    }
}

std::optional<content_cipher> cipher_from_nid(int nid) {
    switch (nid) {
        case NID_des_cbc: return content_cipher::des_cbc;
        case NID_des_ede3_cbc: return content_cipher::des_ede3_cbc;
        case NID_aes_128_cbc: return content_cipher::aes_128_cbc;
        case NID_aes_192_cbc: return content_cipher::aes_192_cbc;
        case NID_aes_256_cbc: return content_cipher::aes_256_cbc;
        default: return std::nullopt;
    }
}

std::string nid_name(const ASN1_OBJECT* obj) {
    char buf[80];
    OBJ_obj2txt(buf, sizeof buf, obj, 0);
    return buf;
}

result<bytes> pkcs7_to_der(PKCS7* p7) { return der_encode(*p7, i2d_PKCS7, "i2d_PKCS7"); }

PKCS7_SIGNER_INFO* first_signer(PKCS7* p7) {
    STACK_OF(PKCS7_SIGNER_INFO)* sis = PKCS7_get_signer_info(p7);
    if (!sis || sk_PKCS7_SIGNER_INFO_num(sis) < 1) return nullptr;
    return sk_PKCS7_SIGNER_INFO_value(sis, 0);
}

// Verifies the signature of a SignedData against exactly `signer` (nothing
// from the message itself is trusted, and no chain is built: a PKCSReq signer
// is self-signed, RFC 8894 §2.3) and returns the signed content, or nullopt
// with the OpenSSL error queue left for the caller's message.
std::optional<bytes> verify_against(PKCS7* p7, const X509& signer) {
    x509_stack_ptr expected(sk_X509_new_null());
    sk_X509_push(expected.get(), dup(signer).release());
    bio_ptr out(BIO_new(BIO_s_mem()));
    int flags = PKCS7_NOVERIFY | PKCS7_BINARY | PKCS7_NOINTERN | PKCS7_NOCHAIN;
    if (PKCS7_verify(p7, expected.get(), nullptr, nullptr, out.get(), flags) != 1) return std::nullopt;
    return bio_contents(*out);
}

// SignedData with the given signed attributes over `content`.
result<bytes> sign_with_attributes(const X509& signer_cert, const EVP_PKEY& signer_key, digest_alg digest,
                                   byte_view content, bool include_signer_cert,
                                   const std::function<bool(PKCS7_SIGNER_INFO*)>& add_attrs,
                                   bool without_signing_time = false,
                                   const std::function<bool(PKCS7_SIGNER_INFO*)>& after_signing = {}) {
    int flags = PKCS7_PARTIAL | PKCS7_BINARY | PKCS7_NOSMIMECAP;
    pkcs7_ptr p7(PKCS7_sign(nullptr, nullptr, nullptr, nullptr, flags));
    if (!p7) return make_error(ossl_error("PKCS7_sign"));
    int signer_flags = PKCS7_NOSMIMECAP | (include_signer_cert ? 0 : PKCS7_NOCERTS);
    PKCS7_SIGNER_INFO* si = PKCS7_sign_add_signer(p7.get(), const_cast<X509*>(&signer_cert),
                                                  const_cast<EVP_PKEY*>(&signer_key), evp_md(digest), signer_flags);
    if (!si) return make_error(ossl_error("PKCS7_sign_add_signer"));
    if (!add_attrs(si)) return make_error(ossl_error("adding SCEP attributes"));
    // FAILURE and PENDING replies sign empty content; BIO_new_mem_buf refuses
    // a null buffer, so use an empty memory BIO for them.
    bio_ptr in(content.empty() ? BIO_new(BIO_s_mem())
                               : BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    if (PKCS7_final(p7.get(), in.get(), flags) != 1) return make_error(ossl_error("PKCS7_final"));
    if (without_signing_time) {
        // PKCS7_final always adds signingTime; NDES sends none. Drop it and
        // sign the remaining attributes again.
        int idx = X509at_get_attr_by_NID(si->auth_attr, NID_pkcs9_signingTime, -1);
        if (idx >= 0) {
            x509_attribute_ptr(X509at_delete_attr(si->auth_attr, idx));
            if (PKCS7_SIGNER_INFO_sign(si) <= 0) return make_error(ossl_error("re-signing without signingTime"));
        }
    }
    if (after_signing && !after_signing(si)) return make_error(ossl_error("changing the signed reply"));
    return pkcs7_to_der(p7.get());
}

result<bytes> cms_to_der(CMS_ContentInfo* cms) {
    unsigned char* out = nullptr;
    const int len = i2d_CMS_ContentInfo(cms, &out);
    if (len <= 0) return make_error(ossl_error("i2d_CMS_ContentInfo"));
    ossl_buffer_ptr owned(out);
    return bytes(out, out + len);
}

// EnvelopedData through OpenSSL's CMS API: the recipient kinds RFC 2315's
// PKCS#7 has no room for (RFC 5652 §6.2).
result<bytes> encrypt_envelope_cms(byte_view content, const std::vector<const X509*>& recipients,
                                   content_cipher cipher, key_transport transport) {
    bio_ptr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    cms_ptr cms(CMS_encrypt(nullptr, in.get(), evp_cipher(cipher), CMS_BINARY | CMS_PARTIAL));
    if (!cms) return make_error(ossl_error(std::string("CMS_encrypt with ") + std::string(to_string(cipher))));
    for (const X509* r : recipients) {
        const bool rsa = key_is_rsa(*X509_get0_pubkey(r));
        const bool oaep = rsa && transport == key_transport::rsaes_oaep;
        // An EC recipient gets a KeyAgreeRecipientInfo: ephemeral-static ECDH
        // with OpenSSL's default KDF, X9.63 over SHA-1 (dhSinglePass-stdDH-
        // sha1kdf-scheme, RFC 5753 §7.1.4), which is what Windows' CMS uses
        // for ECC recipients (learn.microsoft.com, CMSG_KEY_AGREE_RECIPIENT_
        // ENCODE_INFO), and an AES key wrap of the content key's size.
        CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms.get(), const_cast<X509*>(r), oaep ? CMS_KEY_PARAM : 0);
        if (!ri) return make_error(ossl_error("adding the envelope's recipient"));
        if (oaep && EVP_PKEY_CTX_set_rsa_padding(CMS_RecipientInfo_get0_pkey_ctx(ri), RSA_PKCS1_OAEP_PADDING) <= 0)
            return make_error(ossl_error("choosing RSAES-OAEP"));
    }
    if (CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) != 1)
        return make_error(ossl_error("encrypting the envelope"));
    // NDES writes the ephemeral originator key as id-ecPublicKey with NULL
    // parameters (its reply printed in openssl/openssl#24685); OpenSSL leaves
    // them out. Both mean "the recipient's curve" (RFC 5753 §3.1.1).
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms.get());
    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); ++i) {
        CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, i);
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE) continue;
        X509_ALGOR* alg = nullptr;
        ASN1_BIT_STRING* pub = nullptr;
        if (CMS_RecipientInfo_kari_get0_orig_id(ri, &alg, &pub, nullptr, nullptr, nullptr) == 1 && alg)
            X509_ALGOR_set0(alg, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_NULL, nullptr);
    }
    return cms_to_der(cms.get());
}

result<bytes> encrypt_envelope(byte_view content, const std::vector<const X509*>& recipients, content_cipher cipher,
                               key_transport transport = key_transport::rsa_pkcs1) {
    const bool all_rsa = std::all_of(recipients.begin(), recipients.end(),
                                     [](const X509* r) { return key_is_rsa(*X509_get0_pubkey(r)); });
    if (!all_rsa || transport != key_transport::rsa_pkcs1)
        return encrypt_envelope_cms(content, recipients, cipher, transport);
    // RSA with PKCS#1 v1.5 key transport: what every SCEP client reads.
    x509_stack_ptr certs(sk_X509_new_null());
    for (const X509* r : recipients) sk_X509_push(certs.get(), dup(*r).release());
    bio_ptr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    pkcs7_ptr env(PKCS7_encrypt(certs.get(), in.get(), evp_cipher(cipher), PKCS7_BINARY));
    if (!env) return make_error(ossl_error(std::string("PKCS7_encrypt with ") + std::string(to_string(cipher))));
    return pkcs7_to_der(env.get());
}

}  // namespace

std::string message_type_name(int type) {
    switch (type) {
        case 3: return "CertRep";
        case 17: return "RenewalReq";
        case 19: return "PKCSReq";
        case 20: return "CertPoll";
        case 21: return "GetCert";
        case 22: return "GetCRL";
        default: return "unknown(" + std::to_string(type) + ")";
    }
}

std::string scep_outcome::hresult_text() const { return hresult ? hresult_hex(*hresult) : ""; }

std::string scep_outcome::faults_text() const {
    std::string out;
    for (const auto& f : faults) out += (out.empty() ? "" : ", ") + f.text();
    return out;
}

std::string_view to_string(pki_status s) {
    switch (s) {
        case pki_status::success: return "SUCCESS";
        case pki_status::failure: return "FAILURE";
        case pki_status::pending: return "PENDING";
    }
    return "?";
}

std::string_view to_string(fail_info f) {
    switch (f) {
        case fail_info::bad_alg: return "badAlg";
        case fail_info::bad_message_check: return "badMessageCheck";
        case fail_info::bad_request: return "badRequest";
        case fail_info::bad_time: return "badTime";
        case fail_info::bad_cert_id: return "badCertId";
    }
    return "?";
}

std::string_view to_string(content_cipher c) {
    switch (c) {
        case content_cipher::des_cbc: return "des";
        case content_cipher::des_ede3_cbc: return "des3";
        case content_cipher::aes_128_cbc: return "aes128";
        case content_cipher::aes_192_cbc: return "aes192";
        case content_cipher::aes_256_cbc: return "aes256";
    }
    return "?";
}

std::optional<content_cipher> content_cipher_from_name(std::string_view name) {
    for (auto c : all_content_ciphers)
        if (to_string(c) == name) return c;
    if (name == "aes") return content_cipher::aes_128_cbc;
    return std::nullopt;
}

const EVP_CIPHER* evp_cipher(content_cipher c) {
    switch (c) {
        case content_cipher::des_cbc: return EVP_des_cbc();
        case content_cipher::des_ede3_cbc: return EVP_des_ede3_cbc();
        case content_cipher::aes_128_cbc: return EVP_aes_128_cbc();
        case content_cipher::aes_192_cbc: return EVP_aes_192_cbc();
        case content_cipher::aes_256_cbc: return EVP_aes_256_cbc();
    }
    return nullptr;
}

std::string_view to_string(digest_alg d) {
    switch (d) {
        case digest_alg::sha1: return "sha1";
        case digest_alg::sha224: return "sha224";
        case digest_alg::sha256: return "sha256";
        case digest_alg::sha384: return "sha384";
        case digest_alg::sha512: return "sha512";
        case digest_alg::md5: return "md5";
    }
    return "?";
}

std::optional<digest_alg> digest_alg_from_name(std::string_view name) {
    std::string n;
    for (char c : name)
        if (c != '-') n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto d : all_digest_algs)
        if (to_string(d) == n) return d;
    return std::nullopt;
}

const EVP_MD* evp_md(digest_alg d) {
    switch (d) {
        case digest_alg::sha1: return EVP_sha1();
        case digest_alg::sha224: return EVP_sha224();
        case digest_alg::sha256: return EVP_sha256();
        case digest_alg::sha384: return EVP_sha384();
        case digest_alg::sha512: return EVP_sha512();
        case digest_alg::md5: return EVP_md5();
    }
    return nullptr;
}

result<pki_request> decode_pki_request(byte_view der) {
    if (der.empty()) return make_error("empty pkiMessage");
    const auto& n = nids();
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    if (!PKCS7_type_is_signed(p7->get())) return make_error("pkiMessage is not a SignedData (RFC 8894 §3.2)");
    PKCS7* inner = (*p7)->d.sign->contents;
    if (!inner || !PKCS7_type_is_data(inner)) return make_error("SignedData does not carry id-data content");
    PKCS7_SIGNER_INFO* si = first_signer(p7->get());
    if (!si) return make_error("SignedData has no signerInfo");

    pki_request req;
    auto type = int_attr(si, n.message_type);
    if (!type) return make_error("missing or malformed messageType attribute");
    req.type = *type;
    auto txid = string_attr(si, n.transaction_id, &req.transaction_id_asn1_type);
    if (!txid || txid->empty()) return make_error("missing transactionID attribute");
    req.transaction_id = std::move(*txid);
    auto nonce = octet_attr(si, n.sender_nonce);
    if (!nonce) return make_error("missing senderNonce attribute");
    req.sender_nonce = std::move(*nonce);

    req.digest_name = nid_name(si->digest_alg->algorithm);
    req.digest = digest_from_nid(OBJ_obj2nid(si->digest_alg->algorithm));

    X509_NAME* issuer = si->issuer_and_serial->issuer;
    ASN1_INTEGER* serial = si->issuer_and_serial->serial;
    STACK_OF(X509)* certs = (*p7)->d.sign->cert;
    for (int i = 0; certs && i < sk_X509_num(certs); ++i) {
        X509* c = sk_X509_value(certs, i);
        if (X509_NAME_cmp(X509_get_issuer_name(c), issuer) == 0 &&
            ASN1_INTEGER_cmp(X509_get0_serialNumber(c), serial) == 0) {
            req.signer_cert = dup(*c);
            break;
        }
    }
    req.p7 = std::move(*p7);
    return req;
}

std::optional<scep_failure> open_pki_request(pki_request& req, const X509& ra_cert, const EVP_PKEY& ra_key,
                                             const cipher_policy& policy) {
    if (!req.digest || (*req.digest == digest_alg::md5 && !policy.allow_md5))
        return scep_failure{fail_info::bad_alg,
                            "unsupported message digest " + req.digest_name + " (accepted: SHA-1, SHA-224, SHA-256, "
                            "SHA-384, SHA-512" + (policy.allow_md5 ? ", MD5" : "; MD5 with scep.allow_md5") + ")",
                            failure_cause::algorithm};
    if (!req.signer_cert)
        return scep_failure{fail_info::bad_message_check,
                            "the request does not include the signer certificate (RFC 8894 §3.2)",
                            failure_cause::missing_info};

    auto verified = verify_against(req.p7.get(), *req.signer_cert);
    if (!verified)
        return scep_failure{fail_info::bad_message_check, ossl_error("signature does not verify"), failure_cause::signature};
    bytes envelope = std::move(*verified);

    if (envelope.empty()) return scep_failure{fail_info::bad_request, "the pkiMessage carries no pkcsPKIEnvelope", failure_cause::missing_info};
    const unsigned char* p = envelope.data();
    pkcs7_ptr env(d2i_PKCS7(nullptr, &p, static_cast<long>(envelope.size())));
    if (!env || !PKCS7_type_is_enveloped(env.get())) {
        ERR_clear_error();
        return scep_failure{fail_info::bad_request, "the signed content is not an EnvelopedData (pkcsPKIEnvelope)",
                            failure_cause::missing_info};
    }
    const X509_ALGOR* alg = env->d.enveloped->enc_data->algorithm;
    req.cipher = cipher_from_nid(OBJ_obj2nid(alg->algorithm));
    if (!req.cipher)
        return scep_failure{fail_info::bad_alg, "unsupported content encryption " + nid_name(alg->algorithm) +
                                                    " (accepted: AES-128/192/256-CBC, DES3)",
                            failure_cause::algorithm};
    if (*req.cipher == content_cipher::des_cbc && !(policy.allow_single_des && legacy_provider_loaded()))
        return scep_failure{fail_info::bad_alg,
                            "single DES is refused (RFC 8894 §2.9); set scep.allow_single_des = true to accept it",
                            failure_cause::algorithm};

    // RSAES-OAEP key transport (RFC 8017 §7.1; CMS: RFC 3560) is not in
    // PKCS#7's vocabulary: CMS decrypts it. PKCS#1 v1.5 keeps PKCS7_decrypt.
    STACK_OF(PKCS7_RECIP_INFO)* ris = env->d.enveloped->recipientinfo;
    bool oaep = false;
    for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(ris); ++i)
        oaep = oaep || OBJ_obj2nid(sk_PKCS7_RECIP_INFO_value(ris, i)->key_enc_algor->algorithm) == NID_rsaesOaep;
    if (oaep) {
        auto plain = decrypt_envelope(envelope, ra_cert, ra_key);
        if (!plain)
            return scep_failure{fail_info::bad_message_check,
                                "cannot decrypt the pkcsPKIEnvelope (RSAES-OAEP key transport): " + plain.message(),
                                failure_cause::decrypt};
        req.message_data = std::move(*plain);
        return std::nullopt;
    }
    bio_ptr plain(BIO_new(BIO_s_mem()));
    if (PKCS7_decrypt(env.get(), const_cast<EVP_PKEY*>(&ra_key), const_cast<X509*>(&ra_cert), plain.get(), 0) != 1)
        return scep_failure{fail_info::bad_message_check,
                            ossl_error("cannot decrypt the pkcsPKIEnvelope (was it encrypted to the RA certificate?)"),
                            failure_cause::decrypt};
    req.message_data = bio_contents(*plain);
    return std::nullopt;
}

bytes build_degenerate(const std::vector<const X509*>& certs, const std::vector<const X509_CRL*>& crls) {
    // As `openssl crl2pkcs7 -nocrl` builds it: SignedData, no signers, id-data
    // with the content omitted (RFC 8894 §3.4).
    pkcs7_ptr p7(PKCS7_new());
    PKCS7_set_type(p7.get(), NID_pkcs7_signed);
    p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
    for (const X509* c : certs) PKCS7_add_certificate(p7.get(), const_cast<X509*>(c));
    for (const X509_CRL* c : crls) PKCS7_add_crl(p7.get(), const_cast<X509_CRL*>(c));
    auto der = pkcs7_to_der(p7.get());
    if (!der) throw std::runtime_error(der.message());
    return std::move(*der);
}

result<degenerate_contents> parse_degenerate_contents(byte_view der) {
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    if (!PKCS7_type_is_signed(p7->get())) return make_error("not a SignedData");
    degenerate_contents out;
    STACK_OF(X509)* certs = (*p7)->d.sign->cert;
    for (int i = 0; certs && i < sk_X509_num(certs); ++i) out.certs.push_back(dup(*sk_X509_value(certs, i)));
    STACK_OF(X509_CRL)* crls = (*p7)->d.sign->crl;
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); ++i) {
        X509_CRL* c = sk_X509_CRL_value(crls, i);
        X509_CRL_up_ref(c);
        out.crls.emplace_back(c);
    }
    return out;
}

result<std::vector<x509_ptr>> parse_degenerate(byte_view der) {
    auto contents = parse_degenerate_contents(der);
    if (!contents) return contents.err();
    return std::move(contents->certs);
}

bytes encode_issuer_and_serial(const X509_NAME& issuer, const ASN1_INTEGER& serial) {
    pkcs7_issuer_and_serial_ptr ias(PKCS7_ISSUER_AND_SERIAL_new());
    X509_NAME_set(&ias->issuer, const_cast<X509_NAME*>(&issuer));
    asn1_integer_ptr replaced(ias->serial);  // the empty serial PKCS7_ISSUER_AND_SERIAL_new made
    ias->serial = ASN1_INTEGER_dup(&serial);
    auto der = der_encode(*ias, i2d_PKCS7_ISSUER_AND_SERIAL, "i2d_PKCS7_ISSUER_AND_SERIAL");
    if (!der) throw std::runtime_error(der.message());
    return std::move(*der);
}

result<issuer_and_serial> decode_issuer_and_serial(byte_view der) {
    const unsigned char* p = der.data();
    pkcs7_issuer_and_serial_ptr ias(d2i_PKCS7_ISSUER_AND_SERIAL(nullptr, &p, static_cast<long>(der.size())));
    if (!ias) return make_error(ossl_error("messageData is not an IssuerAndSerialNumber"));
    issuer_and_serial out;
    out.issuer.reset(X509_NAME_dup(ias->issuer));
    bignum_ptr bn(ASN1_INTEGER_to_BN(ias->serial, nullptr));
    ossl_string_ptr hex(BN_bn2hex(bn.get()));
    if (!hex) return make_error(ossl_error("serial number"));
    out.serial = hex.get();
    return out;
}

bytes encode_issuer_and_subject(const X509_NAME& issuer, const X509_NAME& subject) {
    auto a = der_encode(issuer, i2d_X509_NAME, "issuer");
    auto b = der_encode(subject, i2d_X509_NAME, "subject");
    if (!a || !b) throw std::runtime_error("encoding IssuerAndSubject");
    bytes content = std::move(*a);
    content.insert(content.end(), b->begin(), b->end());
    bytes out;
    append_der_tlv(out, 0x30, content);  // SEQUENCE { issuer, subject }
    return out;
}

namespace {

// Fault injection: the SignerInfo's signed attributes in reverse DER order
// (X.690 §11.6 sorts a SET OF), signed again over the bytes as sent, which
// is what RFC 5652 §5.4 says the signature covers.
result<bytes> reorder_signed_attributes(bytes der, const EVP_PKEY& key, digest_alg digest) {
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    auto* infos = PKCS7_get_signer_info(p7->get());
    if (!infos || sk_PKCS7_SIGNER_INFO_num(infos) != 1) return make_error("no single SignerInfo to reorder");
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(infos, 0);
    unsigned char* raw = nullptr;
    const int raw_len = ASN1_item_i2d(reinterpret_cast<ASN1_VALUE*>(si->auth_attr), &raw, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    const ossl_buffer_ptr owned(raw);
    if (raw_len <= 0) return make_error(ossl_error("encoding the signed attributes"));
    bytes sorted(raw, raw + raw_len);
    auto set = read_der_tlv(sorted, 0);
    if (!set) return make_error("the signed attributes do not encode");
    std::vector<byte_view> children;
    for (std::size_t at = set->content(); at < set->end();) {
        auto child = read_der_tlv(sorted, at);
        if (!child) return make_error("a signed attribute does not encode");
        children.emplace_back(sorted.data() + at, child->end() - at);
        at = child->end();
    }
    if (children.size() < 2) return make_error("fewer than two signed attributes: no order to break");
    bytes reversed(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(set->content()));
    for (auto it = children.rbegin(); it != children.rend(); ++it) reversed.insert(reversed.end(), it->begin(), it->end());
    if (reversed == sorted) return make_error("the signed attributes are all equal: no order to break");
    // Where the attributes ([0] IMPLICIT, same content) and the signature sit in `der`.
    const byte_view content(sorted.data() + set->content(), set->length);
    auto at_attrs = std::search(der.begin(), der.end(), content.begin(), content.end());
    const auto* old_sig = ASN1_STRING_get0_data(si->enc_digest);
    const auto old_sig_len = static_cast<std::size_t>(ASN1_STRING_length(si->enc_digest));
    auto at_sig = std::search(der.begin(), der.end(), old_sig, old_sig + old_sig_len);
    if (at_attrs == der.end() || at_sig == der.end()) return make_error("cannot find the signed attributes in the reply");
    const auto attrs_offset = at_attrs - der.begin(), sig_offset = at_sig - der.begin();
    std::copy(reversed.begin() + static_cast<std::ptrdiff_t>(set->content()), reversed.end(), der.begin() + attrs_offset);
    // ECDSA signatures vary in length; the reply's lengths must not change.
    for (int attempt = 0; attempt < 32; ++attempt) {
        evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
        std::size_t len = 0;
        if (!ctx ||
            EVP_DigestSignInit(ctx.get(), nullptr, evp_md(digest), nullptr, const_cast<EVP_PKEY*>(&key)) != 1 ||
            EVP_DigestSign(ctx.get(), nullptr, &len, reversed.data(), reversed.size()) != 1)
            return make_error(ossl_error("signing the reordered attributes"));
        bytes sig(len);
        if (EVP_DigestSign(ctx.get(), sig.data(), &len, reversed.data(), reversed.size()) != 1)
            return make_error(ossl_error("signing the reordered attributes"));
        sig.resize(len);
        if (sig.size() != old_sig_len) continue;
        std::copy(sig.begin(), sig.end(), der.begin() + sig_offset);
        return der;
    }
    return make_error("the new signature never had the old one's length");
}

}  // namespace

result<bytes> build_cert_rep(const cert_rep_params& p, const X509& ra_cert, const EVP_PKEY& ra_key) {
    const auto& n = nids();
    // Fault injection may sign with another identity than the RA.
    const X509& signer_cert = p.fault.signer_cert ? *p.fault.signer_cert : ra_cert;
    const EVP_PKEY& signer_key = p.fault.signer_key ? *p.fault.signer_key : ra_key;
    bytes content;
    if (p.ndes_failure_shape && p.status == pki_status::failure) content = {0x00};
    if (p.status == pki_status::success) {
        if ((!p.issued && !p.crl) || !p.recipient)
            return make_error("a SUCCESS CertRep needs the issued certificate (or CRL) and the recipient");
        // RFC 8894 §3.3.2: the degenerate holds only the issued certificate.
        std::vector<const X509*> certs;
        if (p.issued && !p.fault.empty_degenerate) certs.push_back(p.issued);
        if (p.issued && !p.fault.empty_degenerate) certs.insert(certs.end(), p.chain.begin(), p.chain.end());
        if (!p.fault.empty_degenerate) certs.insert(certs.end(), p.fault.extra_certs.begin(), p.fault.extra_certs.end());
        bytes degenerate = p.issued ? build_degenerate(certs) : build_degenerate({}, {p.crl});
        if (p.fault.no_envelope) {
            content = std::move(degenerate);
        } else {
            auto env = encrypt_envelope(degenerate, {p.recipient}, p.fault.cipher.value_or(p.cipher));
            if (!env) return env.err();
            content = std::move(*env);
        }
    }
    auto sender_nonce = random_bytes(16);
    const bool ndes = p.ndes_failure_shape && p.status == pki_status::failure;
    const auto& f = p.fault;
    bytes recipient_nonce = p.recipient_nonce;
    if (f.wrong_recipient_nonce) {
        if (recipient_nonce.empty()) recipient_nonce.assign(16, 0);
        for (auto& b : recipient_nonce) b ^= 0xff;  // every bit differs from the request's senderNonce
    }
    const std::string transaction_id = f.wrong_transaction_id ? p.transaction_id + "-OTHER" : p.transaction_id;
    // Faults that change the SignerInfo once it is signed: what its fields
    // claim, or the signature itself.
    auto after_signing = [&](PKCS7_SIGNER_INFO* si) {
        if (f.signature_algorithm_with_digest) {
            const int nid = p.digest == digest_alg::sha1 ? NID_sha1WithRSAEncryption
                          : p.digest == digest_alg::sha384 ? NID_sha384WithRSAEncryption
                          : p.digest == digest_alg::sha512 ? NID_sha512WithRSAEncryption
                          : p.digest == digest_alg::md5 ? NID_md5WithRSAEncryption
                          : p.digest == digest_alg::sha224 ? NID_sha224WithRSAEncryption
                                                           : NID_sha256WithRSAEncryption;
            if (X509_ALGOR_set0(si->digest_enc_alg, OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) != 1) return false;
        }
        if (f.digest_algorithm_mismatch) {
            const int nid = p.digest == digest_alg::sha256 ? NID_sha512 : NID_sha256;
            if (X509_ALGOR_set0(si->digest_alg, OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) != 1) return false;
        }
        if (f.corrupt_signature && ASN1_STRING_length(si->enc_digest) > 0) {
            const auto* d = ASN1_STRING_get0_data(si->enc_digest);
            bytes sig(d, d + ASN1_STRING_length(si->enc_digest));
            sig.back() ^= 0x01;
            if (ASN1_STRING_set(si->enc_digest, sig.data(), static_cast<int>(sig.size())) != 1) return false;
        }
        return true;
    };
    auto signed_reply = sign_with_attributes(
        signer_cert, signer_key, p.digest, content, p.include_signer_cert && !ndes, [&](PKCS7_SIGNER_INFO* si) {
            if (!add_string_attr(si, n.message_type, V_ASN1_PRINTABLESTRING, std::to_string(f.message_type.value_or(3))))
                return false;
            if (!add_string_attr(si, n.pki_status, V_ASN1_PRINTABLESTRING,
                                 std::to_string(f.pki_status.value_or(static_cast<int>(p.status)))))
                return false;
            if (p.status == pki_status::failure) {
                auto info = p.failure.value_or(fail_info::bad_request);
                if (!add_string_attr(si, n.fail_info, V_ASN1_PRINTABLESTRING,
                                     std::to_string(static_cast<int>(info))))
                    return false;
                if (!ndes && !p.fail_info_text.empty() &&
                    !add_string_attr(si, n.fail_info_text, V_ASN1_UTF8STRING, p.fail_info_text))
                    return false;
                if (ndes && !p.hresult.empty() && !add_string_attr(si, n.hresult, V_ASN1_PRINTABLESTRING, p.hresult))
                    return false;
            }
            if (f.extra_attribute && !add_string_attr(si, n.unknown, V_ASN1_UTF8STRING, "scep-lab fault injection"))
                return false;
            return (f.omit_transaction_id ||
                    add_string_attr(si, n.transaction_id, p.transaction_id_asn1_type, transaction_id)) &&
                   (f.omit_sender_nonce || add_octet_attr(si, n.sender_nonce, sender_nonce)) &&
                   (f.omit_recipient_nonce || add_octet_attr(si, n.recipient_nonce, recipient_nonce));
        },
        ndes || f.omit_signing_time, after_signing);
    if (!signed_reply || !f.attributes_out_of_order) return signed_reply;
    return reorder_signed_attributes(std::move(*signed_reply), signer_key, p.digest);
}

result<bytes> sign_content(byte_view content, const X509& signer, const EVP_PKEY& key) {
    return sign_with_attributes(signer, key, digest_alg::sha256, content, true,
                                [](PKCS7_SIGNER_INFO*) { return true; });
}

result<bytes> verify_signed_content(byte_view der, const X509& signer) {
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    if (!PKCS7_type_is_signed(p7->get())) return make_error("not a SignedData");
    auto content = verify_against(p7->get(), signer);
    if (!content) return make_error(ossl_error("signature does not verify against the expected signer"));
    return std::move(*content);
}

result<bytes> build_pki_request(const pki_request_params& p, const X509& signer_cert, const EVP_PKEY& signer_key,
                                const std::vector<const X509*>& recipients) {
    const auto& n = nids();
    auto env = encrypt_envelope(p.message_data, recipients, p.cipher, p.transport);
    if (!env) return env.err();
    return sign_with_attributes(signer_cert, signer_key, p.digest, *env, true, [&](PKCS7_SIGNER_INFO* si) {
        return add_string_attr(si, n.message_type, V_ASN1_PRINTABLESTRING,
                               std::to_string(static_cast<int>(p.type))) &&
               add_string_attr(si, n.transaction_id, V_ASN1_PRINTABLESTRING, p.transaction_id) &&
               add_octet_attr(si, n.sender_nonce, p.sender_nonce);
    });
}

result<cert_rep> parse_cert_rep(byte_view der, const X509& signer) {
    const auto& n = nids();
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    if (!PKCS7_type_is_signed(p7->get())) return make_error("CertRep is not a SignedData");
    PKCS7_SIGNER_INFO* si = first_signer(p7->get());
    if (!si) return make_error("CertRep has no signerInfo");

    auto content = verify_against(p7->get(), signer);
    if (!content) return make_error(ossl_error("CertRep signature does not verify against the RA certificate"));

    cert_rep rep;
    rep.type = int_attr(si, n.message_type).value_or(0);
    auto status = int_attr(si, n.pki_status);
    if (!status) return make_error("CertRep without pkiStatus");
    rep.status = static_cast<pki_status>(*status);
    if (auto f = int_attr(si, n.fail_info)) rep.failure = static_cast<fail_info>(*f);
    rep.fail_info_text = string_attr(si, n.fail_info_text).value_or("");
    rep.transaction_id = string_attr(si, n.transaction_id).value_or("");
    rep.sender_nonce = octet_attr(si, n.sender_nonce).value_or(bytes{});
    rep.recipient_nonce = octet_attr(si, n.recipient_nonce).value_or(bytes{});
    rep.digest = digest_from_nid(OBJ_obj2nid(si->digest_alg->algorithm));
    STACK_OF(X509)* certs = (*p7)->d.sign->cert;
    rep.certificate_count = certs ? sk_X509_num(certs) : 0;
    rep.envelope = std::move(*content);
    if (auto nid = enveloped_content_nid(rep.envelope)) rep.envelope_cipher = cipher_from_nid(*nid);
    return rep;
}

result<std::vector<x509_ptr>> decrypt_cert_rep(const cert_rep& rep, const X509& recipient_cert,
                                               const EVP_PKEY& recipient_key) {
    auto contents = decrypt_cert_rep_contents(rep, recipient_cert, recipient_key);
    if (!contents) return contents.err();
    return std::move(contents->certs);
}

result<degenerate_contents> decrypt_cert_rep_contents(const cert_rep& rep, const X509& recipient_cert,
                                                      const EVP_PKEY& recipient_key) {
    if (rep.envelope.empty()) return make_error("CertRep carries no envelope");
    auto plain = decrypt_envelope(rep.envelope, recipient_cert, recipient_key);
    if (!plain) return make_error("cannot decrypt the CertRep envelope: " + plain.message());
    return parse_degenerate_contents(*plain);
}

std::optional<int> enveloped_content_nid(byte_view der) {
    // ContentInfo ::= SEQUENCE { contentType OID, [0] EXPLICIT EnvelopedData }
    // EnvelopedData ::= SEQUENCE { version, [0] originatorInfo OPTIONAL,
    //   recipientInfos SET, encryptedContentInfo SEQUENCE { contentType OID,
    //   contentEncryptionAlgorithm AlgorithmIdentifier, ... } }
    auto info = read_der_tlv(der, 0);
    if (!info || info->tag != 0x30) return std::nullopt;
    auto type = read_der_tlv(der, info->content());
    if (!type || type->tag != 0x06) return std::nullopt;
    const unsigned char* p = der.data() + type->start;
    asn1_object_ptr oid(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(type->header + type->length)));
    if (!oid || OBJ_obj2nid(oid.get()) != NID_pkcs7_enveloped) {
        ERR_clear_error();
        return std::nullopt;
    }
    auto wrapper = read_der_tlv(der, type->end());
    if (!wrapper || wrapper->tag != 0xa0) return std::nullopt;
    auto env = read_der_tlv(der, wrapper->content());
    if (!env || env->tag != 0x30) return std::nullopt;
    auto field = read_der_tlv(der, env->content());  // version
    if (!field || field->tag != 0x02) return std::nullopt;
    field = read_der_tlv(der, field->end());
    if (field && field->tag == 0xa0) field = read_der_tlv(der, field->end());  // originatorInfo
    if (!field || field->tag != 0x31) return std::nullopt;                     // recipientInfos
    auto eci = read_der_tlv(der, field->end());
    if (!eci || eci->tag != 0x30) return std::nullopt;
    auto content_type = read_der_tlv(der, eci->content());
    if (!content_type) return std::nullopt;
    auto alg = read_der_tlv(der, content_type->end());
    if (!alg || alg->tag != 0x30) return std::nullopt;
    auto alg_oid = read_der_tlv(der, alg->content());
    if (!alg_oid || alg_oid->tag != 0x06 || alg_oid->end() > alg->end()) return std::nullopt;
    p = der.data() + alg_oid->start;
    asn1_object_ptr cipher(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(alg_oid->header + alg_oid->length)));
    ERR_clear_error();
    if (!cipher) return std::nullopt;
    return OBJ_obj2nid(cipher.get());
}

result<bytes> decrypt_envelope(byte_view der, const X509& cert, const EVP_PKEY& key) {
    const unsigned char* p = der.data();
    cms_ptr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    if (!cms) return make_error(ossl_error("not a CMS ContentInfo"));
    if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_enveloped) return make_error("not an EnvelopedData");
    bio_ptr plain(BIO_new(BIO_s_mem()));
    if (CMS_decrypt(cms.get(), const_cast<EVP_PKEY*>(&key), const_cast<X509*>(&cert), nullptr, plain.get(),
                    CMS_BINARY) != 1)
        return make_error(ossl_error("CMS_decrypt"));
    return bio_contents(*plain);
}

std::string make_transaction_id() { return to_hex(random_bytes(16), true); }

}  // namespace scep
