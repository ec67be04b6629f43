// Prometheus metrics (text exposition format 0.0.4): requests by operation,
// message type and status, enrollments, failures by failInfo, a latency
// histogram, connections, and the store's size read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "pki/store/store.hpp"
#include "server/http.hpp"

namespace scep::server {

class metrics {
public:
    // One finished request (called by the HTTP sessions).
    void observe(const request_record& rec, double milliseconds);
    // A finding the inspector raised (docs/inspector.md).
    void finding(const std::string& id);
    // A fault injected into an answer (docs/faults.md), by kind.
    void fault(fault_kind kind);
    void connection_opened() { ++connections_; }
    void connection_closed() { --connections_; }

    // The exposition; `store` is counted (certificates by status, pending requests).
    std::string render(cert_store& store) const;

    // Histogram bucket bounds in seconds (le="..."), then +Inf.
    static constexpr std::array<double, 11> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,   0.25,   0.5,   1.0,  2.5};

private:
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::string>, std::uint64_t> requests_;  // operation, http status
    std::map<std::tuple<std::string, std::string>, std::uint64_t> messages_;  // message type, pkiStatus
    std::map<std::string, std::uint64_t> failures_;                           // failInfo
    std::map<std::string, std::uint64_t> findings_;                           // finding ID
    std::map<std::string, std::uint64_t> faults_;                             // fault kind
    std::uint64_t enrollments_ = 0;
    std::array<std::uint64_t, buckets.size()> bucket_counts_{};
    std::uint64_t observations_ = 0;
    double seconds_sum_ = 0;
    std::atomic<long long> connections_{0};
};

}  // namespace scep::server
