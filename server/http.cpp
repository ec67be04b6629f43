#include "server/http.hpp"

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::server {

target_parts split_target(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

std::vector<std::pair<std::string, std::string>> split_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
        out.emplace_back(percent_decode(key).value_or(std::string(key)), std::string(value));
    }
    return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> form_params(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto [k, v] : split_query(query)) {
        for (char& c : v)
            if (c == '+') c = ' ';
        auto d = percent_decode(v);
        if (!d) return std::nullopt;
        out.emplace_back(std::move(k), std::move(*d));
    }
    return out;
}

namespace {
std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

}  // namespace

std::optional<framing_error> check_framing(request& req) {
    // RFC 9112 §6.3 (4): chunked must be the final coding, or the body's
    // length is unknown; §6.1: codings we do not implement get 501.
    std::vector<std::string_view> codings;
    for (const auto& field : req.base()) {
        if (field.name() != http::field::transfer_encoding) continue;
        std::string_view list = field.value();
        while (!list.empty()) {
            auto comma = list.find(',');
            auto c = trim_ows(list.substr(0, comma));
            if (!c.empty()) codings.push_back(c);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
    }
    if (!codings.empty()) {
        if (!ascii_iequals(codings.back(), "chunked"))
            return framing_error{http::status::bad_request,
                                 "Transfer-Encoding must end with chunked (RFC 9112 §6.3); the connection is closed"};
        if (codings.size() > 1)
            return framing_error{http::status::not_implemented,
                                 "only the chunked transfer coding is implemented; the connection is closed"};
    }
    // RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; no request may have two.
    const auto hosts = std::distance(req.base().equal_range(http::field::host).first,
                                     req.base().equal_range(http::field::host).second);
    if (hosts > 1) return framing_error{http::status::bad_request, "the request has more than one Host header"};
    if (hosts == 0 && req.version() >= 11)
        return framing_error{http::status::bad_request, "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)"};
    // Absolute-form (what a client that thinks it talks to a proxy sends).
    std::string_view target = req.target();
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() < scheme.size() || !ascii_iequals(target.substr(0, scheme.size()), scheme)) continue;
        std::string_view rest = target.substr(scheme.size());
        auto end = rest.find_first_of("/?");
        std::string_view authority = rest.substr(0, end);
        if (authority.find('@') != std::string_view::npos || !plausible_host(authority))
            return framing_error{http::status::bad_request, "the absolute-form target has no usable host"};
        std::string origin = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
        if (origin.front() == '?') origin.insert(0, "/");
        std::string host(authority);
        req.set(http::field::host, host);
        req.target(origin);
        break;
    }
    return std::nullopt;
}

bool is_get_or_head(const request& req) {
    return req.method() == http::verb::get || req.method() == http::verb::head;
}

bool plausible_host(std::string_view host) {
    return !host.empty() && host.size() <= 255 &&
           host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
               std::string_view::npos;
}

std::optional<std::string> base_url_of(const request& req, bool secure) {
    std::string host(req[http::field::host]);
    if (host.empty()) host = "127.0.0.1";
    if (!plausible_host(host)) return std::nullopt;
    return (secure ? "https://" : "http://") + host;
}

response make_answer(const request& req, http::status status, std::string_view content_type, std::string body) {
    response res{status, req.version()};
    res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response text_response(const request& req, http::status status, std::string body) {
    return make_answer(req, status, "text/plain; charset=utf-8", std::move(body));
}

response json_response(const request& req, http::status status, const boost::json::value& body) {
    auto res = make_answer(req, status, "application/json", scep::json_text(body) + "\n");
    res.set(http::field::cache_control, "no-store");
    return res;
}

response json_error(const request& req, http::status status, const std::string& message) {
    return json_response(req, status, boost::json::object{{"error", message}});
}

response method_not_allowed(const request& req, std::string_view allow) {
    auto res = text_response(req, http::status::method_not_allowed, "use " + std::string(allow) + "\n");
    res.set(http::field::allow, allow);
    return res;
}

response json_method_not_allowed(const request& req, std::string_view allow) {
    auto res = json_error(req, http::status::method_not_allowed, "use " + std::string(allow));
    res.set(http::field::allow, allow);
    return res;
}

response file_response(const request& req, std::string content_type, const std::string& filename, std::string body) {
    auto res = make_answer(req, http::status::ok, content_type, std::move(body));
    if (!filename.empty()) res.set(http::field::content_disposition, "attachment; filename=\"" + filename + "\"");
    return res;
}

response page_response(const request& req, http::status status, std::string_view content_type, std::string body) {
    auto res = make_answer(req, status, content_type, std::move(body));
    res.set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    return res;
}

}  // namespace scep::server
