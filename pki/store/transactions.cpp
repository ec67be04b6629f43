#include "pki/store/transactions.hpp"

#include "pki/store/sqlite_util.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>

namespace scep {

std::string now_iso8601_millis() { return iso8601_millis(std::chrono::system_clock::now()); }

std::string iso8601_millis(std::chrono::system_clock::time_point now) {
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    if (ms < 0) ms = 0;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
    return buf;
}

namespace {

constexpr int severity_rank(std::string_view s) {
    return s == "error" ? 3 : s == "warning" ? 2 : s == "note" ? 1 : 0;
}

bool matches(const transaction_record& t, const transaction_query& q) {
    if (!q.client.empty() && t.client != q.client) return false;
    if (q.status == "failed") {
        if (t.pki_status != "FAILURE" && t.http_status < 400) return false;
    } else if (!q.status.empty() && t.pki_status != q.status && std::to_string(t.http_status) != q.status) {
        return false;
    }
    if (!q.finding.empty() && (" " + t.findings + " ").find(" " + q.finding + " ") == std::string::npos) return false;
    if (!q.severity.empty() && severity_rank(t.severity) < severity_rank(q.severity)) return false;
    if (!q.transaction_id.empty() && t.transaction_id != q.transaction_id) return false;
    if (!q.operation.empty() && t.operation != q.operation) return false;
    if (!q.device.empty() && t.device != q.device) return false;
    if (q.min_id && t.id < q.min_id) return false;
    if (q.max_id && t.id > q.max_id) return false;
    return true;
}

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    client TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query_length INTEGER NOT NULL,
    user_agent TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    operation TEXT NOT NULL,
    message_type TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    pki_status TEXT NOT NULL,
    fail_info TEXT NOT NULL,
    reason TEXT NOT NULL,
    serial TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    findings TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_der BLOB,
    reply_der BLOB,
    device TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transactions_client ON transactions(client, id);
CREATE INDEX IF NOT EXISTS transactions_txid ON transactions(transaction_id);
)sql";

constexpr const char* summary_columns =
    "id, time, client, method, path, query_length, user_agent, http_status, duration_us, operation, message_type, "
    "transaction_id, pki_status, fail_info, reason, serial, severity, findings, device";

using sqlite::column_blob;
using sqlite::stmt_ptr;
std::string text_at(sqlite3_stmt* s, int i) { return sqlite::column_text(s, i); }

transaction_record read_summary(sqlite3_stmt* s) {
    transaction_record t;
    t.id = sqlite3_column_int64(s, 0);
    t.time = text_at(s, 1);
    t.client = text_at(s, 2);
    t.method = text_at(s, 3);
    t.path = text_at(s, 4);
    t.query_length = sqlite3_column_int64(s, 5);
    t.user_agent = text_at(s, 6);
    t.http_status = sqlite3_column_int(s, 7);
    t.duration_us = sqlite3_column_int64(s, 8);
    t.operation = text_at(s, 9);
    t.message_type = text_at(s, 10);
    t.transaction_id = text_at(s, 11);
    t.pki_status = text_at(s, 12);
    t.fail_info = text_at(s, 13);
    t.reason = text_at(s, 14);
    t.serial = text_at(s, 15);
    t.severity = text_at(s, 16);
    t.findings = text_at(s, 17);
    t.device = text_at(s, 18);
    return t;
}

class sqlite_transactions final : public transaction_store {
public:
    sqlite_transactions(sqlite::db_ptr db, std::string file) : db_(std::move(db)), file_(std::move(file)) {}

    result<void> init() {
        for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", schema})
            if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) return fail("creating the log");
        sqlite3_busy_timeout(db_.get(), 5000);
        // Logs written before the device column (the inspector naming the
        // device) get it, empty for their old rows.
        {
            stmt_ptr cols = prepare("SELECT COUNT(*) FROM pragma_table_info('transactions') WHERE name = 'device'");
            if (!cols || sqlite3_step(cols.get()) != SQLITE_ROW) return fail("reading the log's columns");
            if (sqlite3_column_int(cols.get(), 0) == 0 &&
                sqlite3_exec(db_.get(), "ALTER TABLE transactions ADD COLUMN device TEXT NOT NULL DEFAULT ''", nullptr,
                             nullptr, nullptr) != SQLITE_OK)
                return fail("adding the device column to the log");
        }
        insert_ = prepare(
            "INSERT INTO transactions (time, client, method, path, query_length, user_agent, http_status, "
            "duration_us, operation, message_type, transaction_id, pki_status, fail_info, reason, serial, severity, "
            "severity_rank, findings, detail, request_der, reply_der, device) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        if (!insert_) return fail("preparing the insert");
        auto checkpointer = sqlite::wal_checkpointer::start(db_.get(), mu_, file_, "the transaction log");
        if (!checkpointer) return checkpointer.err();
        checkpointer_ = std::move(*checkpointer);
        return {};
    }

    result<std::int64_t> add(const transaction_record& t) override {
        std::lock_guard lock(mu_);
        return add_locked(t);
    }

    result<std::int64_t> add_all(const std::vector<transaction_record>& rows) override {
        std::lock_guard lock(mu_);
        if (sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
            return fail("recording transactions");
        std::int64_t last = 0;
        for (const auto& t : rows) {
            auto id = add_locked(t);
            if (!id) {
                sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
                return id;
            }
            last = *id;
        }
        if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
            auto e = fail("recording transactions");
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            return e;
        }
        return last;
    }

    result<std::int64_t> add_locked(const transaction_record& t) {
        sqlite3_stmt* s = insert_.get();
        sqlite3_reset(s);
        int i = 1;
        for (const std::string* v : {&t.time, &t.client, &t.method, &t.path}) bind(s, i++, *v);
        sqlite3_bind_int64(s, i++, t.query_length);
        bind(s, i++, t.user_agent);
        sqlite3_bind_int(s, i++, t.http_status);
        sqlite3_bind_int64(s, i++, t.duration_us);
        for (const std::string* v : {&t.operation, &t.message_type, &t.transaction_id, &t.pki_status, &t.fail_info,
                                     &t.reason, &t.serial, &t.severity})
            bind(s, i++, *v);
        sqlite3_bind_int(s, i++, severity_rank(t.severity));
        bind(s, i++, t.findings);
        bind(s, i++, t.detail);
        sqlite3_bind_blob(s, i++, t.request_der.data(), static_cast<int>(t.request_der.size()), SQLITE_STATIC);
        sqlite3_bind_blob(s, i++, t.reply_der.data(), static_cast<int>(t.reply_der.size()), SQLITE_STATIC);
        bind(s, i++, t.device);
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) return fail("recording a transaction");
        return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.get()));
    }

    result<transaction_page> search(const transaction_query& q) override {
        std::string where = "FROM transactions WHERE 1=1";
        std::vector<std::string> values;
        if (!q.client.empty()) where += " AND client = ?", values.push_back(q.client);
        if (q.status == "failed")
            where += " AND (pki_status = 'FAILURE' OR http_status >= 400)";
        else if (!q.status.empty())
            where += " AND (pki_status = ? OR CAST(http_status AS TEXT) = ?)", values.push_back(q.status),
                values.push_back(q.status);
        if (!q.finding.empty())
            where += " AND (' ' || findings || ' ') LIKE ? ESCAPE '\\'",
                values.push_back("% " + sqlite::escape_like(q.finding) + " %");
        if (!q.severity.empty()) where += " AND severity_rank >= " + std::to_string(severity_rank(q.severity));
        if (!q.transaction_id.empty()) where += " AND transaction_id = ?", values.push_back(q.transaction_id);
        if (!q.operation.empty()) where += " AND operation = ?", values.push_back(q.operation);
        if (!q.device.empty()) where += " AND device = ?", values.push_back(q.device);
        if (q.min_id) where += " AND id >= " + std::to_string(q.min_id);
        if (q.max_id) where += " AND id <= " + std::to_string(q.max_id);
        std::lock_guard lock(mu_);
        auto found = sqlite::paged<transaction_record>([this](const std::string& sql) { return prepare(sql); },
                                                       db_.get(), std::string("SELECT ") + summary_columns, where,
                                                       values, q.limit, q.offset, read_summary);
        if (!found) return make_error(file_ + ": " + found.message());
        return transaction_page{found->first, std::move(found->second)};
    }

    result<std::optional<transaction_record>> find(std::int64_t id) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(std::string("SELECT ") + summary_columns +
                             ", detail, request_der, reply_der FROM transactions WHERE id = ?");
        if (!s) return fail("preparing a lookup");
        sqlite3_bind_int64(s.get(), 1, id);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) return std::optional<transaction_record>();
        if (rc != SQLITE_ROW) return fail("reading transaction " + std::to_string(id));
        auto t = read_summary(s.get());
        t.detail = text_at(s.get(), 19);
        t.request_der = column_blob(s.get(), 20);
        t.reply_der = column_blob(s.get(), 21);
        return std::optional<transaction_record>(std::move(t));
    }

    result<bool> update_findings(std::int64_t id, const std::string& findings, const std::string& severity,
                                 const std::string& detail) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("UPDATE transactions SET findings = ?, severity = ?, severity_rank = ?, detail = ? WHERE id = ?");
        if (!s) return fail("preparing a findings update");
        bind(s.get(), 1, findings);
        bind(s.get(), 2, severity);
        sqlite3_bind_int(s.get(), 3, severity_rank(severity));
        bind(s.get(), 4, detail);
        sqlite3_bind_int64(s.get(), 5, id);
        if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("updating transaction " + std::to_string(id));
        return sqlite3_changes(db_.get()) > 0;
    }

    result<std::int64_t> prune(std::size_t keep) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("DELETE FROM transactions WHERE id <= (SELECT MAX(id) FROM transactions) - ?");
        if (!s) return fail("preparing the pruning");
        sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(keep));
        if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("pruning transactions");
        return static_cast<std::int64_t>(sqlite3_changes(db_.get()));
    }

    result<std::int64_t> count() override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("SELECT COUNT(*) FROM transactions");
        if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return fail("counting transactions");
        return static_cast<std::int64_t>(sqlite3_column_int64(s.get(), 0));
    }

private:
    static void bind(sqlite3_stmt* s, int i, const std::string& v) {
        sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    }
    stmt_ptr prepare(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return nullptr;
        return stmt_ptr(s);
    }
    scep::error fail(const std::string& what) {
        return make_error(file_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
    }

    sqlite::db_ptr db_;
    std::string file_;
    std::mutex mu_;
    stmt_ptr insert_;  // finalized before db_ closes (declared after it)
    std::unique_ptr<sqlite::wal_checkpointer> checkpointer_;  // stopped before db_ closes
};

class memory_transactions final : public transaction_store {
public:
    result<std::int64_t> add(const transaction_record& t) override {
        std::lock_guard lock(mu_);
        rows_.push_back(t);
        rows_.back().id = ++last_;
        return last_;
    }
    result<transaction_page> search(const transaction_query& q) override {
        std::lock_guard lock(mu_);
        transaction_page page;
        for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
            if (!matches(*it, q)) continue;
            if (static_cast<std::size_t>(page.total++) < q.offset) continue;
            if (page.items.size() >= q.limit) continue;
            auto summary = *it;
            summary.detail.clear();
            summary.request_der.clear();
            summary.reply_der.clear();
            page.items.push_back(std::move(summary));
        }
        return page;
    }
    result<std::optional<transaction_record>> find(std::int64_t id) override {
        std::lock_guard lock(mu_);
        for (const auto& t : rows_)
            if (t.id == id) return std::optional<transaction_record>(t);
        return std::optional<transaction_record>();
    }
    result<bool> update_findings(std::int64_t id, const std::string& findings, const std::string& severity,
                                 const std::string& detail) override {
        std::lock_guard lock(mu_);
        for (auto& t : rows_)
            if (t.id == id) {
                t.findings = findings;
                t.severity = severity;
                t.detail = detail;
                return true;
            }
        return false;
    }
    result<std::int64_t> prune(std::size_t keep) override {
        std::lock_guard lock(mu_);
        std::int64_t removed = 0;
        while (rows_.size() > keep) rows_.pop_front(), ++removed;
        return removed;
    }
    result<std::int64_t> count() override {
        std::lock_guard lock(mu_);
        return static_cast<std::int64_t>(rows_.size());
    }

private:
    std::mutex mu_;
    std::deque<transaction_record> rows_;
    std::int64_t last_ = 0;
};

}  // namespace

result<std::unique_ptr<transaction_store>> open_sqlite_transactions(const std::filesystem::path& file) {
    // Owner only, like the certificate store: rows keep the requests' DER.
    auto db = sqlite::open_owner_only(file, "the transaction log");
    if (!db) return db.err();
    auto log = std::make_unique<sqlite_transactions>(std::move(*db), file.string());
    if (auto r = log->init(); !r) return r.err();
    return std::unique_ptr<transaction_store>(std::move(log));
}

std::unique_ptr<transaction_store> make_memory_transactions() { return std::make_unique<memory_transactions>(); }

}  // namespace scep
