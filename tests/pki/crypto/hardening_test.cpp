// Hardening round two at the floor (docs/security.md): the one pattern
// facility (RE2), the one JSON writer (valid UTF-8 only), URLs shown without
// their credentials, and files written without following links.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/crypto/pattern.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

TEST(pattern, matches_in_linear_time_without_recursion) {
    auto catastrophic = pattern::compile("(a+)+b");
    ASSERT_TRUE(catastrophic) << catastrophic.message();
    // std::regex takes exponential time on this (40 a's hung a worker) and
    // recursion depth on long input (a 200,000-character subject crashed).
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(catastrophic->search(std::string(40, 'a')));
    EXPECT_FALSE(pattern::compile(".*CN=vip-.*")->search("O=" + std::string(60000, 'x')));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_TRUE(pattern::compile("CN=vip-")->search("CN=vip-7,O=Org"));
    EXPECT_TRUE(pattern::compile("CN=vip-[0-9]+")->full_match("CN=vip-7"));
    EXPECT_FALSE(pattern::compile("CN=vip-[0-9]+")->full_match("CN=vip-7,O=Org"));
    // Longer than max_input never matches, even ".*".
    EXPECT_FALSE(pattern::compile(".*")->search(std::string(pattern::max_input + 1, 'x')));
}

TEST(pattern, refuses_what_does_not_compile_or_is_too_long) {
    auto bad = pattern::compile("([unclosed");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("is not a regular expression"), std::string::npos) << bad.message();
    EXPECT_FALSE(pattern::compile(std::string(pattern::max_length + 1, 'a')));
    EXPECT_FALSE(pattern::compile("(a)\\1"));  // no backreferences in RE2
}

TEST(json_text, writes_only_valid_utf8) {
    boost::json::object o{{"user_agent", std::string("curl\xff\xfe/8")},
                          {"transaction_id", std::string("\xc3\x28")},  // a lead byte without its continuation
                          {"fine", "caf\xc3\xa9"}};
    o[std::string("key\x80")] = boost::json::array{std::string("\xed\xa0\x80")};  // a UTF-8 surrogate
    const std::string text = json_text(o);
    EXPECT_TRUE(is_valid_utf8(text)) << text;
    boost::json::error_code ec;
    auto back = boost::json::parse(text, ec);
    ASSERT_FALSE(ec) << text;
    EXPECT_EQ(back.at("user_agent").as_string(), "curl\xEF\xBF\xBD\xEF\xBF\xBD/8");
    EXPECT_EQ(back.at("fine").as_string(), "caf\xc3\xa9");
    EXPECT_TRUE(back.as_object().contains("key\xEF\xBF\xBD"));
    EXPECT_EQ(valid_utf8("plain"), "plain");
    EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // past U+10FFFF
    EXPECT_EQ(json_text(boost::json::value("ok")), "\"ok\"");
}

// Issue 28: duration_ms showed as 1.711E0 in pages, JSON and the CLI.
TEST(json_text, numbers_read_as_people_write_them) {
    boost::json::object o{{"duration_ms", 1.711}, {"n", 3}, {"big", 1e21}, {"nested", boost::json::array{0.5, "x\"y"}}};
    EXPECT_EQ(json_text(o), R"({"duration_ms":1.711,"n":3,"big":1e+21,"nested":[0.5,"x\"y"]})");
    EXPECT_EQ(boost::json::parse(json_text(o)), boost::json::value(o));  // still the same document
    EXPECT_EQ(json_text(boost::json::object{{"whole", 2.0}}), R"({"whole":2})");
}

TEST(redact_url, masks_userinfo_passwords_and_query_values) {
    EXPECT_EQ(redact_url("https://hooks.example/scep?token=s3cr3t&team=a"), "https://hooks.example/scep?token=***&team=***");
    EXPECT_EQ(redact_url("http://user:pa55@127.0.0.1:9000/hook"), "http://user:***@127.0.0.1:9000/hook");
    EXPECT_EQ(redact_url("http://127.0.0.1:9000/hook"), "http://127.0.0.1:9000/hook");
    EXPECT_EQ(redact_url("http://h/p?apikey"), "http://h/p?***");
    EXPECT_EQ(redact_url("http://h/p?a=1#frag"), "http://h/p?a=***");
    EXPECT_EQ(redact_url("POST http://h:80/p?k=v"), "POST http://h:80/p?k=***");
    EXPECT_EQ(redact_url(""), "");
}

TEST(write_file, never_writes_through_a_planted_link_and_keeps_no_leftover) {
    test::temp_dir dir;
    const auto victim = dir.path() / "victim";
    {
        std::ofstream(victim) << "precious";
    }
    const auto target = dir.path() / "1-T.request.der";
    // An attacker with write access to the directory plants <name>.tmp -> victim.
    ASSERT_EQ(::symlink(victim.c_str(), (target.string() + ".tmp").c_str()), 0);
    ASSERT_TRUE(write_file(target, "captured", true));
    std::ifstream in(victim);
    std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(kept, "precious");
    auto written = read_file(target);
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, "captured");
    struct stat st{};
    ASSERT_EQ(::lstat(target.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(target.string() + ".tmp")));
    // A link at the final name is replaced, not followed.
    const auto linked = dir.path() / "2-T.reply.der";
    ASSERT_EQ(::symlink(victim.c_str(), linked.c_str()), 0);
    ASSERT_TRUE(write_file(linked, "reply", true));
    std::ifstream again(victim);
    std::string still((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
    EXPECT_EQ(still, "precious");
    // A write that fails leaves no .tmp behind (a directory in the way of the rename).
    const auto blocked = dir.path() / "blocked";
    std::filesystem::create_directories(blocked / "inside");
    EXPECT_FALSE(write_file(blocked, "x", false));
    EXPECT_FALSE(std::filesystem::exists(blocked.string() + ".tmp"));
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

// `fault add --subject` and other exact matches: every metacharacter of the
// text is literal, and the pattern is anchored at both ends.
TEST(pattern_exactly, matches_the_text_and_nothing_else) {
    const std::string subject = "CN=a.b (x)+[y]*,O=\\Lab$^|?{2}";
    auto p = pattern::compile(pattern::exactly(subject));
    ASSERT_TRUE(p) << p.message();
    EXPECT_TRUE(p->full_match(subject));
    EXPECT_TRUE(p->search(subject));
    EXPECT_FALSE(p->search("CN=aXb (x)+[y]*,O=\\Lab$^|?{2}"));  // '.' is not any character
    EXPECT_FALSE(p->search("x" + subject));                     // anchored
    EXPECT_FALSE(p->search(subject + ",OU=more"));
    const std::string with_nul("CN=a\0b", 6);
    auto q = pattern::compile(pattern::exactly(with_nul));
    ASSERT_TRUE(q) << q.message();
    EXPECT_TRUE(q->full_match(with_nul));
    EXPECT_FALSE(q->full_match("CN=a"));
}

}  // namespace
}  // namespace scep
