#include "pki/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>

#include "pki/x509_build.hpp"

namespace scep {

namespace {

std::string now_iso8601() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Migrations, applied in order; index + 1 is the schema version they produce.
// Never edit a released step: append a new one.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE certificates (
        id INTEGER PRIMARY KEY,
        serial TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL DEFAULT '',
        issuer TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        transaction_id TEXT UNIQUE,
        requester TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'valid',
        public_key_sha256 TEXT NOT NULL,
        der BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX certificates_subject ON certificates(subject);
    CREATE INDEX certificates_not_after ON certificates(not_after);
    )sql",
};
constexpr int schema_version = static_cast<int>(std::size(migrations));

struct db_close {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct stmt_finalize {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalize>;

constexpr const char* select_columns =
    "SELECT serial, subject, sans, issuer, not_before, not_after, COALESCE(transaction_id, ''), requester, status, "
    "public_key_sha256, der, created_at FROM certificates ";

std::string column_text(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char*>(t) : "";
}

cert_record read_row(sqlite3_stmt* s) {
    cert_record r;
    r.serial = column_text(s, 0);
    r.subject = column_text(s, 1);
    r.sans = column_text(s, 2);
    r.issuer = column_text(s, 3);
    r.not_before = column_text(s, 4);
    r.not_after = column_text(s, 5);
    r.transaction_id = column_text(s, 6);
    r.requester = column_text(s, 7);
    r.status = column_text(s, 8);
    r.public_key_sha256 = column_text(s, 9);
    const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, 10));
    r.der.assign(blob, blob + sqlite3_column_bytes(s, 10));
    r.created_at = column_text(s, 11);
    return r;
}

class sqlite_store final : public cert_store {
public:
    explicit sqlite_store(sqlite3* db, std::string file) : db_(db), file_(std::move(file)) {}

    result<void> init() {
        // WAL lets `scep-lab list` read while the server writes; NORMAL
        // synchronous is durable against a killed process (not power loss).
        for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"})
            if (auto r = exec(pragma); !r) return r;
        sqlite3_busy_timeout(db_.get(), 5000);
        int version = 0;
        {
            stmt_ptr s = prepare("PRAGMA user_version");
            if (!s) return db_error("reading schema version");
            if (sqlite3_step(s.get()) == SQLITE_ROW) version = sqlite3_column_int(s.get(), 0);
        }
        if (version > schema_version)
            return make_error(file_ + ": store schema version " + std::to_string(version) +
                              " is newer than this scep-lab understands (" + std::to_string(schema_version) +
                              "); use a newer build");
        for (int v = version; v < schema_version; ++v) {
            if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
            auto r = exec(migrations[v]);
            if (r) r = exec("PRAGMA user_version=" + std::to_string(v + 1));
            if (!r) {
                (void)exec("ROLLBACK");
                return make_error(file_ + ": migration to schema version " + std::to_string(v + 1) +
                                  " failed: " + r.message());
            }
            if (auto c = exec("COMMIT"); !c) return c;
        }
        return {};
    }

    result<insert_outcome> insert(const cert_record& rec) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(
            "INSERT INTO certificates (serial, subject, sans, issuer, not_before, not_after, transaction_id, "
            "requester, status, public_key_sha256, der, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
        if (!s) return db_error("preparing insert");
        bind(s.get(), 1, rec.serial);
        bind(s.get(), 2, rec.subject);
        bind(s.get(), 3, rec.sans);
        bind(s.get(), 4, rec.issuer);
        bind(s.get(), 5, rec.not_before);
        bind(s.get(), 6, rec.not_after);
        if (rec.transaction_id.empty())
            sqlite3_bind_null(s.get(), 7);
        else
            bind(s.get(), 7, rec.transaction_id);
        bind(s.get(), 8, rec.requester);
        bind(s.get(), 9, rec.status);
        bind(s.get(), 10, rec.public_key_sha256);
        sqlite3_bind_blob(s.get(), 11, rec.der.data(), static_cast<int>(rec.der.size()), SQLITE_TRANSIENT);
        bind(s.get(), 12, rec.created_at.empty() ? now_iso8601() : rec.created_at);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) return insert_outcome::inserted;
        if (rc == SQLITE_CONSTRAINT && !rec.transaction_id.empty() &&
            std::string(sqlite3_errmsg(db_.get())).find("transaction_id") != std::string::npos)
            return insert_outcome::duplicate_transaction;
        return db_error("inserting certificate " + rec.serial);
    }

    result<std::optional<cert_record>> find_by_transaction(const std::string& txid) override {
        return find_one("WHERE transaction_id = ?", txid);
    }

    result<std::optional<cert_record>> find_by_serial(const std::string& serial) override {
        return find_one("WHERE serial = ?", serial);
    }

    result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(std::string(select_columns) + "ORDER BY id DESC LIMIT ? OFFSET ?");
        if (!s) return db_error("preparing list");
        sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(limit));
        sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(offset));
        std::vector<cert_record> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
        if (rc != SQLITE_DONE) return db_error("listing certificates");
        return out;
    }

    result<std::int64_t> count() override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("SELECT COUNT(*) FROM certificates");
        if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return db_error("counting certificates");
        return static_cast<std::int64_t>(sqlite3_column_int64(s.get(), 0));
    }

private:
    result<std::optional<cert_record>> find_one(const std::string& where, const std::string& value) {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(std::string(select_columns) + where);
        if (!s) return db_error("preparing lookup");
        bind(s.get(), 1, value);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) return std::optional<cert_record>(read_row(s.get()));
        if (rc == SQLITE_DONE) return std::optional<cert_record>();
        return db_error("looking up certificate");
    }

    stmt_ptr prepare(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr);
        return stmt_ptr(s);
    }
    static void bind(sqlite3_stmt* s, int i, const std::string& v) {
        sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    result<void> exec(const std::string& sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : "unknown error";
            sqlite3_free(msg);
            return make_error(file_ + ": " + m);
        }
        return {};
    }
    scep::error db_error(const std::string& what) {
        return make_error(file_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
    }

    std::unique_ptr<sqlite3, db_close> db_;
    std::string file_;
    std::mutex mu_;
};

class memory_store final : public cert_store {
public:
    result<insert_outcome> insert(const cert_record& rec) override {
        std::lock_guard lock(mu_);
        for (const auto& r : rows_) {
            if (!rec.transaction_id.empty() && r.transaction_id == rec.transaction_id)
                return insert_outcome::duplicate_transaction;
            if (r.serial == rec.serial) return make_error("duplicate serial " + rec.serial);
        }
        rows_.push_back(rec);
        if (rows_.back().created_at.empty()) rows_.back().created_at = now_iso8601();
        return insert_outcome::inserted;
    }
    result<std::optional<cert_record>> find_by_transaction(const std::string& txid) override {
        std::lock_guard lock(mu_);
        for (const auto& r : rows_)
            if (r.transaction_id == txid) return std::optional<cert_record>(r);
        return std::optional<cert_record>();
    }
    result<std::optional<cert_record>> find_by_serial(const std::string& serial) override {
        std::lock_guard lock(mu_);
        for (const auto& r : rows_)
            if (r.serial == serial) return std::optional<cert_record>(r);
        return std::optional<cert_record>();
    }
    result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) override {
        std::lock_guard lock(mu_);
        std::vector<cert_record> out;
        for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
            if (offset > 0) {
                --offset;
                continue;
            }
            if (out.size() == limit) break;
            out.push_back(*it);
        }
        return out;
    }
    result<std::int64_t> count() override {
        std::lock_guard lock(mu_);
        return static_cast<std::int64_t>(rows_.size());
    }

private:
    std::mutex mu_;
    std::vector<cert_record> rows_;
};

}  // namespace

cert_record make_record(const X509& cert) {
    cert_record r;
    r.serial = serial_hex(cert);
    r.subject = name_to_string(*X509_get_subject_name(&cert));
    r.sans = subject_alt_names(cert);
    r.issuer = name_to_string(*X509_get_issuer_name(&cert));
    r.not_before = time_to_iso8601(*X509_get0_notBefore(&cert));
    r.not_after = time_to_iso8601(*X509_get0_notAfter(&cert));
    r.public_key_sha256 = to_hex(public_key_sha256(*X509_get0_pubkey(&cert)));
    r.der = x509_to_der(cert);
    return r;
}

result<std::unique_ptr<cert_store>> open_sqlite_store(const std::filesystem::path& file) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return make_error(file.string() + ": cannot open the store: " + msg);
    }
    auto store = std::make_unique<sqlite_store>(db, file.string());
    if (auto r = store->init(); !r) {
        std::string m = r.message();
        if (m.find("file is not a database") != std::string::npos)
            m += " (is it a SQLite database? it is left untouched)";
        return make_error(m);
    }
    return std::unique_ptr<cert_store>(std::move(store));
}

std::unique_ptr<cert_store> make_memory_store() { return std::make_unique<memory_store>(); }

int store_schema_version() { return schema_version; }

}  // namespace scep
