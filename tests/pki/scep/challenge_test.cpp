#include "pki/scep/challenge.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace scep {
namespace {

std::optional<challenge_attr> attr(const std::string& v) { return challenge_attr{v, V_ASN1_PRINTABLESTRING}; }

using kind = challenge_refusal::kind;
// The refusal's kind and text, for comparisons.
std::pair<kind, std::string> seen(const std::optional<challenge_refusal>& r) {
    if (!r) return {kind::missing, "(accepted)"};
    return {r->why, r->text};
}

TEST(static_challenge, accepts_the_secret_only) {
    static_challenge c("secret");
    EXPECT_FALSE(c.verify(attr("secret")));
    EXPECT_EQ(seen(c.verify(attr("nope"))), std::make_pair(kind::wrong, std::string("wrong challenge password")));
    EXPECT_EQ(seen(c.verify(std::nullopt)), std::make_pair(kind::missing, std::string("the CSR has no challengePassword")));
    static_challenge open("");
    EXPECT_FALSE(open.verify(std::nullopt));  // NDES EnforcePassword = 0
}

TEST(one_time_passwords, are_upper_case_hex_single_use_and_expire) {
    auto now = std::chrono::system_clock::now();
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [&] { return now; });
    auto p = otp.issue();
    ASSERT_TRUE(p);
    EXPECT_TRUE(std::regex_match(*p, std::regex("[A-F0-9]{16}"))) << *p;
    EXPECT_FALSE(otp.verify(attr(*p)));
    auto reused = otp.verify(attr(*p));
    ASSERT_TRUE(reused);
    EXPECT_EQ(reused->why, kind::used);
    EXPECT_NE(reused->text.find("already been used"), std::string::npos);

    auto late = otp.issue();
    ASSERT_TRUE(late);
    now += std::chrono::minutes(61);
    auto expired = otp.verify(attr(*late));
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->why, kind::expired);
    EXPECT_NE(expired->text.find("expired"), std::string::npos) << expired->text;
    EXPECT_EQ(seen(otp.verify(attr("0123456789ABCDEF"))), std::make_pair(kind::wrong, std::string("unknown challenge password")));
    EXPECT_EQ(seen(otp.verify(std::nullopt)), std::make_pair(kind::missing, std::string("the CSR has no challengePassword")));
}

TEST(one_time_passwords, cache_fills_up_and_frees_as_passwords_expire_or_are_used) {
    auto now = std::chrono::system_clock::now();
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [&] { return now; });
    std::vector<std::string> issued;
    for (int i = 0; i < 5; ++i) issued.push_back(*otp.issue());
    EXPECT_FALSE(otp.issue());  // "The password cache is full."
    EXPECT_FALSE(otp.verify(attr(issued[0])));
    EXPECT_TRUE(otp.issue());  // using one frees a place
    EXPECT_FALSE(otp.issue());
    now += std::chrono::minutes(61);
    EXPECT_EQ(otp.unused(), 0u);
    EXPECT_TRUE(otp.issue());
}

}  // namespace
}  // namespace scep
