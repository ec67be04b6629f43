// The dynamic challenge store: hashed secrets, uses spent atomically (racing
// threads cannot take more uses than there are), expiry, revocation, restarts.
#include "pki/store/challenges.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "support/test_support.hpp"

namespace scep {
namespace {

challenge_row row(const std::string& handle, std::int64_t now, int uses = 1, std::int64_t ttl = 600) {
    challenge_row r;
    r.handle = handle;
    r.created_at = now;
    r.expires_at = now + ttl;
    r.uses_total = uses;
    r.bindings = "{}";
    r.label = "device-1";
    return r;
}

TEST(challenge_store, a_single_use_challenge_is_spent_once_and_its_state_stays_readable) {
    test::temp_dir dir;
    auto store = challenge_store::open(dir.path() / "challenges.db");
    ASSERT_TRUE(store) << store.message();
    const std::int64_t now = 1'800'000'000;
    ASSERT_TRUE((*store)->add("aa", row("ch-1", now)));
    EXPECT_FALSE((*store)->add("aa", row("ch-2", now)));  // the same secret twice
    EXPECT_FALSE((*store)->add("bb", row("ch-1", now)));  // the same handle twice
    auto first = (*store)->spend("aa", now + 1);
    ASSERT_TRUE(first) << first.message();
    EXPECT_TRUE(*first);
    auto second = (*store)->spend("aa", now + 2);
    ASSERT_TRUE(second);
    EXPECT_FALSE(*second);
    auto found = (*store)->find("aa");
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->uses_left, 0);
    EXPECT_EQ((*found)->label, "device-1");
    auto unknown = (*store)->find("cc");
    ASSERT_TRUE(unknown);
    EXPECT_FALSE(*unknown);
    auto live = (*store)->list(now, false);
    ASSERT_TRUE(live);
    EXPECT_TRUE(live->empty());
    auto all = (*store)->list(now, true);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 1u);
}

TEST(challenge_store, expired_and_revoked_challenges_cannot_be_spent) {
    test::temp_dir dir;
    auto store = challenge_store::open(dir.path() / "c.db");
    ASSERT_TRUE(store);
    const std::int64_t now = 1'800'000'000;
    ASSERT_TRUE((*store)->add("old", row("ch-old", now, 1, 60)));
    ASSERT_TRUE((*store)->add("rev", row("ch-rev", now, 5)));
    EXPECT_FALSE(*(*store)->spend("old", now + 60));  // expires_at itself is too late
    EXPECT_TRUE(*(*store)->revoke("ch-rev"));
    EXPECT_FALSE(*(*store)->revoke("ch-nothing"));
    EXPECT_FALSE(*(*store)->spend("rev", now));
    EXPECT_TRUE((*(*store)->find("rev"))->revoked);
    EXPECT_EQ(*(*store)->purge(now + 120, 30), 1u);  // the expired one, 60 s after it expired
    EXPECT_FALSE(*(*store)->find("old"));
}

TEST(challenge_store, racing_threads_never_take_more_uses_than_there_are) {
    test::temp_dir dir;
    auto store = challenge_store::open(dir.path() / "c.db");
    ASSERT_TRUE(store);
    const std::int64_t now = 1'800'000'000;
    for (int uses : {1, 3}) {
        const std::string secret = "s" + std::to_string(uses);
        ASSERT_TRUE((*store)->add(secret, row("ch-" + secret, now, uses)));
        std::atomic<int> won{0}, errors{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&] {
                auto r = (*store)->spend(secret, now);
                if (!r) ++errors;
                else if (*r) ++won;
            });
        for (auto& t : threads) t.join();
        EXPECT_EQ(errors, 0);
        EXPECT_EQ(won, uses);
    }
}

TEST(challenge_store, challenges_survive_a_reopen_and_only_hashes_are_on_disk) {
    test::temp_dir dir;
    const auto file = dir.path() / "c.db";
    const std::int64_t now = 1'800'000'000;
    {
        auto store = challenge_store::open(file);
        ASSERT_TRUE(store);
        ASSERT_TRUE((*store)->add("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", row("ch-a", now, 2)));
        EXPECT_TRUE(*(*store)->spend("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", now));
    }
    auto again = challenge_store::open(file);
    ASSERT_TRUE(again);
    auto r = (*again)->find("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->uses_left, 1);
    struct stat st{};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(challenge_store, an_unwritable_place_is_a_clear_error) {
    auto store = challenge_store::open("/proc/scep-lab-no/challenges.db");
    ASSERT_FALSE(store);
    EXPECT_NE(store.message().find("challenge store"), std::string::npos) << store.message();
}

}  // namespace
}  // namespace scep
