// The admin API on the real binary (issue 7): every call, bad tokens and bad
// input, against a store filled by real enrollments.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <openssl/x509v3.h>

#include <fstream>
#include <regex>

#include "integration/lab_server.hpp"

namespace scep {
namespace {

namespace json = boost::json;

struct admin_client {
    const test::server_process& proc;
    std::string token;

    client::http_reply call(const std::string& method, const std::string& target, const std::string& body = "",
                            std::optional<std::string> use_token = std::nullopt) const {
        auto url = client::parse_scep_url(proc.url());
        std::vector<std::pair<std::string, std::string>> headers;
        std::string t = use_token.value_or(token);
        if (!t.empty()) headers.emplace_back("Authorization", "Bearer " + t);
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        auto r = client::http_request(*url, method, target, body, headers, std::chrono::seconds(10));
        EXPECT_TRUE(r) << r.message();
        return r ? *r : client::http_reply{};
    }
    json::object obj(const std::string& method, const std::string& target, int want_status,
                     const std::string& body = "") const {
        auto r = call(method, target, body);
        EXPECT_EQ(r.status, want_status) << method << " " << target << " -> " << r.body;
        EXPECT_EQ(r.content_type, "application/json") << target;
        json::error_code ec;
        auto v = json::parse(r.body, ec);
        EXPECT_FALSE(ec) << r.body;
        return !ec && v.is_object() ? v.as_object() : json::object{};
    }
};

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string read_token(const lab_server& lab) {
    std::string t = slurp(lab.dir.path() / "data" / "admin-token");
    return t.substr(0, t.find('\n'));
}

TEST(admin_api, token_is_created_once_private_and_required) {
    lab_server lab;
    lab.start();
    const auto file = lab.dir.path() / "data" / "admin-token";
    ASSERT_TRUE(std::filesystem::exists(file));
    EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const std::string token = read_token(lab);
    EXPECT_EQ(token.size(), 64u);
    // Never in the log; the banner shows it only to a terminal (here it is a
    // file, as docker logs or a CI log would be): it says where to read it.
    const std::string banner = slurp(lab.dir.path() / "data" / "server.out");
    EXPECT_EQ(banner.find(token), std::string::npos) << banner;
    EXPECT_NE(banner.find("admin      token in " + file.string() + " (`scep-lab admin-token` prints it)"),
              std::string::npos)
        << banner;
    EXPECT_EQ(lab.proc.log().find(token), std::string::npos);
    EXPECT_NE(slurp(lab.dir.path() / "data" / "ready.json").find("admin_token_file"), std::string::npos);

    admin_client none{lab.proc, ""};
    auto r = none.call("GET", "/admin/api/certificates");
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("Bearer"), std::string::npos);
    admin_client wrong{lab.proc, std::string(64, 'a')};
    EXPECT_EQ(wrong.call("GET", "/admin/api/certificates").status, 401);
    admin_client ok{lab.proc, token};
    EXPECT_EQ(ok.call("GET", "/admin/api/certificates").status, 200);

    // A restart keeps the token and does not print it again.
    lab.proc.stop();
    ASSERT_TRUE(lab.proc.start());
    EXPECT_EQ(read_token(lab), token);
    EXPECT_EQ(slurp(lab.dir.path() / "data" / "server.out").find(token), std::string::npos);
}

TEST(admin_api, list_search_fetch_revoke_reset) {
    lab_server lab;
    lab.start();
    admin_client a{lab.proc, read_token(lab)};
    std::vector<std::string> serials;
    for (const char* cn : {"CN=dev-a,O=lab", "CN=dev-b,O=lab", "CN=printer-1,O=lab"}) {
        auto dev = test::make_requester({.subject = cn, .challenge = "scep-lab-challenge"});
        auto rep = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false);
        ASSERT_EQ(rep.status, pki_status::success);
    }
    auto all = a.obj("GET", "/admin/api/certificates", 200);
    EXPECT_EQ(all["total"].as_int64(), 3);
    ASSERT_EQ(all["items"].as_array().size(), 3u);
    EXPECT_EQ(all["items"].as_array()[0].as_object().at("subject").as_string(), "CN=printer-1,O=lab");  // newest first

    auto devs = a.obj("GET", "/admin/api/certificates?subject=DEV-&limit=1&offset=1", 200);
    EXPECT_EQ(devs["total"].as_int64(), 2);
    ASSERT_EQ(devs["items"].as_array().size(), 1u);
    EXPECT_EQ(devs["items"].as_array()[0].as_object().at("subject").as_string(), "CN=dev-a,O=lab");
    EXPECT_EQ(a.obj("GET", "/admin/api/certificates?since=2000-01-01&until=2000-01-02", 200)["total"].as_int64(), 0);

    const std::string serial(devs["items"].as_array()[0].as_object().at("serial").as_string());
    auto one = a.obj("GET", "/admin/api/certificates/" + serial, 200);
    EXPECT_EQ(one["serial"].as_string(), serial);
    auto pem = x509_from_pem(std::string(one["pem"].as_string()));
    ASSERT_TRUE(pem);
    EXPECT_EQ(serial_hex(**pem), serial);
    auto der = a.call("GET", "/admin/api/certificates/" + serial + "?format=der");
    EXPECT_EQ(der.status, 200);
    EXPECT_EQ(bytes(der.body.begin(), der.body.end()), x509_to_der(**pem));
    // Serial in another spelling (lower case, colons).
    std::string spelled;
    for (std::size_t i = 0; i < serial.size(); i += 2) spelled += (i ? ":" : "") + serial.substr(i, 2);
    for (char& c : spelled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(a.call("GET", "/admin/api/certificates/" + spelled).status, 200);

    auto rev = a.obj("POST", "/admin/api/certificates/" + serial + "/revoke", 200, R"({"reason":"keyCompromise"})");
    EXPECT_EQ(rev["status"].as_string(), "revoked");
    EXPECT_FALSE(rev["already_revoked"].as_bool());
    // Again with the same reason: nothing changes; with another: 409 naming the first.
    EXPECT_TRUE(a.obj("POST", "/admin/api/certificates/" + serial + "/revoke", 200, R"({"reason":"keyCompromise"})")
                    ["already_revoked"].as_bool());
    auto other = a.obj("POST", "/admin/api/certificates/" + serial + "/revoke", 409, "");
    EXPECT_NE(std::string(other["error"].as_string()).find("already revoked with reason keyCompromise"),
              std::string::npos);
    // removeFromCRL does not revoke (it would leave the certificate valid on the CRL).
    auto remove = a.obj("POST", "/admin/api/certificates/" + serial + "/revoke", 400, R"({"reason":"removeFromCRL"})");
    EXPECT_NE(std::string(remove["error"].as_string()).find("does not revoke"), std::string::npos);
    auto revoked = a.obj("GET", "/admin/api/certificates?status=revoked", 200);
    ASSERT_EQ(revoked["total"].as_int64(), 1);
    EXPECT_EQ(revoked["items"].as_array()[0].as_object().at("revocation_reason").as_string(), "keyCompromise");
    // The CRL lists it.
    auto crl = client::http_call(*client::parse_scep_url(lab.proc.url()), "GET", "/crl/issuing.crl", "", "");
    ASSERT_TRUE(crl);
    ASSERT_EQ(crl->status, 200);
    const auto* p = reinterpret_cast<const unsigned char*>(crl->body.data());
    x509_crl_ptr parsed(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl->body.size())));
    ASSERT_TRUE(parsed);
    bool listed = false;
    STACK_OF(X509_REVOKED)* revs = X509_CRL_get_REVOKED(parsed.get());
    for (int i = 0; i < sk_X509_REVOKED_num(revs); ++i) {
        asn1_integer_ptr want(s2i_ASN1_INTEGER(nullptr, ("0x" + serial).c_str()));
        if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revs, i)), want.get()) == 0) listed = true;
    }
    EXPECT_TRUE(listed) << "revoked through the API but not on the CRL";

    // Bad input: JSON errors with a message, nothing changes.
    struct bad {
        const char* method;
        std::string target;
        std::string body;
        int status;
    };
    for (const auto& b : std::vector<bad>{
             {"GET", "/admin/api/certificates?limit=0", "", 400},
             {"GET", "/admin/api/certificates?limit=abc", "", 400},
             {"GET", "/admin/api/certificates?status=lost", "", 400},
             {"GET", "/admin/api/certificates?since=yesterday", "", 400},
             {"GET", "/admin/api/certificates?colour=red", "", 400},
             {"GET", "/admin/api/certificates/XYZ", "", 400},
             {"GET", "/admin/api/certificates/0123456789ABCDEF", "", 404},
             {"GET", "/admin/api/certificates/" + serial + "?format=gif", "", 400},
             {"POST", "/admin/api/certificates/" + serial + "/revoke", "{not json", 400},
             {"POST", "/admin/api/certificates/" + serial + "/revoke", R"({"reason":"bored"})", 400},
             {"POST", "/admin/api/certificates/" + serial + "/revoke", R"({"reason":5})", 400},
             {"GET", "/admin/api/certificates/" + serial + "/revoke", "", 405},
             {"DELETE", "/admin/api/certificates", "", 405},
             {"POST", "/admin/api/reset", "", 400},
             {"POST", "/admin/api/reset", R"({"confirm":"yes"})", 400},
             {"GET", "/admin/api/nothing", "", 404},
             {"GET", "/admin/api/pending?all=maybe", "", 400},
             {"POST", "/admin/api/pending/no-such-txid/approve", "", 404},
         }) {
        auto o = a.obj(b.method, b.target, b.status, b.body);
        EXPECT_TRUE(o.contains("error")) << b.target;
    }
    EXPECT_EQ(a.obj("GET", "/admin/api/certificates", 200)["total"].as_int64(), 3);

    auto cfg = a.obj("GET", "/admin/api/config", 200);
    const std::string toml(cfg["toml"].as_string());
    EXPECT_NE(toml.find("[scep]"), std::string::npos);
    EXPECT_EQ(toml.find("scep-lab-challenge"), std::string::npos);  // masked
    EXPECT_EQ(toml.find(a.token), std::string::npos);

    auto reset = a.obj("POST", "/admin/api/reset", 200, R"({"confirm":"reset"})");
    EXPECT_EQ(reset["deleted_rows"].as_int64(), 3);
    EXPECT_EQ(a.obj("GET", "/admin/api/certificates", 200)["total"].as_int64(), 0);
    // The lab still enrolls after a reset.
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    EXPECT_EQ(lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false).status, pki_status::success);
}

TEST(admin_api, hostile_query_values_and_scheme_spelling) {
    lab_server lab;
    lab.start();
    admin_client a{lab.proc, read_token(lab)};
    // A 50,000-character subject filter: 400, not a 500 naming the database.
    auto long_subject = a.call("GET", "/admin/api/certificates?subject=" + std::string(50000, 'a'));
    EXPECT_EQ(long_subject.status, 400) << long_subject.body;
    EXPECT_EQ(long_subject.body.find(".db"), std::string::npos) << long_subject.body;
    EXPECT_EQ(a.call("GET", "/admin/api/certificates?subject=" + std::string(256, 'a')).status, 200);
    // Offsets that a signed 64-bit count would wrap to the first page.
    for (const char* offset : {"9223372036854775808", "18446744073709551615", "99999999999999999999"})
        EXPECT_EQ(a.call("GET", std::string("/admin/api/certificates?offset=") + offset).status, 400) << offset;
    EXPECT_EQ(a.call("GET", "/admin/api/certificates?offset=9223372036854775807").status, 200);
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    auto url = client::parse_scep_url(lab.proc.url());
    for (const char* scheme : {"bearer ", "BEARER ", "Bearer  "}) {
        auto r = client::http_request(*url, "GET", "/admin/api/certificates", "",
                                      {{"Authorization", scheme + a.token}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << scheme;
    }
    for (const char* wrong : {"Bearertoken", "Basic ", "bear "}) {
        auto r = client::http_request(*url, "GET", "/admin/api/certificates", "",
                                      {{"Authorization", wrong + a.token}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 401) << wrong;
    }
}

TEST(admin_api, pending_requests_are_listed_approved_and_rejected) {
    test::temp_dir cfg_dir;
    const auto cfg = cfg_dir.path() / "manual.toml";
    std::ofstream(cfg) << "[approval]\nmode = \"manual\"\n";
    lab_server lab({"--config", cfg.string()});
    lab.start();
    admin_client a{lab.proc, read_token(lab)};
    auto d1 = test::make_requester({.subject = "CN=wait-1", .challenge = "scep-lab-challenge"});
    auto d2 = test::make_requester({.subject = "CN=wait-2", .challenge = "scep-lab-challenge"});
    const std::string t1 = make_transaction_id(), t2 = make_transaction_id();
    EXPECT_EQ(lab.enroll(d1, content_cipher::aes_128_cbc, digest_alg::sha256, false, t1).status, pki_status::pending);
    EXPECT_EQ(lab.enroll(d2, content_cipher::aes_128_cbc, digest_alg::sha256, false, t2).status, pki_status::pending);
    auto pending = a.obj("GET", "/admin/api/pending", 200);
    ASSERT_EQ(pending["items"].as_array().size(), 2u);
    EXPECT_EQ(a.obj("POST", "/admin/api/pending/" + t1 + "/approve", 200)["status"].as_string(), "approved");
    EXPECT_EQ(a.obj("POST", "/admin/api/pending/" + t2 + "/reject", 200, R"({"reason":"not in inventory"})")["status"]
                  .as_string(),
              "rejected");
    EXPECT_TRUE(a.obj("POST", "/admin/api/pending/" + t1 + "/reject", 409).contains("error"));
    EXPECT_EQ(a.obj("GET", "/admin/api/pending", 200)["items"].as_array().size(), 0u);
    EXPECT_EQ(a.obj("GET", "/admin/api/pending?all=true", 200)["items"].as_array().size(), 2u);
    // The clients get their answers at the next poll (re-sent PKCSReq).
    EXPECT_EQ(lab.enroll(d1, content_cipher::aes_128_cbc, digest_alg::sha256, false, t1).status, pki_status::success);
    EXPECT_EQ(lab.enroll(d2, content_cipher::aes_128_cbc, digest_alg::sha256, false, t2).status, pki_status::failure);
}

TEST(admin_api, environment_token_is_used_and_no_file_is_written) {
    test::temp_dir dir;
    const std::string token = "ci-token-0123456789abcdef";
    test::server_process proc(dir.path() / "data", {}, {"SCEP_LAB_ADMIN_TOKEN=" + token});
    ASSERT_TRUE(proc.start()) << proc.log();
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "admin-token"));
    admin_client a{proc, token};
    EXPECT_EQ(a.call("GET", "/admin/api/certificates").status, 200);
    EXPECT_EQ(slurp(dir.path() / "data" / "server.out").find(token), std::string::npos);
}

}  // namespace
}  // namespace scep
