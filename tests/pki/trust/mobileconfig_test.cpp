#include "pki/trust/mobileconfig.hpp"

#include <gtest/gtest.h>
#include <openssl/pkcs7.h>

#include <regex>

#include "support/test_support.hpp"

namespace scep {
namespace {

apple_profile_options basic() {
    apple_profile_options o;
    o.scep_url = "http://127.0.0.1:8080/scep";
    o.challenge = "secret";
    return o;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

TEST(apple_profile, stable_uuids_have_the_version_5_layout_and_differ_by_seed) {
    const std::regex layout("[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}");
    EXPECT_TRUE(std::regex_match(stable_uuid("a"), layout));
    EXPECT_EQ(stable_uuid("a"), stable_uuid("a"));
    EXPECT_NE(stable_uuid("a"), stable_uuid("b"));
}

TEST(apple_profile, one_payload_per_ca_and_the_same_bytes_for_the_same_inputs) {
    test::lab_fixture l;
    auto xml = build_apple_profile(*l.pki, {}, basic());
    ASSERT_TRUE(xml) << xml.message();
    EXPECT_EQ(count(*xml, "<string>com.apple.security.root</string>"), 1u);
    EXPECT_EQ(count(*xml, "<string>com.apple.security.pkcs1</string>"), 2u);
    EXPECT_EQ(count(*xml, "<string>com.apple.security.scep</string>"), 1u);
    EXPECT_EQ(count(*xml, "com.apple.wifi.managed"), 0u);
    EXPECT_NE(xml->find("<key>Challenge</key>\n\t\t\t\t<string>secret</string>"), std::string::npos);
    auto again = build_apple_profile(*l.pki, {}, basic());
    EXPECT_EQ(*xml, *again);
}

TEST(apple_profile, text_is_escaped_and_omitted_cas_are_gone) {
    test::lab_fixture l;
    auto o = basic();
    o.wifi_ssid = "Lab <&> \"Net\"";
    o.radius_names = {"radius.lab"};
    o.omit = {"root"};
    auto xml = build_apple_profile(*l.pki, {}, o);
    ASSERT_TRUE(xml) << xml.message();
    EXPECT_NE(xml->find("<string>Lab &lt;&amp;&gt; &quot;Net&quot;</string>"), std::string::npos);
    EXPECT_EQ(count(*xml, "com.apple.security.root"), 0u);
    EXPECT_NE(xml->find("left out on purpose: root"), std::string::npos);
}

TEST(apple_profile, bad_options_are_refused_with_the_reason) {
    test::lab_fixture l;
    auto check = [&](auto change, const std::string& says) {
        auto o = basic();
        change(o);
        auto xml = build_apple_profile(*l.pki, {}, o);
        ASSERT_FALSE(xml) << says;
        EXPECT_NE(xml.message().find(says), std::string::npos) << xml.message();
    };
    check([](auto& o) { o.scep_url = "ftp://x"; }, "http:// or https://");
    check([](auto& o) { o.omit = {"nosuch"}; }, "cannot omit \"nosuch\"");
    check([](auto& o) { o.fingerprint_ca = "nosuch"; }, "no CA named \"nosuch\"");
    check([](auto& o) { o.fingerprint_digest = "md5"; }, "sha1 or sha256");
    check([](auto& o) { o.key_size = 3000; }, "key size");
    check([](auto& o) { o.key_usage = 2; }, "key usage");
    check([](auto& o) { o.subject = "notadn"; }, "subject");
    check([](auto& o) { o.wifi_ssid = std::string(33, 'x'); }, "32 bytes");
    check([](auto& o) { o.wifi_ssid = "x", o.wifi_security = "WEP"; }, "WPA2 or WPA3");
}

TEST(apple_profile, subject_pairs_are_in_x500_order_with_apple_variables) {
    // RFC 4514 text lists the most specific RDN first; the Subject array is
    // in X.500 order (Apple's example: /C=US/O=Apple Inc./CN=foo).
    auto pairs = subject_pairs("CN=%SerialNumber%,OU=MDM,O=scep-lab");
    ASSERT_TRUE(pairs) << pairs.message();
    ASSERT_EQ(pairs->size(), 3u);
    EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>{"O", "scep-lab"}));
    EXPECT_EQ((*pairs)[1], (std::pair<std::string, std::string>{"OU", "MDM"}));
    EXPECT_EQ((*pairs)[2], (std::pair<std::string, std::string>{"CN", "%SerialNumber%"}));
    auto slash = subject_pairs("/O=scep-lab/CN=dev");
    ASSERT_TRUE(slash);
    EXPECT_EQ((*slash)[0].first, "O");
}

TEST(apple_profile, signed_profile_verifies_and_the_signer_is_reused) {
    test::lab_fixture l;
    auto xml = build_apple_profile(*l.pki, {}, basic());
    ASSERT_TRUE(xml);
    auto now = std::chrono::system_clock::now();
    auto signer = ensure_profile_signer(*l.pki, l.dir.path() / "pki", "", now);
    ASSERT_TRUE(signer) << signer.message();
    EXPECT_TRUE(signer->issued_now);
    auto again = ensure_profile_signer(*l.pki, l.dir.path() / "pki", "", now);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->issued_now);
    EXPECT_EQ(serial_hex(*again->sc.cert), serial_hex(*signer->sc.cert));

    auto der = sign_profile(*xml, *signer->sc.cert, *signer->sc.key, l.pki->chain(false));
    ASSERT_TRUE(der) << der.message();
    const unsigned char* p = der->data();
    pkcs7_ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der->size())));
    ASSERT_TRUE(p7);
    x509_store_ptr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), const_cast<X509*>(&l.pki->root_cert()));
    bio_ptr out(BIO_new(BIO_s_mem()));
    ASSERT_EQ(PKCS7_verify(p7.get(), nullptr, store.get(), nullptr, out.get(), 0), 1);
    auto content = bio_contents(*out);
    EXPECT_EQ(std::string(content.begin(), content.end()), *xml);
}

}  // namespace
}  // namespace scep
