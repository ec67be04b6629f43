// The pkiMessage codec's shared parts (attributes, signing, envelopes),
// the names of its enums, certs-only degenerates, IssuerAndSerialNumber and
// plain SignedData; the request (pki_request.cpp) and the reply
// (cert_rep.cpp) have files of their own.
#include "pki/scep/message.hpp"
#include "pki/scep/message_parts.hpp"

#include "pki/crypto/der.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <mutex>

namespace scep {
namespace detail {


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

std::optional<std::string> string_attr(PKCS7_SIGNER_INFO* si, int nid, int* asn1_type) {
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
                                   bool without_signing_time,
                                   const std::function<bool(PKCS7_SIGNER_INFO*)>& after_signing) {
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
                                   content_cipher cipher, key_transport transport, bool by_key_id) {
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
        CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms.get(), const_cast<X509*>(r),
                                                          (oaep ? CMS_KEY_PARAM : 0) | (by_key_id ? CMS_USE_KEYID : 0));
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
                               key_transport transport, bool by_key_id) {
    const bool all_rsa = std::all_of(recipients.begin(), recipients.end(),
                                     [](const X509* r) { return key_is_rsa(*X509_get0_pubkey(r)); });
    if (!all_rsa || transport != key_transport::rsa_pkcs1 || by_key_id)
        return encrypt_envelope_cms(content, recipients, cipher, transport, by_key_id);
    // RSA with PKCS#1 v1.5 key transport: what every SCEP client reads.
    x509_stack_ptr certs(sk_X509_new_null());
    for (const X509* r : recipients) sk_X509_push(certs.get(), dup(*r).release());
    bio_ptr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    pkcs7_ptr env(PKCS7_encrypt(certs.get(), in.get(), evp_cipher(cipher), PKCS7_BINARY));
    if (!env) return make_error(ossl_error(std::string("PKCS7_encrypt with ") + std::string(to_string(cipher))));
    return pkcs7_to_der(env.get());
}

}  // namespace detail

using namespace detail;


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

