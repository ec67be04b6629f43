// NDES mode in the service: the RA pair, GetCACert order and chain quirks,
// template slots chosen by the CSR's keyUsage, the UTF8String challenge
// refusal, subject rules, forced failures and the expired-RA quirk.
#include <gtest/gtest.h>

#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

hierarchy_spec pair_spec(int tiers = 3) {
    auto spec = test::small_spec(tiers);
    spec.ra.ndes_pair = true;
    return spec;
}

std::vector<std::string> subjects(const service_reply& r) {
    std::vector<std::string> out;
    auto certs = parse_degenerate(bytes(r.body.begin(), r.body.end()));
    EXPECT_TRUE(certs) << certs.message();
    if (!certs) return out;
    for (const auto& c : *certs) out.push_back(name_to_string(*X509_get_subject_name(c.get())));
    return out;
}

std::string subject_of(const X509& c) { return name_to_string(*X509_get_subject_name(&c)); }

unsigned key_usage(const X509& c) { return X509_get_key_usage(const_cast<X509*>(&c)); }

std::string eku_text(const X509& c) {
    extended_key_usage_ptr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(&c, NID_ext_key_usage, nullptr, nullptr)));
    std::string out;
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
        char buf[80];
        OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku.get(), i), 1);
        out += (out.empty() ? "" : ",") + std::string(buf);
    }
    return out;
}

// Enrolls `dev` (encrypting to the pair's encryption certificate).
using outcome = test::enrollment;
outcome enroll(test::service_lab& lab, const test::requester& dev) { return test::enroll_through(lab, dev); }

// A FAILURE with `info` whose text mentions `why`, and an empty store.
void expect_refused(test::service_lab& lab, const outcome& o, fail_info info, const std::string& why) {
    EXPECT_EQ(o.rep.status, pki_status::failure);
    EXPECT_EQ(o.rep.failure, info);
    EXPECT_NE(o.rep.fail_info_text.find(why), std::string::npos) << o.rep.fail_info_text;
    auto rows = lab.store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_TRUE(rows->empty());
}

TEST(ndes_mode, ra_pair_is_a_signing_and_an_encryption_certificate_from_the_issuing_ca) {
    test::service_lab lab(service_config{}, pair_spec());
    const hierarchy& h = *lab.pki;
    ASSERT_TRUE(h.ndes_pair());
    const X509& sign = h.ra_cert();
    const X509& enc = h.ra_encryption_cert();
    EXPECT_EQ(key_usage(sign) & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT), unsigned(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(key_usage(enc) & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT), unsigned(KU_KEY_ENCIPHERMENT));
    EXPECT_EQ(eku_text(sign), "1.3.6.1.4.1.311.20.2.1");
    EXPECT_EQ(eku_text(enc), "1.3.6.1.4.1.311.20.2.1");
    EXPECT_EQ(subject_of(sign), "CN=SCEPLAB-MSCEP-RA,O=scep-lab");
    EXPECT_EQ(subject_of(enc), subject_of(sign));
    EXPECT_NE(serial_hex(sign), serial_hex(enc));
    for (const X509* c : {&sign, &enc}) {
        EXPECT_EQ(X509_check_ca(const_cast<X509*>(c)), 0);
        EXPECT_EQ(X509_verify(const_cast<X509*>(c), X509_get0_pubkey(h.issuing().cert.get())), 1);
    }
    EXPECT_TRUE(std::filesystem::exists(lab.dir.path() / "ndes-ra-sign.key"));
    EXPECT_TRUE(std::filesystem::exists(lab.dir.path() / "ndes-ra-enc.crt"));
    EXPECT_FALSE(std::filesystem::exists(lab.dir.path() / "ra.crt"));  // the plain RA is not made for NDES

    // A second start loads the same pair; switching NDES off makes the plain RA beside it.
    auto again = hierarchy::open(pair_spec(), lab.dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(serial_hex(again->ra_cert()), serial_hex(sign));
    EXPECT_EQ(serial_hex(again->ra_encryption_cert()), serial_hex(enc));
    auto plain = hierarchy::open(test::small_spec(3), lab.dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(plain) << plain.message();
    EXPECT_FALSE(plain->ndes_pair());
    EXPECT_TRUE(std::filesystem::exists(lab.dir.path() / "ra.crt"));
}

TEST(ndes_mode, requests_are_decrypted_with_the_encryption_certificate_and_answered_with_the_signing_one) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg, pair_spec(2));
    auto dev = test::make_requester({.challenge = "secret"});
    auto o = enroll(lab, dev);  // parse_cert_rep verified it against ra_cert(): the signing one
    EXPECT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    ASSERT_TRUE(o.cert);

    // Encrypted to the signing certificate instead: NDES cannot decrypt it either.
    auto der = test::make_pkcs_req(dev, lab.pki->ra_cert(), make_transaction_id(), bytes(16, 4));
    auto reply = lab.service->pki_operation(der, "test");
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
    ASSERT_TRUE(rep) << rep.message();
    EXPECT_EQ(rep->status, pki_status::failure);
    EXPECT_EQ(rep->failure, fail_info::bad_message_check);
}

TEST(ndes_mode, get_ca_cert_order_and_incomplete_chains) {
    service_config ra_first;
    test::service_lab a(ra_first, pair_spec());
    auto names = subjects(a.service->get_ca_cert());
    ASSERT_EQ(names.size(), 5u);
    EXPECT_EQ(names[0], "CN=SCEPLAB-MSCEP-RA,O=scep-lab");
    EXPECT_EQ(names[1], "CN=SCEPLAB-MSCEP-RA,O=scep-lab");
    EXPECT_EQ(names[2], subject_of(*a.pki->issuing().cert));
    EXPECT_EQ(names[4], subject_of(a.pki->root_cert()));

    service_config ca_first;
    ca_first.ca_cert_order = service_config::order::ca_first;
    test::service_lab b(ca_first, pair_spec());
    names = subjects(b.service->get_ca_cert());
    ASSERT_EQ(names.size(), 5u);
    EXPECT_EQ(names[0], subject_of(*b.pki->issuing().cert));
    EXPECT_EQ(names[2], subject_of(b.pki->root_cert()));
    EXPECT_EQ(names[3], "CN=SCEPLAB-MSCEP-RA,O=scep-lab");
    // The signing certificate comes before the encryption one.
    const std::string body = b.service->get_ca_cert().body;
    auto certs = parse_degenerate(bytes(body.begin(), body.end()));
    ASSERT_TRUE(certs);
    EXPECT_EQ(serial_hex(*(*certs)[3]), serial_hex(b.pki->ra_cert()));
    EXPECT_EQ(serial_hex(*(*certs)[4]), serial_hex(b.pki->ra_encryption_cert()));

    service_config issuing_only;
    issuing_only.chain_issuing_only = true;
    test::service_lab c(issuing_only, pair_spec());
    names = subjects(c.service->get_ca_cert());
    ASSERT_EQ(names.size(), 3u);
    EXPECT_EQ(names[2], subject_of(*c.pki->issuing().cert));

    service_config no_root;
    no_root.include_root_in_ca_chain = false;
    test::service_lab d(no_root, pair_spec());
    names = subjects(d.service->get_ca_cert());
    ASSERT_EQ(names.size(), 4u);
    for (const auto& n : names) EXPECT_NE(n, subject_of(d.pki->root_cert()));
}

TEST(ndes_mode, template_slot_follows_the_csr_key_usage) {
    auto csr_with = [](const char* ku) {
        auto r = test::make_requester({.extra_ext = {std::string("keyUsage=critical,") + ku}});
        return select_template_slot(*r.csr);
    };
    EXPECT_EQ(csr_with("digitalSignature"), template_slot::signature);
    EXPECT_EQ(csr_with("keyEncipherment"), template_slot::encryption);
    EXPECT_EQ(csr_with("digitalSignature,keyEncipherment"), template_slot::general_purpose);
    EXPECT_EQ(csr_with("digitalSignature,nonRepudiation"), template_slot::signature);
    EXPECT_EQ(select_template_slot(*test::make_requester().csr), template_slot::general_purpose);
}

TEST(ndes_mode, three_csrs_get_the_three_template_profiles) {
    service_config cfg;
    cfg.challenge = "secret";
    template_slots t;
    t.signature.name = "LabSignature";
    t.signature.key_usage = {"digitalSignature"};
    t.signature.extended_key_usage = {"clientAuth"};
    t.signature.validity = std::chrono::hours(24 * 30);
    t.encryption.name = "LabEncryption";
    t.encryption.key_usage = {"keyEncipherment"};
    t.encryption.extended_key_usage = {"emailProtection"};
    t.encryption.validity = std::chrono::hours(24 * 60);
    t.general_purpose.name = "LabGeneral";
    t.general_purpose.key_usage = {"digitalSignature", "keyEncipherment"};
    t.general_purpose.extended_key_usage = {"clientAuth", "serverAuth"};
    t.general_purpose.validity = std::chrono::hours(24 * 90);
    cfg.templates = t;
    test::service_lab lab(cfg, pair_spec(2));

    struct want {
        const char* csr_ku;
        unsigned ku;
        const char* eku;
        int days;
        const char* name;
    };
    for (const want& w : {want{"digitalSignature", KU_DIGITAL_SIGNATURE, "1.3.6.1.5.5.7.3.2", 30, "LabSignature"},
                          want{"keyEncipherment", KU_KEY_ENCIPHERMENT, "1.3.6.1.5.5.7.3.4", 60, "LabEncryption"},
                          want{"digitalSignature,keyEncipherment", KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
                               "1.3.6.1.5.5.7.3.2,1.3.6.1.5.5.7.3.1", 90, "LabGeneral"}}) {
        SCOPED_TRACE(w.csr_ku);
        auto dev = test::make_requester(
            {.challenge = "secret", .extra_ext = {std::string("keyUsage=critical,") + w.csr_ku}});
        auto der = test::make_pkcs_req(dev, lab.pki->ra_encryption_cert(), make_transaction_id(), bytes(16, 5));
        auto reply = lab.service->pki_operation(der, "test");
        EXPECT_NE(reply.detail.find(std::string("template ") + w.name), std::string::npos) << reply.detail;
        auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
        ASSERT_TRUE(rep) << rep.message();
        ASSERT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
        auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
        ASSERT_TRUE(certs && !certs->empty());
        const X509& c = *certs->front();
        EXPECT_EQ(key_usage(c) & 0xffu, w.ku);
        EXPECT_EQ(eku_text(c), w.eku);
        int days = 0, secs = 0;
        ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(&c), X509_get0_notAfter(&c)), 1);
        // notBefore is backdated by five minutes.
        EXPECT_EQ(days, w.days);
    }
}

TEST(ndes_mode, a_utf8string_challenge_is_refused_with_bad_request_before_the_password_is_checked) {
    service_config cfg;
    cfg.challenge = "secret";
    cfg.reject_utf8_challenge = true;
    test::service_lab lab(cfg, pair_spec(2));
    auto utf8 = enroll(lab, test::make_requester({.challenge = "secret", .challenge_as_utf8 = true}));
    EXPECT_EQ(utf8.rep.status, pki_status::failure);
    EXPECT_EQ(utf8.rep.failure, fail_info::bad_request);
    EXPECT_NE(utf8.rep.fail_info_text.find("UTF8String"), std::string::npos) << utf8.rep.fail_info_text;
    auto printable = enroll(lab, test::make_requester({.challenge = "secret"}));
    EXPECT_EQ(printable.rep.status, pki_status::success) << printable.rep.fail_info_text;

    // With the setting off, the same UTF8String challenge is accepted.
    service_config lenient = cfg;
    lenient.reject_utf8_challenge = false;
    test::service_lab other(lenient, pair_spec(2));
    auto ok = enroll(other, test::make_requester({.challenge = "secret", .challenge_as_utf8 = true}));
    EXPECT_EQ(ok.rep.status, pki_status::success) << ok.rep.fail_info_text;
}

TEST(ndes_mode, required_subject_rdns_are_enforced) {
    service_config cfg;
    cfg.challenge = "secret";
    template_slots t;
    t.general_purpose.name = "NeedsOU";
    t.general_purpose.required_subject = {"CN", "OU"};
    t.signature = t.encryption = t.general_purpose;
    cfg.templates = t;
    test::service_lab lab(cfg, pair_spec(2));
    auto missing = enroll(lab, test::make_requester({.subject = "CN=dev,O=x", .challenge = "secret"}));
    EXPECT_EQ(missing.rep.failure, fail_info::bad_request);
    EXPECT_NE(missing.rep.fail_info_text.find("has no OU"), std::string::npos) << missing.rep.fail_info_text;
    auto present = enroll(lab, test::make_requester({.subject = "CN=dev,OU=lab,O=x", .challenge = "secret"}));
    EXPECT_EQ(present.rep.status, pki_status::success) << present.rep.fail_info_text;
}

TEST(ndes_mode, forced_fail_info_answers_every_operation_with_it) {
    service_config cfg;
    cfg.challenge = "secret";
    cfg.forced_failure = fail_info::bad_time;
    test::service_lab lab(cfg, pair_spec(2));
    expect_refused(lab, enroll(lab, test::make_requester({.challenge = "secret"})), fail_info::bad_time,
                   "quirks.fail_info");
}

TEST(ndes_mode, a_request_signed_with_an_ec_key_gets_bad_alg_with_ec_requesters_refuse_and_nothing_is_issued) {
    service_config cfg;
    cfg.challenge = "secret";
    cfg.ec_requesters = service_config::ec_mode::refuse;
    test::service_lab lab(cfg, pair_spec(2));
    expect_refused(lab, enroll(lab, test::make_requester({.challenge = "secret", .key = key_type::ec_p256})),
                   fail_info::bad_alg, "ec_requesters = \"refuse\"");
}

TEST(ndes_mode, a_request_signed_with_an_ec_key_is_issued_with_a_key_agreement_envelope_to_the_pair) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg, pair_spec(2));
    auto dev = test::make_requester({.challenge = "secret", .key = key_type::ec_p384});
    auto o = enroll(lab, dev);
    ASSERT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    ASSERT_TRUE(o.cert);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(o.cert.get()), dev.key.get()), 1);
}

TEST(ndes_mode, expired_ra_quirk_serves_and_signs_with_an_expired_copy_of_the_pair) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg, pair_spec(2));
    auto now = std::chrono::system_clock::now();
    std::string sign_key = to_hex(public_key_sha256(*X509_get0_pubkey(&lab.pki->ra_cert())));
    ASSERT_TRUE(lab.pki->expire_ra(now));
    // As `serve` does: the quirk is applied before the service is built.
    lab.service.emplace(*lab.pki, *lab.iss, *lab.store, cfg);
    for (const X509* c : lab.pki->ra_certs()) {
        EXPECT_LT(asn1_time_point(*X509_get0_notAfter(c)), now);
        EXPECT_EQ(X509_verify(const_cast<X509*>(c), X509_get0_pubkey(lab.pki->issuing().cert.get())), 1);
    }
    EXPECT_EQ(to_hex(public_key_sha256(*X509_get0_pubkey(&lab.pki->ra_cert()))), sign_key);
    EXPECT_EQ(key_usage(lab.pki->ra_encryption_cert()) & KU_KEY_ENCIPHERMENT, unsigned(KU_KEY_ENCIPHERMENT));
    const std::string body = lab.service->get_ca_cert().body;
    auto served = parse_degenerate(bytes(body.begin(), body.end()));
    ASSERT_TRUE(served);
    EXPECT_EQ(serial_hex(*served->front()), serial_hex(lab.pki->ra_cert()));
    // The service still works with it: the quirk is about what clients accept.
    auto o = enroll(lab, test::make_requester({.challenge = "secret"}));
    EXPECT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    // Nothing on disk changed.
    auto reopened = hierarchy::open(pair_spec(2), lab.dir.path(), now, [](auto&) {});
    ASSERT_TRUE(reopened);
    EXPECT_GT(asn1_time_point(*X509_get0_notAfter(&reopened->ra_cert())), now);
}

}  // namespace
}  // namespace scep
