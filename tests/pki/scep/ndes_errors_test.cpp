// NDES-mode failures carry the HRESULT NDES would send for their cause (in
// the reply's 1.3.6.1.4.1.311.21.33 attribute, decimal) and the event NDES
// would log; the table's own formatting.
#include <gtest/gtest.h>

#include "pki/crypto/encoding.hpp"
#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

TEST(ndes_errors, hresults_print_as_ndes_and_windows_do) {
    EXPECT_EQ(hresult_hex(0x80094800), "0x80094800");
    EXPECT_EQ(hresult_decimal(0x80094800), "-2146875392");
    EXPECT_EQ(hresult_decimal(0x80070057), "-2147024809");  // the captured NDES reply's value
    const auto& e = ndes_error_for(failure_cause::template_mismatch, 2);
    EXPECT_EQ(e.event_id, 31);
    EXPECT_EQ(ndes_event_text(e),
              "The Network Device Enrollment Service cannot submit the certificate request (0x80094800). The "
              "requested certificate template is not supported by this CA.");
    // An unspecified cause follows the failInfo; badRequest is the captured E_INVALIDARG.
    EXPECT_EQ(ndes_error_for(failure_cause::unspecified, 2).hresult, 0x80070057u);
    EXPECT_EQ(ndes_error_for(failure_cause::unspecified, 0).hresult, 0x80090008u);
    EXPECT_EQ(ndes_error_for(failure_cause::not_found, 4).event_id, 0);
}

// The HRESULT attribute of a reply, as sent.
std::string wire_hresult(const service_reply& r) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(r.body.data());
    pkcs7_ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(r.body.size())));
    if (!p7 || !PKCS7_type_is_signed(p7.get())) return "(not a SignedData)";
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(p7->d.sign->signer_info, 0);
    ASN1_TYPE* t = PKCS7_get_signed_attribute(si, OBJ_txt2nid("1.3.6.1.4.1.311.21.33"));
    if (!t || t->type != V_ASN1_PRINTABLESTRING) return "(none)";
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t->value.asn1_string)),
                       static_cast<std::size_t>(ASN1_STRING_length(t->value.asn1_string)));
}

struct ndes_lab {
    ndes_lab(service_config cfg = {}) : lab(prepare(std::move(cfg)), spec()) {
        lab.service.emplace(*lab.pki, *lab.iss, *lab.store, config, [this] { return now; }, &otp);
    }
    static hierarchy_spec spec() {
        auto s = test::small_spec(2);
        s.ra.ndes_pair = true;
        return s;
    }
    service_config prepare(service_config cfg) {
        cfg.ndes_replies = true;
        cfg.reply_sha1 = true;
        config = cfg;
        return cfg;
    }
    service_reply enroll(const test::requester& dev, const X509* to = nullptr) {
        auto der = test::make_pkcs_req(dev, to ? *to : lab.pki->ra_encryption_cert(), make_transaction_id(), bytes(16, 5));
        return lab.service->pki_operation(der, "192.0.2.1");
    }
    time_point now = std::chrono::system_clock::now();
    one_time_passwords otp{std::chrono::minutes(60), 5, 8, [this] { return now; }};
    service_config config;
    test::service_lab lab;
};

void expect_ndes(const service_reply& r, std::uint32_t hr, int event, const std::string& event_words) {
    EXPECT_EQ(r.status, pki_status::failure) << r.detail;
    EXPECT_EQ(r.hresult, hr) << r.detail;
    EXPECT_EQ(wire_hresult(r), hresult_decimal(hr)) << r.detail;
    EXPECT_EQ(r.ndes_event.id, event) << r.detail;
    EXPECT_NE(r.ndes_event.text.find(hresult_hex(hr)), std::string::npos) << r.ndes_event.text;
    EXPECT_NE(r.ndes_event.text.find(event_words), std::string::npos) << r.ndes_event.text;
}

TEST(ndes_errors, each_password_problem_gets_its_own_hresult_and_event_29) {
    ndes_lab n;
    auto p = n.otp.issue();
    ASSERT_TRUE(p);
    auto first = n.enroll(test::make_requester({.challenge = *p}));
    EXPECT_EQ(first.status, pki_status::success) << first.detail;
    EXPECT_TRUE(!first.hresult);
    EXPECT_EQ(first.ndes_event.id, 0);
    expect_ndes(n.enroll(test::make_requester({.subject = "CN=again", .challenge = *p})), 0x800B0110, 29,
                "cannot be verified");
    expect_ndes(n.enroll(test::make_requester({.challenge = "0123456789ABCDEF"})), 0x80070490, 29, "cannot be verified");
    expect_ndes(n.enroll(test::make_requester({.challenge = ""})), 0x80096004, 29, "cannot be verified");
    auto late = n.otp.issue();
    n.now += std::chrono::minutes(61);
    expect_ndes(n.enroll(test::make_requester({.challenge = *late})), 0x80070490, 29, "cannot be verified");
}

TEST(ndes_errors, a_request_encrypted_to_the_signing_certificate_is_bad_data_event_18) {
    ndes_lab n;
    auto p = n.otp.issue();
    // The classic mistake: encrypting to the RA signing certificate (or the CA) instead of the encryption one.
    auto r = n.enroll(test::make_requester({.challenge = *p}), &n.lab.pki->ra_cert());
    expect_ndes(r, 0x80090005, 18, "cannot decrypt the client's PKCS7 message");
}

TEST(ndes_errors, a_template_the_ca_does_not_publish_is_0x80094800_event_31) {
    service_config cfg;
    template_slots t;
    t.signature.name = t.encryption.name = t.general_purpose.name = "IPSECIntermediateOffline";
    cfg.templates = t;
    cfg.ca_templates = {"User", "Machine"};
    ndes_lab n(cfg);
    auto p = n.otp.issue();
    auto r = n.enroll(test::make_requester({.challenge = *p}));
    expect_ndes(r, 0x80094800, 31, "cannot submit the certificate request");
    EXPECT_NE(r.detail.find("IPSECIntermediateOffline"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("ndes.ca_templates"), std::string::npos) << r.detail;
    auto rows = n.lab.store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_TRUE(rows->empty());
}

TEST(ndes_errors, a_published_template_issues) {
    service_config cfg;
    template_slots t;
    t.signature.name = t.encryption.name = t.general_purpose.name = "IPSECIntermediateOffline";
    cfg.templates = t;
    cfg.ca_templates = {"IPSECIntermediateOffline"};
    ndes_lab n(cfg);
    auto p = n.otp.issue();
    EXPECT_EQ(n.enroll(test::make_requester({.challenge = *p})).status, pki_status::success);
}

TEST(ndes_errors, outside_ndes_mode_nothing_ndes_shaped_is_added) {
    service_config cfg;
    cfg.challenge = "secret";
    test::service_lab lab(cfg);
    auto der = test::make_pkcs_req(test::make_requester({.challenge = "wrong"}), lab.pki->ra_cert(), "T", bytes(16, 1));
    auto r = lab.service->pki_operation(der, "c");
    EXPECT_EQ(r.status, pki_status::failure);
    EXPECT_TRUE(!r.hresult);
    EXPECT_EQ(r.ndes_event.id, 0);
    EXPECT_EQ(wire_hresult(r), "(none)");
}

}  // namespace
}  // namespace scep
