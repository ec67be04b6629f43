#include "pki/crypto/encoding.hpp"
#include "pki/crypto/constant_time.hpp"

#include <gtest/gtest.h>

#include <cstring>

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

TEST(decode_utf8, reads_code_points_and_refuses_what_is_not_utf8) {
    struct case_t {
        std::string text;
        char32_t code_point;
        std::size_t size;
    };
    for (const auto& c : {case_t{"a", U'a', 1}, case_t{"\xC3\xA4", U'\u00E4', 2}, case_t{"\xE2\x82\xAC", U'\u20AC', 3},
                          case_t{"\xF0\x9F\x94\x91", U'\U0001F511', 4}}) {
        auto ch = decode_utf8(c.text, 0);
        ASSERT_TRUE(ch) << c.text;
        EXPECT_EQ(ch->code_point, c.code_point);
        EXPECT_EQ(ch->size, c.size);
    }
    for (const char* bad : {"\x80", "\xC3", "\xC3\x41", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                            "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80"}) {
        SCOPED_TRACE(to_hex(byte_view(reinterpret_cast<const std::uint8_t*>(bad), std::strlen(bad))));
        EXPECT_FALSE(decode_utf8(bad, 0));
    }
    EXPECT_FALSE(decode_utf8("a", 1));  // past the end
}

TEST(constant_time_equal, compares_content_and_length) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secret2"));
    EXPECT_FALSE(constant_time_equal("", "x"));
}

}  // namespace
}  // namespace scep
