// Maps HTTP requests to SCEP operations (RFC 8894 §4.1) and service replies
// back to HTTP. No sockets: the session hands in a parsed request.
#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "pki/trust/exports.hpp"
#include "pki/scep/service.hpp"

namespace scep::server {
class ndes_frontend;
class quirk_gate;
class metrics;
class admin_api;
}

namespace scep::server {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// What one request did, for the request log.
struct request_record {
    std::string operation;
    std::string message_type;
    std::string transaction_id;
    std::string pki_status;
    std::string fail_info;
    std::string detail;
    std::string serial;
    int http_status = 0;
    // Held back this long before the answer is written (quirks.latency).
    std::chrono::milliseconds delay{0};
};

class router {
public:
    router(scep_service& service, std::vector<std::string> scep_paths, ndes_frontend* ndes = nullptr,
           quirk_gate* quirks = nullptr);

    // `secure`: the request came over HTTPS (links it builds say https).
    response handle(const request& req, const std::string& client, request_record& rec, bool secure = false);
    // log.capture_dir: PKIOperation requests and replies written as DER.
    void capture_to(std::filesystem::path dir) { capture_dir_ = std::move(dir); }
    // The HTTPS server certificate and its chain (server certificate first),
    // served as /ca/tls.<crt|pem> and /ca/tls-chain.<pem|p7b>.
    void set_tls_chain(std::vector<x509_ptr> chain) { tls_chain_ = std::move(chain); }
    std::vector<const X509*> tls_chain() const {
        std::vector<const X509*> out;
        for (const auto& c : tls_chain_) out.push_back(c.get());
        return out;
    }
    // GET /profiles/apple.mobileconfig?...: the profile for this query and
    // base URL (scheme and Host of the request). The request and client tell
    // who asks (the challenge goes only to those allowed to see it); `note`
    // comes back non-empty when something was left out, and is sent as the
    // X-Scep-Lab-Challenge header.
    struct profile_call {
        std::string_view query;
        std::string base_url;
        const request& req;
        const std::string& client;
        std::string note;
    };
    using profile_source = std::function<result<exported>(profile_call& call)>;
    void set_profile_source(profile_source source) { profile_source_ = std::move(source); }
    // GET /metrics (Prometheus) from these counters.
    void set_metrics(metrics* m) { metrics_ = m; }
    // GET /readyz answers 200 while this is true and the store answers.
    void set_ready(bool ready) { ready_ = ready; }
    // GET /: the status page for this base URL.
    void set_status_page(std::function<std::string(const std::string& base_url)> page) { status_page_ = std::move(page); }
    // /admin/api/...: the JSON admin API.
    void set_admin(admin_api* admin) { admin_ = admin; }

private:
    bool is_scep_path(std::string_view path) const;
    response scep(const request& req, std::string_view query, const std::string& client, request_record& rec,
                  bool secure);

    scep_service& service_;
    std::vector<std::string> scep_paths_;
    ndes_frontend* ndes_;
    quirk_gate* quirks_;
    std::filesystem::path capture_dir_;
    std::vector<x509_ptr> tls_chain_;
    profile_source profile_source_;
    metrics* metrics_ = nullptr;
    admin_api* admin_ = nullptr;
    std::function<std::string(const std::string&)> status_page_;
    std::atomic<bool> ready_{true};
    std::atomic<std::uint64_t> captured_{0};
};

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

// Query parameters as sent (keys percent-decoded, values left encoded).
std::vector<std::pair<std::string, std::string>> split_query(std::string_view query);

// The message of a GET PKIOperation: percent-decoded (keeping '+' as '+',
// as macOS sends it half-escaped) and base64-decoded.
std::optional<bytes> decode_get_message(std::string_view raw_value);

}  // namespace scep::server
