// The settings' defaults, built-in templates, durations, and what the
// service and the start-up log derive from them.
#include "config/config.hpp"

#include <algorithm>
#include <cstdlib>

namespace scep::config {

namespace {
std::optional<fail_info> fail_info_named(std::string_view name) {
    for (auto f : {fail_info::bad_alg, fail_info::bad_message_check, fail_info::bad_request, fail_info::bad_time,
                   fail_info::bad_cert_id})
        if (to_string(f) == name) return f;
    return std::nullopt;
}
}  // namespace

std::optional<std::chrono::seconds> parse_signed_duration(std::string_view text) {
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    auto d = parse_duration(text);
    if (!d) return std::nullopt;
    return negative ? -*d : *d;
}

std::map<std::string, issuance_profile> builtin_templates() {
    // NDES's factory default for all three slots: "IPSec (Offline request)",
    // digitalSignature + keyEncipherment, EKU IP security IKE intermediate,
    // two years (ndes.md §5).
    issuance_profile ipsec;
    ipsec.name = "IPSECIntermediateOffline";
    ipsec.key_usage = {"digitalSignature", "keyEncipherment"};
    ipsec.extended_key_usage = {"1.3.6.1.5.5.8.2.2"};
    ipsec.validity = std::chrono::hours(24 * 365 * 2);
    return {{ipsec.name, ipsec}};
}

clock_fn lab_clock(const settings& s) {
    const auto offset = s.lab.clock_offset;
    if (offset.count() == 0) return system_clock_fn();
    return [offset] { return std::chrono::system_clock::now() + offset; };
}

std::vector<std::string> https_names(const settings& s, const std::string& host_name) {
    if (!s.https.names.empty()) return s.https.names;
    std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
    auto add = [&](const std::string& n) {
        if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    add(host_name);
    const std::string& listen = s.https_listen();
    if (listen != "0.0.0.0" && listen != "::") add(listen);
    return names;
}

settings defaults() {
    settings s;
    s.scep.challenge = default_challenge;
    // micromdm scepclient 2.x (Debian's `scep` package) and Cisco IOS encrypt
    // with single DES only. A lab server must serve them out of the box; the
    // server warns at start, and strict presets turn it off (RFC 8894 §2.9).
    s.scep.ciphers.allow_single_des = true;
    using std::chrono::hours;
    s.pki.tiers = {
        {"root", "CN=scep-lab Root CA,O=scep-lab", key_type::rsa2048, hours(24 * 3650), std::nullopt, {}, {}, {}},
        {"intermediate", "CN=scep-lab Intermediate CA,O=scep-lab", key_type::rsa2048, hours(24 * 1825), std::nullopt, {}, {}, {}},
        {"issuing", "CN=scep-lab Issuing CA,O=scep-lab", key_type::rsa2048, hours(24 * 1095), std::nullopt, {}, {}, {}},
    };
    return s;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    if (text.size() < 2) return std::nullopt;
    char unit = text.back();
    std::string_view digits = text.substr(0, text.size() - 1);
    long long n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
        if (n > 100000000000LL) return std::nullopt;
    }
    long long seconds = 0;
    switch (unit) {
        case 's': seconds = n; break;
        case 'm': seconds = n * 60; break;
        case 'h': seconds = n * 3600; break;
        case 'd': seconds = n * 86400; break;
        case 'y': seconds = n * 86400 * 365; break;
        default: return std::nullopt;
    }
    // At most 1000 years (a clone's validity in seconds is exact to the second).
    if (seconds > 1000LL * 365 * 86400) return std::nullopt;
    return std::chrono::seconds(seconds);
}

std::optional<std::chrono::milliseconds> parse_millis(std::string_view text) {
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        long long n = 0;
        for (char c : text.substr(0, text.size() - 2)) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + (c - '0');
            if (n > 100000000) return std::nullopt;
        }
        return std::chrono::milliseconds(n);
    }
    if (auto d = parse_duration(text)) return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    return std::nullopt;
}

std::string format_millis(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return format_duration(std::chrono::duration_cast<std::chrono::seconds>(ms));
    return std::to_string(ms.count()) + "ms";
}



result<issuance_profile> profile_named(const settings& s, const std::string& name) {
    if (name == "issuance") return s.issuance;
    auto it = s.templates.find(name);
    if (it == s.templates.end()) {
        std::string known = "issuance";
        for (const auto& [n, p] : s.templates) known += ", " + n;
        return make_error("unknown template \"" + name + "\" (defined: " + known + ")");
    }
    return it->second;
}


void derive(settings& s) {
    // NDES one-time passwords, said the old way (without NDES mode, validate() refuses it).
    if (s.challenge.mode == challenge_mode::ndes_dynamic && s.ndes.enabled) {
        s.challenge.mode = challenge_mode::static_secret;
        s.ndes.password_mode = password_mode::dynamic;
        s.deprecations.push_back(
            "challenge.mode = \"ndes-dynamic\" is ndes.password_mode = \"dynamic\" (with challenge.mode = \"static\", "
            "the default): use that (the old value is still read)");
    }
    // NDES's reply shape: Microsoft's failure reply, and a SHA-1 signature unless ndes.reply_digest = "mirror".
    s.scep.ndes_replies = s.ndes.enabled;
    s.scep.reply_sha1 = s.ndes.enabled && s.ndes.reply_digest == reply_digest_mode::sha1;
    // A signing + encryption RA pair: NDES mode's default, or [pki.ra] pair.
    s.pki.ra.ndes_pair = (s.ndes.enabled && s.ndes.ra_pair) || s.pki.ra.pair;
    s.pki.ra.ndes_subject = s.ndes.ra_subject;
    // "${lab}" in a clone's CDP and AIA URLs: crl.base_url, or the listening
    // address as configured (`serve` puts the real one once it listens).
    if (!s.crl_base_url.empty()) {
        s.pki.lab_url = s.crl_base_url;
    } else {
        const std::string host = s.server.listen.find(':') != std::string::npos ? "[" + s.server.listen + "]" : s.server.listen;
        s.pki.lab_url = (s.server.http ? "http://" : "https://") + host + ":" +
                        std::to_string(s.server.http ? s.server.port : s.https.port);
    }
}

service_config service_settings(const settings& s) {
    service_config c = s.scep;
    if (s.ndes.enabled) {
        c.reject_utf8_challenge = s.ndes.reject_utf8_challenge;
        // validate() has checked the names.
        auto slot = [&](const std::string& name) {
            auto p = profile_named(s, name);
            return p ? *p : s.issuance;
        };
        template_slots t;
        t.signature = slot(s.ndes.signature_template);
        t.encryption = slot(s.ndes.encryption_template);
        t.general_purpose = slot(s.ndes.general_purpose_template);
        t.others = s.templates;
        c.templates = std::move(t);
        c.ca_templates = s.ndes.ca_templates;
    }
    if (s.quirks.chain == chain_quirk::no_root) c.include_root_in_ca_chain = false;
    if (s.quirks.chain == chain_quirk::issuing_only) c.chain_issuing_only = true;
    if (!s.quirks.fail_info.empty()) c.forced_failure = fail_info_named(s.quirks.fail_info);
    return c;
}

std::vector<std::string> active_quirks(const settings& s) {
    const auto& q = s.quirks;
    std::vector<std::string> out;
    if (q.max_url_bytes) out.push_back("max_url_bytes = " + std::to_string(q.max_url_bytes) + ": longer URLs get HTTP.sys's 414");
    if (q.max_query_bytes)
        out.push_back("max_query_bytes = " + std::to_string(q.max_query_bytes) + ": longer query strings get IIS's 404 (404.15)");
    if (q.latency.count()) out.push_back("latency = " + format_millis(q.latency) + " before every SCEP answer");
    for (const auto& [op, status] : q.fail_status)
        out.push_back("fail_status: every " + op + " gets HTTP " + std::to_string(status));
    if (q.fail_every)
        out.push_back("fail_every = " + std::to_string(q.fail_every) + ": one in " + std::to_string(q.fail_every) +
                      " SCEP requests gets HTTP " + std::to_string(q.fail_every_status));
    if (q.expired_ra) out.push_back("expired_ra: the RA certificates served and used to sign expired yesterday");
    if (q.chain != chain_quirk::full)
        out.push_back("chain = " + std::string(name_of(q.chain, chain_quirks)) + ": GetCACert sends an incomplete chain");
    if (!q.fail_info.empty()) out.push_back("fail_info = " + q.fail_info + ": every PKIOperation gets FAILURE");
    return out;
}

std::string format_duration(std::chrono::seconds s) {
    auto n = s.count();
    if (n % 86400 == 0) return std::to_string(n / 86400) + "d";
    if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
    if (n % 60 == 0) return std::to_string(n / 60) + "m";
    return std::to_string(n) + "s";
}

}  // namespace scep::config
