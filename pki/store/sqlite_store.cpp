// The SQLite store: schema and migrations, and every operation as one
// statement or one transaction.
#include "pki/store/store.hpp"

#include <sys/statvfs.h>

#include <cctype>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <unordered_map>

#include "pki/store/sqlite_util.hpp"

namespace scep {

namespace {

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
    R"sql(
    ALTER TABLE certificates ADD COLUMN authority_key_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE certificates ADD COLUMN replaces_serial TEXT NOT NULL DEFAULT '';
    ALTER TABLE certificates ADD COLUMN revoked_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX certificates_revoked ON certificates(authority_key_id, status);
    CREATE TABLE pending_requests (
        transaction_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        subject TEXT NOT NULL,
        requester TEXT NOT NULL DEFAULT '',
        public_key_sha256 TEXT NOT NULL,
        csr BLOB NOT NULL,
        replaces_serial TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        issued_serial TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        decided_at TEXT NOT NULL DEFAULT ''
    );
    )sql",
    // Keys revoked for keyCompromise (CRLReason 1), looked up at every new
    // enrollment: a small partial index.
    R"sql(
    CREATE INDEX certificates_compromised ON certificates(public_key_sha256) WHERE revocation_reason = 1;
    )sql",
};
constexpr int schema_version = static_cast<int>(std::size(migrations));

using sqlite::column_blob;
using sqlite::column_text;
using sqlite::db_close;
using sqlite::stmt_ptr;

constexpr const char* certificate_columns =
    "serial, subject, sans, issuer, not_before, not_after, COALESCE(transaction_id, ''), requester, status, "
    "public_key_sha256, der, created_at, authority_key_id, replaces_serial, revoked_at, revocation_reason";
const std::string select_columns = std::string("SELECT ") + certificate_columns + " FROM certificates ";
constexpr const char* pending_columns =
    "SELECT transaction_id, status, subject, requester, public_key_sha256, csr, replaces_serial, reason, "
    "issued_serial, created_at, decided_at FROM pending_requests ";

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
    r.der = column_blob(s, 10);
    r.created_at = column_text(s, 11);
    r.authority_key_id = column_text(s, 12);
    r.replaces_serial = column_text(s, 13);
    r.revoked_at = column_text(s, 14);
    r.revocation_reason = sqlite3_column_int(s, 15);
    return r;
}

pending_record read_pending(sqlite3_stmt* s) {
    pending_record r;
    r.transaction_id = column_text(s, 0);
    r.status = column_text(s, 1);
    r.subject = column_text(s, 2);
    r.requester = column_text(s, 3);
    r.public_key_sha256 = column_text(s, 4);
    r.csr = column_blob(s, 5);
    r.replaces_serial = column_text(s, 6);
    r.reason = column_text(s, 7);
    r.issued_serial = column_text(s, 8);
    r.created_at = column_text(s, 9);
    r.decided_at = column_text(s, 10);
    return r;
}

class sqlite_store final : public lab_cert_store {
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
        auto checkpointer = sqlite::wal_checkpointer::start(db_.get(), mu_, file_, "the store");
        if (!checkpointer) return checkpointer.err();
        checkpointer_ = std::move(*checkpointer);
        return {};
    }

    result<insert_outcome> insert(const cert_record& rec) override {
        std::lock_guard lock(mu_);
        return insert_locked(rec);
    }

    // The insert itself; the caller holds mu_.
    result<insert_outcome> insert_locked(const cert_record& rec) {
        stmt_ptr s = prepare(
            "INSERT INTO certificates (serial, subject, sans, issuer, not_before, not_after, transaction_id, "
            "requester, status, public_key_sha256, der, created_at, authority_key_id, replaces_serial) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
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
        bind(s.get(), 13, rec.authority_key_id);
        bind(s.get(), 14, rec.replaces_serial);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) return insert_outcome::inserted;
        if (rc == SQLITE_CONSTRAINT && !rec.transaction_id.empty() &&
            std::string(sqlite3_errmsg(db_.get())).find("transaction_id") != std::string::npos)
            return insert_outcome::duplicate_transaction;
        return db_error("inserting certificate " + rec.serial);
    }

    result<insert_outcome> insert_renewal(const cert_record& rec, const renewal_step& step) override {
        std::lock_guard lock(mu_);
        if (auto r = exec("BEGIN IMMEDIATE"); !r) return r.err();
        auto rollback = [&](result<insert_outcome> out) {
            (void)exec("ROLLBACK");
            return out;
        };
        // The renewed certificate's status is the condition of the insert.
        const char* allowed = step.allow_repeat ? "('valid','superseded')" : "('valid')";
        stmt_ptr u = prepare(step.revoke ? std::string("UPDATE certificates SET status = 'revoked', revoked_at = ?, "
                                                       "revocation_reason = 4 WHERE serial = ? AND status IN ") +
                                               allowed
                                         : std::string("UPDATE certificates SET status = 'superseded' WHERE serial = ? "
                                                       "AND status IN ") +
                                               allowed);
        if (!u) return rollback(db_error("preparing renewal"));
        int at = 1;
        if (step.revoke) bind(u.get(), at++, iso8601(step.when));
        bind(u.get(), at, step.serial);
        if (sqlite3_step(u.get()) != SQLITE_DONE) return rollback(db_error("superseding " + step.serial));
        if (sqlite3_changes(db_.get()) == 0) return rollback(insert_outcome::already_renewed);
        auto added = insert_locked(rec);
        if (!added || *added != insert_outcome::inserted) return rollback(std::move(added));
        if (auto c = exec("COMMIT"); !c) return rollback(c.err());
        return insert_outcome::inserted;
    }

    result<bool> key_compromised(const std::string& public_key_sha256) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("SELECT 1 FROM certificates WHERE public_key_sha256 = ? AND revocation_reason = 1 LIMIT 1");
        if (!s) return db_error("preparing the compromised-key lookup");
        bind(s.get(), 1, public_key_sha256);
        const int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return db_error("looking up compromised keys");
    }

    result<std::optional<cert_record>> find_by_transaction(const std::string& txid) override {
        return find_one("WHERE transaction_id = ?", txid);
    }

    result<std::size_t> seed(std::size_t count, const cert_record& tmpl, const std::string& tag) override {
        std::lock_guard lock(mu_);
        cert_record base = tmpl;
        base.created_at = now_iso8601();
        std::size_t done = 0;
        while (done < count) {
            // Large transactions: one commit per 50,000 rows, not per row.
            if (auto r = exec("BEGIN IMMEDIATE"); !r) return r.err();
            for (std::size_t batch = 0; batch < 50000 && done < count; ++batch, ++done) {
                auto row = seed_row(base, tag, done);
                auto added = insert_locked(row);
                if (!added || *added != insert_outcome::inserted) {
                    (void)exec("ROLLBACK");
                    if (!added) return added.err();
                    return make_error(file_ + ": seeding row " + row.serial + ": transactionID already used");
                }
            }
            if (auto r = exec("COMMIT"); !r) return r.err();
        }
        return done;
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

    result<cert_page> search(const cert_query& q) override {
        std::string where = "FROM certificates WHERE 1=1";
        std::vector<std::string> values;
        if (!q.subject.empty()) {
            where += " AND subject LIKE ? ESCAPE '\\'";
            values.push_back("%" + sqlite::escape_like(q.subject) + "%");
        }
        if (!q.serial.empty()) where += " AND serial = ?", values.push_back(q.serial);
        if (!q.status.empty()) where += " AND status = ?", values.push_back(q.status);
        if (!q.since.empty()) where += " AND created_at >= ?", values.push_back(q.since);
        if (!q.until.empty()) where += " AND created_at < ?", values.push_back(q.until);
        std::lock_guard lock(mu_);
        auto found = sqlite::paged<cert_record>([this](const std::string& sql) { return prepare(sql); }, db_.get(),
                                                std::string("SELECT ") + certificate_columns, where, values, q.limit,
                                                q.offset, read_row);
        if (!found) return make_error(file_ + ": " + found.message());
        return cert_page{found->first, std::move(found->second)};
    }

    result<std::map<std::string, std::int64_t>> count_by_status() override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("SELECT status, COUNT(*) FROM certificates GROUP BY status");
        if (!s) return db_error("preparing status counts");
        std::map<std::string, std::int64_t> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out[column_text(s.get(), 0)] = sqlite3_column_int64(s.get(), 1);
        if (rc != SQLITE_DONE) return db_error("counting by status");
        return out;
    }

    result<std::int64_t> reset() override {
        std::lock_guard lock(mu_);
        if (sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return db_error("reset");
        std::int64_t removed = 0;
        for (const char* sql : {"DELETE FROM certificates", "DELETE FROM pending_requests"}) {
            if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
                sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
                return db_error("reset");
            }
            removed += sqlite3_changes(db_.get());
        }
        if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return db_error("reset");
        return removed;
    }

    result<revoke_outcome> revoke(const std::string& serial, int reason,
                                  std::chrono::system_clock::time_point when) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare("SELECT status FROM certificates WHERE serial = ?");
        if (!s) return db_error("preparing revoke");
        bind(s.get(), 1, serial);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_DONE) return revoke_outcome::not_found;
        if (rc != SQLITE_ROW) return db_error("looking up " + serial);
        if (column_text(s.get(), 0) == "revoked") return revoke_outcome::already_revoked;
        stmt_ptr u = prepare(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ?");
        if (!u) return db_error("preparing revoke");
        bind(u.get(), 1, iso8601(when));
        sqlite3_bind_int(u.get(), 2, reason);
        bind(u.get(), 3, serial);
        if (sqlite3_step(u.get()) != SQLITE_DONE) return db_error("revoking " + serial);
        return revoke_outcome::revoked;
    }

    result<void> supersede(const std::string& serial) override {
        return update("UPDATE certificates SET status = 'superseded' WHERE serial = ? AND status = 'valid'",
                      {serial});
    }

    result<void> probe_write() override {
        std::lock_guard lock(mu_);
        // A WAL that has been started over is written again from its start,
        // into space the file already has: a small write can succeed on a
        // full disk while an insert, which needs more pages, fails. So the
        // free space comes first (1 MiB: a few hundred enrollments' pages).
        if (struct statvfs fs{}; ::statvfs(file_.c_str(), &fs) == 0) {
            const auto free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
            if (free_bytes < 1024 * 1024)
                return make_error(file_ + ": the file system holding the store has " + std::to_string(free_bytes) +
                                  " bytes free");
        }
        // Rewrites the header's user_version with its own value: a one-page
        // write through the WAL, enough to meet a read-only file.
        if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
        auto r = exec("PRAGMA user_version=" + std::to_string(schema_version));
        if (r) r = exec("COMMIT");
        if (!r) (void)exec("ROLLBACK");
        return r;
    }

    result<void> release_transaction(const std::string& txid) override {
        if (auto r = update("UPDATE certificates SET transaction_id = NULL WHERE transaction_id = ?", {txid}); !r)
            return r;
        return update("DELETE FROM pending_requests WHERE transaction_id = ? AND status = 'issued'", {txid});
    }

    result<std::vector<revoked_entry>> revoked_by(const std::string& aki) override {
        std::lock_guard lock(mu_);
        // The file keeps ISO 8601 text (readable with sqlite3); SQLite reads
        // it back as seconds, NULL for text that is not a time.
        stmt_ptr s = prepare(
            "SELECT serial, CAST(strftime('%s', revoked_at) AS INTEGER), revocation_reason FROM certificates "
            "WHERE authority_key_id = ? AND status = 'revoked' ORDER BY id");
        if (!s) return db_error("preparing revoked list");
        bind(s.get(), 1, aki);
        std::vector<revoked_entry> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            std::string serial = column_text(s.get(), 0);
            if (sqlite3_column_type(s.get(), 1) == SQLITE_NULL)
                return make_error("certificate " + serial + " is revoked at a time the store cannot read");
            out.push_back({std::move(serial),
                           std::chrono::system_clock::from_time_t(static_cast<std::time_t>(sqlite3_column_int64(s.get(), 1))),
                           sqlite3_column_int(s.get(), 2)});
        }
        if (rc != SQLITE_DONE) return db_error("listing revoked certificates");
        return out;
    }

    result<void> add_pending(const pending_record& r) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(
            "INSERT OR IGNORE INTO pending_requests (transaction_id, status, subject, requester, public_key_sha256, "
            "csr, replaces_serial, reason, created_at) VALUES (?,?,?,?,?,?,?,?,?)");
        if (!s) return db_error("preparing pending insert");
        bind(s.get(), 1, r.transaction_id);
        bind(s.get(), 2, r.status);
        bind(s.get(), 3, r.subject);
        bind(s.get(), 4, r.requester);
        bind(s.get(), 5, r.public_key_sha256);
        sqlite3_bind_blob(s.get(), 6, r.csr.data(), static_cast<int>(r.csr.size()), SQLITE_TRANSIENT);
        bind(s.get(), 7, r.replaces_serial);
        bind(s.get(), 8, r.reason);
        bind(s.get(), 9, r.created_at.empty() ? now_iso8601() : r.created_at);
        if (sqlite3_step(s.get()) != SQLITE_DONE) return db_error("storing pending request " + r.transaction_id);
        return {};
    }

    result<std::optional<pending_record>> find_pending(const std::string& txid) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(std::string(pending_columns) + "WHERE transaction_id = ?");
        if (!s) return db_error("preparing pending lookup");
        bind(s.get(), 1, txid);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) return std::optional<pending_record>(read_pending(s.get()));
        if (rc == SQLITE_DONE) return std::optional<pending_record>();
        return db_error("looking up pending request");
    }

    result<decide_outcome> decide_pending(const std::string& txid, bool approve, const std::string& reason) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(
            "UPDATE pending_requests SET status = ?, reason = ?, decided_at = ? "
            "WHERE transaction_id = ? AND status = 'pending'");
        if (!s) return db_error("preparing decision");
        bind(s.get(), 1, approve ? "approved" : "rejected");
        bind(s.get(), 2, reason);
        bind(s.get(), 3, now_iso8601());
        bind(s.get(), 4, txid);
        if (sqlite3_step(s.get()) != SQLITE_DONE) return db_error("deciding " + txid);
        if (sqlite3_changes(db_.get()) == 1) return decide_outcome::decided;
        stmt_ptr q = prepare("SELECT 1 FROM pending_requests WHERE transaction_id = ?");
        bind(q.get(), 1, txid);
        return sqlite3_step(q.get()) == SQLITE_ROW ? decide_outcome::not_pending : decide_outcome::not_found;
    }

    result<void> mark_pending_issued(const std::string& txid, const std::string& serial) override {
        return update("UPDATE pending_requests SET status = 'issued', issued_serial = ? WHERE transaction_id = ?",
                      {serial, txid});
    }

    result<std::vector<pending_record>> list_pending(bool all) override {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(std::string(pending_columns) + (all ? "" : "WHERE status = 'pending' ") +
                             "ORDER BY created_at, transaction_id");
        if (!s) return db_error("preparing pending list");
        std::vector<pending_record> out;
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_pending(s.get()));
        if (rc != SQLITE_DONE) return db_error("listing pending requests");
        return out;
    }

private:
    result<void> update(const char* sql, std::initializer_list<std::string> values) {
        std::lock_guard lock(mu_);
        stmt_ptr s = prepare(sql);
        if (!s) return db_error("preparing update");
        int i = 1;
        for (const auto& v : values) bind(s.get(), i++, v);
        if (sqlite3_step(s.get()) != SQLITE_DONE) return db_error("updating");
        return {};
    }

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

    // Callers hold mu_ (or run before the store is shared).
    stmt_ptr prepare(const std::string& sql) {
        if (auto it = statements_.find(sql); it != statements_.end()) return stmt_ptr(it->second.get(), {true});
        sqlite3_stmt* s = nullptr;
        sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr);
        if (!s) return stmt_ptr();
        statements_.emplace(sql, stmt_ptr(s));
        return stmt_ptr(s, {true});
    }
    static void bind(sqlite3_stmt* s, int i, const std::string& v) { sqlite::bind_text(s, i, v); }
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
    std::unordered_map<std::string, stmt_ptr> statements_;  // finalized before db_ closes
    // Stopped before db_ closes (declared after it).
    std::unique_ptr<sqlite::wal_checkpointer> checkpointer_;
};

}  // namespace

result<std::unique_ptr<lab_cert_store>> open_sqlite_store(const std::filesystem::path& file) {
    // Owner only: the store holds every certificate and held request.
    auto db = sqlite::open_owner_only(file, "the store");
    if (!db) return db.err();
    auto store = std::make_unique<sqlite_store>(db->release(), file.string());
    if (auto r = store->init(); !r) {
        std::string m = r.message();
        if (m.find("file is not a database") != std::string::npos)
            m += " (is it a SQLite database? it is left untouched)";
        return make_error(m);
    }
    return std::unique_ptr<lab_cert_store>(std::move(store));
}

int store_schema_version() { return schema_version; }

}  // namespace scep
