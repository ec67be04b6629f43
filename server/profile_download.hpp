// Apple configuration profiles from the running lab (GET
// /profiles/apple.mobileconfig) and from the command line (`scep-lab profile
// apple`): settings, the challenge in force, the HTTPS chain and the RADIUS
// names go into pki/apple_profile's builder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "pki/trust/mobileconfig.hpp"
#include "pki/challenge/challenge.hpp"
#include "pki/trust/exports.hpp"
#include "pki/store/store.hpp"

namespace scep::server {

struct profile_request {
    apple_profile_options options;
    bool sign = false;
    bool challenge_given = false;  // options.challenge set by the caller
    // The caller may see the challenge: it holds the admin token, or the
    // mscep_admin login in NDES mode (or runs `scep-lab profile` on the
    // data directory). Anonymous callers get the challenge only when it is
    // the lab default; never an NDES one-time password (docs/security.md).
    bool may_see_challenge = false;
};

// Query parameters of the download: ssid, security, radius_name (repeat),
// omit (comma list or repeat), sign=1, subject, fingerprint=sha1|sha256,
// fingerprint_ca, key_size, key_usage.
result<profile_request> profile_request_from_query(std::string_view query);

struct profile_sources {
    const config::settings& settings;
    const hierarchy& pki;
    cert_store& store;
    std::vector<const X509*> tls_chain;  // empty when HTTPS is off
    one_time_passwords* otp = nullptr;   // NDES dynamic passwords
};

// Fills what the request leaves open (URL from base_url and the SCEP path,
// challenge, RADIUS names from the newest `issue --profile radius-server`
// certificate), builds and optionally signs the profile.
// `withheld` (when given) says why the profile carries no challenge
// although one is configured; empty otherwise.
result<exported> make_apple_profile(const profile_sources& src, profile_request req, const std::string& base_url,
                                    std::string* withheld = nullptr);

}  // namespace scep::server
