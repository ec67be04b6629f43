#include "pki/inspect/asn1_view.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <charconv>

#include "pki/crypto/encoding.hpp"
#include "pki/inspect/analysis.hpp"

namespace scep::inspect::detail {

std::string oid_text(const ASN1_OBJECT* obj) {
    char buf[128];
    int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return n > 0 ? std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1)) : "?";
}

std::string algorithm_name(const ASN1_OBJECT* obj) {
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef)
        if (const char* ln = OBJ_nid2ln(nid)) return ln;
    return oid_text(obj);
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

std::string string_type_name(int type) {
    switch (type) {
        case V_ASN1_PRINTABLESTRING: return "PrintableString";
        case V_ASN1_UTF8STRING: return "UTF8String";
        case V_ASN1_IA5STRING: return "IA5String";
        case V_ASN1_T61STRING: return "TeletexString";
        case V_ASN1_BMPSTRING: return "BMPString";
        case V_ASN1_VISIBLESTRING: return "VisibleString";
        case V_ASN1_UNIVERSALSTRING: return "UniversalString";
        case V_ASN1_OCTET_STRING: return "OCTET STRING";
        default: return "ASN.1 type " + std::to_string(type);
    }
}

std::string clean(std::string_view s) { return printable(s, max_text); }

const ASN1_TYPE* attr_value(STACK_OF(X509_ATTRIBUTE) * attrs, std::string_view oid) {
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); ++i) {
        X509_ATTRIBUTE* a = sk_X509_ATTRIBUTE_value(attrs, i);
        if (oid_text(X509_ATTRIBUTE_get0_object(a)) == oid) return X509_ATTRIBUTE_get0_type(a, 0);
    }
    return nullptr;
}

bool is_string_type(int t) {
    return t == V_ASN1_PRINTABLESTRING || t == V_ASN1_IA5STRING || t == V_ASN1_UTF8STRING ||
           t == V_ASN1_T61STRING || t == V_ASN1_VISIBLESTRING;
}

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

// X.690 §11.6: SET OF components in ascending order of their encodings,

std::string key_description(const EVP_PKEY* key) {
    if (!key) return "none";
    const int bits = EVP_PKEY_get_bits(key);
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA: return "RSA " + std::to_string(bits);
        case EVP_PKEY_EC: {
            char group[64] = {0};
            std::size_t len = 0;
            std::string out = "EC " + std::to_string(bits);
            if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len) == 1)
                out += " (" + std::string(group, len) + ")";
            ERR_clear_error();
            return out;
        }
        case EVP_PKEY_ED25519: return "Ed25519";
        case EVP_PKEY_ED448: return "Ed448";
        default: return std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) + " " + std::to_string(bits);
    }
}

std::string_view media_type(std::string_view content_type) {
    std::string_view ct = content_type.substr(0, content_type.find(';'));
    while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
    return ct;
}

}  // namespace scep::inspect::detail

namespace scep::inspect {

std::string printable(std::string_view s, std::size_t max) { return printable_text(s, max, '?'); }

}  // namespace scep::inspect
