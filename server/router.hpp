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
class inspector;
class ndes_event_log;
struct scep_exchange;
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
    std::string hresult;  // NDES mode, FAILURE: what the reply carries ("0x80094800")
    int http_status = 0;
    // Held back this long before the answer is written (quirks.latency).
    std::chrono::milliseconds delay{0};
    // How the answer goes on the wire: a transport fault (docs/faults.md)
    // closes or resets the connection instead, or pauses in the middle of the body.
    enum class wire { answer, close, reset, pause_mid_body } transport = wire::answer;
    std::chrono::milliseconds pause{0};  // pause_mid_body
};

// What the router serves, handed in once at construction.
struct router_parts;

class router {
public:
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
    // GET /: the status page for this base URL.
    using status_source = std::function<std::string(const std::string& base_url)>;

    explicit router(router_parts parts);

    // `secure`: the request came over HTTPS (links it builds say https).
    response handle(const request& req, const std::string& client, request_record& rec, bool secure = false);
    // GET /readyz answers 200 while this is true and the store answers
    // (false from the start of a graceful shutdown).
    void set_ready(bool ready) { ready_ = ready; }
    std::vector<const X509*> tls_chain() const {
        std::vector<const X509*> out;
        for (const auto& c : tls_chain_) out.push_back(c.get());
        return out;
    }

private:
    bool is_scep_path(std::string_view path) const;
    // An armed HTTP fault (docs/faults.md) applied to a SCEP answer.
    // `target` is the request's path and query (a redirect keeps them).
    void inject_http_fault(response& res, std::string_view target, const std::string& client, request_record& rec,
                           scep_exchange& x);
    // Hands one SCEP exchange and its answer to the inspector.
    void record_exchange(const request& req, std::string_view path, std::string_view query, const std::string& client,
                         const request_record& rec, const response& res, scep_exchange&& x,
                         std::chrono::steady_clock::time_point start);
    // /transactions, /transactions.json, /transactions.js, /transactions/<id>[.json]
    response transactions(const request& req, std::string_view path, std::string_view query, request_record& rec);
    // `x`, when set, gets what the inspector needs of the exchange.
    response scep(const request& req, std::string_view query, const std::string& client, request_record& rec,
                  bool secure, scep_exchange* x);

    scep_service& service_;
    std::vector<std::string> scep_paths_;
    ndes_frontend* ndes_;
    quirk_gate* quirks_;
    metrics* metrics_;
    admin_api* admin_;
    inspector* inspector_;
    fault_plan* faults_;
    profile_source profile_source_;
    status_source status_page_;
    std::vector<x509_ptr> tls_chain_;
    std::filesystem::path capture_dir_;
    ndes_event_log* ndes_events_ = nullptr;
    std::atomic<bool> ready_{true};
    std::atomic<std::uint64_t> captured_{0};
};

struct router_parts {
    scep_service& service;
    // Paths that serve SCEP (any suffix after them too).
    std::vector<std::string> scep_paths;
    ndes_frontend* ndes = nullptr;    // NDES mode: admin page and information page
    quirk_gate* quirks = nullptr;     // reproduction knobs
    metrics* stats = nullptr;         // GET /metrics
    admin_api* admin = nullptr;       // /admin/api/...
    inspector* inspect = nullptr;     // records every SCEP exchange (docs/inspector.md)
    fault_plan* faults = nullptr;     // armed HTTP faults (docs/faults.md); CertRep ones are the service's
    router::profile_source profiles;  // GET /profiles/apple.mobileconfig
    router::status_source status_page;
    // The HTTPS server certificate and its chain (server certificate first),
    // served as /ca/tls.<crt|pem> and /ca/tls-chain.<pem|p7b>.
    std::vector<x509_ptr> tls_chain;
    // log.capture_dir: PKIOperation requests and replies written as DER.
    std::filesystem::path capture_dir;
    // ndes.event_log: the events NDES would write for failures.
    ndes_event_log* ndes_events = nullptr;
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
