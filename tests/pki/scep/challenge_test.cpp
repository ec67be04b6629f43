#include "pki/scep/challenge.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace scep {
namespace {

std::optional<challenge_attr> attr(const std::string& v) { return challenge_attr{v, V_ASN1_PRINTABLESTRING}; }

TEST(static_challenge, accepts_the_secret_only) {
    static_challenge c("secret");
    EXPECT_FALSE(c.verify(attr("secret")));
    EXPECT_EQ(c.verify(attr("nope")), "wrong challenge password");
    EXPECT_EQ(c.verify(std::nullopt), "the CSR has no challengePassword");
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
    EXPECT_NE(reused->find("already been used"), std::string::npos);

    auto late = otp.issue();
    ASSERT_TRUE(late);
    now += std::chrono::minutes(61);
    auto expired = otp.verify(attr(*late));
    ASSERT_TRUE(expired);
    EXPECT_NE(expired->find("expired"), std::string::npos) << *expired;
    EXPECT_EQ(otp.verify(attr("0123456789ABCDEF")), "unknown challenge password");
    EXPECT_EQ(otp.verify(std::nullopt), "the CSR has no challengePassword");
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
