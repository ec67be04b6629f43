// The webhook and NDES policy-module modes without a network: what is sent
// (both body formats, the HMAC headers), how answers are read (allow, deny
// with a reason, malformed, HTTP errors, transport failures), and, through
// the service, the policy module's HRESULT in the NDES FAILURE, GetTemplate
// choosing the template, Notify with the issued certificate, and no call for
// a retransmission.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "pki/crypto/encoding.hpp"
#include "pki/challenge/challenge_webhook.hpp"
#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

namespace json = boost::json;

// Records every POST and answers from a script (the last answer repeats).
struct fake_transport {
    std::vector<webhook_post> posts;
    std::vector<result<webhook_response>> answers;
    webhook_transport fn() {
        return [this](const webhook_post& p) -> result<webhook_response> {
            posts.push_back(p);
            if (answers.empty()) return make_error("connection refused");
            auto a = answers.front();
            if (answers.size() > 1) answers.erase(answers.begin());
            return a;
        };
    }
    json::object body(std::size_t i) const { return json::parse(posts.at(i).body).as_object(); }
    std::string header(std::size_t i, const std::string& name) const {
        for (const auto& [k, v] : posts.at(i).headers)
            if (k == name) return v;
        return {};
    }
};

result<webhook_response> ok(const std::string& body) { return webhook_response{200, body}; }

time_point fixed_now() { return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)); }

challenge_context context_for(const test::requester& dev, const std::string& challenge) {
    challenge_context ctx(challenge_attr{challenge, V_ASN1_PRINTABLESTRING});
    ctx.csr = dev.csr.get();
    ctx.client = "192.0.2.7";
    ctx.transaction_id = "tx-1";
    ctx.message_type = "PKCSReq";
    return ctx;
}

TEST(webhook, hmac_is_rfc_4231_hmac_sha256) {
    // RFC 4231 §4.3, test case 2.
    EXPECT_EQ(webhook_hmac_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(webhook, the_scep_lab_body_carries_the_request_and_is_signed) {
    auto dev = test::make_requester({.subject = "CN=dev-7,O=Org", .dns_names = {"dev-7.example"}});
    webhook_options o;
    o.secret = "k3y";
    o.bearer_token = "tok";
    auto p = challenge_call(o, context_for(dev, "pw"), fixed_now());
    ASSERT_TRUE(p) << p.message();
    auto b = json::parse(p->body).as_object();
    EXPECT_EQ(b.at("challenge").as_string(), "pw");
    EXPECT_EQ(b.at("transaction_id").as_string(), "tx-1");
    EXPECT_EQ(b.at("message_type").as_string(), "PKCSReq");
    EXPECT_EQ(b.at("subject").as_string(), "CN=dev-7,O=Org");
    EXPECT_EQ(json::serialize(b.at("sans")), R"(["DNS:dev-7.example"])");
    EXPECT_EQ(b.at("key_type").as_string(), "rsa");
    EXPECT_EQ(b.at("key_bits").as_int64(), 2048);
    EXPECT_EQ(b.at("client").as_string(), "192.0.2.7");
    EXPECT_EQ(b.at("timestamp").as_string(), "2027-01-15T08:00:00Z");
    EXPECT_EQ(std::string(b.at("csr").as_string()).rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0), 0u);
    fake_transport t;
    t.posts.push_back(*p);
    EXPECT_EQ(t.header(0, "X-Scep-Lab-Signature"), "sha256=" + webhook_hmac_hex("k3y", p->body));
    EXPECT_EQ(t.header(0, "Authorization"), "Bearer tok");
    EXPECT_EQ(t.header(0, "Content-Type"), "application/json");
}

TEST(webhook, the_step_ca_body_is_its_scepchallenge_request) {
    auto dev = test::make_requester({.subject = "CN=dev-8,OU=Fleet,O=Org,C=DE", .dns_names = {"dev-8.example"}});
    webhook_options o;
    o.body = webhook_options::format::step_ca;
    o.secret = base64_encode(bytes{'s', 'e', 'c', 'r', 'e', 't'});
    o.webhook_id = "wh-1";
    auto p = challenge_call(o, context_for(dev, "pw"), fixed_now());
    ASSERT_TRUE(p) << p.message();
    auto b = json::parse(p->body).as_object();
    EXPECT_EQ(b.at("scepChallenge").as_string(), "pw");
    EXPECT_EQ(b.at("scepTransactionID").as_string(), "tx-1");
    EXPECT_EQ(b.at("provisionerName").as_string(), "scep-lab");
    const auto& csr = b.at("x509CertificateRequest").as_object();
    EXPECT_EQ(csr.at("subject").at("commonName").as_string(), "dev-8");
    EXPECT_EQ(json::serialize(csr.at("subject").at("organizationalUnit")), R"(["Fleet"])");
    EXPECT_EQ(json::serialize(csr.at("subject").at("country")), R"(["DE"])");
    EXPECT_EQ(json::serialize(csr.at("dnsNames")), R"(["dev-8.example"])");
    EXPECT_EQ(csr.at("publicKeyAlgorithm").as_string(), "RSA");
    EXPECT_EQ(csr.at("signatureAlgorithm").as_string(), "SHA256-RSA");
    auto raw = base64_decode(std::string(csr.at("raw").as_string()));
    ASSERT_TRUE(raw);
    EXPECT_EQ(*raw, x509_req_to_der(*dev.csr));
    fake_transport t;
    t.posts.push_back(*p);
    // step-ca signs with the base64-decoded secret, hex, no prefix.
    EXPECT_EQ(t.header(0, "X-Smallstep-Signature"), webhook_hmac_hex("secret", p->body));
    EXPECT_EQ(t.header(0, "X-Smallstep-Webhook-ID"), "wh-1");
}

TEST(webhook, a_step_ca_secret_must_be_base64) {
    webhook_options o;
    o.body = webhook_options::format::step_ca;
    o.secret = "not base64 !!";
    auto made = webhook_challenges::make(o, [](const webhook_post&) { return ok("{}"); }, fixed_now);
    ASSERT_FALSE(made);
    EXPECT_NE(made.message().find("base64"), std::string::npos) << made.message();
}

TEST(webhook, answers_allow_deny_and_every_failure_are_told_apart) {
    using kind = challenge_refusal::kind;
    auto dev = test::make_requester();
    fake_transport t;
    auto hook = webhook_challenges::make(webhook_options{}, t.fn(), fixed_now);
    ASSERT_TRUE(hook);
    auto verdict = [&](result<webhook_response> answer) {
        t.answers = {std::move(answer)};
        return (*hook)->verify(context_for(dev, "pw"));
    };
    EXPECT_FALSE(verdict(ok(R"({"allow": true})")));
    auto deny = verdict(ok("{\"allow\": false, \"reason\": \"device\\u0007 not enrolled\"}"));
    ASSERT_TRUE(deny);
    EXPECT_EQ(deny->why, kind::denied);
    EXPECT_EQ(deny->text, "the challenge webhook denied the request: device  not enrolled");  // control character replaced
    auto bare = verdict(ok(R"({"allow": false})"));
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->text, "the challenge webhook denied the request");
    for (const auto& [answer, words] :
         std::vector<std::pair<result<webhook_response>, std::string>>{
             {ok("{\"allow\": maybe"), "not a JSON object"},
             {ok(R"({"allow": "yes"})"), "no boolean \"allow\""},
             {ok("[true]"), "not a JSON object"},
             {webhook_response{401, "bad signature"}, "HTTP 401: bad signature"},
             {webhook_response{500, ""}, "HTTP 500"},
             {make_error("POST http://127.0.0.1:9/: no answer within 500 ms (timed out)"), "timed out"},
             {make_error("POST http://127.0.0.1:9/: Connection refused"), "Connection refused"}}) {
        auto r = verdict(answer);
        ASSERT_TRUE(r) << words;
        EXPECT_EQ(r->why, kind::unavailable) << words;
        EXPECT_NE(r->text.find(words), std::string::npos) << r->text;
    }
    // No challenge: refused without a call.
    t.posts.clear();
    auto none = (*hook)->verify(challenge_context(std::nullopt));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->why, kind::missing);
    EXPECT_TRUE(t.posts.empty());
}

TEST(webhook, remote_text_is_cleaned_and_bounded) {
    EXPECT_EQ(clean_remote_text("a\nb\x1b[31mc"), "a b [31mc");
    EXPECT_EQ(clean_remote_text(std::string(500, 'x')).size(), 203u);
}

// The password GenerateChallenge answers is shown on the admin page and typed
// into devices: anything but 1-255 printable ASCII characters is refused, and
// so is an HRESULT or an answer that is not one.
TEST(ndes_policy, generatechallenge_answers_that_cannot_be_a_password_are_refused) {
    fake_transport t;
    ndes_policy_module module({}, t.fn(), fixed_now, nullptr);
    auto answer = [&](result<webhook_response> a) {
        t.answers = {std::move(a)};
        return module.generate_challenge("IPSECIntermediateOffline", "user=alice");
    };
    auto good = answer(ok(R"({"challenge": "A1b2-C3d4"})"));
    ASSERT_TRUE(good) << good.message();
    EXPECT_EQ(*good, "A1b2-C3d4");
    EXPECT_EQ(t.body(0).at("method"), "GenerateChallenge");
    EXPECT_EQ(t.body(0).at("template"), "IPSECIntermediateOffline");
    const std::string printable_refusal = "is not 1-255 printable characters";
    for (const std::string& body :
         {std::string(R"({"challenge": ""})"), R"({"challenge": ")" + std::string(256, 'x') + R"("})",
          std::string(R"({"challenge": "two words"})"), std::string(R"({"challenge": "tab\there"})"),
          std::string(R"({"challenge": "line\nbreak"})"), std::string(R"({"challenge": "esc\u001b[31m"})"),
          std::string(R"({"challenge": "caf\u00e9"})"), std::string(R"({"challenge": 1234})"),
          std::string(R"({"password": "x"})")}) {
        SCOPED_TRACE(body);
        auto r = answer(ok(body));
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(printable_refusal), std::string::npos) << r.message();
    }
    auto longest = answer(ok(R"({"challenge": ")" + std::string(255, 'x') + R"("})"));
    ASSERT_TRUE(longest) << longest.message();
    EXPECT_EQ(longest->size(), 255u);
    auto failed = answer(ok(R"({"hresult": "0x80070005"})"));
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.message().find("0x80070005"), std::string::npos) << failed.message();
    auto not_json = answer(ok("challenge=abc"));
    ASSERT_FALSE(not_json);
    auto down = answer(make_error("POST http://127.0.0.1:9/: Connection refused"));
    ASSERT_FALSE(down);
    EXPECT_NE(down.message().find("Connection refused"), std::string::npos) << down.message();
}

TEST(ndes_policy, hresults_are_read_in_hex_and_signed_or_unsigned_decimal) {
    EXPECT_EQ(parse_hresult("0x80070490"), 0x80070490u);
    EXPECT_EQ(parse_hresult("0X800B0110"), 0x800B0110u);
    EXPECT_EQ(parse_hresult("-2147023728"), 0x80070490u);
    EXPECT_EQ(parse_hresult("2147943568"), 0x80070490u);
    EXPECT_FALSE(parse_hresult("0x00000000"));  // S_OK is not a failure
    EXPECT_FALSE(parse_hresult("0x1FFFFFFFF"));
    EXPECT_FALSE(parse_hresult("0x8007049G"));
    EXPECT_FALSE(parse_hresult(""));
    EXPECT_FALSE(parse_hresult("12abc"));
}

// An NDES-mode service whose challenges go to a policy module on a fake transport.
struct policy_lab {
    explicit policy_lab(bool get_template) : lab(config(), spec()) {
        module.emplace(ndes_policy_module::options{"k", "", get_template, true}, t.fn(), fixed_now,
                       [this](const std::string& m) { logged.push_back(m); });
        lab.service.emplace(*lab.pki, *lab.iss, *lab.store, config(), system_clock_fn(), &*module);
    }
    static hierarchy_spec spec() {
        auto s = test::small_spec(2);
        s.ra.ndes_pair = true;
        return s;
    }
    static service_config config() {
        service_config cfg;
        cfg.ndes_replies = true;
        cfg.templates = test::ndes_template_slots("IntuneWiFi", std::chrono::hours(24 * 30));
        return cfg;
    }
    std::vector<std::uint8_t> request(const test::requester& dev, const std::string& txid) {
        return test::make_pkcs_req(dev, lab.pki->ra_encryption_cert(), txid, bytes(16, 5));
    }
    std::vector<std::string> methods() const {
        std::vector<std::string> out;
        for (const auto& p : t.posts) out.push_back(p.call);
        return out;
    }
    fake_transport t;
    std::vector<std::string> logged;
    std::optional<ndes_policy_module> module;
    test::service_lab lab;
};

TEST(ndes_policy, a_verifyrequest_hresult_is_the_ndes_failure_hresult_and_notify_reports_it) {
    policy_lab p(false);
    p.t.answers = {ok(R"({"hresult": "0x800B0110", "reason": "challenge expired"})"), ok("{}")};
    auto dev = test::make_requester({.challenge = "intune-blob"});
    auto r = p.lab.service->pki_operation(p.request(dev, "tx-hr"), "192.0.2.1");
    EXPECT_EQ(r.status, pki_status::failure);
    EXPECT_EQ(r.hresult_text(), "0x800B0110") << r.detail;
    EXPECT_NE(r.detail.find("VerifyRequest failed with 0x800B0110: challenge expired"), std::string::npos) << r.detail;
    EXPECT_EQ(r.ndes_event.id, 29);
    EXPECT_NE(r.ndes_event.text.find("0x800B0110"), std::string::npos) << r.ndes_event.text;
    ASSERT_EQ(p.methods(), (std::vector<std::string>{"VerifyRequest", "Notify"}));
    auto verify = p.t.body(0);
    EXPECT_EQ(verify.at("transaction_id").as_string(), "tx-hr");
    EXPECT_EQ(verify.at("template").as_string(), "IPSECIntermediateOffline");
    EXPECT_EQ(verify.at("challenge").as_string(), "intune-blob");
    EXPECT_TRUE(verify.at("signing_cert").is_null());  // a first enrollment, not a renewal
    auto req = base64_decode(std::string(verify.at("request").as_string()));
    ASSERT_TRUE(req);
    EXPECT_EQ(*req, x509_req_to_der(*dev.csr));
    EXPECT_EQ(p.t.header(0, "X-Scep-Lab-Signature"), "sha256=" + webhook_hmac_hex("k", p.t.posts[0].body));
    auto notify = p.t.body(1);
    EXPECT_EQ(notify.at("disposition").as_int64(), 2);
    EXPECT_EQ(notify.at("disposition_name").as_string(), "SCEPDispositionFailure");
    EXPECT_EQ(notify.at("last_hresult").as_string(), "0x800B0110");
    EXPECT_TRUE(notify.at("issued_cert").is_null());
    auto rows = p.lab.store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_TRUE(rows->empty());
}

TEST(ndes_policy, gettemplate_chooses_the_template_and_notify_carries_the_certificate) {
    policy_lab p(true);
    p.t.answers = {ok(R"({"template": "IntuneWiFi"})"), ok(R"({"verified": true})"), ok("{}")};
    auto dev = test::make_requester({.challenge = "intune-blob"});
    auto der = p.request(dev, "tx-ok");
    auto r = p.lab.service->pki_operation(der, "192.0.2.1");
    ASSERT_EQ(r.status, pki_status::success) << r.detail;
    ASSERT_EQ(p.methods(), (std::vector<std::string>{"GetTemplate", "VerifyRequest", "Notify"}));
    EXPECT_EQ(p.t.body(0).at("template").as_string(), "IPSECIntermediateOffline");  // NDES's choice, offered
    EXPECT_EQ(p.t.body(1).at("template").as_string(), "IntuneWiFi");               // the module's, verified
    auto notify = p.t.body(2);
    EXPECT_EQ(notify.at("disposition").as_int64(), 0);
    EXPECT_EQ(notify.at("last_hresult").as_string(), "0x00000000");
    auto cert_der = base64_decode(std::string(notify.at("issued_cert").as_string()));
    ASSERT_TRUE(cert_der);
    auto cert = x509_from_der(*cert_der);
    ASSERT_TRUE(cert);
    EXPECT_EQ(serial_hex(**cert), r.serial);
    // IntuneWiFi's 30 days, not the slot template's validity.
    auto days = std::chrono::duration_cast<std::chrono::hours>(asn1_time_point(*X509_get0_notAfter(cert->get())) -
                                                               std::chrono::system_clock::now())
                    .count() / 24;
    EXPECT_GE(days, 29);
    EXPECT_LE(days, 30);

    // The same transaction again (a client re-sending): answered from the store, no call.
    auto again = p.lab.service->pki_operation(der, "192.0.2.1");
    EXPECT_EQ(again.status, pki_status::success) << again.detail;
    EXPECT_EQ(p.t.posts.size(), 3u);
}

TEST(ndes_policy, an_unknown_template_unverified_and_unreachable_modules_fail_cleanly) {
    {
        policy_lab p(true);
        p.t.answers = {ok(R"({"template": "NoSuchTemplate"})"), ok("{}")};
        auto r = p.lab.service->pki_operation(p.request(test::make_requester({.challenge = "x"}), "tx-a"), "192.0.2.1");
        EXPECT_EQ(r.hresult_text(), "0x80094800") << r.detail;
        EXPECT_NE(r.detail.find("NoSuchTemplate"), std::string::npos) << r.detail;
    }
    {
        policy_lab p(false);
        p.t.answers = {ok(R"({"verified": false, "reason": "unknown device"})"), ok("{}")};
        auto r = p.lab.service->pki_operation(p.request(test::make_requester({.challenge = "x"}), "tx-b"), "192.0.2.1");
        EXPECT_EQ(r.status, pki_status::failure);
        EXPECT_EQ(r.hresult_text(), "0x80070490") << r.detail;  // NDES's "password cannot be verified"
        EXPECT_NE(r.detail.find("did not verify the request: unknown device"), std::string::npos) << r.detail;
    }
    {
        policy_lab p(false);  // no answers: every call fails to connect
        auto r = p.lab.service->pki_operation(p.request(test::make_requester({.challenge = "x"}), "tx-c"), "192.0.2.1");
        EXPECT_EQ(r.status, pki_status::failure);
        EXPECT_EQ(r.hresult_text(), "0x800706BA") << r.detail;
        EXPECT_NE(r.detail.find("connection refused"), std::string::npos) << r.detail;
        ASSERT_EQ(p.logged.size(), 1u);  // the Notify that could not be delivered
        EXPECT_NE(p.logged[0].find("Notify for tx-c failed"), std::string::npos) << p.logged[0];
    }
}

}  // namespace
}  // namespace scep
