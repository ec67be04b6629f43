#include "pki/crypto/encoding.hpp"

#include <gtest/gtest.h>

namespace scep {
namespace {

TEST(base64, round_trips_every_length) {
    for (std::size_t n = 0; n < 64; ++n) {
        auto data = random_bytes(n);
        auto text = base64_encode(data);
        auto back = base64_decode(text);
        ASSERT_TRUE(back) << n;
        EXPECT_EQ(*back, data) << n;
    }
}

TEST(base64, tolerates_line_breaks_missing_padding_and_the_url_safe_alphabet) {
    EXPECT_EQ(base64_decode("aGVs\r\nbG8="), (bytes{'h', 'e', 'l', 'l', 'o'}));
    EXPECT_EQ(base64_decode("aGVsbG8"), (bytes{'h', 'e', 'l', 'l', 'o'}));
    EXPECT_EQ(base64_decode("-_8="), base64_decode("+/8="));
}

TEST(base64, rejects_garbage) {
    EXPECT_FALSE(base64_decode("ab$d"));
    EXPECT_FALSE(base64_decode("a"));
    EXPECT_FALSE(base64_decode("ab=c"));
}

TEST(percent_decode, keeps_plus_as_plus_for_half_escaped_macos_messages) {
    EXPECT_EQ(percent_decode("a+b%2Fc%3D"), "a+b/c=");
    EXPECT_EQ(percent_decode("%2b%2B"), "++");
    EXPECT_FALSE(percent_decode("%G1"));
    EXPECT_FALSE(percent_decode("abc%2"));
}

}  // namespace
}  // namespace scep
