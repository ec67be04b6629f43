#include "server/ndes_admin.hpp"

#include <openssl/evp.h>

#include "pki/crypto/constant_time.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/scep/service.hpp"

namespace scep::server {

namespace {
// The wrapper of every NDES admin page, as captured from a real server
// (Fleet's test data, quoted in ndes.md §2); only the middle part changes.
constexpr const char* page_head =
    "<HTML><Head><Meta HTTP-Equiv=\"Content-Type\" Content=\"text/html; charset=UTF-8\">"
    "<Title>Network Device Enrollment Service</Title></Head><Body BgColor=#FFFFFF><Font ID=locPageFont "
    "Face=\"Arial\"><Table Border=0 CellSpacing=0 CellPadding=4 Width=100% BgColor=#008080><TR><TD><Font "
    "ID=locPageTitleFont Face=\"Arial\" Size=-1 Color=#FFFFFF><LocID ID=locMSCertSrv>Network Device Enrollment "
    "Service</LocID></Font></TD></TR></Table><P ID=locPageTitle> Network Device Enrollment Service allows you to "
    "obtain certificates for routers or other network devices using the Simple Certificate Enrollment Protocol "
    "(SCEP). </P>";
constexpr const char* page_tail =
    "<P ID=locPageDesc> For more information see  <A HREF=http://go.microsoft.com/fwlink/?LinkId=67852>Using "
    "Network Device Enrollment Service </A>. </P></Font></Body></HTML>";
}  // namespace

std::string ndes_thumbprint(const X509& ca_cert) {
    std::string hex = to_hex(digest(EVP_md5(), x509_to_der(ca_cert)), true);
    return hex.substr(0, 8) + " " + hex.substr(8, 8) + " " + hex.substr(16, 8) + " " + hex.substr(24, 8);
}

std::string render_admin_html(const admin_page& p) {
    std::string body;
    switch (p.kind) {
        case admin_page_kind::dynamic_password:
        case admin_page_kind::single_password:
            body = "<P> To complete certificate enrollment for your network device you will need the following "
                   "information: <P> The thumbprint (hash value) for the CA certificate is: <B> " +
                   p.thumbprint + " </B> <P> The enrollment challenge password is: <B> " + markup_escape(p.password) + " </B> <P> ";
            if (p.kind == admin_page_kind::dynamic_password)
                body += "This password can be used only once and will expire within " +
                        std::to_string(p.validity_minutes) +
                        " minutes. <P> Each enrollment requires a new challenge password. You can refresh this web "
                        "page to obtain a new challenge password. </P> ";
            else
                body += "This password can be used multiple times and will not expire. </P> ";
            break;
        case admin_page_kind::cache_full:
            body = "<P> The password cache is full. <P> Network Device Enrollment Service stores unused password "
                   "for later use. By default, passwords are stored for " +
                   std::to_string(p.validity_minutes) +
                   " minutes.<P>Use one of the existing passwords. If you cannot use an existing password: <UL> "
                   "<LI> Wait until one or more existing passwords expire (by default passwords expire " +
                   std::to_string(p.validity_minutes) +
                   " minutes after they are created). </LI> <LI> Restart Internet Information Services (IIS). "
                   "</LI> <LI> Configure the service to cache more than " +
                   std::to_string(p.cache_size) + " passwords. </LI> </UL> </P> ";
            break;
        case admin_page_kind::no_permission:
            body = "<P> You do not have sufficient permission to enroll with SCEP.  Please contact your system "
                   "administrator. </P> ";
            break;
        case admin_page_kind::information:
            body = "<P> This URL is used by network devices to submit certificate requests. <P> To obtain an "
                   "enrollment challenge password, go to the admin URL. By default, the admin URL is "
                   "<A HREF=\"" + markup_escape(p.admin_url) + "\">" + markup_escape(p.admin_url) + "</A> </P> ";
            break;
    }
    return std::string(page_head) + body + page_tail;
}

std::string encode_page(const std::string& text, page_encoding enc) {
    if (enc == page_encoding::utf8) return text;
    std::string out;
    out.reserve(text.size() * 2 + 2);
    if (enc == page_encoding::utf16le_bom) out += "\xFF\xFE";
    // The pages are ASCII, so each byte becomes one UTF-16 code unit.
    for (char c : text) {
        out += c;
        out += '\0';
    }
    return out;
}


ndes_frontend::ndes_frontend(config::ndes_settings cfg, one_time_passwords* otp, std::string single_password,
                             std::string thumbprint)
    : cfg_(std::move(cfg)),
      otp_(otp),
      single_password_(std::move(single_password)),
      thumbprint_(std::move(thumbprint)),
      encoding_(cfg_.admin_encoding == "utf-8"      ? page_encoding::utf8
                : cfg_.admin_encoding == "utf-16le" ? page_encoding::utf16le
                                                    : page_encoding::utf16le_bom) {}

bool ndes_frontend::is_admin_path(std::string_view path) {
    // IIS paths are case-insensitive; clients write CertSrv and certsrv.
    const std::string p = ascii_lower(path);
    const std::string_view base = config::ndes_admin_path.substr(0, config::ndes_admin_path.size() - 1);  // no '/' 
    return p == base || (p.size() > base.size() && p.compare(0, base.size(), base) == 0 && p[base.size()] == '/');
}

response ndes_frontend::html(const request& req, const std::string& page) const {
    // Real NDES often sends no charset at all (ndes.md §2).
    return make_answer(req, http::status::ok, "text/html", encode_page(page, encoding_));
}

bool ndes_frontend::authorized(const request& req) const {
    if (cfg_.admin_users.empty()) return true;
    std::string_view auth = req[http::field::authorization];
    constexpr std::string_view basic = "Basic ";
    if (auth.size() <= basic.size() || auth.substr(0, basic.size()) != basic) return false;
    auto decoded = base64_decode(auth.substr(basic.size()));
    if (!decoded) return false;
    std::string given(decoded->begin(), decoded->end());
    bool ok = false;
    for (const auto& user : cfg_.admin_users) ok |= constant_time_equal(given, user);
    return ok;
}

response ndes_frontend::admin(const request& req, std::string& detail) {
    if (!authorized(req)) {
        auto res = make_answer(req, http::status::unauthorized, "text/plain",
                          "401 Unauthorized: the NDES admin page needs a login (ndes.admin_users)\n");
        res.set(http::field::www_authenticate, "Basic realm=\"scep-lab NDES admin\"");
        detail = "admin page: no or wrong login";
        return res;
    }
    admin_page page;
    {
        std::lock_guard lock(thumbprint_mu_);
        page.thumbprint = thumbprint_;
    }
    page.validity_minutes = static_cast<int>(cfg_.password_validity.count() / 60);
    page.cache_size = static_cast<int>(cfg_.password_cache);
    if (cfg_.admin_response == config::admin_page_answer::server_error) {
        detail = "admin page: injected HTTP 500 (ndes.admin_response)";
        return make_answer(req, http::status::internal_server_error, "text/html",
                      "<html><body>500 - Internal server error.</body></html>");
    }
    if (cfg_.admin_response == config::admin_page_answer::empty) {
        detail = "admin page: injected empty body (ndes.admin_response)";
        return html(req, "");
    }
    if (cfg_.admin_response == config::admin_page_answer::no_permission) {
        page.kind = admin_page_kind::no_permission;
        detail = "admin page: insufficient permission (ndes.admin_response)";
        return html(req, render_admin_html(page));
    }
    if (cfg_.admin_response == config::admin_page_answer::cache_full) {
        page.kind = admin_page_kind::cache_full;
        detail = "admin page: password cache is full (ndes.admin_response)";
        return html(req, render_admin_html(page));
    }
    if (source_) {
        // pwszParams of GenerateChallenge: the page's query string, as a
        // policy module's own admin page would pass it on.
        std::string_view target = req.target();
        auto q = target.find('?');
        auto password = source_(q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1, 512)));
        if (!password) {
            page.kind = admin_page_kind::no_permission;
            detail = "admin page: no password: " + password.message();
        } else if (!*password) {
            page.kind = admin_page_kind::cache_full;
            detail = "admin page: password cache is full (ndes.password_cache unused challenges live)";
        } else {
            page.kind = admin_page_kind::dynamic_password;
            page.password = **password;
            page.validity_minutes = source_validity_minutes_;
            detail = "admin page: new one-time challenge";  // the challenge itself is never logged
        }
        return html(req, render_admin_html(page));
    }
    if (cfg_.password_mode == config::password_mode::dynamic && otp_) {
        auto password = otp_->issue();
        if (!password) {
            page.kind = admin_page_kind::cache_full;
            detail = "admin page: password cache is full";
        } else {
            page.kind = admin_page_kind::dynamic_password;
            page.password = *password;
            detail = "admin page: new one-time password";  // the password itself is never logged
        }
        return html(req, render_admin_html(page));
    }
    page.kind = admin_page_kind::single_password;
    page.password = cfg_.password_mode == config::password_mode::none ? std::string() : single_password_;
    detail = "admin page: single password";
    return html(req, render_admin_html(page));
}

response ndes_frontend::browse(const request& req, const std::string& admin_url) {
    if (cfg_.browse == config::browse_answer::forbidden) {
        return make_answer(req, http::status::forbidden, "text/html",
                      "<html><body>403 - Forbidden: Access is denied.</body></html>");
    }
    admin_page page;
    page.kind = admin_page_kind::information;
    page.admin_url = admin_url;
    return html(req, render_admin_html(page));
}

}  // namespace scep::server
