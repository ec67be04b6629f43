#include "pki/ca/names.hpp"

#include "pki/crypto/encoding.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

namespace scep {

namespace {

// Longest entries accepted, whatever the limits: RFC 1035 §2.3.4 for host
// names, RFC 5321 §4.5.3.1 for mailboxes; URIs and UPNs get a generous cap.
constexpr std::size_t max_dns_length = 253;
constexpr std::size_t max_email_length = 254;
constexpr std::size_t max_uri_length = 2048;
constexpr std::size_t max_upn_length = 1024;

std::string asn1_bytes(const ASN1_STRING& s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(&s)),
                       static_cast<std::size_t>(ASN1_STRING_length(&s)));
}

// Printable ASCII only: IA5String names (DNS, email, URI) must never carry
// NUL ("good.com\0.evil.com"), control characters or bytes above 0x7e.
bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The number of code points of valid UTF-8 without control characters (C0,
// DEL, C1); -1 when it is not valid UTF-8 or holds one.
long utf8_length(std::string_view s) {
    long n = 0;
    for (std::size_t i = 0; i < s.size(); ++n) {
        auto ch = decode_utf8(s, i);
        if (!ch || ch->code_point < 0x20 || (ch->code_point >= 0x7f && ch->code_point < 0xa0)) return -1;
        i += ch->size;
    }
    return n;
}

// For messages: the entry with anything unprintable shown as \xNN.
std::string shown(std::string_view s) {
    std::string out;
    for (char ch : s.substr(0, 128)) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (s.size() > 128) out += "...";
    return out;
}

result<void> check_email(std::string_view addr) {
    if (addr.size() > max_email_length) return make_error("is longer than " + std::to_string(max_email_length) + " characters");
    if (!printable_ascii(addr)) return make_error("holds a NUL, control or non-ASCII character");
    auto at = addr.find('@');
    if (at == std::string_view::npos || at == 0 || addr.find('@', at + 1) != std::string_view::npos)
        return make_error("is not a mailbox (local-part@domain)");
    std::string_view local = addr.substr(0, at);
    if (local.size() > 64 || local.find_first_of("()<>[]:;,\"\\") != std::string_view::npos)
        return make_error("has a local part that is not a plain dot-atom");
    if (auto d = check_dns_name(addr.substr(at + 1), false); !d) return make_error("has a domain that " + d.message());
    return {};
}

result<void> check_uri(std::string_view uri) {
    if (uri.size() > max_uri_length) return make_error("is longer than " + std::to_string(max_uri_length) + " characters");
    if (!printable_ascii(uri)) return make_error("holds a NUL, space, control or non-ASCII character");
    auto colon = uri.find(':');
    if (colon == std::string_view::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(uri[0])) ||
        uri.substr(0, colon).find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") !=
            std::string_view::npos)
        return make_error("has no scheme (RFC 3986 §3.1)");
    return {};
}

// One GENERAL_NAME of a CSR's subjectAltName, checked.
result<san_entry> parse_entry(const GENERAL_NAME& gn, const name_limits& limits) {
    san_entry e;
    switch (gn.type) {
        case GEN_DNS: {
            e.kind = san_kind::dns;
            e.value = asn1_bytes(*gn.d.dNSName);
            if (auto r = check_dns_name(e.value, limits.allow_wildcards); !r)
                return make_error("DNS name \"" + shown(e.value) + "\" " + r.message());
            return e;
        }
        case GEN_IPADD: {
            e.kind = san_kind::ip;
            std::string raw = asn1_bytes(*gn.d.iPAddress);
            if (raw.size() != 4 && raw.size() != 16)
                return make_error("IP address entry of " + std::to_string(raw.size()) +
                                  " octets (an address has 4 or 16)");
            e.ip.assign(raw.begin(), raw.end());
            bio_ptr bio(BIO_new(BIO_s_mem()));
            GENERAL_NAME_print(bio.get(), const_cast<GENERAL_NAME*>(&gn));
            auto b = bio_contents(*bio);
            e.value.assign(b.begin(), b.end());
            if (e.value.rfind("IP Address:", 0) == 0) e.value.erase(0, 11);
            return e;
        }
        case GEN_EMAIL: {
            e.kind = san_kind::email;
            e.value = asn1_bytes(*gn.d.rfc822Name);
            if (auto r = check_email(e.value); !r) return make_error("email \"" + shown(e.value) + "\" " + r.message());
            return e;
        }
        case GEN_URI: {
            e.kind = san_kind::uri;
            e.value = asn1_bytes(*gn.d.uniformResourceIdentifier);
            if (auto r = check_uri(e.value); !r) return make_error("URI \"" + shown(e.value) + "\" " + r.message());
            return e;
        }
        case GEN_OTHERNAME: {
            // Microsoft's UPN (szOID_NT_PRINCIPAL_NAME): Windows, Intune and
            // RADIUS servers match user certificates on it.
            const OTHERNAME* other = gn.d.otherName;
            if (OBJ_obj2nid(other->type_id) != NID_ms_upn) {
                char oid[80];
                OBJ_obj2txt(oid, sizeof oid, other->type_id, 1);
                return make_error(std::string("otherName ") + oid + " is not accepted (only the Microsoft UPN, " +
                                  "1.3.6.1.4.1.311.20.2.3)");
            }
            if (!other->value || other->value->type != V_ASN1_UTF8STRING)
                return make_error("the UPN otherName is not a UTF8String");
            e.kind = san_kind::upn;
            e.value = asn1_bytes(*other->value->value.utf8string);
            long n = utf8_length(e.value);
            if (n <= 0 || static_cast<std::size_t>(n) > max_upn_length)
                return make_error("UPN \"" + shown(e.value) + "\" is empty, too long, not UTF-8 or holds a control character");
            return e;
        }
        case GEN_DIRNAME: return make_error("directoryName entries are not accepted (DNS, IP, email, URI and UPN are)");
        case GEN_RID: return make_error("registeredID entries are not accepted (DNS, IP, email, URI and UPN are)");
        case GEN_X400: return make_error("x400Address entries are not accepted (DNS, IP, email, URI and UPN are)");
        case GEN_EDIPARTY: return make_error("ediPartyName entries are not accepted (DNS, IP, email, URI and UPN are)");
        default: return make_error("an unknown subjectAltName entry type " + std::to_string(gn.type));
    }
}

// A certificate's own entries, read without policy (the lab issued them).
std::vector<san_entry> entries_of(const GENERAL_NAMES& names) {
    const name_limits lenient{.allow_wildcards = true, .max_sans = static_cast<std::size_t>(-1)};
    std::vector<san_entry> out;
    for (int i = 0; i < sk_GENERAL_NAME_num(&names); ++i)
        if (auto e = parse_entry(*sk_GENERAL_NAME_value(&names, i), lenient)) out.push_back(std::move(*e));
    return out;
}

std::string comparable(const san_entry& e) {
    // Host names and mail domains are case-insensitive (RFC 4343, RFC 5321 §2.4).
    if (e.kind == san_kind::dns) return "DNS:" + ascii_lower(e.value);
    if (e.kind == san_kind::email) {
        auto at = e.value.rfind('@');
        return "email:" + e.value.substr(0, at) + ascii_lower(e.value.substr(at));
    }
    return to_string(e);
}

}  // namespace

std::string to_string(const san_entry& e) {
    switch (e.kind) {
        case san_kind::dns: return "DNS:" + e.value;
        case san_kind::ip: return "IP:" + e.value;
        case san_kind::email: return "email:" + e.value;
        case san_kind::uri: return "URI:" + e.value;
        case san_kind::upn: return "UPN:" + e.value;
    }
    return e.value;
}

result<void> check_dns_name(std::string_view name, bool wildcard) {
    if (name.empty()) return make_error("is empty");
    if (name.size() > max_dns_length) return make_error("is longer than " + std::to_string(max_dns_length) + " characters");
    if (!printable_ascii(name)) return make_error("holds a NUL, space, control or non-ASCII character");
    std::vector<std::string_view> labels;
    for (std::size_t start = 0;;) {
        auto dot = name.find('.', start);
        labels.push_back(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
        std::string_view l = labels[i];
        if (l == "*" && i == 0) continue;  // judged below, once the rest is known to be a host name
        if (l.find('*') != std::string_view::npos)
            return make_error("has a '*' that is not the whole leftmost label");
        if (l.empty()) return make_error("has an empty label");
        if (l.size() > 63) return make_error("has a label longer than 63 characters");
        if (l.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
            std::string_view::npos)
            return make_error("has a character other than letters, digits, '-' and '.'");
        if (l.front() == '-' || l.back() == '-') return make_error("has a label that starts or ends with '-'");
    }
    if (labels.front() == "*") {
        if (!wildcard) return make_error("is a wildcard, which issuance.allow_wildcards does not allow");
        if (labels.size() < 3) return make_error("is a wildcard over fewer than two labels");
    }
    return {};
}

result<std::vector<san_entry>> requested_sans(const X509_REQ& csr, const name_limits& limits) {
    x509_ext_stack_ptr exts(X509_REQ_get_extensions(const_cast<X509_REQ*>(&csr)));
    ERR_clear_error();
    if (!exts) return std::vector<san_entry>{};
    int idx = X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, -1);
    if (idx < 0) return std::vector<san_entry>{};
    if (X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, idx) >= 0)
        return make_error("the CSR requests two subjectAltName extensions");
    general_names_ptr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(X509v3_get_ext(exts.get(), idx))));
    ERR_clear_error();
    if (!names) return make_error("the CSR's subjectAltName extension does not decode as GeneralNames");
    const int n = sk_GENERAL_NAME_num(names.get());
    if (n == 0) return make_error("the CSR's subjectAltName extension is empty (RFC 5280 §4.2.1.6: at least one entry)");
    if (static_cast<std::size_t>(n) > limits.max_sans)
        return make_error("the CSR requests " + std::to_string(n) + " subjectAltName entries; issuance.max_sans is " +
                          std::to_string(limits.max_sans));
    std::vector<san_entry> out;
    for (int i = 0; i < n; ++i) {
        auto e = parse_entry(*sk_GENERAL_NAME_value(names.get(), i), limits);
        if (!e) return make_error("subjectAltName: " + e.message());
        out.push_back(std::move(*e));
    }
    return out;
}

std::vector<san_entry> certificate_sans(const X509& cert) {
    general_names_ptr names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    ERR_clear_error();
    return names ? entries_of(*names) : std::vector<san_entry>{};
}

result<x509_ext_ptr> build_san_extension(const std::vector<san_entry>& sans, bool critical) {
    general_names_ptr names(GENERAL_NAMES_new());
    if (!names) return make_error(ossl_error("GENERAL_NAMES_new"));
    for (const auto& e : sans) {
        general_name_ptr gn(GENERAL_NAME_new());
        if (!gn) return make_error(ossl_error("GENERAL_NAME_new"));
        if (e.kind == san_kind::upn) {
            asn1_string_ptr utf8(ASN1_UTF8STRING_new());
            asn1_type_ptr value(ASN1_TYPE_new());
            if (!utf8 || !value || ASN1_STRING_set(utf8.get(), e.value.data(), static_cast<int>(e.value.size())) != 1)
                return make_error(ossl_error("UPN value"));
            ASN1_TYPE_set(value.get(), V_ASN1_UTF8STRING, utf8.release());
            if (GENERAL_NAME_set0_othername(gn.get(), OBJ_nid2obj(NID_ms_upn), value.get()) != 1)
                return make_error(ossl_error("UPN otherName"));
            (void)value.release();  // owned by gn now
        } else {
            asn1_string_ptr s(e.kind == san_kind::ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new());
            const std::string raw = e.kind == san_kind::ip ? std::string(e.ip.begin(), e.ip.end()) : e.value;
            if (!s || ASN1_STRING_set(s.get(), raw.data(), static_cast<int>(raw.size())) != 1)
                return make_error(ossl_error("subjectAltName value"));
            const int type = e.kind == san_kind::dns     ? GEN_DNS
                             : e.kind == san_kind::ip    ? GEN_IPADD
                             : e.kind == san_kind::email ? GEN_EMAIL
                                                         : GEN_URI;
            GENERAL_NAME_set0_value(gn.get(), type, s.release());
        }
        if (sk_GENERAL_NAME_push(names.get(), gn.get()) <= 0) return make_error(ossl_error("GeneralNames"));
        (void)gn.release();  // owned by names now
    }
    x509_ext_ptr ext(X509V3_EXT_i2d(NID_subject_alt_name, critical ? 1 : 0, names.get()));
    if (!ext) return make_error(ossl_error("encoding subjectAltName"));
    return ext;
}

std::vector<std::string> names_not_in(const std::vector<san_entry>& requested, const std::vector<san_entry>& allowed) {
    std::vector<std::string> have;
    for (const auto& a : allowed) have.push_back(comparable(a));
    std::vector<std::string> out;
    for (const auto& r : requested)
        if (std::find(have.begin(), have.end(), comparable(r)) == have.end()) out.push_back(to_string(r));
    return out;
}

namespace {

// RFC 5280 Appendix A.1 upper bounds (ub-*), in characters; X.520's for the
// postal code. Attributes without a bound there get `other_attribute_chars`.
struct attribute_bound {
    int nid;
    std::size_t chars;
};
constexpr attribute_bound attribute_bounds[] = {
    {NID_countryName, 2},           {NID_stateOrProvinceName, 128}, {NID_localityName, 128},
    {NID_organizationName, 64},     {NID_organizationalUnitName, 64}, {NID_title, 64},
    {NID_serialNumber, 64},         {NID_pkcs9_emailAddress, 255},  {NID_pseudonym, 128},
    {NID_dnQualifier, 64},          {NID_postalCode, 40},           {NID_domainComponent, 63},
    {NID_givenName, 64},            {NID_surname, 64},              {NID_initials, 64},
    {NID_generationQualifier, 64},  {NID_name, 64},                 {NID_userId, 64},
};

}  // namespace

std::size_t subject_attribute_bound(int nid, const name_limits& limits) {
    if (nid == NID_commonName) return limits.max_cn_length;
    for (const auto& b : attribute_bounds)
        if (b.nid == nid) return b.chars;
    return name_limits::other_attribute_chars;
}

std::string subject_for_matching(const X509_NAME& subject) {
    const unsigned char* der = nullptr;
    std::size_t der_len = 0;
    if (X509_NAME_get0_der(const_cast<X509_NAME*>(&subject), &der, &der_len) != 1 ||
        der_len > name_limits::max_subject_bytes)
        return {};
    return name_to_string(subject);
}

result<void> check_subject_name(const X509_NAME& subject, const name_limits& limits) {
    // The encoded subject as a whole first: nothing below (or a printed
    // subject matched by a pattern) ever sees a larger one.
    const unsigned char* der = nullptr;
    std::size_t der_len = 0;
    if (X509_NAME_get0_der(const_cast<X509_NAME*>(&subject), &der, &der_len) != 1)
        return make_error("the CSR subject cannot be encoded");
    if (der_len > name_limits::max_subject_bytes)
        return make_error("the CSR subject is " + std::to_string(der_len) + " bytes long; at most " +
                          std::to_string(name_limits::max_subject_bytes) + " are accepted");
    const int n = X509_NAME_entry_count(&subject);
    if (static_cast<std::size_t>(n) > limits.max_subject_rdns)
        return make_error("the CSR subject has " + std::to_string(n) + " attributes; issuance.max_subject_rdns is " +
                          std::to_string(limits.max_subject_rdns));
    for (int i = 0; i < n; ++i) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(&subject, i);
        const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
        const char* sn = nid == NID_undef ? "attribute" : OBJ_nid2sn(nid);
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        ossl_buffer_ptr owned(utf8);
        ERR_clear_error();
        if (len < 0) return make_error(std::string("the CSR subject's ") + sn + " is not a readable string");
        std::string value(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
        long chars = utf8_length(value);
        if (chars < 0)
            return make_error(std::string("the CSR subject's ") + sn + " \"" + shown(value) +
                              "\" holds a NUL or control character");
        if (nid == NID_commonName && static_cast<std::size_t>(chars) > limits.max_cn_length)
            return make_error("the CSR subject's CN has " + std::to_string(chars) +
                              " characters; issuance.max_cn_length is " + std::to_string(limits.max_cn_length));
        if (const std::size_t bound = subject_attribute_bound(nid, limits); static_cast<std::size_t>(chars) > bound)
            return make_error(std::string("the CSR subject's ") + sn + " has " + std::to_string(chars) +
                              " characters; at most " + std::to_string(bound) + " are accepted (RFC 5280 upper bounds)");
    }
    return {};
}

}  // namespace scep
