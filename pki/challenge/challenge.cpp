#include "pki/challenge/challenge.hpp"

#include "pki/crypto/constant_time.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <charconv>

#include "pki/ca/names.hpp"
#include "pki/crypto/pattern.hpp"

namespace scep {

std::optional<challenge_attr> csr_challenge(const X509_REQ& req) {
    int idx = X509_REQ_get_attr_by_NID(&req, NID_pkcs9_challengePassword, -1);
    if (idx < 0) return std::nullopt;
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(&req, idx);
    ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, 0);
    if (!t) return std::nullopt;
    switch (t->type) {
        case V_ASN1_PRINTABLESTRING:
        case V_ASN1_UTF8STRING:
        case V_ASN1_IA5STRING:
        case V_ASN1_T61STRING:
        case V_ASN1_BMPSTRING:
        case V_ASN1_UNIVERSALSTRING:
        case V_ASN1_VISIBLESTRING: break;
        default: return std::nullopt;
    }
    const ASN1_STRING* s = t->value.asn1_string;
    challenge_attr out;
    out.asn1_type = t->type;
    if (t->type == V_ASN1_BMPSTRING || t->type == V_ASN1_UNIVERSALSTRING) {
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, s);
        ossl_buffer_ptr owned(utf8);
        if (len < 0) return std::nullopt;
        out.value.assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    } else {
        out.value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    return out;
}

result<bytes> csr_without_challenge(const X509_REQ& req) {
    x509_req_ptr copy(X509_REQ_dup(&req));
    if (!copy) return make_error(ossl_error("the CSR cannot be copied"));
    for (int idx; (idx = X509_REQ_get_attr_by_NID(copy.get(), NID_pkcs9_challengePassword, -1)) >= 0;)
        x509_attribute_ptr(X509_REQ_delete_attr(copy.get(), idx));
    bytes der = x509_req_to_der(*copy);
    if (!x509_req_from_der(der)) {
        ERR_clear_error();
        return make_error("the CSR does not read back once re-encoded without its challenge (an encoding OpenSSL "
                          "accepts but cannot write back)");
    }
    return der;
}


std::optional<challenge_refusal> static_challenge::verify(const challenge_context& ctx) {
    using k = challenge_refusal::kind;
    const auto& challenge = ctx.challenge;
    if (secret_.empty()) return std::nullopt;
    if (!challenge) return challenge_refusal{k::missing, "the CSR has no challengePassword"};
    if (!constant_time_equal(challenge->value, secret_)) return challenge_refusal{k::wrong, "wrong challenge password"};
    return std::nullopt;
}

one_time_passwords::one_time_passwords(std::chrono::seconds validity, std::size_t capacity, std::size_t bytes,
                                       clock_fn clock)
    : validity_(validity), capacity_(capacity), bytes_(bytes), clock_(std::move(clock)) {}

void one_time_passwords::expire_locked(time_point now) {
    constexpr std::size_t remembered_expired = 64;
    for (auto it = unused_.begin(); it != unused_.end();) {
        if (it->second > now) {
            ++it;
            continue;
        }
        if (expired_.size() >= remembered_expired) expired_.erase(expired_.begin());
        expired_.insert(*it);
        it = unused_.erase(it);
    }
    std::erase_if(used_, [&](const auto& kv) { return kv.second <= now; });
}

std::optional<std::string> one_time_passwords::issue() {
    std::lock_guard lock(mu_);
    auto now = clock_();
    expire_locked(now);
    if (unused_.size() >= capacity_) return std::nullopt;
    std::string password = to_hex(random_bytes(bytes_), true);
    unused_.emplace(password, now + validity_);
    return password;
}

std::size_t one_time_passwords::unused() {
    std::lock_guard lock(mu_);
    expire_locked(clock_());
    return unused_.size();
}

std::optional<challenge_refusal> one_time_passwords::verify(const challenge_context& ctx) {
    using k = challenge_refusal::kind;
    const auto& challenge = ctx.challenge;
    if (!challenge || challenge->value.empty()) return challenge_refusal{k::missing, "the CSR has no challengePassword"};
    std::lock_guard lock(mu_);
    auto now = clock_();
    // Look the password up before expiring, to tell "expired" from "unknown".
    expire_locked(now);
    auto it = unused_.find(challenge->value);
    if (it != unused_.end()) {
        used_.emplace(it->first, it->second);
        unused_.erase(it);  // single use (KB959193)
        return std::nullopt;
    }
    if (expired_.count(challenge->value))
        return challenge_refusal{k::expired, "the challenge password has expired (valid " +
                                                 std::to_string(validity_.count() / 60) +
                                                 " minutes); get a new one from the admin page"};
    if (used_.count(challenge->value))
        return challenge_refusal{k::used, "the challenge password has already been used; get a new one from the admin page"};
    return challenge_refusal{k::wrong, "unknown challenge password"};
}

}  // namespace scep

namespace scep {

namespace {

bool binding_has_control(const std::string& v) {
    return std::any_of(v.begin(), v.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

}  // namespace

std::string challenge_bindings::to_text() const {
    std::string out;
    auto line = [&](const char* k, const std::string& v) {
        if (!v.empty()) out += std::string(k) + "=" + v + "\n";
    };
    line("subject", subject);
    line("subject_regex", subject_regex);
    for (const auto& n : sans) line("san", n);
    line("key_type", key_type);
    if (min_key_bits > 0) line("min_key_bits", std::to_string(min_key_bits));
    line("client", client);
    return out;
}

result<challenge_bindings> challenge_bindings::from_text(const std::string& text) {
    challenge_bindings b;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(at, end - at);
        at = end + 1;
        if (line.empty()) continue;
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) return make_error("binding line without '=': " + line.substr(0, 40));
        const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
        if (k == "subject") b.subject = v;
        else if (k == "subject_regex") b.subject_regex = v;
        else if (k == "san") b.sans.push_back(v);
        else if (k == "key_type") b.key_type = v;
        else if (k == "client") b.client = v;
        else if (k == "min_key_bits") {
            int n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size()) return make_error("min_key_bits is not a number: " + v);
            b.min_key_bits = n;
        } else {
            return make_error("unknown binding \"" + k + "\"");
        }
    }
    if (auto ok = b.validate(); !ok) return ok.err();
    return b;
}

result<void> challenge_bindings::validate() const {
    for (const std::string* v : {&subject, &subject_regex, &key_type, &client})
        if (binding_has_control(*v) || v->size() > 1024) return make_error("a binding holds control characters or is too long");
    if (!subject.empty())
        if (auto n = parse_subject(subject); !n) return make_error("subject: " + n.message());
    if (!subject_regex.empty())
        if (auto p = pattern::compile(subject_regex); !p) return make_error("subject_regex: " + p.message());
    if (sans.size() > 100) return make_error("sans: at most 100");
    for (const auto& n : sans) {
        if (binding_has_control(n) || n.size() > 512) return make_error("sans: an entry holds control characters or is too long");
        const auto colon = n.find(':');
        const std::string kind = colon == std::string::npos ? "" : n.substr(0, colon);
        if (kind != "DNS" && kind != "IP" && kind != "email" && kind != "URI" && kind != "UPN")
            return make_error("sans: \"" + n + "\" is not DNS:, IP:, email:, URI: or UPN: followed by a value");
    }
    if (!key_type.empty() && key_type != "rsa" && key_type != "ec") return make_error("key_type must be \"rsa\" or \"ec\"");
    if (min_key_bits < 0 || min_key_bits > 16384) return make_error("min_key_bits must be 0 to 16384");
    return {};
}

std::optional<std::string> challenge_bindings::mismatch(const X509_REQ& csr, const std::string& from) const {
    const X509_NAME* name = X509_REQ_get_subject_name(&csr);
    const std::string printed = name_to_string(*name);
    if (!subject.empty()) {
        auto want = parse_subject(subject);
        if (!want || X509_NAME_cmp(want->get(), name) != 0)
            return "the CSR subject \"" + printed + "\" is not the bound subject \"" + subject + "\"";
    }
    if (!subject_regex.empty()) {
        // The whole printed subject must match (RE2 full match): a pattern
        // is anchored at both ends whether or not it says so.
        auto p = pattern::compile(subject_regex);
        if (!p) return std::string("the bound subject pattern does not compile");
        if (!p->full_match(printed)) return "the CSR subject \"" + printed + "\" does not match the bound pattern";
    }
    // A challenge bound to names binds all of them: bound to a subject and
    // to no subjectAltName, it allows none (a subject-only binding would
    // otherwise leave the SANs, which TLS and EAP match first, free).
    if (!sans.empty() || !subject.empty() || !subject_regex.empty()) {
        auto requested = requested_sans(csr, name_limits{.allow_wildcards = true, .max_sans = 100});
        if (!requested) return "the CSR's subjectAltName: " + requested.message();
        for (const auto& e : *requested)
            if (std::find(sans.begin(), sans.end(), to_string(e)) == sans.end())
                return "the CSR names " + to_string(e) + ", which the challenge is not bound to" +
                       (sans.empty() ? " (a challenge bound to a subject allows only the SANs its binding names)" : "");
    }
    EVP_PKEY* key = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(&csr));
    if (!key) return std::string("the CSR's public key cannot be read");
    if (key_type == "rsa" && !key_is_rsa(*key)) return std::string("the challenge is bound to an RSA key");
    if (key_type == "ec" && !key_is_ec(*key)) return std::string("the challenge is bound to an EC key");
    if (min_key_bits > 0 && EVP_PKEY_get_bits(key) < min_key_bits)
        return "the CSR key has " + std::to_string(EVP_PKEY_get_bits(key)) + " bits; the challenge asks for at least " +
               std::to_string(min_key_bits);
    if (!client.empty() && client != from) return "the challenge is bound to another client address";
    return std::nullopt;
}

std::string challenge_hash(std::string_view value) {
    return to_hex(sha256(byte_view(reinterpret_cast<const std::uint8_t*>(value.data()), value.size())));
}

std::optional<challenge_refusal> api_challenges::verify(const challenge_context& ctx) {
    using k = challenge_refusal::kind;
    if (!ctx.challenge || ctx.challenge->value.empty()) return challenge_refusal{k::missing, "the CSR has no challengePassword"};
    const std::string& value = ctx.challenge->value;
    const std::string hash = challenge_hash(value);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    auto row = store_.find(hash);
    if (!row) return challenge_refusal{k::wrong, "the challenge store cannot be read"};
    if (!*row) return challenge_refusal{k::wrong, "unknown challenge password"};
    const challenge_row& r = **row;
    if (r.revoked) return challenge_refusal{k::wrong, "the challenge " + r.handle + " was revoked"};
    if (r.expires_at <= now) return challenge_refusal{k::expired, "the challenge " + r.handle + " has expired"};
    if (r.uses_left <= 0) return challenge_refusal{k::used, "the challenge " + r.handle + " has been used"};
    if (ctx.csr) {
        auto bindings = challenge_bindings::from_text(r.bindings);
        if (!bindings) return challenge_refusal{k::wrong, "the challenge " + r.handle + " has unreadable bindings"};
        if (auto why = bindings->mismatch(*ctx.csr, ctx.client))
            return challenge_refusal{k::wrong, "the challenge " + r.handle + " does not fit this request: " + *why};
    }
    auto spent = store_.spend(hash, now);
    if (!spent) return challenge_refusal{k::wrong, "the challenge store cannot be written"};
    if (!*spent) return challenge_refusal{k::used, "the challenge " + r.handle + " has been used"};  // lost a race
    return std::nullopt;
}

result<std::size_t> api_challenges::unused_with_label(const std::string& label, std::size_t limit) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    // Live rows only (not spent, expired or revoked), newest first.
    auto live = store_.list(now, false, 10000);
    if (!live) return live.err();
    std::size_t n = 0;
    for (const auto& r : *live)
        if (r.label == label && r.uses_left > 0 && ++n >= limit) break;
    return n;
}

result<api_challenges::issued> api_challenges::issue(std::chrono::seconds ttl, int uses,
                                                     const challenge_bindings& bindings, const std::string& label) {
    if (ttl.count() <= 0 || ttl > std::chrono::hours(24 * 366)) return make_error("ttl must be 1 second to 366 days");
    if (uses < 1 || uses > 1000000) return make_error("uses must be 1 to 1000000");
    if (label.size() > 256 || binding_has_control(label)) return make_error("label: at most 256 printable characters");
    if (auto ok = bindings.validate(); !ok) return ok.err();
    issued out;
    out.secret = to_hex(random_bytes(16), true);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    out.row.handle = "ch-" + to_hex(random_bytes(8));
    out.row.created_at = now;
    out.row.expires_at = now + ttl.count();
    out.row.uses_total = out.row.uses_left = uses;
    out.row.bindings = bindings.to_text();
    out.row.label = label;
    const std::string hash = challenge_hash(out.secret);
    if (auto r = store_.add(hash, out.row); !r) return r.err();
    return out;
}

}  // namespace scep
