#include "pki/store/challenges.hpp"

#include "pki/store/sqlite_util.hpp"

namespace scep {

namespace {

constexpr const char* challenges_schema = R"sql(
CREATE TABLE IF NOT EXISTS challenges (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    uses_total INTEGER NOT NULL,
    uses_left INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    bindings TEXT NOT NULL,
    label TEXT NOT NULL
);
)sql";

constexpr const char* challenge_columns = "handle, created_at, expires_at, uses_total, uses_left, revoked, bindings, label";

challenge_row read_challenge(sqlite3_stmt* s) {
    challenge_row r;
    r.handle = sqlite::column_text(s, 0);
    r.created_at = sqlite3_column_int64(s, 1);
    r.expires_at = sqlite3_column_int64(s, 2);
    r.uses_total = sqlite3_column_int(s, 3);
    r.uses_left = sqlite3_column_int(s, 4);
    r.revoked = sqlite3_column_int(s, 5) != 0;
    r.bindings = sqlite::column_text(s, 6);
    r.label = sqlite::column_text(s, 7);
    return r;
}

}  // namespace

challenge_store::challenge_store(sqlite3* db) : db_(db) {}

challenge_store::~challenge_store() { sqlite3_close_v2(db_); }

result<std::unique_ptr<challenge_store>> challenge_store::open(const std::filesystem::path& file) {
    auto db = sqlite::open_owner_only(file, "the challenge store");
    if (!db) return db.err();
    sqlite3_busy_timeout(db->get(), 5000);
    char* err = nullptr;
    if (sqlite3_exec(db->get(), "PRAGMA journal_mode=WAL;", nullptr, nullptr, &err) != SQLITE_OK ||
        sqlite3_exec(db->get(), challenges_schema, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string why = err ? err : "unknown error";
        sqlite3_free(err);
        return make_error(file.string() + ": cannot set up the challenge store: " + why);
    }
    return std::unique_ptr<challenge_store>(new challenge_store(db->release()));
}

result<void> challenge_store::add(const std::string& secret_sha256, const challenge_row& row) {
    std::lock_guard lock(mu_);
    sqlite::stmt_ptr s;
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO challenges (handle, secret_sha256, created_at, expires_at, uses_total, "
                           "uses_left, revoked, bindings, label) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                           -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing a challenge insert: ") + sqlite3_errmsg(db_));
    s.reset(raw);
    sqlite::bind_text(raw, 1, row.handle);
    sqlite::bind_text(raw, 2, secret_sha256);
    sqlite3_bind_int64(raw, 3, row.created_at);
    sqlite3_bind_int64(raw, 4, row.expires_at);
    sqlite3_bind_int(raw, 5, row.uses_total);
    sqlite3_bind_int(raw, 6, row.uses_total);
    sqlite::bind_text(raw, 7, row.bindings);
    sqlite::bind_text(raw, 8, row.label);
    if (sqlite3_step(raw) != SQLITE_DONE) return make_error(std::string("storing a challenge: ") + sqlite3_errmsg(db_));
    return {};
}

result<std::vector<challenge_row>> challenge_store::list(std::int64_t now, bool all, std::size_t limit) const {
    std::lock_guard lock(mu_);
    const std::string sql = std::string("SELECT ") + challenge_columns + " FROM challenges" +
                            (all ? "" : " WHERE revoked = 0 AND uses_left > 0 AND expires_at > ?") +
                            " ORDER BY id DESC LIMIT ?";
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing the challenge list: ") + sqlite3_errmsg(db_));
    sqlite::stmt_ptr s(raw);
    int i = 1;
    if (!all) sqlite3_bind_int64(raw, i++, now);
    sqlite3_bind_int64(raw, i, static_cast<sqlite3_int64>(limit));
    std::vector<challenge_row> out;
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) out.push_back(read_challenge(raw));
    if (rc != SQLITE_DONE) return make_error(std::string("listing challenges: ") + sqlite3_errmsg(db_));
    return out;
}

result<bool> challenge_store::revoke(const std::string& handle) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, "UPDATE challenges SET revoked = 1 WHERE handle = ?", -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing a revocation: ") + sqlite3_errmsg(db_));
    sqlite::stmt_ptr s(raw);
    sqlite::bind_text(raw, 1, handle);
    if (sqlite3_step(raw) != SQLITE_DONE) return make_error(std::string("revoking a challenge: ") + sqlite3_errmsg(db_));
    return sqlite3_changes(db_) > 0;
}

result<std::optional<challenge_row>> challenge_store::find(const std::string& secret_sha256) const {
    std::lock_guard lock(mu_);
    sqlite3_stmt* raw = nullptr;
    const std::string sql = std::string("SELECT ") + challenge_columns + " FROM challenges WHERE secret_sha256 = ?";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing a challenge lookup: ") + sqlite3_errmsg(db_));
    sqlite::stmt_ptr s(raw);
    sqlite::bind_text(raw, 1, secret_sha256);
    int rc = sqlite3_step(raw);
    if (rc == SQLITE_ROW) return std::optional<challenge_row>(read_challenge(raw));
    if (rc != SQLITE_DONE) return make_error(std::string("looking a challenge up: ") + sqlite3_errmsg(db_));
    return std::optional<challenge_row>();
}

result<bool> challenge_store::spend(const std::string& secret_sha256, std::int64_t now) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "UPDATE challenges SET uses_left = uses_left - 1 WHERE secret_sha256 = ? AND revoked = 0 "
                           "AND uses_left > 0 AND expires_at > ?",
                           -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing a challenge use: ") + sqlite3_errmsg(db_));
    sqlite::stmt_ptr s(raw);
    sqlite::bind_text(raw, 1, secret_sha256);
    sqlite3_bind_int64(raw, 2, now);
    if (sqlite3_step(raw) != SQLITE_DONE) return make_error(std::string("using a challenge: ") + sqlite3_errmsg(db_));
    return sqlite3_changes(db_) == 1;
}

result<std::size_t> challenge_store::purge(std::int64_t now, std::int64_t keep_seconds) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM challenges WHERE expires_at <= ?", -1, &raw, nullptr) != SQLITE_OK)
        return make_error(std::string("preparing a purge: ") + sqlite3_errmsg(db_));
    sqlite::stmt_ptr s(raw);
    sqlite3_bind_int64(raw, 1, now - keep_seconds);
    if (sqlite3_step(raw) != SQLITE_DONE) return make_error(std::string("purging challenges: ") + sqlite3_errmsg(db_));
    return static_cast<std::size_t>(sqlite3_changes(db_));
}

}  // namespace scep
