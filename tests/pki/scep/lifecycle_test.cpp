// Renewal, approval and polling, GetCert, GetCRL and revocation at the
// service level, with an injected clock.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <thread>

#include "pki/ca/crl.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/challenge/challenge_webhook.hpp"
#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

class lifecycle_test : public ::testing::Test {
protected:
    void make_service(service_config cfg) {
        cfg.challenge = "secret";
        service_.emplace(*lab_.pki, *lab_.iss, *lab_.store, cfg, [this] { return now_; });
    }
    void SetUp() override { make_service({}); }

    // Sends `data` as a pkiMessage of `type`, signed by `cert`/`key`.
    cert_rep send(message_type type, const bytes& data, const X509& cert, const EVP_PKEY& key,
                  const std::string& txid) {
        pki_request_params p;
        p.type = type;
        p.transaction_id = txid;
        p.sender_nonce = random_bytes(16);
        p.message_data = data;
        auto der = build_pki_request(p, cert, key, {&lab_.pki->ra_cert()});
        EXPECT_TRUE(der) << der.message();
        auto reply = service_->pki_operation(*der, "198.51.100.7");
        last_detail_ = reply.detail;
        EXPECT_EQ(reply.http_status, 200) << reply.body;
        auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab_.pki->ra_cert());
        EXPECT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->transaction_id, txid);
        EXPECT_EQ(rep->recipient_nonce, p.sender_nonce);
        return rep ? *rep : cert_rep{};
    }

    std::string last_detail_;  // the service's reason for the last send()

    // A device enrolled over SCEP: its key and the issued certificate.
    struct enrolled {
        test::requester dev;
        x509_ptr cert;
    };
    enrolled enroll(const std::string& subject = "CN=device-1,O=scep-lab tests",
                    std::vector<std::string> dns_names = {}) {
        enrolled e{test::make_requester({.subject = subject, .challenge = "secret", .dns_names = std::move(dns_names)}),
                   nullptr};
        auto rep = send(message_type::pkcs_req, x509_req_to_der(*e.dev.csr), *e.dev.signer, *e.dev.key,
                        make_transaction_id());
        EXPECT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
        auto certs = decrypt_cert_rep(rep, *e.dev.signer, *e.dev.key);
        EXPECT_TRUE(certs && certs->size() == 1);
        if (certs && !certs->empty()) e.cert = std::move(certs->front());
        return e;
    }

    // A renewal CSR (no challenge) signed with the issued certificate.
    cert_rep renew(const enrolled& e, message_type type, const test::requester_options& csr_opts,
                   const std::string& txid = make_transaction_id()) {
        auto fresh = test::make_requester(csr_opts);
        return send(type, x509_req_to_der(*fresh.csr), *e.cert, *e.dev.key, txid);
    }

    std::optional<cert_record> row(const std::string& serial) { return *lab_.store->find_by_serial(serial); }

    test::service_lab lab_{service_config{}};
    time_point now_ = std::chrono::system_clock::now();
    std::optional<scep_service> service_;
};

TEST_F(lifecycle_test, renewal_req_signed_by_the_old_certificate_needs_no_challenge) {
    auto e = enroll();
    auto rep = renew(e, message_type::renewal_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = ""});
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto certs = decrypt_cert_rep(rep, *e.cert, *e.dev.key);  // encrypted to the old certificate
    ASSERT_TRUE(certs) << certs.message();
    std::string old_serial = serial_hex(*e.cert), new_serial = serial_hex(*certs->front());
    EXPECT_NE(old_serial, new_serial);
    EXPECT_EQ(row(old_serial)->status, "superseded");
    EXPECT_EQ(row(new_serial)->replaces_serial, old_serial);
    EXPECT_EQ(row(new_serial)->status, "valid");
}

TEST_F(lifecycle_test, renewal_reusing_the_enrollment_transaction_id_is_a_new_transaction) {
    // As micromdm scepclient does: same key, so the same key-derived transactionID.
    auto e = test::make_requester({.subject = "CN=device-1,O=scep-lab tests", .challenge = "secret"});
    const std::string txid = "KEY-DERIVED";
    auto first = send(message_type::pkcs_req, x509_req_to_der(*e.csr), *e.signer, *e.key, txid);
    auto certs = decrypt_cert_rep(first, *e.signer, *e.key);
    ASSERT_TRUE(certs);
    auto renewed = send(message_type::renewal_req, x509_req_to_der(*e.csr), *certs->front(), *e.key, txid);
    ASSERT_EQ(renewed.status, pki_status::success) << renewed.fail_info_text;
    auto next = decrypt_cert_rep(renewed, *certs->front(), *e.key);
    ASSERT_TRUE(next);
    EXPECT_NE(serial_hex(*next->front()), serial_hex(*certs->front()));
    // A retransmission of the renewal gets the renewed certificate again.
    auto again = send(message_type::renewal_req, x509_req_to_der(*e.csr), *certs->front(), *e.key, txid);
    auto same = decrypt_cert_rep(again, *certs->front(), *e.key);
    ASSERT_TRUE(same);
    EXPECT_EQ(serial_hex(*same->front()), serial_hex(*next->front()));
    EXPECT_EQ(*lab_.store->count(), 2);
}

TEST_F(lifecycle_test, pkcs_req_signed_by_an_issued_certificate_is_a_renewal) {
    auto e = enroll();
    auto rep = renew(e, message_type::pkcs_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = ""});
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto certs = decrypt_cert_rep(rep, *e.cert, *e.dev.key);
    ASSERT_TRUE(certs);
    EXPECT_EQ(row(serial_hex(*certs->front()))->replaces_serial, serial_hex(*e.cert));
}

TEST_F(lifecycle_test, a_renewal_forged_with_an_exponent_one_certificate_is_refused) {
    // A lab certificate for an e = 1 key, as issued before CSR keys were
    // checked. Certificates are public (/certs/), so anyone holds it.
    auto weak = test::rsa_key_with_exponent(1);
    auto subject = parse_subject("CN=device-1,O=scep-lab tests");
    cert_request cr;
    cr.subject = subject->get();
    cr.public_key = weak.get();
    cr.not_before = now_ - std::chrono::hours(1);
    cr.not_after = now_ + std::chrono::hours(24 * 30);
    cr.extensions = {{NID_basic_constraints, "critical,CA:FALSE"}};
    auto old = sign_certificate(cr, lab_.pki->issuing().cert.get(), *lab_.pki->issuing().key);
    ASSERT_TRUE(old) << old.message();
    ASSERT_TRUE(lab_.store->insert(make_record(**old)));
    // The attacker "signs" with d = 1: no private key, no challenge.
    auto csr = test::make_csr(*weak, "CN=device-1,O=scep-lab tests");
    auto rep = send(message_type::renewal_req, x509_req_to_der(*csr), **old, *weak, "FORGED-RENEWAL");
    ASSERT_EQ(rep.status, pki_status::failure);
    EXPECT_EQ(rep.failure, fail_info::bad_request);
    EXPECT_NE(rep.fail_info_text.find("signer certificate: the RSA public exponent 1 is refused"), std::string::npos)
        << rep.fail_info_text;
    EXPECT_EQ(*lab_.store->count(), 1);  // nothing issued
    // And as a first enrollment (self-signed signer, e = 1 CSR): refused too.
    auto dev = test::requester_with_key(test::rsa_key_with_exponent(1));
    auto first = send(message_type::pkcs_req, x509_req_to_der(*dev.csr), *dev.signer, *dev.key, "FORGED-ENROLL");
    EXPECT_EQ(first.failure, fail_info::bad_request);
    EXPECT_NE(first.fail_info_text.find("exponent 1"), std::string::npos) << first.fail_info_text;
    EXPECT_EQ(*lab_.store->count(), 1);
}

TEST_F(lifecycle_test, a_certificate_already_renewed_is_not_renewed_again_unless_allowed) {
    auto e = enroll();
    const test::requester_options same{.subject = "CN=device-1,O=scep-lab tests", .challenge = ""};
    ASSERT_EQ(renew(e, message_type::renewal_req, same).status, pki_status::success);
    auto second = renew(e, message_type::renewal_req, same);
    EXPECT_EQ(second.failure, fail_info::bad_cert_id);
    EXPECT_NE(second.fail_info_text.find("already renewed"), std::string::npos) << second.fail_info_text;
    EXPECT_EQ(*lab_.store->count(), 2);
    service_config c;
    c.renewal.allow_repeat = true;
    make_service(c);
    auto allowed = renew(e, message_type::renewal_req, same);
    EXPECT_EQ(allowed.status, pki_status::success) << allowed.fail_info_text;
    EXPECT_EQ(*lab_.store->count(), 3);
}

// Hardening round two (docs/security.md): renew once was a check-then-act
// race; eight renewals of one certificate released together gave 2-3
// successors. The supersede is now the condition of the insert.
TEST_F(lifecycle_test, renewals_of_one_certificate_released_together_give_one_successor) {
    auto e = enroll();
    constexpr int n = 8;
    // The new key's exponent has 3,070 bits: each CSR check takes ~15 ms, as
    // in the attack, so all eight read "valid" before the first insert.
    auto slow = test::requester_with_key(test::rsa_key_with_huge_exponent(), "CN=device-1,O=scep-lab tests", "");
    const auto messages = test::renewal_requests(*slow.csr, *e.cert, *e.dev.key, lab_.pki->ra_cert(), n);
    std::atomic<int> ready{0};
    std::vector<std::string> statuses(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            ++ready;
            while (ready.load() < n) std::this_thread::yield();
            statuses[i] = service_->pki_operation(messages[i], "198.51.100.7").status_name();
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "SUCCESS"), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "FAILURE"), n - 1);
    auto page = lab_.store->search({.limit = 100});
    int successors = 0;
    for (const auto& r : page->items) successors += r.replaces_serial == serial_hex(*e.cert) ? 1 : 0;
    EXPECT_EQ(successors, 1);
    EXPECT_EQ(row(serial_hex(*e.cert))->status, "superseded");
}

TEST_F(lifecycle_test, a_key_revoked_for_key_compromise_gets_no_new_certificate) {
    auto e = enroll();
    ASSERT_TRUE(revoke_certificate(*lab_.store, serial_hex(*e.cert), *revocation_reason_from_name("keyCompromise")));
    // The holder of the compromised key re-signs a new PKCSReq (a captured
    // one, a new transactionID, the static challenge): refused.
    auto again = send(message_type::pkcs_req, x509_req_to_der(*e.dev.csr), *e.dev.signer, *e.dev.key,
                      make_transaction_id());
    EXPECT_EQ(again.failure, fail_info::bad_request);
    EXPECT_NE(again.fail_info_text.find("keyCompromise"), std::string::npos) << again.fail_info_text;
    EXPECT_EQ(*lab_.store->count(), 1);
    // Another key of the same device is fine; so is the same key in a lab that allows it.
    auto other = enroll();
    EXPECT_TRUE(other.cert);
    ASSERT_TRUE(revoke_certificate(*lab_.store, serial_hex(*other.cert), *revocation_reason_from_name("superseded")));
    auto superseded_key = send(message_type::pkcs_req, x509_req_to_der(*other.dev.csr), *other.dev.signer,
                               *other.dev.key, make_transaction_id());
    EXPECT_EQ(superseded_key.status, pki_status::success) << superseded_key.fail_info_text;
    lab_.iss.emplace(*lab_.pki, issuance_profile{}, csr_policy{.allow_compromised_keys = true}, system_clock_fn());
    make_service({});
    auto allowed = send(message_type::pkcs_req, x509_req_to_der(*e.dev.csr), *e.dev.signer, *e.dev.key,
                        make_transaction_id());
    EXPECT_EQ(allowed.status, pki_status::success) << allowed.fail_info_text;
}

TEST_F(lifecycle_test, a_renewal_may_carry_only_names_the_old_certificate_had) {
    auto e = enroll("CN=device-1,O=scep-lab tests", {"dev.lab", "alias.lab"});
    auto added = renew(e, message_type::renewal_req,
                       {.subject = "CN=device-1,O=scep-lab tests", .challenge = "", .dns_names = {"dev.lab", "evil.lab"}});
    EXPECT_EQ(added.failure, fail_info::bad_request);
    EXPECT_NE(added.fail_info_text.find("new: DNS:evil.lab"), std::string::npos) << added.fail_info_text;
    // Fewer names, and another spelling of the same name, are fine.
    auto fewer = renew(e, message_type::renewal_req,
                       {.subject = "CN=device-1,O=scep-lab tests", .challenge = "", .dns_names = {"DEV.lab"}});
    ASSERT_EQ(fewer.status, pki_status::success) << fewer.fail_info_text;
    service_config c;
    c.renewal.allow_new_names = true;
    c.renewal.allow_repeat = true;
    make_service(c);
    auto allowed = renew(e, message_type::renewal_req,
                         {.subject = "CN=device-1,O=scep-lab tests", .challenge = "", .dns_names = {"new.lab"}});
    EXPECT_EQ(allowed.status, pki_status::success) << allowed.fail_info_text;
}

TEST_F(lifecycle_test, revocation_takes_only_reasons_that_revoke_and_keeps_the_first) {
    auto e = enroll();
    const std::string serial = serial_hex(*e.cert);
    auto remove = revocation_reason_from_name("removeFromCRL");
    ASSERT_FALSE(remove);
    EXPECT_NE(remove.message().find("does not revoke"), std::string::npos) << remove.message();
    auto first = revoke_certificate(*lab_.store, serial, *revocation_reason_from_name("keyCompromise"));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->result, revocation::outcome::revoked);
    auto same = revoke_certificate(*lab_.store, serial, 1);
    EXPECT_EQ(same->result, revocation::outcome::already_revoked);
    auto other = revoke_certificate(*lab_.store, serial, *revocation_reason_from_name("superseded"));
    EXPECT_EQ(other->result, revocation::outcome::conflict);
    EXPECT_EQ(crl_reason_name(other->reason), "keyCompromise");
    EXPECT_EQ(row(serial)->revocation_reason, 1);
    EXPECT_EQ(revoke_certificate(*lab_.store, "00FF", 1)->result, revocation::outcome::not_found);
}

TEST_F(lifecycle_test, renewal_failures_say_why) {
    auto e = enroll();
    struct case_t {
        const char* name;
        std::function<void()> arrange;
        test::requester_options csr;
        fail_info expect;
        const char* text;
    };
    const test::requester_options same{.subject = "CN=device-1,O=scep-lab tests", .challenge = ""};
    std::vector<case_t> cases{
        {"fails_when_the_subject_changes", [] {}, {.subject = "CN=someone-else", .challenge = ""},
         fail_info::bad_request, "differs from the certificate being renewed"},
        {"fails_outside_the_renewal_window",
         [&] {
             service_config c;
             c.renewal.window = std::chrono::hours(24 * 30);
             make_service(c);
         },
         same, fail_info::bad_request, "renewal is accepted only in the last 30 days"},
        {"fails_when_the_challenge_is_required",
         [&] {
             service_config c;
             c.renewal.require_challenge = true;
             make_service(c);
         },
         same, fail_info::bad_message_check, "requires the challenge"},
        {"fails_after_expiry",
         [&] {
             make_service({});
             now_ += std::chrono::hours(24 * 400);
         },
         same, fail_info::bad_cert_id, "expired at"},
        {"fails_when_revoked",
         [&] {
             now_ = std::chrono::system_clock::now();
             ASSERT_TRUE(lab_.store->revoke(serial_hex(*e.cert), 1, std::chrono::system_clock::now()));
         },
         same, fail_info::bad_cert_id, "was revoked"},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        c.arrange();
        auto rep = renew(e, message_type::renewal_req, c.csr);
        EXPECT_EQ(rep.status, pki_status::failure);
        EXPECT_EQ(rep.failure, c.expect);
        EXPECT_NE(rep.fail_info_text.find(c.text), std::string::npos) << rep.fail_info_text;
    }
}

TEST_F(lifecycle_test, required_renewal_challenge_uses_the_configured_password_check) {
    auto e = enroll();
    // NDES dynamic passwords: the renewal must carry a fresh one-time password.
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [this] { return now_; });
    service_config c;
    c.challenge = "secret";
    c.renewal.require_challenge = true;
    c.renewal.allow_repeat = true;  // the second renewal must reach the password check
    service_.emplace(*lab_.pki, *lab_.iss, *lab_.store, c, [this] { return now_; }, &otp);
    auto with_static = renew(e, message_type::renewal_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = "secret"});
    EXPECT_EQ(with_static.failure, fail_info::bad_message_check);
    EXPECT_NE(with_static.fail_info_text.find("unknown challenge password"), std::string::npos) << with_static.fail_info_text;
    auto password = otp.issue();
    ASSERT_TRUE(password);
    auto ok = renew(e, message_type::renewal_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = *password});
    ASSERT_EQ(ok.status, pki_status::success) << ok.fail_info_text;
    auto reused = renew(e, message_type::renewal_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = *password});
    EXPECT_EQ(reused.failure, fail_info::bad_message_check);
    EXPECT_NE(reused.fail_info_text.find("already been used"), std::string::npos) << reused.fail_info_text;
}

TEST_F(lifecycle_test, a_retransmitted_renewal_does_not_spend_another_one_time_password) {
    auto e = enroll();
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [this] { return now_; });
    service_config c;
    c.challenge = "secret";
    c.renewal.require_challenge = true;
    service_.emplace(*lab_.pki, *lab_.iss, *lab_.store, c, [this] { return now_; }, &otp);
    auto password = otp.issue();
    ASSERT_TRUE(password);
    // The client did not get the first answer and sends the same request again.
    auto fresh = test::make_requester({.subject = "CN=device-1,O=scep-lab tests", .challenge = *password});
    const auto csr = x509_req_to_der(*fresh.csr);
    auto first = send(message_type::renewal_req, csr, *e.cert, *e.dev.key, "RENEW-AGAIN");
    ASSERT_EQ(first.status, pki_status::success) << first.fail_info_text;
    auto again = send(message_type::renewal_req, csr, *e.cert, *e.dev.key, "RENEW-AGAIN");
    ASSERT_EQ(again.status, pki_status::success) << again.fail_info_text;
    auto a = decrypt_cert_rep(first, *e.cert, *e.dev.key);
    auto b = decrypt_cert_rep(again, *e.cert, *e.dev.key);
    ASSERT_TRUE(a && b && !a->empty() && !b->empty());
    EXPECT_EQ(serial_hex(*a->front()), serial_hex(*b->front()));  // the same certificate, not a second one
    // A new renewal with the spent password is still refused.
    auto reused = send(message_type::renewal_req, x509_req_to_der(*test::make_requester(
                                                      {.subject = "CN=device-1,O=scep-lab tests", .challenge = *password})
                                                      .csr),
                       *e.cert, *e.dev.key, "RENEW-NEW");
    EXPECT_EQ(reused.failure, fail_info::bad_cert_id);  // the certificate was renewed already (renewal.allow_repeat)
}

TEST_F(lifecycle_test, renewal_signed_by_a_foreign_or_self_signed_certificate_fails) {
    test::service_lab other{service_config{}};
    auto stranger = test::make_requester({.subject = "CN=device-1,O=scep-lab tests"});
    issuer foreign(*other.pki, {}, {}, system_clock_fn());
    auto foreign_cert = foreign.issue(*stranger.csr);
    ASSERT_TRUE(foreign_cert);
    auto rep = send(message_type::renewal_req, x509_req_to_der(*stranger.csr), **foreign_cert, *stranger.key, "FOREIGN");
    EXPECT_EQ(rep.failure, fail_info::bad_message_check);
    EXPECT_NE(rep.fail_info_text.find("was not issued by this CA"), std::string::npos) << rep.fail_info_text;

    auto self = send(message_type::renewal_req, x509_req_to_der(*stranger.csr), *stranger.signer, *stranger.key, "SELF");
    EXPECT_EQ(self.failure, fail_info::bad_message_check);
    EXPECT_NE(self.fail_info_text.find("self-signed"), std::string::npos) << self.fail_info_text;
}

TEST_F(lifecycle_test, key_reuse_can_be_refused_and_replaced_certificates_revoked) {
    service_config c;
    c.renewal.allow_key_reuse = false;
    c.renewal.revoke_replaced = true;
    make_service(c);
    auto e = enroll();
    // Same key as the old certificate: refused.
    auto reuse = send(message_type::renewal_req, x509_req_to_der(*e.dev.csr), *e.cert, *e.dev.key, "REUSE");
    EXPECT_EQ(reuse.failure, fail_info::bad_request);
    EXPECT_NE(reuse.fail_info_text.find("new key"), std::string::npos);
    auto rep = renew(e, message_type::renewal_req, {.subject = "CN=device-1,O=scep-lab tests", .challenge = ""});
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto old = row(serial_hex(*e.cert));
    EXPECT_EQ(old->status, "revoked");
    EXPECT_EQ(old->revocation_reason, 4);
}

TEST_F(lifecycle_test, manual_approval_holds_then_issues_on_poll) {
    service_config c;
    c.approval.mode = approval_mode::manual;
    make_service(c);
    auto dev = test::make_requester({.challenge = "secret"});
    const std::string txid = "HOLD-1";
    auto first = send(message_type::pkcs_req, x509_req_to_der(*dev.csr), *dev.signer, *dev.key, txid);
    EXPECT_EQ(first.status, pki_status::pending);
    EXPECT_TRUE(first.envelope.empty());
    auto poll_data = encode_issuer_and_subject(*X509_get_subject_name(lab_.pki->issuing().cert.get()),
                                               *X509_REQ_get_subject_name(dev.csr.get()));
    EXPECT_EQ(send(message_type::cert_poll, poll_data, *dev.signer, *dev.key, txid).status, pki_status::pending);
    // Re-sending the PKCSReq (micromdm's way of polling) also says PENDING.
    EXPECT_EQ(send(message_type::pkcs_req, x509_req_to_der(*dev.csr), *dev.signer, *dev.key, txid).status,
              pki_status::pending);
    EXPECT_EQ(*lab_.store->count(), 0);

    ASSERT_EQ(*lab_.store->decide_pending(txid, true, ""), decide_outcome::decided);
    auto issued = send(message_type::cert_poll, poll_data, *dev.signer, *dev.key, txid);
    ASSERT_EQ(issued.status, pki_status::success) << issued.fail_info_text;
    // Polling again after the certificate was issued is a poll, not a retransmission.
    (void)send(message_type::cert_poll, poll_data, *dev.signer, *dev.key, txid);
    EXPECT_EQ(last_detail_, "poll: the certificate issued for this transaction");
    auto certs = decrypt_cert_rep(issued, *dev.signer, *dev.key);
    ASSERT_TRUE(certs);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(certs->front().get()), dev.key.get()), 1);
    // Polling again returns the same certificate.
    auto again = send(message_type::cert_poll, poll_data, *dev.signer, *dev.key, txid);
    auto certs2 = decrypt_cert_rep(again, *dev.signer, *dev.key);
    ASSERT_TRUE(certs2);
    EXPECT_EQ(X509_cmp(certs->front().get(), certs2->front().get()), 0);
    EXPECT_EQ(*lab_.store->count(), 1);
    EXPECT_EQ((*lab_.store->find_pending(txid))->status, "issued");
}

TEST_F(lifecycle_test, rejected_requests_fail_at_the_next_poll_and_unknown_polls_fail) {
    service_config c;
    c.approval.pending_subjects = {"CN=vip-.*"};
    make_service(c);
    auto normal = test::make_requester({.subject = "CN=laptop-7", .challenge = "secret"});
    EXPECT_EQ(send(message_type::pkcs_req, x509_req_to_der(*normal.csr), *normal.signer, *normal.key, "N").status,
              pki_status::success);
    auto vip = test::make_requester({.subject = "CN=vip-ceo", .challenge = "secret"});
    EXPECT_EQ(send(message_type::pkcs_req, x509_req_to_der(*vip.csr), *vip.signer, *vip.key, "V").status,
              pki_status::pending);
    ASSERT_EQ(*lab_.store->decide_pending("V", false, "not on the list"), decide_outcome::decided);
    EXPECT_EQ(*lab_.store->decide_pending("V", true, ""), decide_outcome::not_pending);
    auto poll_data = encode_issuer_and_subject(*X509_get_subject_name(lab_.pki->issuing().cert.get()),
                                               *X509_REQ_get_subject_name(vip.csr.get()));
    auto rep = send(message_type::cert_poll, poll_data, *vip.signer, *vip.key, "V");
    EXPECT_EQ(rep.failure, fail_info::bad_request);
    EXPECT_NE(rep.fail_info_text.find("not on the list"), std::string::npos);
    auto unknown = send(message_type::cert_poll, poll_data, *vip.signer, *vip.key, "NEVER-SEEN");
    EXPECT_EQ(unknown.failure, fail_info::bad_cert_id);
}

TEST_F(lifecycle_test, get_cert_returns_an_issued_certificate_or_bad_cert_id) {
    auto e = enroll();
    auto asker = test::make_requester();
    auto data = encode_issuer_and_serial(*X509_get_issuer_name(e.cert.get()), *X509_get0_serialNumber(e.cert.get()));
    auto rep = send(message_type::get_cert, data, *asker.signer, *asker.key, "GC1");
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto certs = decrypt_cert_rep(rep, *asker.signer, *asker.key);
    ASSERT_TRUE(certs);
    EXPECT_EQ(X509_cmp(certs->front().get(), e.cert.get()), 0);

    asn1_integer_ptr bogus(ASN1_INTEGER_new());
    ASN1_INTEGER_set(bogus.get(), 12345);
    auto missing = send(message_type::get_cert, encode_issuer_and_serial(*X509_get_issuer_name(e.cert.get()), *bogus),
                        *asker.signer, *asker.key, "GC2");
    EXPECT_EQ(missing.failure, fail_info::bad_cert_id);
    auto garbage = send(message_type::get_cert, bytes{1, 2, 3}, *asker.signer, *asker.key, "GC3");
    EXPECT_EQ(garbage.failure, fail_info::bad_request);
}

TEST_F(lifecycle_test, get_cert_and_get_crl_naming_the_ra_as_issuer_are_answered_for_the_issuing_ca) {
    auto e = enroll();
    auto asker = test::make_requester();
    const X509& ra = lab_.pki->ra_cert();
    ASSERT_NE(X509_NAME_cmp(X509_get_subject_name(&ra), X509_get_issuer_name(e.cert.get())), 0);
    // GetCert: the RA as issuer and the certificate's serial -> the certificate.
    auto by_ra = encode_issuer_and_serial(*X509_get_subject_name(&ra), *X509_get0_serialNumber(e.cert.get()));
    auto rep = send(message_type::get_cert, by_ra, *asker.signer, *asker.key, "RA1");
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto certs = decrypt_cert_rep(rep, *asker.signer, *asker.key);
    ASSERT_TRUE(certs && certs->size() == 1u);
    EXPECT_EQ(X509_cmp(certs->front().get(), e.cert.get()), 0);
    // The RA as issuer and the RA's own serial -> the RA certificate.
    auto ra_itself = encode_issuer_and_serial(*X509_get_subject_name(&ra), *X509_get0_serialNumber(&ra));
    auto rep2 = send(message_type::get_cert, ra_itself, *asker.signer, *asker.key, "RA2");
    ASSERT_EQ(rep2.status, pki_status::success) << rep2.fail_info_text;
    auto ra_back = decrypt_cert_rep(rep2, *asker.signer, *asker.key);
    ASSERT_TRUE(ra_back && ra_back->size() == 1u);
    EXPECT_EQ(X509_cmp(ra_back->front().get(), &ra), 0);
    // GetCRL: the RA as issuer -> the issuing CA's CRL.
    auto crl_rep = send(message_type::get_crl, by_ra, *asker.signer, *asker.key, "RA3");
    ASSERT_EQ(crl_rep.status, pki_status::success) << crl_rep.fail_info_text;
    auto contents = decrypt_cert_rep_contents(crl_rep, *asker.signer, *asker.key);
    ASSERT_TRUE(contents && contents->crls.size() == 1u);
    EXPECT_EQ(X509_CRL_verify(contents->crls.front().get(), X509_get0_pubkey(lab_.pki->issuing().cert.get())), 1);
    // Off: badCertId, as RFC 8894 reads.
    service_config strict;
    strict.ra_as_issuer = false;
    make_service(strict);
    EXPECT_EQ(send(message_type::get_cert, by_ra, *asker.signer, *asker.key, "RA4").failure, fail_info::bad_cert_id);
    EXPECT_EQ(send(message_type::get_crl, by_ra, *asker.signer, *asker.key, "RA5").failure, fail_info::bad_cert_id);
}

TEST_F(lifecycle_test, get_crl_lists_revoked_certificates_signed_by_the_ca) {
    auto kept = enroll("CN=kept");
    auto gone = enroll("CN=gone");
    ASSERT_EQ(*lab_.store->revoke(serial_hex(*gone.cert), 1, std::chrono::system_clock::now()), revoke_outcome::revoked);
    EXPECT_EQ(*lab_.store->revoke(serial_hex(*gone.cert), 1, std::chrono::system_clock::now()), revoke_outcome::already_revoked);
    auto asker = test::make_requester();
    auto data = encode_issuer_and_serial(*X509_get_issuer_name(kept.cert.get()), *X509_get0_serialNumber(kept.cert.get()));
    auto rep = send(message_type::get_crl, data, *asker.signer, *asker.key, "CRL1");
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    auto contents = decrypt_cert_rep_contents(rep, *asker.signer, *asker.key);
    ASSERT_TRUE(contents) << contents.message();
    ASSERT_EQ(contents->crls.size(), 1u);
    X509_CRL* crl = contents->crls.front().get();
    EXPECT_EQ(X509_CRL_verify(crl, X509_get0_pubkey(lab_.pki->issuing().cert.get())), 1);
    X509_REVOKED* entry = nullptr;
    EXPECT_EQ(X509_CRL_get0_by_serial(crl, &entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(gone.cert.get()))), 1);
    EXPECT_EQ(X509_CRL_get0_by_serial(crl, &entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(kept.cert.get()))), 0);

    auto unknown_ca = parse_subject("CN=Nobody CA");
    auto bad = send(message_type::get_crl, encode_issuer_and_serial(**unknown_ca, *X509_get0_serialNumber(kept.cert.get())),
                    *asker.signer, *asker.key, "CRL2");
    EXPECT_EQ(bad.failure, fail_info::bad_cert_id);
}

TEST_F(lifecycle_test, every_ca_tier_serves_a_signed_crl) {
    for (const auto& tier : lab_.pki->tiers()) {
        SCOPED_TRACE(tier.name);
        auto der = service_->crl(tier.name);
        ASSERT_TRUE(der) << der.message();
        const unsigned char* p = der->data();
        x509_crl_ptr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der->size())));
        ASSERT_TRUE(crl);
        EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(tier.cert.get())), 1);
        EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(tier.cert.get())), 0);
    }
    EXPECT_FALSE(service_->crl("nope"));
}

TEST(crl_reasons, names_round_trip) {
    EXPECT_EQ(*revocation_reason_from_name("keyCompromise"), 1);
    EXPECT_EQ(crl_reason_name(4), "superseded");
    EXPECT_FALSE(revocation_reason_from_name("stolen"));
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

TEST(rollover, next_ca_is_offered_then_activated_and_old_certificates_keep_working) {
    load_providers();
    test::temp_dir dir;
    auto spec = test::small_spec(2);
    auto now = std::chrono::system_clock::now();
    auto quiet = [](const std::string&) {};
    auto before = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(before) << before.message();
    issuer old_issuer(*before, {}, {}, system_clock_fn());
    auto dev = test::make_requester();
    auto old_cert = old_issuer.issue(*dev.csr);
    ASSERT_TRUE(old_cert);

    auto prepared = prepare_rollover(spec, dir.path(), now, false);
    ASSERT_TRUE(prepared) << prepared.message();
    EXPECT_FALSE(prepare_rollover(spec, dir.path(), now, false));  // only one next CA at a time

    auto with_next = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(with_next) << with_next.message();
    ASSERT_TRUE(with_next->next_issuing());
    const X509* next = with_next->next_issuing()->cert.get();
    EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(next), X509_get_subject_name(with_next->issuing().cert.get())), 0);
    EXPECT_NE(X509_cmp(next, with_next->issuing().cert.get()), 0);
    EXPECT_EQ(X509_verify(const_cast<X509*>(next), X509_get0_pubkey(&with_next->root_cert())), 1);

    // GetNextCACert: signed by the current CA, carrying the next RA and CA; advertised in GetCACaps.
    auto store = make_memory_store();
    issuer iss(*with_next, {}, {}, system_clock_fn());
    scep_service svc(*with_next, iss, *store, service_config{});
    EXPECT_NE(svc.get_ca_caps().body.find("GetNextCACert\n"), std::string::npos);
    auto reply = svc.get_next_ca_cert();
    ASSERT_EQ(reply.http_status, 200) << reply.body;
    EXPECT_EQ(reply.content_type, "application/x-x509-next-ca-cert");
    auto content = verify_signed_content(bytes(reply.body.begin(), reply.body.end()), *with_next->issuing().cert);
    ASSERT_TRUE(content) << content.message();
    auto certs = parse_degenerate(*content);
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 2u);
    EXPECT_EQ(X509_cmp(certs->at(0).get(), with_next->next_ra_cert()), 0);
    EXPECT_EQ(X509_cmp(certs->at(1).get(), next), 0);
    EXPECT_FALSE(verify_signed_content(bytes(reply.body.begin(), reply.body.end()), *with_next->next_ra_cert()));

    auto activated = activate_rollover(spec, dir.path());
    ASSERT_TRUE(activated) << activated.message();
    EXPECT_FALSE(activate_rollover(spec, dir.path()));  // nothing left to activate
    auto after = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(after) << after.message();
    EXPECT_EQ(X509_cmp(after->issuing().cert.get(), next), 0);
    EXPECT_FALSE(after->next_issuing());
    ASSERT_EQ(after->previous().size(), 1u);
    EXPECT_EQ(X509_verify(old_cert->get(), X509_get0_pubkey(after->previous().front().cert.get())), 1);
    // The CA chain file still lets certificates of the old CA verify.
    auto chain = x509_list_from_pem(*read_file(after->chain_file()));
    ASSERT_TRUE(chain);
    bool has_old = false;
    for (const auto& c : *chain) has_old |= X509_cmp(c.get(), after->previous().front().cert.get()) == 0;
    EXPECT_TRUE(has_old);
    // No next CA: GetNextCACert is 404 and not advertised.
    scep_service svc2(*after, iss, *store, service_config{});
    EXPECT_EQ(svc2.get_next_ca_cert().http_status, 404);
    EXPECT_EQ(svc2.get_ca_caps().body.find("GetNextCACert"), std::string::npos);
    // The old CA's CRL is still served.
    EXPECT_TRUE(svc2.crl(after->previous().front().name));
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

// A challenge verifier that swaps the service's PKI while a request is in
// the middle of being answered: what a live rollover looks like to a request
// that started before it.
class swapping_verifier final : public challenge_verifier {
public:
    std::function<void()> during;
    std::optional<challenge_refusal> verify(const challenge_context&) override {
        if (during) std::exchange(during, nullptr)();
        return std::nullopt;
    }
};

TEST(rollover, live_install_switches_new_requests_and_a_request_in_flight_finishes_with_the_old_pki) {
    load_providers();
    test::temp_dir dir;
    auto spec = test::small_spec(2);
    auto now = std::chrono::system_clock::now();
    auto quiet = [](const std::string&) {};
    auto first = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(first) << first.message();
    issuer iss(*first, {}, {}, system_clock_fn());
    auto store = make_memory_store();
    swapping_verifier verifier;
    scep_service svc(*first, iss, *store, service_config{}, system_clock_fn(), &verifier);
    EXPECT_EQ(svc.get_ca_caps().body.find("GetNextCACert"), std::string::npos);
    const std::string old_ca_cert = svc.get_ca_cert().body;
    x509_ptr old_ra = dup(first->ra_cert());
    x509_ptr old_issuing = dup(*first->issuing().cert);

    ASSERT_TRUE(prepare_rollover(spec, dir.path(), now, false));
    auto prepared = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(prepared);
    svc.install_pki(std::make_unique<hierarchy>(std::move(*prepared)));
    EXPECT_NE(svc.get_ca_caps().body.find("GetNextCACert"), std::string::npos);
    EXPECT_EQ(svc.get_next_ca_cert().http_status, 200);
    EXPECT_EQ(svc.get_ca_cert().body, old_ca_cert);  // a new RA is only offered, not used yet

    // Activation happens while a PKCSReq is being answered: that request is
    // still decrypted, issued and signed by the old CA and RA.
    ASSERT_TRUE(activate_rollover(spec, dir.path()));
    auto activated = hierarchy::open(spec, dir.path(), now, quiet);
    ASSERT_TRUE(activated);
    auto next = std::make_unique<hierarchy>(std::move(*activated));
    x509_ptr new_issuing = dup(*next->issuing().cert);
    x509_ptr new_ra = dup(next->ra_cert());
    ASSERT_NE(X509_cmp(new_issuing.get(), old_issuing.get()), 0);
    verifier.during = [&] { svc.install_pki(std::move(next)); };
    auto dev = test::make_requester();
    auto in_flight = svc.pki_operation(test::make_pkcs_req(dev, *old_ra, "IN-FLIGHT", bytes(16, 1)), "c");
    ASSERT_EQ(in_flight.status, pki_status::success) << in_flight.detail;
    auto rep = parse_cert_rep(bytes(in_flight.body.begin(), in_flight.body.end()), *old_ra);
    ASSERT_TRUE(rep) << "signed by the old RA: " << rep.message();
    auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
    ASSERT_TRUE(certs && !certs->empty());
    EXPECT_EQ(X509_verify(certs->front().get(), X509_get0_pubkey(old_issuing.get())), 1);

    // The next request sees the activated CA: new GetCACert, new RA, issued by the new CA.
    EXPECT_NE(svc.get_ca_cert().body, old_ca_cert);
    EXPECT_EQ(svc.get_next_ca_cert().http_status, 404);
    auto dev2 = test::make_requester({.subject = "CN=after"});
    auto after = svc.pki_operation(test::make_pkcs_req(dev2, *new_ra, "AFTER", bytes(16, 2)), "c");
    ASSERT_EQ(after.status, pki_status::success) << after.detail;
    auto rep2 = parse_cert_rep(bytes(after.body.begin(), after.body.end()), *new_ra);
    ASSERT_TRUE(rep2) << rep2.message();
    auto certs2 = decrypt_cert_rep(*rep2, *dev2.signer, *dev2.key);
    ASSERT_TRUE(certs2 && !certs2->empty());
    EXPECT_EQ(X509_verify(certs2->front().get(), X509_get0_pubkey(new_issuing.get())), 1);
    // A request still encrypted to the old RA is refused cleanly.
    auto stale = svc.pki_operation(test::make_pkcs_req(test::make_requester({.subject = "CN=stale"}), *old_ra, "STALE",
                                                       bytes(16, 3)),
                                   "c");
    EXPECT_EQ(stale.status, pki_status::failure);
    // The old CA's CRL is still served, and both certificates are in the store.
    EXPECT_TRUE(svc.crl(svc.pki().previous().front().name));
    auto rows = store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->size(), 2u);
}

TEST_F(lifecycle_test, a_renewal_checked_by_an_ndes_policy_module_gets_its_template_and_a_notify) {
    auto e = enroll();
    // An NDES-mode service whose challenge check is a policy module on a scripted transport.
    std::vector<std::string> calls;
    std::vector<std::string> bodies;
    webhook_transport fake = [&](const webhook_post& p) -> result<webhook_response> {
        calls.push_back(p.call);
        bodies.push_back(p.body);
        if (p.call == "GetTemplate") return webhook_response{200, R"({"template": "ShortLived"})"};
        if (p.call == "VerifyRequest") return webhook_response{200, R"({"verified": true})"};
        return webhook_response{200, "{}"};
    };
    ndes_policy_module module({"", "", true, true}, fake, [this] { return now_; }, nullptr);
    service_config c;
    c.ndes_replies = true;
    c.renewal.require_challenge = true;
    c.templates = test::ndes_template_slots("ShortLived", std::chrono::hours(24 * 7));
    service_.emplace(*lab_.pki, *lab_.iss, *lab_.store, c, [this] { return now_; }, &module);
    auto fresh = test::make_requester({.subject = "CN=device-1,O=scep-lab tests", .challenge = "intune-blob"});
    auto rep = send(message_type::renewal_req, x509_req_to_der(*fresh.csr), *e.cert, *e.dev.key, "RENEW-POLICY");
    ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    ASSERT_EQ(calls, (std::vector<std::string>{"GetTemplate", "VerifyRequest", "Notify"}));
    // VerifyRequest gets the renewal's signing certificate (pctbSigningCertEncoded).
    auto verify = boost::json::parse(bodies[1]).as_object();
    EXPECT_EQ(verify.at("message_type").as_string(), "RenewalReq");
    ASSERT_TRUE(verify.at("signing_cert").is_string());
    auto signer = base64_decode(std::string(verify.at("signing_cert").as_string()));
    ASSERT_TRUE(signer);
    EXPECT_EQ(*signer, x509_to_der(*e.cert));
    // The renewed certificate comes from the module's template (7 days, less
    // the profile's backdate), not the slot's (730 days).
    auto certs = decrypt_cert_rep(rep, *e.cert, *e.dev.key);
    ASSERT_TRUE(certs && !certs->empty());
    auto hours = std::chrono::duration_cast<std::chrono::hours>(
                     asn1_time_point(*X509_get0_notAfter(certs->front().get())) - now_)
                     .count();
    EXPECT_GE(hours, 24 * 7 - 1);
    EXPECT_LE(hours, 24 * 7);
    auto notify = boost::json::parse(bodies[2]).as_object();
    EXPECT_EQ(notify.at("disposition").as_int64(), 0);
    auto issued = base64_decode(std::string(notify.at("issued_cert").as_string()));
    ASSERT_TRUE(issued);
    EXPECT_EQ(*issued, x509_to_der(*certs->front()));
}

}  // namespace
}  // namespace scep
