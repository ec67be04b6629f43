#include "pki/persona/match.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>

#include "pki/crypto/encoding.hpp"

namespace scep::persona {

namespace {

bool all_hex(const std::string& s, bool upper_only) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F') || (!upper_only && c >= 'a' && c <= 'f');
    });
}

// "CN=" followed by a UUID (8-4-4-4-12 hexadecimal digits).
bool uuid_subject(const std::string& subject) {
    if (subject.size() != 3 + 36 || subject.rfind("CN=", 0) != 0) return false;
    for (std::size_t i = 0; i < 36; ++i) {
        char c = subject[3 + i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

std::string cipher_ln(content_cipher c) {
    const char* ln = OBJ_nid2ln(EVP_CIPHER_get_nid(evp_cipher(c)));
    return ln ? ln : std::string(to_string(c));
}

std::string id_rule_text(id_rule r) {
    switch (r) {
        case id_rule::sha1_key_hex_upper: return "40 upper-case hex digits (SHA-1 of the key)";
        case id_rule::sha1_key_hex: return "40 hex digits (SHA-1 of the key)";
        case id_rule::sha256_key_hex: return "64 hex digits (SHA-256 of the key)";
        case id_rule::random_hex: return "hex digits";
    }
    return "?";
}

bool id_fits(id_rule r, const std::string& id) {
    switch (r) {
        case id_rule::sha1_key_hex_upper: return id.size() == 40 && all_hex(id, true);
        case id_rule::sha1_key_hex: return id.size() == 40 && all_hex(id, false);
        case id_rule::sha256_key_hex: return id.size() == 64 && all_hex(id, false);
        case id_rule::random_hex: return all_hex(id, false);
    }
    return false;
}

struct comparer {
    device_match& m;
    void operator()(const std::string& rule, bool ok, const std::string& expected, const std::string& seen) {
        ++m.compared;
        if (ok)
            ++m.matched;
        else
            m.differs.push_back({rule, expected, printable_text(seen, 120, '?')});
    }
};

}  // namespace

std::string device_match::text() const {
    if (!p) return "";
    std::string rules = std::to_string(matched) + " of " + std::to_string(compared) + " rules";
    if (consistent()) return "consistent with " + p->name + " (" + rules + ")";
    std::string out = "nearest " + p->name + " (" + rules + "): ";
    for (std::size_t i = 0; i < differs.size(); ++i)
        out += (i ? "; " : "") + differs[i].rule + " sent " + differs[i].observed + ", " + p->name + " sends " +
               differs[i].expected;
    return out;
}

device_match match(const persona& p, const observed& o) {
    device_match m;
    m.p = &p;
    comparer cmp{m};
    if (o.http_known && !p.user_agents.empty()) {
        bool ok = std::any_of(p.user_agents.begin(), p.user_agents.end(), [&](const std::string& prefix) {
            return prefix.empty() ? !o.has_user_agent : o.has_user_agent && o.user_agent.rfind(prefix, 0) == 0;
        });
        std::string want;
        for (const auto& u : p.user_agents) want += (want.empty() ? "" : " or ") + (u.empty() ? "none" : "\"" + u + "...\"");
        cmp("user_agents", ok, want, o.has_user_agent ? "\"" + o.user_agent + "\"" : "none");
    }
    if (o.http_version)
        cmp("http_version", o.http_version == p.http_version, p.http_version == 10 ? "HTTP/1.0" : "HTTP/1.1",
            o.http_version == 10 ? "HTTP/1.0" : "HTTP/1.1");
    if (o.http_known && !p.path_suffix.empty()) {
        bool ok = o.path.size() >= p.path_suffix.size() &&
                  o.path.compare(o.path.size() - p.path_suffix.size(), std::string::npos, p.path_suffix) == 0;
        cmp("path_suffix", ok, "a path ending in " + p.path_suffix, o.path);
    }
    if (o.operation == "GetCACaps" || o.operation == "GetCACert") {
        if (p.message_match == "exact")
            cmp("message", o.message && *o.message == p.message, "message=" + p.message,
                o.message ? "message=" + *o.message : "no message");
        else if (p.message_match == "present")
            cmp("message", o.message && !o.message->empty(), "a message= label", o.message ? "message=" + *o.message : "no message");
    }
    if (o.operation != "PKIOperation") return m;

    if (!o.first_operation.empty() && !p.order.empty())
        cmp("order", o.first_operation == p.order.front(), p.order.front() + " first", o.first_operation + " first");
    std::string caps;
    for (const auto& w : o.capabilities) caps += w + "\n";
    caps_choice c = choose(p, 200, caps);
    if (!o.capabilities_known) c.digest.reset(), c.cipher.reset();
    if (o.capabilities_known && !o.method.empty())
        cmp("method", (o.method == "POST") == c.post, c.post ? "POST" : "GET", o.method);
    if (o.method == "GET")
        cmp("get_line_breaks", o.get_line_breaks == p.get_line_breaks, p.get_line_breaks ? "line breaks" : "no line breaks",
            o.get_line_breaks ? "line breaks" : "no line breaks");
    if (!o.digest.empty() && c.digest)
        cmp("digests", o.digest == to_string(*c.digest), std::string(to_string(*c.digest)), o.digest);
    if (!o.cipher.empty() && c.cipher) cmp("ciphers", o.cipher == cipher_ln(*c.cipher), cipher_ln(*c.cipher), o.cipher);
    if (!o.key_transport.empty()) {
        const bool oaep = o.key_transport == "rsaesOaep";
        cmp("key_transport", oaep == (p.transport == key_transport::rsaes_oaep),
            p.transport == key_transport::rsaes_oaep ? "rsaesOaep" : "rsaEncryption", o.key_transport);
    }
    cmp("ber_indefinite", o.ber_indefinite == p.ber_indefinite, p.ber_indefinite ? "BER, indefinite lengths" : "DER",
        o.ber_indefinite ? "BER, indefinite lengths" : "DER");
    if (!o.transaction_id.empty())
        cmp("transaction_id", id_fits(p.transaction_id, o.transaction_id), id_rule_text(p.transaction_id), o.transaction_id);
    if (o.nonce_length)
        cmp("nonce_bytes", static_cast<int>(o.nonce_length) == p.nonce_bytes, std::to_string(p.nonce_bytes) + " bytes",
            std::to_string(o.nonce_length) + " bytes");
    if (!o.signer_subject.empty() && (p.signer_subject == "uuid" || !o.csr_subject.empty())) {
        bool ok = p.signer_subject == "uuid" ? uuid_subject(o.signer_subject) : o.signer_subject == o.csr_subject;
        cmp("signer_subject", ok, p.signer_subject == "uuid" ? "CN=<a UUID>" : "the CSR's subject", o.signer_subject);
    }
    if (!o.challenge_type.empty() && o.challenge_type != "absent")
        cmp("challenge_type", o.challenge_type == p.challenge_type || (p.challenge_type == "PrintableString" && !p.challenge_printable_only &&
                                                                       o.challenge_type == "UTF8String"),
            p.challenge_type, o.challenge_type);
    if (!o.key.empty()) {
        const bool rsa = o.key.rfind("RSA", 0) == 0;
        cmp("key", rsa == is_rsa(p.key), is_rsa(p.key) ? "RSA" : "EC", o.key);
    }
    return m;
}

std::optional<device_match> identify(const observed& o) {
    std::optional<device_match> best;
    for (const auto& p : all()) {
        if (p.based_on.empty()) continue;  // the generic client is no device
        device_match m = match(p, o);
        if (m.compared == 0) continue;
        auto better = [](const device_match& a, const device_match& b) {
            if (a.consistent() != b.consistent()) return a.consistent();
            // Fewer differences first, then more rules that held.
            if (a.differs.size() != b.differs.size()) return a.differs.size() < b.differs.size();
            return a.matched > b.matched;
        };
        if (!best || better(m, *best)) best = std::move(m);
    }
    return best;
}

}  // namespace scep::persona
