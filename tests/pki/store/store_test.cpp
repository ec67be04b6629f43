#include "pki/store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "support/test_support.hpp"

namespace scep {
namespace {

cert_record record(const std::string& serial, const std::string& txid) {
    cert_record r;
    r.serial = serial;
    r.subject = "CN=" + serial;
    r.issuer = "CN=Issuing";
    r.not_before = "2026-01-01T00:00:00Z";
    r.not_after = "2027-01-01T00:00:00Z";
    r.transaction_id = txid;
    r.requester = "127.0.0.1";
    r.public_key_sha256 = "ab";
    r.der = bytes{0x30, 0x00};
    return r;
}

// Inserting, finding, listing and the rest of the interface are the
// contract suite's (store_contract_test.cpp), run on both stores; here is
// what only the SQLite store does.

// Checkpoints run on a thread of their own (sqlite::wal_checkpointer): under
// steady writes the WAL is still copied back and started over, so it stays
// near the 1,000-page threshold instead of growing with every insert, and
// another connection reads everything.
TEST(sqlite_store, checkpoints_keep_the_wal_bounded_under_steady_writes) {
    test::temp_dir dir;
    const auto file = dir.path() / "s.db";
    auto store = open_sqlite_store(file);
    ASSERT_TRUE(store) << store.message();
    const bytes der(3000, 0x42);  // about a page of its own per row, plus the indexes
    constexpr int rows = 3000;
    for (int i = 0; i < rows; ++i) {
        auto r = record("S" + std::to_string(i), "T" + std::to_string(i));
        r.der = der;
        ASSERT_EQ(*(*store)->insert(r), insert_outcome::inserted);
    }
    const auto wal = std::filesystem::path(file.string() + "-wal");
    // Without checkpoints: about six pages of 4 KiB per insert (some 70 MB).
    // With them the WAL is started over each time it has been copied back;
    // a writer this fast outpaces the thread, and the commit that leaves
    // 4,000 pages (of 4,096 bytes and a 24-byte frame header) checkpoints
    // itself, unless the thread's checkpoint is running at that moment.
    EXPECT_LT(std::filesystem::file_size(wal), 6000u * 4120);
    EXPECT_GT(std::filesystem::file_size(file), 4u * 1024 * 1024);  // rows copied back into the database
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open_v2(file.c_str(), &other, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(other, "SELECT COUNT(*) FROM certificates", -1, &count, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(count, 0), rows);
    sqlite3_finalize(count);
    sqlite3_close(other);
}

TEST(sqlite_store, files_are_private_and_a_probe_write_succeeds) {
    test::temp_dir dir;
    const auto file = dir.path() / "s.db";
    auto store = open_sqlite_store(file);
    ASSERT_TRUE(store) << store.message();
    EXPECT_TRUE((*store)->probe_write());
    using std::filesystem::perms;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        SCOPED_TRACE(suffix);
        auto p = std::filesystem::path(file.string() + suffix);
        ASSERT_TRUE(std::filesystem::exists(p));
        EXPECT_EQ(std::filesystem::status(p).permissions() & perms::all, perms::owner_read | perms::owner_write);
    }
    EXPECT_EQ(*(*store)->count(), 0);  // the probe wrote no row
}

TEST(sqlite_store, keeps_rows_across_reopen_and_sets_the_schema_version) {
    test::temp_dir dir;
    auto file = dir.path() / "s.db";
    {
        auto store = open_sqlite_store(file);
        ASSERT_TRUE(store);
        ASSERT_TRUE((*store)->insert(record("AA", "T")));
    }
    auto store = open_sqlite_store(file);
    ASSERT_TRUE(store);
    EXPECT_EQ(*(*store)->count(), 1);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), store_schema_version());
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(sqlite_store, refuses_a_newer_schema_without_touching_it) {
    test::temp_dir dir;
    auto file = dir.path() / "s.db";
    {
        auto store = open_sqlite_store(file);
        ASSERT_TRUE(store);
    }
    sqlite3* db = nullptr;
    sqlite3_open(file.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    auto store = open_sqlite_store(file);
    ASSERT_FALSE(store);
    EXPECT_NE(store.message().find("schema version 99 is newer"), std::string::npos) << store.message();
}

TEST(sqlite_store, refuses_a_file_that_is_not_a_database_and_leaves_it_alone) {
    test::temp_dir dir;
    auto file = dir.path() / "s.db";
    const std::string content(4096, 'x');
    std::ofstream(file) << content;
    auto store = open_sqlite_store(file);
    ASSERT_FALSE(store);
    EXPECT_NE(store.message().find("s.db"), std::string::npos) << store.message();
    auto after = read_file(file);
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, content);
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

// `scep-lab seed`: placeholder rows with the template's DER, unique serials,
// subjects and transactionIDs; a second seed with another tag adds more.
void exercise_seed(lab_cert_store& store) {
    ASSERT_EQ(*store.insert(record("01", "T1")), insert_outcome::inserted);
    cert_record tmpl = record("AA", "");
    tmpl.der = bytes{0x30, 0x03, 0x02, 0x01, 0x07};
    auto added = store.seed(1200, tmpl, "ABCD");
    ASSERT_TRUE(added) << added.message();
    EXPECT_EQ(*added, 1200u);
    ASSERT_TRUE(store.seed(5, tmpl, "EF01"));
    EXPECT_EQ(*store.count(), 1 + 1200 + 5);
    auto row = store.find_by_serial("5EEDABCD00000000000004AF");  // row 1199
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->subject, "CN=seed-ABCD-1199,O=scep-lab seed");
    EXPECT_EQ((*row)->transaction_id, "seed-ABCD-1199");
    EXPECT_EQ((*row)->requester, "seed");
    EXPECT_EQ((*row)->status, "valid");
    EXPECT_EQ((*row)->der, tmpl.der);
    // Seeding the same tag again collides and says so; nothing of it stays.
    auto again = store.seed(3, tmpl, "EF01");
    EXPECT_FALSE(again);
}

TEST(sqlite_store, seeds_placeholder_rows_in_batches) {
    test::temp_dir dir;
    auto store = open_sqlite_store(dir.path() / "s.db");
    ASSERT_TRUE(store);
    exercise_seed(**store);
    EXPECT_EQ(*(*store)->count(), 1 + 1200 + 5);  // the failed seed was rolled back
}

TEST(memory_store, seeds_placeholder_rows) {
    auto store = make_memory_store();
    ASSERT_TRUE(store->seed(3, record("AA", ""), "12"));
    EXPECT_EQ(*store->count(), 3);
    auto row = store->find_by_transaction("seed-12-2");
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->serial, "5EED120000000000000002");
}

}  // namespace
}  // namespace scep
