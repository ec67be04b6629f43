// The real binary on loopback, driven by the project's own SCEP client.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <regex>

#include "integration/lab_server.hpp"
#include "integration/server_process.hpp"
#include "pki/scep/message.hpp"
#include "client/scep_client.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

using client::scep_client;


TEST(server_integration, every_cipher_and_digest_round_trips_over_post_and_get) {
    load_providers();
    lab_server lab;
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    int n = 0;
    for (auto cipher : all_content_ciphers) {
        for (auto digest : all_digest_algs) {
            for (bool use_get : {false, true}) {
                SCOPED_TRACE(std::string(to_string(cipher)) + "/" + std::string(to_string(digest)) +
                             (use_get ? "/GET" : "/POST"));
                auto rep = lab.enroll(dev, cipher, digest, use_get);
                ASSERT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
                EXPECT_EQ(rep.envelope_cipher, cipher);
                EXPECT_EQ(rep.digest, digest);
                auto certs = decrypt_cert_rep(rep, *dev.signer, *dev.key);
                ASSERT_TRUE(certs) << certs.message();
                ASSERT_EQ(certs->size(), 1u);
                EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(certs->front().get()), dev.key.get()), 1);
                EXPECT_TRUE(lab.chains_to_root(*certs->front()));
                ++n;
            }
        }
    }
    EXPECT_EQ(n, 50);
    auto listed = test::run_scep_lab({"list", "--data-dir", (lab.dir.path() / "data").string(), "-n", "1000"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find("50 shown of 50"), std::string::npos) << listed.out;
}

TEST(server_integration, wrong_challenge_gets_failure_bad_message_check) {
    load_providers();
    lab_server lab;
    lab.start();
    auto dev = test::make_requester({.challenge = "not-the-secret"});
    auto rep = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false);
    EXPECT_EQ(rep.status, pki_status::failure);
    EXPECT_EQ(rep.failure, fail_info::bad_message_check);
    EXPECT_NE(lab.proc.log().find("fail_info=badMessageCheck"), std::string::npos);
}

TEST(server_integration, strict_mode_refuses_single_des_with_bad_alg) {
    load_providers();
    test::temp_dir cfgdir;
    auto cfg = cfgdir.path() / "strict.toml";
    std::ofstream(cfg) << "[scep]\nallow_single_des = false\n";
    lab_server lab({"--config", cfg.string()});
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    auto rep = lab.enroll(dev, content_cipher::des_cbc, digest_alg::sha256, false);
    EXPECT_EQ(rep.status, pki_status::failure);
    EXPECT_EQ(rep.failure, fail_info::bad_alg);
}

TEST(server_integration, bad_input_gets_its_answer_and_the_server_stays_healthy) {
    load_providers();
    lab_server lab;
    lab.start();
    auto url = client::parse_scep_url(lab.proc.url());
    struct case_t {
        const char* name;
        std::string method, target, body;
        int status;
    };
    std::vector<case_t> cases{
        {"garbage_der", "POST", "/scep?operation=PKIOperation", std::string("\x30\x80\x01\x02", 4), 400},
        {"broken_base64", "GET", "/scep?operation=PKIOperation&message=***", "", 400},
        {"unknown_operation", "GET", "/scep?operation=Bogus", "", 400},
        {"unknown_path", "GET", "/nothing-here", "", 404},
        {"over_long_body", "POST", "/scep?operation=PKIOperation", std::string(2 << 20, 'A'), 413},
        {"over_long_url", "GET", "/scep?operation=GetCACaps&pad=" + std::string(70000, 'x'), "", 431},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = client::http_call(*url, c.method, c.target, c.body, "application/x-pki-message");
        ASSERT_TRUE(r) << r.message();
        EXPECT_EQ(r->status, c.status) << r->body;
        auto health = client::http_call(*url, "GET", "/healthz", "", "");
        ASSERT_TRUE(health) << health.message();
        EXPECT_EQ(health->status, 200);
    }
    EXPECT_TRUE(lab.proc.running());
}

TEST(server_integration, restart_keeps_the_ca_and_the_issued_certificates) {
    load_providers();
    lab_server lab;
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    auto rep = lab.enroll(dev, content_cipher::aes_256_cbc, digest_alg::sha256, false);
    ASSERT_EQ(rep.status, pki_status::success);
    auto issued = decrypt_cert_rep(rep, *dev.signer, *dev.key);
    ASSERT_TRUE(issued);
    std::string serial = serial_hex(*issued->front());
    auto before = x509_to_der(*lab.ca_certs.at(1));
    EXPECT_EQ(lab.proc.stop(), 0);

    ASSERT_TRUE(lab.proc.start()) << lab.proc.log();
    auto url = client::parse_scep_url(lab.proc.url());
    scep_client again(*url);
    auto certs = again.get_ca_cert();
    ASSERT_TRUE(certs);
    EXPECT_EQ(x509_to_der(*certs->at(1)), before);
    auto listed = test::run_scep_lab({"list", "--format", "json", "--data-dir", (lab.dir.path() / "data").string()});
    EXPECT_EQ(listed.exit_code, 0);
    EXPECT_NE(listed.out.find(serial), std::string::npos) << listed.out;
}

TEST(server_integration, a_broken_key_file_stops_start_up_with_its_name) {
    load_providers();
    test::temp_dir dir;
    auto data = dir.path() / "data";
    auto init = test::run_scep_lab({"init", "--data-dir", data.string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    std::ofstream(data / "pki" / "issuing.key") << "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    test::server_process proc(data);
    EXPECT_FALSE(proc.start());
    EXPECT_NE(proc.log().find("issuing.key"), std::string::npos) << proc.log();
}

TEST(server_integration, a_bad_configuration_file_stops_start_up_naming_the_line) {
    test::temp_dir dir;
    auto cfg = dir.path() / "bad.toml";
    std::ofstream(cfg) << "[server]\nport = 8080\nlisten_adress = \"0.0.0.0\"\n";
    auto r = test::run_scep_lab({"--config", cfg.string(), "serve"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("unknown setting \"server.listen_adress\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" 3 |"), std::string::npos) << r.err;
    auto env = test::run_scep_lab({"serve"}, {"SCEP_LAB_PORT=eighty"});
    EXPECT_EQ(env.exit_code, 2);
    EXPECT_NE(env.err.find("SCEP_LAB_PORT"), std::string::npos) << env.err;
}

TEST(server_integration, a_port_in_use_is_reported_and_nothing_is_left_behind) {
    load_providers();
    lab_server first;
    first.start();
    test::temp_dir dir;
    auto r = test::run_scep_lab({"serve", "--listen", "127.0.0.1", "--port", std::to_string(first.proc.port()),
                                 "--data-dir", (dir.path() / "data").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot bind 127.0.0.1:" + std::to_string(first.proc.port())), std::string::npos) << r.err;
}

TEST(server_integration, logs_never_contain_the_challenge_or_key_material) {
    load_providers();
    lab_server lab({"--challenge", "very-secret-challenge-42", "--log-level", "debug"});
    lab.start();
    auto good = test::make_requester({.challenge = "very-secret-challenge-42"});
    auto bad = test::make_requester({.challenge = "wrong-guess-challenge"});
    EXPECT_EQ(lab.enroll(good, content_cipher::aes_128_cbc, digest_alg::sha256, false).status, pki_status::success);
    EXPECT_EQ(lab.enroll(bad, content_cipher::aes_128_cbc, digest_alg::sha256, true).status, pki_status::failure);
    lab.proc.stop();
    auto log = lab.proc.log();
    EXPECT_NE(log.find("request"), std::string::npos);
    EXPECT_EQ(log.find("very-secret-challenge-42"), std::string::npos);
    EXPECT_EQ(log.find("wrong-guess-challenge"), std::string::npos);
    EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos);
}

TEST(server_integration, json_logs_are_one_object_per_line) {
    load_providers();
    lab_server lab({"--log-format", "json"});
    lab.start();
    ASSERT_TRUE(lab.client->get_ca_caps());
    lab.proc.stop();
    std::istringstream in(lab.proc.log());
    int lines = 0;
    for (std::string line; std::getline(in, line);) {
        ++lines;
        EXPECT_EQ(line.front(), '{') << line;
        EXPECT_EQ(line.back(), '}') << line;
        EXPECT_NE(line.find("\"msg\":"), std::string::npos) << line;
    }
    EXPECT_GE(lines, 3);
    EXPECT_NE(lab.proc.log().find("\"op\":\"GetCACaps\""), std::string::npos);
}

TEST(server_integration, pending_requests_survive_a_restart_and_are_approved_afterwards) {
    load_providers();
    test::temp_dir cfgdir;
    auto cfg = cfgdir.path() / "manual.toml";
    std::ofstream(cfg) << "[approval]\nmode = \"manual\"\n";
    lab_server lab({"--config", cfg.string()});
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    const std::string txid = "RESTART-PENDING-1";
    auto first = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false, txid);
    ASSERT_EQ(first.status, pki_status::pending);
    EXPECT_EQ(lab.proc.stop(), 0);

    ASSERT_TRUE(lab.proc.start()) << lab.proc.log();
    auto data = (lab.dir.path() / "data").string();
    auto listed = test::run_scep_lab({"pending", "--data-dir", data});
    EXPECT_NE(listed.out.find(txid), std::string::npos) << listed.out;
    auto approved = test::run_scep_lab({"approve", "--data-dir", data, txid});
    EXPECT_EQ(approved.exit_code, 0) << approved.err;
    auto twice = test::run_scep_lab({"approve", "--data-dir", data, txid});
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_NE(twice.err.find("already approved"), std::string::npos) << twice.err;
    auto unknown = test::run_scep_lab({"reject", "--data-dir", data, "NO-SUCH-TX"});
    EXPECT_EQ(unknown.exit_code, 1);

    // Poll with CertPoll (GetCertInitial) on the restarted server.
    auto url = client::parse_scep_url(lab.proc.url());
    scep_client client(*url);
    auto ca = client.get_ca_cert();
    ASSERT_TRUE(ca);
    const X509* ra = client::select_recipient(*ca);
    pki_request_params p;
    p.type = message_type::cert_poll;
    p.transaction_id = txid;
    p.sender_nonce = random_bytes(16);
    p.message_data = encode_issuer_and_subject(*X509_get_issuer_name(ra), *X509_REQ_get_subject_name(dev.csr.get()));
    auto msg = build_pki_request(p, *dev.signer, *dev.key, {ra});
    ASSERT_TRUE(msg);
    auto reply = client.pki_operation(*msg, true);
    ASSERT_TRUE(reply);
    auto rep = parse_cert_rep(bytes(reply->body.begin(), reply->body.end()), *client::select_signer(*ca));
    ASSERT_TRUE(rep) << rep.message();
    ASSERT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
    auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
    ASSERT_TRUE(certs);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(certs->front().get()), dev.key.get()), 1);
    EXPECT_NE(lab.proc.log().find("msg_type=CertPoll"), std::string::npos);
}

// UTF-16LE (BOM optional) to ASCII, as scrapers decode the NDES admin page.
std::string from_utf16le(const std::string& body) {
    std::string out;
    std::size_t i = body.rfind("\xFF\xFE", 0) == 0 ? 2 : 0;
    for (; i + 1 < body.size(); i += 2) out += body[i];
    return out;
}

TEST(server_integration, ndes_mode_scraped_one_time_password_enrolls_once) {
    load_providers();
    test::temp_dir cfgdir;
    auto cfg = cfgdir.path() / "ndes.toml";
    std::ofstream(cfg) << "[ndes]\nenabled = true\npassword_cache = 2\nadmin_users = [\"support:lab\"]\n";
    lab_server lab({"--config", cfg.string()});
    lab.start();
    auto base = client::parse_scep_url("http://127.0.0.1:" + std::to_string(lab.proc.port()) + "/certsrv/mscep/mscep.dll");
    ASSERT_TRUE(base);

    auto caps = client::http_call(*base, "GET", base->path + "/pkiclient.exe?operation=GetCACaps&message=default", "", "");
    ASSERT_TRUE(caps);
    EXPECT_EQ(caps->body, "POSTPKIOperation\nRenewal\nSHA-512\nSHA-256\nSHA-1\nDES3\n");

    auto no_login = client::http_call(*base, "GET", "/certsrv/mscep_admin/", "", "");
    ASSERT_TRUE(no_login);
    EXPECT_EQ(no_login->status, 401);

    // HTTP Basic "support:lab"; the page is UTF-16LE with a BOM.
    auto admin = [&] {
        scep::client::scep_url u = *base;
        return client::http_call_with_headers(u, "GET", "/certsrv/mscep_admin/", {{"Authorization", "Basic c3VwcG9ydDpsYWI="}});
    };
    auto page = admin();
    ASSERT_TRUE(page) << page.message();
    ASSERT_EQ(page->status, 200);
    EXPECT_EQ(page->body.substr(0, 2), "\xFF\xFE");
    std::string html = from_utf16le(page->body);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(html, m, std::regex(R"(The enrollment challenge password is: <B> (\S*))", std::regex::icase)))
        << html;
    std::string password = m[1];
    EXPECT_TRUE(std::regex_match(password, std::regex("[A-F0-9]{16}"))) << password;
    EXPECT_TRUE(std::regex_search(html, std::regex(R"(<B> [A-F0-9]{8} [A-F0-9]{8} [A-F0-9]{8} [A-F0-9]{8} </B>)")));
    EXPECT_EQ(lab.proc.log().find(password), std::string::npos);  // never logged

    auto url = *base;
    lab.client.emplace(url);
    auto dev = test::make_requester({.challenge = password});
    EXPECT_EQ(lab.enroll(dev, content_cipher::des_ede3_cbc, digest_alg::sha1, true).status, pki_status::success);
    auto again = test::make_requester({.challenge = password});
    auto reused = lab.enroll(again, content_cipher::des_ede3_cbc, digest_alg::sha1, true);
    EXPECT_EQ(reused.failure, fail_info::bad_message_check);
    // NDES-shaped failures carry no failInfoText; the reason is in the server log.
    EXPECT_TRUE(reused.fail_info_text.empty()) << reused.fail_info_text;
    EXPECT_NE(lab.proc.log().find("already been used"), std::string::npos);

    // Two more views fill the cache of 2; the third says so, as NDES does.
    ASSERT_TRUE(admin());
    ASSERT_TRUE(admin());
    auto full = admin();
    ASSERT_TRUE(full);
    EXPECT_NE(from_utf16le(full->body).find("The password cache is full."), std::string::npos);

    // Browsing the SCEP URL shows the NDES information page.
    auto browse = client::http_call(*base, "GET", "/certsrv/mscep/mscep.dll", "", "");
    ASSERT_TRUE(browse);
    EXPECT_EQ(browse->status, 200);
    EXPECT_NE(from_utf16le(browse->body).find("mscep_admin"), std::string::npos);
}

TEST(server_integration, health_command_reports_a_running_and_a_missing_server) {
    load_providers();
    lab_server lab;
    lab.start();
    auto up = test::run_scep_lab({"health", "--url", "http://127.0.0.1:" + std::to_string(lab.proc.port())});
    EXPECT_EQ(up.exit_code, 0) << up.err;
    EXPECT_NE(up.out.find("healthy"), std::string::npos);
    auto port = lab.proc.port();
    lab.proc.stop();
    auto down = test::run_scep_lab({"health", "--url", "http://127.0.0.1:" + std::to_string(port)});
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_NE(down.err.find("Connection refused"), std::string::npos) << down.err;
    // Bad ports are refused with their text, not a crash or a truncated port.
    for (const char* url : {"http://[::1]:x", "http://127.0.0.1:70000"}) {
        SCOPED_TRACE(url);
        auto bad = test::run_scep_lab({"health", "--url", url});
        EXPECT_EQ(bad.exit_code, 2) << bad.err;
        EXPECT_NE(bad.err.find("bad port"), std::string::npos) << bad.err;
        auto bench = test::run_scep_lab({"bench", std::string(url) + "/scep", "-n", "1"});
        EXPECT_EQ(bench.exit_code, 1) << bench.err;
        EXPECT_NE(bench.err.find("bad port"), std::string::npos) << bench.err;
    }
}

TEST(server_integration, health_over_https_verifies_a_lab_whose_top_tier_is_not_called_root) {
    // The micromdm-like preset names its only CA "ca"; with HTTP off, health
    // must verify HTTPS against it (the Docker HEALTHCHECK does this).
    test::temp_dir dir;
    const auto data = dir.path() / "data";
    test::server_process proc(data, {"--preset", "micromdm-like", "--no-http"});
    proc.enable_https();
    ASSERT_TRUE(proc.start()) << proc.log();
    ASSERT_FALSE(std::filesystem::exists(data / "pki" / "root.crt"));
    auto up = test::run_scep_lab({"--preset", "micromdm-like", "--data-dir", data.string(), "health", "--url",
                                  "https://localhost:" + std::to_string(proc.https_port())});
    EXPECT_EQ(up.exit_code, 0) << up.err;
    EXPECT_NE(up.out.find("healthy"), std::string::npos) << up.out;
}

TEST(server_integration, list_json_has_the_fields_of_the_admin_api) {
    load_providers();
    lab_server lab;
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    auto rep = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false);
    ASSERT_EQ(rep.status, pki_status::success);
    auto certs = decrypt_cert_rep(rep, *dev.signer, *dev.key);
    ASSERT_TRUE(certs);
    const X509& old = *certs->front();
    // A renewal signed by the issued certificate, then the successor revoked.
    pki_request_params p;
    p.type = message_type::renewal_req;
    p.transaction_id = make_transaction_id();
    p.sender_nonce = random_bytes(16);
    p.message_data = x509_req_to_der(*dev.csr);
    auto reply = lab.client->pki_operation(*build_pki_request(p, old, *dev.key, {lab.recipient}), false);
    ASSERT_TRUE(reply);
    auto renewed = parse_cert_rep(bytes(reply->body.begin(), reply->body.end()), *lab.signer);
    ASSERT_TRUE(renewed && renewed->status == pki_status::success) << (renewed ? renewed->fail_info_text : "");
    auto next = decrypt_cert_rep(*renewed, old, *dev.key);
    ASSERT_TRUE(next);
    const std::string data = (lab.dir.path() / "data").string();
    const std::string new_serial = serial_hex(*next->front());
    ASSERT_EQ(test::run_scep_lab({"--data-dir", data, "revoke", new_serial, "--reason", "keyCompromise"}).exit_code, 0);
    auto listed = test::run_scep_lab({"list", "--format", "json", "--data-dir", data});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    boost::system::error_code ec;
    auto v = boost::json::parse(listed.out, ec);
    ASSERT_FALSE(ec) << listed.out;
    bool found = false;
    for (const auto& item : v.as_array()) {
        const auto& o = item.as_object();
        if (o.at("serial").as_string() != new_serial) continue;
        found = true;
        EXPECT_EQ(o.at("replaces_serial").as_string(), serial_hex(old));
        EXPECT_FALSE(o.at("revoked_at").as_string().empty());
        EXPECT_EQ(o.at("revocation_reason").as_string(), "keyCompromise");
    }
    EXPECT_TRUE(found) << listed.out;
}

}  // namespace
}  // namespace scep
