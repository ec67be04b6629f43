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

namespace scep::server {
namespace {

namespace http = boost::beast::http;

std::string decoded(const std::string& utf16) {
    std::string out;
    for (std::size_t i = 2; i + 1 < utf16.size(); i += 2) out += utf16[i];  // skips the BOM
    return out;
}

TEST(ndes_frontend, answers_each_configured_trouble_and_browse_mode) {
    server::request req{http::verb::get, "/certsrv/mscep_admin/", 11};
    struct case_t {
        config::admin_page_answer admin_response;
        unsigned status;
        const char* expect;  // in the decoded body; empty = body must be empty
    };
    for (const auto& c : {case_t{config::admin_page_answer::server_error, 500, "500 - Internal server error."},
                          case_t{config::admin_page_answer::empty, 200, ""},
                          case_t{config::admin_page_answer::no_permission, 200, "You do not have sufficient permission to enroll with SCEP."},
                          case_t{config::admin_page_answer::cache_full, 200, "The password cache is full."}}) {
        SCOPED_TRACE(std::string(config::name_of(c.admin_response, config::admin_page_answers)));
        config::ndes_settings cfg;
        cfg.admin_response = c.admin_response;
        ndes_frontend front(cfg, nullptr, "secret", "00000000 00000000 00000000 00000000");
        std::string detail;
        auto res = front.admin(req, detail);
        EXPECT_EQ(res.result_int(), c.status);
        EXPECT_NE(detail.find("ndes.admin_response"), std::string::npos) << detail;
        std::string body = c.status == 500 ? res.body() : decoded(res.body());
        if (*c.expect == '\0')
            EXPECT_EQ(res.body(), "\xFF\xFE");  // only the BOM
        else
            EXPECT_NE(body.find(c.expect), std::string::npos) << body;
    }

    config::ndes_settings page_cfg;
    ndes_frontend page(page_cfg, nullptr, "secret", "t");
    auto info = page.browse(req, "http://lab/certsrv/mscep_admin/");
    EXPECT_EQ(info.result_int(), 200u);
    EXPECT_NE(decoded(info.body()).find("http://lab/certsrv/mscep_admin/"), std::string::npos);
    config::ndes_settings forbid_cfg;
    forbid_cfg.browse = config::browse_answer::forbidden;
    ndes_frontend forbid(forbid_cfg, nullptr, "secret", "t");
    EXPECT_EQ(forbid.browse(req, "x").result_int(), 403u);

    config::ndes_settings single_cfg;
    single_cfg.password_mode = config::password_mode::single;
    ndes_frontend single(single_cfg, nullptr, "the-single-one", "t");
    std::string detail;
    EXPECT_NE(decoded(single.admin(req, detail).body()).find("<B> the-single-one </B> <P> This password can be used multiple times"),
              std::string::npos);
}

TEST(ndes_frontend, a_password_source_feeds_the_page_escaped_and_its_refusal_is_no_permission) {
    server::request req{http::verb::get, "/certsrv/mscep_admin/?device=dev-1", 11};
    config::ndes_settings cfg;
    ndes_frontend front(cfg, nullptr, "static-one", "t");
    std::string given;
    front.set_password_source(
        [&given](const std::string& params) -> result<std::optional<std::string>> {
            given = params;
            return std::optional<std::string>("A<B>&1");
        },
        15);
    std::string detail;
    std::string body = decoded(front.admin(req, detail).body());
    EXPECT_EQ(given, "device=dev-1");  // GenerateChallenge's pwszParams
    EXPECT_NE(body.find("<B> A&lt;B&gt;&amp;1 </B>"), std::string::npos) << body;
    EXPECT_NE(body.find("expire within 15 minutes"), std::string::npos) << body;
    EXPECT_EQ(body.find("static-one"), std::string::npos);
    EXPECT_EQ(detail.find("A<B>"), std::string::npos) << detail;  // never logged

    front.set_password_source(
        [](const std::string&) -> result<std::optional<std::string>> { return make_error("0x80070005"); }, 15);
    body = decoded(front.admin(req, detail).body());
    EXPECT_NE(body.find("You do not have sufficient permission"), std::string::npos) << body;
    EXPECT_NE(detail.find("0x80070005"), std::string::npos) << detail;
    // No password: the source's cache is full (api challenges, ndes.password_cache).
    front.set_password_source([](const std::string&) -> result<std::optional<std::string>> { return std::optional<std::string>(); }, 15);
    body = decoded(front.admin(req, detail).body());
    EXPECT_NE(body.find("The password cache is full"), std::string::npos) << body;
}

}  // namespace
}  // namespace scep::server
