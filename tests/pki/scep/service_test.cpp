#include "pki/scep/service.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace scep {
namespace {

service_config test_config() {
    service_config cfg;
    cfg.challenge = "secret";
    cfg.ciphers.allow_single_des = false;
    return cfg;
}

class scep_service_test : public ::testing::Test {
protected:
    cert_rep call(const test::requester& dev, const std::string& txid,
                  content_cipher cipher = content_cipher::aes_128_cbc, digest_alg digest = digest_alg::sha256,
                  message_type type = message_type::pkcs_req) {
        auto der = test::make_pkcs_req(dev, pki_->ra_cert(), txid, nonce_, cipher, digest, type);
        auto reply = service_->pki_operation(der, "192.0.2.1");
        EXPECT_EQ(reply.http_status, 200) << reply.body;
        EXPECT_EQ(reply.content_type, "application/x-pki-message");
        auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), pki_->ra_cert());
        EXPECT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->transaction_id, txid);
        EXPECT_EQ(rep->recipient_nonce, nonce_);
        return rep ? *rep : cert_rep{};
    }

    test::service_lab lab_{test_config()};
    std::optional<hierarchy>& pki_ = lab_.pki;
    std::unique_ptr<lab_cert_store>& store_ = lab_.store;
    std::optional<scep_service>& service_ = lab_.service;
    bytes nonce_ = bytes(16, 0x42);
};

TEST_F(scep_service_test, enrolls_with_the_right_challenge_and_stores_the_certificate) {
    auto dev = test::make_requester({.challenge = "secret", .dns_names = {"dev.lab"}});
    auto rep = call(dev, "T1");
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto certs = decrypt_cert_rep(rep, *dev.signer, *dev.key);
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 1u);
    auto row = store_->find_by_transaction("T1");
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->serial, serial_hex(*certs->front()));
    EXPECT_EQ((*row)->requester, "192.0.2.1");
    EXPECT_EQ((*row)->sans, "DNS:dev.lab");
    EXPECT_EQ((*row)->subject, "CN=device-1,O=scep-lab tests");
}

TEST_F(scep_service_test, answers_each_failure_with_its_fail_info) {
    struct case_t {
        const char* name;
        test::requester_options opts;
        message_type type;
        content_cipher cipher;
        fail_info expect;
        const char* text;
    };
    std::vector<case_t> cases{
        {"fails_on_wrong_challenge", {.challenge = "guess"}, message_type::pkcs_req, content_cipher::aes_128_cbc,
         fail_info::bad_message_check, "wrong challenge"},
        {"fails_without_challenge", {.challenge = ""}, message_type::pkcs_req, content_cipher::aes_128_cbc,
         fail_info::bad_message_check, "no challengePassword"},
        {"fails_on_single_des_when_refused", {}, message_type::pkcs_req, content_cipher::des_cbc, fail_info::bad_alg,
         "single DES"},
    };
    int n = 0;
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto dev = test::make_requester(c.opts);
        auto rep = call(dev, "F" + std::to_string(n++), c.cipher, digest_alg::sha256, c.type);
        EXPECT_EQ(rep.status, pki_status::failure);
        EXPECT_EQ(rep.failure, c.expect);
        EXPECT_NE(rep.fail_info_text.find(c.text), std::string::npos) << rep.fail_info_text;
    }
    EXPECT_EQ(*store_->count(), 0);
}

TEST_F(scep_service_test, md5_is_refused_with_bad_alg_unless_allowed_and_then_mirrored) {
    auto dev = test::make_requester({.challenge = "secret"});
    auto refused = call(dev, "MD5-1", content_cipher::aes_128_cbc, digest_alg::md5);
    EXPECT_EQ(refused.status, pki_status::failure);
    EXPECT_EQ(refused.failure, fail_info::bad_alg);
    EXPECT_NE(refused.fail_info_text.find("scep.allow_md5"), std::string::npos) << refused.fail_info_text;

    auto cfg = test_config();
    cfg.ciphers.allow_md5 = true;
    test::service_lab legacy{cfg};
    auto der = test::make_pkcs_req(dev, legacy.pki->ra_cert(), "MD5-2", nonce_, content_cipher::des_ede3_cbc,
                                   digest_alg::md5);
    auto reply = legacy.service->pki_operation(der, "192.0.2.1");
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), legacy.pki->ra_cert());
    ASSERT_TRUE(rep) << rep.message();
    EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
    EXPECT_EQ(rep->digest, digest_alg::md5);  // the reply mirrors the request
    auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
    ASSERT_TRUE(certs && certs->size() == 1u);
}

TEST_F(scep_service_test, fails_with_bad_request_on_a_key_below_the_minimum) {
    // Build a 1024-bit RSA requester by hand: key_type only offers safe sizes.
    test::requester dev = test::make_requester();
    dev.key.reset(EVP_RSA_gen(1024));
    X509_REQ_set_pubkey(dev.csr.get(), dev.key.get());
    X509_REQ_sign(dev.csr.get(), dev.key.get(), EVP_sha256());
    auto subject = parse_subject("CN=small");
    dev.signer = std::move(*self_signed(*dev.key, **subject, std::chrono::system_clock::now()));
    auto rep = call(dev, "SMALL");
    EXPECT_EQ(rep.status, pki_status::failure);
    EXPECT_EQ(rep.failure, fail_info::bad_request);
    EXPECT_NE(rep.fail_info_text.find("1024 bits is below the minimum of 2048"), std::string::npos)
        << rep.fail_info_text;
}

TEST_F(scep_service_test, fails_with_bad_request_on_a_malformed_csr) {
    auto dev = test::make_requester();
    pki_request_params p;
    p.transaction_id = "BADCSR";
    p.sender_nonce = nonce_;
    p.message_data = bytes{0x30, 0x03, 0x02, 0x01, 0x01};
    auto der = build_pki_request(p, *dev.signer, *dev.key, {&pki_->ra_cert()});
    ASSERT_TRUE(der);
    auto reply = service_->pki_operation(*der, "c");
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), pki_->ra_cert());
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->failure, fail_info::bad_request);
    EXPECT_NE(rep->fail_info_text.find("PKCS#10"), std::string::npos);
}

TEST_F(scep_service_test, fails_with_bad_request_on_an_unknown_message_type) {
    auto dev = test::make_requester();
    auto rep = call(dev, "UNK", content_cipher::aes_128_cbc, digest_alg::sha256, static_cast<message_type>(99));
    EXPECT_EQ(rep.failure, fail_info::bad_request);
    EXPECT_NE(rep.fail_info_text.find("unknown messageType 99"), std::string::npos);
}

TEST_F(scep_service_test, mirrors_the_request_digest_and_cipher) {
    auto dev = test::make_requester();
    auto rep = call(dev, "MIRROR", content_cipher::des_ede3_cbc, digest_alg::sha512);
    ASSERT_EQ(rep.status, pki_status::success);
    EXPECT_EQ(rep.digest, digest_alg::sha512);
    EXPECT_EQ(rep.envelope_cipher, content_cipher::des_ede3_cbc);
}

TEST_F(scep_service_test, resending_the_same_transaction_returns_the_same_certificate) {
    auto dev = test::make_requester();
    auto first = call(dev, "SAME");
    auto second = call(dev, "SAME");
    ASSERT_EQ(first.status, pki_status::success);
    ASSERT_EQ(second.status, pki_status::success);
    auto a = decrypt_cert_rep(first, *dev.signer, *dev.key);
    auto b = decrypt_cert_rep(second, *dev.signer, *dev.key);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(X509_cmp(a->front().get(), b->front().get()), 0);
    EXPECT_EQ(*store_->count(), 1);
}

TEST_F(scep_service_test, same_transaction_with_another_key_fails_with_bad_request) {
    auto dev = test::make_requester();
    auto other = test::make_requester();
    ASSERT_EQ(call(dev, "TAKEN").status, pki_status::success);
    auto rep = call(other, "TAKEN");
    EXPECT_EQ(rep.status, pki_status::failure);
    EXPECT_EQ(rep.failure, fail_info::bad_request);
    EXPECT_NE(rep.fail_info_text.find("different public key"), std::string::npos);
    EXPECT_EQ(*store_->count(), 1);
}

TEST_F(scep_service_test, not_scep_at_all_is_http_400) {
    auto reply = service_->pki_operation(bytes{1, 2, 3}, "c");
    EXPECT_EQ(reply.http_status, 400);
    EXPECT_NE(reply.body.find("not a SCEP pkiMessage"), std::string::npos);
}

TEST_F(scep_service_test, get_ca_caps_lists_the_configured_capabilities) {
    auto r = service_->get_ca_caps();
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(r.body, "POSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-512\nAES\nDES3\nSCEPStandard\n");
}

TEST_F(scep_service_test, get_ca_cert_sends_ra_then_chain_up_to_the_root) {
    auto r = service_->get_ca_cert();
    EXPECT_EQ(r.content_type, "application/x-x509-ca-ra-cert");
    auto certs = parse_degenerate(bytes(r.body.begin(), r.body.end()));
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 3u);
    EXPECT_EQ(X509_cmp(certs->at(0).get(), &pki_->ra_cert()), 0);
    EXPECT_EQ(X509_cmp(certs->at(1).get(), pki_->issuing().cert.get()), 0);
    EXPECT_EQ(X509_cmp(certs->at(2).get(), &pki_->root_cert()), 0);
}

TEST(scep_service_ca_as_ra, get_ca_cert_is_plain_der_for_a_single_ca) {
    load_providers();
    test::temp_dir dir;
    auto h = hierarchy::open(test::small_spec(1, true), dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(h) << h.message();
    issuer iss(*h, {}, {}, system_clock_fn());
    auto store = make_memory_store();
    scep_service svc(*h, iss, *store, service_config{});
    auto r = svc.get_ca_cert();
    EXPECT_EQ(r.content_type, "application/x-x509-ca-cert");
    auto c = x509_from_der(bytes(r.body.begin(), r.body.end()));
    ASSERT_TRUE(c);
    EXPECT_EQ(X509_cmp(c->get(), &h->root_cert()), 0);
}

TEST(scep_service_ca_as_ra, include_root_false_leaves_the_root_out) {
    load_providers();
    test::temp_dir dir;
    auto h = hierarchy::open(test::small_spec(3, true), dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(h) << h.message();
    issuer iss(*h, {}, {}, system_clock_fn());
    auto store = make_memory_store();
    service_config cfg;
    cfg.include_root_in_ca_chain = false;
    scep_service svc(*h, iss, *store, cfg);
    auto r = svc.get_ca_cert();
    auto certs = parse_degenerate(bytes(r.body.begin(), r.body.end()));
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 2u);
    EXPECT_EQ(X509_cmp(certs->at(0).get(), h->issuing().cert.get()), 0);
    for (const auto& c : *certs) EXPECT_NE(X509_cmp(c.get(), &h->root_cert()), 0);
}

TEST_F(scep_service_test, a_signer_with_another_key_than_the_csr_is_refused_only_when_asked) {
    auto dev = test::make_requester({.challenge = "secret"});
    auto other = test::make_requester();
    test::requester mixed{std::move(other.key), std::move(dev.csr), std::move(other.signer)};
    auto accepted = call(mixed, "MIX1");
    EXPECT_EQ(accepted.status, pki_status::success) << accepted.fail_info_text;
    service_config strict = test_config();
    strict.require_signer_key_match = true;
    service_.emplace(*pki_, *lab_.iss, *store_, strict);
    auto refused = call(mixed, "MIX2");
    EXPECT_EQ(refused.failure, fail_info::bad_message_check);
    EXPECT_NE(refused.fail_info_text.find("RFC 8894 §2.3"), std::string::npos) << refused.fail_info_text;
}

TEST_F(scep_service_test, held_requests_are_stored_without_their_challenge) {
    service_config cfg = test_config();
    cfg.challenge = "a-challenge-nobody-may-read";
    cfg.approval.mode = approval_mode::manual;
    service_.emplace(*pki_, *lab_.iss, *store_, cfg);
    auto dev = test::make_requester({.challenge = "a-challenge-nobody-may-read"});
    ASSERT_EQ(call(dev, "HELD").status, pki_status::pending);
    auto held = store_->find_pending("HELD");
    ASSERT_TRUE(held && *held);
    std::string stored((*held)->csr.begin(), (*held)->csr.end());
    EXPECT_EQ(stored.find("a-challenge-nobody-may-read"), std::string::npos);
    // Approved, it is issued from the stored CSR.
    ASSERT_EQ(*store_->decide_pending("HELD", true, ""), decide_outcome::decided);
    auto rep = call(dev, "HELD");
    EXPECT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
}

TEST_F(scep_service_test, a_store_that_cannot_write_is_the_servers_failure_and_says_nothing_internal) {
    test::write_failing_store failing;
    service_.emplace(*pki_, *lab_.iss, failing, test_config());
    failing.fail_writes = true;
    auto dev = test::make_requester({.challenge = "secret"});
    auto der = test::make_pkcs_req(dev, pki_->ra_cert(), "FULL", nonce_);
    auto reply = service_->pki_operation(der, "192.0.2.1");
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), pki_->ra_cert());
    ASSERT_TRUE(rep) << rep.message();
    EXPECT_EQ(rep->status, pki_status::failure);
    EXPECT_EQ(rep->fail_info_text, "the server could not store the certificate");
    EXPECT_EQ(reply.body.find("/var/lib"), std::string::npos);
    EXPECT_NE(reply.detail.find("database or disk is full"), std::string::npos) << reply.detail;  // for the log
    auto writable = service_->store_writable();
    ASSERT_FALSE(writable);
    // Space again: the probe succeeds, and enrollment works.
    failing.fail_writes = false;
    EXPECT_TRUE(service_->store_writable());
    auto again = call(dev, "FULL-2");
    EXPECT_EQ(again.status, pki_status::success) << again.fail_info_text;
}

}  // namespace
}  // namespace scep
