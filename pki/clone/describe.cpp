// A server's visible configuration as named properties, and two of them
// compared. Every value that came from the server is printed through
// printable_text: no control characters reach a terminal or a report.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <map>

#include "pki/clone/clone.hpp"
#include "pki/clone/describe.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/inspect/analysis.hpp"

namespace scep::clone {

namespace {

std::string safe(std::string_view s, std::size_t max = 512) { return printable_text(s, max, '?'); }

std::string asn1_type_name(int type) {
    switch (type) {
        case V_ASN1_PRINTABLESTRING: return "PrintableString";
        case V_ASN1_UTF8STRING: return "UTF8String";
        case V_ASN1_IA5STRING: return "IA5String";
        case V_ASN1_BMPSTRING: return "BMPString";
        case V_ASN1_T61STRING: return "TeletexString";
        case V_ASN1_UNIVERSALSTRING: return "UniversalString";
        case V_ASN1_NUMERICSTRING: return "NumericString";
        case V_ASN1_VISIBLESTRING: return "VisibleString";
        default: return "type " + std::to_string(type);
    }
}

std::string object_name(const ASN1_OBJECT* obj) {
    const int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef) return OBJ_nid2sn(nid);
    char buf[128] = {};
    OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return buf;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// One line: newlines and runs of spaces folded.
std::string one_line(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

}  // namespace

std::string name_text(const X509_NAME& name) {
    std::string out;
    int last_set = -1;
    for (int i = 0; i < X509_NAME_entry_count(&name); ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(&name, i);
        const ASN1_STRING* v = X509_NAME_ENTRY_get_data(e);
        unsigned char* raw = nullptr;
        const int n = ASN1_STRING_to_UTF8(&raw, v);
        const ossl_buffer_ptr utf8(raw);
        std::string value = n >= 0 ? std::string(reinterpret_cast<char*>(utf8.get()), static_cast<std::size_t>(n)) : "?";
        ERR_clear_error();
        const int set = X509_NAME_ENTRY_set(e);
        if (i > 0) out += set == last_set ? " + " : ", ";
        last_set = set;
        out += object_name(X509_NAME_ENTRY_get_object(e)) + "=" + safe(value, 256) + " (" +
               asn1_type_name(ASN1_STRING_type(v)) + ")";
    }
    return out.empty() ? "(empty)" : out;
}

std::string key_text(const X509& cert) {
    const EVP_PKEY* key = X509_get0_pubkey(&cert);
    ERR_clear_error();
    if (!key) return "unreadable";
    if (key_is_rsa(*key)) return "RSA " + std::to_string(key_bits(*key));
    if (key_is_ec(*key)) {
        char curve[64] = {};
        size_t len = 0;
        EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &len);
        return "EC " + std::string(curve);
    }
    return std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) + " " + std::to_string(key_bits(*key));
}

std::string signature_text(const X509& cert) {
    const int nid = X509_get_signature_nid(&cert);
    std::string out = nid == NID_undef ? "unknown" : OBJ_nid2ln(nid);
    if (nid == NID_rsassaPss) {
        const X509_ALGOR* alg = nullptr;
        X509_get0_signature(nullptr, &alg, &cert);
        const auto digests = alg ? signature_digests(*alg) : std::vector<int>{};
        if (digests.size() == 2)
            out += " (" + std::string(OBJ_nid2sn(digests[0])) + ", MGF1 " + OBJ_nid2sn(digests[1]) + ")";
    }
    return out;
}

std::string length_text(long long seconds) {
    std::string out;
    if (seconds < 0) return "negative (notAfter before notBefore)";
    if (seconds >= 86400) out += std::to_string(seconds / 86400) + "d";
    if (seconds % 86400) out += (out.empty() ? "" : " ") + std::to_string(seconds % 86400) + "s";
    return out.empty() ? "0s" : out;
}

long long validity_seconds(const X509& cert) {
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(&cert), X509_get0_notAfter(&cert)) != 1) return -1;
    return static_cast<long long>(days) * 86400 + secs;
}

std::string extension_text(const X509_EXTENSION& ext) {
    X509_EXTENSION* e = const_cast<X509_EXTENSION*>(&ext);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
    if (nid == NID_subject_key_identifier) {
        const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(e);
        return std::to_string(ASN1_STRING_length(data)) + " bytes";
    }
    if (nid == NID_authority_key_identifier) {
        authority_keyid_ptr aki(static_cast<AUTHORITY_KEYID*>(X509V3_EXT_d2i(e)));
        ERR_clear_error();
        if (!aki) return "undecodable";
        std::string form;
        if (aki->keyid) form += "keyid";
        if (aki->issuer) form += std::string(form.empty() ? "" : ", ") + "issuer";
        if (aki->serial) form += std::string(form.empty() ? "" : ", ") + "serial";
        return form.empty() ? "empty" : form;
    }
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (X509V3_EXT_print(bio.get(), e, 0, 0) != 1) {
        ERR_clear_error();
        const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(e);
        return "DER " + to_hex(byte_view(ASN1_STRING_get0_data(data), static_cast<std::size_t>(ASN1_STRING_length(data))));
    }
    return safe(one_line(bio_text(bio.get())), 2048);
}

std::string extension_name(const X509_EXTENSION& ext) {
    return object_name(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(&ext)));
}

void describe_certificate(const X509& cert, const std::string& role, std::vector<property>& out) {
    const std::string p = "cert." + role + ".";
    out.push_back({p + "subject", name_text(*X509_get_subject_name(&cert))});
    out.push_back({p + "issuer", name_text(*X509_get_issuer_name(&cert))});
    out.push_back({p + "version", "v" + std::to_string(X509_get_version(&cert) + 1)});
    out.push_back({p + "key", key_text(cert)});
    out.push_back({p + "signature", signature_text(cert)});
    out.push_back({p + "validity", length_text(validity_seconds(cert))});
    std::string order;
    for (int i = 0; i < X509_get_ext_count(&cert); ++i) {
        const X509_EXTENSION* ext = X509_get_ext(&cert, i);
        const std::string name = extension_name(*ext);
        order += (order.empty() ? "" : ", ") + name;
        const bool critical = X509_EXTENSION_get_critical(ext) == 1;
        out.push_back({p + "ext." + name, std::string(critical ? "critical: " : "") + extension_text(*ext)});
    }
    out.push_back({p + "extensions", order.empty() ? "(none)" : order});
    // What a clone cannot copy.
    out.push_back({p + "serial", serial_hex(cert), true});
    out.push_back({p + "not_before", time_to_iso8601(*X509_get0_notBefore(&cert)), true});
    out.push_back({p + "not_after", time_to_iso8601(*X509_get0_notAfter(&cert)), true});
    out.push_back({p + "fingerprint", to_hex(digest(EVP_sha256(), x509_to_der(cert))), true});
}

admin_facts read_admin_page(const std::string& raw) {
    admin_facts f;
    std::string text;
    std::size_t start = 0;
    if (raw.size() >= 2 && static_cast<unsigned char>(raw[0]) == 0xff && static_cast<unsigned char>(raw[1]) == 0xfe) {
        f.encoding = "utf-16le-bom";
        start = 2;
    } else if (raw.size() >= 2 && raw[1] == '\0') {
        f.encoding = "utf-16le";
    } else {
        f.encoding = "utf-8";
    }
    if (f.encoding != "utf-8") {
        // The page is ASCII in UTF-16LE: the low bytes are the text.
        for (std::size_t i = start; i + 1 < raw.size(); i += 2)
            text += raw[i + 1] == '\0' ? raw[i] : '?';
    } else {
        text = raw;
    }
    auto between = [&](std::string_view before) -> std::optional<std::string> {
        const auto at = text.find(before);
        if (at == std::string::npos) return std::nullopt;
        const auto open = text.find("<B>", at);
        const auto close = text.find("</B>", open == std::string::npos ? at : open);
        if (open == std::string::npos || close == std::string::npos) return std::nullopt;
        std::string v = text.substr(open + 3, close - open - 3);
        v.erase(0, v.find_first_not_of(' '));
        v.erase(v.find_last_not_of(' ') + 1);
        return v;
    };
    if (text.empty()) {
        f.answer = "empty";
    } else if (auto password = between("The enrollment challenge password is")) {
        f.answer = text.find("will not expire") != std::string::npos ? "single-password" : "password";
        const bool hex = !password->empty() && std::all_of(password->begin(), password->end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
        });
        f.password_length = password->size();
        f.password_hex = hex;
        if (auto thumb = between("The thumbprint (hash value) for the CA certificate is")) {
            std::string hexdigits;
            for (char c : *thumb)
                if (c != ' ') hexdigits += c;
            f.thumbprint = safe(hexdigits, 128);
        }
        const auto within = text.find("will expire within ");
        if (within != std::string::npos) f.validity_minutes = std::atoi(text.c_str() + within + 19);
    } else if (text.find("The password cache is full") != std::string::npos) {
        f.answer = "cache-full";
    } else if (text.find("You do not have sufficient permission") != std::string::npos) {
        f.answer = "no-permission";
    } else {
        f.answer = "unrecognised page";
    }
    return f;
}

namespace {
// A certificate may carry one extension twice, a server may send one role
// twice: the second of a name is "name#2", so that each compares with its twin.
void number_repeats(std::vector<property>& props) {
    std::map<std::string, int> seen;
    for (auto& p : props)
        if (const int n = ++seen[p.name]; n > 1) p.name += "#" + std::to_string(n);
}
std::vector<property> describe_all(const server_view& view);
}  // namespace

std::vector<property> describe(const server_view& view) {
    auto out = describe_all(view);
    number_repeats(out);
    return out;
}

namespace {
std::vector<property> describe_all(const server_view& view) {
    std::vector<property> out;
    if (!view.scep_path.empty()) out.push_back({"scep.path", safe(view.scep_path)});
    if (!view.server_header.empty() || !view.scep_path.empty())
        out.push_back({"http.server", view.server_header.empty() ? "(none)" : safe(view.server_header)});
    if (!view.powered_by.empty() || !view.scep_path.empty())
        out.push_back({"http.x_powered_by", view.powered_by.empty() ? "(none)" : safe(view.powered_by)});
    if (view.caps) {
        const caps_form form = read_caps(*view.caps);
        std::string list;
        for (const auto& c : form.words) list += (list.empty() ? "" : ", ") + safe(c, 64);
        out.push_back({"caps.list", list.empty() ? "(empty)" : list});
        out.push_back({"caps.line_end", form.line_end});
        out.push_back({"caps.final_line_end", form.final_line_end ? "yes" : "no"});
        if (!view.caps_content_type.empty()) out.push_back({"caps.content_type", safe(view.caps_content_type)});
    }
    if (!view.cacert_content_type.empty()) out.push_back({"cacert.content_type", safe(view.cacert_content_type)});
    if (view.certrep)
        if (auto issuer = certrep_signer_issuer(*view.certrep)) out.push_back({"certrep.signer_issuer", name_text(*issuer)});
    if (view.certs.empty()) {
        describe_certrep(view, out);
        return out;
    }
    out.push_back({"cacert.form", view.single ? "one DER certificate" : "degenerate PKCS#7 (certs-only)"});
    auto r = assign_roles(view.certs);
    if (!r) {
        out.push_back({"cacert.roles", "unreadable: " + r.message()});
        return out;
    }
    std::string order;
    for (const auto& c : view.certs) order += (order.empty() ? "" : ", ") + r->role_of(c.get());
    out.push_back({"cacert.order", order});
    out.push_back({"cacert.root_sent", r->root_missing ? "no" : "yes"});
    out.push_back({"cacert.ra", r->ra_encryption ? "signing + encryption pair" : r->ra_signing ? "one RA" : "the CA is its own RA"});
    for (const auto& c : view.certs) describe_certificate(*c, r->role_of(c.get()), out);
    if (view.next_status) out.push_back({"next.status", std::to_string(view.next_status)});
    if (view.admin_needs_login) out.push_back({"admin.login", "required (HTTP Basic)"});
    if (view.admin_page || view.admin_status) {
        out.push_back({"admin.status", std::to_string(view.admin_status)});
        if (view.admin_page && view.admin_status == 200) {
            const admin_facts f = read_admin_page(*view.admin_page);
            out.push_back({"admin.encoding", f.encoding});
            out.push_back({"admin.answer", f.answer});
            if (f.password_length)
                out.push_back({"admin.password_form", std::to_string(f.password_length) + (f.password_hex ? " hex digits" : " characters")});
            if (f.validity_minutes) out.push_back({"admin.password_validity", std::to_string(f.validity_minutes) + " minutes"});
            if (!f.thumbprint.empty()) {
                std::string of = "none of the certificates sent";
                for (const auto& c : view.certs)
                    if (ascii_lower(to_hex(digest(EVP_md5(), x509_to_der(*c)))) == ascii_lower(f.thumbprint))
                        of = r->role_of(c.get());
                out.push_back({"admin.thumbprint_of", of});
                out.push_back({"admin.thumbprint", f.thumbprint, true});
            }
        }
    }
    describe_certrep(view, out);
    return out;
}
}  // namespace

void describe_certrep(const server_view& view, std::vector<property>& out) {
    if (view.certrep) {
        const std::string body(view.certrep->begin(), view.certrep->end());
        const inspect::reply_report rep = inspect::analyze_reply(body, "application/x-pki-message");
        if (!rep.error.empty()) out.push_back({"certrep.error", safe(rep.error)});
        out.push_back({"certrep.status", rep.pki_status.empty() ? "(none)" : safe(rep.pki_status)});
        if (!rep.fail_info.empty()) out.push_back({"certrep.fail_info", safe(rep.fail_info)});
        out.push_back({"certrep.digest", rep.digest.empty() ? "(none)" : safe(rep.digest)});
        out.push_back({"certrep.signature_algorithm", rep.signature_algorithm.empty() ? "(none)" : safe(rep.signature_algorithm)});
        out.push_back({"certrep.certificates", std::to_string(rep.certificates.size())});
    }
}

caps_form read_caps(const std::string& body) {
    caps_form f;
    const bool crlf = body.find("\r\n") != std::string::npos;
    f.line_end = body.find('\n') == std::string::npos ? "none" : crlf ? "CRLF" : "LF";
    f.final_line_end = !body.empty() && body.back() == '\n';
    f.words = inspect::capability_words(body);
    return f;
}

std::vector<difference> compare(const std::vector<property>& a, const std::vector<property>& b) {
    std::vector<difference> out;
    std::map<std::string, const property*> in_b;
    for (const auto& p : b) in_b[p.name] = &p;
    std::map<std::string, bool> seen;
    for (const auto& p : a) {
        seen[p.name] = true;
        auto it = in_b.find(p.name);
        if (it == in_b.end()) {
            out.push_back({p.name, p.value, "(absent)", p.uncopyable});
        } else if (it->second->value != p.value) {
            out.push_back({p.name, p.value, it->second->value, p.uncopyable || it->second->uncopyable});
        }
    }
    for (const auto& p : b)
        if (!seen.count(p.name)) out.push_back({p.name, "(absent)", p.value, p.uncopyable});
    return out;
}

}  // namespace scep::clone
