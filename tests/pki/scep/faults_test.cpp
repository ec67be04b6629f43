// Fault rules: which requests they select, and what each CertRep fault puts
// on the wire (read back with the client-side parser and the inspector's
// reply decoder; tests/integration/faults_test.sh reads them with openssl).
#include "pki/scep/faults.hpp"

#include <gtest/gtest.h>

#include "pki/inspect/analysis.hpp"
#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

fault_request pki_op(std::string_view message_type = "PKCSReq", std::string_view txid = "T",
                     std::string_view client = "192.0.2.1", std::string_view subject = "CN=dev-1") {
    return {"PKIOperation", message_type, txid, client, subject};
}

TEST(fault_plan, selects_by_every_field_and_counts) {
    fault_plan plan;
    fault_rule r;
    r.kind = fault_kind::wrong_recipient_nonce;
    r.when.message_type = "CertPoll";
    r.when.client = "192.0.2.1";
    r.when.subject = "^CN=dev-";
    auto id = plan.add(r);
    ASSERT_TRUE(id);
    EXPECT_FALSE(plan.take(fault_layer::certrep, pki_op("PKCSReq")));
    EXPECT_FALSE(plan.take(fault_layer::certrep, pki_op("CertPoll", "T", "192.0.2.2")));
    EXPECT_FALSE(plan.take(fault_layer::certrep, pki_op("CertPoll", "T", "192.0.2.1", "CN=other")));
    EXPECT_FALSE(plan.take(fault_layer::http, pki_op("CertPoll")));  // another layer
    auto fired = plan.take(fault_layer::certrep, pki_op("CertPoll"));
    ASSERT_TRUE(fired);
    EXPECT_EQ(fired->id, *id);
    EXPECT_EQ(plan.rules().front().fired, 1u);
}

TEST(fault_plan, first_every_one_shot_and_seeded_probability) {
    fault_plan plan;
    fault_rule first;
    first.kind = fault_kind::empty_body;
    first.when.first = 2;
    ASSERT_TRUE(plan.add(first));
    int fired = 0;
    for (int i = 0; i < 5; ++i) fired += plan.take(fault_layer::http, pki_op()).has_value();
    EXPECT_EQ(fired, 2);
    plan.clear();
    fault_rule every;
    every.kind = fault_kind::empty_body;
    every.when.every = 3;
    ASSERT_TRUE(plan.add(every));
    std::string pattern;
    for (int i = 0; i < 6; ++i) pattern += plan.take(fault_layer::http, pki_op()) ? 'x' : '.';
    EXPECT_EQ(pattern, "..x..x");
    plan.clear();
    fault_rule once;
    once.kind = fault_kind::empty_body;
    once.one_shot = true;
    ASSERT_TRUE(plan.add(once));
    EXPECT_TRUE(plan.take(fault_layer::http, pki_op()));
    EXPECT_FALSE(plan.take(fault_layer::http, pki_op()));
    EXPECT_TRUE(plan.rules().empty());
    // The same seed gives the same choices; about the share asked for.
    auto run = [](std::uint64_t seed) {
        fault_plan p;
        fault_rule r;
        r.kind = fault_kind::empty_body;
        r.when.probability = 0.25;
        r.when.seed = seed;
        EXPECT_TRUE(p.add(r));
        std::string out;
        for (int i = 0; i < 400; ++i) out += p.take(fault_layer::http, pki_op()) ? 'x' : '.';
        return out;
    };
    EXPECT_EQ(run(7), run(7));
    EXPECT_NE(run(7), run(8));
    const std::string seven = run(7);
    auto hits = std::count(seven.begin(), seven.end(), 'x');
    EXPECT_GT(hits, 60);
    EXPECT_LT(hits, 140);
}

TEST(fault_plan, refuses_bad_rules_with_the_reason) {
    fault_plan plan;
    fault_rule r;
    r.kind = fault_kind::wrong_transaction_id;
    r.when.subject = "([unclosed";
    auto bad = plan.add(r);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("regular expression"), std::string::npos);
    r.when.subject.clear();
    r.when.probability = 0;
    EXPECT_FALSE(plan.add(r));
    r.when.probability = 1.5;
    EXPECT_FALSE(plan.add(r));
    fault_rule status;
    status.kind = fault_kind::http_status;
    status.status = 200;
    EXPECT_FALSE(plan.add(status));
    EXPECT_FALSE(fault_kind_from_name("no-such-fault"));
    for (const auto& k : fault_kinds()) EXPECT_EQ(fault_kind_from_name(k.name), k.kind);
}

TEST(fault_kinds, every_kind_is_documented_in_docs_faults_md) {
    auto doc = read_file(SCEP_LAB_SOURCE_DIR "/docs/faults.md");
    ASSERT_TRUE(doc);
    for (const auto& k : fault_kinds())
        EXPECT_NE(doc->find("| `" + std::string(k.name) + "` |"), std::string::npos) << k.name;
}

class certrep_fault_test : public ::testing::Test {
protected:
    void SetUp() override { lab_.service->set_faults(&plan_); }
    // Arms `kind` once, enrolls, and returns the reply as sent.
    service_reply enroll_with(fault_kind kind, const std::string& txid) {
        fault_rule r;
        r.kind = kind;
        r.one_shot = true;
        EXPECT_TRUE(plan_.add(r));
        auto der = test::make_pkcs_req(dev_, lab_.pki->ra_cert(), txid, nonce_);
        return lab_.service->pki_operation(der, "192.0.2.5");
    }
    cert_rep parsed(const service_reply& r) {
        auto rep = parse_cert_rep(bytes(r.body.begin(), r.body.end()), lab_.pki->ra_cert());
        EXPECT_TRUE(rep) << rep.message();
        return rep ? *rep : cert_rep{};
    }
    test::service_lab lab_{service_config{.challenge = "secret"}};
    fault_plan plan_;
    test::requester dev_ = test::make_requester({.challenge = "secret"});
    bytes nonce_ = bytes(16, 0x33);
};

TEST_F(certrep_fault_test, each_certrep_fault_puts_what_its_name_says_on_the_wire) {
    {
        auto r = enroll_with(fault_kind::wrong_recipient_nonce, "F1");
        EXPECT_NE(r.fault.find("wrong-recipient-nonce"), std::string::npos);
        auto rep = parsed(r);
        EXPECT_EQ(rep.recipient_nonce.size(), 16u);
        EXPECT_NE(rep.recipient_nonce, nonce_);
        EXPECT_EQ(rep.transaction_id, "F1");
        EXPECT_EQ(rep.status, pki_status::success);
    }
    {
        auto rep = parsed(enroll_with(fault_kind::missing_recipient_nonce, "F2"));
        EXPECT_TRUE(rep.recipient_nonce.empty());
        EXPECT_FALSE(rep.sender_nonce.empty());
    }
    {
        auto rep = parsed(enroll_with(fault_kind::wrong_transaction_id, "F3"));
        EXPECT_EQ(rep.transaction_id, "F3-OTHER");
        EXPECT_EQ(rep.recipient_nonce, nonce_);
    }
    {
        auto rep = parsed(enroll_with(fault_kind::missing_transaction_id, "F4"));
        EXPECT_TRUE(rep.transaction_id.empty());
    }
    {
        auto rep = parsed(enroll_with(fault_kind::missing_sender_nonce, "F5"));
        EXPECT_TRUE(rep.sender_nonce.empty());
        EXPECT_EQ(rep.recipient_nonce, nonce_);
    }
    {
        auto rep = parsed(enroll_with(fault_kind::wrong_message_type, "F6"));
        EXPECT_EQ(rep.type, 19);
    }
    {
        auto r = enroll_with(fault_kind::undefined_pki_status, "F7");
        auto shown = inspect::analyze_reply(r.body, r.content_type);
        EXPECT_EQ(shown.pki_status, "undefined(9)");
    }
    // Requests no rule selects are answered correctly, and the faulty ones were
    // still issued and stored: the client's retry with the same transactionID
    // gets a correct reply with the same certificate.
    auto der = test::make_pkcs_req(dev_, lab_.pki->ra_cert(), "F1", nonce_);
    auto again = lab_.service->pki_operation(der, "192.0.2.5");
    EXPECT_TRUE(again.fault.empty());
    auto rep = parsed(again);
    EXPECT_EQ(rep.status, pki_status::success);
    EXPECT_EQ(rep.recipient_nonce, nonce_);
    EXPECT_EQ(rep.transaction_id, "F1");
    EXPECT_TRUE(plan_.rules().empty());  // every rule was one-shot
}

}  // namespace
}  // namespace scep
