// HTTP faults on SCEP answers through the router, the admin API that arms
// them, and what the inspector and the metrics say about them.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "pki/crypto/encoding.hpp"
#include "pki/scep/faults.hpp"
#include "server/admin_api.hpp"
#include "server/inspector.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "support/test_support.hpp"

namespace scep::server {
namespace {

namespace json = boost::json;
constexpr const char* token = "0123456789abcdef0123";

class http_fault_test : public ::testing::Test {
protected:
    void SetUp() override {
        lab_.emplace(service_config{.challenge = "secret"});
        lab_->service->set_faults(&plan_);
        log_ = make_memory_transactions();
        inspector_.emplace(*log_, *lab_->service, inspector_config{}, &stats_, nullptr);
        admin_.emplace(*lab_->store, admin_settings_view{token, false, ""});
        admin_->set_faults(&plan_);
        router_.emplace(router_parts{.service = *lab_->service, .scep_paths = {"/scep"}, .stats = &stats_,
                                     .admin = &*admin_, .inspect = &*inspector_, .faults = &plan_});
    }
    response call(const std::string& target, http::verb verb = http::verb::get, std::string body = {},
                  bool with_token = false) {
        request req{verb, target, 11};
        req.set(http::field::host, "lab.test");
        if (with_token) req.set(http::field::authorization, std::string("Bearer ") + token);
        if (verb == http::verb::post) req.set(http::field::content_type, "application/x-pki-message");
        req.body() = std::move(body);
        req.prepare_payload();
        request_record rec;
        auto res = router_->handle(req, "127.0.0.1", rec);
        last_detail_ = rec.detail;
        return res;
    }
    response arm(const std::string& rule) { return call("/admin/api/faults", http::verb::post, rule, true); }
    response enroll(const std::string& txid) {
        auto der = test::make_pkcs_req(dev_, lab_->pki->ra_cert(), txid, bytes(16, 4));
        return call("/scep?operation=PKIOperation", http::verb::post, std::string(der.begin(), der.end()));
    }

    std::optional<test::service_lab> lab_;
    fault_plan plan_;
    std::unique_ptr<transaction_store> log_;
    metrics stats_;
    std::optional<inspector> inspector_;
    std::optional<admin_api> admin_;
    std::optional<router> router_;
    test::requester dev_ = test::make_requester({.challenge = "secret"});
    std::string last_detail_;
};

TEST_F(http_fault_test, each_http_fault_changes_exactly_what_its_name_says) {
    const auto good = enroll("GOOD");
    ASSERT_EQ(good.result(), http::status::ok);
    const auto caps = call("/scep?operation=GetCACaps").body();

    ASSERT_EQ(arm(R"({"kind": "http-status", "status": 503, "retry_after": 30, "one_shot": true,
                      "when": {"operation": "GetCACaps"}})")
                  .result(),
              http::status::created);
    auto busy = call("/scep?operation=GetCACaps");
    EXPECT_EQ(busy.result(), http::status::service_unavailable);
    EXPECT_EQ(busy[http::field::retry_after], "30");
    EXPECT_NE(last_detail_.find("fault injected: http-status"), std::string::npos) << last_detail_;
    EXPECT_EQ(call("/scep?operation=GetCACaps").body(), caps);  // one-shot: gone

    ASSERT_EQ(arm(R"({"kind": "wrong-content-type", "one_shot": true})").result(), http::status::created);
    auto typed = call("/scep?operation=GetCACert");
    EXPECT_EQ(typed[http::field::content_type], "text/html; charset=utf-8");
    EXPECT_EQ(typed.body(), lab_->service->get_ca_cert().body);

    ASSERT_EQ(arm(R"({"kind": "empty-body", "one_shot": true, "when": {"operation": "PKIOperation"}})").result(),
              http::status::created);
    auto empty = enroll("EMPTY");
    EXPECT_EQ(empty.result(), http::status::ok);
    EXPECT_TRUE(empty.body().empty());
    EXPECT_EQ(empty[http::field::content_length], "0");

    ASSERT_EQ(arm(R"({"kind": "truncated-body", "one_shot": true, "when": {"operation": "GetCACert"}})").result(),
              http::status::created);
    auto cut = call("/scep?operation=GetCACert");
    EXPECT_EQ(cut.body().size(), lab_->service->get_ca_cert().body.size() / 2);
    EXPECT_EQ(cut[http::field::content_length], std::to_string(cut.body().size()));

    ASSERT_EQ(arm(R"({"kind": "base64-body", "one_shot": true, "when": {"operation": "GetCACert"}})").result(),
              http::status::created);
    auto text = call("/scep?operation=GetCACert");
    auto decoded = base64_decode(text.body());
    ASSERT_TRUE(decoded);
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), lab_->service->get_ca_cert().body);

    ASSERT_EQ(arm(R"({"kind": "trailing-garbage", "one_shot": true, "when": {"operation": "GetCACert"}})").result(),
              http::status::created);
    auto tail = call("/scep?operation=GetCACert");
    const auto& body = lab_->service->get_ca_cert().body;
    ASSERT_EQ(tail.body().size(), body.size() + 16);
    EXPECT_EQ(tail.body().substr(0, body.size()), body);
    EXPECT_EQ(tail.body().substr(body.size()), std::string(16, '\xa5'));

    // Requests no rule selected were answered correctly throughout.
    EXPECT_EQ(call("/scep?operation=GetCACert").body(), body);
    auto text_metrics = stats_.render(*lab_->store);
    EXPECT_NE(text_metrics.find("scep_lab_faults_total{kind=\"trailing-garbage\"} 1"), std::string::npos);
}

TEST_F(http_fault_test, redirect_caps_and_getcacert_faults_and_the_redirect_target) {
    // Armed without a status: the answer shows the kind's default.
    auto armed = arm(R"({"kind": "redirect", "one_shot": true, "when": {"operation": "GetCACert"}})");
    ASSERT_EQ(armed.result(), http::status::created);
    EXPECT_EQ(json::parse(armed.body()).as_object().at("status").as_int64(), 302);
    auto moved = call("/scep?operation=GetCACert");
    EXPECT_EQ(moved.result_int(), 302);
    EXPECT_EQ(moved[http::field::location], "/scep-lab-redirect/scep?operation=GetCACert");
    // The target answers as the path it names, also once the rule is gone.
    auto followed = call("/scep-lab-redirect/scep?operation=GetCACert");
    EXPECT_EQ(followed.result(), http::status::ok);
    EXPECT_EQ(followed.body(), lab_->service->get_ca_cert().body);
    EXPECT_EQ(call("/scep-lab-redirect/admin/api/faults").result(), http::status::not_found);
    // caps-lowercase waits for a GetCACaps: a GetCACert does not use it up.
    const auto caps = call("/scep?operation=GetCACaps").body();
    ASSERT_EQ(arm(R"({"kind": "caps-lowercase", "one_shot": true})").result(), http::status::created);
    EXPECT_EQ(call("/scep?operation=GetCACert").body(), lab_->service->get_ca_cert().body);
    auto lower = call("/scep?operation=GetCACaps").body();
    std::string expected = caps;
    for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lower, expected);
    // Transport faults are asked of the session, not done by the router.
    ASSERT_EQ(arm(R"({"kind": "connection-reset", "one_shot": true})").result(), http::status::created);
    request req{http::verb::get, "/scep?operation=GetCACaps", 11};
    req.set(http::field::host, "lab.test");
    request_record rec;
    (void)router_->handle(req, "127.0.0.1", rec);
    EXPECT_EQ(rec.transport, request_record::wire::reset);
}

TEST_F(http_fault_test, certrep_faults_armed_through_the_api_reach_the_transaction) {
    ASSERT_EQ(arm(R"({"kind": "wrong-recipient-nonce", "when": {"transaction_id": "ONLY-THIS"}})").result(),
              http::status::created);
    ASSERT_EQ(enroll("OTHER").result(), http::status::ok);
    inspector_->flush();
    auto other = log_->search({.transaction_id = "OTHER"});
    ASSERT_EQ(other->items.size(), 1u);
    EXPECT_EQ(log_->find(other->items[0].id).value()->detail.find("fault_injected"), std::string::npos);
    ASSERT_EQ(enroll("ONLY-THIS").result(), http::status::ok);
    EXPECT_NE(last_detail_.find("fault injected: wrong-recipient-nonce (f1)"), std::string::npos) << last_detail_;
    inspector_->flush();
    auto hit = log_->search({.transaction_id = "ONLY-THIS"});
    ASSERT_EQ(hit->items.size(), 1u);
    auto detail = json::parse(log_->find(hit->items[0].id).value()->detail).as_object();
    EXPECT_EQ(detail["decision"].as_object()["fault_injected"].as_string(), "wrong-recipient-nonce (f1)");
    auto page = call("/transactions/" + std::to_string(hit->items[0].id));
    EXPECT_NE(page.body().find("id=\"fault\""), std::string::npos);
    EXPECT_NE(page.body().find("wrong-recipient-nonce (f1)"), std::string::npos);
    auto listed = json::parse(call("/admin/api/faults", http::verb::get, {}, true).body()).as_object();
    ASSERT_EQ(listed["faults"].as_array().size(), 1u);
    EXPECT_EQ(listed["faults"].as_array()[0].as_object().at("fired").to_number<std::uint64_t>(), 1u);
    EXPECT_EQ(listed["faults"].as_array()[0].as_object().at("matched").to_number<std::uint64_t>(), 1u);
    EXPECT_GE(listed["kinds"].as_array().size(), 13u);
    EXPECT_EQ(call("/admin/api/faults/f1", http::verb::delete_, {}, true).result(), http::status::ok);
    EXPECT_EQ(call("/admin/api/faults/f1", http::verb::delete_, {}, true).result(), http::status::not_found);
}

TEST_F(http_fault_test, bad_rules_are_refused_with_the_field_named) {
    struct bad_case {
        const char* body;
        const char* says;
    };
    for (const auto& c : std::vector<bad_case>{
             {R"({"kind": "no-such"})", "unknown fault kind"},
             {R"({"when": {}})", "kind is required"},
             {R"({"kind": "empty-body", "colour": "red"})", "colour"},
             {R"({"kind": "empty-body", "when": {"subject": "([x"}})", "regular expression"},
             {R"({"kind": "empty-body", "when": {"first": -1}})", "when.first"},
             {R"({"kind": "empty-body", "when": {"probability": 2}})", "probability"},
             {R"({"kind": "empty-body", "when": {"planet": "mars"}})", "when.planet"},
             {R"({"kind": "http-status", "status": 200})", "400 to 599"},
             {R"({"kind": "empty-body", "one_shot": "yes"})", "one_shot"},
             {R"([1, 2])", "JSON object"},
             {"not json", "not JSON"},
         }) {
        SCOPED_TRACE(c.body);
        auto res = arm(c.body);
        EXPECT_EQ(res.result(), http::status::bad_request);
        EXPECT_NE(res.body().find(c.says), std::string::npos) << res.body();
    }
    EXPECT_TRUE(plan_.rules().empty());
    EXPECT_EQ(call("/admin/api/faults", http::verb::get).result(), http::status::unauthorized);
    EXPECT_EQ(call("/admin/api/faults", http::verb::put, "{}", true).result(), http::status::method_not_allowed);
    // The server still answers correctly.
    EXPECT_EQ(enroll("AFTER").result(), http::status::ok);
}

}  // namespace
}  // namespace scep::server
