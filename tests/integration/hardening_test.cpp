// The hardening probes (docs/security.md) against the real binary: request
// smuggling, secrets at rest, a full disk, log injection.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <signal.h>
#include <sstream>
#include <thread>

#include "pki/crypto/json_text.hpp"

#include "integration/lab_server.hpp"

namespace scep {
namespace {

test::raw_answer raw_exchange(std::uint16_t port, const std::string& request) {
    return test::raw_http_exchange("127.0.0.1", port, request);
}

int status_lines(const std::string& bytes) {
    static const std::regex line("HTTP/1\\.[01] [0-9]{3}");
    return static_cast<int>(std::distance(std::sregex_iterator(bytes.begin(), bytes.end(), line), std::sregex_iterator()));
}

TEST(hardening, ambiguous_framing_is_answered_400_and_the_connection_closed) {
    lab_server lab({"--no-https"});
    lab.start();
    const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const char* te : {"xchunked", "chunked, gzip", "identity"}) {
        SCOPED_TRACE(te);
        auto a = raw_exchange(lab.proc.port(), std::string("POST /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n") +
                                                   "Transfer-Encoding: " + te + "\r\n\r\n" + smuggled);
        EXPECT_EQ(a.bytes.rfind("HTTP/1.1 400", 0), 0u) << a.bytes;
        EXPECT_EQ(status_lines(a.bytes), 1) << "the smuggled request got its own answer:\n" << a.bytes;
        EXPECT_TRUE(a.closed);
    }
    struct case_t {
        const char* name;
        std::string request;
        const char* status;
    };
    std::vector<case_t> cases{
        {"no_host", "GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
        {"two_hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400"},
        {"http_1_0_without_host", "GET /healthz HTTP/1.0\r\n\r\n", "HTTP/1.0 200"},
        {"absolute_form", "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         "HTTP/1.1 200"},
        {"put_on_a_download", "PUT /ca/root.pem HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
         "HTTP/1.1 405"},
        {"delete_on_healthz", "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 405"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto a = raw_exchange(lab.proc.port(), c.request);
        EXPECT_EQ(a.bytes.rfind(c.status, 0), 0u) << a.bytes;
        if (std::string(c.status).ends_with("405")) {
            EXPECT_NE(a.bytes.find("Allow: GET, HEAD"), std::string::npos);
        }
    }
    auto health = client::http_call(*client::parse_scep_url(lab.proc.url()), "GET", "/healthz", "", "");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

std::filesystem::perms mode_of(const std::filesystem::path& p) {
    return std::filesystem::status(p).permissions() & std::filesystem::perms::all;
}

TEST(hardening, data_files_are_readable_by_their_owner_only) {
    lab_server lab;
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    ASSERT_EQ(lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false).status, pki_status::success);
    const auto data = lab.dir.path() / "data";
    using std::filesystem::perms;
    EXPECT_EQ(mode_of(data), perms::owner_all);
    for (const char* f : {"scep-lab.db", "scep-lab.db-wal", "scep-lab.db-shm", "admin-token"}) {
        SCOPED_TRACE(f);
        ASSERT_TRUE(std::filesystem::exists(data / f));
        EXPECT_EQ(mode_of(data / f), perms::owner_read | perms::owner_write);
    }
    // A store left 0644 by an older build is tightened at the next start.
    lab.proc.stop();
    std::filesystem::permissions(data / "scep-lab.db", perms::owner_read | perms::owner_write | perms::group_read |
                                                           perms::others_read);
    std::filesystem::permissions(data, perms::owner_all | perms::group_read | perms::group_exec |
                                           perms::others_read | perms::others_exec);
    ASSERT_TRUE(lab.proc.start()) << lab.proc.log();
    EXPECT_EQ(mode_of(data / "scep-lab.db"), perms::owner_read | perms::owner_write);
    EXPECT_EQ(mode_of(data), perms::owner_all);
}

TEST(hardening, an_empty_store_file_at_start_is_reported) {
    test::temp_dir dir;
    std::filesystem::create_directories(dir.path() / "data");
    std::ofstream(dir.path() / "data" / "scep-lab.db").close();
    test::server_process proc(dir.path() / "data", {"--no-https"});
    ASSERT_TRUE(proc.start()) << proc.log();
    EXPECT_NE(proc.log().find("the store file is empty (0 bytes)"), std::string::npos) << proc.log();
}

TEST(hardening, client_chosen_transaction_ids_cannot_forge_log_lines) {
    lab_server lab({"--no-https"});
    lab.start();
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    const std::string txid = "T1\n2026-01-01T00:00:00.000Z info  request forged=yes\x1b[2J";
    auto rep = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false, txid);
    EXPECT_EQ(rep.status, pki_status::success) << rep.fail_info_text;
    const std::string log = lab.proc.log();
    EXPECT_EQ(log.find("\ninfo  request forged=yes"), std::string::npos);
    EXPECT_EQ(log.find("\n2026-01-01T00:00:00.000Z"), std::string::npos) << log;
    EXPECT_EQ(log.find('\x1b'), std::string::npos);
    EXPECT_NE(log.find("txid=\"T1\\n2026-01-01"), std::string::npos) << log;
}

// A full disk under the running server: CertRep FAILURE without internals,
// /readyz 503 while it lasts, and everything back once there is space.
TEST(hardening, a_full_disk_is_the_servers_failure_and_readyz_says_so) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    test::temp_dir dir;
    const auto data = dir.path() / "data";
    std::filesystem::create_directories(data);
    if (std::system(("mount -t tmpfs -o size=4m tmpfs " + data.string()).c_str()) != 0)
        GTEST_SKIP() << "cannot mount a tmpfs here";
    struct unmount {
        std::filesystem::path p;
        ~unmount() { (void)std::system(("umount -l " + p.string()).c_str()); }
    } guard{data};
    test::server_process proc(data, {"--no-https"});
    ASSERT_TRUE(proc.start()) << proc.log();
    auto url = *client::parse_scep_url(proc.url());
    client::scep_client client(url);
    auto ca = client.get_ca_cert();
    ASSERT_TRUE(ca);
    const X509* recipient = client::select_recipient(*ca);
    const X509* signer = client::select_signer(*ca);
    auto enroll = [&](const std::string& txid) {
        auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
        auto reply = client.pki_operation(test::make_pkcs_req(dev, *recipient, txid, random_bytes(16)), false);
        EXPECT_TRUE(reply);
        return reply ? *reply : client::http_reply{};
    };
    auto first = enroll("before");
    auto first_rep = parse_cert_rep(bytes(first.body.begin(), first.body.end()), *signer);
    ASSERT_TRUE(first_rep) << first.body;
    ASSERT_EQ(first_rep->status, pki_status::success) << first_rep->fail_info_text;
    // Fill the disk.
    (void)std::system(("dd if=/dev/zero of=" + (data / "filler").string() + " bs=64k >/dev/null 2>&1").c_str());
    bool failed_cleanly = false;
    for (int i = 0; i < 50 && !failed_cleanly; ++i) {
        auto reply = enroll("full-" + std::to_string(i));
        auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), *signer);
        ASSERT_TRUE(rep) << reply.body;
        if (rep->status == pki_status::failure) {
            EXPECT_EQ(rep->fail_info_text, "the server could not store the certificate");
            EXPECT_EQ(reply.body.find(data.string()), std::string::npos);
            failed_cleanly = true;
        }
    }
    ASSERT_TRUE(failed_cleanly) << "enrollments kept succeeding on a full disk";
    auto ready = client::http_call(url, "GET", "/readyz", "", "");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503) << ready->body;
    EXPECT_EQ(ready->body.find(data.string()), std::string::npos) << ready->body;
    EXPECT_TRUE(proc.running());
    std::filesystem::remove(data / "filler");
    ready = client::http_call(url, "GET", "/readyz", "", "");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << ready->body;
    auto after = enroll("after");
    auto rep = parse_cert_rep(bytes(after.body.begin(), after.body.end()), *signer);
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->status, pki_status::success) << rep->fail_info_text;
    proc.stop();
}

// ---- Hardening round two (docs/security.md, probes 14-26) ----

// A configuration file in its own folder (lab_server takes its arguments
// when it is made), kept as long as the test runs.
struct config_file {
    test::temp_dir dir;
    std::string path;
    explicit config_file(const std::string& toml) : path((dir.path() / "hardening.toml").string()) {
        std::ofstream(path) << toml;
    }
};

// A PKCSReq for a subject of these attributes (any length) as raw pkiMessage
// bytes, encrypted to the lab's RA.
std::string pki_message(lab_server& lab, const std::vector<std::pair<int, std::string>>& rdns) {
    auto dev = test::requester_with_rdns(rdns, "scep-lab-challenge");
    auto msg = test::make_pkcs_req(dev, *lab.recipient, make_transaction_id(), random_bytes(16));
    return std::string(msg.begin(), msg.end());
}

client::http_reply post_pki(const lab_server& lab, const std::string& msg, std::chrono::milliseconds timeout) {
    auto url = client::parse_scep_url(lab.proc.url());
    auto r = client::http_call(*url, "POST", "/scep?operation=PKIOperation", msg, "application/x-pki-message", timeout);
    EXPECT_TRUE(r) << r.message();
    return r ? *r : client::http_reply{};
}

bool healthy(const lab_server& lab) {
    auto url = client::parse_scep_url(lab.proc.url());
    auto h = client::http_call(*url, "GET", "/healthz", "", "", std::chrono::seconds(5));
    return h && h->status == 200;
}

// Was: an O of 200,000 characters was issued, and the printed subject matched
// by libstdc++'s recursive std::regex (a fault rule, approval.pending_subjects,
// a challenge binding) overflowed the stack: the whole process died, without
// a valid challenge on the fault-rule path.
TEST(hardening, a_huge_subject_meets_subject_patterns_without_killing_the_server) {
    config_file cfg(R"(
[approval]
pending_subjects = [".*CN=vip-.*"]
[[faults]]
kind = "http-status"
when = { subject = ".*CN=vip-.*" }
[[faults]]
kind = "wrong-message-type"
when = { subject = ".*CN=laptop-42.*" }
)");
    lab_server lab({"--config", cfg.path});
    lab.start();
    const std::vector<std::vector<std::pair<int, std::string>>> subjects{
        {{NID_commonName, "vip-1"}, {NID_organizationName, std::string(60000, 'o')}},
        {{NID_commonName, "dev"}, {NID_organizationName, std::string(200000, 'o')}}};
    for (const auto& subject : subjects) {
        auto reply = post_pki(lab, pki_message(lab, subject), std::chrono::seconds(30));
        ASSERT_EQ(reply.status, 200) << reply.body.substr(0, 200);
        auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), *lab.signer);
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::failure);
        EXPECT_EQ(rep->failure, fail_info::bad_request);
        EXPECT_NE(rep->fail_info_text.find("at most 4096 are accepted"), std::string::npos) << rep->fail_info_text;
        ASSERT_TRUE(lab.proc.running()) << "the server died";
    }
    // Within the bounds the rules still fire (RE2 matches what std::regex did).
    auto vip = post_pki(lab, pki_message(lab, {{NID_commonName, "vip-2"}, {NID_organizationName, "Org"}}),
                        std::chrono::seconds(30));
    EXPECT_EQ(vip.status, 503) << vip.body;
    EXPECT_TRUE(healthy(lab));
}

// Was: a rule (a+)+b and one request with CN a x 40 hung every worker (the
// match ran exponentially long, holding the plan's lock): /healthz, the
// admin API and SIGTERM stopped working; only SIGKILL ended it.
TEST(hardening, a_backtracking_fault_pattern_hangs_no_worker) {
    config_file cfg(R"(
[[faults]]
kind = "http-status"
when = { subject = "(a+)+b" }
)");
    lab_server lab({"--config", cfg.path});
    lab.start();
    const auto start = std::chrono::steady_clock::now();
    auto reply = post_pki(lab, pki_message(lab, {{NID_commonName, std::string(40, 'a')}}), std::chrono::seconds(10));
    const bool answered = reply.status == 200;
    if (!answered) ::kill(lab.proc.pid(), SIGKILL);  // bounded: the hang must not outlive the test
    ASSERT_TRUE(answered) << "no answer within 10 s";
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_TRUE(healthy(lab));
    EXPECT_EQ(lab.proc.stop(), 0);
}

// Was: each distinct operation= value became a permanent /metrics series and
// every log line carried the whole value (1,500 requests: RSS 15 -> 106 MB).
TEST(hardening, client_chosen_operations_are_one_metrics_series_and_log_fields_are_capped) {
    lab_server lab({"--no-https"});
    lab.start();
    auto url = *client::parse_scep_url(lab.proc.url());
    const std::string filler(4000, 'z');
    for (int i = 0; i < 300; ++i) {
        auto r = client::http_call(url, "GET", "/scep?operation=op" + std::to_string(i) + filler, "", "");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
    }
    // CR, NUL and bytes that are not UTF-8 in the value.
    auto raw = raw_exchange(lab.proc.port(),
                            "GET /scep?operation=a%0d%0ab%00%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw.bytes.rfind("HTTP/1.1 400", 0), 0u) << raw.bytes;
    auto m = client::http_call(url, "GET", "/metrics", "", "");
    ASSERT_TRUE(m);
    EXPECT_LT(m->body.size(), 16000u) << "the exposition grew with the clients' values";
    EXPECT_NE(m->body.find("scep_lab_http_requests_total{operation=\"other\",code=\"400\"} 301"), std::string::npos)
        << m->body;
    EXPECT_EQ(m->body.find("op17"), std::string::npos);
    EXPECT_EQ(m->body.find('\r'), std::string::npos);
    std::istringstream log(lab.proc.log());
    std::size_t longest = 0;
    for (std::string line; std::getline(log, line);) longest = std::max(longest, line.size());
    EXPECT_LT(longest, 2500u) << "a log line carried a whole client value";
    EXPECT_TRUE(healthy(lab));
}

// Was: bytes that are not UTF-8 (a User-Agent, a T61String transactionID)
// were copied raw into /transactions.json, which strict parsers then refuse.
TEST(hardening, transactions_json_is_valid_utf8_whatever_the_client_sent) {
    lab_server lab({"--no-https"});
    lab.start();
    auto raw = raw_exchange(lab.proc.port(), "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n"
                                             "User-Agent: agent\xff\xfe\xc3(\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw.bytes.rfind("HTTP/1.1 200", 0), 0u) << raw.bytes;
    auto url = *client::parse_scep_url(lab.proc.url());
    std::string body;
    for (int i = 0; i < 50 && body.find("agent") == std::string::npos; ++i) {
        auto t = client::http_call(url, "GET", "/transactions.json", "", "");
        ASSERT_TRUE(t);
        body = t->body;
        if (body.find("agent") == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(body.find("agent"), std::string::npos) << body;
    EXPECT_TRUE(is_valid_utf8(body));
    EXPECT_NE(body.find("agent\xEF\xBF\xBD"), std::string::npos);
}

// Was: each anonymous visit of the NDES admin page in api challenge mode
// stored one more live challenge, without a cap (300 visits, 300 challenges).
TEST(hardening, the_ndes_admin_page_keeps_at_most_its_password_cache_of_store_challenges) {
    config_file cfg(R"(
[challenge]
mode = "api"
[ndes]
enabled = true
password_cache = 3
admin_encoding = "utf-8"
)");
    lab_server lab({"--config", cfg.path});
    lab.start();
    auto url = *client::parse_scep_url(lab.proc.url());
    int passwords = 0, full = 0;
    for (int i = 0; i < 8; ++i) {
        auto page = client::http_call(url, "GET", "/certsrv/mscep_admin/", "", "");
        ASSERT_TRUE(page);
        if (page->body.find("The enrollment challenge password is") != std::string::npos) ++passwords;
        if (page->body.find("The password cache is full") != std::string::npos) ++full;
    }
    EXPECT_EQ(passwords, 3);
    EXPECT_EQ(full, 5);
}

// Was: log.capture_dir was made with the process umask (0777 under umask 000)
// and written through links (a planted <name>.tmp redirected the write).
TEST(hardening, the_capture_directory_is_the_owners_and_links_in_it_are_not_followed) {
    test::temp_dir outside;
    const auto captures = outside.path() / "captures";
    config_file cfg("[log]\ncapture_dir = \"" + captures.string() + "\"\n");
    lab_server lab({"--config", cfg.path});
    const mode_t old_mask = ::umask(0);
    lab.start();
    ::umask(old_mask);
    EXPECT_EQ(mode_of(captures), std::filesystem::perms::owner_all);
    const auto victim = outside.path() / "victim";
    std::ofstream(victim) << "precious";
    const std::string txid = "CAPTUREPROBE";  // capture names keep letters and digits only
    std::filesystem::create_symlink(victim, captures / ("1-" + txid + ".request.der.tmp"));
    auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
    EXPECT_EQ(lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false, txid).status,
              pki_status::success);
    std::ifstream in(victim);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
    EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(captures / ("1-" + txid + ".request.der"))));
}

}  // namespace
}  // namespace scep
