// The request: decoding and opening a pkiMessage (RFC 8894 §3.2, §3.3.1),
// and building one as a client does.
#include "pki/scep/message.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <functional>

#include "pki/crypto/der.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/scep/message_parts.hpp"

namespace scep {

using namespace detail;

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
    const bool pkcs7_reads_it = env && PKCS7_type_is_enveloped(env.get());
    // PKCS#7 has no room for a KeyTransRecipientInfo that names the RA by
    // subjectKeyIdentifier (version 2, RFC 5652 §6.2.1: Windows 11 clients
    // send it): when its parser refuses the envelope, the content-encryption
    // algorithm is read by hand and CMS decrypts.
    std::optional<int> cipher_nid;
    std::string cipher_name;
    if (pkcs7_reads_it) {
        const ASN1_OBJECT* alg = env->d.enveloped->enc_data->algorithm->algorithm;
        cipher_nid = OBJ_obj2nid(alg);
        cipher_name = nid_name(alg);
    } else if ((cipher_nid = enveloped_content_nid(envelope))) {
        cipher_name = *cipher_nid == NID_undef ? "(an unknown algorithm)" : OBJ_nid2sn(*cipher_nid);
    }
    if (!cipher_nid) {
        ERR_clear_error();
        return scep_failure{fail_info::bad_request, "the signed content is not an EnvelopedData (pkcsPKIEnvelope)",
                            failure_cause::missing_info};
    }
    req.cipher = cipher_from_nid(*cipher_nid);
    if (!req.cipher)
        return scep_failure{fail_info::bad_alg, "unsupported content encryption " + cipher_name + " (accepted: AES-128/192/256-CBC, DES3)",
                            failure_cause::algorithm};
    if (*req.cipher == content_cipher::des_cbc && !(policy.allow_single_des && legacy_provider_loaded()))
        return scep_failure{fail_info::bad_alg,
                            "single DES is refused (RFC 8894 §2.9); set scep.allow_single_des = true to accept it",
                            failure_cause::algorithm};
    if (!pkcs7_reads_it) {
        ERR_clear_error();
        auto plain = decrypt_envelope(envelope, ra_cert, ra_key);
        if (!plain)
            return scep_failure{fail_info::bad_message_check, "cannot decrypt the pkcsPKIEnvelope: " + plain.message(),
                                failure_cause::decrypt};
        req.message_data = std::move(*plain);
        return std::nullopt;
    }

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

result<bytes> build_pki_request(const pki_request_params& p, const X509& signer_cert, const EVP_PKEY& signer_key,
                                const std::vector<const X509*>& recipients) {
    const auto& n = nids();
    auto env = encrypt_envelope(p.message_data, recipients, p.cipher, p.transport, p.recipient_by_key_id);
    if (!env) return env.err();
    return sign_with_attributes(signer_cert, signer_key, p.digest, *env, true, [&](PKCS7_SIGNER_INFO* si) {
        return add_string_attr(si, n.message_type, V_ASN1_PRINTABLESTRING,
                               std::to_string(static_cast<int>(p.type))) &&
               add_string_attr(si, n.transaction_id, V_ASN1_PRINTABLESTRING, p.transaction_id) &&
               add_octet_attr(si, n.sender_nonce, p.sender_nonce);
    });
}

}  // namespace scep
