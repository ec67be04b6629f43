// Reproduction knobs at the HTTP level (config [quirks]): URL limits answered
// as HTTP.sys (414) and IIS request filtering (404.15) do, injected HTTP statuses per operation or per
// N-th request, and added latency. The SCEP-level quirks (expired RA,
// incomplete chain, all pending, forced failInfo) live in the service.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "server/http.hpp"

namespace scep::server {

class quirk_gate {
public:
    explicit quirk_gate(config::quirk_settings q) : q_(std::move(q)) {}

    // Before routing: the URL limits (every path but /healthz).
    std::optional<response> check_url(const request& req, std::string_view query, request_record& rec) const;
    // Once the operation is known ("GetCACert", ..., "mscep_admin"): an
    // injected status, by operation first, then by request count.
    std::optional<response> inject(const request& req, std::string_view operation, request_record& rec);
    std::chrono::milliseconds latency() const { return q_.latency; }

private:
    config::quirk_settings q_;
    std::atomic<std::uint64_t> seen_{0};
};

// An HTTP.sys-style error page for `status` (what NDES clients see when
// Windows' HTTP layer refuses a request before IIS does).
response iis_error(const request& req, int status, std::string_view detail);
// IIS request filtering's refusal: HTTP 404 (logged by IIS as 404.<substatus>)
// with IIS's remote error page and headers.
response iis_request_filtering_404(const request& req);

}  // namespace scep::server
