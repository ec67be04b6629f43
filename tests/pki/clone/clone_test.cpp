#include "pki/clone/clone.hpp"

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/clone/describe.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/scep/message.hpp"
#include "support/test_support.hpp"

namespace scep::clone {
namespace {

using namespace std::chrono_literals;

struct made {
    x509_ptr cert;
    evp_pkey_ptr key;
};

// A certificate signed by `issuer` (self-signed when null) with exactly these extensions.
made make_cert(const std::string& subject, const made* issuer, const std::vector<std::string>& extensions,
               key_type key = key_type::rsa2048, std::optional<signature_spec> sig = {}) {
    made m;
    m.key = std::move(*generate_key(key));
    auto name = parse_subject(subject);
    cert_request req;
    req.subject = name->get();
    req.public_key = m.key.get();
    req.not_before = std::chrono::system_clock::now() - 1h;
    req.not_after = req.not_before + 24h * 400;
    req.exact_extensions = extensions;
    req.signature = sig;
    auto cert = sign_certificate(req, issuer ? issuer->cert.get() : nullptr, issuer ? *issuer->key : *m.key);
    EXPECT_TRUE(cert) << cert.message();
    m.cert = std::move(*cert);
    return m;
}

const std::vector<std::string> ca_ext{"basicConstraints = critical,CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign",
                                      "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid:always"};

bytes ext_der(const X509_EXTENSION& e) {
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(&e));
    return bytes(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
}

TEST(clone, extension_lines_rebuild_the_same_der_readable_where_openssl_can) {
    const made root = make_cert("CN=R", nullptr, ca_ext);
    const made ca = make_cert(
        "CN=I", &root,
        {"basicConstraints = critical,CA:TRUE,pathlen:0", "keyUsage = digitalSignature,keyCertSign,cRLSign",
         "extendedKeyUsage = clientAuth,1.3.6.1.4.1.311.20.2.1", "1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:SubCA",
         "certificatePolicies = 1.2.3.4", "crlDistributionPoints = URI:http://pki.example/CertEnroll/R.crl",
         "authorityInfoAccess = caIssuers;URI:http://pki.example/R.crt,OCSP;URI:http://ocsp.example/",
         "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid:always,issuer:always"});
    std::vector<bool> readable;
    for (int i = 0; i < X509_get_ext_count(ca.cert.get()); ++i) {
        const X509_EXTENSION* e = X509_get_ext(ca.cert.get(), i);
        bool r = false;
        const std::string line = extension_line(*e, &r);
        readable.push_back(r);
        const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(e)));
        if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) continue;
        auto rebuilt = extension_from_line(line);
        ASSERT_TRUE(rebuilt) << line << ": " << rebuilt.message();
        EXPECT_EQ(ext_der(**rebuilt), ext_der(*e)) << line;
        EXPECT_EQ(X509_EXTENSION_get_critical(rebuilt->get()), X509_EXTENSION_get_critical(e)) << line;
    }
    // BC, KU, EKU readable; the template name and the policy as DER; CDP, AIA readable; SKI, AKI by form.
    EXPECT_EQ(readable, (std::vector<bool>{true, true, true, false, false, true, true, true, true}));
    bool r = false;
    EXPECT_EQ(extension_line(*X509_get_ext(ca.cert.get(), 8), &r), "authorityKeyIdentifier = keyid:always,issuer:always");
}

TEST(clone, a_shape_makes_the_lab_certificate_exact_in_subject_signature_order_and_dates) {
    test::temp_dir dir;
    hierarchy_spec spec = test::small_spec(2);
    // C as PrintableString, CN as BMPString: not what the text form would give.
    const made model = make_cert("CN=x", nullptr, ca_ext);
    x509_name_ptr name(X509_NAME_new());
    X509_NAME_add_entry_by_txt(name.get(), "C", V_ASN1_PRINTABLESTRING, reinterpret_cast<const unsigned char*>("US"), -1, -1, 0);
    const std::u16string cn = u"Contoso CA";
    std::string be;
    for (char16_t c : cn) {
        be += static_cast<char>(c >> 8);
        be += static_cast<char>(c & 0xff);
    }
    X509_NAME_add_entry_by_txt(name.get(), "CN", V_ASN1_BMPSTRING, reinterpret_cast<const unsigned char*>(be.data()),
                               static_cast<int>(be.size()), -1, 0);
    auto der = der_encode(*name, i2d_X509_NAME, "name");
    ASSERT_TRUE(der);
    auto& t = spec.tiers.back();
    t.shape.subject_der = *der;
    t.shape.signature = signature_spec{"sha256", true};
    t.shape.extensions = std::vector<std::string>{"authorityKeyIdentifier = keyid:always", "subjectKeyIdentifier = hash",
                                                  "1.3.6.1.4.1.311.21.1 = ASN1:INTEGER:0",
                                                  "crlDistributionPoints = URI:${lab}/crl/root.crl",
                                                  "basicConstraints = critical,CA:TRUE,pathlen:0"};
    const auto nb = *parse_utc_text("2024-03-01T10:00:00Z"), na = *parse_utc_text("2029-03-01T10:00:00Z");
    t.shape.not_before = nb;
    t.shape.not_after = na;
    spec.lab_url = "http://lab.test:8080";
    auto h = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(), [](const std::string&) {});
    ASSERT_TRUE(h) << h.message();
    const X509& issuing = *h->issuing().cert;
    auto got = der_encode(*X509_get_subject_name(&issuing), i2d_X509_NAME, "name");
    EXPECT_EQ(*got, *der);
    EXPECT_EQ(signature_of(issuing), (signature_spec{"sha256", true}));
    std::vector<std::string> order;
    for (int i = 0; i < X509_get_ext_count(&issuing); ++i) order.push_back(extension_name(*X509_get_ext(&issuing, i)));
    EXPECT_EQ(order, (std::vector<std::string>{"authorityKeyIdentifier", "subjectKeyIdentifier", "1.3.6.1.4.1.311.21.1",
                                               "crlDistributionPoints", "basicConstraints"}));
    EXPECT_NE(extension_text(*X509_get_ext(&issuing, 3)).find("http://lab.test:8080/crl/root.crl"), std::string::npos);
    EXPECT_EQ(asn1_time_point(*X509_get0_notBefore(&issuing)), nb);
    EXPECT_EQ(asn1_time_point(*X509_get0_notAfter(&issuing)), na);
    // The RA (issued by it) still verifies against the PSS-signed CA.
    EXPECT_EQ(X509_verify(const_cast<X509*>(&h->ra_cert()), X509_get0_pubkey(&issuing)), 1);
}

TEST(clone, bad_shapes_are_refused_naming_the_setting) {
    auto refused = [](const std::function<void(hierarchy_spec&)>& change, const std::string& want) {
        hierarchy_spec spec = test::small_spec(2, false, key_type::ec_p256);
        change(spec);
        auto r = validate(spec);
        ASSERT_FALSE(r) << want;
        EXPECT_NE(r.message().find(want), std::string::npos) << r.message();
    };
    refused([](hierarchy_spec& s) { s.tiers[1].shape.subject_der = {0x30, 0x05, 0x01}; }, "pki.tiers.issuing.subject_der");
    refused([](hierarchy_spec& s) { s.tiers[1].shape.signature = signature_spec{"sha256", true}; }, "needs an RSA signing key");
    refused([](hierarchy_spec& s) { s.tiers[0].shape.extensions = std::vector<std::string>{"keyUsage = frobnicate"}; },
            "pki.tiers.root.extensions");
    refused([](hierarchy_spec& s) { s.tiers[0].shape.extensions = std::vector<std::string>{"no equals sign"}; }, "name = value");
    refused([](hierarchy_spec& s) {
        s.tiers[0].shape.not_before = std::chrono::system_clock::now();
        s.tiers[0].shape.not_after = std::chrono::system_clock::now() - 1h;
    }, "not_after must come after not_before");
    refused([](hierarchy_spec& s) { s.ra.encryption.key = key_type::ec_p256; }, "pki.ra.encryption.key");
}

TEST(clone, utc_text_round_trips_and_refuses_what_is_not_a_date) {
    const auto t = parse_utc_text("2031-05-01T12:34:56Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(utc_text(*t), "2031-05-01T12:34:56Z");
    for (const char* bad : {"2031-02-31T00:00:00Z", "2031-05-01 12:34:56Z", "2031-05-01T12:34:56", "2031-13-01T00:00:00Z",
                            "20x1-05-01T12:34:56Z", "", "2031-05-01T24:00:00Z"})
        EXPECT_FALSE(parse_utc_text(bad)) << bad;
    EXPECT_EQ(to_string(*signature_from_name("rsa-pss-sha384")), "rsa-pss-sha384");
    EXPECT_FALSE(signature_from_name("md5"));
    EXPECT_FALSE(signature_from_name("rsa-pss-"));
}

TEST(clone, certificates_are_read_from_every_form_and_hostile_input_is_refused) {
    const made root = make_cert("CN=R", nullptr, ca_ext);
    const made ra = make_cert("CN=RA", &root, {"basicConstraints = critical,CA:FALSE", "keyUsage = digitalSignature,keyEncipherment"});
    const bytes p7 = build_degenerate({root.cert.get(), ra.cert.get()});
    const std::string p7s(p7.begin(), p7.end());
    auto n = [](const result<std::vector<x509_ptr>>& r) { return r ? r->size() : std::size_t(0); };
    EXPECT_EQ(n(read_certificates(p7s, "p7b")), 2u);
    const std::string pem = x509_to_pem(*root.cert) + x509_to_pem(*ra.cert);
    EXPECT_EQ(n(read_certificates(pem, "pem")), 2u);
    EXPECT_EQ(n(read_certificates("-----BEGIN PKCS7-----\n" + base64_encode(p7) + "\n-----END PKCS7-----\n", "pkcs7 pem")), 2u);
    EXPECT_EQ(n(read_certificates(base64_encode(p7), "base64")), 2u);
    bool single = false;
    const bytes one = x509_to_der(*root.cert);
    EXPECT_EQ(n(read_certificates(std::string(one.begin(), one.end()), "der", &single)), 1u);
    EXPECT_TRUE(single);
    for (const std::string& bad : {std::string(), p7s.substr(0, p7s.size() / 2), std::string("\x89PNG\r\n\x1a\n", 8),
                                   std::string(2 << 20, '0'), std::string("-----BEGIN CERTIFICATE-----\n\x01\x02"),
                                   std::string("0\x80", 2)}) {
        auto r = read_certificates(bad, "INPUT");
        EXPECT_FALSE(r);
        if (!r) {
            EXPECT_NE(r.message().find("INPUT"), std::string::npos) << r.message();
        }
    }
    std::vector<const X509*> many(max_certificates + 1, ra.cert.get());
    const bytes big = build_degenerate(many);
    auto r = read_certificates(std::string(big.begin(), big.end()), "many");
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("33 certificates"), std::string::npos) << r.message();
    EXPECT_FALSE(check_caps(std::string("SHA-256\n\x01", 9), "caps"));
    EXPECT_TRUE(check_caps("POSTPKIOperation\r\nSHA-256\r\n", "caps"));
}

TEST(clone, roles_follow_the_chain_and_the_pair_is_told_apart_by_key_usage) {
    const made root = make_cert("CN=R", nullptr, ca_ext);
    const made mid = make_cert("CN=M", &root, ca_ext);
    const made ca = make_cert("CN=I", &mid, ca_ext);
    const made enc = make_cert("CN=RA", &ca, {"basicConstraints = critical,CA:FALSE", "keyUsage = critical,keyEncipherment"});
    const made sig = make_cert("CN=RA", &ca, {"basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature"});
    std::vector<x509_ptr> certs;
    for (const made* m : {&enc, &ca, &sig, &mid}) certs.push_back(dup(*m->cert));
    auto r = assign_roles(certs);
    ASSERT_TRUE(r) << r.message();
    EXPECT_TRUE(r->root_missing);
    ASSERT_EQ(r->tiers.size(), 2u);
    EXPECT_EQ(r->role_of(certs[1].get()), "issuing");
    EXPECT_EQ(r->role_of(certs[3].get()), "intermediate");
    EXPECT_EQ(r->role_of(certs[0].get()), "ra-encryption");
    EXPECT_EQ(r->role_of(certs[2].get()), "ra-signing");
    std::vector<x509_ptr> only_ra;
    only_ra.push_back(dup(*enc.cert));
    only_ra.push_back(dup(*sig.cert));
    EXPECT_FALSE(assign_roles(only_ra));
}

TEST(clone, the_admin_page_is_read_in_its_encoding_and_the_password_never_kept) {
    auto utf16 = [](const std::string& s, bool bom) {
        std::string out = bom ? std::string("\xff\xfe", 2) : "";
        for (char c : s) {
            out += c;
            out += '\0';
        }
        return out;
    };
    const std::string page = "<P> The thumbprint (hash value) for the CA certificate is: <B> 0123ABCD 0123ABCD 0123ABCD 0123ABCD </B> "
                             "<P> The enrollment challenge password is: <B> 89ABCDEF01234567 </B> <P> This password can be "
                             "used only once and will expire within 45 minutes.";
    auto f = read_admin_page(utf16(page, true));
    EXPECT_EQ(f.encoding, "utf-16le-bom");
    EXPECT_EQ(f.answer, "password");
    EXPECT_EQ(f.password_length, 16u);
    EXPECT_TRUE(f.password_hex);
    EXPECT_EQ(f.validity_minutes, 45);
    EXPECT_EQ(f.thumbprint, "0123ABCD0123ABCD0123ABCD0123ABCD");
    EXPECT_EQ(read_admin_page(utf16("<P> The password cache is full.", false)).answer, "cache-full");
    EXPECT_EQ(read_admin_page(utf16("<P> The password cache is full.", false)).encoding, "utf-16le");
    EXPECT_EQ(read_admin_page("You do not have sufficient permission to enroll").answer, "no-permission");
    EXPECT_EQ(read_admin_page("").answer, "empty");
    EXPECT_EQ(read_admin_page(utf16("<html>IIS default page</html>", true)).answer, "unrecognised page");
    EXPECT_EQ(read_admin_page(std::string("\xff\xfe\x41", 3)).answer, "empty");  // a lone odd byte is no text
    // The report names the password's form, never its value.
    server_view v;
    v.certs.push_back(dup(*make_cert("CN=R", nullptr, ca_ext).cert));
    v.admin_page = utf16(page, true);
    v.admin_status = 200;
    for (const auto& p : describe(v)) EXPECT_EQ(p.value.find("89ABCDEF01234567"), std::string::npos) << p.name;
}

TEST(clone, caps_forms_and_compare) {
    EXPECT_EQ(read_caps("A\r\nB\r\n").line_end, "CRLF");
    EXPECT_TRUE(read_caps("A\r\nB\r\n").final_line_end);
    EXPECT_EQ(read_caps("A\nB").line_end, "LF");
    EXPECT_FALSE(read_caps("A\nB").final_line_end);
    EXPECT_EQ(read_caps("A").line_end, "none");
    const auto d = compare({{"a", "1"}, {"s", "x", true}, {"only-a", "1"}}, {{"a", "2"}, {"s", "y", true}, {"only-b", "2"}});
    ASSERT_EQ(d.size(), 4u);
    EXPECT_FALSE(d[0].uncopyable);
    EXPECT_TRUE(d[1].uncopyable);
    EXPECT_EQ(d[2].b, "(absent)");
    EXPECT_EQ(d[3].a, "(absent)");
}

TEST(clone, the_plan_loads_as_a_configuration_even_from_hostile_names) {
    // A subject with quotes, backslashes, a control character and a newline, an odd key.
    const made root = make_cert("CN=Root \"quoted\" \\ back,O=x", nullptr, ca_ext, key_type::ec_p384);
    x509_name_ptr odd(X509_NAME_new());
    X509_NAME_add_entry_by_txt(odd.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("line\nbreak\x01\""), -1, -1, 0);
    made ca;
    ca.key = std::move(*generate_key(key_type::rsa2048));
    cert_request req;
    req.subject = odd.get();
    req.public_key = ca.key.get();
    req.not_before = std::chrono::system_clock::now();
    req.not_after = req.not_before + 24h;
    req.exact_extensions = ca_ext;
    ca.cert = std::move(*sign_certificate(req, root.cert.get(), *root.key));
    server_view v;
    v.source = "files \"x\"\n";
    v.caps = "POSTPKIOperation\nSHA-256\n";
    v.certs.push_back(dup(*ca.cert));  // the root is not sent
    auto plan = plan_lab(v, clone_options{});
    ASSERT_TRUE(plan) << plan.message();
    auto loaded = config::load_string(plan->toml, "plan.toml", config::defaults());
    ASSERT_TRUE(loaded) << loaded.message() << "\n" << plan->toml;
    ASSERT_EQ(loaded->pki.tiers.size(), 2u);
    EXPECT_EQ(loaded->pki.tiers[0].key, key_type::ec_p384);  // from the issuing CA's ECDSA signature
    EXPECT_EQ(loaded->pki.tiers[1].shape.subject_der, *der_encode(*odd, i2d_X509_NAME, "n"));
    EXPECT_TRUE(loaded->pki.ca_as_ra);
    EXPECT_EQ(loaded->quirks.chain, config::chain_quirk::issuing_only);
    bool generated = false;
    for (const auto& r : plan->fidelity) generated |= r.property == "cert.root" && r.verdict == "generated";
    EXPECT_TRUE(generated);
    const std::string md = fidelity_markdown(plan->fidelity, "a|b<c>");
    EXPECT_NE(md.find("a\\|b&lt;c&gt;"), std::string::npos);
}

}  // namespace
}  // namespace scep::clone

namespace scep::clone {
namespace {

TEST(clone, served_paths_are_checked_before_the_lab_starts) {
    auto with = [](const std::string& toml) {
        return config::load_string("[[pki.tiers]]\nname = \"root\"\nsubject = \"CN=R\"\n" + toml, "t.toml", config::defaults());
    };
    EXPECT_TRUE(with("crl_paths = [\"/CertEnroll/R%20CA.crl\"]\ncert_paths = [\"/CertEnroll/R.crt\"]\n"));
    for (const std::string bad : {"crl_paths = [\"CertEnroll/x.crl\"]", "crl_paths = [\"/a b.crl\"]",
                                  "crl_paths = [\"/x.crl\"]\ncert_paths = [\"/x.crl\"]", "crl_paths = [\"/scep/x.crl\"]",
                                  "crl_paths = [\"/x#y\"]"}) {
        auto r = with(bad + "\n");
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.message().find("pki.tiers"), std::string::npos) << r.message();
        }
    }
}

}  // namespace
}  // namespace scep::clone
