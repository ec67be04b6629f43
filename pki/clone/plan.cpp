// The lab a clone writes: the configuration (readable TOML a support
// engineer edits) and the fidelity report (what was copied, approximated,
// generated or could not be known). Everything written into the TOML that
// came from the server is quoted through toml_string and checked first.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "pki/clone/clone.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/clone/describe.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/inspect/analysis.hpp"

namespace scep::clone {

namespace {

// Text for a TOML file (UTF-8 only): what is not valid UTF-8 becomes '?'.
std::string utf8_only(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        auto ch = decode_utf8(s, i);
        if (!ch) {
            out += '?';
            ++i;
            continue;
        }
        out.append(s.substr(i, ch->size));
        i += ch->size;
    }
    return out;
}

// An HTTP header value as server.header_* takes it: printable ASCII, 256 at most.
std::string header_value(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 256)) out += static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e ? c : '?';
    return out;
}

// A comment line: UTF-8, no line break or other control character.
std::string comment(std::string_view s) { return printable_text(utf8_only(s), 400, '?'); }

std::string toml_string(std::string_view raw) {
    const std::string s = utf8_only(raw);
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            static const char* hex = "0123456789ABCDEF";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string toml_list(const std::vector<std::string>& items, bool one_per_line) {
    if (items.empty()) return "[]";
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i)
        out += (one_per_line ? "\n  " : (i ? ", " : "")) + toml_string(items[i]) + (one_per_line ? "," : "");
    return out + (one_per_line ? "\n]" : "]");
}

bytes der_of_extension_value(const X509_EXTENSION& ext) {
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(&ext));
    return bytes(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
}

std::string colon_hex(const bytes& b) {
    std::string out;
    static const char* hex = "0123456789ABCDEF";
    for (auto c : b) {
        if (!out.empty()) out += ':';
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

std::string dotted(const ASN1_OBJECT* obj) {
    char buf[128] = {};
    OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return buf;
}

// A readable x509v3_config value for the extensions OpenSSL writes back
// byte for byte; empty when there is none (the DER form is used).
std::string readable_value(const X509_EXTENSION& ext) {
    X509_EXTENSION* e = const_cast<X509_EXTENSION*>(&ext);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
    switch (nid) {
        case NID_basic_constraints: case NID_key_usage: case NID_ext_key_usage: case NID_crl_distribution_points:
        case NID_info_access: case NID_subject_key_identifier: case NID_authority_key_identifier: break;
        default: return "";  // written as DER
    }
    void* decoded = X509V3_EXT_d2i(e);
    ERR_clear_error();
    if (!decoded) return "";
    std::string out;
    switch (nid) {
        case NID_basic_constraints: {
            basic_constraints_ptr bc(static_cast<BASIC_CONSTRAINTS*>(decoded));
            out = bc->ca ? "CA:TRUE" : "CA:FALSE";
            if (bc->pathlen) out += ",pathlen:" + std::to_string(ASN1_INTEGER_get(bc->pathlen));
            return out;
        }
        case NID_key_usage: {
            asn1_bit_string_ptr ku(static_cast<ASN1_BIT_STRING*>(decoded));
            static const char* names[] = {"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
                                          "keyAgreement",     "keyCertSign",    "cRLSign",         "encipherOnly",
                                          "decipherOnly"};
            for (int bit = 0; bit < 9; ++bit)
                if (ASN1_BIT_STRING_get_bit(ku.get(), bit)) out += (out.empty() ? "" : ",") + std::string(names[bit]);
            return out;
        }
        case NID_ext_key_usage: {
            extended_key_usage_ptr eku(static_cast<EXTENDED_KEY_USAGE*>(decoded));
            for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
                const ASN1_OBJECT* o = sk_ASN1_OBJECT_value(eku.get(), i);
                const int n = OBJ_obj2nid(o);
                out += (out.empty() ? "" : ",") + (n != NID_undef ? std::string(OBJ_nid2sn(n)) : dotted(o));
            }
            return out;
        }
        case NID_crl_distribution_points: {
            dist_point_stack_ptr dps(static_cast<STACK_OF(DIST_POINT)*>(decoded));
            for (int i = 0; i < sk_DIST_POINT_num(dps.get()); ++i) {
                const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
                if (!dp->distpoint || dp->distpoint->type != 0 || dp->reasons || dp->CRLissuer) return "";
                const GENERAL_NAMES* names = dp->distpoint->name.fullname;
                for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
                    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, j);
                    if (g->type != GEN_URI) return "";
                    out += (out.empty() ? "" : ",") + std::string("URI:") +
                           std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier)),
                                       static_cast<std::size_t>(ASN1_STRING_length(g->d.uniformResourceIdentifier)));
                }
            }
            return out;
        }
        case NID_info_access: {
            authority_info_access_ptr aia(static_cast<AUTHORITY_INFO_ACCESS*>(decoded));
            for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
                const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
                const int method = OBJ_obj2nid(ad->method);
                if (ad->location->type != GEN_URI || (method != NID_ad_ca_issuers && method != NID_ad_OCSP)) return "";
                out += (out.empty() ? "" : ",") + std::string(method == NID_ad_OCSP ? "OCSP" : "caIssuers") + ";URI:" +
                       std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier)),
                                   static_cast<std::size_t>(ASN1_STRING_length(ad->location->d.uniformResourceIdentifier)));
            }
            return out;
        }
        case NID_subject_key_identifier: {
            asn1_octet_string_ptr ski(static_cast<ASN1_OCTET_STRING*>(decoded));
            return "hash";
        }
        case NID_authority_key_identifier: {
            authority_keyid_ptr aki(static_cast<AUTHORITY_KEYID*>(decoded));
            if (aki->keyid && !aki->issuer && !aki->serial) return "keyid:always";
            if (aki->keyid && aki->issuer && aki->serial) return "keyid:always,issuer:always";
            if (!aki->keyid && aki->issuer && aki->serial) return "issuer:always";
            return "";
        }
        default: return "";  // not reached: other extensions return before decoding
    }
}

// Whether `line` builds exactly `ext` (no certificate context: not for SKI/AKI).
bool builds_exactly(const std::string& line, const X509_EXTENSION& ext) {
    auto built = extension_from_line(line);
    ERR_clear_error();
    if (!built) return false;
    return X509_EXTENSION_get_critical(built->get()) == X509_EXTENSION_get_critical(&ext) &&
           OBJ_cmp(X509_EXTENSION_get_object(built->get()), X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(&ext))) == 0 &&
           der_of_extension_value(*built->get()) == der_of_extension_value(ext);
}

}  // namespace

std::string extension_line(const X509_EXTENSION& ext, bool* readable) {
    X509_EXTENSION* e = const_cast<X509_EXTENSION*>(&ext);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
    const std::string critical = X509_EXTENSION_get_critical(e) == 1 ? "critical," : "";
    const std::string name = nid != NID_undef ? OBJ_nid2sn(nid) : dotted(X509_EXTENSION_get_object(e));
    const std::string value = readable_value(ext);
    if (!value.empty()) {
        const std::string line = name + " = " + critical + value;
        // Key identifiers depend on the new keys: their form is what is copied.
        if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier || builds_exactly(line, ext)) {
            if (readable) *readable = true;
            return line;
        }
    }
    if (readable) *readable = false;
    return dotted(X509_EXTENSION_get_object(e)) + " = " + critical + "DER:" + colon_hex(der_of_extension_value(ext));
}

std::string fidelity_text(const std::vector<fidelity_row>& rows) {
    std::size_t w1 = 8, w2 = 7;
    for (const auto& r : rows) {
        w1 = std::max(w1, r.property.size());
        w2 = std::max(w2, r.verdict.size());
    }
    std::string out;
    auto pad = [](std::string s, std::size_t w) { return s + std::string(w > s.size() ? w - s.size() : 0, ' '); };
    out += pad("property", w1) + "  " + pad("verdict", w2) + "  detail\n";
    for (const auto& r : rows) out += pad(r.property, w1) + "  " + pad(r.verdict, w2) + "  " + r.detail + "\n";
    return out;
}

std::string fidelity_markdown(const std::vector<fidelity_row>& rows, const std::string& source) {
    // HTML's escapes (Markdown renders them) and the table's separator.
    auto cell = [](const std::string& s) {
        std::string out;
        for (char c : markup_escape(s)) out += c == '|' ? std::string("\\|") : std::string(1, c);
        return out;
    };
    std::string out = "# Fidelity of this clone\n\nCloned from " + cell(source) +
                      ". Verdicts: *copied* (the lab shows the same), *approximated* (close, and why), *generated* "
                      "(not shown by the server: made to fit), *unknown* (a client cannot see it), *not copied* "
                      "(keys, serials, dates, fingerprints: a clone has its own).\n\n| property | verdict | detail |\n|---|---|---|\n";
    for (const auto& r : rows) out += "| " + cell(r.property) + " | " + cell(r.verdict) + " | " + cell(r.detail) + " |\n";
    return out;
}

}  // namespace scep::clone

namespace scep::clone {

namespace {

struct key_choice {
    std::string name;  // config key name
    std::string note;  // why approximated; empty when exact
};

key_choice key_for(const X509& cert, bool must_be_rsa) {
    const EVP_PKEY* key = X509_get0_pubkey(&cert);
    ERR_clear_error();
    const std::string shown = key_text(cert);
    if (key && key_is_rsa(*key)) {
        const int bits = key_bits(*key);
        if (bits == 2048 || bits == 3072 || bits == 4096) return {"rsa" + std::to_string(bits), ""};
        const std::string pick = bits < 2048 ? "rsa2048" : bits < 3072 ? "rsa3072" : "rsa4096";
        return {pick, shown + " is not a size the lab generates: " + pick};
    }
    if (key && key_is_ec(*key) && !must_be_rsa) {
        if (shown == "EC prime256v1") return {"ec-p256", ""};
        if (shown == "EC secp384r1") return {"ec-p384", ""};
        return {"ec-p384", shown + " is not a curve the lab generates: ec-p384"};
    }
    if (must_be_rsa) return {"rsa2048", shown + ": the lab's RA keys are RSA (clients encrypt to them): rsa2048"};
    return {"rsa2048", shown + " is not a key type the lab generates: rsa2048"};
}

// "3650d" when whole days, else seconds: the exact length.
std::string duration_text(long long seconds) {
    if (seconds > 0 && seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
    return std::to_string(std::max(seconds, 60LL)) + "s";
}

std::string ndes_version(const std::string& server) {
    struct row {
        const char* iis;
        const char* windows;
    };
    static const row rows[] = {{"Microsoft-IIS/10.0", "Windows Server 2016, 2019, 2022 or 2025"},
                               {"Microsoft-IIS/8.5", "Windows Server 2012 R2"},
                               {"Microsoft-IIS/8.0", "Windows Server 2012"},
                               {"Microsoft-IIS/7.5", "Windows Server 2008 R2"},
                               {"Microsoft-IIS/7.0", "Windows Server 2008"},
                               {"Microsoft-IIS/6.0", "Windows Server 2003"}};
    for (const auto& r : rows)
        if (server == r.iis) return r.windows;
    return "";
}

class plan_writer {
public:
    plan_writer(const server_view& v, const clone_options& o) : view_(v), opt_(o) {}

    result<lab_plan> run();

private:
    // All a lone CertRep shows: its CA's name (the signer's issuer) and digest.
    result<lab_plan> run_from_certrep();
    void row(std::string property, std::string verdict, std::string detail) {
        plan_.fidelity.push_back({std::move(property), std::move(verdict), std::move(detail)});
    }
    // The certificate's shape keys (subject, subject_der, key, validity, signature, extensions, dates).
    void shape(std::ostringstream& o, const X509& cert, const std::string& role, const std::string& parent,
               bool ra, bool write_key);
    std::string extension_for(const X509_EXTENSION& ext, const std::string& role, const std::string& parent);
    // A CDP or AIA with its HTTP URLs on the lab's address, their paths kept
    // (served for `parent`: crl_paths, cert_paths); nullopt for a form it
    // does not rewrite (several distribution points, reasons, CRL issuers).
    std::optional<std::string> rewrite_urls(const X509_EXTENSION& ext, bool cdp, const std::string& parent,
                                            const std::string& where);
    // The served-path lines of a tier, written once every certificate is read.
    std::string served_paths(const std::string& tier) const;

    const server_view& view_;
    const clone_options& opt_;
    lab_plan plan_;
    std::map<std::string, std::vector<std::string>> crl_paths_, cert_paths_;
    std::map<std::string, std::string> path_owner_;
};

// "http://host:port/a/b.crl?x" -> "/a/b.crl?x"; "" when it is not http(s) or
// its path is not one the lab can serve under a list-safe spelling.
std::string url_path(const std::string& url) {
    std::size_t at = url.rfind("http://", 0) == 0 ? 7 : url.rfind("https://", 0) == 0 ? 8 : std::string::npos;
    if (at == std::string::npos) return "";
    const auto slash = url.find('/', at);
    if (slash == std::string::npos) return "";
    std::string path = url.substr(slash);
    if (path.size() < 2 || path.size() > 1024 ||
        std::any_of(path.begin(), path.end(), [](char c) {
            return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == ',' || c == '#' ||
                   c == '"' || c == '\\';
        }))
        return "";
    return path;
}

std::string uri_text(const GENERAL_NAME& g) {
    const ASN1_STRING* s = g.d.uniformResourceIdentifier;
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::optional<std::string> plan_writer::rewrite_urls(const X509_EXTENSION& ext, bool cdp, const std::string& parent,
                                                     const std::string& where) {
    X509_EXTENSION* e = const_cast<X509_EXTENSION*>(&ext);
    struct entry {
        std::string method;  // "" (CDP), "caIssuers", "OCSP"
        std::string url;
    };
    std::vector<entry> in;
    if (cdp) {
        dist_point_stack_ptr dps(static_cast<STACK_OF(DIST_POINT)*>(X509V3_EXT_d2i(e)));
        ERR_clear_error();
        if (!dps || sk_DIST_POINT_num(dps.get()) != 1) return std::nullopt;
        const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), 0);
        if (!dp->distpoint || dp->distpoint->type != 0 || dp->reasons || dp->CRLissuer) return std::nullopt;
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); ++j) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
            if (g->type != GEN_URI) return std::nullopt;
            in.push_back({"", uri_text(*g)});
        }
    } else {
        authority_info_access_ptr aia(static_cast<AUTHORITY_INFO_ACCESS*>(X509V3_EXT_d2i(e)));
        ERR_clear_error();
        if (!aia) return std::nullopt;
        for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
            const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
            const int method = OBJ_obj2nid(ad->method);
            if (ad->location->type != GEN_URI || (method != NID_ad_ca_issuers && method != NID_ad_OCSP)) return std::nullopt;
            in.push_back({method == NID_ad_OCSP ? "OCSP" : "caIssuers", uri_text(*ad->location)});
        }
    }
    std::string value, what;
    int rewritten = 0, dropped = 0;
    for (const auto& [method, url] : in) {
        std::string out = url;
        const bool fetches_ca = cdp || method == "caIssuers";
        if (fetches_ca && (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0)) {
            std::string path = url_path(url);
            auto& owner = path_owner_[path];
            if (path.empty() || (!owner.empty() && owner != parent)) {
                path = cdp ? "/crl/" + parent + ".crl" : "/ca/" + parent + ".crt";  // the lab's own
            } else {
                owner = parent;
                auto& list = cdp ? crl_paths_[parent] : cert_paths_[parent];
                if (std::find(list.begin(), list.end(), path) == list.end()) list.push_back(path);
            }
            out = "${lab}" + path;
            ++rewritten;
        } else if (url.find_first_of(",\"\\") != std::string::npos || url.empty()) {
            ++dropped;  // an LDAP URL with commas cannot be written as a list entry; the lab serves no LDAP
            continue;
        }
        value += std::string(value.empty() ? "" : ",") + (method.empty() ? "" : method + ";") + "URI:" + out;
    }
    if (value.empty()) return std::nullopt;
    const std::string line = std::string(cdp ? "crlDistributionPoints" : "authorityInfoAccess") + " = " +
                             (X509_EXTENSION_get_critical(e) == 1 ? "critical," : "") + value;
    if (!check_extension_line(line)) {
        ERR_clear_error();
        return std::nullopt;
    }
    if (rewritten == 0 && dropped == 0) {
        row(where, "copied", "no HTTP URL to rewrite: " + extension_text(ext));
        return line;
    }
    what = std::to_string(rewritten) + " HTTP URL(s) on the lab's address with their paths (served there)";
    if (dropped) what += "; " + std::to_string(dropped) + " LDAP URL(s) left out (the lab serves no LDAP)";
    row(where, "approximated", what + "; the original: " + extension_text(ext) + " (clone --verbatim-urls keeps it)");
    return line;
}

std::string plan_writer::served_paths(const std::string& tier) const {
    std::string out;
    for (const auto& [key, map] : {std::pair{"crl_paths", &crl_paths_}, std::pair{"cert_paths", &cert_paths_}})
        if (auto it = map->find(tier); it != map->end())
            out += std::string(key) + " = " + toml_list(it->second, false) + "  # the customer's URL paths, served here\n";
    return out;
}

std::string plan_writer::extension_for(const X509_EXTENSION& ext, const std::string& role, const std::string& parent) {
    bool readable = false;
    std::string line = extension_line(ext, &readable);
    const std::string name = extension_name(ext);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(&ext)));
    const std::string where = "cert." + role + ".ext." + name;
    if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) {
        row(where, "copied", "its form (" + extension_text(ext) + "); the identifier is the new key's");
        return line;
    }
    if ((nid == NID_crl_distribution_points || nid == NID_info_access) && !opt_.verbatim_urls) {
        if (auto rewritten = rewrite_urls(ext, nid == NID_crl_distribution_points, parent, where)) return *rewritten;
        row(where, "copied", "verbatim: a form the lab does not rewrite (the customer's URLs)");
        return line;
    }
    row(where, "copied", readable ? "as x509v3_config text that rebuilds the same DER" : "as DER (opaque)");
    return line;
}

void plan_writer::shape(std::ostringstream& o, const X509& cert, const std::string& role, const std::string& parent,
                        bool ra, bool write_key) {
    const std::string p = "cert." + role + ".";
    const X509_NAME* subject = X509_get_subject_name(&cert);
    const std::string text = name_to_string(*subject);
    auto encoded = der_encode(*subject, i2d_X509_NAME, "i2d_X509_NAME");
    const bytes subject_der = encoded ? *encoded : bytes{};
    o << "# " << comment(name_text(*subject)) << "\n";
    o << "subject = " << toml_string(text) << "\n";
    o << "subject_der = " << toml_string(base64_encode(subject_der)) << "  # wins over subject: order and string types\n";
    row(p + "subject", "copied", "exact DER (attribute order and string types)");
    if (write_key) {
        const key_choice k = key_for(cert, ra);
        o << "key = " << toml_string(k.name) << "\n";
        row(p + "key", k.note.empty() ? "copied" : "approximated", k.note.empty() ? key_text(cert) : k.note);
    }
    const long long seconds = validity_seconds(cert);
    o << "validity = " << toml_string(duration_text(seconds)) << "\n";
    row(p + "validity", "copied", length_text(seconds) + (opt_.original_dates ? " (the original's dates)" : " from now"));
    if (opt_.original_dates) {
        o << "not_before = " << toml_string(utc_text(asn1_time_point(*X509_get0_notBefore(&cert)))) << "\n";
        o << "not_after = " << toml_string(utc_text(asn1_time_point(*X509_get0_notAfter(&cert)))) << "\n";
    }
    if (auto sig = signature_of(cert)) {
        o << "signature = " << toml_string(to_string(*sig)) << "\n";
        row(p + "signature", "copied", signature_text(cert));
    } else {
        row(p + "signature", "approximated", signature_text(cert) + " is not one the lab signs with: the key's default");
    }
    std::vector<std::string> lines;
    for (int i = 0; i < X509_get_ext_count(&cert); ++i) lines.push_back(extension_for(*X509_get_ext(&cert, i), role, parent));
    o << "extensions = " << toml_list(lines, true) << "\n";
    if (lines.empty()) row(p + "extensions", "copied", "none");
}

result<lab_plan> plan_writer::run_from_certrep() {
    const auto issuer = view_.certrep ? certrep_signer_issuer(*view_.certrep) : nullptr;
    if (!issuer) return make_error("no certificate and no CertRep signer: nothing to clone");
    auto encoded = der_encode(*issuer, i2d_X509_NAME, "i2d_X509_NAME");
    if (!encoded) return encoded.err();
    const std::string body(view_.certrep->begin(), view_.certrep->end());
    const inspect::reply_report rep = inspect::analyze_reply(body, "application/x-pki-message");
    const bool ndes = opt_.ndes;
    std::ostringstream o;
    o << "# scep-lab configuration cloned from a CertRep (" << comment(view_.source) << ")\n"
      << "# by `scep-lab clone`: serve it with  scep-lab serve --config <this file>\n"
      << "# A CertRep names only its CA and its digest: fidelity.md says what was generated.\n\n";
    o << "data_dir = " << toml_string(opt_.data_dir) << "\n\n";
    if (view_.caps) {
        const caps_form form = read_caps(*view_.caps);
        o << "[scep]\ncapabilities = " << toml_list(form.words, false) << "\ncapabilities_line_end = "
          << (form.line_end == "CRLF" ? "\"crlf\"" : "\"lf\"") << "\ncapabilities_final_line_end = "
          << (form.final_line_end ? "true" : "false") << "\n\n";
        row("caps.list", "copied", std::to_string(form.words.size()) + " keywords in their order");
    } else {
        row("caps.list", "unknown", "no GetCACaps answer given: the lab's defaults");
    }
    if (ndes) {
        o << "[ndes]\nenabled = true\n";
        if (rep.digest != "sha1" && !rep.digest.empty()) o << "reply_digest = \"mirror\"\n";
        o << "\n";
        row("ndes", "copied", "NDES mode (--ndes)");
        row("certrep.digest", "copied", rep.digest + (rep.digest == "sha1" ? " (NDES's SHA-1)" : " (mirrored)"));
    } else {
        row("certrep.digest", "approximated", rep.digest + ": outside NDES mode the lab mirrors the request's digest (--ndes for NDES)");
    }
    o << "[pki]\nca_as_ra = false\n\n# The CA the CertRep's signer names; everything else about it is the lab's.\n"
      << "[[pki.tiers]]\nname = \"issuing\"\nsubject = " << toml_string(name_to_string(*issuer)) << "\nsubject_der = "
      << toml_string(base64_encode(*encoded)) << "\nkey = \"rsa2048\"\nvalidity = \"3650d\"\n\n";
    row("cert.issuing.subject", "copied", "the exact DER of the CertRep signer's issuer: " + name_text(*issuer));
    row("cert.issuing", "generated",
        "a CertRep carries no CA certificate: key, validity, extensions and whether it is a root are the lab's");
    row("cacert.ra", "generated", ndes ? "NDES's RA pair with the lab's names" : "one RA with the lab's name");
    if (!rep.fail_info.empty())
        row("certrep.fail_info", "not copied", rep.fail_info + ": a failure is reproduced with a fault rule (docs/faults.md)");
    row("keys", "not copied", "every key is generated fresh");
    plan_.toml = o.str();
    return std::move(plan_);
}

result<lab_plan> plan_writer::run() {
    if (view_.certs.empty()) return run_from_certrep();
    auto r = assign_roles(view_.certs);
    if (!r) return make_error("GetCACert: " + r.message());
    const std::size_t n = r->tiers.size() + (r->root_missing ? 1 : 0);
    const auto names = tier_names(n);
    const std::size_t offset = r->root_missing ? 1 : 0;

    // What kind of server: NDES shows itself by its path, IIS, its admin page.
    const bool ndes = opt_.ndes || view_.scep_path.find("mscep") != std::string::npos ||
                      view_.server_header.rfind("Microsoft-IIS", 0) == 0 || view_.admin_page.has_value() ||
                      view_.admin_needs_login;
    std::ostringstream o;
    o << "# scep-lab configuration cloned from " << comment(view_.source) << "\n"
      << "# by `scep-lab clone`: serve it with  scep-lab serve --config <this file>\n"
      << "# fidelity.md beside it says what was copied, approximated, generated or could not be known.\n\n";
    o << "data_dir = " << toml_string(opt_.data_dir) << "\n\n";

    // [server]: HTTP identity.
    o << "[server]\n";
    if (!view_.server_header.empty()) {
        o << "header_server = " << toml_string(header_value(view_.server_header)) << "\n";
        row("http.server", "copied", header_value(view_.server_header));
        const std::string windows = ndes_version(view_.server_header);
        if (!windows.empty())
            row("ndes.version", "unknown", "IIS version says " + windows +
                                               "; version-specific behaviours are not reproduced unless a preset or setting "
                                               "does (docs/ndes.md)");
    } else if (!view_.scep_path.empty()) {
        row("http.server", "copied", "none sent");
    }
    if (!view_.powered_by.empty()) {
        o << "header_powered_by = " << toml_string(header_value(view_.powered_by)) << "\n";
        row("http.x_powered_by", "copied", header_value(view_.powered_by));
    }
    o << "\n";
    if (view_.source.rfind("http://", 0) == 0) {
        o << "[https]\nenabled = false  # the server answered over plain HTTP\n\n";
        row("http.scheme", "copied", "plain HTTP only");
    }

    // [scep]: path, capabilities, GetCACert order.
    o << "[scep]\n";
    if (!view_.scep_path.empty() && !ndes) {
        o << "paths = " << toml_list({view_.scep_path}, false) << "\n";
        row("scep.path", "copied", view_.scep_path);
    }
    if (view_.caps) {
        const caps_form form = read_caps(*view_.caps);
        o << "capabilities = " << toml_list(form.words, false) << "\n";
        o << "capabilities_line_end = " << (form.line_end == "CRLF" ? "\"crlf\"" : "\"lf\"") << "\n";
        o << "capabilities_final_line_end = " << (form.final_line_end ? "true" : "false") << "\n";
        row("caps.list", "copied", std::to_string(form.words.size()) + " keywords in their order");
        row("caps.line_end", "copied", form.line_end + (form.final_line_end ? ", ending with one" : ", none after the last"));
    } else {
        row("caps.list", "unknown", "no GetCACaps answer given: the lab's defaults");
    }
    const bool ra_first = !view_.certs.empty() && r->role_of(view_.certs.front().get()).rfind("ra", 0) == 0;
    o << "ca_cert_order = " << (ra_first ? "\"ra-first\"" : "\"ca-first\"") << "\n\n";
    {
        std::string sent, lab;
        for (const auto& c : view_.certs) sent += (sent.empty() ? "" : ", ") + r->role_of(c.get());
        std::vector<std::string> chain, ras;
        for (auto it = r->tiers.rbegin(); it != r->tiers.rend(); ++it) chain.push_back(r->role_of(*it));
        if (r->ra_signing) ras.push_back(r->role_of(r->ra_signing));
        if (r->ra_encryption) ras.push_back(r->role_of(r->ra_encryption));
        for (const auto& x : ra_first ? ras : chain) lab += (lab.empty() ? "" : ", ") + x;
        for (const auto& x : ra_first ? chain : ras) lab += (lab.empty() ? "" : ", ") + x;
        row("cacert.order", sent == lab ? "copied" : "approximated",
            sent == lab ? sent : "sent " + sent + "; the lab sends " + lab);
        if (!r->others.empty())
            row("cacert.others", "not copied",
                std::to_string(r->others.size()) + " certificate(s) that fit no role (not issued along the chain)");
    }

    // CertRep: the reply signature digest (written in [ndes] below).
    bool mirror_digest = false;
    if (view_.certrep) {
        const std::string body(view_.certrep->begin(), view_.certrep->end());
        const inspect::reply_report rep = inspect::analyze_reply(body, "application/x-pki-message");
        if (ndes) {
            const bool sha1 = rep.digest == "sha1";
            mirror_digest = !sha1 && !rep.digest.empty();
            row("certrep.digest", "copied",
                rep.digest + (sha1 ? " (ndes.reply_digest = \"sha1\", NDES's)" : " (ndes.reply_digest = \"mirror\")"));
        } else {
            row("certrep.digest", "approximated", rep.digest + ": outside NDES mode the lab mirrors the request's digest");
        }
        if (!rep.fail_info.empty()) row("certrep.fail_info", "not copied", rep.fail_info + ": a failure is reproduced with a fault rule (docs/faults.md)");
    }

    // [ndes]
    if (ndes) {
        o << "[ndes]\nenabled = true\nra_pair = " << (r->ra_encryption ? "true" : "false") << "\n";
        if (mirror_digest) o << "reply_digest = \"mirror\"  # the CertRep was not signed with SHA-1\n";
        row("ndes", "copied", "NDES mode (its paths, admin page, failure replies)");
        if (view_.admin_page && view_.admin_status == 200) {
            const admin_facts f = read_admin_page(*view_.admin_page);
            o << "admin_encoding = " << toml_string(f.encoding) << "\n";
            row("admin.encoding", "copied", f.encoding);
            if (f.answer == "password" || f.answer == "single-password") {
                o << "password_mode = " << (f.answer == "password" ? "\"dynamic\"" : "\"single\"") << "\n";
                row("admin.answer", "copied", f.answer == "password" ? "one-time passwords" : "one static password");
                if (f.password_hex && f.password_length % 2 == 0 && f.password_length >= 8 && f.password_length <= 64) {
                    o << "password_bytes = " << f.password_length / 2 << "\n";
                    row("admin.password_form", "copied", std::to_string(f.password_length) + " hex digits");
                } else {
                    row("admin.password_form", "approximated",
                        std::to_string(f.password_length) + " characters, not hex: the lab hands out hex digits");
                }
                if (f.validity_minutes > 0 && f.validity_minutes <= 60 * 24 * 30) {
                    o << "password_validity = \"" << f.validity_minutes << "m\"\n";
                    row("admin.password_validity", "copied", std::to_string(f.validity_minutes) + " minutes");
                }
                if (!f.thumbprint.empty()) {
                    std::string of;
                    for (const auto& c : view_.certs)
                        if (ascii_lower(to_hex(digest(EVP_md5(), x509_to_der(*c)))) == ascii_lower(f.thumbprint))
                            of = r->role_of(c.get());
                    if (of == "root" || of == "issuing") {
                        o << "thumbprint_ca = " << toml_string(of) << "\n";
                        row("admin.thumbprint_of", "copied", "the " + of + " CA's MD5");
                    } else {
                        row("admin.thumbprint_of", "unknown", "matches none of the certificates sent");
                    }
                }
            } else if (f.answer == "cache-full" || f.answer == "no-permission" || f.answer == "empty") {
                o << "admin_response = " << toml_string(f.answer) << "\n";
                row("admin.answer", "copied", f.answer);
            } else {
                row("admin.answer", "unknown", "the page is not one NDES writes");
            }
        } else if (view_.admin_status == 500) {
            o << "admin_response = \"500\"\n";
            row("admin.answer", "copied", "HTTP 500");
        } else if (!view_.admin_page && !view_.admin_needs_login) {
            row("admin.answer", "unknown", "no admin page given: dynamic passwords (NDES's default)");
        }
        if (view_.admin_needs_login) {
            o << "admin_users = [\"ndes-admin:change-me\"]  # the customer's own credentials are never copied\n";
            row("admin.login", "approximated", "HTTP Basic required: the lab's user is ndes-admin:change-me");
        }
        o << "\n";
    } else if (view_.admin_page) {
        row("admin.answer", "not copied", "an admin page without other signs of NDES: read, not used");
    }

    // [pki]: the tiers, root first.
    const bool ca_as_ra = !r->ra_signing;
    o << "[pki]\nca_as_ra = " << (ca_as_ra ? "true" : "false") << "\n\n";
    if (r->root_missing) {
        const X509& top = *r->tiers.front();
        const X509_NAME* issuer = X509_get_issuer_name(&top);
        auto encoded = der_encode(*issuer, i2d_X509_NAME, "i2d_X509_NAME");
        const bytes issuer_der = encoded ? *encoded : bytes{};
        // The signature on the top certificate is the root's: its key type.
        const int sig_nid = X509_get_signature_nid(&top);
        int pk_nid = NID_undef;
        OBJ_find_sigid_algs(sig_nid, nullptr, &pk_nid);
        const bool ec = pk_nid == NID_X9_62_id_ecPublicKey;
        o << "# Not in GetCACert: generated to fit (the issuer of " << comment(name_to_string(*X509_get_subject_name(&top))) << ")\n";
        o << "[[pki.tiers]]\nname = \"root\"\nsubject = " << toml_string(name_to_string(*issuer)) << "\n"
          << "subject_der = " << toml_string(base64_encode(issuer_der)) << "\n"
          << "key = " << (ec ? "\"ec-p384\"" : "\"rsa4096\"") << "\nvalidity = \"7300d\"\n@@served:root@@\n";
        row("cert.root", "generated",
            "not sent: self-signed, subject = the issuer of the top CA sent, " + std::string(ec ? "EC P-384" : "RSA 4096") +
                ", 20 years, the lab's extensions; GetCACert leaves it out (quirks.chain)");
    }
    for (std::size_t i = 0; i < r->tiers.size(); ++i) {
        const std::string name = names[i + offset];
        const std::string parent = i + offset == 0 ? name : names[i + offset - 1];
        o << "[[pki.tiers]]\nname = " << toml_string(name) << "\n";
        shape(o, *r->tiers[i], name, parent, false, true);
        o << "@@served:" << name << "@@\n";
    }
    const std::string issuing = names.back();
    if (r->ra_encryption) {
        o << "[pki.ra]\npair = " << (ndes ? "false" : "true") << "\n\n";
        for (const auto& [half, cert] : {std::pair{"signing", r->ra_signing}, std::pair{"encryption", r->ra_encryption}}) {
            o << "[pki.ra." << half << "]\n";
            shape(o, *cert, r->role_of(cert), issuing, true, true);
            o << "\n";
        }
        row("cacert.ra", "copied", "a signing + encryption RA pair");
    } else if (r->ra_signing) {
        o << "[pki.ra]\n";
        shape(o, *r->ra_signing, "ra", issuing, true, true);
        o << "\n";
        row("cacert.ra", "copied", "one RA certificate");
    } else {
        row("cacert.ra", "copied", "no RA: the CA is its own RA (pki.ca_as_ra)");
    }
    if (r->root_missing || (r->tiers.size() == 1 && n > 1)) {
        o << "[quirks]\nchain = \"" << (r->tiers.size() == 1 ? "issuing-only" : "no-root") << "\"\n\n";
        row("cacert.root_sent", "copied", "the root is not in GetCACert");
    }
    row("keys", "not copied", "every key is generated fresh: serials, key identifiers, fingerprints and signatures differ");
    row("issuance", "unknown", "what the customer's CA puts into issued certificates (its template): the lab's [issuance]");
    row("challenge", "unknown",
        ndes ? "NDES passwords come from the lab's admin page" : "the challenge: the lab's scep.challenge (scep-lab-challenge)");
    if (view_.next_status) row("next.status", "copied", "GetNextCACert answered " + std::to_string(view_.next_status) +
                                                       (view_.next_status == 200 ? ": a rollover was prepared; the lab has none until `scep-lab ca rollover`" : ""));
    // The paths CDP and AIA kept, on the tiers they serve (known only now).
    std::string text = o.str();
    for (const auto& name : names) {
        const std::string mark = "@@served:" + name + "@@\n";
        if (auto at = text.find(mark); at != std::string::npos) text.replace(at, mark.size(), served_paths(name));
    }
    plan_.toml = text;
    return std::move(plan_);
}

}  // namespace

result<lab_plan> plan_lab(const server_view& view, const clone_options& options) {
    plan_writer w(view, options);
    return w.run();
}

}  // namespace scep::clone
