// The transaction log: one row per SCEP exchange, as the inspector decoded
// it (docs/inspector.md). A diagnostic log, kept apart from the certificate
// store (its own SQLite file, transactions.db): it is bounded by retention,
// and removing it never touches what the CA issued.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"

namespace scep {

struct transaction_record {
    std::int64_t id = 0;  // assigned by the log, grows
    std::string time;     // ISO 8601 UTC with milliseconds
    std::string client;   // address
    std::string method, path;
    std::int64_t query_length = 0;
    std::string user_agent;
    int http_status = 0;
    std::int64_t duration_us = 0;
    std::string operation;  // GetCACaps, PKIOperation, ...
    std::string message_type, transaction_id, pki_status, fail_info, reason, serial;
    std::string severity;  // worst finding: error | warning | note | ""
    std::string findings;  // finding IDs, space-separated
    std::string device;    // the device persona the request is consistent with ("" when none)
    std::string detail;    // the decoded request and reply (JSON text)
    bytes request_der, reply_der;  // PKIOperation only, size-capped
};

// Filters; empty fields do not filter.
struct transaction_query {
    std::string client;
    std::string status;  // a pkiStatus (SUCCESS, FAILURE, PENDING), an HTTP status ("400"), or "failed" (either failed)
    std::string finding;  // a finding ID
    std::string severity;  // error | warning | note: at least this bad
    std::string transaction_id;
    std::string operation;
    std::string device;  // a persona name: rows consistent with it
    std::int64_t min_id = 0, max_id = 0;  // 0 = no bound
    std::size_t limit = 100;
    std::size_t offset = 0;
};
struct transaction_page {
    std::int64_t total = 0;
    std::vector<transaction_record> items;  // newest first, without the DER
};

class transaction_store {
public:
    virtual ~transaction_store() = default;
    // Returns the new row's id.
    virtual result<std::int64_t> add(const transaction_record& t) = 0;
    // Several rows in one transaction (one commit): what the recorder's
    // writer uses. Returns the last id.
    virtual result<std::int64_t> add_all(const std::vector<transaction_record>& rows) {
        std::int64_t last = 0;
        for (const auto& t : rows) {
            auto id = add(t);
            if (!id) return id;
            last = *id;
        }
        return last;
    }
    virtual result<transaction_page> search(const transaction_query& q) = 0;
    // One row with its DER.
    virtual result<std::optional<transaction_record>> find(std::int64_t id) = 0;
    // A finding raised after the row was written (flow.stopped-after-*: known
    // only once the client has been quiet): the row's findings, severity and
    // detail replaced. False when the row is gone (pruned).
    virtual result<bool> update_findings(std::int64_t id, const std::string& findings, const std::string& severity,
                                         const std::string& detail) = 0;
    // Keeps the newest `keep` rows; returns how many went.
    virtual result<std::int64_t> prune(std::size_t keep) = 0;
    virtual result<std::int64_t> count() = 0;
};

result<std::unique_ptr<transaction_store>> open_sqlite_transactions(const std::filesystem::path& file);
std::unique_ptr<transaction_store> make_memory_transactions();

// "2026-12-01T17:34:42.123Z"
std::string now_iso8601_millis();
std::string iso8601_millis(std::chrono::system_clock::time_point t);

}  // namespace scep
