#include "pki/scep/attributes.hpp"

#include <openssl/objects.h>

#include <algorithm>
#include <charconv>

namespace scep::attributes {

std::string oid_text(const ASN1_OBJECT* obj) {
    char buf[128];
    int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return n > 0 ? std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1)) : "?";
}

std::string attribute_name(const std::string& oid) {
    static const std::pair<std::string_view, std::string_view> names[] = {
        {oid_message_type, "messageType"},     {oid_pki_status, "pkiStatus"},
        {oid_fail_info, "failInfo"},           {oid_sender_nonce, "senderNonce"},
        {oid_recipient_nonce, "recipientNonce"}, {oid_transaction_id, "transactionID"},
        {oid_fail_info_text, "failInfoText"},  {oid_content_type, "contentType"},
        {oid_message_digest, "messageDigest"}, {oid_signing_time, "signingTime"},
        {oid_smime_caps, "smimeCapabilities"}, {oid_ms_hresult, "Microsoft HRESULT"},
    };
    for (const auto& [o, n] : names)
        if (o == oid) return std::string(n);
    return oid;
}

const ASN1_TYPE* attr_value(STACK_OF(X509_ATTRIBUTE) * attrs, std::string_view oid) {
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); ++i) {
        X509_ATTRIBUTE* a = sk_X509_ATTRIBUTE_value(attrs, i);
        if (oid_text(X509_ATTRIBUTE_get0_object(a)) == oid) return X509_ATTRIBUTE_get0_type(a, 0);
    }
    return nullptr;
}

namespace {
bool is_string_type(int t) {
    return t == V_ASN1_PRINTABLESTRING || t == V_ASN1_IA5STRING || t == V_ASN1_UTF8STRING ||
           t == V_ASN1_T61STRING || t == V_ASN1_VISIBLESTRING;
}
}  // namespace

std::optional<std::string> string_value(const ASN1_TYPE* t) {
    if (!t || !is_string_type(t->type)) return std::nullopt;
    const ASN1_STRING* s = t->value.asn1_string;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::optional<bytes> octet_value(const ASN1_TYPE* t) {
    if (!t || t->type != V_ASN1_OCTET_STRING) return std::nullopt;
    const auto* d = ASN1_STRING_get0_data(t->value.octet_string);
    return bytes(d, d + ASN1_STRING_length(t->value.octet_string));
}

std::optional<int> int_value(const ASN1_TYPE* t) {
    auto s = string_value(t);
    if (!s || s->empty()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || p != s->data() + s->size()) return std::nullopt;
    return v;
}

}  // namespace scep::attributes
