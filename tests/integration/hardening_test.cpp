// The hardening probes (docs/security.md) against the real binary: request
// smuggling, secrets at rest, a full disk, log injection.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>

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

}  // namespace
}  // namespace scep
