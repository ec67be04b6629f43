#include "pki/ca/issuer.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace scep {
namespace {

class issuer_test : public ::testing::Test {
protected:
    void SetUp() override {
        auto h = hierarchy::open(test::small_spec(2), dir_.path(), std::chrono::system_clock::now(), [](auto&) {});
        ASSERT_TRUE(h) << h.message();
        pki_.emplace(std::move(*h));
    }
    test::temp_dir dir_;
    std::optional<hierarchy> pki_;
    time_point now_ = std::chrono::system_clock::now();
    clock_fn fixed_clock() {
        return [t = now_] { return t; };
    }
};

TEST_F(issuer_test, copies_subject_and_sans_and_applies_the_profile) {
    issuance_profile profile;
    profile.key_usage = {"digitalSignature"};
    profile.extended_key_usage = {"clientAuth", "serverAuth", "1.3.6.1.4.1.311.20.2.2"};
    issuer iss(*pki_, profile, {}, fixed_clock());
    auto dev = test::make_requester({.dns_names = {"a.lab", "b.lab"}});
    auto cert = iss.issue(*dev.csr);
    ASSERT_TRUE(cert) << cert.message();
    EXPECT_EQ(name_to_string(*X509_get_subject_name(cert->get())), "CN=device-1,O=scep-lab tests");
    EXPECT_EQ(subject_alt_names(**cert), "DNS:a.lab,DNS:b.lab");
    EXPECT_EQ(X509_get_key_usage(cert->get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    uint32_t xku = X509_get_extended_key_usage(cert->get());
    EXPECT_TRUE(xku & XKU_SSL_CLIENT);
    EXPECT_TRUE(xku & XKU_SSL_SERVER);
    EXPECT_EQ(X509_check_ca(cert->get()), 0);
    EXPECT_EQ(X509_verify(cert->get(), X509_get0_pubkey(pki_->issuing().cert.get())), 1);
    // AKI of the leaf is the issuing CA's SKI.
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert->get());
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(pki_->issuing().cert.get());
    ASSERT_TRUE(aki && ski);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, ski), 0);
}

TEST_F(issuer_test, validity_can_be_minutes_and_is_backdated) {
    issuance_profile profile;
    profile.validity = std::chrono::minutes(10);
    profile.backdate = std::chrono::minutes(1);
    issuer iss(*pki_, profile, {}, fixed_clock());
    auto dev = test::make_requester();
    auto cert = iss.issue(*dev.csr);
    ASSERT_TRUE(cert);
    auto nb = asn1_time_point(*X509_get0_notBefore(cert->get()));
    auto na = asn1_time_point(*X509_get0_notAfter(cert->get()));
    auto secs = [](auto d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); };
    EXPECT_NEAR(secs(na - nb), 11 * 60, 1);
    EXPECT_NEAR(secs(now_ - nb), 60, 1);
}

TEST_F(issuer_test, never_outlives_the_issuing_ca) {
    issuance_profile profile;
    profile.validity = std::chrono::hours(24 * 365 * 50);
    issuer iss(*pki_, profile, {}, fixed_clock());
    auto dev = test::make_requester();
    auto cert = iss.issue(*dev.csr);
    ASSERT_TRUE(cert);
    EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(cert->get()), X509_get0_notAfter(pki_->issuing().cert.get())),
              0);
}

TEST_F(issuer_test, serials_are_random_positive_and_128_bits) {
    issuer iss(*pki_, {}, {}, fixed_clock());
    auto dev = test::make_requester();
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) {
        auto cert = iss.issue(*dev.csr);
        ASSERT_TRUE(cert);
        const ASN1_INTEGER* serial = X509_get0_serialNumber(cert->get());
        EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
        EXPECT_EQ(ASN1_STRING_length(serial), 16);
        seen.insert(serial_hex(**cert));
    }
    EXPECT_EQ(seen.size(), 20u);
}

TEST_F(issuer_test, accepts_ec_keys_at_the_minimum_and_rejects_a_tampered_csr) {
    issuer iss(*pki_, {}, {}, fixed_clock());
    auto ec = test::make_requester({.key = key_type::ec_p256});
    EXPECT_TRUE(iss.check_csr(*ec.csr));
    issuer strict(*pki_, {}, csr_policy{2048, 384}, fixed_clock());
    auto f = strict.check_csr(*ec.csr);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("EC key of 256 bits"), std::string::npos);

    auto dev = test::make_requester();
    auto other = test::make_requester();
    X509_REQ_set_pubkey(dev.csr.get(), other.key.get());  // signature no longer matches
    auto tampered = iss.check_csr(*dev.csr);
    ASSERT_FALSE(tampered);
    EXPECT_NE(tampered.message().find("proof of possession"), std::string::npos);
}

TEST_F(issuer_test, reads_the_challenge_and_its_string_type) {
    auto printable = test::make_requester({.challenge = "abc123"});
    auto c = csr_challenge(*printable.csr);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->value, "abc123");
    EXPECT_EQ(c->asn1_type, V_ASN1_PRINTABLESTRING);
    auto utf8 = test::make_requester({.challenge = "abc123", .challenge_as_utf8 = true});
    auto u = csr_challenge(*utf8.csr);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->value, "abc123");
    EXPECT_EQ(u->asn1_type, V_ASN1_UTF8STRING);
    auto none = test::make_requester({.challenge = ""});
    EXPECT_FALSE(csr_challenge(*none.csr));
}

TEST_F(issuer_test, refuses_rsa_exponents_that_let_anyone_sign) {
    issuer iss(*pki_, {}, {}, fixed_clock());
    struct case_t {
        unsigned long e;
        const char* refusal;  // nullptr: accepted
    };
    for (const auto& c : {case_t{1, "exponent 1 is refused"}, case_t{2, "exponent 2 is refused"},
                          case_t{3, nullptr}, case_t{65537, nullptr}}) {
        SCOPED_TRACE(c.e);
        auto key = test::rsa_key_with_exponent(c.e);
        auto csr = test::make_csr(*key, "CN=device-1");
        auto f = iss.check_csr(*csr);
        if (!c.refusal) {
            EXPECT_TRUE(f) << f.message();
            continue;
        }
        ASSERT_FALSE(f);
        EXPECT_NE(f.message().find(c.refusal), std::string::npos) << f.message();
    }
    // A higher floor refuses e = 3 with the setting's name.
    issuer strict(*pki_, {}, csr_policy{.min_rsa_exponent = 65537}, fixed_clock());
    auto three = test::make_csr(*test::rsa_key_with_exponent(3), "CN=device-1");
    auto f = strict.check_csr(*three);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("min_rsa_exponent"), std::string::npos) << f.message();
}

TEST_F(issuer_test, the_e1_csr_signature_verifies_without_any_private_key) {
    // Why e = 1 must be refused: the "signature" made with d = 1 verifies.
    auto key = test::rsa_key_with_exponent(1);
    auto csr = test::make_csr(*key, "CN=forged");
    EXPECT_EQ(X509_REQ_verify(csr.get(), key.get()), 1);
}

TEST_F(issuer_test, refuses_ec_keys_with_explicit_curve_parameters) {
    issuer iss(*pki_, {}, {}, fixed_clock());
    auto explicit_key = test::ec_key_with_explicit_curve();
    auto csr = test::make_csr(*explicit_key, "CN=device-1");
    auto f = iss.check_csr(*csr);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("explicit curve parameters"), std::string::npos) << f.message();
    auto named = generate_key(key_type::ec_p256);
    EXPECT_TRUE(iss.check_csr(*test::make_csr(**named, "CN=device-1")));
}

TEST_F(issuer_test, md5_signed_csrs_need_the_legacy_setting_and_sha1_stays_accepted) {
    auto key = generate_key(key_type::rsa2048);
    auto md5 = test::make_csr(**key, "CN=old-device", {}, "", EVP_md5());
    issuer iss(*pki_, {}, {}, fixed_clock());
    auto f = iss.check_csr(*md5);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("MD5"), std::string::npos) << f.message();
    issuer legacy(*pki_, {}, csr_policy{.allow_md5 = true}, fixed_clock());
    auto ok = legacy.check_csr(*md5);
    EXPECT_TRUE(ok) << ok.message();
    EXPECT_TRUE(iss.check_csr(*test::make_csr(**key, "CN=older-device", {}, "", EVP_sha1())));
}

// Hardening round two: RSASSA-PSS names its digests in its parameters; an
// MD5 hash or MGF1 hash there was issued (the parameters were never read).
// OpenSSL 3 will not sign PSS with MD5, so the CSR is signed with SHA-256 and
// its parameters rewritten to name MD5, as a hostile client sends them (the
// digest rule comes before the signature check).
x509_req_ptr pss_csr(const EVP_PKEY& key, const EVP_MD* md, const EVP_MD* mgf1_md) {
    return test::make_pss_csr(key, "pss-device", md, mgf1_md);
}

TEST_F(issuer_test, rsassa_pss_digests_meet_the_same_md5_rule) {
    auto key = generate_key(key_type::rsa2048);
    issuer iss(*pki_, {}, {}, fixed_clock());
    EXPECT_EQ(X509_REQ_get_signature_nid(pss_csr(**key, EVP_sha256(), EVP_sha256()).get()), NID_rsassaPss);
    auto good = iss.check_csr(*pss_csr(**key, EVP_sha256(), EVP_sha256()));
    EXPECT_TRUE(good) << good.message();
    for (auto [md, mgf] : {std::pair{EVP_md5(), EVP_sha256()}, std::pair{EVP_sha256(), EVP_md5()}}) {
        auto f = iss.check_csr(*pss_csr(**key, md, mgf));
        ASSERT_FALSE(f);
        EXPECT_NE(f.message().find("MD5 (in its RSASSA-PSS parameters)"), std::string::npos) << f.message();
    }
    // With the legacy setting the digest rule lets it through (to the
    // signature check, which these rewritten parameters then fail).
    issuer legacy(*pki_, {}, csr_policy{.allow_md5 = true}, fixed_clock());
    auto f = legacy.check_csr(*pss_csr(**key, EVP_md5(), EVP_md5()));
    ASSERT_FALSE(f);
    EXPECT_EQ(f.message().find("MD5"), std::string::npos) << f.message();
    EXPECT_NE(f.message().find("does not verify"), std::string::npos) << f.message();
}

TEST_F(issuer_test, subject_attributes_stay_within_rfc_5280_upper_bounds) {
    issuer iss(*pki_, {}, {}, fixed_clock());
    auto key = generate_key(key_type::rsa2048);
    auto csr = [&](std::vector<std::pair<int, std::string>> rdns) { return test::make_csr_with_rdns(**key, rdns); };
    // 65 characters of O (ub-organization-name is 64); the CN was the only bound before.
    auto f = iss.check_csr(*csr({{NID_commonName, "dev"}, {NID_organizationName, std::string(65, 'o')}}));
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("O has 65 characters; at most 64"), std::string::npos) << f.message();
    auto at_bound = iss.check_csr(
        *csr({{NID_commonName, "dev"}, {NID_organizationName, std::string(64, 'o')}, {NID_countryName, "DE"}}));
    EXPECT_TRUE(at_bound) << at_bound.message();
    f = iss.check_csr(*csr({{NID_commonName, "dev"}, {NID_countryName, "DEU"}}));
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("C has 3 characters; at most 2"), std::string::npos) << f.message();
    // 200,000 characters (was issued): refused by the whole-subject bound first.
    auto huge = csr({{NID_commonName, "dev"}, {NID_organizationName, std::string(200000, 'o')}});
    f = iss.check_csr(*huge);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("at most 4096 are accepted"), std::string::npos) << f.message();
    EXPECT_EQ(subject_for_matching(*X509_REQ_get_subject_name(huge.get())), "");
}

TEST_F(issuer_test, refuses_a_subject_over_the_limits) {
    issuer iss(*pki_, {}, csr_policy{.names = {.max_cn_length = 10}}, fixed_clock());
    auto dev = test::make_requester({.subject = "CN=a-common-name-of-many-characters"});
    auto f = iss.check_csr(*dev.csr);
    ASSERT_FALSE(f);
    EXPECT_NE(f.message().find("max_cn_length"), std::string::npos) << f.message();
}

// Found by fuzz_csr_policy (tests/data/csr-eoc-parameter.der): a key
// algorithm parameter `20 00` ([UNIVERSAL 0], constructed, empty) is read by
// OpenSSL but written back as `00 00`, which it then refuses. Such a CSR would
// have been held as bytes nobody can read; it is refused instead.
TEST_F(issuer_test, a_csr_that_does_not_read_back_without_its_challenge_is_refused) {
    auto der = read_file(SCEP_LAB_SOURCE_DIR "/tests/data/csr-eoc-parameter.der");
    ASSERT_TRUE(der) << der.message();
    auto csr = x509_req_from_der(bytes(der->begin(), der->end()));
    ASSERT_TRUE(csr) << csr.message();  // it does parse
    auto kept = csr_without_challenge(**csr);
    ASSERT_FALSE(kept);
    EXPECT_NE(kept.message().find("does not read back"), std::string::npos) << kept.message();
}

TEST_F(issuer_test, pending_csrs_are_kept_without_the_challenge) {
    auto dev = test::make_requester({.challenge = "very-secret-challenge"});
    auto kept_or = csr_without_challenge(*dev.csr);
    ASSERT_TRUE(kept_or) << kept_or.message();
    const bytes& kept = *kept_or;
    std::string text(kept.begin(), kept.end());
    EXPECT_EQ(text.find("very-secret-challenge"), std::string::npos);
    auto back = x509_req_from_der(kept);
    ASSERT_TRUE(back);
    EXPECT_FALSE(csr_challenge(**back));
    EXPECT_EQ(X509_NAME_cmp(X509_REQ_get_subject_name(back->get()), X509_REQ_get_subject_name(dev.csr.get())), 0);
    // Still issuable: same key and subject.
    issuer iss(*pki_, {}, {}, fixed_clock());
    EXPECT_TRUE(iss.issue(**back));
}

TEST(issuer, signature_algorithm_follows_the_issuing_ca_key) {
    struct case_t {
        key_type ca_key;
        int expected_nid;
    };
    for (auto c : {case_t{key_type::rsa2048, NID_sha256WithRSAEncryption},
                   case_t{key_type::ec_p256, NID_ecdsa_with_SHA256},
                   case_t{key_type::ec_p384, NID_ecdsa_with_SHA384}}) {
        SCOPED_TRACE(std::string(to_string(c.ca_key)));
        test::temp_dir dir;
        auto h = hierarchy::open(test::small_spec(2, false, c.ca_key), dir.path(), std::chrono::system_clock::now(),
                                 [](auto&) {});
        ASSERT_TRUE(h) << h.message();
        issuer iss(*h, {}, {}, system_clock_fn());
        auto dev = test::make_requester();
        auto cert = iss.issue(*dev.csr);
        ASSERT_TRUE(cert) << cert.message();
        EXPECT_EQ(X509_get_signature_nid(cert->get()), c.expected_nid);
        EXPECT_EQ(X509_verify(cert->get(), X509_get0_pubkey(h->issuing().cert.get())), 1);
    }
}

TEST(issuance_profile, validation_names_the_bad_entry) {
    issuance_profile p;
    p.key_usage = {"digitalSignature", "signEverything"};
    auto r = validate(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("signEverything"), std::string::npos);
    p.key_usage = {};
    p.extended_key_usage = {"clientAuth", "notAnEku"};
    r = validate(p);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("notAnEku"), std::string::npos);
    p.extended_key_usage = {"1.3.6.1.5.5.7.3.2"};
    EXPECT_TRUE(validate(p));
}

}  // namespace
}  // namespace scep
