#include "server/profile_download.hpp"

#include <chrono>

#include "pki/crypto/encoding.hpp"
#include "server/http.hpp"

namespace scep::server {

namespace {

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto comma = s.find(',', start);
        auto part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!part.empty()) out.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

std::optional<int> small_int(const std::string& s) {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoi(s);
}

// DNS names of the newest RADIUS certificate `scep-lab issue` made.
std::vector<std::string> radius_names_from_store(cert_store& store) {
    auto rows = store.list(2000, 0);
    if (!rows) return {};
    for (const auto& r : *rows) {
        if (r.requester != "scep-lab issue radius-server" || r.status != "valid") continue;
        std::vector<std::string> names;
        std::size_t pos = 0;
        while ((pos = r.sans.find("DNS:", pos)) != std::string::npos) {
            pos += 4;
            auto end = r.sans.find(',', pos);
            names.push_back(r.sans.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
        }
        if (!names.empty()) return names;
    }
    return {};
}

}  // namespace

result<profile_request> profile_request_from_query(std::string_view query) {
    profile_request req;
    auto& o = req.options;
    for (const auto& [key, raw] : split_query(query)) {
        std::string plus_as_space = raw;
        for (char& c : plus_as_space)
            if (c == '+') c = ' ';
        auto value = percent_decode(plus_as_space);
        if (!value) return make_error("parameter " + key + " is not percent-encoded properly");
        const std::string& v = *value;
        if (key == "ssid") {
            o.wifi_ssid = v;
        } else if (key == "security") {
            o.wifi_security = v;
        } else if (key == "radius_name") {
            o.radius_names.push_back(v);
        } else if (key == "omit") {
            for (auto& n : split_commas(v)) o.omit.push_back(n);
        } else if (key == "sign") {
            if (v != "0" && v != "1") return make_error("sign is 0 or 1");
            req.sign = v == "1";
        } else if (key == "subject") {
            o.subject = v;
        } else if (key == "fingerprint") {
            o.fingerprint_digest = v;
        } else if (key == "fingerprint_ca") {
            o.fingerprint_ca = v;
        } else if (key == "key_size" || key == "key_usage") {
            auto n = small_int(v);
            if (!n) return make_error(key + " must be a number");
            (key == "key_size" ? o.key_size : o.key_usage) = *n;
        } else {
            return make_error("unknown parameter \"" + key +
                              "\" (ssid, security, radius_name, omit, sign, subject, fingerprint, fingerprint_ca, "
                              "key_size, key_usage)");
        }
    }
    return req;
}

result<exported> make_apple_profile(const profile_sources& src, profile_request req, const std::string& base_url,
                                    std::string* withheld) {
    const auto& s = src.settings;
    auto& o = req.options;
    if (o.scep_url.empty())
        o.scep_url = base_url + (s.ndes.enabled ? std::string(config::ndes_scep_paths.front()) : s.scep_paths.front());
    auto withhold = [&](std::string why) {
        if (withheld) *withheld = std::move(why);
    };
    if (!req.challenge_given) {
        if (s.ndes.enabled && s.ndes.password_mode == config::password_mode::dynamic) {
            // As an MDM does with NDES: one fresh one-time password per
            // profile, for callers the NDES admin page would give one to.
            if (!req.may_see_challenge) {
                withhold("withheld: NDES one-time passwords go to callers with the mscep_admin login "
                         "(ndes.admin_users) or the admin token");
            } else {
                if (!src.otp)
                    return make_error("NDES one-time passwords live in the running server: download the profile from "
                                      "/profiles/apple.mobileconfig, or pass --challenge");
                auto pw = src.otp->issue();
                if (!pw) return make_error("the one-time password cache is full (ndes.password_cache)");
                o.challenge = *pw;
            }
        } else if (!(s.ndes.enabled && s.ndes.password_mode == config::password_mode::none) && !s.scep.challenge.empty()) {
            if (req.may_see_challenge || s.scep.challenge == config::default_challenge)
                o.challenge = s.scep.challenge;
            else
                withhold("withheld: the configured challenge goes to callers with the admin token" +
                         std::string(s.ndes.enabled ? " or the mscep_admin login" : ""));
        }
    }
    if (!o.wifi_ssid.empty() && o.radius_names.empty()) o.radius_names = radius_names_from_store(src.store);
    auto xml = build_apple_profile(src.pki, src.tls_chain, o);
    if (!xml) return xml.err();
    if (!req.sign) return exported{"application/x-apple-aspen-config", std::move(*xml), "scep-lab.mobileconfig"};

    auto signer = ensure_profile_signer(src.pki, s.pki_dir(), s.pki.key_passphrase, std::chrono::system_clock::now());
    if (!signer) return make_error("profile signer: " + signer.message());
    if (signer->issued_now) {
        auto rec = make_record(*signer->sc.cert);
        rec.requester = "scep-lab profile signer";
        if (auto r = src.store.insert(rec); !r) return make_error("recording the profile signer: " + r.message());
    }
    auto der = sign_profile(*xml, *signer->sc.cert, *signer->sc.key, src.pki.chain(false));
    if (!der) return der.err();
    return exported{"application/x-apple-aspen-config", std::string(der->begin(), der->end()),
                    "scep-lab-signed.mobileconfig"};
}

}  // namespace scep::server
