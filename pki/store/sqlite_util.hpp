// What the two SQLite files (the certificate store and the transaction log)
// share: opening a file only its owner may read, statement ownership,
// reading columns, escaping LIKE patterns, and a counted, paged query.
// Internal to pki/store.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"

namespace scep::sqlite {

struct db_close {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using db_ptr = std::unique_ptr<sqlite3, db_close>;

// Statements are prepared once per SQL text and kept where that pays
// (`cached`: handing one back resets it instead of finalizing it).
struct stmt_finalize {
    bool cached = false;
    void operator()(sqlite3_stmt* s) const noexcept {
        if (!cached) {
            sqlite3_finalize(s);
            return;
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalize>;

// Opens (creating) `file` read-write for this process's threads. The file,
// and the -wal and -shm files an older run left, are made 0600 first:
// SQLite creates its side files with the database file's mode. `what`
// names the file in the error ("the store").
result<db_ptr> open_owner_only(const std::filesystem::path& file, const std::string& what);

// Checkpoints a WAL database from a thread of its own. SQLite's automatic
// checkpoint runs inside the commit that crosses the threshold (1,000 WAL
// pages by default): copying the pages back and an fdatasync, several
// milliseconds on the lab VM, paid by whichever request commits then and by
// every request waiting for the store meanwhile (docs/benchmarks.md,
// "Latency"). Here a commit that leaves `pages` or more in the WAL only
// wakes this thread, which checkpoints on a connection of its own, in two
// passes: a PASSIVE one while writers go on (the bulk of the copying and the
// syncs), then, holding `writers` (the mutex the owner's writes take), a
// PASSIVE one for the few frames written meanwhile. Only then is the WAL
// wholly copied with no write in between, which is what lets the next write
// start the WAL over; without the second pass it grows without end under
// steady writes. Should writes outpace the thread (a bulk load holding the
// mutex), a commit that leaves four times `pages` checkpoints itself, as
// SQLite would. Closing the database checkpoints what is left, as before.
class wal_checkpointer {
public:
    // nullptr, and SQLite's automatic checkpoints left in place, when `db`
    // is not in WAL mode (an in-memory database).
    static result<std::unique_ptr<wal_checkpointer>> start(sqlite3* db, std::mutex& writers,
                                                         const std::filesystem::path& file, const std::string& what,
                                                         int pages = 1000);
    // Hands checkpoints back to `db` (which must still be open) and stops.
    ~wal_checkpointer();
    wal_checkpointer(const wal_checkpointer&) = delete;
    wal_checkpointer& operator=(const wal_checkpointer&) = delete;

private:
    wal_checkpointer(sqlite3* db, std::mutex& writers, db_ptr own, int pages);
    static int on_commit(void* self, sqlite3* db, const char* name, int pages);
    void run();

    sqlite3* db_;
    std::mutex& writers_;
    db_ptr own_;
    const int pages_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool due_ = false;
    bool stop_ = false;
    std::thread thread_;
};

std::string column_text(sqlite3_stmt* s, int i);
bytes column_blob(sqlite3_stmt* s, int i);
void bind_text(sqlite3_stmt* s, int i, const std::string& v);
// `v` with LIKE's wildcards and the escape character escaped (ESCAPE '\').
std::string escape_like(std::string_view v);

// COUNT(*) over `from_where` and the page `select ... from_where ORDER BY
// id DESC LIMIT ? OFFSET ?`, with `values` bound in order to both; `read`
// turns a row into an item. `prepare` returns a stmt_ptr (cached or not).
template <class Item, class Prepare, class Read>
result<std::pair<std::int64_t, std::vector<Item>>> paged(Prepare&& prepare, sqlite3* db, const std::string& select,
                                                        const std::string& from_where,
                                                        const std::vector<std::string>& values, std::size_t limit,
                                                        std::size_t offset, Read&& read) {
    auto fail = [&](const char* what) { return make_error(std::string(what) + ": " + sqlite3_errmsg(db)); };
    std::pair<std::int64_t, std::vector<Item>> out;
    {
        stmt_ptr c = prepare("SELECT COUNT(*) " + from_where);
        if (!c) return fail("preparing a count");
        for (std::size_t i = 0; i < values.size(); ++i) bind_text(c.get(), static_cast<int>(i + 1), values[i]);
        if (sqlite3_step(c.get()) != SQLITE_ROW) return fail("counting matches");
        out.first = sqlite3_column_int64(c.get(), 0);
    }
    stmt_ptr s = prepare(select + " " + from_where + " ORDER BY id DESC LIMIT ? OFFSET ?");
    if (!s) return fail("preparing a search");
    int i = 1;
    for (const auto& v : values) bind_text(s.get(), i++, v);
    sqlite3_bind_int64(s.get(), i++, static_cast<sqlite3_int64>(limit));
    sqlite3_bind_int64(s.get(), i, static_cast<sqlite3_int64>(offset));
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.second.push_back(read(s.get()));
    if (rc != SQLITE_DONE) return fail("searching");
    return out;
}

}  // namespace scep::sqlite
