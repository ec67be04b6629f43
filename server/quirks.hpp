// Reproduction knobs at the HTTP level (config [quirks]): URL limits answered
// with 414 as IIS/HTTP.sys do, injected HTTP statuses per operation or per
// N-th request, and added latency. The SCEP-level quirks (expired RA,
// incomplete chain, all pending, forced failInfo) live in the service.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "server/router.hpp"

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

// An IIS-style error page for `status` (what NDES clients see from IIS).
response iis_error(const request& req, int status, std::string_view detail);

}  // namespace scep::server
