// The names a CSR asks for: parsed, checked and rebuilt (pki/ca/names.hpp).
#include "pki/ca/names.hpp"

#include <gtest/gtest.h>

#include <openssl/x509v3.h>

#include "pki/ca/issuer.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

using test::general_names_der;

x509_req_ptr csr_with_san(const bytes& san_der, const std::string& subject = "CN=device-1") {
    static const auto key = generate_key(key_type::ec_p256);
    return test::make_csr(**key, subject, {{NID_subject_alt_name, san_der}});
}

TEST(names, accepts_and_rebuilds_the_usual_entries) {
    auto csr = test::make_requester({.dns_names = {"dev.example.com", "Host-2.lab"}});
    auto sans = requested_sans(*csr.csr, {});
    ASSERT_TRUE(sans) << sans.message();
    ASSERT_EQ(sans->size(), 2u);
    EXPECT_EQ(to_string((*sans)[0]), "DNS:dev.example.com");
    auto ext = build_san_extension(*sans, false);
    ASSERT_TRUE(ext) << ext.message();
    general_names_ptr back(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext->get())));
    ASSERT_TRUE(back);
    EXPECT_EQ(sk_GENERAL_NAME_num(back.get()), 2);
}

TEST(names, refuses_hostile_subject_alt_names) {
    struct case_t {
        const char* name;
        bytes der;
        const char* reason;
    };
    std::vector<case_t> cases{
        {"nul_inside_a_dns_name", general_names_der({{GEN_DNS, std::string("good.com\0.evil.com", 18)}}), "NUL"},
        {"lone_wildcard", general_names_der({{GEN_DNS, "*"}}), "wildcard"},
        {"double_wildcard", general_names_der({{GEN_DNS, "*.*.com"}}), "'*' that is not the whole leftmost"},
        {"wildcard_by_default", general_names_der({{GEN_DNS, "*.example.com"}}), "allow_wildcards"},
        {"partial_wildcard", general_names_der({{GEN_DNS, "w*.example.com"}}), "'*' that is not"},
        {"space_in_dns", general_names_der({{GEN_DNS, "a b.com"}}), "space"},
        {"underscore_in_dns", general_names_der({{GEN_DNS, "a_b.com"}}), "letters, digits"},
        {"empty_label", general_names_der({{GEN_DNS, "a..com"}}), "empty label"},
        {"leading_hyphen", general_names_der({{GEN_DNS, "-a.com"}}), "starts or ends"},
        {"long_label", general_names_der({{GEN_DNS, std::string(64, 'a') + ".com"}}), "longer than 63"},
        {"ip_of_five_octets", general_names_der({{GEN_IPADD, std::string("\x01\x02\x03\x04\x05", 5)}}),
         "5 octets"},
        {"email_without_at", general_names_der({{GEN_EMAIL, "nobody"}}), "not a mailbox"},
        {"email_with_newline", general_names_der({{GEN_EMAIL, "a@b.com\r\nX: y"}}), "control"},
        {"uri_without_scheme", general_names_der({{GEN_URI, "//host/x"}}), "scheme"},
        {"undecodable_extension", bytes{0x30, 0x05, 0x82, 0x10, 'a'}, "does not decode"},
        {"empty_extension", bytes{0x30, 0x00}, "is empty"},
        {"too_many_entries",
         general_names_der(std::vector<std::pair<int, std::string>>(21, {GEN_DNS, "a.example.com"})), "max_sans"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto csr = csr_with_san(c.der);
        auto sans = requested_sans(*csr, {});
        ASSERT_FALSE(sans);
        EXPECT_NE(sans.message().find(c.reason), std::string::npos) << sans.message();
    }
}

TEST(names, refuses_name_types_it_does_not_rebuild) {
    // directoryName inside subjectAltName: an X.500 name a relying party may
    // take for a subject.
    general_names_ptr names(GENERAL_NAMES_new());
    GENERAL_NAME* gn = GENERAL_NAME_new();
    auto dn = parse_subject("CN=admin,O=Evil");
    GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn->release());
    sk_GENERAL_NAME_push(names.get(), gn);
    auto csr = csr_with_san(*der_encode(*names, i2d_GENERAL_NAMES, "GeneralNames"));
    auto sans = requested_sans(*csr, {});
    ASSERT_FALSE(sans);
    EXPECT_NE(sans.message().find("directoryName"), std::string::npos) << sans.message();
}

TEST(names, wildcards_follow_the_setting) {
    auto csr = csr_with_san(general_names_der({{GEN_DNS, "*.example.com"}}));
    auto sans = requested_sans(*csr, {.allow_wildcards = true});
    ASSERT_TRUE(sans) << sans.message();
    EXPECT_EQ(to_string(sans->front()), "DNS:*.example.com");
    // Never over a single label, whatever the setting.
    for (const char* bad : {"*.com", "*", "*.*.example.com"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(requested_sans(*csr_with_san(general_names_der({{GEN_DNS, bad}})), {.allow_wildcards = true}));
    }
}

TEST(names, upn_other_names_are_kept_and_others_refused) {
    general_names_ptr names(GENERAL_NAMES_new());
    auto add_other = [&](int nid, const std::string& value) {
        GENERAL_NAME* gn = GENERAL_NAME_new();
        ASN1_TYPE* t = ASN1_TYPE_new();
        ASN1_STRING* s = ASN1_UTF8STRING_new();
        ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
        ASN1_TYPE_set(t, V_ASN1_UTF8STRING, s);
        GENERAL_NAME_set0_othername(gn, OBJ_nid2obj(nid), t);
        sk_GENERAL_NAME_push(names.get(), gn);
    };
    add_other(NID_ms_upn, "user@corp.example");
    auto ok = requested_sans(*csr_with_san(*der_encode(*names, i2d_GENERAL_NAMES, "GN")), {});
    ASSERT_TRUE(ok) << ok.message();
    EXPECT_EQ(to_string(ok->front()), "UPN:user@corp.example");
    add_other(NID_SRVName, "_ldap.corp.example");
    auto bad = requested_sans(*csr_with_san(*der_encode(*names, i2d_GENERAL_NAMES, "GN")), {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("otherName 1.3.6.1.5.5.7.8.7"), std::string::npos) << bad.message();
}

TEST(names, subject_limits_and_control_characters) {
    name_limits limits{.max_cn_length = 8, .max_subject_rdns = 3};
    EXPECT_TRUE(check_subject_name(**parse_subject("CN=short,O=x"), limits));
    auto long_cn = check_subject_name(**parse_subject("CN=much-too-long"), limits);
    ASSERT_FALSE(long_cn);
    EXPECT_NE(long_cn.message().find("max_cn_length"), std::string::npos);
    auto many = check_subject_name(**parse_subject("CN=a,OU=b,OU=c,O=d"), limits);
    ASSERT_FALSE(many);
    EXPECT_NE(many.message().find("max_subject_rdns"), std::string::npos);
    x509_name_ptr nul(X509_NAME_new());
    X509_NAME_add_entry_by_NID(nul.get(), NID_commonName, V_ASN1_UTF8STRING,
                               reinterpret_cast<const unsigned char*>("a\0b"), 3, -1, 0);
    auto bad = check_subject_name(*nul, {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("NUL or control"), std::string::npos) << bad.message();
    // An overlong '/' (0xC0 0xAF) and a UTF-16 surrogate are not UTF-8.
    for (const char* bad : {"a\xC0\xAF" "b", "a\xED\xA0\x80"}) {
        x509_name_ptr odd(X509_NAME_new());
        X509_NAME_add_entry_by_NID(odd.get(), NID_commonName, V_ASN1_UTF8STRING,
                                   reinterpret_cast<const unsigned char*>(bad), -1, -1, 0);
        EXPECT_FALSE(check_subject_name(*odd, {})) << bad;
    }
    // Multi-byte UTF-8 counts as one character each.
    EXPECT_TRUE(check_subject_name(**parse_subject("CN=Gerät-ü"), limits));
}

TEST(names, renewal_comparison_ignores_dns_case_only) {
    std::vector<san_entry> old{{san_kind::dns, "dev.example.com", {}}, {san_kind::email, "A@Example.com", {}}};
    EXPECT_TRUE(names_not_in({{san_kind::dns, "DEV.Example.com", {}}}, old).empty());
    EXPECT_TRUE(names_not_in({{san_kind::email, "A@example.COM", {}}}, old).empty());
    EXPECT_EQ(names_not_in({{san_kind::email, "a@example.com", {}}}, old), std::vector<std::string>{"email:a@example.com"});
    EXPECT_EQ(names_not_in({{san_kind::dns, "evil.example.com", {}}}, old),
              std::vector<std::string>{"DNS:evil.example.com"});
}

TEST(names, issued_certificates_carry_the_rebuilt_extension_and_the_store_agrees) {
    test::lab_fixture lab(2);
    issuer iss(*lab.pki, {}, {}, system_clock_fn());
    // Entries in the CSR's own encoding, plus an IPv6 address and a UPN.
    auto dev = test::make_requester({.dns_names = {"dev.example.com"}, .extra_ext = {}});
    auto cert = iss.issue(*dev.csr);
    ASSERT_TRUE(cert) << cert.message();
    EXPECT_EQ(subject_alt_names(**cert), "DNS:dev.example.com");
    EXPECT_EQ(make_record(**cert).sans, "DNS:dev.example.com");
    // A hostile CSR cannot be issued even if it got past the checks.
    auto hostile = csr_with_san(general_names_der({{GEN_DNS, std::string("good.com\0.evil.com", 18)}}));
    auto refused = iss.issue(*hostile);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("NUL"), std::string::npos) << refused.message();
    // An empty subject makes the rebuilt extension critical (RFC 5280 §4.2.1.6).
    auto key = generate_key(key_type::ec_p256);
    auto no_subject = test::make_csr(**key, "CN=x", {{NID_subject_alt_name, general_names_der({{GEN_DNS, "a.lab"}})}});
    x509_name_ptr empty(X509_NAME_new());
    X509_REQ_set_subject_name(no_subject.get(), empty.get());
    auto issued = iss.issue(*no_subject);
    ASSERT_TRUE(issued) << issued.message();
    int idx = X509_get_ext_by_NID(issued->get(), NID_subject_alt_name, -1);
    ASSERT_GE(idx, 0);
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(issued->get(), idx)), 1);
}

}  // namespace
}  // namespace scep
