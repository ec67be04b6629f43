#include "pki/ca/server_certs.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "support/test_support.hpp"

namespace scep {
namespace {

using namespace std::chrono_literals;

std::string ext_text(const X509& cert, int nid) {
    int idx = X509_get_ext_by_NID(&cert, nid, -1);
    if (idx < 0) return {};
    bio_ptr bio(BIO_new(BIO_s_mem()));
    X509V3_EXT_print(bio.get(), X509_get_ext(&cert, idx), 0, 0);
    auto b = bio_contents(*bio);
    return {b.begin(), b.end()};
}

bool chains_to_lab(const hierarchy& pki, const X509& leaf) {
    x509_store_ptr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), const_cast<X509*>(&pki.root_cert()));
    // Borrowed certificates: the stack is freed, not its contents.
    x509_borrowed_stack_ptr untrusted(sk_X509_new_null());
    for (const X509* c : pki.chain(false)) sk_X509_push(untrusted.get(), const_cast<X509*>(c));
    x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(&leaf), untrusted.get());
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    return X509_verify_cert(ctx.get()) == 1;
}

TEST(server_certs, tls_server_certificate_has_server_auth_names_and_chains_to_the_root) {
    test::lab_fixture l;
    server_cert_spec spec;
    spec.names = {"Radius.Lab", "127.0.0.1", "::1"};
    auto sc = issue_server_cert(*l.pki, spec, std::chrono::system_clock::now());
    ASSERT_TRUE(sc) << sc.message();
    EXPECT_EQ(ext_text(*sc->cert, NID_ext_key_usage), "TLS Web Server Authentication");
    EXPECT_EQ(ext_text(*sc->cert, NID_key_usage), "Digital Signature, Key Encipherment");
    EXPECT_EQ(ext_text(*sc->cert, NID_basic_constraints), "CA:FALSE");
    EXPECT_EQ(san_entries(*sc->cert), wanted_san_entries({"radius.lab", "127.0.0.1", "::1"}));
    EXPECT_EQ(san_entries(*sc->cert).size(), 3u);
    EXPECT_EQ(name_to_string(*X509_get_subject_name(sc->cert.get())), "CN=radius.lab,O=scep-lab");
    EXPECT_EQ(X509_check_private_key(sc->cert.get(), sc->key.get()), 1);
    EXPECT_TRUE(chains_to_lab(*l.pki, *sc->cert));
    // Not longer than asked, and never past the issuing CA.
    auto end = asn1_time_point(*X509_get0_notAfter(sc->cert.get()));
    EXPECT_LE(end, std::chrono::system_clock::now() + spec.validity + 1min);
    EXPECT_LE(end, asn1_time_point(*X509_get0_notAfter(l.pki->issuing().cert.get())));
}

TEST(server_certs, ec_keys_get_digital_signature_only_and_a_crl_url_when_given) {
    test::lab_fixture l;
    server_cert_spec spec;
    spec.names = {"web.lab"};
    spec.key = key_type::ec_p256;
    spec.crl_url = "http://127.0.0.1:8080/crl/issuing.crl";
    spec.validity = 24h * 36500;  // capped by the issuing CA
    auto sc = issue_server_cert(*l.pki, spec, std::chrono::system_clock::now());
    ASSERT_TRUE(sc) << sc.message();
    EXPECT_EQ(ext_text(*sc->cert, NID_key_usage), "Digital Signature");
    EXPECT_NE(ext_text(*sc->cert, NID_crl_distribution_points).find(spec.crl_url), std::string::npos);
    EXPECT_EQ(asn1_time_point(*X509_get0_notAfter(sc->cert.get())),
              asn1_time_point(*X509_get0_notAfter(l.pki->issuing().cert.get())));
}

TEST(server_certs, bad_names_are_refused_with_the_name) {
    test::lab_fixture l;
    for (const std::vector<std::string>& names :
         {std::vector<std::string>{}, {"bad name"}, {"-lead.lab"}, {"a..b"}, {"x/y"}, {std::string(300, 'a')}}) {
        server_cert_spec spec;
        spec.names = names;
        auto sc = issue_server_cert(*l.pki, spec, std::chrono::system_clock::now());
        ASSERT_FALSE(sc) << (names.empty() ? "(none)" : names.front());
        if (!names.empty() && names.front().size() < 50) {
            EXPECT_NE(sc.message().find(names.front()), std::string::npos);
        }
    }
}

TEST(server_certs, radius_and_tls_layouts) {
    test::lab_fixture l;
    server_cert_spec spec;
    spec.profile = server_profile::radius_server;
    spec.names = {"radius.lab"};
    auto sc = issue_server_cert(*l.pki, spec, std::chrono::system_clock::now());
    ASSERT_TRUE(sc);
    auto radius = write_server_files(*l.pki, *sc, server_profile::radius_server, l.dir.path() / "radius", "");
    ASSERT_TRUE(radius) << radius.message();
    auto count = [](const std::filesystem::path& p) {
        auto text = read_file(p);
        auto certs = text ? x509_list_from_pem(*text) : result<std::vector<x509_ptr>>(make_error("x"));
        return certs ? certs->size() : 0u;
    };
    const auto d = l.dir.path() / "radius";
    EXPECT_EQ(count(d / "server.pem"), 3u);  // certificate + issuing + intermediate
    EXPECT_EQ(count(d / "ca.pem"), 3u);      // every CA, root last
    EXPECT_EQ(std::filesystem::status(d / "server.key").permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto key = private_key_from_pem(*read_file(d / "server.key"));
    ASSERT_TRUE(key);
    EXPECT_EQ(X509_check_private_key(sc->cert.get(), key->get()), 1);

    auto tls = write_server_files(*l.pki, *sc, server_profile::tls_server, l.dir.path() / "web", "passphrase1");
    ASSERT_TRUE(tls);
    const auto w = l.dir.path() / "web";
    EXPECT_EQ(count(w / "cert.pem"), 1u);
    EXPECT_EQ(count(w / "chain.pem"), 2u);
    EXPECT_EQ(count(w / "fullchain.pem"), 3u);
    EXPECT_FALSE(private_key_from_pem(*read_file(w / "key.pem")));  // encrypted under the lab passphrase
    EXPECT_TRUE(private_key_from_pem(*read_file(w / "key.pem"), "passphrase1"));
}

TEST(server_certs, https_certificate_is_reused_until_something_changes) {
    test::lab_fixture l;
    server_cert_spec spec;
    spec.names = {"localhost", "127.0.0.1"};
    const auto crt = l.dir.path() / "pki" / "https-server.crt";
    const auto key = l.dir.path() / "pki" / "https-server.key";
    auto now = std::chrono::system_clock::now();
    auto first = ensure_https_cert(*l.pki, spec, crt, key, "", now);
    ASSERT_TRUE(first) << first.message();
    EXPECT_TRUE(first->issued_now);
    EXPECT_EQ(first->reason, "no HTTPS certificate yet");
    const std::string serial = serial_hex(*first->sc.cert);

    auto again = ensure_https_cert(*l.pki, spec, crt, key, "", now);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->issued_now);
    EXPECT_EQ(serial_hex(*again->sc.cert), serial);

    spec.names = {"scep.lab"};
    auto renamed = ensure_https_cert(*l.pki, spec, crt, key, "", now);
    ASSERT_TRUE(renamed);
    EXPECT_TRUE(renamed->issued_now);
    EXPECT_EQ(renamed->reason, "the HTTPS names changed");

    auto late = ensure_https_cert(*l.pki, spec, crt, key, "", now + 24h * 380);
    ASSERT_TRUE(late);
    EXPECT_EQ(late->reason, "the HTTPS certificate expires within 30 days");

    // A key that does not match, and a corrupted certificate file.
    auto other = generate_key(key_type::ec_p256);
    ASSERT_TRUE(write_file(key, private_key_to_pem(**other), true));
    auto mismatch = ensure_https_cert(*l.pki, spec, crt, key, "", now);
    ASSERT_TRUE(mismatch);
    EXPECT_EQ(mismatch->reason, "the HTTPS key does not match its certificate");
    ASSERT_TRUE(write_file(crt, "not a certificate", false));
    auto corrupt = ensure_https_cert(*l.pki, spec, crt, key, "", now);
    ASSERT_TRUE(corrupt);
    EXPECT_NE(corrupt->reason.find("unreadable"), std::string::npos);
    // The file it writes back holds the certificate and the intermediates.
    auto text = read_file(crt);
    auto certs = x509_list_from_pem(*text);
    ASSERT_TRUE(certs);
    EXPECT_EQ(certs->size(), 3u);
}

TEST(server_certs, https_certificate_from_another_ca_is_replaced) {
    test::lab_fixture a;
    test::lab_fixture b;
    server_cert_spec spec;
    spec.names = {"localhost"};
    const auto crt = a.dir.path() / "https.crt";
    const auto key = a.dir.path() / "https.key";
    ASSERT_TRUE(ensure_https_cert(*b.pki, spec, crt, key, "", std::chrono::system_clock::now()));
    auto got = ensure_https_cert(*a.pki, spec, crt, key, "", std::chrono::system_clock::now());
    ASSERT_TRUE(got);
    EXPECT_EQ(got->reason, "the HTTPS certificate was not issued by the current issuing CA");
    EXPECT_TRUE(chains_to_lab(*a.pki, *got->sc.cert));
}

}  // namespace
}  // namespace scep
