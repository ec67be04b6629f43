// The persona files load and say what docs/personas.md says; bad files are
// refused by name; the device's decisions (capabilities, GetCACert, encoding,
// reply checks) follow the rules.
#include <gtest/gtest.h>

#include "pki/persona/device.hpp"
#include "pki/persona/match.hpp"
#include "pki/persona/persona.hpp"
#include "pki/scep/message.hpp"
#include "support/test_support.hpp"

namespace scep::persona {
namespace {

using test::lab_fixture;

const persona& named(std::string_view n) {
    const persona* p = find(n);
    if (!p) throw std::runtime_error("no persona " + std::string(n));
    return *p;
}

TEST(Personas, AllLoadWithEveryRuleSourced) {
    ASSERT_GE(all().size(), 5u);
    for (const char* n : {"ios", "windows-intune", "android-jscep", "cisco-ios", "rfc8894"}) ASSERT_NE(find(n), nullptr) << n;
    for (const auto& p : all()) {
        EXPECT_EQ(p.rules.size(), rule_specs().size()) << p.name << ": every rule stated or inherited";
        for (const auto& r : p.rules) {
            EXPECT_FALSE(r.source.empty()) << p.name << " " << r.id;
            EXPECT_FALSE(r.says.empty()) << p.name << " " << r.id;
        }
    }
    EXPECT_EQ(all().front().name, "rfc8894");  // the base first
    EXPECT_EQ(named("ios").order.front(), "GetCACert");
    EXPECT_TRUE(named("ios").ber_indefinite);
    EXPECT_EQ(named("windows-intune").transport, key_transport::rsaes_oaep);
    EXPECT_EQ(named("windows-intune").error("http-error", 404), "0x80190194 (HTTP_E_STATUS: 0x80190000 + the HTTP status; 404 is 0x80190194)");
    EXPECT_EQ(named("cisco-ios").http_version, 10);
    EXPECT_EQ(named("cisco-ios").method, method_rule::always_get);
    // Inherited rules are marked, stated ones are not.
    for (const auto& r : named("ios").rules) {
        if (r.id == "path_suffix") {
            EXPECT_TRUE(r.inherited);
        }
        if (r.id == "ber_indefinite") {
            EXPECT_FALSE(r.inherited);
        }
    }
}

TEST(Personas, BadFilesAreRefusedByName) {
    const std::string base = R"(name = "b"
title = "t"
confidence = "high"
summary = "s"
device_name = "d"
)";
    auto with = [&](const std::string& rules) {
        return load({{"base.toml", base + rules}});
    };
    auto ok = with("[rules.key]\nvalue = \"rsa3072\"\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n");
    ASSERT_TRUE(ok) << ok.message();
    EXPECT_EQ(ok->front().key, key_type::rsa3072);
    struct bad_case {
        std::string text, expect;
    } cases[] = {
        {"[rules.nope]\nvalue = 1\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n", "unknown rule \"nope\""},
        {"[rules.key]\nvalue = \"rsa999\"\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n", "rule key"},
        {"[rules.key]\nvalue = \"rsa2048\"\nsays = \"x\"\nconfidence = \"low\"\n", "missing source"},
        {"[rules.key]\nvalue = \"rsa2048\"\nsays = \"x\"\nsource = \"y\"\nconfidence = \"sure\"\n", "confidence"},
        {"[rules.ciphers]\nvalue = [\"aes128:AES\"]\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n", "NAME:*"},
        {"[rules.order]\nvalue = [\"GetCACaps\"]\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n", "GetCACert once"},
        {"[errors]\nsomething = \"x\"\n[rules.key]\nvalue = \"rsa2048\"\nsays = \"x\"\nsource = \"y\"\nconfidence = \"low\"\n", "unknown kind"},
    };
    for (const auto& c : cases) {
        auto r = with(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_NE(r.message().find("base.toml"), std::string::npos) << r.message();
        EXPECT_NE(r.message().find(c.expect), std::string::npos) << r.message();
    }
    auto circle = load({{"a.toml", "based_on = \"b\"\n" + base + "[rules]\n"}, {"b2.toml", R"(name = "b"
based_on = "b"
)"}});
    EXPECT_FALSE(circle);
}

TEST(Personas, CapabilitiesLeadToTheDevicesChoices) {
    auto c = choose(named("ios"), 200, "POSTPKIOperation\nSHA-256\nAES\n");
    EXPECT_TRUE(c.stop.empty());
    EXPECT_EQ(c.digest, digest_alg::sha256);
    EXPECT_EQ(c.cipher, content_cipher::aes_128_cbc);
    EXPECT_TRUE(c.post);
    // No SHA-* in a non-empty list: iOS gives up, the RFC 8894 client goes on with SHA-1.
    EXPECT_EQ(choose(named("ios"), 200, "POSTPKIOperation\r\nAES\r\n").stop, "caps-insufficient");
    EXPECT_EQ(choose(named("rfc8894"), 200, "POSTPKIOperation\r\nAES\r\n").digest, digest_alg::sha1);
    // An empty answer or an HTTP error: SHA-1 and triple DES by GET.
    auto none = choose(named("ios"), 404, "");
    EXPECT_EQ(none.digest, digest_alg::sha1);
    EXPECT_EQ(none.cipher, content_cipher::des_ede3_cbc);
    EXPECT_FALSE(none.post);
    // Cisco ignores POSTPKIOperation and falls to MD5 and single DES.
    auto cisco = choose(named("cisco-ios"), 200, "POSTPKIOperation\nSHA-256\nAES\n");
    EXPECT_FALSE(cisco.post);
    EXPECT_EQ(cisco.digest, digest_alg::md5);
    EXPECT_EQ(cisco.cipher, content_cipher::des_cbc);
    // Keywords compare without case.
    EXPECT_EQ(choose(named("android-jscep"), 200, "sha-512\ndes3\n").digest, digest_alg::sha512);
}

TEST(Personas, GetCACertByKeyUsage) {
    lab_fixture lab(3);
    std::vector<const X509*> sent{&lab.pki->ra_cert(), lab.pki->issuing().cert.get()};
    bytes degenerate = build_degenerate(sent);
    std::string body(degenerate.begin(), degenerate.end());
    auto v = read_ca_certs(named("ios"), 200, "application/x-x509-ca-ra-cert", body);
    ASSERT_FALSE(v.stop) << v.stop->why;
    EXPECT_EQ(v.encrypt_to, v.certs[0].get());
    EXPECT_EQ(v.ca, v.certs[1].get());
    // A content type iOS does not read: 22002.
    auto bad = read_ca_certs(named("ios"), 200, "application/pkcs7-mime", body);
    ASSERT_TRUE(bad.stop);
    EXPECT_EQ(bad.stop->kind, "cacert-content-type");
    EXPECT_NE(bad.stop->device_error.find("22002"), std::string::npos);
    // Two CA certificates and no RA: iOS needs an RA (22003); jscep uses the CA.
    std::vector<const X509*> cas{lab.pki->issuing().cert.get(), &lab.pki->root_cert()};
    bytes only_cas = build_degenerate(cas);
    std::string cas_body(only_cas.begin(), only_cas.end());
    auto ios = read_ca_certs(named("ios"), 200, "application/x-x509-ca-ra-cert", cas_body);
    ASSERT_TRUE(ios.stop);
    EXPECT_EQ(ios.stop->kind, "cacert-no-ra");
    EXPECT_NE(ios.stop->device_error.find("22003"), std::string::npos);
    auto jscep = read_ca_certs(named("android-jscep"), 200, "application/x-x509-ca-ra-cert", cas_body);
    EXPECT_FALSE(jscep.stop);
    // Windows pins the CA: a thumbprint nothing matches stops it.
    auto pinned = read_ca_certs(named("windows-intune"), 200, "application/x-x509-ca-ra-cert", body, "00:11");
    ASSERT_TRUE(pinned.stop);
    EXPECT_EQ(pinned.stop->kind, "cacert-pin");
    // Garbage.
    EXPECT_EQ(read_ca_certs(named("rfc8894"), 200, "application/x-x509-ca-cert", "junk").stop->kind, "cacert-unreadable");
}

TEST(Personas, RequestsAreEncodedAsTheDeviceEncodesThem) {
    lab_fixture lab(2);
    const X509& ra = lab.pki->ra_cert();
    identity_options io;
    io.challenge = "secret";
    for (const char* n : {"ios", "windows-intune", "cisco-ios"}) {
        const persona& p = named(n);
        auto id = make_identity(p, io);
        ASSERT_TRUE(id) << id.message();
        caps_choice caps = choose(p, 200, "POSTPKIOperation\nSHA-256\nSHA-1\nAES\nDES3\n");
        bytes csr = x509_req_to_der(*id->csr);
        auto der = build_request(p, *id, message_type::pkcs_req, csr, caps, ra);
        ASSERT_TRUE(der) << n << ": " << der.message();
        if (p.ber_indefinite) {
            EXPECT_EQ((*der)[0], 0x30);
            EXPECT_EQ((*der)[1], 0x80) << "iOS writes indefinite lengths";
        }
        // The server's codec reads, verifies and opens every persona's request.
        auto req = decode_pki_request(*der);
        ASSERT_TRUE(req) << n << ": " << req.message();
        EXPECT_EQ(req->transaction_id, id->transaction_id);
        cipher_policy policy;
        EXPECT_FALSE(open_pki_request(*req, ra, lab.pki->ra_key(), policy)) << n;
        EXPECT_EQ(req->message_data, csr) << n;
    }
    // iOS: transactionID is the upper-case hex SHA-1 of the key, the signer CN a UUID.
    auto id = make_identity(named("ios"), io);
    ASSERT_TRUE(id);
    EXPECT_EQ(id->transaction_id.size(), 40u);
    EXPECT_EQ(id->transaction_id.find_first_of("abcdef"), std::string::npos);
    std::string signer = name_to_string(*X509_get_subject_name(id->signer.get()));
    EXPECT_EQ(signer.size(), 3u + 36u) << signer;
    // Windows cannot encode a challenge outside PrintableString.
    auto bad = check_challenge(named("windows-intune"), "lab_secret");
    ASSERT_TRUE(bad);
    EXPECT_NE(bad->device_error.find("0x2ab0003"), std::string::npos);
    EXPECT_FALSE(check_challenge(named("ios"), "lab_secret"));
    // Cisco's GET value carries %0A line breaks.
    bytes some(200, 0xfb);
    EXPECT_NE(get_message_value(named("cisco-ios"), some).find("%0A"), std::string::npos);
    EXPECT_EQ(get_message_value(named("ios"), some).find("%0A"), std::string::npos);
}

TEST(Personas, TheGeneratedPageNamesEveryRuleAndSource) {
    std::string md = markdown(all());
    for (const auto& p : all()) {
        EXPECT_NE(md.find("## " + p.name), std::string::npos);
        for (const auto& r : p.rules) {
            if (!r.inherited) {
                // As a Markdown cell writes it: '|' escaped, '<' and '>' as entities.
                std::string cell;
                for (char c : r.source.substr(0, 40))
                    cell += c == '|' ? std::string("\\|") : c == '<' ? std::string("&lt;") : c == '>' ? std::string("&gt;") : std::string(1, c);
                EXPECT_NE(md.find(cell), std::string::npos) << p.name << " " << r.id;
            }
        }
    }
    EXPECT_NE(md.find("Where sources disagree"), std::string::npos);
}

}  // namespace
}  // namespace scep::persona

namespace scep::persona {
namespace {

observed iphone_request() {
    observed o;
    o.operation = "PKIOperation";
    o.method = "POST";
    o.path = "/scep";
    o.user_agent = "profiled/1.0 CFNetwork/1498.700.2 Darwin/23.6.0";
    o.has_user_agent = true;
    o.http_version = 11;
    o.first_operation = "GetCACert";
    o.capabilities = {"POSTPKIOperation", "SHA-256", "SHA-512", "AES", "DES3"};
    o.ber_indefinite = true;
    o.digest = "sha512";
    o.cipher = "aes-128-cbc";
    o.key_transport = "rsaEncryption";
    o.transaction_id = std::string(40, 'A');
    o.nonce_length = 16;
    o.signer_subject = "CN=0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9";
    o.csr_subject = "CN=iPhone";
    o.challenge_type = "PrintableString";
    o.key = "RSA 2048";
    return o;
}

TEST(Personas, TheInspectorNamesTheDevice) {
    auto m = identify(iphone_request());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->p->name, "ios");
    EXPECT_TRUE(m->consistent()) << m->text();
    EXPECT_EQ(m->text().rfind("consistent with ios (", 0), 0u) << m->text();
    // Another User-Agent and a DER request: the nearest persona, with what differs.
    observed go = iphone_request();
    go.user_agent = "Go-http-client/1.1";
    go.ber_indefinite = false;
    auto near = identify(go);
    ASSERT_TRUE(near);
    EXPECT_FALSE(near->consistent());
    EXPECT_NE(near->text().find("Go-http-client"), std::string::npos) << near->text();
    // The generic RFC 8894 client is never named, whatever it sends.
    observed generic = iphone_request();
    generic.user_agent = "scep-lab-probe (rfc8894)";
    auto g = identify(generic);
    ASSERT_TRUE(g);
    EXPECT_NE(g->p->name, "rfc8894");
    // A captured message alone: User-Agent, URL, method, digest and cipher are not compared.
    observed file = iphone_request();
    file.http_known = false;
    file.capabilities_known = false;
    file.user_agent.clear();
    file.has_user_agent = false;
    auto offline = identify(file);
    ASSERT_TRUE(offline);
    EXPECT_TRUE(offline->consistent()) << offline->text();
    EXPECT_LT(offline->compared, m->compared);
}

}  // namespace
}  // namespace scep::persona
