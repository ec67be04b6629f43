#include "client/clone_fetch.hpp"

#include "client/scep_client.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::client {

result<clone::server_view> fetch_view(const clone_fetch_options& o) {
    auto url = parse_scep_url(o.url);
    if (!url) return make_error("--url " + o.url + ": " + url.message());
    url->ca_file = o.ca_file;
    url->max_reply_bytes = clone::max_input_bytes;
    clone::server_view view;
    view.source = redact_url(o.url);
    view.scep_path = url->path;
    const http_style style{};
    auto get = [&](const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        return http_send(*url, "GET", target, "", headers, style, o.timeout);
    };
    const std::string base = url->path + (url->path.find('?') == std::string::npos ? "?" : "&");
    auto caps = get(base + "operation=GetCACaps");
    if (!caps) return make_error(view.source + ": GetCACaps: " + caps.message());
    view.server_header = caps->server;
    view.powered_by = caps->powered_by;
    if (caps->status == 200) {
        if (auto ok = clone::check_caps(caps->body, "GetCACaps answer"); !ok) return ok.err();
        view.caps = caps->body;
        view.caps_content_type = caps->content_type;
    }
    auto cacert = get(base + "operation=GetCACert&message=CA");
    if (!cacert) return make_error(view.source + ": GetCACert: " + cacert.message());
    if (cacert->status != 200)
        return make_error(view.source + ": GetCACert answered HTTP " + std::to_string(cacert->status) +
                          ": nothing to clone (is this the SCEP URL a client uses?)");
    auto certs = clone::read_certificates(cacert->body, "the GetCACert answer", &view.single);
    if (!certs) return certs.err();
    view.certs = std::move(*certs);
    view.cacert_content_type = cacert->content_type;
    if (auto next = get(base + "operation=GetNextCACert&message=CA")) view.next_status = next->status;
    if (o.admin_open || !o.admin_user.empty()) {
        // NDES's admin page lives beside its SCEP path.
        auto admin_url = *url;
        admin_url.path = "/certsrv/mscep_admin/";
        std::vector<std::pair<std::string, std::string>> headers;
        if (!o.admin_user.empty()) {
            const std::string pair = o.admin_user + ":" + o.admin_password;
            headers.emplace_back("Authorization",
                                 "Basic " + base64_encode(byte_view(reinterpret_cast<const std::uint8_t*>(pair.data()), pair.size())));
        }
        auto page = http_send(admin_url, "GET", admin_url.path, "", headers, style, o.timeout);
        if (!page) return make_error(view.source + ": the admin page: " + page.message());
        view.admin_status = page->status;
        view.admin_content_type = page->content_type;
        if (page->status == 401) view.admin_needs_login = true;
        if (page->status == 200) view.admin_page = page->body;
        if (page->status == 401 && !o.admin_user.empty())
            return make_error(view.source + ": the admin page refused " + o.admin_user + "'s credentials (HTTP 401)");
    }
    return view;
}

}  // namespace scep::client
