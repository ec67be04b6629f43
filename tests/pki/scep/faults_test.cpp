// Fault rules: which requests they select, and what each CertRep fault puts
// on the wire (read back with the client-side parser and the inspector's
// reply decoder; tests/integration/faults_test.sh reads them with openssl).
#include "pki/scep/faults.hpp"

#include <gtest/gtest.h>

#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include <algorithm>
#include <ctime>

#include "pki/inspect/analysis.hpp"
#include "pki/scep/fault_replies.hpp"
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
        EXPECT_NE(r.faults_text().find("wrong-recipient-nonce"), std::string::npos);
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
    EXPECT_TRUE(again.faults.empty());
    auto rep = parsed(again);
    EXPECT_EQ(rep.status, pki_status::success);
    EXPECT_EQ(rep.recipient_nonce, nonce_);
    EXPECT_EQ(rep.transaction_id, "F1");
    EXPECT_TRUE(plan_.rules().empty());  // every rule was one-shot
}

// The signed attributes of a reply, as dotted OIDs.
std::vector<std::string> signed_attribute_oids(const std::string& der) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    pkcs7_ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
    std::vector<std::string> out;
    if (!p7) return out;
    auto* si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7.get()), 0);
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(si->auth_attr); ++i) {
        char buf[80];
        OBJ_obj2txt(buf, sizeof buf, X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(si->auth_attr, i)), 1);
        out.emplace_back(buf);
    }
    return out;
}

TEST_F(certrep_fault_test, signature_envelope_and_degenerate_faults) {
    auto has = [](const std::vector<std::string>& v, const std::string& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    {
        auto r = enroll_with(fault_kind::no_signing_time, "G1");
        EXPECT_FALSE(has(signed_attribute_oids(r.body), "1.2.840.113549.1.9.5"));
        EXPECT_EQ(parsed(r).status, pki_status::success);  // still a valid reply
    }
    {
        auto r = enroll_with(fault_kind::extra_attribute, "G2");
        EXPECT_TRUE(has(signed_attribute_oids(r.body), "1.3.6.1.5.5.7.13.99"));
        EXPECT_EQ(parsed(r).status, pki_status::success);
    }
    {
        auto r = enroll_with(fault_kind::bad_signature, "G3");
        auto rep = parse_cert_rep(bytes(r.body.begin(), r.body.end()), lab_.pki->ra_cert());
        ASSERT_FALSE(rep);
        EXPECT_NE(rep.message().find("does not verify"), std::string::npos) << rep.message();
    }
    {
        auto r = enroll_with(fault_kind::signature_algorithm_with_digest, "G4");
        EXPECT_EQ(inspect::analyze_reply(r.body, r.content_type).signature_algorithm, "sha256WithRSAEncryption");
        EXPECT_EQ(parsed(r).status, pki_status::success);  // OpenSSL accepts either form
    }
    {
        auto r = enroll_with(fault_kind::digest_algorithm_mismatch, "G5");
        EXPECT_EQ(inspect::analyze_reply(r.body, r.content_type).digest, "sha512");  // the request used SHA-256
        EXPECT_FALSE(parse_cert_rep(bytes(r.body.begin(), r.body.end()), lab_.pki->ra_cert()));
    }
    {
        fault_rule rule;
        rule.kind = fault_kind::forced_cipher;
        rule.cipher = "aes256";
        rule.one_shot = true;
        ASSERT_TRUE(plan_.add(rule));
        auto r = lab_.service->pki_operation(test::make_pkcs_req(dev_, lab_.pki->ra_cert(), "G6", nonce_), "192.0.2.5");
        auto rep = parsed(r);
        EXPECT_EQ(rep.envelope_cipher, content_cipher::aes_256_cbc);  // the request used AES-128
        auto certs = decrypt_cert_rep(rep, *dev_.signer, *dev_.key);
        ASSERT_TRUE(certs) << certs.message();
        EXPECT_EQ(certs->size(), 1u);
        rule.cipher = "rc4";
        EXPECT_FALSE(plan_.add(rule));
    }
    {
        auto rep = parsed(enroll_with(fault_kind::no_envelope, "G7"));
        EXPECT_FALSE(rep.envelope_cipher);
        auto certs = parse_degenerate(rep.envelope);  // the content is the degenerate itself
        ASSERT_TRUE(certs) << certs.message();
        ASSERT_EQ(certs->size(), 1u);
        EXPECT_FALSE(decrypt_cert_rep(rep, *dev_.signer, *dev_.key));
    }
    {
        auto rep = parsed(enroll_with(fault_kind::chain_in_degenerate, "G8"));
        auto certs = decrypt_cert_rep(rep, *dev_.signer, *dev_.key);
        ASSERT_TRUE(certs) << certs.message();
        EXPECT_EQ(certs->size(), 1 + lab_.pki->chain(true).size());
        EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(certs->front().get()), X509_REQ_get_subject_name(dev_.csr.get())), 0);
    }
}

TEST_F(certrep_fault_test, signer_order_envelope_and_certificate_faults) {
    {
        // Signed by the foreign RA: it verifies against its own certificate, not the RA's.
        auto r = enroll_with(fault_kind::unknown_signer, "H1");
        EXPECT_FALSE(parse_cert_rep(bytes(r.body.begin(), r.body.end()), lab_.pki->ra_cert()));
        auto foreign_id = foreign(std::chrono::system_clock::now());
        ASSERT_TRUE(foreign_id);
        auto rep = parse_cert_rep(bytes(r.body.begin(), r.body.end()), *(*foreign_id)->ra_cert);
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::success);
    }
    {
        // Out of DER order, and still verifying over the bytes as sent.
        auto r = enroll_with(fault_kind::attributes_out_of_order, "H2");
        auto oids = signed_attribute_oids(r.body);
        ASSERT_GE(oids.size(), 5u);
        EXPECT_EQ(parsed(r).status, pki_status::success);
        auto again = enroll_with(fault_kind::no_signing_time, "H2b");  // a normal order to compare
        auto sorted = signed_attribute_oids(again.body);
        EXPECT_NE(oids.front(), sorted.front());
    }
    {
        auto rep = parsed(enroll_with(fault_kind::envelope_other_key, "H3"));
        EXPECT_EQ(rep.status, pki_status::success);
        EXPECT_FALSE(decrypt_cert_rep(rep, *dev_.signer, *dev_.key));
    }
    {
        auto rep = parsed(enroll_with(fault_kind::empty_degenerate, "H4"));
        auto certs = decrypt_cert_rep(rep, *dev_.signer, *dev_.key);
        ASSERT_TRUE(certs) << certs.message();
        EXPECT_TRUE(certs->empty());
    }
    auto issued_for = [&](fault_kind kind, const std::string& txid) -> x509_ptr {
        auto rep = parsed(enroll_with(kind, txid));
        auto certs = decrypt_cert_rep(rep, *dev_.signer, *dev_.key);
        EXPECT_TRUE(certs && certs->size() == 1u) << txid;
        return certs && certs->size() == 1u ? std::move(certs->front()) : nullptr;
    };
    const X509& ca = *lab_.pki->issuing().cert;
    const auto now = std::time(nullptr);
    {
        auto c = issued_for(fault_kind::certificate_other_key, "H5");
        ASSERT_TRUE(c);
        EXPECT_NE(EVP_PKEY_eq(X509_get0_pubkey(c.get()), dev_.key.get()), 1);
        EXPECT_EQ(X509_verify(c.get(), X509_get0_pubkey(&ca)), 1);
    }
    {
        auto c = issued_for(fault_kind::certificate_other_subject, "H6");
        ASSERT_TRUE(c);
        EXPECT_NE(name_to_string(*X509_get_subject_name(c.get())).find("CN=scep-lab-other-subject"), std::string::npos);
        EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(c.get()), dev_.key.get()), 1);
        EXPECT_EQ(X509_verify(c.get(), X509_get0_pubkey(&ca)), 1);
    }
    {
        auto c = issued_for(fault_kind::certificate_expired, "H7");
        ASSERT_TRUE(c);
        EXPECT_LT(X509_cmp_time(X509_get0_notAfter(c.get()), const_cast<time_t*>(&now)), 0);
        EXPECT_EQ(X509_verify(c.get(), X509_get0_pubkey(&ca)), 1);
    }
    {
        auto c = issued_for(fault_kind::certificate_not_yet_valid, "H8");
        ASSERT_TRUE(c);
        EXPECT_GT(X509_cmp_time(X509_get0_notBefore(c.get()), const_cast<time_t*>(&now)), 0);
    }
    {
        auto c = issued_for(fault_kind::certificate_foreign_ca, "H9");
        ASSERT_TRUE(c);
        EXPECT_NE(X509_verify(c.get(), X509_get0_pubkey(&ca)), 1);
        EXPECT_NE(name_to_string(*X509_get_issuer_name(c.get())).find("foreign CA"), std::string::npos);
    }
    // The store holds the real certificates, not the rebuilt ones.
    auto stored = lab_.store->find_by_transaction("H5");
    ASSERT_TRUE(stored && *stored);
    EXPECT_EQ((*stored)->subject.find("other-subject"), std::string::npos);
}

TEST_F(certrep_fault_test, pending_n_times_then_the_real_answer) {
    fault_rule rule;
    rule.kind = fault_kind::pending;
    rule.when.first = 2;
    ASSERT_TRUE(plan_.add(rule));
    auto der = test::make_pkcs_req(dev_, lab_.pki->ra_cert(), "P1", nonce_);
    for (int i = 0; i < 2; ++i) {
        auto r = lab_.service->pki_operation(der, "192.0.2.5");
        EXPECT_EQ(r.status, pki_status::pending);
        EXPECT_TRUE(r.serial.empty());
        auto rep = parsed(r);
        EXPECT_EQ(rep.status, pki_status::pending);
        EXPECT_TRUE(rep.envelope.empty());
    }
    auto r = lab_.service->pki_operation(der, "192.0.2.5");
    EXPECT_EQ(r.status, pki_status::success);
    EXPECT_TRUE(r.faults.empty());
    EXPECT_EQ(parsed(r).status, pki_status::success);
}

TEST(fault_plan, kinds_bound_to_an_operation_wait_for_it) {
    fault_plan plan;
    fault_rule rule;
    rule.kind = fault_kind::caps_empty;
    ASSERT_TRUE(plan.add(rule));
    EXPECT_FALSE(plan.take(fault_layer::http, {"GetCACert", "", "", "", ""}));
    EXPECT_FALSE(plan.take(fault_layer::http, {"PKIOperation", "PKCSReq", "", "", ""}));
    EXPECT_EQ(plan.rules().front().matched, 0u);  // not even counted
    EXPECT_TRUE(plan.take(fault_layer::http, {"GetCACaps", "", "", "", ""}));
}

TEST(fault_plan, status_and_delay_are_checked_per_kind) {
    fault_plan plan;
    fault_rule redirect;
    redirect.kind = fault_kind::redirect;
    ASSERT_TRUE(plan.add(redirect));
    EXPECT_EQ(plan.rules().back().status, 302);  // the kind's default
    redirect.status = 503;
    EXPECT_FALSE(plan.add(redirect));
    redirect.status = 307;
    EXPECT_TRUE(plan.add(redirect));
    fault_rule status;
    status.kind = fault_kind::http_status;
    ASSERT_TRUE(plan.add(status));
    EXPECT_EQ(plan.rules().back().status, 503);
    status.status = 302;
    EXPECT_FALSE(plan.add(status));
    fault_rule slow;
    slow.kind = fault_kind::delay_body;
    slow.delay_ms = -1;
    EXPECT_FALSE(plan.add(slow));
    slow.delay_ms = 600001;
    EXPECT_FALSE(plan.add(slow));
}

}  // namespace
}  // namespace scep
