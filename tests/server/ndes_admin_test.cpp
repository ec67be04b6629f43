#include "server/ndes_admin.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace scep::server {
namespace {

// The expression Fleet uses to scrape the password (ndes.md §2).
const std::regex fleet_password(R"(The enrollment challenge password is: <B> (\S*))", std::regex::icase);

TEST(ndes_admin_page, password_page_reads_as_ndes_does) {
    admin_page p;
    p.thumbprint = "A656FA66 AB12B433 A2DA5CF7 CC153D9A";
    p.password = "8CE317021F690069";
    auto html = render_admin_html(p);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(html, m, fleet_password));
    EXPECT_EQ(m[1], "8CE317021F690069");
    EXPECT_NE(html.find("<B> A656FA66 AB12B433 A2DA5CF7 CC153D9A </B>"), std::string::npos);
    EXPECT_NE(html.find("will expire within 60 minutes"), std::string::npos);
    p.kind = admin_page_kind::single_password;
    EXPECT_NE(render_admin_html(p).find("can be used multiple times and will not expire"), std::string::npos);
    p.kind = admin_page_kind::cache_full;
    EXPECT_NE(render_admin_html(p).find("The password cache is full."), std::string::npos);
    p.kind = admin_page_kind::no_permission;
    EXPECT_NE(render_admin_html(p).find("You do not have sufficient permission to enroll with SCEP."),
              std::string::npos);
}

TEST(ndes_admin_page, utf16le_with_and_without_bom) {
    EXPECT_EQ(encode_page("AB", page_encoding::utf16le_bom), std::string("\xFF\xFE" "A\0B\0", 6));
    EXPECT_EQ(encode_page("AB", page_encoding::utf16le), std::string("A\0B\0", 4));
    EXPECT_EQ(encode_page("AB", page_encoding::utf8), "AB");
}

}  // namespace
}  // namespace scep::server
