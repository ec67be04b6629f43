// Who gets the challenge in a downloaded Apple profile (server/apple_profiles).
#include "server/profile_download.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace scep::server {
namespace {

struct profile_lab {
    test::lab_fixture lab{2};
    std::unique_ptr<cert_store> store = make_memory_store();
    config::settings settings = config::defaults();

    std::pair<std::string, std::string> download(bool may_see, one_time_passwords* otp = nullptr) {
        profile_sources src{settings, *lab.pki, *store, {}, otp};
        profile_request req;
        req.may_see_challenge = may_see;
        std::string withheld;
        auto made = make_apple_profile(src, req, "http://127.0.0.1:8080", &withheld);
        EXPECT_TRUE(made) << made.message();
        return {made ? made->body : std::string(), withheld};
    }
};

TEST(apple_profiles, the_lab_default_challenge_is_in_every_profile) {
    profile_lab l;
    auto [xml, withheld] = l.download(false);
    EXPECT_NE(xml.find(config::default_challenge), std::string::npos);
    EXPECT_TRUE(withheld.empty());
}

// Found while probing issue 28's changes: ?ssid=%01 made a profile that is
// not XML (plistlib and devices refuse it whole). Now a named refusal.
TEST(apple_profiles, control_characters_and_non_utf8_from_the_query_are_refused_by_name) {
    profile_lab l;
    for (const auto& [query, said] : {std::pair{"ssid=a%01b", "the SSID holds a control character (0x01)"},
                                      std::pair{"radius_name=r%7F", "a RADIUS server name holds a control character (0x7F)"},
                                      std::pair{"subject=CN%3Da%FF", "the subject is not UTF-8 text"}}) {
        auto req = profile_request_from_query(query);
        ASSERT_TRUE(req) << req.message();
        profile_sources src{l.settings, *l.lab.pki, *l.store, {}, nullptr};
        auto made = make_apple_profile(src, *req, "http://127.0.0.1:8080", nullptr);
        ASSERT_FALSE(made) << query;
        EXPECT_NE(made.message().find(said), std::string::npos) << made.message();
    }
    auto fine = profile_request_from_query("ssid=caf%C3%A9+lab");
    ASSERT_TRUE(fine);
    profile_sources src{l.settings, *l.lab.pki, *l.store, {}, nullptr};
    EXPECT_TRUE(make_apple_profile(src, *fine, "http://127.0.0.1:8080", nullptr)) << "UTF-8 stays allowed";
}

TEST(apple_profiles, a_configured_challenge_goes_only_to_the_admin) {
    profile_lab l;
    l.settings.scep.challenge = "a-configured-secret";
    auto [anonymous, withheld] = l.download(false);
    EXPECT_EQ(anonymous.find("a-configured-secret"), std::string::npos);
    EXPECT_EQ(anonymous.find("<key>Challenge</key>"), std::string::npos);
    EXPECT_NE(withheld.find("admin token"), std::string::npos) << withheld;
    auto [admin, none] = l.download(true);
    EXPECT_NE(admin.find("a-configured-secret"), std::string::npos);
    EXPECT_TRUE(none.empty());
}

TEST(apple_profiles, anonymous_downloads_get_no_one_time_password_and_cannot_fill_the_cache) {
    profile_lab l;
    l.settings.ndes.enabled = true;
    l.settings.ndes.password_mode = config::password_mode::dynamic;
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, system_clock_fn());
    for (int i = 0; i < 10; ++i) {
        auto [xml, withheld] = l.download(false, &otp);
        EXPECT_EQ(xml.find("<key>Challenge</key>"), std::string::npos);
        EXPECT_NE(withheld.find("mscep_admin"), std::string::npos) << withheld;
    }
    // The whole cache is still there for the admin page and the admin.
    auto [xml, withheld] = l.download(true, &otp);
    auto at = xml.find("<key>Challenge</key>");
    ASSERT_NE(at, std::string::npos);
    auto start = xml.find("<string>", at) + 8;
    std::string password = xml.substr(start, xml.find("</string>", start) - start);
    EXPECT_FALSE(otp.verify(challenge_context(challenge_attr{password, V_ASN1_PRINTABLESTRING})));  // nullopt: accepted
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(otp.issue()) << i;
}

}  // namespace
}  // namespace scep::server
