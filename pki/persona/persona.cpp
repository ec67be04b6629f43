#include "pki/persona/persona.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>
#include <stdexcept>

#include <toml.hpp>

namespace scep::persona {

// Compiled in from pki/persona/personas/*.toml (personas_data.cpp.in).
const std::vector<std::pair<std::string, std::string>>& embedded_files();

namespace {

using setter = std::function<void(persona&, const toml::value&)>;

struct spec_entry {
    rule_spec spec;
    setter set;
};

[[noreturn]] void bad(const std::string& what) { throw std::runtime_error(what); }

std::string text(const toml::value& v, const std::string& id) {
    if (!v.is_string()) bad("rule " + id + ": the value must be a string");
    return v.as_string().str;
}
bool flag(const toml::value& v, const std::string& id) {
    if (!v.is_boolean()) bad("rule " + id + ": the value must be true or false");
    return v.as_boolean();
}
int number(const toml::value& v, const std::string& id, int lo, int hi) {
    if (!v.is_integer() || v.as_integer() < lo || v.as_integer() > hi)
        bad("rule " + id + ": the value must be a whole number from " + std::to_string(lo) + " to " +
            std::to_string(hi));
    return static_cast<int>(v.as_integer());
}
std::vector<std::string> words(const toml::value& v, const std::string& id) {
    if (!v.is_array()) bad("rule " + id + ": the value must be a list of strings");
    std::vector<std::string> out;
    for (const auto& e : v.as_array()) out.push_back(text(e, id));
    return out;
}
std::vector<int> numbers(const toml::value& v, const std::string& id, std::size_t n, int hi) {
    if (!v.is_array() || v.as_array().size() != n)
        bad("rule " + id + ": the value must be a list of " + std::to_string(n) + " whole numbers");
    std::vector<int> out;
    for (const auto& e : v.as_array()) out.push_back(number(e, id, 0, hi));
    return out;
}
template <class E>
E one_of(const toml::value& v, const std::string& id, std::initializer_list<std::pair<std::string_view, E>> names) {
    std::string t = text(v, id);
    std::string all;
    for (const auto& [name, value] : names) {
        if (t == name) return value;
        all += (all.empty() ? "" : ", ") + std::string(name);
    }
    bad("rule " + id + ": \"" + t + "\" is not one of " + all);
}
std::vector<conditional> conditionals(const toml::value& v, const std::string& id, bool cipher) {
    std::vector<conditional> out;
    for (const auto& w : words(v, id)) {
        auto colon = w.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == w.size())
            bad("rule " + id + ": \"" + w + "\" is not NAME:CAPABILITY");
        conditional c{w.substr(0, colon), w.substr(colon + 1)};
        bool known = cipher ? content_cipher_from_name(c.name).has_value() : digest_named(c.name).has_value();
        if (!known) bad("rule " + id + ": unknown " + std::string(cipher ? "cipher" : "digest") + " \"" + c.name + "\"");
        out.push_back(std::move(c));
    }
    if (out.empty() || out.back().capability != "*")
        bad("rule " + id + ": the last choice must be NAME:* (what the device does when nothing else applies)");
    return out;
}

const std::vector<spec_entry>& entries() {
    static const std::vector<spec_entry> all{
        {{"order", "HTTP", "GetCACaps and GetCACert, in the order sent (PKIOperation follows)"},
         [](persona& p, const toml::value& v) {
             p.order = words(v, "order");
             auto sorted = p.order;
             std::sort(sorted.begin(), sorted.end());
             if (sorted != std::vector<std::string>{"GetCACaps", "GetCACert"})
                 bad("rule order: the value must list GetCACaps and GetCACert once each");
         }},
        {{"path_suffix", "HTTP", "appended to the URL's path"},
         [](persona& p, const toml::value& v) { p.path_suffix = text(v, "path_suffix"); }},
        {{"message", "HTTP", "message= of GetCACaps and GetCACert (empty: none)"},
         [](persona& p, const toml::value& v) { p.message = text(v, "message"); }},
        {{"user_agent", "HTTP", "User-Agent header (empty: none)"},
         [](persona& p, const toml::value& v) { p.user_agent = text(v, "user_agent"); }},
        {{"user_agents", "HTTP", "User-Agent prefixes that identify the device (\"\": none sent; empty list: any)"},
         [](persona& p, const toml::value& v) { p.user_agents = words(v, "user_agents"); }},
        {{"message_match", "HTTP", "how a recorded message= is compared: exact, present or any"},
         [](persona& p, const toml::value& v) {
             p.message_match = one_of<std::string>(v, "message_match",
                                                   {{"exact", "exact"}, {"present", "present"}, {"any", "any"}});
         }},
        {{"http_version", "HTTP", "1.0 or 1.1"},
         [](persona& p, const toml::value& v) {
             p.http_version = one_of<int>(v, "http_version", {{"1.0", 10}, {"1.1", 11}});
         }},
        {{"method", "HTTP", "post-if-advertised, get or post"},
         [](persona& p, const toml::value& v) {
             p.method = one_of<method_rule>(v, "method", {{"post-if-advertised", method_rule::post_if_advertised},
                                                          {"get", method_rule::always_get},
                                                          {"post", method_rule::always_post}});
         }},
        {{"get_line_breaks", "HTTP", "GET base64 with %0A every 64 characters"},
         [](persona& p, const toml::value& v) { p.get_line_breaks = flag(v, "get_line_breaks"); }},
        {{"redirects", "HTTP", "redirects followed (0: a redirect is an error)"},
         [](persona& p, const toml::value& v) { p.redirects = number(v, "redirects", 0, 20); }},
        {{"caps_split", "GetCACaps", "crlf (only CRLF ends a keyword) or any-line-end"},
         [](persona& p, const toml::value& v) {
             p.caps_crlf_only = one_of<bool>(v, "caps_split", {{"crlf", true}, {"any-line-end", false}});
         }},
        {{"caps_no_digest", "GetCACaps", "fatal (a non-empty list without a digest stops the device) or fallback"},
         [](persona& p, const toml::value& v) {
             p.caps_need_digest = one_of<bool>(v, "caps_no_digest", {{"fatal", true}, {"fallback", false}});
         }},
        {{"ciphers", "GetCACaps", "CIPHER:CAPABILITY, the first advertised one is used (*: always)"},
         [](persona& p, const toml::value& v) { p.ciphers = conditionals(v, "ciphers", true); }},
        {{"digests", "GetCACaps", "DIGEST:CAPABILITY, the first advertised one is used (*: always)"},
         [](persona& p, const toml::value& v) { p.digests = conditionals(v, "digests", false); }},
        {{"cacert_content_types", "GetCACert", "content types accepted"},
         [](persona& p, const toml::value& v) { p.cacert_content_types = words(v, "cacert_content_types"); }},
        {{"ra_selection", "GetCACert", "key-usage (RA roles required) or key-usage-or-ca"},
         [](persona& p, const toml::value& v) {
             p.ra = one_of<ra_rule>(v, "ra_selection",
                                    {{"key-usage", ra_rule::key_usage}, {"key-usage-or-ca", ra_rule::key_usage_or_ca}});
         }},
        {{"ca_selection", "GetCACert", "top-of-chain or issuer-of-ra"},
         [](persona& p, const toml::value& v) {
             p.ca = one_of<ca_rule>(v, "ca_selection",
                                    {{"top-of-chain", ca_rule::top_of_chain}, {"issuer-of-ra", ca_rule::issuer_of_ra}});
         }},
        {{"ca_pin", "GetCACert", "the CA must match a configured thumbprint"},
         [](persona& p, const toml::value& v) { p.ca_pin = flag(v, "ca_pin"); }},
        {{"key", "Request", "key type and size"},
         [](persona& p, const toml::value& v) {
             auto k = key_type_from_name(text(v, "key"));
             if (!k) bad("rule key: one of " + key_type_names());
             p.key = *k;
         }},
        {{"subject", "Request", "CSR subject ({device}, {uuid})"},
         [](persona& p, const toml::value& v) { p.subject = text(v, "subject"); }},
        {{"sans", "Request", "subjectAltName entries (DNS:, email:, URI:)"},
         [](persona& p, const toml::value& v) { p.sans = words(v, "sans"); }},
        {{"challenge_type", "Request", "ASN.1 type of challengePassword"},
         [](persona& p, const toml::value& v) {
             p.challenge_type = one_of<std::string>(v, "challenge_type", {{"PrintableString", "PrintableString"},
                                                                          {"UTF8String", "UTF8String"}});
         }},
        {{"challenge_charset", "Request", "printable-only (other characters fail on the device) or any"},
         [](persona& p, const toml::value& v) {
             p.challenge_printable_only =
                 one_of<bool>(v, "challenge_charset", {{"printable-only", true}, {"any", false}});
         }},
        {{"signer_subject", "Request", "subject of the self-signed signer: uuid (CN = a random UUID) or csr"},
         [](persona& p, const toml::value& v) {
             p.signer_subject = one_of<std::string>(v, "signer_subject", {{"uuid", "uuid"}, {"csr", "csr"}});
         }},
        {{"signer_key_usage", "Request", "key usage of the self-signed signer"},
         [](persona& p, const toml::value& v) {
             p.signer_key_usage = words(v, "signer_key_usage");
             for (const auto& w : p.signer_key_usage)
                 if (w != "digitalSignature" && w != "keyEncipherment")
                     bad("rule signer_key_usage: \"" + w + "\" (digitalSignature, keyEncipherment)");
         }},
        {{"ber_indefinite", "CMS", "the pkiMessage in BER with indefinite lengths"},
         [](persona& p, const toml::value& v) { p.ber_indefinite = flag(v, "ber_indefinite"); }},
        {{"key_transport", "CMS", "rsa-pkcs1 or rsaes-oaep"},
         [](persona& p, const toml::value& v) {
             p.transport = one_of<key_transport>(v, "key_transport", {{"rsa-pkcs1", key_transport::rsa_pkcs1},
                                                                      {"rsaes-oaep", key_transport::rsaes_oaep}});
         }},
        {{"recipient_id", "CMS", "issuer-serial (KTRI v0) or subject-key-id (v2)"},
         [](persona& p, const toml::value& v) {
             p.recipient_by_key_id =
                 one_of<bool>(v, "recipient_id", {{"issuer-serial", false}, {"subject-key-id", true}});
         }},
        {{"transaction_id", "CMS", "how the transactionID is made"},
         [](persona& p, const toml::value& v) {
             p.transaction_id = one_of<id_rule>(v, "transaction_id", {{"sha1-key-hex-upper", id_rule::sha1_key_hex_upper},
                                                                      {"sha1-key-hex", id_rule::sha1_key_hex},
                                                                      {"sha256-key-hex", id_rule::sha256_key_hex},
                                                                      {"random-hex", id_rule::random_hex}});
         }},
        {{"nonce_bytes", "CMS", "senderNonce length"},
         [](persona& p, const toml::value& v) { p.nonce_bytes = number(v, "nonce_bytes", 1, 64); }},
        {{"reply_content_types", "Reply", "CertRep content types accepted"},
         [](persona& p, const toml::value& v) { p.reply_content_types = words(v, "reply_content_types"); }},
        {{"reply_attributes", "Reply", "signed attributes a CertRep must carry"},
         [](persona& p, const toml::value& v) {
             p.reply_required_attributes = words(v, "reply_attributes");
             static const std::vector<std::string> known{"contentType",   "messageDigest",  "signingTime",
                                                         "messageType",   "pkiStatus",      "transactionID",
                                                         "recipientNonce", "senderNonce"};
             for (const auto& w : p.reply_required_attributes)
                 if (std::find(known.begin(), known.end(), w) == known.end())
                     bad("rule reply_attributes: unknown attribute \"" + w + "\"");
         }},
        {{"reply_status_encoding", "Reply", "printable-short (PrintableString, short-form length) or any"},
         [](persona& p, const toml::value& v) {
             p.status_printable_short =
                 one_of<bool>(v, "reply_status_encoding", {{"printable-short", true}, {"any", false}});
         }},
        {{"reply_first_certificate", "Reply", "the first certificate of the reply must be the issued one"},
         [](persona& p, const toml::value& v) { p.first_cert_is_issued = flag(v, "reply_first_certificate"); }},
        {{"reply_checks", "Reply", "nonce, transaction-id: what must match the request"},
         [](persona& p, const toml::value& v) {
             auto w = words(v, "reply_checks");
             p.check_nonce = std::find(w.begin(), w.end(), "nonce") != w.end();
             p.check_transaction_id = std::find(w.begin(), w.end(), "transaction-id") != w.end();
         }},
        {{"poll", "Polling and retries", "[seconds between polls, polls] after PENDING"},
         [](persona& p, const toml::value& v) {
             auto n = numbers(v, "poll", 2, 86400);
             p.poll_interval_s = n[0];
             p.poll_count = n[1];
         }},
        {{"retries", "Polling and retries", "[retries, seconds between] after a failed exchange"},
         [](persona& p, const toml::value& v) {
             auto n = numbers(v, "retries", 2, 86400);
             p.retries = n[0];
             p.retry_delay_s = n[1];
         }},
        {{"renewal", "Renewal", "reenroll, pkcsreq-old-cert or renewalreq-if-advertised"},
         [](persona& p, const toml::value& v) {
             p.renewal = one_of<renewal_rule>(v, "renewal", {{"reenroll", renewal_rule::reenroll},
                                                             {"pkcsreq-old-cert", renewal_rule::pkcsreq_old_cert},
                                                             {"renewalreq-if-advertised",
                                                              renewal_rule::renewalreq_if_advertised}});
         }},
        {{"renewal_challenge", "Renewal", "a renewal carries the challenge"},
         [](persona& p, const toml::value& v) { p.renewal_challenge = flag(v, "renewal_challenge"); }},
        {{"other_operations", "Other operations", "GetCert, GetCRL, GetNextCACert used"},
         [](persona& p, const toml::value& v) {
             auto w = words(v, "other_operations");
             for (const auto& o : w)
                 if (o != "GetCert" && o != "GetCRL" && o != "GetNextCACert")
                     bad("rule other_operations: \"" + o + "\" (GetCert, GetCRL, GetNextCACert)");
             p.get_cert = std::find(w.begin(), w.end(), "GetCert") != w.end();
             p.get_crl = std::find(w.begin(), w.end(), "GetCRL") != w.end();
             p.get_next_ca_cert = std::find(w.begin(), w.end(), "GetNextCACert") != w.end();
         }},
    };
    return all;
}

// A TOML value written back as the documentation shows it.
std::string value_text(const toml::value& v) {
    if (v.is_string()) return "\"" + v.as_string().str + "\"";
    if (v.is_array()) {
        std::string out = "[";
        for (const auto& e : v.as_array()) out += (out.size() > 1 ? ", " : "") + value_text(e);
        return out + "]";
    }
    if (v.is_boolean()) return v.as_boolean() ? "true" : "false";
    if (v.is_integer()) return std::to_string(v.as_integer());
    return toml::format(v);
}

struct raw_persona {
    std::string file;
    toml::value root;
};

std::string field(const toml::value& root, const std::string& key, bool required) {
    if (!root.contains(key)) {
        if (required) bad("missing " + key);
        return "";
    }
    return text(root.at(key), key);
}

persona build(const raw_persona& raw, const std::map<std::string, const raw_persona*>& by_name,
              int depth = 0) {
    if (depth > 4) bad("based_on goes round in a circle");
    const toml::value& root = raw.root;
    static const std::vector<std::string> top{"name",       "title",        "based_on",     "confidence", "summary",
                                              "device_name", "errors_source", "errors_confidence", "rules", "errors"};
    for (const auto& [key, value] : root.as_table())
        if (std::find(top.begin(), top.end(), key) == top.end()) bad("unknown key \"" + key + "\"");
    persona p;
    std::string base = field(root, "based_on", false);
    if (!base.empty()) {
        auto it = by_name.find(base);
        if (it == by_name.end()) bad("based_on \"" + base + "\": no such persona");
        p = build(*it->second, by_name, depth + 1);
        for (auto& r : p.rules) r.inherited = true;
    }
    p.name = field(root, "name", true);
    p.title = field(root, "title", true);
    p.confidence = field(root, "confidence", true);
    p.summary = field(root, "summary", true);
    p.device_name = field(root, "device_name", true);
    p.based_on = base;
    p.errors_source = field(root, "errors_source", false);
    p.errors_confidence = field(root, "errors_confidence", false);
    p.file = raw.file;
    if (root.contains("errors")) {
        if (!root.at("errors").is_table()) bad("errors must be a table");
        const auto& kinds = error_kinds();
        for (const auto& [kind_key, code] : root.at("errors").as_table()) {
            const std::string& kind = kind_key;  // clang 14 cannot capture a structured binding
            bool known = std::any_of(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == kind; });
            if (!known) bad("errors: unknown kind \"" + kind + "\"");
            p.errors[kind] = text(code, "errors." + kind);
        }
    }
    if (!root.contains("rules") || !root.at("rules").is_table()) bad("no [rules.*] tables");
    const auto& specs = entries();
    for (const auto& [id_key, body] : root.at("rules").as_table()) {
        const std::string& id = id_key;  // clang 14 cannot capture a structured binding
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const spec_entry& e) { return e.spec.id == id; });
        if (spec == specs.end()) bad("unknown rule \"" + id + "\"");
        if (!body.is_table()) bad("rule " + id + " must be a table");
        for (const auto& [key, value] : body.as_table())
            if (key != "value" && key != "says" && key != "source" && key != "confidence" && key != "disagree")
                bad("rule " + id + ": unknown key \"" + key + "\"");
        if (!body.contains("value")) bad("rule " + id + ": no value");
        spec->set(p, body.at("value"));
        rule r;
        r.id = id;
        r.value_text = value_text(body.at("value"));
        r.says = field(body, "says", true);
        r.source = field(body, "source", true);
        r.confidence = field(body, "confidence", true);
        if (r.confidence != "high" && r.confidence != "medium" && r.confidence != "low")
            bad("rule " + id + ": confidence is high, medium or low");
        r.disagree = field(body, "disagree", false);
        auto same = std::find_if(p.rules.begin(), p.rules.end(), [&](const rule& x) { return x.id == id; });
        if (same != p.rules.end())
            *same = std::move(r);
        else
            p.rules.push_back(std::move(r));
    }
    // The documentation's order, whatever the file's.
    std::vector<rule> ordered;
    for (const auto& e : specs) {
        auto it = std::find_if(p.rules.begin(), p.rules.end(), [&](const rule& r) { return r.id == e.spec.id; });
        if (it != p.rules.end()) ordered.push_back(*it);
    }
    p.rules = std::move(ordered);
    return p;
}

}  // namespace

std::optional<digest_alg> digest_named(std::string_view name) {
    if (name == "md5") return digest_alg::md5;
    return digest_alg_from_name(name);
}

const std::vector<rule_spec>& rule_specs() {
    static const std::vector<rule_spec> all = [] {
        std::vector<rule_spec> out;
        for (const auto& e : entries()) out.push_back(e.spec);
        return out;
    }();
    return all;
}

const std::vector<std::pair<std::string_view, std::string_view>>& error_kinds() {
    static const std::vector<std::pair<std::string_view, std::string_view>> all{
        {"network", "the server cannot be reached or the exchange breaks off"},
        {"http-error", "an HTTP error status"},
        {"redirect", "a redirect the device does not follow, or too many"},
        {"caps-insufficient", "GetCACaps lists no digest the device can use"},
        {"cacert-content-type", "GetCACert in a content type the device does not read"},
        {"cacert-unreadable", "GetCACert that does not parse"},
        {"cacert-no-ca", "no CA certificate in GetCACert"},
        {"cacert-no-ra", "no certificate the device can encrypt to or verify with"},
        {"cacert-pin", "the CA does not match the configured thumbprint"},
        {"challenge-charset", "a challenge the device cannot encode"},
        {"reply-content-type", "a CertRep in a content type the device does not read"},
        {"reply-unreadable", "a CertRep that does not parse"},
        {"reply-signature", "a CertRep not signed by the RA the device chose"},
        {"reply-attribute", "a CertRep without a signed attribute the device needs"},
        {"reply-status", "a pkiStatus the device cannot read"},
        {"reply-nonce", "a recipientNonce other than the senderNonce sent"},
        {"reply-transaction-id", "a transactionID other than the one sent"},
        {"reply-decrypt", "a reply envelope the device cannot open"},
        {"reply-certificate", "no certificate for the device's key where it looks"},
        {"failure", "the server answered FAILURE"},
        {"pending-timeout", "still PENDING after the device's last poll"},
    };
    return all;
}

std::string persona::error(std::string_view kind, int http_status) const {
    auto it = errors.find(std::string(kind));
    if (it == errors.end()) return "";
    std::string out = it->second;
    auto at = out.find("{http_hresult}");
    if (at != std::string::npos) {
        char code[16];
        std::snprintf(code, sizeof code, "0x%08x", 0x80190000u + static_cast<unsigned>(http_status & 0xffff));
        out.replace(at, 14, code);
    }
    return out;
}

result<std::vector<persona>> load(const std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<raw_persona> raws;
    for (const auto& [file, content] : files) {
        try {
            std::istringstream in(content);
            raws.push_back({file, toml::parse(in, file)});
        } catch (const std::exception& e) {
            return make_error(file + ": " + e.what());
        }
    }
    std::map<std::string, const raw_persona*> by_name;
    for (const auto& r : raws) {
        if (!r.root.contains("name") || !r.root.at("name").is_string()) return make_error(r.file + ": missing name");
        if (!by_name.emplace(r.root.at("name").as_string().str, &r).second)
            return make_error(r.file + ": a second persona named " + r.root.at("name").as_string().str);
    }
    std::vector<persona> out;
    for (const auto& r : raws) {
        try {
            out.push_back(build(r, by_name));
        } catch (const std::exception& e) {
            return make_error(r.file + ": " + e.what());
        }
    }
    // Base personas first, then by name.
    std::stable_sort(out.begin(), out.end(), [](const persona& a, const persona& b) {
        if (a.based_on.empty() != b.based_on.empty()) return a.based_on.empty();
        return a.name < b.name;
    });
    return out;
}

const std::vector<persona>& all() {
    static const std::vector<persona> personas = [] {
        auto loaded = load(embedded_files());
        if (!loaded) throw std::runtime_error("built-in personas: " + loaded.message());
        return std::move(*loaded);
    }();
    return personas;
}

const persona* find(std::string_view name) {
    for (const auto& p : all())
        if (p.name == name) return &p;
    return nullptr;
}

std::string names(std::string_view separator) {
    std::string out;
    for (const auto& p : all()) out += (out.empty() ? "" : std::string(separator)) + p.name;
    return out;
}

}  // namespace scep::persona
