// The recorder behind the router: every SCEP exchange becomes a row with its
// decoded request, decision, reply and findings; flow findings need the
// client's history; retention bounds the log; the pages and JSON escape
// what clients chose and show no secret.
#include "server/inspector.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include <thread>

#include "pki/crypto/encoding.hpp"
#include "server/admin_api.hpp"
#include "server/metrics.hpp"
#include "server/quirks.hpp"
#include "server/router.hpp"
#include "server/transaction_pages.hpp"
#include "support/test_support.hpp"

namespace scep::server {
namespace {

namespace json = boost::json;

class inspector_test : public ::testing::Test {
protected:
    void SetUp() override {
        lab_.emplace(service_config{.challenge = "secret"});
        log_ = make_memory_transactions();
        inspector_.emplace(*log_, *lab_->service, inspector_config{.retention = 100, .max_der_bytes = 65536,
                                                                   .challenge_required = true},
                           &stats_, nullptr);
        admin_.emplace(*lab_->store, admin_settings_view{"0123456789abcdef0123", false, ""});
        admin_->set_inspector(&*inspector_);
        router_.emplace(router_parts{.service = *lab_->service, .scep_paths = {"/scep"}, .stats = &stats_,
                                     .admin = &*admin_, .inspect = &*inspector_});
    }
    response call(const std::string& target, http::verb verb = http::verb::get, std::string body = {},
                  const std::string& client = "192.0.2.10", std::string content_type = "application/x-pki-message",
                  std::string token = {}) {
        request req{verb, target, 11};
        req.set(http::field::host, "lab.test");
        req.set(http::field::user_agent, "unit-test-client/1.0");
        if (verb == http::verb::post) req.set(http::field::content_type, content_type);
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        req.body() = std::move(body);
        req.prepare_payload();
        request_record rec;
        return router_->handle(req, client, rec);
    }
    response enroll(const test::requester& dev, const std::string& txid, const std::string& client = "192.0.2.10") {
        auto der = test::make_pkcs_req(dev, lab_->pki->ra_cert(), txid, bytes(16, 1));
        return call("/scep?operation=PKIOperation", http::verb::post, std::string(der.begin(), der.end()), client);
    }
    transaction_record newest() {
        inspector_->flush();
        auto page = log_->search({});
        EXPECT_TRUE(page && !page->items.empty());
        auto full = log_->find(page->items.front().id);
        return **full;
    }
    json::object detail(const transaction_record& t) { return json::parse(t.detail).as_object(); }

    std::optional<test::service_lab> lab_;
    std::unique_ptr<transaction_store> log_;
    metrics stats_;
    std::optional<inspector> inspector_;
    std::optional<admin_api> admin_;
    std::optional<router> router_;
};

TEST_F(inspector_test, a_clean_enrollment_is_recorded_as_one_story_without_findings) {
    call("/scep?operation=GetCACaps");
    call("/scep?operation=GetCACert");
    auto dev = test::make_requester({.challenge = "secret"});
    ASSERT_EQ(enroll(dev, "STORY-1").result(), http::status::ok);
    auto t = newest();
    EXPECT_EQ(t.operation, "PKIOperation");
    EXPECT_EQ(t.message_type, "PKCSReq");
    EXPECT_EQ(t.transaction_id, "STORY-1");
    EXPECT_EQ(t.pki_status, "SUCCESS");
    EXPECT_FALSE(t.serial.empty());
    EXPECT_EQ(t.findings, "");
    EXPECT_EQ(t.user_agent, "unit-test-client/1.0");
    EXPECT_EQ(t.client, "192.0.2.10");
    EXPECT_FALSE(t.request_der.empty());
    EXPECT_FALSE(t.reply_der.empty());
    auto d = detail(t);
    EXPECT_EQ(d["challenge"].as_string(), "accepted");
    EXPECT_EQ(d["request"].as_object().at("csr").as_object().at("challenge").as_string(), "PrintableString");
    EXPECT_FALSE(d.contains("reply"));  // decoded when read, from the kept bytes
    auto shown = transaction_json(*log_, t);
    EXPECT_EQ(shown["detail"].as_object()["reply"].as_object().at("pki_status").as_string(), "SUCCESS");
    EXPECT_EQ(shown["detail"].as_object()["reply"].as_object().at("transaction_id").as_string(), "STORY-1");
    // The challenge value is nowhere in what is stored as text.
    EXPECT_EQ(t.detail.find("secret"), std::string::npos);
    auto full = transaction_json(*log_, t);
    auto story = full["story"].as_array();
    ASSERT_EQ(story.size(), 3u);
    EXPECT_EQ(story[0].as_object().at("operation").as_string(), "GetCACaps");
    EXPECT_EQ(story[1].as_object().at("operation").as_string(), "GetCACert");
    EXPECT_EQ(story[2].as_object().at("operation").as_string(), "PKIOperation");
    // The next enrollment of the same client is another story.
    call("/scep?operation=GetCACaps");
    enroll(test::make_requester({.challenge = "secret"}), "STORY-2");
    auto second = transaction_json(*log_, newest());
    EXPECT_EQ(second["story"].as_array().size(), 2u);
}

TEST_F(inspector_test, flow_and_transport_findings_need_the_clients_history) {
    auto dev = test::make_requester({.challenge = "secret"});
    enroll(dev, "NO-CAPS", "192.0.2.20");
    EXPECT_NE(newest().findings.find("flow.no-getcacaps"), std::string::npos);
    // Another client's GetCACaps does not count for this one.
    call("/scep?operation=GetCACaps", http::verb::get, {}, "192.0.2.21");
    enroll(test::make_requester({.challenge = "secret"}), "NO-CAPS-2", "192.0.2.20");
    EXPECT_NE(newest().findings.find("flow.no-getcacaps"), std::string::npos);
    call("/scep?operation=GetCACaps", http::verb::get, {}, "192.0.2.20");
    enroll(test::make_requester({.challenge = "secret"}), "CAPS", "192.0.2.20");
    EXPECT_EQ(newest().findings.find("flow.no-getcacaps"), std::string::npos);
    // GET with raw base64 although POST is advertised; POST with another content type.
    auto der = test::make_pkcs_req(test::make_requester({.challenge = "secret"}), lab_->pki->ra_cert(), "GET-1",
                                   bytes(16, 2));
    call("/scep?operation=PKIOperation&message=" + base64_encode(der), http::verb::get, {}, "192.0.2.20");
    auto t = newest();
    EXPECT_NE(t.findings.find("http.get-despite-post"), std::string::npos) << t.findings;
    EXPECT_EQ(t.method, "GET");
    call("/scep?operation=PKIOperation", http::verb::post, base64_encode(der), "192.0.2.20", "text/plain");
    t = newest();
    EXPECT_NE(t.findings.find("http.post-base64"), std::string::npos) << t.findings;
    EXPECT_NE(t.findings.find("http.post-content-type"), std::string::npos) << t.findings;
    EXPECT_EQ(t.severity, "warning");
    // Metrics count findings by ID.
    auto text = stats_.render(*lab_->store);
    EXPECT_NE(text.find("scep_lab_findings_total{finding=\"flow.no-getcacaps\"} 2"), std::string::npos) << text;
}

TEST_F(inspector_test, requests_are_judged_by_the_capabilities_that_client_was_sent) {
    // The client got an empty GetCACaps (a caps-empty fault, a proxy): GET is
    // the right fallback, whatever the configuration advertises.
    auto log = make_memory_transactions();
    inspector rec(*log, *lab_->service, inspector_config{}, nullptr, nullptr);
    auto der = test::make_pkcs_req(test::make_requester({.challenge = "secret"}), lab_->pki->ra_cert(), "AS-TOLD",
                                   bytes(16, 4));
    auto exchange = [&](const std::string& client, const std::string& operation, const std::string& method,
                        std::string reply) {
        scep_exchange x;
        x.client = client;
        x.method = method;
        x.operation = operation;
        x.http_status = 200;
        x.reply_body = std::move(reply);
        x.reply_content_type = "text/plain";
        if (operation == "PKIOperation") x.request_der = der, x.query_length = 1000;
        rec.record(std::move(x));
        rec.flush();
        auto page = log->search({});
        return page->items.front().findings;
    };
    exchange("192.0.2.60", "GetCACaps", "GET", "");
    auto findings = exchange("192.0.2.60", "PKIOperation", "GET", "");
    EXPECT_EQ(findings.find("http.get-despite-post"), std::string::npos) << findings;
    EXPECT_EQ(findings.find("flow.no-getcacaps"), std::string::npos) << findings;
    // Sent POSTPKIOperation (in any case): GET is a warning.
    exchange("192.0.2.61", "GetCACaps", "GET", "postpkioperation\r\nsha-256\r\naes\r\n");
    findings = exchange("192.0.2.61", "PKIOperation", "GET", "");
    EXPECT_NE(findings.find("http.get-despite-post"), std::string::npos) << findings;
    // Sent only DES3 and SHA-1: the AES-128/SHA-256 request used what it was not sent.
    exchange("192.0.2.62", "GetCACaps", "GET", "DES3\nSHA-1\n");
    findings = exchange("192.0.2.62", "PKIOperation", "POST", "");
    EXPECT_NE(findings.find("envelope.cipher-not-advertised"), std::string::npos) << findings;
    EXPECT_NE(findings.find("digest.not-advertised"), std::string::npos) << findings;
}

TEST_F(inspector_test, a_story_that_stops_after_getcacert_is_named_with_what_the_client_was_sent) {
    auto log = make_memory_transactions();
    inspector rec(*log, *lab_->service, inspector_config{.stopped_after = std::chrono::milliseconds(200)}, nullptr,
                  nullptr);
    auto exchange = [&](const std::string& client, const std::string& operation, int status, std::string reply,
                        std::string content_type) {
        scep_exchange x;
        x.client = client;
        x.method = "GET";
        x.operation = operation;
        x.http_status = status;
        x.reply_body = std::move(reply);
        x.reply_content_type = std::move(content_type);
        rec.record(std::move(x));
    };
    // The RA signed by a CA that is not in the reply (getcacert-other-ra's shape).
    test::lab_fixture other(2);
    const bytes p7v = build_degenerate({&other.pki->ra_cert(), lab_->pki->issuing().cert.get()});
    const bytes* p7 = &p7v;
    exchange("192.0.2.70", "GetCACaps", 200, "POSTPKIOperation\nSHA-256\nAES\n", "text/plain");
    exchange("192.0.2.70", "GetCACert", 200, std::string(p7->begin(), p7->end()), "application/x-x509-ca-ra-cert");
    // A client that goes on is not flagged; one whose GetCACaps was refused is.
    exchange("192.0.2.71", "GetCACert", 200, std::string(p7->begin(), p7->end()), "application/x-x509-ca-ra-cert");
    exchange("192.0.2.71", "GetNextCACert", 200, "", "text/plain");
    exchange("192.0.2.72", "GetCACaps", 503, "", "text/plain");
    rec.flush();
    // Not yet quiet long enough: nothing.
    auto before = log->search({.finding = "flow.stopped-after-getcacert"});
    EXPECT_EQ(before->total, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    rec.flush();
    auto stopped = log->search({.finding = "flow.stopped-after-getcacert"});
    ASSERT_EQ(stopped->total, 1);
    EXPECT_EQ(stopped->items[0].client, "192.0.2.70");
    EXPECT_EQ(stopped->items[0].operation, "GetCACert");
    EXPECT_EQ(stopped->items[0].severity, "warning");
    auto row = log->find(stopped->items[0].id);
    const auto row_detail = json::parse((*row)->detail);
    const auto& found = row_detail.at("findings").as_array();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].at("id").as_string(), "flow.stopped-after-getcacert");
    EXPECT_NE(std::string(found[0].at("detail").as_string()).find("was not issued by a CA in the reply"), std::string::npos)
        << (*row)->detail;
    auto caps = log->search({.finding = "flow.stopped-after-getcacaps"});
    ASSERT_EQ(caps->total, 1);
    EXPECT_EQ(caps->items[0].client, "192.0.2.72");
    // Raised once: another read adds nothing.
    rec.flush();
    EXPECT_EQ(log->search({.severity = "warning"})->total, 2);
}

TEST_F(inspector_test, refusals_before_decoding_and_failures_are_recorded_with_their_reason) {
    call("/scep?operation=PKIOperation", http::verb::post, "this is not base64 !!!");
    auto t = newest();
    EXPECT_EQ(t.http_status, 400);
    EXPECT_NE(t.findings.find("http.not-pkimessage"), std::string::npos);
    EXPECT_NE(t.reason.find("neither DER nor base64"), std::string::npos) << t.reason;
    EXPECT_EQ(t.severity, "error");
    // A wrong challenge: FAILURE badMessageCheck with the reason and the finding.
    enroll(test::make_requester({.challenge = "wrong"}), "WRONG-1");
    t = newest();
    EXPECT_EQ(t.pki_status, "FAILURE");
    EXPECT_EQ(t.fail_info, "badMessageCheck");
    EXPECT_FALSE(t.reason.empty());
    EXPECT_NE(t.findings.find("challenge.wrong"), std::string::npos);
    EXPECT_EQ(detail(t)["challenge"].as_string(), "refused");
    // The filters find it.
    inspector_->flush();
    auto failed = log_->search({.status = "FAILURE"});
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->total, 1);
    auto by_finding = log_->search({.finding = "challenge.wrong"});
    EXPECT_EQ(by_finding->total, 1);
    auto errors = log_->search({.severity = "error"});
    EXPECT_EQ(errors->total, 2);
}

TEST_F(inspector_test, retention_keeps_the_newest_rows) {
    for (int i = 0; i < 300; ++i) call("/scep?operation=GetCACaps");
    inspector_->flush();
    auto n = log_->count();
    ASSERT_TRUE(n);
    EXPECT_LE(*n, 100 + 256);  // pruned after each written batch of 64 or more
    EXPECT_GE(*n, 100);
    auto page = log_->search({.limit = 1});
    EXPECT_EQ(page->items.front().id, 300);  // the newest is kept
}

TEST_F(inspector_test, pages_and_api_show_decoded_fields_escape_client_text_and_guard_the_der) {
    call("/scep?operation=GetCACaps");
    auto dev = test::make_requester({.subject = "CN=<script>alert(1)</script>,O=x", .challenge = "wrong"});
    enroll(dev, "<b>TX</b>");
    auto t = newest();
    const std::string id = std::to_string(t.id);
    auto page = call("/transactions/" + id);
    ASSERT_EQ(page.result(), http::status::ok);
    EXPECT_EQ(page.body().find("<script>alert"), std::string::npos);
    EXPECT_NE(page.body().find("&lt;script"), std::string::npos);
    EXPECT_NE(page.body().find("badMessageCheck"), std::string::npos);
    EXPECT_NE(page.body().find("challenge.wrong"), std::string::npos);
    EXPECT_NE(page["Content-Security-Policy"].find("default-src 'self'"), std::string::npos);
    auto list = call("/transactions.json?status=FAILURE");
    ASSERT_EQ(list.result(), http::status::ok) << list.body();
    auto items = json::parse(list.body()).as_object()["items"].as_array();
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].as_object().at("transaction_id").as_string(), "<b>TX</b>");  // JSON keeps it, as data
    EXPECT_EQ(call("/transactions.json?finding=no.such").result(), http::status::bad_request);
    EXPECT_EQ(call("/transactions.json?limit=0").result(), http::status::bad_request);
    EXPECT_EQ(call("/transactions.json?colour=red").result(), http::status::bad_request);
    EXPECT_EQ(call("/transactions/999999").result(), http::status::not_found);
    EXPECT_EQ(call("/transactions/-1").result(), http::status::not_found);
    EXPECT_EQ(call("/transactions/1x").result(), http::status::not_found);
    EXPECT_EQ(call("/transactions", http::verb::delete_).result(), http::status::method_not_allowed);
    EXPECT_EQ(call("/transactions").result(), http::status::ok);
    EXPECT_EQ(call("/transactions.js").result(), http::status::ok);
    // The DER needs the token; with it, the bytes are the request as received.
    EXPECT_EQ(call("/admin/api/transactions/" + id + "/request.der", http::verb::get, {}, "127.0.0.1").result(),
              http::status::unauthorized);
    auto der = call("/admin/api/transactions/" + id + "/request.der", http::verb::get, {}, "127.0.0.1", {},
                    "0123456789abcdef0123");
    ASSERT_EQ(der.result(), http::status::ok) << der.body();
    EXPECT_EQ(bytes(der.body().begin(), der.body().end()), t.request_der);
    auto api = call("/admin/api/transactions?finding=challenge.wrong", http::verb::get, {}, "127.0.0.1", {},
                    "0123456789abcdef0123");
    ASSERT_EQ(api.result(), http::status::ok) << api.body();
    EXPECT_EQ(json::parse(api.body()).as_object()["total"].as_int64(), 1);
    auto one = call("/admin/api/transactions/" + id, http::verb::get, {}, "127.0.0.1", {}, "0123456789abcdef0123");
    ASSERT_EQ(one.result(), http::status::ok);
    EXPECT_TRUE(json::parse(one.body()).as_object()["request_der_kept"].as_bool());
    EXPECT_EQ(call("/admin/api/transactions/" + id + "/key.pem", http::verb::get, {}, "127.0.0.1", {},
                   "0123456789abcdef0123")
                  .result(),
              http::status::not_found);
}

TEST_F(inspector_test, a_request_refused_for_its_url_length_is_recorded) {
    config::quirk_settings q;
    q.max_query_bytes = 2048;  // IIS maxQueryString
    quirk_gate gate(q);
    router r(router_parts{.service = *lab_->service, .scep_paths = {"/scep"}, .quirks = &gate, .inspect = &*inspector_});
    auto der = test::make_pkcs_req(test::make_requester({.challenge = "secret"}), lab_->pki->ra_cert(), "LONG",
                                   bytes(16, 3));
    request req{http::verb::get, "/scep?operation=PKIOperation&message=" + percent_encode(base64_encode(der)), 11};
    req.set(http::field::host, "lab.test");
    request_record rec;
    auto res = r.handle(req, "192.0.2.60", rec);
    EXPECT_GE(res.result_int(), 400u);
    auto t = newest();
    EXPECT_EQ(t.operation, "PKIOperation");
    EXPECT_EQ(t.http_status, static_cast<int>(res.result_int()));
    EXPECT_NE(t.findings.find("http.get-too-long"), std::string::npos) << t.findings;
    EXPECT_FALSE(t.reason.empty());
}

TEST_F(inspector_test, client_chosen_headers_are_cut_and_stripped_of_control_characters) {
    request req{http::verb::get, "/scep/\x1b[2J?operation=GetCACaps", 11};
    req.set(http::field::host, "lab.test");
    req.set(http::field::user_agent, "evil\x1b]0;owned\x07" + std::string(1000, 'u'));
    request_record rec;
    ASSERT_EQ(router_->handle(req, "192.0.2.50", rec).result(), http::status::ok);
    auto t = newest();
    EXPECT_EQ(t.user_agent.find('\x1b'), std::string::npos);
    EXPECT_EQ(t.user_agent.find('\x07'), std::string::npos);
    EXPECT_LE(t.user_agent.size(), 259u);
    EXPECT_EQ(t.path.find('\x1b'), std::string::npos);
    EXPECT_EQ(t.detail.find("\\u001b"), std::string::npos);  // not even JSON-escaped
}

TEST_F(inspector_test, a_failing_log_does_not_affect_the_exchange) {
    // A log whose writes fail: the client still gets its certificate.
    class failing_log : public transaction_store {
    public:
        result<std::int64_t> add(const transaction_record&) override { return make_error("disk full"); }
        result<transaction_page> search(const transaction_query&) override { return make_error("disk full"); }
        result<std::optional<transaction_record>> find(std::int64_t) override { return make_error("disk full"); }
        result<bool> update_findings(std::int64_t, const std::string&, const std::string&, const std::string&) override {
            return make_error("disk full");
        }
        result<std::int64_t> prune(std::size_t) override { return make_error("disk full"); }
        result<std::int64_t> count() override { return make_error("disk full"); }
    } broken;
    std::vector<std::string> warnings;
    inspector failing(broken, *lab_->service, inspector_config{}, nullptr,
                      [&](const std::string& m) { warnings.push_back(m); });
    router r(router_parts{.service = *lab_->service, .scep_paths = {"/scep"}, .inspect = &failing});
    auto dev = test::make_requester({.challenge = "secret"});
    for (int i = 0; i < 2; ++i) {
        auto der = test::make_pkcs_req(dev, lab_->pki->ra_cert(), "BROKEN-LOG", bytes(16, 1));
        request req{http::verb::post, "/scep?operation=PKIOperation", 11};
        req.set(http::field::host, "lab.test");
        req.body().assign(der.begin(), der.end());
        req.prepare_payload();
        request_record rec;
        auto res = r.handle(req, "192.0.2.30", rec);
        ASSERT_EQ(res.result(), http::status::ok);
        EXPECT_EQ(rec.scep.status, pki_status::success);
    }
    failing.flush();
    ASSERT_EQ(warnings.size(), 1u);  // said once, not per request
    EXPECT_NE(warnings[0].find("disk full"), std::string::npos);
    request req{http::verb::get, "/transactions.json", 11};
    req.set(http::field::host, "lab.test");
    request_record rec;
    auto res = r.handle(req, "192.0.2.30", rec);
    EXPECT_EQ(res.result(), http::status::internal_server_error);
    EXPECT_EQ(res.body().find("disk full"), std::string::npos);  // details go to the log only
}

TEST(transaction_store_test, sqlite_log_filters_finds_and_prunes) {
    test::temp_dir dir;
    auto opened = open_sqlite_transactions(dir.path() / "transactions.db");
    ASSERT_TRUE(opened) << opened.message();
    auto& log = **opened;
    for (int i = 1; i <= 10; ++i) {
        transaction_record t;
        t.time = now_iso8601_millis();
        t.client = i % 2 ? "192.0.2.1" : "192.0.2.2";
        t.operation = "PKIOperation";
        t.pki_status = i % 3 ? "SUCCESS" : "FAILURE";
        t.findings = i == 5 ? "digest.sha1 envelope.des3" : "";
        t.severity = i == 5 ? "warning" : "";
        t.transaction_id = "T" + std::to_string(i);
        t.request_der = bytes{0x30, 0x00, static_cast<std::uint8_t>(i)};
        auto id = log.add(t);
        ASSERT_TRUE(id) << id.message();
        EXPECT_EQ(*id, i);
    }
    EXPECT_EQ(log.search({.client = "192.0.2.1"})->total, 5);
    EXPECT_EQ(log.search({.status = "FAILURE"})->total, 3);
    EXPECT_EQ(log.search({.finding = "envelope.des3"})->total, 1);
    EXPECT_EQ(log.search({.finding = "envelope"})->total, 0);  // whole IDs only
    EXPECT_EQ(log.search({.finding = "%"})->total, 0);         // LIKE wildcards are literal
    EXPECT_EQ(log.search({.severity = "note"})->total, 1);
    EXPECT_EQ(log.search({.severity = "error"})->total, 0);
    EXPECT_EQ(log.search({.limit = 3})->items.size(), 3u);
    EXPECT_EQ(log.search({.limit = 3})->items.front().id, 10);
    auto one = log.find(4);
    ASSERT_TRUE(one && *one);
    EXPECT_EQ((*one)->request_der, (bytes{0x30, 0x00, 4}));
    EXPECT_EQ(*log.prune(4), 6);
    EXPECT_EQ(*log.count(), 4);
    EXPECT_FALSE(*log.find(6));
    EXPECT_TRUE(*log.find(7));
    // Reopening keeps the rows and continues the ids.
    opened->reset();
    auto again = open_sqlite_transactions(dir.path() / "transactions.db");
    ASSERT_TRUE(again);
    EXPECT_EQ(*(*again)->count(), 4);
    EXPECT_EQ(*(*again)->add(transaction_record{}), 11);
    // A file that is not a database is refused with its name, and left alone.
    ASSERT_TRUE(write_file(dir.path() / "bad.db", std::string(4096, 'x'), true));
    auto bad = open_sqlite_transactions(dir.path() / "bad.db");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("bad.db"), std::string::npos);
}

// The device column (the inspector naming the device) is added to a log
// written before it; old rows read as no device, and the filter works.
TEST(transaction_store_test, a_log_from_before_the_device_column_gets_it) {
    test::temp_dir dir;
    const auto file = dir.path() / "transactions.db";
    {
        auto opened = open_sqlite_transactions(file);
        ASSERT_TRUE(opened) << opened.message();
        transaction_record t;
        t.operation = "PKIOperation";
        ASSERT_TRUE((*opened)->add(t));
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "ALTER TABLE transactions DROP COLUMN device", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto reopened = open_sqlite_transactions(file);
    ASSERT_TRUE(reopened) << reopened.message();
    auto& log = **reopened;
    transaction_record ios;
    ios.operation = "PKIOperation";
    ios.device = "ios";
    ASSERT_TRUE(log.add(ios));
    EXPECT_EQ(log.search({})->total, 2);
    auto named = log.search({.device = "ios"});
    ASSERT_TRUE(named);
    ASSERT_EQ(named->total, 1);
    EXPECT_EQ(named->items.front().device, "ios");
    EXPECT_EQ(log.find(1)->value().device, "");
    EXPECT_FALSE(transaction_query_from({{"device", "nokia"}}));
    EXPECT_TRUE(transaction_query_from({{"device", "ios"}}));
}

TEST(transaction_query_test, parameters_are_checked) {
    EXPECT_TRUE(transaction_query_from({{"client", "192.0.2.1"}, {"limit", "5"}}));
    EXPECT_FALSE(transaction_query_from({{"limit", "0"}}));
    EXPECT_FALSE(transaction_query_from({{"limit", "1001"}}));
    EXPECT_FALSE(transaction_query_from({{"offset", "-1"}}));
    EXPECT_FALSE(transaction_query_from({{"severity", "fatal"}}));
    EXPECT_FALSE(transaction_query_from({{"finding", "made.up"}}));
    EXPECT_FALSE(transaction_query_from({{"client", std::string(300, 'a')}}));
    auto unknown = transaction_query_from({{"colour", "red"}});
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.message().find("colour"), std::string::npos);
}

// Hardening round two: max_der_bytes bounded the DER, but the decoded detail
// listed every extension (a 0.8 MB CSR with 90,000 extensions was a 3 MB row
// and a 4.3 MB page). Rows are bounded as a whole now.
TEST_F(inspector_test, a_request_with_thousands_of_extensions_is_a_bounded_row) {
    auto key = generate_key(key_type::rsa2048);
    const auto many = test::many_extensions(6000);
    auto dev = test::requester_with_key(std::move(*key), "CN=many-extensions", "secret");
    dev.csr = test::make_csr(*dev.key, "CN=many-extensions", many, "secret");
    enroll(dev, "MANY-EXT");
    auto t = newest();
    EXPECT_LE(t.detail.size(), 64u * 1024) << "detail of " << t.detail.size() << " bytes";
    EXPECT_NE(t.detail.find("more entries left out"), std::string::npos);
    json::error_code ec;
    (void)json::parse(t.detail, ec);
    EXPECT_FALSE(ec);
    auto page = call("/transactions/" + std::to_string(t.id));
    EXPECT_LT(page.body().size(), 256u * 1024) << "page of " << page.body().size() << " bytes";
}

// Issue 28: the list led with the sixth finding, showed a 78-digit
// transactionID whole and coloured an accepted cipher as an error.
TEST(transaction_pages, rows_lead_with_the_deciding_finding_and_shorten_long_ids) {
    std::vector<inspect::finding> found;
    inspect::raise(found, "flow.no-getcacaps");
    inspect::raise(found, "envelope.single-des");
    inspect::raise(found, "challenge.wrong");
    found[1].level = inspect::severity::warning;  // accepted by the server
    inspect::order_by_severity(found);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].id, "challenge.wrong");
    EXPECT_EQ(found[1].id, "flow.no-getcacaps");  // raised order kept among warnings
    EXPECT_EQ(found[2].id, "envelope.single-des");
    EXPECT_EQ(inspect::worst(found), inspect::severity::error);
    EXPECT_EQ(inspect::to_json(found).as_array()[2].as_object().at("severity"), "warning");

    const std::string txid(78, '7');
    boost::json::array items{boost::json::object{
        {"id", 42}, {"time", "2026-12-05T06:07:15.123Z"}, {"client", "127.0.0.1"}, {"method", "POST"},
        {"operation", "PKIOperation"}, {"message_type", "PKCSReq"}, {"transaction_id", txid}, {"pki_status", "SUCCESS"},
        {"fail_info", ""}, {"reason", "<b>r</b>"}, {"http_status", 200}, {"severity", "warning"},
        {"findings", boost::json::array{"envelope.single-des", "flow.no-getcacaps"}}}};
    const std::string row = render_transaction_rows(items);
    EXPECT_NE(row.find("<span title=\"" + txid + "\">77777777…777777</span>"), std::string::npos) << row;
    EXPECT_EQ(row.find(">" + txid + "<"), std::string::npos) << "the whole ID is only in the title";
    EXPECT_NE(row.find("class=\"answered\">SUCCESS</td>"), std::string::npos) << row;  // HTTP 200 left out
    EXPECT_NE(row.find("<span class=\"sev-warning\">envelope.single-des</span>"), std::string::npos)
        << "not coloured worse than its row: " << row;
    EXPECT_NE(row.find("&lt;b&gt;r&lt;/b&gt;"), std::string::npos) << "the reason is escaped";
    EXPECT_NE(row.find(">12-05 06:07:15<"), std::string::npos) << row;
    EXPECT_EQ(transaction_count_text(1234567, 200), "1,234,567 transactions match; showing 200.");
    EXPECT_EQ(transaction_count_text(1, 1), "1 transaction matches; showing 1.");
}

}  // namespace
}  // namespace scep::server
