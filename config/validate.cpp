// Checks across settings, run once on the final settings (settle()) or by
// a loader used on its own.
#include "config/config.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "pki/crypto/encoding.hpp"

namespace scep::config {

result<void> validate(const settings& s) {
    if (s.data_dir.empty()) return make_error("data_dir must not be empty");
    if (s.scep_paths.empty()) return make_error("scep.paths must name at least one path");
    for (const auto& p : s.scep_paths)
        if (p.empty() || p.front() != '/' || p.find_first_of("?# ") != std::string::npos)
            return make_error("scep.paths: \"" + p + "\" must start with '/' and contain no '?', '#' or space");
    // Unknown keywords are allowed: clients ignore them (RFC 8894 §3.5.2).
    for (const auto& c : s.scep.capabilities)
        if (c.empty() || c.find_first_of("\r\n") != std::string::npos)
            return make_error("scep.capabilities: empty entries and line breaks are not allowed");
    // Served paths a clone keeps from the customer's CDP and AIA: one tier each,
    // not a path the lab already answers.
    std::set<std::string> served;
    for (const auto& t : s.pki.tiers)
        for (const auto* list : {&t.crl_paths, &t.cert_paths})
            for (const auto& p : *list) {
                if (p.size() < 2 || p.size() > 1024 || p.front() != '/' ||
                    std::any_of(p.begin(), p.end(), [](char c) {
                        return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '#';
                    }))
                    return make_error("pki.tiers." + t.name + ": served path \"" + p +
                                      "\" must start with '/', up to 1024 visible ASCII characters, no '#'");
                if (!served.insert(p).second)
                    return make_error("pki.tiers: the path \"" + p + "\" is served twice");
                for (const auto& scep : s.scep_paths)
                    if (p == scep || p.starts_with(scep + "/"))
                        return make_error("pki.tiers." + t.name + ": \"" + p + "\" is a SCEP path (scep.paths)");
            }
    // A header value is visible ASCII and spaces (RFC 9110 §5.5): no line
    // break can split the answer.
    for (const auto& [key, value] : {std::pair{"server.header_server", &s.server.header_server},
                                     std::pair{"server.header_powered_by", &s.server.header_powered_by}})
        if (value->size() > 256 || std::any_of(value->begin(), value->end(), [](char c) {
                return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e;
            }))
            return make_error(std::string(key) + ": up to 256 printable ASCII characters (an HTTP header value)");
    if (!s.crl_base_url.empty() && s.crl_base_url.rfind("http://", 0) != 0 && s.crl_base_url.rfind("https://", 0) != 0)
        return make_error("crl.base_url must start with http:// or https://, not \"" + s.crl_base_url + "\"");
    if (s.scep.crl_validity < std::chrono::minutes(1)) return make_error("crl.validity must be at least one minute");
    if (auto r = scep::validate(s.pki); !r) return r;
    if (auto r = scep::validate(s.issuance); !r) return make_error("issuance: " + r.message());
    for (const auto& [name, p] : s.templates)
        if (auto r = scep::validate(p); !r) return make_error("templates." + name + ": " + r.message());
    // An unknown template fails here, at start-up, not at the first request.
    for (auto [key, name] : {std::pair{"ndes.signature_template", &s.ndes.signature_template},
                             std::pair{"ndes.encryption_template", &s.ndes.encryption_template},
                             std::pair{"ndes.general_purpose_template", &s.ndes.general_purpose_template}})
        if (auto p = profile_named(s, *name); !p) return make_error(std::string(key) + ": " + p.message());
    if (s.challenge.mode == challenge_mode::ndes_dynamic && !s.ndes.enabled)
        return make_error("challenge.mode = \"ndes-dynamic\" needs NDES mode (ndes.enabled = true): the one-time "
                          "passwords come from its admin page");
    if (s.challenge.mode == challenge_mode::api && !s.admin.enabled)
        return make_error("challenge.mode = \"api\" needs the admin API (admin.enabled = true): challenges are "
                          "handed out by POST /admin/api/challenges");
    const bool hooked = s.challenge.mode == challenge_mode::webhook || s.challenge.mode == challenge_mode::ndes_policy;
    if (hooked && s.challenge.webhook_url.rfind("http://", 0) != 0 && s.challenge.webhook_url.rfind("https://", 0) != 0)
        return make_error("challenge.mode = \"" + std::string(name_of(s.challenge.mode, challenge_modes)) +
                          "\" needs challenge.webhook_url, an http:// or https:// URL (got \"" +
                          redact_url(s.challenge.webhook_url) + "\")");
    if (s.challenge.mode == challenge_mode::ndes_policy && !s.ndes.enabled)
        return make_error("challenge.mode = \"ndes-policy\" needs NDES mode (ndes.enabled = true): the policy "
                          "module's HRESULTs are answered as NDES answers them");
    if (s.challenge.mode == challenge_mode::ndes_policy && s.challenge.webhook_format != webhook_format::scep_lab)
        return make_error("challenge.webhook_format = \"" + std::string(name_of(s.challenge.webhook_format, webhook_formats)) +
                          "\" is for mode = \"webhook\"; ndes-policy speaks its own INDESPolicy calls");
    if (!s.challenge.webhook_ca_file.empty() && s.challenge.webhook_url.rfind("https://", 0) != 0)
        return make_error("challenge.webhook_ca_file is for an https:// webhook_url");
    if (s.challenge.default_ttl < std::chrono::seconds(1) || s.challenge.default_ttl > std::chrono::hours(24 * 366))
        return make_error("challenge.default_ttl must be 1s to 366d");
    if (!s.server.http && !s.https.enabled)
        return make_error("server.http = false and https.enabled = false: nothing would listen; turn one on");
    // Listening needs an address of this machine, written as an IP address
    // (a name would resolve to several); checked before anything is written.
    for (auto [key, value] : {std::pair{"server.listen", &s.server.listen}, std::pair{"https.listen", &s.https.listen}}) {
        if (value->empty() && std::string_view(key) == "https.listen") continue;
        unsigned char buf[sizeof(in6_addr)];
        if (::inet_pton(AF_INET, value->c_str(), buf) != 1 && ::inet_pton(AF_INET6, value->c_str(), buf) != 1)
            return make_error(std::string(key) + " = \"" + printable_text(*value, 100, '?') +
                              "\" is not an IP address (0.0.0.0 or :: for every interface, 127.0.0.1 for this machine only)");
    }
    if (s.https.cert_file.empty() != s.https.key_file.empty())
        return make_error("https.cert_file and https.key_file go together: set both (your own certificate) or neither "
                          "(issued by the lab)");
    if (s.server.http && s.https.enabled && s.https.port != 0 && s.https.port == s.server.port &&
        s.https_listen() == s.server.listen)
        return make_error("server.port and https.port are both " + std::to_string(s.https.port) +
                          ": HTTP and HTTPS need different ports");
    for (const auto& n : s.https.names)
        if (n.empty() || n.find_first_of(" ,/") != std::string::npos)
            return make_error("https.names: \"" + n + "\" is not a host name or IP address");
    if (s.quirks.expired_ra && s.pki.ca_as_ra)
        return make_error("quirks.expired_ra needs a separate RA certificate; it cannot be used with pki.ca_as_ra = true");
    return {};
}

}  // namespace scep::config
