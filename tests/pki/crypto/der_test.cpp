#include "pki/crypto/der.hpp"

#include <gtest/gtest.h>

namespace scep {
namespace {

TEST(der, lengths_use_the_short_form_below_128_and_the_long_form_above) {
    struct case_t {
        std::size_t length;
        bytes encoded;
    };
    for (const auto& c : {case_t{0, {0x00}}, case_t{127, {0x7f}}, case_t{128, {0x81, 0x80}}, case_t{255, {0x81, 0xff}},
                          case_t{256, {0x82, 0x01, 0x00}}, case_t{70000, {0x83, 0x01, 0x11, 0x70}}}) {
        SCOPED_TRACE(c.length);
        bytes out;
        append_der_length(out, c.length);
        EXPECT_EQ(out, c.encoded);
    }
}

TEST(der, a_written_tlv_reads_back) {
    for (std::size_t n : {0u, 5u, 127u, 128u, 300u, 70000u}) {
        SCOPED_TRACE(n);
        bytes content(n, 0xab), out{0x01};  // one byte before, so the offset matters
        append_der_tlv(out, 0x30, content);
        auto t = read_der_tlv(out, 1);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->tag, 0x30);
        EXPECT_EQ(t->length, n);
        EXPECT_EQ(t->content(), t->start + t->header);
        EXPECT_EQ(t->end(), out.size());
    }
}

TEST(der, short_indefinite_or_absurd_encodings_are_refused) {
    for (const bytes& bad : {bytes{}, bytes{0x30}, bytes{0x30, 0x05, 0x01}, bytes{0x30, 0x80, 0x00, 0x00},
                             bytes{0x30, 0x85, 1, 1, 1, 1, 1}, bytes{0x30, 0x82, 0x01}}) {
        SCOPED_TRACE(to_hex(bad));
        EXPECT_FALSE(read_der_tlv(bad, 0));
    }
}

}  // namespace
}  // namespace scep
