// The reply analysis: what the server (or a captured server) answered.
#include "pki/inspect/analysis.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "pki/inspect/asn1_view.hpp"
#include "pki/scep/message.hpp"

namespace scep::inspect {

using namespace detail;

reply_report analyze_reply(std::string_view body, std::string_view content_type) {
    reply_report r;
    r.size = body.size();
    r.content_type = clean(content_type);
    std::string_view ct = content_type.substr(0, content_type.find(';'));
    if (body.empty()) {
        r.kind = "empty";
        return r;
    }
    if (ct.starts_with("text/")) {
        r.kind = "text";
        r.capabilities = capability_words(body);
        return r;
    }
    byte_view der(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    if (ct == "application/x-x509-ca-cert") {
        r.kind = "certificate";
        if (auto c = x509_from_der(der)) r.certificates.push_back(clean(name_to_string(*X509_get_subject_name(c->get()))));
        else r.error = "not a DER certificate";
        ERR_clear_error();
        return r;
    }
    auto parsed = pkcs7_from_der(der);
    pkcs7_ptr p7 = parsed ? std::move(*parsed) : nullptr;
    ERR_clear_error();
    if (!p7 || !PKCS7_type_is_signed(p7.get())) {
        r.kind = "binary";
        r.error = "not a PKCS#7 SignedData";
        return r;
    }
    STACK_OF(X509)* certs = p7->d.sign->cert;
    for (int i = 0; certs && i < sk_X509_num(certs); ++i)
        r.certificates.push_back(clean(name_to_string(*X509_get_subject_name(sk_X509_value(certs, i)))));
    STACK_OF(PKCS7_SIGNER_INFO)* sis = PKCS7_get_signer_info(p7.get());
    PKCS7_SIGNER_INFO* si = sis && sk_PKCS7_SIGNER_INFO_num(sis) > 0 ? sk_PKCS7_SIGNER_INFO_value(sis, 0) : nullptr;
    if (!si) {
        r.kind = "degenerate";
        return r;
    }
    STACK_OF(X509_ATTRIBUTE)* attrs = si->auth_attr;
    r.digest = algorithm_name(si->digest_alg->algorithm);
    r.signature_algorithm = algorithm_name(si->digest_enc_alg->algorithm);
    r.signer = "issuer " + clean(name_to_string(*si->issuer_and_serial->issuer));
    auto type = int_value(attr_value(attrs, oid_message_type));
    if (!type) {
        r.kind = "signed content";
        return r;
    }
    r.kind = message_type_name(*type);
    if (auto s = int_value(attr_value(attrs, oid_pki_status))) {
        switch (*s) {
            case 0: r.pki_status = "SUCCESS"; break;
            case 2: r.pki_status = "FAILURE"; break;
            case 3: r.pki_status = "PENDING"; break;
            default: r.pki_status = "undefined(" + std::to_string(*s) + ")";
        }
    }
    if (auto f = int_value(attr_value(attrs, oid_fail_info)))
        r.fail_info = *f >= 0 && *f <= 4 ? std::string(to_string(static_cast<fail_info>(*f))) : std::to_string(*f);
    r.fail_info_text = clean(string_value(attr_value(attrs, oid_fail_info_text)).value_or(""));
    if (auto h = string_value(attr_value(attrs, oid_ms_hresult)))
        r.fail_info_text += (r.fail_info_text.empty() ? "" : "; ") + ("HRESULT " + clean(*h));
    r.transaction_id = clean(string_value(attr_value(attrs, oid_transaction_id)).value_or(""));
    if (auto n = octet_value(attr_value(attrs, oid_recipient_nonce))) r.recipient_nonce = to_hex(*n);
    if (auto n = octet_value(attr_value(attrs, oid_sender_nonce))) r.sender_nonce = to_hex(*n);
    PKCS7* inner = p7->d.sign->contents;
    if (inner && PKCS7_type_is_data(inner) && inner->d.data && ASN1_STRING_length(inner->d.data) > 1) {
        // Read by hand: PKCS#7 cannot parse the KeyAgreeRecipientInfo an EC requester's reply carries.
        const byte_view env(ASN1_STRING_get0_data(inner->d.data), static_cast<std::size_t>(ASN1_STRING_length(inner->d.data)));
        if (auto nid = enveloped_content_nid(env)) r.content_cipher = algorithm_name(OBJ_nid2obj(*nid));
    }
    return r;
}

}  // namespace scep::inspect
