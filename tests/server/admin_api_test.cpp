#include "server/admin_api.hpp"

#include <gtest/gtest.h>

#include "server/status_page.hpp"
#include "support/test_support.hpp"

namespace scep::server {
namespace {

namespace http = boost::beast::http;

request get(const std::string& target, const std::string& token) {
    request req{http::verb::get, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    return req;
}

TEST(admin_api_unit, loopback_addresses) {
    for (const char* a : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"}) EXPECT_TRUE(is_loopback_address(a)) << a;
    for (const char* a : {"10.0.0.1", "192.168.1.2", "::2", "fe80::1", "1.127.0.0", "unknown"})
        EXPECT_FALSE(is_loopback_address(a)) << a;
}

TEST(admin_api_unit, remote_clients_are_refused_unless_allowed) {
    auto store = make_memory_store();
    const std::string token = make_admin_token();
    admin_api closed(*store, {token, false, ""});
    std::string detail;
    auto res = closed.handle(get("/admin/api/certificates", token), "10.1.2.3", detail);
    EXPECT_EQ(res.result(), http::status::forbidden);
    EXPECT_NE(res.body().find("allow_remote"), std::string::npos);
    admin_api open(*store, {token, true, ""});
    EXPECT_EQ(open.handle(get("/admin/api/certificates", token), "10.1.2.3", detail).result(), http::status::ok);
    // A remote client still needs the token.
    EXPECT_EQ(open.handle(get("/admin/api/certificates", ""), "10.1.2.3", detail).result(), http::status::unauthorized);
}

TEST(admin_api_unit, rollover_checks_its_body_and_answers_what_was_done_or_why_not) {
    auto store = make_memory_store();
    const std::string token = make_admin_token();
    admin_api api(*store, {token, false, ""});
    std::string detail;
    auto post = [&](const std::string& body) {
        request req{http::verb::post, "/admin/api/rollover", 11};
        req.set(http::field::authorization, "Bearer " + token);
        req.body() = body;
        req.prepare_payload();
        return api.handle(req, "127.0.0.1", detail);
    };
    EXPECT_EQ(post("").result(), http::status::not_found);  // not wired (no server PKI)
    std::vector<std::pair<bool, bool>> calls;
    bool refuse = false;
    api.set_rollover([&](bool activate, bool keep_ra) -> result<boost::json::object> {
        calls.emplace_back(activate, keep_ra);
        if (refuse) return make_error("no next CA to activate; run a rollover first");
        return boost::json::object{{"message", "done"}};
    });
    EXPECT_EQ(post("").result(), http::status::ok);
    EXPECT_EQ(post(R"({"keep_ra": true})").result(), http::status::ok);
    EXPECT_EQ(post(R"({"activate": true})").result(), http::status::ok);
    EXPECT_NE(detail.find("rollover activated"), std::string::npos) << detail;
    for (const char* bad : {R"({"activate": "yes"})", R"({"force": true})", R"({"activate": true, "keep_ra": true})",
                            "[true]", "{"}) {
        auto res = post(bad);
        EXPECT_EQ(res.result(), http::status::bad_request) << bad;
        EXPECT_NE(res.body().find("\"error\""), std::string::npos) << res.body();
    }
    EXPECT_EQ(calls, (std::vector<std::pair<bool, bool>>{{false, false}, {false, true}, {true, false}}));
    refuse = true;
    auto refused = post(R"({"activate": true})");
    EXPECT_EQ(refused.result(), http::status::conflict);
    EXPECT_NE(refused.body().find("no next CA"), std::string::npos) << refused.body();
    EXPECT_EQ(api.handle(get("/admin/api/rollover", token), "127.0.0.1", detail).result(), http::status::method_not_allowed);
    EXPECT_EQ(api.handle(get("/admin/api/rollover", ""), "127.0.0.1", detail).result(), http::status::unauthorized);
}

TEST(admin_api_unit, the_conformance_prompt_is_checked_and_escaped_on_the_status_page) {
    auto store = make_memory_store();
    const std::string token = make_admin_token();
    admin_api api(*store, {token, false, ""});
    std::string detail;
    auto put = [&](const std::string& body, const std::string& with = "") {
        request req{http::verb::put, "/admin/api/prompt", 11};
        req.set(http::field::authorization, "Bearer " + (with.empty() ? token : with));
        req.body() = body;
        req.prepare_payload();
        return api.handle(req, "127.0.0.1", detail);
    };
    EXPECT_EQ(put(R"({"title":"x"})").result(), http::status::not_found);  // not wired: no page to show it
    prompt_board board;
    api.set_prompts(&board);
    EXPECT_EQ(put(R"({"title":"x"})", "wrong-token-0123456789").result(), http::status::unauthorized);
    for (const std::string& bad : {std::string(R"({"title":""})"), std::string(R"({"title":1})"),
                                  std::string(R"({"title":"a","colour":"red"})"), std::string("[1]"),
                                  R"({"title":")" + std::string(201, 'a') + "\"}"}) {
        auto res = put(bad);
        EXPECT_EQ(res.result(), http::status::bad_request) << bad;
    }
    EXPECT_FALSE(board.get());
    ASSERT_EQ(put(R"({"title":"case 1/2: <script>alert(1)</script>","text":"line one\u0007\nline <b>two</b>"})").result(),
              http::status::ok);
    auto shown = board.get();
    ASSERT_TRUE(shown);
    EXPECT_EQ(shown->text, "line one \nline <b>two</b>");  // control characters go
    test::lab_fixture lab(2);
    status_inputs in{.pki = *lab.pki, .store = *store, .base_url = "http://lab.test", .scep_path = "/scep"};
    in.prompt = std::make_pair(shown->title, shown->text);
    const std::string page = render_status_page(in);
    EXPECT_NE(page.find("case 1/2: &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_EQ(page.find("<script>alert"), std::string::npos);
    EXPECT_NE(page.find("<p>line &lt;b&gt;two&lt;/b&gt;</p>"), std::string::npos);
    EXPECT_EQ(page.find("<b>two"), std::string::npos);
    request del{http::verb::delete_, "/admin/api/prompt", 11};
    del.set(http::field::authorization, "Bearer " + token);
    EXPECT_EQ(api.handle(del, "127.0.0.1", detail).result(), http::status::ok);
    EXPECT_FALSE(board.get());
    EXPECT_EQ(render_status_page(status_inputs{.pki = *lab.pki, .store = *store, .base_url = "x", .scep_path = "/scep"})
                  .find("id=\"prompt\""),
              std::string::npos);
}

TEST(admin_api_unit, tokens_are_random_and_compared_whole) {
    auto store = make_memory_store();
    const std::string token = make_admin_token();
    EXPECT_EQ(token.size(), 64u);
    EXPECT_NE(token, make_admin_token());
    admin_api api(*store, {token, false, ""});
    std::string detail;
    for (const std::string& t : {token.substr(0, 63), token + "0", std::string(64, '0'), std::string()})
        EXPECT_EQ(api.handle(get("/admin/api/certificates", t), "127.0.0.1", detail).result(), http::status::unauthorized)
            << t;
    EXPECT_EQ(detail.find(token), std::string::npos);  // the log line never carries the token
}

TEST(admin_api_unit, store_failures_answer_500_without_naming_files) {
    test::write_failing_store store;
    test::lab_fixture lab(1);
    auto cert = issuer(*lab.pki, {}, {}, system_clock_fn()).issue(*test::make_requester().csr);
    ASSERT_TRUE(cert);
    ASSERT_TRUE(store.insert(make_record(**cert)));
    store.fail_writes = true;
    const std::string token = make_admin_token();
    admin_api api(store, {token, false, ""});
    request req{http::verb::post, "/admin/api/certificates/" + serial_hex(**cert) + "/revoke", 11};
    req.set(http::field::authorization, "Bearer " + token);
    std::string detail;
    auto res = api.handle(req, "127.0.0.1", detail);
    EXPECT_EQ(res.result(), http::status::internal_server_error);
    EXPECT_EQ(res.body().find("/var/lib"), std::string::npos) << res.body();
    EXPECT_NE(res.body().find("see the server log"), std::string::npos) << res.body();
    EXPECT_NE(detail.find("database or disk is full"), std::string::npos) << detail;  // the log has it
}

}  // namespace
}  // namespace scep::server
