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

std::string algorithm_name(const ASN1_OBJECT* obj) {
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef)
        if (const char* ln = OBJ_nid2ln(nid)) return ln;
    return oid_text(obj);
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

}  // namespace scep::inspect::detail

namespace scep::inspect {

std::string printable(std::string_view s, std::size_t max) { return printable_text(s, max, '?'); }

}  // namespace scep::inspect
