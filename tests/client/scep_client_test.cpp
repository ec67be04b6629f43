#include "client/scep_client.hpp"

#include <gtest/gtest.h>

namespace scep::client {
namespace {

TEST(parse_scep_url, reads_hosts_ports_and_paths) {
    auto a = parse_scep_url("http://127.0.0.1:8080/scep");
    ASSERT_TRUE(a) << a.message();
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 8080);
    EXPECT_EQ(a->path, "/scep");
    auto b = parse_scep_url("https://[::1]:8443");
    ASSERT_TRUE(b) << b.message();
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 8443);
    EXPECT_TRUE(b->tls);
    EXPECT_EQ(b->path, "/");
    auto c = parse_scep_url("https://lab.example/certsrv/mscep/mscep.dll");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->port, 443);
}

TEST(parse_scep_url, bad_ports_are_errors_not_crashes_or_truncations) {
    for (const char* url : {"http://[::1]:x", "http://[::1]:", "http://127.0.0.1:65536", "http://127.0.0.1:99999999999",
                            "http://127.0.0.1:0", "http://127.0.0.1:-1", "http://127.0.0.1:80x", "http://[::1]x:80",
                            "http://[::1:80"}) {
        SCOPED_TRACE(url);
        auto r = parse_scep_url(url);
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(url), std::string::npos) << r.message();
    }
    EXPECT_FALSE(parse_scep_url("ftp://x/"));
    EXPECT_FALSE(parse_scep_url("http://:80/"));
}

// Hardening round two: a webhook URL's query credential reached the enrolling
// client in failInfoText, /transactions.json and the log through this error.
TEST(http_request, errors_name_the_url_without_its_query_values) {
    auto url = parse_scep_url("http://127.0.0.1:1/hook?token=s3cr3t");
    ASSERT_TRUE(url);
    auto r = http_request(*url, "POST", url->path, "{}", {}, std::chrono::seconds(2));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.message().find("s3cr3t"), std::string::npos) << r.message();
    EXPECT_NE(r.message().find("token=***"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace scep::client
