#include "pki/store/sqlite_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace scep::sqlite {

result<db_ptr> open_owner_only(const std::filesystem::path& file, const std::string& what) {
    if (int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) {
        (void)::fchmod(fd, 0600);
        ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        std::error_code ec;
        auto side = std::filesystem::path(file.string() + suffix);
        if (std::filesystem::exists(side, ec)) (void)::chmod(side.c_str(), 0600);
    }
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return make_error(file.string() + ": cannot open " + what + ": " + msg);
    }
    return db_ptr(db);
}

result<std::unique_ptr<wal_checkpointer>> wal_checkpointer::start(sqlite3* db, std::mutex& writers,
                                                                  const std::filesystem::path& file,
                                                                  const std::string& what, int pages) {
    const char* name = sqlite3_db_filename(db, "main");
    if (!name || !*name) return std::unique_ptr<wal_checkpointer>{};  // in memory
    auto in_wal_mode = [&](sqlite3* c) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &raw, nullptr) != SQLITE_OK) return false;
        stmt_ptr s(raw);
        return sqlite3_step(s.get()) == SQLITE_ROW && column_text(s.get(), 0) == "wal";
    };
    if (!in_wal_mode(db)) return std::unique_ptr<wal_checkpointer>{};
    // A new database's first page, which marks it as WAL, is still in the
    // WAL: until it is checkpointed, another connection would open the file
    // as a rollback-journal database (and checkpoint nothing).
    {
        std::lock_guard no_writes(writers);
        if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) != SQLITE_OK)
            return make_error(file.string() + ": checkpointing " + what + ": " + sqlite3_errmsg(db));
    }
    // Not open_owner_only: the files exist (and are private) already, and
    // closing a descriptor of the database file, as it does, would drop
    // every POSIX lock this process holds on it, SQLite's included; another
    // process could then take the WAL for unused and delete it.
    sqlite3* raw = nullptr;
    if (int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
        rc != SQLITE_OK) {
        std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        sqlite3_close_v2(raw);
        return make_error(file.string() + ": cannot open " + what + " for checkpoints: " + msg);
    }
    db_ptr own(raw);
    if (!in_wal_mode(own.get())) return std::unique_ptr<wal_checkpointer>{};  // SQLite's own checkpoints, then
    return std::unique_ptr<wal_checkpointer>(new wal_checkpointer(db, writers, std::move(own), pages));
}

wal_checkpointer::wal_checkpointer(sqlite3* db, std::mutex& writers, db_ptr own, int pages)
    : db_(db), writers_(writers), own_(std::move(own)), pages_(pages), thread_([this] { run(); }) {
    // Replaces the automatic checkpoint (sqlite3_wal_autocheckpoint is this
    // same hook with SQLite's own callback).
    sqlite3_wal_hook(db_, &wal_checkpointer::on_commit, this);
}

wal_checkpointer::~wal_checkpointer() {
    sqlite3_wal_hook(db_, nullptr, nullptr);
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char* name, int pages) {
    auto* c = static_cast<wal_checkpointer*>(self);
    if (pages >= 4 * c->pages_) {
        // Writes outpace the thread (a bulk load): checkpoint here, as SQLite
        // itself would, so the WAL stays bounded whatever the load.
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        return SQLITE_OK;
    }
    if (pages >= c->pages_) {
        {
            std::lock_guard lock(c->mu_);
            c->due_ = true;
        }
        c->cv_.notify_one();
    }
    return SQLITE_OK;
}

void wal_checkpointer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || due_; });
        if (stop_) return;
        due_ = false;
        lock.unlock();
        // PASSIVE: as many frames as no reader still needs, without waiting.
        // A checkpoint that could not finish is retried at the next commit.
        (void)sqlite3_wal_checkpoint_v2(own_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        {
            std::lock_guard no_writes(writers_);
            (void)sqlite3_wal_checkpoint_v2(own_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        lock.lock();
    }
}

std::string column_text(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char*>(t) : "";
}

bytes column_blob(sqlite3_stmt* s, int i) {
    const auto* b = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, i));
    return b ? bytes(b, b + sqlite3_column_bytes(s, i)) : bytes{};
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string escape_like(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace scep::sqlite
