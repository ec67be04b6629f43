// The server's floor: the one request and response type every handler uses,
// the answers they build (plain text, JSON, files, pages), the security
// headers of pages, target and query splitting, and what one request did
// (for the request log, metrics and transport faults). Everything in server/
// that answers HTTP includes this and nothing heavier to get those types.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pki/scep/outcome.hpp"

namespace scep::server {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// What one request did, for the request log.
struct request_record {
    std::string operation;
    std::string detail;
    scep_outcome scep;    // a SCEP operation: what it did, typed (formatted by the log and metrics)
    int http_status = 0;  // set once, from the answer the router returns
    // As IIS would log it (log.iis_dir): the substatus (404.15: request
    // filtering), and whether HTTP.sys refused it before IIS (not logged there).
    int iis_substatus = 0;
    bool http_sys = false;
    // Held back this long before the answer is written (quirks.latency).
    std::chrono::milliseconds delay{0};
    // How the answer goes on the wire: a transport fault (docs/faults.md)
    // closes or resets the connection instead, or pauses in the middle of the body.
    enum class wire { answer, close, reset, pause_mid_body } transport = wire::answer;
    std::chrono::milliseconds pause{0};  // pause_mid_body
};

// A request target cut at the first '?'.
struct target_parts {
    std::string_view path;
    std::string_view query;  // without the '?'
};
target_parts split_target(std::string_view target);

// Query parameters as sent (keys percent-decoded, values left encoded).
std::vector<std::pair<std::string, std::string>> split_query(std::string_view query);
// Query parameters of a form-style query: values percent-decoded with '+' as
// a space; nullopt when a value is not percent-encoded properly.
std::optional<std::vector<std::pair<std::string, std::string>>> form_params(std::string_view query);

// Checks made on every request before it is routed, where a wrong answer
// would let two parties read one byte stream differently (RFC 9112):
// Transfer-Encoding whose final coding is not chunked (400) or with codings
// this server does not implement (501); an HTTP/1.1 request without Host,
// or any request with two (400). The session answers an error and closes
// the connection. An absolute-form target (RFC 9112 §3.2.2) is rewritten to
// origin-form, its authority becoming the Host.
struct framing_error {
    http::status status;
    std::string reason;
};
std::optional<framing_error> check_framing(request& req);

bool is_get_or_head(const request& req);

// A Host value that can go into links and profiles.
bool plausible_host(std::string_view host);
// "http(s)://host" from the request's Host header (127.0.0.1 when it has
// none); nullopt when it is not a plausible host.
std::optional<std::string> base_url_of(const request& req, bool secure);

// Answers. Each keeps the request's version and keep-alive and sets the length.
response make_answer(const request& req, http::status status, std::string_view content_type, std::string body);
response text_response(const request& req, http::status status, std::string body);
// JSON (the one writer: valid UTF-8 only), never cached: it may carry state.
response json_response(const request& req, http::status status, const boost::json::value& body);
response json_error(const request& req, http::status status, const std::string& message);
// 405 with the methods the resource takes (RFC 9110 §15.5.6: Allow is
// required); the reason as plain text, or as JSON for JSON resources.
response method_not_allowed(const request& req, std::string_view allow);
response json_method_not_allowed(const request& req, std::string_view allow);
// A download with its suggested name (empty: no Content-Disposition).
response file_response(const request& req, std::string content_type, const std::string& filename, std::string body);
// A page of this server (HTML or its script): only its own script, inline
// styles only, no framing, no sniffing, never cached.
response page_response(const request& req, http::status status, std::string_view content_type, std::string body);

}  // namespace scep::server
