// The transaction inspector's server side (docs/inspector.md): every SCEP
// exchange the router answers is decoded (pki/inspect), checked against the
// findings catalogue with what only the server knows (what it advertised,
// whether this client asked GetCACaps first, what its decisions raised),
// and kept in the transaction log with the request and reply DER.
#pragma once

#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "pki/inspect/analysis.hpp"
#include "pki/persona/match.hpp"
#include "pki/scep/service.hpp"
#include "pki/store/transactions.hpp"

namespace scep::server {

class metrics;

struct inspector_config {
    std::size_t retention = 10000;
    std::size_t max_der_bytes = 65536;
    int min_rsa_bits = 2048;
    int min_ec_bits = 256;
    bool challenge_required = false;
    // A client whose last exchange is a GetCACaps or GetCACert and that has
    // been quiet this long gets flow.stopped-after-* on that row.
    std::chrono::milliseconds stopped_after{5000};
};

// One SCEP request and its answer, as the router saw them.
struct scep_exchange {
    std::string client, method, path, user_agent, content_type;
    bool has_user_agent = false;
    std::size_t query_length = 0;
    std::string operation;        // as sent
    int http_version = 11;        // 10: HTTP/1.0
    std::optional<std::string> message;  // GetCACaps/GetCACert: the message parameter, decoded (bounded)
    bool get_line_breaks = false;        // a GET PKIOperation's message had line breaks
    bool post_base64 = false;     // POST body that was base64 text
    std::optional<inspect::finding> get_unescaped;  // GET message: inspect::unescaped_base64()
    bytes request_der;            // PKIOperation: the message, decoded from the transport
    service_reply::inspection_facts inspection;
    // The answer:
    int http_status = 0;
    std::string reply_content_type;
    std::string reply_body;
    scep_outcome scep;   // what the operation did, faults injected included
    std::string reason;
    std::chrono::microseconds duration{0};
    // Read from evidence (server/evidence): when it happened, and where it
    // was read ("capture.pcapng, packet 12"); a live exchange has neither.
    std::optional<std::chrono::system_clock::time_point> at;
    boost::json::object evidence;
    bool request_unseen = false;  // an IIS log line: the request's body is not in the evidence
};

// What a decoded request (inspect::to_json of a request_report) says of its
// client, for the comparison with the device personas (pki/persona/match):
// the recorder and `scep-lab inspect <file>` fill it the same way.
void fill_observed(persona::observed& seen, const boost::json::value& request);

// Decoding and checking happen on the request's thread (the findings are
// known when record() returns); writing to the log happens on a writer
// thread of its own, many rows per commit, so that the log's disk work is
// not on the enrollment's path. The reply is decoded when it is read.
class inspector {
public:
    inspector(transaction_store& log, const scep_service& service, inspector_config cfg, metrics* stats,
              std::function<void(const std::string&)> warn);
    // Offline (evidence): requests are compared with `lab` (the lab here, or
    // nothing of a lab); times are the exchanges' own (scep_exchange::at).
    inspector(transaction_store& log, inspect::lab_view lab, inspector_config cfg);
    ~inspector();  // writes what is queued, then stops the writer
    inspector(const inspector&) = delete;
    inspector& operator=(const inspector&) = delete;

    // Decodes, checks and queues one exchange for the log. A log that fails
    // is reported once (warn) and never affects the exchange.
    void record(scep_exchange&& x);
    // Waits until everything recorded so far is in the log, and raises the
    // findings that time has made due (a story that stopped): readers call it
    // so that what they show includes the exchange that just happened.
    void flush();

    transaction_store& log() { return log_; }
    // What requests are compared with; refresh_lab() after a live rollover.
    std::shared_ptr<const inspect::lab_view> lab() const;
    void refresh_lab(const scep_service& service);
    // Evidence: what was learnt of the server from what it answered (its
    // GetCACaps, its RA certificate) applied to what requests are compared with.
    void amend_lab(const std::function<void(inspect::lab_view&)>& change);
    // Evidence: the stories that stopped before `end` (the evidence's last
    // moment) get flow.stopped-after-*; after flush().
    void settle_at(std::chrono::system_clock::time_point end);

private:
    void write_loop();
    // What this client was told before this exchange: whether it asked
    // GetCACaps in the last 10 minutes (RFC 8894 §3.5.1) and what that answer
    // carried (faults included), so that its requests are judged by what it
    // was sent, not by the configuration. Remembers this exchange.
    struct client_context {
        bool asked_caps = false;
        std::optional<std::vector<std::string>> caps_sent;
        std::string first_operation;  // its first GetCACaps/GetCACert of this enrollment ("" unknown)
    };
    client_context track(const scep_exchange& x, const std::string& operation, const std::string& time,
                         std::chrono::steady_clock::time_point now);
    // flow.stopped-after-*: rows of clients quiet for cfg_.stopped_after after
    // a GetCACaps or GetCACert (at `now`), amended in the log.
    void settle(std::chrono::steady_clock::time_point now);

    struct client_state {
        std::chrono::steady_clock::time_point caps_at{}, last_at{};
        bool asked_caps = false;
        std::vector<std::string> caps_sent;
        // While the last exchange is a GetCACaps or GetCACert: its operation
        // and its row's time (settle() reads the answer from that row).
        std::string stop_operation, stop_time;
        // The first GetCACaps/GetCACert since its last PKIOperation (the
        // device personas' operation order).
        std::string session_first;
        bool session_enrolled = false;
    };

    transaction_store& log_;
    inspector_config cfg_;
    metrics* metrics_;
    std::function<void(const std::string&)> warn_;
    mutable std::mutex lab_mu_;
    std::shared_ptr<const inspect::lab_view> lab_;
    std::mutex mu_;
    std::unordered_map<std::string, client_state> clients_;
    std::mutex settle_mu_;
    // The writer's queue.
    std::mutex queue_mu_;
    std::condition_variable queue_cv_;    // work arrived, or stop
    std::condition_variable written_cv_;  // a batch was written, or the queue has room
    std::deque<transaction_record> queue_;
    std::uint64_t queued_ = 0, written_ = 0;
    bool stop_ = false;
    bool failing_ = false;
    std::thread writer_;
};

// What the analysis compares requests with: the lab's RA and CA
// certificates and the GetCACaps keywords it advertises.
inspect::lab_view describe_lab(const hierarchy& pki, std::vector<std::string> capabilities);

// JSON views shared by the admin API, the transaction pages and the CLI.
boost::json::object transaction_summary_json(const transaction_record& t);
// The whole transaction: the summary, the decoded detail (the reply decoded
// now from its kept bytes), whether DER is
// kept, and `story`: the exchanges of the same client around it that belong
// to one enrollment (GetCACaps, GetCACert, then the PKIOperations of one
// transactionID).
boost::json::object transaction_json(transaction_store& log, const transaction_record& t);

// Filters from query parameters (client, status, finding, severity,
// transaction_id, operation, limit, offset); the error names the bad one.
result<transaction_query> transaction_query_from(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace scep::server
