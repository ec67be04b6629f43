// The reply: building a CertRep (RFC 8894 §3.3.2) and reading one as a client does.
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
    return signed_reply;  // attributes-out-of-order is applied after (fault_replies.hpp)
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

}  // namespace scep
