#include "client/admin_client.hpp"

#include <boost/json.hpp>

namespace scep::client {

result<boost::json::value> admin_client::call(const std::string& method, const std::string& target,
                                              const std::string& body) const {
    std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Bearer " + token_}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto r = http_request(base_, method, target, body, headers, std::chrono::seconds(10));
    if (!r) return make_error("the server does not answer: " + r.message());
    boost::json::error_code ec;
    auto v = boost::json::parse(r->body, ec);
    if (r->status >= 400) {
        const bool has_error =
            !ec && v.is_object() && v.as_object().contains("error") && v.as_object().at("error").is_string();
        return make_error("HTTP " + std::to_string(r->status) + ": " +
                          (has_error ? std::string(v.as_object().at("error").as_string()) : r->body.substr(0, 200)));
    }
    if (ec) return make_error("the admin API's answer is not JSON");
    return v;
}

result<std::string> admin_client::fetch(const std::string& target) const {
    auto r = http_request(base_, "GET", target, {}, {{"Authorization", "Bearer " + token_}}, std::chrono::seconds(10));
    if (!r) return make_error("the server does not answer: " + r.message());
    if (r->status >= 400) return make_error("HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
    return std::move(r->body);
}

}  // namespace scep::client
