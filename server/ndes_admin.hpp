// The NDES admin page (/certsrv/mscep_admin/): the HTML that Windows NDES
// serves, close enough for the scrapers in the field (Fleet, PowerShell
// modules, impacket) to read it. Facts and sources: shared/reference/ndes.md §2.
#pragma once

#include <functional>
#include <mutex>
#include <string>


#include "config/config.hpp"
#include "pki/challenge/challenge.hpp"
#include "pki/crypto/ossl.hpp"
#include "server/http.hpp"

namespace scep::server {

enum class admin_page_kind {
    dynamic_password,  // "can be used only once and will expire within N minutes"
    single_password,   // "can be used multiple times and will not expire"
    cache_full,        // "The password cache is full."
    no_permission,     // "You do not have sufficient permission to enroll with SCEP."
    information,       // the page for browsing the SCEP URL itself
};

struct admin_page {
    admin_page_kind kind = admin_page_kind::dynamic_password;
    std::string thumbprint;  // MD5 of the CA certificate, "XXXXXXXX XXXXXXXX XXXXXXXX XXXXXXXX"
    std::string password;
    int validity_minutes = 60;
    int cache_size = 5;
    std::string admin_url;   // for the information page
};

std::string render_admin_html(const admin_page& page);

// NDES thumbprint format: MD5 of the DER certificate, four groups of eight
// upper-case hex digits (jscep#13).
std::string ndes_thumbprint(const X509& ca_cert);

enum class page_encoding { utf16le_bom, utf16le, utf8 };
// Real NDES sends UTF-16LE though its <Meta> says UTF-8 (ndes.md §2).
std::string encode_page(const std::string& utf8_ascii, page_encoding enc);

// The HTTP side of NDES mode: the admin page (with optional Basic login and
// the "NDES in trouble" answers) and the page for browsing the SCEP URL.
class ndes_frontend {
public:

    // `otp` is the dynamic password cache (null unless password_mode = "dynamic").
    ndes_frontend(config::ndes_settings cfg, one_time_passwords* otp, std::string single_password,
                  std::string thumbprint);

    static bool is_admin_path(std::string_view path);
    response admin(const request& req, std::string& detail);
    response browse(const request& req, const std::string& admin_url);
    // The request carries a valid login of ndes.admin_users (false when none
    // is configured: an open page is no login).
    bool has_login(const request& req) const { return !cfg_.admin_users.empty() && authorized(req); }
    // Where the page's one-time password comes from when scep-lab does not
    // keep it itself: a challenge from the challenge store (challenge.mode =
    // "api") or the policy module's GenerateChallenge ("ndes-policy"). An
    // error is the page NDES shows when the policy says no (no permission);
    // nullopt, the page it shows when its password cache is full.
    using password_source = std::function<result<std::optional<std::string>>(const std::string& params)>;
    void set_password_source(password_source source, int validity_minutes) {
        source_ = std::move(source);
        source_validity_minutes_ = validity_minutes;
    }
    // The admin page's CA thumbprint, after a live rollover.
    void set_thumbprint(std::string thumbprint) {
        std::lock_guard lock(thumbprint_mu_);
        thumbprint_ = std::move(thumbprint);
    }

private:
    response html(const request& req, const std::string& page) const;
    bool authorized(const request& req) const;

    config::ndes_settings cfg_;
    one_time_passwords* otp_;
    std::string single_password_;
    password_source source_;
    int source_validity_minutes_ = 60;
    mutable std::mutex thumbprint_mu_;
    std::string thumbprint_;
    page_encoding encoding_;
};

}  // namespace scep::server
