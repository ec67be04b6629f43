// Maps HTTP requests to SCEP operations (RFC 8894 §4.1) and service replies
// back to HTTP. No sockets: the session hands in a parsed request.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pki/trust/exports.hpp"
#include "pki/scep/service.hpp"
#include "server/http.hpp"

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
    // Sets rec.http_status from the answer it returns.
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
    // One request on its way through the table.
    struct call {
        const request& req;
        std::string_view target;  // path and query as sent
        std::string_view path;    // without a redirect fault's prefix
        std::string_view query;
        const std::string& client;
        request_record& rec;
        bool secure;
        std::chrono::steady_clock::time_point start;
        bool browsing = false;  // the NDES URL opened by a person: not a SCEP exchange
    };
    // One row of the route table: which paths, which methods, who answers.
    struct route {
        std::string_view operation;  // what the request log calls it
        std::function<bool(std::string_view path)> matches;
        // Methods answered; others get 405 before anything else happens.
        // Empty: the handler checks (SCEP and the NDES admin page check
        // after IIS's URL limits, as IIS does).
        std::string_view allow;
        bool url_limits;  // behind IIS's URL limits (quirks.max_url_bytes, max_query_bytes)
        response (router::*answer)(call& c);
    };
    std::vector<route> routes() const;

    response healthz(call& c);
    response readyz(call& c);
    response metrics_page(call& c);
    response status(call& c);
    response transactions(call& c);
    response admin(call& c);
    response ndes_admin(call& c);
    response scep_endpoint(call& c);
    response profile(call& c);
    // /ca/<name>.<ext>, /certs/<serial>.<ext>, /crl/<tier>.crl
    response download(call& c);
    response not_found(call& c);

    bool is_scep_path(std::string_view path) const;
    // IIS's URL limits (quirks); a refused SCEP request is still inspected.
    std::optional<response> url_limits(call& c);
    // An armed HTTP fault (docs/faults.md) applied to a SCEP answer.
    void inject_http_fault(call& c, response& res, scep_exchange& x);
    // Hands one SCEP exchange and its answer to the inspector.
    void record_exchange(call& c, const response& res, scep_exchange&& x);
    // `x`, when set, gets what the inspector needs of the exchange.
    response scep(call& c, scep_exchange* x);

    scep_service& service_;
    std::vector<std::string> scep_paths_;
    std::string header_server_, header_powered_by_;
    std::map<std::string, std::pair<std::string, bool>> ca_paths_;
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
    std::vector<route> routes_;
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
    // server.header_server / header_powered_by: added to answers without their own.
    std::string header_server, header_powered_by;
    // A clone's served paths (pki.tiers crl_paths, cert_paths): path -> the
    // CA tier, and whether it is the CRL (else the certificate, DER).
    std::map<std::string, std::pair<std::string, bool>> ca_paths;
};

// The message of a GET PKIOperation: percent-decoded (keeping '+' as '+',
// as macOS sends it half-escaped) and base64-decoded.
std::optional<bytes> decode_get_message(std::string_view raw_value);

}  // namespace scep::server
