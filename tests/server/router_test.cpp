#include "server/router.hpp"

#include <gtest/gtest.h>

#include "pki/crypto/encoding.hpp"
#include "server/ndes_admin.hpp"
#include "server/quirks.hpp"
#include "support/test_support.hpp"

namespace scep::server {
namespace {

class router_test : public ::testing::Test {
protected:
    void SetUp() override {
        service_config cfg;
        cfg.challenge = "secret";
        lab_.emplace(cfg);
        pki_ = &*lab_->pki;
        router_.emplace(router_parts{.service = *lab_->service, .scep_paths = {"/scep", "/cgi-bin/pkiclient.exe"}});
    }
    response get(const std::string& target, http::verb verb = http::verb::get, std::string body = {}) {
        request req{verb, target, 11};
        req.body() = std::move(body);
        req.prepare_payload();
        request_record rec;
        return router_->handle(req, "127.0.0.1", rec);
    }
    std::optional<test::service_lab> lab_;
    const hierarchy* pki_ = nullptr;
    std::optional<router> router_;
};

TEST_F(router_test, serves_scep_under_both_paths_with_any_suffix) {
    for (const char* path : {"/scep", "/scep/pkiclient.exe", "/cgi-bin/pkiclient.exe", "/cgi-bin/pkiclient.exe/x/y"}) {
        SCOPED_TRACE(path);
        auto res = get(std::string(path) + "?operation=GetCACaps");
        EXPECT_EQ(res.result(), http::status::ok);
        EXPECT_NE(res.body().find("POSTPKIOperation"), std::string::npos);
    }
    EXPECT_EQ(get("/scepx?operation=GetCACaps").result(), http::status::not_found);
    EXPECT_EQ(get("/other").result(), http::status::not_found);
}

TEST_F(router_test, get_pkioperation_with_half_escaped_base64) {
    auto dev = test::make_requester({.challenge = "secret"});
    for (bool half_escaped : {false, true}) {
        SCOPED_TRACE(half_escaped);
        auto der = test::make_pkcs_req(dev, pki_->ra_cert(), half_escaped ? "H1" : "H2", bytes(16, 1));
        std::string b64 = base64_encode(der), escaped;
        for (char c : b64) {
            // macOS escapes only '='; a careful client escapes all three.
            if (c == '=') escaped += "%3D";
            else if (!half_escaped && c == '+') escaped += "%2B";
            else if (!half_escaped && c == '/') escaped += "%2F";
            else escaped += c;
        }
        auto res = get("/scep?operation=PKIOperation&message=" + escaped);
        ASSERT_EQ(res.result(), http::status::ok) << res.body();
        EXPECT_EQ(res[http::field::content_type], "application/x-pki-message");
        auto rep = parse_cert_rep(bytes(res.body().begin(), res.body().end()), pki_->ra_cert());
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
    }
}

TEST_F(router_test, post_pkioperation_accepts_binary_and_base64_bodies) {
    auto dev = test::make_requester({.challenge = "secret"});
    auto der = test::make_pkcs_req(dev, pki_->ra_cert(), "P1", bytes(16, 2));
    // A FAILURE CertRep is HTTP 200 too: the reply itself must say SUCCESS.
    auto expect_success = [&](const response& res) {
        ASSERT_EQ(res.result(), http::status::ok) << res.body();
        EXPECT_EQ(res[http::field::content_type], "application/x-pki-message");
        auto rep = parse_cert_rep(bytes(res.body().begin(), res.body().end()), pki_->ra_cert());
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
        EXPECT_EQ(rep->transaction_id, "P1");
    };
    expect_success(get("/scep?operation=PKIOperation", http::verb::post, std::string(der.begin(), der.end())));
    // The same transaction again, base64 this time: the same certificate.
    expect_success(get("/scep?operation=PKIOperation", http::verb::post, base64_encode(der)));
}

TEST_F(router_test, answers_what_is_not_scep_with_400_and_a_reason) {
    struct case_t {
        const char* name;
        std::string target;
        http::verb verb;
        std::string body;
        http::status status;
        const char* reason;
    };
    std::vector<case_t> cases{
        {"missing_operation", "/scep", http::verb::get, "", http::status::bad_request, "missing operation"},
        {"unknown_operation", "/scep?operation=Hello", http::verb::get, "", http::status::bad_request,
         "unsupported operation"},
        {"get_without_message", "/scep?operation=PKIOperation", http::verb::get, "", http::status::bad_request,
         "without a message"},
        {"broken_base64", "/scep?operation=PKIOperation&message=%%%", http::verb::get, "",
         http::status::bad_request, "not valid base64"},
        {"base64_of_garbage", "/scep?operation=PKIOperation&message=aGVsbG8%3D", http::verb::get, "",
         http::status::bad_request, "not a SCEP pkiMessage"},
        {"empty_post", "/scep?operation=PKIOperation", http::verb::post, "", http::status::bad_request,
         "empty body"},
        {"garbage_post", "/scep?operation=PKIOperation", http::verb::post, "\x30\x82\xff\xff garbage",
         http::status::bad_request, "not a SCEP pkiMessage"},
        {"text_post", "/scep?operation=PKIOperation", http::verb::post, "hello world!", http::status::bad_request,
         "neither DER nor base64"},
        {"wrong_method", "/scep?operation=GetCACaps", http::verb::delete_, "", http::status::method_not_allowed,
         "GET, POST, HEAD"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto res = get(c.target, c.verb, c.body);
        EXPECT_EQ(res.result(), c.status);
        EXPECT_NE(res.body().find(c.reason), std::string::npos) << res.body();
    }
}

TEST_F(router_test, healthz_answers_ok) {
    auto res = get("/healthz");
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.body(), "ok\n");
}

}  // namespace
}  // namespace scep::server

namespace scep::server {
namespace {

// The HTTP-level quirks: exact statuses, and a router that answers normally
// again for everything they do not cover.
class quirks_test : public ::testing::Test {
protected:
    void make(config::quirk_settings q) {
        service_config cfg;
        cfg.challenge = "secret";
        lab_.emplace(cfg);
        gate_.emplace(std::move(q));
        router_.emplace(router_parts{.service = *lab_->service, .scep_paths = {"/scep"}, .quirks = &*gate_});
    }
    std::pair<response, request_record> get(const std::string& target) {
        request req{http::verb::get, target, 11};
        request_record rec;
        auto res = router_->handle(req, "127.0.0.1", rec);
        return {std::move(res), rec};
    }
    std::optional<test::service_lab> lab_;
    std::optional<quirk_gate> gate_;
    std::optional<router> router_;
};

TEST_F(quirks_test, url_limits_answer_as_iis_request_filtering_and_http_sys_do) {
    config::quirk_settings q;
    q.max_query_bytes = 2048;
    q.max_url_bytes = 4096;
    make(q);
    const std::string query = "operation=GetCACaps&message=";
    std::string at_limit = "/scep?" + query + std::string(2048 - query.size(), 'A');
    ASSERT_EQ(at_limit.size() - 6, 2048u);
    EXPECT_EQ(get(at_limit).first.result_int(), 200);
    // maxQueryString: IIS request filtering's 404 (404.15 in its log), IIS's headers.
    auto [over, rec] = get(at_limit + "A");
    EXPECT_EQ(over.result_int(), 404);
    EXPECT_EQ(over[http::field::server], "Microsoft-IIS/10.0");
    EXPECT_EQ(over["X-Powered-By"], "ASP.NET");
    EXPECT_NE(over.body().find("<title>404 - File or directory not found.</title>"), std::string::npos) << over.body();
    EXPECT_NE(rec.detail.find("quirks.max_query_bytes = 2048"), std::string::npos) << rec.detail;
    EXPECT_NE(rec.detail.find("404.15"), std::string::npos) << rec.detail;
    // A long URL: HTTP.sys's 414, before IIS sees it.
    auto [long_url, url_rec] = get("/scep/" + std::string(4096, 'p') + "?operation=GetCACaps");
    EXPECT_EQ(long_url.result_int(), 414);
    EXPECT_EQ(long_url[http::field::server], "Microsoft-HTTPAPI/2.0");
    EXPECT_NE(long_url.body().find("HTTP Error 414. The request URL is too long."), std::string::npos);
    EXPECT_NE(url_rec.detail.find("HTTP.sys"), std::string::npos) << url_rec.detail;
    // /healthz is never limited, and normal requests still work.
    EXPECT_EQ(get("/healthz?" + std::string(5000, 'x')).first.result_int(), 200);
    EXPECT_EQ(get("/scep?operation=GetCACert").first.result_int(), 200);
}

TEST_F(quirks_test, injected_status_per_operation) {
    config::quirk_settings q;
    q.fail_status = {{"GetCACert", 503}, {"PKIOperation", 500}, {"GetCACaps", 404}};
    make(q);
    auto [cert, rec] = get("/scep?operation=GetCACert");
    EXPECT_EQ(cert.result_int(), 503);
    EXPECT_EQ(cert[http::field::server], "Microsoft-HTTPAPI/2.0");
    EXPECT_NE(rec.detail.find("quirks.fail_status.GetCACert"), std::string::npos);
    // Operation names match case-insensitively, as the router's do.
    EXPECT_EQ(get("/scep?operation=getcacert").first.result_int(), 503);
    EXPECT_EQ(get("/scep?operation=PKIOperation&message=AAAA").first.result_int(), 500);
    EXPECT_EQ(get("/scep?operation=GetCACaps").first.result_int(), 404);
    EXPECT_EQ(get("/scep?operation=GetNextCACert").first.result_int(), 404);  // the real answer: no next CA
    EXPECT_EQ(get("/healthz").first.result_int(), 200);
}

TEST_F(quirks_test, every_nth_request_fails) {
    config::quirk_settings q;
    q.fail_every = 3;
    q.fail_every_status = 403;
    make(q);
    std::vector<int> statuses;
    for (int i = 0; i < 9; ++i) {
        statuses.push_back(get("/scep?operation=GetCACaps").first.result_int());
        get("/healthz");  // not counted
    }
    EXPECT_EQ(statuses, (std::vector<int>{200, 200, 403, 200, 200, 403, 200, 200, 403}));
}

TEST_F(quirks_test, latency_is_asked_of_the_session_for_scep_requests_only) {
    config::quirk_settings q;
    q.latency = std::chrono::milliseconds(750);
    make(q);
    EXPECT_EQ(get("/scep?operation=GetCACaps").second.delay, std::chrono::milliseconds(750));
    EXPECT_EQ(get("/healthz").second.delay, std::chrono::milliseconds(0));
}

TEST_F(router_test, read_only_resources_answer_405_with_allow_to_other_methods) {
    for (const char* target : {"/ca/root.pem", "/healthz", "/readyz", "/crl/issuing.crl", "/certs/01.pem"}) {
        for (auto verb : {http::verb::put, http::verb::delete_, http::verb::post}) {
            SCOPED_TRACE(std::string(target) + " " + std::string(http::to_string(verb)));
            auto res = get(target, verb);
            EXPECT_EQ(res.result(), http::status::method_not_allowed) << res.body();
            EXPECT_EQ(res[http::field::allow], "GET, HEAD");
        }
    }
    EXPECT_EQ(get("/ca/root.pem", http::verb::head).result(), http::status::ok);
    auto scep = get("/scep?operation=GetCACaps", http::verb::put);
    EXPECT_EQ(scep.result(), http::status::method_not_allowed);
    EXPECT_EQ(scep[http::field::allow], "GET, POST, HEAD");
}

request raw_request(http::verb verb, std::string target, std::vector<std::pair<std::string, std::string>> fields,
                    unsigned version = 11) {
    request req{verb, target, version};
    for (auto& [k, v] : fields) req.insert(k, v);
    return req;
}

TEST(check_framing, refuses_what_two_parsers_could_read_differently) {
    struct case_t {
        const char* name;
        request req;
        std::optional<http::status> expect;
    };
    std::vector<case_t> cases{
        {"plain_request", raw_request(http::verb::get, "/healthz", {{"Host", "x"}}), std::nullopt},
        {"chunked", raw_request(http::verb::post, "/scep", {{"Host", "x"}, {"Transfer-Encoding", "chunked"}}),
         std::nullopt},
        {"chunked_any_case", raw_request(http::verb::post, "/scep", {{"Host", "x"}, {"Transfer-Encoding", " Chunked "}}),
         std::nullopt},
        {"xchunked", raw_request(http::verb::post, "/scep", {{"Host", "x"}, {"Transfer-Encoding", "xchunked"}}),
         http::status::bad_request},
        {"chunked_then_gzip",
         raw_request(http::verb::post, "/scep", {{"Host", "x"}, {"Transfer-Encoding", "chunked, gzip"}}),
         http::status::bad_request},
        {"two_fields_ending_in_identity",
         raw_request(http::verb::post, "/scep",
                     {{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "identity"}}),
         http::status::bad_request},
        {"gzip_then_chunked",
         raw_request(http::verb::post, "/scep", {{"Host", "x"}, {"Transfer-Encoding", "gzip, chunked"}}),
         http::status::not_implemented},
        {"no_host_in_http_1_1", raw_request(http::verb::get, "/healthz", {}), http::status::bad_request},
        {"no_host_in_http_1_0", raw_request(http::verb::get, "/healthz", {}, 10), std::nullopt},
        {"two_hosts", raw_request(http::verb::get, "/healthz", {{"Host", "a"}, {"Host", "b"}}),
         http::status::bad_request},
        {"absolute_form_with_a_bad_host",
         raw_request(http::verb::get, "http://a<b>/healthz", {{"Host", "x"}}), http::status::bad_request},
        {"absolute_form_with_userinfo",
         raw_request(http::verb::get, "http://user@host/healthz", {{"Host", "x"}}), http::status::bad_request},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto bad = check_framing(c.req);
        ASSERT_EQ(bad.has_value(), c.expect.has_value()) << (bad ? bad->reason : "accepted");
        if (bad) {
            EXPECT_EQ(bad->status, *c.expect);
        }
    }
}

TEST_F(router_test, get_pkioperation_with_line_breaks_and_spaces_in_the_base64) {
    // Cisco IOS wraps the base64 at 64 characters (escaped CR LF); others
    // leave escaped spaces. Both are dropped after the percent-decoding, as
    // IIS and NDES do; a raw '+' stays a '+'.
    auto dev = test::make_requester({.challenge = "secret"});
    int n = 0;
    for (std::string_view br : {"%0A", "%0D%0A", "%20", "%09"}) {
        SCOPED_TRACE(br);
        auto der = test::make_pkcs_req(dev, pki_->ra_cert(), "W" + std::to_string(++n), bytes(16, 4));
        std::string b64 = base64_encode(der), wrapped;
        for (std::size_t i = 0; i < b64.size(); ++i) {
            if (i && i % 64 == 0) wrapped += br;
            wrapped += b64[i] == '=' ? std::string("%3D") : std::string(1, b64[i]);
        }
        wrapped += br;  // a trailing break too
        auto res = get("/scep?operation=PKIOperation&message=" + wrapped);
        ASSERT_EQ(res.result(), http::status::ok) << res.body();
        auto rep = parse_cert_rep(bytes(res.body().begin(), res.body().end()), pki_->ra_cert());
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
    }
    // What is not base64 after that is still refused by name.
    EXPECT_EQ(get("/scep?operation=PKIOperation&message=MII%21%21").result(), http::status::bad_request);
}

TEST_F(router_test, absolute_form_targets_are_served_with_the_host_they_name) {
    auto req = raw_request(http::verb::get, "HTTP://lab.example:8080/scep?operation=GetCACaps", {{"Host", "other"}});
    ASSERT_FALSE(check_framing(req));
    EXPECT_EQ(req.target(), "/scep?operation=GetCACaps");
    EXPECT_EQ(req[http::field::host], "lab.example:8080");
    request_record rec;
    auto res = router_->handle(req, "127.0.0.1", rec);
    EXPECT_EQ(res.result(), http::status::ok);
    auto bare = raw_request(http::verb::get, "http://lab.example", {{"Host", "x"}});
    ASSERT_FALSE(check_framing(bare));
    EXPECT_EQ(bare.target(), "/");
    auto query_only = raw_request(http::verb::get, "http://lab.example?x=1", {{"Host", "x"}});
    ASSERT_FALSE(check_framing(query_only));
    EXPECT_EQ(query_only.target(), "/?x=1");
}

TEST(router_readiness, readyz_is_503_while_the_store_cannot_be_written) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg);
    test::write_failing_store failing;
    lab.service.emplace(*lab.pki, *lab.iss, failing, cfg);
    router r(router_parts{.service = *lab.service, .scep_paths = {"/scep"}});
    auto readyz = [&] {
        request req{http::verb::get, "/readyz", 11};
        request_record rec;
        return r.handle(req, "127.0.0.1", rec);
    };
    EXPECT_EQ(readyz().result(), http::status::ok);
    failing.fail_writes = true;
    auto dev = test::make_requester({.challenge = "secret"});
    (void)lab.service->pki_operation(test::make_pkcs_req(dev, lab.pki->ra_cert(), "T", bytes(16, 1)), "c");
    auto down = readyz();
    EXPECT_EQ(down.result(), http::status::service_unavailable);
    EXPECT_EQ(down.body().find("/var/lib"), std::string::npos) << down.body();
    failing.fail_writes = false;
    EXPECT_EQ(readyz().result(), http::status::ok);
}

TEST(router_ndes, the_information_page_links_the_validated_base_url_with_the_scheme_used) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg);
    config::ndes_settings ndes_cfg;
    ndes_cfg.enabled = true;
    ndes_cfg.admin_encoding = "utf-8";
    ndes_frontend ndes(ndes_cfg, nullptr, "secret", "00000000 00000000 00000000 00000000");
    router r(router_parts{.service = *lab.service, .scep_paths = {"/certsrv/mscep/mscep.dll"}, .ndes = &ndes});
    auto browse = [&](const std::string& host, bool secure) {
        request req{http::verb::get, "/certsrv/mscep/mscep.dll", 11};
        req.set(http::field::host, host);
        request_record rec;
        return r.handle(req, "127.0.0.1", rec, secure);
    };
    auto page = browse("lab.example:8443", true);
    ASSERT_EQ(page.result(), http::status::ok);
    EXPECT_NE(page.body().find("<A HREF=\"https://lab.example:8443/certsrv/mscep_admin/\">"), std::string::npos)
        << page.body();
    for (const char* hostile : {"x><script>alert(1)</script>", "a b", "x\"onmouseover=alert(1)"}) {
        SCOPED_TRACE(hostile);
        auto res = browse(hostile, false);
        EXPECT_EQ(res.result(), http::status::bad_request);
        EXPECT_EQ(res.body().find("<script>"), std::string::npos);
    }
}

}  // namespace
}  // namespace scep::server
