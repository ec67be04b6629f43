// Bad input of every kind the issue lists, against the real binary: each gets
// its specified answer (an HTTP status, a CertRep failInfo, or a closed
// connection) and the server stays healthy afterwards.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio.hpp>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "integration/server_process.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/store/store.hpp"
#include "client/scep_client.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct robust_lab {
    test::temp_dir dir;
    std::optional<test::server_process> proc;
    client::scep_url url;
    std::vector<x509_ptr> ca;
    const X509* recipient = nullptr;
    const X509* signer = nullptr;

    explicit robust_lab(const std::string& toml) {
        auto cfg = dir.path() / "robust.toml";
        std::ofstream(cfg) << toml;
        proc.emplace(dir.path() / "data", std::vector<std::string>{"--config", cfg.string()});
    }
    void start() {
        load_providers();
        ASSERT_TRUE(proc->start()) << proc->log();
        url = *client::parse_scep_url(proc->url());
        auto certs = client::scep_client(url).get_ca_cert();
        ASSERT_TRUE(certs) << certs.message();
        ca = std::move(*certs);
        recipient = client::select_recipient(ca);
        signer = client::select_signer(ca);
    }
    void expect_healthy() {
        auto health = client::http_call(url, "GET", "/healthz", "", "");
        ASSERT_TRUE(health) << health.message();
        EXPECT_EQ(health->status, 200);
        EXPECT_TRUE(proc->running());
    }
    long rss_kb() const {
        std::ifstream in("/proc/" + std::to_string(proc->pid()) + "/status");
        for (std::string line; std::getline(in, line);)
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return -1;
    }
};

bytes signed_request(const robust_lab& lab, const std::string& challenge, message_type type = message_type::pkcs_req) {
    auto dev = test::make_requester({.challenge = challenge});
    return test::make_pkcs_req(dev, *lab.recipient, make_transaction_id(), random_bytes(16), content_cipher::aes_128_cbc,
                               digest_alg::sha256, type);
}

TEST(robustness, every_kind_of_bad_input_gets_its_answer_and_the_server_stays_healthy) {
    robust_lab lab("[server]\nread_timeout = \"2s\"\nmax_body_bytes = 1048576\n");
    lab.start();
    const bytes good = signed_request(lab, "scep-lab-challenge");
    std::string good_s(good.begin(), good.end());

    // A signature over different content: one byte of the signed envelope changed.
    auto decoded = decode_pki_request(good);
    ASSERT_TRUE(decoded);
    bytes tampered = good;
    {
        PKCS7* inner = decoded->p7->d.sign->contents;
        ASN1_OCTET_STRING* os = inner->d.data;
        std::string env(reinterpret_cast<const char*>(ASN1_STRING_get0_data(os)),
                        static_cast<std::size_t>(ASN1_STRING_length(os)));
        auto at = good_s.find(env);
        ASSERT_NE(at, std::string::npos);
        tampered[at + env.size() - 5] ^= 0x01;  // inside the encrypted content
    }
    // A CMS ContentInfo of the wrong type: the degenerate GetCACert reply.
    auto ca_reply = client::http_call(lab.url, "GET", "/scep?operation=GetCACert", "", "");
    ASSERT_TRUE(ca_reply);

    struct case_t {
        const char* name;
        std::string method, target, body, content_type;
        int http;                                // expected HTTP status
        std::optional<fail_info> failure;        // and, for 200, the CertRep failInfo
    };
    std::vector<case_t> cases{
        {"truncated_der", "POST", "/scep?operation=PKIOperation", good_s.substr(0, good_s.size() / 2),
         "application/x-pki-message", 400, {}},
        {"garbage_der", "POST", "/scep?operation=PKIOperation", std::string("\x30\x82\xff\xff\x02\x01", 6),
         "application/x-pki-message", 400, {}},
        {"random_bytes", "POST", "/scep?operation=PKIOperation", std::string(3000, '\x30'), "application/x-pki-message",
         400, {}},
        {"cms_content_type_not_signed_data", "POST", "/scep?operation=PKIOperation", ca_reply->body,
         "application/x-pki-message", 400, {}},
        // The HTTP Content-Type is not checked (clients send all sorts); the DER decides.
        {"http_content_type_ignored", "POST", "/scep?operation=PKIOperation", good_s, "text/html", 200,
         std::nullopt},
        {"body_of_10_mb", "POST", "/scep?operation=PKIOperation", std::string(10 << 20, 'A'),
         "application/x-pki-message", 413, {}},
        {"broken_base64_get", "GET", "/scep?operation=PKIOperation&message=MII%%%%***", "", "", 400, {}},
        {"broken_base64_post", "POST", "/scep?operation=PKIOperation", "this is !!! not base64", "text/plain", 400, {}},
        {"signature_over_different_content", "POST", "/scep?operation=PKIOperation",
         std::string(tampered.begin(), tampered.end()), "application/x-pki-message", 200, fail_info::bad_message_check},
        {"wrong_challenge", "POST", "/scep?operation=PKIOperation",
         [&] { auto b = signed_request(lab, "wrong"); return std::string(b.begin(), b.end()); }(),
         "application/x-pki-message", 200, fail_info::bad_message_check},
        {"unknown_message_type", "POST", "/scep?operation=PKIOperation",
         [&] { auto b = signed_request(lab, "scep-lab-challenge", static_cast<message_type>(99)); return std::string(b.begin(), b.end()); }(),
         "application/x-pki-message", 200, fail_info::bad_request},
        {"over_long_url", "GET", "/scep?operation=GetCACaps&pad=" + std::string(70000, 'x'), "", "", 431, {}},
        {"unknown_operation", "GET", "/scep?operation=GetEverything", "", "", 400, {}},
        {"no_operation", "GET", "/scep", "", "", 400, {}},
        {"wrong_method", "DELETE", "/scep?operation=GetCACaps", "", "", 405, {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = client::http_call(lab.url, c.method, c.target, c.body, c.content_type);
        ASSERT_TRUE(r) << r.message();
        EXPECT_EQ(r->status, c.http) << r->body.substr(0, 200);
        if (c.http == 200) {
            auto rep = parse_cert_rep(bytes(r->body.begin(), r->body.end()), *lab.signer);
            ASSERT_TRUE(rep) << rep.message();
            if (c.failure) {
                EXPECT_EQ(rep->status, pki_status::failure);
                EXPECT_EQ(rep->failure, c.failure) << rep->fail_info_text;
            } else {
                EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
            }
        }
        lab.expect_healthy();
    }
}

TEST(robustness, header_bytes_trickled_slowly_are_cut_off_at_the_read_timeout) {
    robust_lab lab("[server]\nread_timeout = \"2s\"\n");
    lab.start();
    asio::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect({asio::ip::make_address("127.0.0.1"), lab.proc->port()});
    asio::write(sock, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
    auto started = std::chrono::steady_clock::now();
    boost::system::error_code ec;
    // One byte every 300 ms: the whole request never arrives.
    while (!ec && std::chrono::steady_clock::now() - started < std::chrono::seconds(8)) {
        asio::write(sock, asio::buffer("X", 1), ec);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    auto cut = std::chrono::steady_clock::now() - started;
    // The server closed it (the write fails once the peer is gone) close to 2 s.
    EXPECT_TRUE(ec) << "still connected after 8 s";
    EXPECT_LT(cut, std::chrono::seconds(6));
    EXPECT_GE(cut, std::chrono::milliseconds(1500));
    lab.expect_healthy();
}

// How many of these connections the server has closed (EOF or reset).
int closed_by_server(std::vector<tcp::socket>& sockets);

// Polls `done` every 50 ms until it holds or `limit` passes: waits for a
// condition, never for a fixed time.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

// The server's open-connection gauge from /metrics.
long open_connections(const client::scep_url& url) {
    auto m = client::http_call(url, "GET", "/metrics", "", "");
    if (!m) return -1;
    constexpr std::string_view gauge = "\nscep_lab_connections ";
    auto at = m->body.find(gauge);
    return at == std::string::npos ? -1 : std::stol(m->body.substr(at + gauge.size()));
}

int closed_by_server(std::vector<tcp::socket>& sockets) {
    int closed = 0;
    for (auto& s : sockets) {
        s.non_blocking(true);
        char b;
        boost::system::error_code ec;
        s.read_some(asio::buffer(&b, 1), ec);
        if (ec == asio::error::eof || ec == asio::error::connection_reset) ++closed;
    }
    return closed;
}

TEST(robustness, thousands_of_idle_connections_neither_stop_service_nor_stay_forever) {
    // This test process needs the descriptors too.
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < 8192) GTEST_SKIP() << "open-file hard limit " << rl.rlim_max << " is below 8192";
    rl.rlim_cur = 8192;
    setrlimit(RLIMIT_NOFILE, &rl);

    robust_lab lab("[server]\nread_timeout = \"3s\"\nmax_connections = 3000\n");
    lab.start();
    long rss_before = lab.rss_kb();
    asio::io_context ioc;
    std::vector<tcp::socket> idle;
    tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), lab.proc->port()};
    for (int i = 0; i < 2500; ++i) {
        idle.emplace_back(ioc);
        idle.back().connect(ep);
    }
    // The server has accepted them all (the /metrics call is one more).
    ASSERT_TRUE(eventually([&] { return open_connections(lab.url) >= 2500; }, std::chrono::seconds(10)))
        << open_connections(lab.url);
    // 2500 idle connections held (none closed before read_timeout): service goes on.
    EXPECT_EQ(closed_by_server(idle), 0);
    lab.expect_healthy();
    auto caps = client::http_call(lab.url, "GET", "/scep?operation=GetCACaps", "", "");
    ASSERT_TRUE(caps);
    EXPECT_EQ(caps->status, 200);
    long rss_held = lab.rss_kb();
    std::cout << "server RSS: " << rss_before / 1024 << " MB before, " << rss_held / 1024 << " MB with 2500 idle connections\n";
    EXPECT_LT(rss_held - rss_before, 64 * 1024) << "idle connections cost too much memory";

    // Beyond max_connections, new connections are closed at once.
    std::vector<tcp::socket> extra;
    for (int i = 0; i < 700; ++i) {
        extra.emplace_back(ioc);
        extra.back().connect(ep);
    }
    EXPECT_TRUE(eventually([&] { return closed_by_server(extra) >= 100; }, std::chrono::seconds(5)))
        << "connections over max_connections were kept: " << closed_by_server(extra) << " closed";
    extra.clear();

    // After read_timeout the server has dropped the idle ones, and serves again.
    EXPECT_TRUE(eventually([&] { return closed_by_server(idle) == 2500; }, std::chrono::seconds(15)))
        << closed_by_server(idle) << " of 2500 closed";
    idle.clear();
    lab.expect_healthy();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    auto msg = test::make_pkcs_req(dev, *lab.recipient, make_transaction_id(), random_bytes(16));
    auto r = client::scep_client(lab.url).pki_operation(msg, false);
    ASSERT_TRUE(r);
    auto rep = parse_cert_rep(bytes(r->body.begin(), r->body.end()), *lab.signer);
    ASSERT_TRUE(rep) << rep.message();
    EXPECT_EQ(rep->status, pki_status::success);
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

TEST(robustness, logs_and_output_never_carry_the_challenge_the_passphrase_or_key_material) {
    load_providers();
    test::temp_dir dir;
    auto data = dir.path() / "data";
    test::server_process proc(data, {"--challenge", "challenge-never-logged-7", "--log-level", "trace"},
                              {"SCEP_LAB_KEY_PASSPHRASE=passphrase-never-logged-9"});
    ASSERT_TRUE(proc.start()) << proc.log();
    auto url = *client::parse_scep_url(proc.url());
    client::scep_client client(url);
    auto ca = client.get_ca_cert();
    ASSERT_TRUE(ca);
    for (const char* challenge : {"challenge-never-logged-7", "a-wrong-guess-never-logged"}) {
        auto dev = test::make_requester({.challenge = challenge});
        auto msg = test::make_pkcs_req(dev, *client::select_recipient(*ca), make_transaction_id(), random_bytes(16));
        ASSERT_TRUE(client.pki_operation(msg, true));
    }
    auto shown = test::run_scep_lab({"config", "--data-dir", data.string()},
                                    {"SCEP_LAB_KEY_PASSPHRASE=passphrase-never-logged-9",
                                     "SCEP_LAB_CHALLENGE=challenge-never-logged-7"});
    EXPECT_EQ(shown.exit_code, 0);
    proc.stop();

    std::string all = proc.log() + shown.out + shown.err;
    EXPECT_NE(all.find("request"), std::string::npos);
    for (const char* secret : {"challenge-never-logged-7", "a-wrong-guess-never-logged", "passphrase-never-logged-9",
                               "PRIVATE KEY"})
        EXPECT_EQ(all.find(secret), std::string::npos) << secret;
    // Nor any line of any key file (encrypted or not).
    int keys = 0;
    for (const auto& e : std::filesystem::directory_iterator(data / "pki")) {
        if (e.path().extension() != ".key") continue;
        ++keys;
        auto pem = read_file(e.path());
        ASSERT_TRUE(pem);
        EXPECT_NE(pem->find("ENCRYPTED PRIVATE KEY"), std::string::npos) << e.path();
        std::istringstream lines(*pem);
        for (std::string line; std::getline(lines, line);) {
            if (line.size() > 20 && line.find("-----") == std::string::npos) {
                EXPECT_EQ(all.find(line), std::string::npos) << e.path();
            }
        }
    }
    EXPECT_GE(keys, 4);  // three CAs and the RA

    // Without the passphrase the server refuses to start and says why.
    test::server_process locked(data);
    EXPECT_FALSE(locked.start(std::chrono::seconds(10)));
    EXPECT_NE(locked.log().find("encrypted"), std::string::npos) << locked.log();
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

// scep-lab bench against the real server: every reply checked, failures by kind.
TEST(bench_tool, counts_successes_and_failures_by_kind_and_exits_accordingly) {
    load_providers();
    test::temp_dir keys;
    robust_lab ok_lab("");
    ok_lab.start();
    auto good = test::run_scep_lab({"bench", ok_lab.proc->url(), "-n", "12", "-c", "3", "-k", "1", "--json",
                                    "--cipher", "des3", "--digest", "sha1",
                                    "--received", (keys.path() / "received.txt").string()});
    EXPECT_EQ(good.exit_code, 0) << good.err;
    EXPECT_NE(good.out.find("\"succeeded\":12,\"failed\":0,\"decrypted\":12"), std::string::npos) << good.out;
    std::ifstream received(keys.path() / "received.txt");
    int lines = 0;
    for (std::string txid, serial; received >> txid >> serial;) ++lines;
    EXPECT_EQ(lines, 12);

    robust_lab failing("[quirks]\nfail_info = \"badTime\"\n");
    failing.start();
    auto bad = test::run_scep_lab({"bench", failing.proc->url(), "-n", "5", "-c", "2", "--json"});
    EXPECT_EQ(bad.exit_code, 3) << bad.err;
    EXPECT_NE(bad.out.find("\"failures\":{\"FAILURE badTime\":5}"), std::string::npos) << bad.out;

    // EC signers get their reply by key agreement (scep.ec_requesters = "kari"):
    // every reply decrypted and matched to its key.
    for (const char* key : {"ec-p256", "ec-p384"}) {
        auto ec = test::run_scep_lab({"bench", ok_lab.proc->url(), "-n", "3", "-c", "1", "-k", "1", "--json", "--key", key});
        EXPECT_EQ(ec.exit_code, 0) << key << ": " << ec.err;
        EXPECT_NE(ec.out.find("\"succeeded\":3,\"failed\":0,\"decrypted\":3"), std::string::npos) << key << ": " << ec.out;
    }
    // With "refuse", refused with badAlg.
    robust_lab refusing("[scep]\nec_requesters = \"refuse\"\n");
    refusing.start();
    auto ec = test::run_scep_lab({"bench", refusing.proc->url(), "-n", "3", "-c", "1", "--json", "--key", "ec-p256"});
    EXPECT_EQ(ec.exit_code, 3) << ec.err;
    EXPECT_NE(ec.out.find("\"failures\":{\"FAILURE badAlg\":3}"), std::string::npos) << ec.out;

    auto nowhere = test::run_scep_lab({"bench", "http://127.0.0.1:1/scep", "-n", "1"});
    EXPECT_EQ(nowhere.exit_code, 1);
    EXPECT_NE(nowhere.err.find("GetCACert"), std::string::npos) << nowhere.err;
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

// Serials are stored as BN_bn2hex writes them ("0704B5...": even length);
// openssl and users drop or keep the leading zero, add colons, use lower case.
TEST(cli, revoke_finds_a_serial_with_a_leading_zero_however_it_is_written) {
    load_providers();
    test::temp_dir dir;
    auto data = dir.path() / "data";
    ASSERT_EQ(test::run_scep_lab({"init", "--data-dir", data.string()}).exit_code, 0);
    {
        auto store = open_sqlite_store(data / "scep-lab.db");
        ASSERT_TRUE(store) << store.message();
        for (const char* serial : {"0704B5", "0A0B0C"}) {
            cert_record r;
            r.serial = serial;
            r.subject = std::string("CN=") + serial;
            r.issuer = "CN=test";
            r.not_before = r.not_after = "2026-01-01T00:00:00Z";
            r.public_key_sha256 = serial;
            r.der = bytes{0x30, 0x00};
            ASSERT_TRUE((*store)->insert(r));
        }
    }
    auto a = test::run_scep_lab({"revoke", "--data-dir", data.string(), "704b5"});
    EXPECT_EQ(a.exit_code, 0) << a.err;
    EXPECT_NE(a.out.find("revoked 0704B5"), std::string::npos) << a.out;
    auto b = test::run_scep_lab({"revoke", "--data-dir", data.string(), "0a:0b:0c"});
    EXPECT_EQ(b.exit_code, 0) << b.err;
    auto again = test::run_scep_lab({"revoke", "--data-dir", data.string(), "00704B5"});
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_NE(again.out.find("already revoked"), std::string::npos) << again.out;
    auto missing = test::run_scep_lab({"revoke", "--data-dir", data.string(), "704B6"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no certificate with serial 0704B6"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace scep
