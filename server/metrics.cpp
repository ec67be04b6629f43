#include "server/metrics.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <sstream>

#include "pki/crypto/encoding.hpp"
#include "pki/scep/faults.hpp"
#include "pki/scep/message.hpp"

namespace scep::server {

namespace {

// Label values: backslash, double quote and line feed escaped (exposition format).
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// The operation label comes from a closed set: the SCEP operations (as RFC
// 8894 §3.2 spells them, whatever case the client used) and the server's own
// routes. Any other operation= value a client sends is counted as "other":
// each distinct value would otherwise be a series for as long as the process
// lives (1,500 requests made /metrics 90 MB).
std::string_view operation_label(std::string_view op) {
    for (std::string_view known : scep_operations)
        if (ascii_iequals(op, known)) return known;
    static constexpr std::string_view routes[] = {"method",  "healthz",    "readyz",      "metrics", "status",
                                                  "transactions", "admin", "url-limit",   "ndes-admin",
                                                  "ndes-browse",  "profile", "export",    "crl"};
    for (std::string_view known : routes)
        if (op == known) return known;
    return "other";
}

}  // namespace

void metrics::finding(const std::string& id) {
    std::lock_guard lock(mutex_);
    ++findings_[id];
}

void metrics::fault(fault_kind kind) {
    const std::string name(info(kind).name);
    std::lock_guard lock(mutex_);
    ++faults_[name];
}

void metrics::observe(const request_record& rec, double milliseconds) {
    const std::string op(operation_label(rec.operation));
    std::lock_guard lock(mutex_);
    ++requests_[{op, std::to_string(rec.http_status)}];
    const scep_outcome& s = rec.scep;
    if (s.type) {
        ++messages_[{s.type_name(), s.status_name()}];
        // An enrollment is a certificate handed out: SUCCESS to an issuing message.
        if (s.status == pki_status::success && !s.serial.empty()) ++enrollments_;
    }
    if (s.failure) ++failures_[s.failure_name()];
    const double seconds = milliseconds / 1000.0;
    for (std::size_t i = 0; i < buckets.size(); ++i)
        if (seconds <= buckets[i]) ++bucket_counts_[i];
    ++observations_;
    seconds_sum_ += seconds;
}

std::string metrics::render(cert_store& store) const {
    std::ostringstream o;
    {
        std::lock_guard lock(mutex_);
        o << "# HELP scep_lab_http_requests_total HTTP requests by operation and HTTP status.\n"
             "# TYPE scep_lab_http_requests_total counter\n";
        for (const auto& [k, n] : requests_)
            o << "scep_lab_http_requests_total{operation=\"" << label(std::get<0>(k)) << "\",code=\""
              << std::get<1>(k) << "\"} " << n << "\n";
        o << "# HELP scep_lab_pki_messages_total PKIOperation messages by messageType and the pkiStatus answered.\n"
             "# TYPE scep_lab_pki_messages_total counter\n";
        for (const auto& [k, n] : messages_)
            o << "scep_lab_pki_messages_total{message_type=\"" << label(std::get<0>(k)) << "\",status=\""
              << label(std::get<1>(k)) << "\"} " << n << "\n";
        o << "# HELP scep_lab_enrollments_total Certificates handed out (SUCCESS replies carrying a certificate).\n"
             "# TYPE scep_lab_enrollments_total counter\n"
          << "scep_lab_enrollments_total " << enrollments_ << "\n";
        o << "# HELP scep_lab_findings_total Inspector findings by ID (docs/inspector.md).\n"
             "# TYPE scep_lab_findings_total counter\n";
        for (const auto& [f, n] : findings_) o << "scep_lab_findings_total{finding=\"" << label(f) << "\"} " << n << "\n";
        o << "# HELP scep_lab_faults_total Faults injected into answers, by kind (docs/faults.md).\n"
             "# TYPE scep_lab_faults_total counter\n";
        for (const auto& [k, n] : faults_) o << "scep_lab_faults_total{kind=\"" << label(k) << "\"} " << n << "\n";
        o << "# HELP scep_lab_failures_total FAILURE replies by failInfo.\n"
             "# TYPE scep_lab_failures_total counter\n";
        for (const auto& [f, n] : failures_) o << "scep_lab_failures_total{fail_info=\"" << label(f) << "\"} " << n << "\n";
        o << "# HELP scep_lab_request_duration_seconds Time from a parsed request to its answer.\n"
             "# TYPE scep_lab_request_duration_seconds histogram\n";
        for (std::size_t i = 0; i < buckets.size(); ++i)
            o << "scep_lab_request_duration_seconds_bucket{le=\"" << number(buckets[i]) << "\"} " << bucket_counts_[i]
              << "\n";
        o << "scep_lab_request_duration_seconds_bucket{le=\"+Inf\"} " << observations_ << "\n"
          << "scep_lab_request_duration_seconds_sum " << number(seconds_sum_) << "\n"
          << "scep_lab_request_duration_seconds_count " << observations_ << "\n";
    }
    // The process's own CPU time: what `scep-lab bench` divides by the
    // enrollments it made (docs/benchmarks.md), whoever else shares the cores.
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
        o << "# HELP process_cpu_seconds_total User and system CPU time of the server process.\n"
             "# TYPE process_cpu_seconds_total counter\n"
          << "process_cpu_seconds_total " << number(seconds(usage.ru_utime) + seconds(usage.ru_stime)) << "\n"
          << "# HELP process_max_resident_memory_bytes Peak resident memory of the server process.\n"
             "# TYPE process_max_resident_memory_bytes gauge\n"
          << "process_max_resident_memory_bytes " << usage.ru_maxrss * 1024LL << "\n";
    }
    o << "# HELP scep_lab_connections Open client connections.\n# TYPE scep_lab_connections gauge\n"
      << "scep_lab_connections " << connections_.load() << "\n";
    o << "# HELP scep_lab_store_certificates Certificates in the store by status.\n"
         "# TYPE scep_lab_store_certificates gauge\n";
    if (auto counts = store.count_by_status())
        for (const auto& [status, n] : *counts)
            o << "scep_lab_store_certificates{status=\"" << label(status) << "\"} " << n << "\n";
    o << "# HELP scep_lab_pending_requests Requests waiting for approval.\n# TYPE scep_lab_pending_requests gauge\n";
    if (auto pending = store.list_pending(false)) o << "scep_lab_pending_requests " << pending->size() << "\n";
    return o.str();
}

}  // namespace scep::server
