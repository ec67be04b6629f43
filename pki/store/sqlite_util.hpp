// What the two SQLite files (the certificate store and the transaction log)
// share: opening a file only its owner may read, statement ownership,
// reading columns, escaping LIKE patterns, and a counted, paged query.
// Internal to pki/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
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
