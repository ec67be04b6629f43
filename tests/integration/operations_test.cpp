// Operating scep-lab (issue 7): /readyz, Prometheus /metrics after a known
// sequence of requests, graceful shutdown under load.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "client/bench.hpp"
#include "integration/lab_server.hpp"

namespace scep {
namespace {

client::http_reply get(const test::server_process& p, const std::string& target) {
    auto url = client::parse_scep_url(p.url());
    auto r = client::http_call(*url, "GET", target, "", "", std::chrono::seconds(10));
    EXPECT_TRUE(r) << r.message();
    return r ? *r : client::http_reply{};
}

// The value of one sample line (name with labels, exactly as exposed).
std::optional<double> sample(const std::string& exposition, const std::string& series) {
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    return std::nullopt;
}

TEST(operations, readyz_and_metrics_count_a_known_sequence) {
    lab_server lab;
    lab.start();
    EXPECT_EQ(get(lab.proc, "/readyz").status, 200);
    EXPECT_EQ(get(lab.proc, "/scep?operation=GetCACaps").status, 200);
    EXPECT_EQ(get(lab.proc, "/scep?operation=GetCACaps").status, 200);
    EXPECT_EQ(get(lab.proc, "/no/such/path").status, 404);
    auto good = test::make_requester({.challenge = "scep-lab-challenge"});
    auto ok = lab.enroll(good, content_cipher::aes_128_cbc, digest_alg::sha256, false);
    EXPECT_EQ(ok.status, pki_status::success);
    auto bad = test::make_requester({.challenge = "wrong"});
    auto refused = lab.enroll(bad, content_cipher::aes_128_cbc, digest_alg::sha256, true);
    EXPECT_EQ(refused.status, pki_status::failure);

    auto m = get(lab.proc, "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = m.body;
    // start() fetched GetCACert once.
    EXPECT_EQ(sample(text, R"(scep_lab_http_requests_total{operation="GetCACaps",code="200"})"), 2);
    EXPECT_EQ(sample(text, R"(scep_lab_http_requests_total{operation="GetCACert",code="200"})"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_http_requests_total{operation="PKIOperation",code="200"})"), 2);
    EXPECT_EQ(sample(text, R"(scep_lab_http_requests_total{operation="readyz",code="200"})"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_http_requests_total{operation="other",code="404"})"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_pki_messages_total{message_type="PKCSReq",status="SUCCESS"})"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_pki_messages_total{message_type="PKCSReq",status="FAILURE"})"), 1);
    EXPECT_EQ(sample(text, "scep_lab_enrollments_total"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_failures_total{fail_info="badMessageCheck"})"), 1);
    EXPECT_EQ(sample(text, R"(scep_lab_store_certificates{status="valid"})"), 1);
    EXPECT_EQ(sample(text, "scep_lab_pending_requests"), 0);
    // Every request before this scrape is in the histogram, buckets cumulative.
    auto count = sample(text, "scep_lab_request_duration_seconds_count");
    ASSERT_TRUE(count);
    EXPECT_EQ(*count, 7);  // GetCACert, readyz, 2 GetCACaps, the 404, 2 PKIOperation (not this scrape)
    EXPECT_EQ(sample(text, R"(scep_lab_request_duration_seconds_bucket{le="+Inf"})"), count);
    EXPECT_LE(*sample(text, R"(scep_lab_request_duration_seconds_bucket{le="0.001"})"),
              *sample(text, R"(scep_lab_request_duration_seconds_bucket{le="2.5"})"));
    EXPECT_GE(*sample(text, "scep_lab_connections"), 1);
}

// scep-lab bench's headline figures: the server's CPU per enrollment (from
// /metrics, or from /proc for any server) against the crypto floor it times.
TEST(operations, bench_reports_server_cpu_per_enrollment_and_the_floor) {
    lab_server lab;
    lab.start();
    auto m = get(lab.proc, "/metrics");
    auto cpu = sample(m.body, "process_cpu_seconds_total");
    ASSERT_TRUE(cpu) << m.body;
    EXPECT_GT(*cpu, 0);  // the PKI was loaded, requests were answered
    EXPECT_TRUE(sample(m.body, "process_max_resident_memory_bytes"));

    client::bench_options o;
    o.url = lab.proc.url();
    o.requests = 60;
    o.connections = 4;
    o.distinct_keys = 3;
    std::ostringstream log;
    auto r = client::run_bench(o, log);
    ASSERT_TRUE(r) << r.message();
    EXPECT_EQ(r->failed, 0u);
    EXPECT_EQ(r->server_cpu_source, "/metrics");
    // Three RSA-2048 private operations cost at least a few hundred µs on
    // any machine this runs on; the server cannot spend less than the floor.
    EXPECT_GT(r->floor_ms, 0.1);
    EXPECT_NE(r->floor_text.find("RA decrypt + RA signature (RSA-2048"), std::string::npos) << r->floor_text;
    EXPECT_GT(r->server_cpu_ms, r->floor_ms * 0.8) << "server CPU below the floor: not measured";
    EXPECT_LT(r->server_cpu_ms, 200.0);
    EXPECT_GT(r->efficiency(), 0.0);
    auto report = client::bench_report(o, *r);
    EXPECT_NE(report.find("server CPU"), std::string::npos) << report;
    EXPECT_NE(report.find("% of the floor"), std::string::npos) << report;

    o.server_pid = lab.proc.pid();  // the /proc route, as for servers without /metrics
    o.floor = false;
    auto p = client::run_bench(o, log);
    ASSERT_TRUE(p) << p.message();
    EXPECT_EQ(p->server_cpu_source, "/proc/" + std::to_string(lab.proc.pid()) + "/stat");
    EXPECT_GT(p->server_cpu_ms, 0.0);  // clock ticks are coarse (10 ms), 60 enrollments take more
    EXPECT_EQ(p->floor_ms, 0.0);
}

// HTTPS: keep-alive, and a new TLS connection per enrollment that resumes
// the previous connection's session; the chain is verified with --ca-file.
TEST(operations, bench_over_https_keeps_alive_or_resumes_sessions) {
    lab_server lab;
    lab.proc.enable_https();
    lab.start();
    client::bench_options o;
    o.url = "https://127.0.0.1:" + std::to_string(lab.proc.https_port()) + "/scep";
    o.ca_file = lab.dir.path() / "data" / "pki" / "ca-chain.pem";
    o.requests = 24;
    o.connections = 2;
    o.distinct_keys = 2;
    o.floor = false;
    std::ostringstream log;
    auto kept = client::run_bench(o, log);
    ASSERT_TRUE(kept) << kept.message();
    EXPECT_EQ(kept->failed, 0u);
    EXPECT_EQ(kept->succeeded, 24u);
    EXPECT_EQ(kept->tls_handshakes, 2u);  // one per connection
    o.new_connection = true;
    auto fresh = client::run_bench(o, log);
    ASSERT_TRUE(fresh) << fresh.message();
    EXPECT_EQ(fresh->failed, 0u);
    EXPECT_EQ(fresh->tls_handshakes, 24u);
    EXPECT_GE(fresh->tls_resumed, 20u);  // all but each connection's first
    // A --ca-file that holds no CA certificate: the run fails, it does not go on unverified.
    o.ca_file = lab.dir.path() / "data" / "scep-lab.db";
    EXPECT_FALSE(client::run_bench(o, log));
}

TEST(operations, sigterm_under_load_finishes_requests_and_loses_nothing) {
    lab_server lab;
    lab.start();
    // scep-lab bench drives enrollments over 8 connections and records every
    // certificate it received; SIGTERM lands in the middle.
    const auto received = lab.dir.path() / "received.txt";
    const auto bench_out = lab.dir.path() / "bench.out";
    pid_t bench = fork();
    ASSERT_GE(bench, 0);
    if (bench == 0) {
        int fd = ::open(bench_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::execl(SCEP_LAB_BINARY, SCEP_LAB_BINARY, "bench", lab.proc.url().c_str(), "-n", "400", "-c", "8", "--keys", "20", "--received", received.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Wait until enrollments are flowing, then stop the server.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream log(lab.dir.path() / "data" / "server.log");
        std::string all((std::istreambuf_iterator<char>(log)), {});
        std::size_t n = 0;
        for (auto pos = all.find("status=SUCCESS"); pos != std::string::npos; pos = all.find("status=SUCCESS", pos + 1)) ++n;
        if (n >= 20) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(lab.proc.stop(), 0) << lab.proc.log();
    int status = 0;
    ::waitpid(bench, &status, 0);

    const std::string log = lab.proc.log();
    EXPECT_NE(log.find("stopping"), std::string::npos);
    EXPECT_NE(log.find("stopped in_flight=0"), std::string::npos) << log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
    // Every certificate a client received is in the store. Lines are
    // "transactionID serial"; bench knows the serial of the replies it decrypted.
    std::ifstream in(received);
    std::string line;
    std::size_t got = 0;
    auto store = open_sqlite_store(lab.dir.path() / "data" / "scep-lab.db");
    ASSERT_TRUE(store) << store.message();
    while (std::getline(in, line)) {
        auto space = line.find(' ');
        const std::string txid = line.substr(0, space), serial = space == std::string::npos ? "" : line.substr(space + 1);
        ++got;
        auto row = (*store)->find_by_transaction(txid);
        ASSERT_TRUE(row) << row.message();
        ASSERT_TRUE(row->has_value()) << "received " << txid << " is not stored";
        if (!serial.empty()) {
            EXPECT_EQ((*row)->serial, serial);
        }
    }
    EXPECT_GE(got, 20u);
    EXPECT_LT(got, 400u) << "the load had finished before SIGTERM: the test proved nothing";
    auto total = (*store)->count();
    ASSERT_TRUE(total);
    EXPECT_GE(*total, static_cast<std::int64_t>(got));
}

TEST(operations, deterministic_mode_gives_the_same_serials_and_a_shifted_clock) {
    auto first_serials = [](const std::vector<std::string>& env) {
        lab_server lab;
        lab.proc.set_env(env);
        lab.start();
        std::vector<std::string> serials;
        std::vector<time_point> not_before;
        for (int i = 0; i < 2; ++i) {
            auto dev = test::make_requester({.challenge = "scep-lab-challenge"});
            auto rep = lab.enroll(dev, content_cipher::aes_128_cbc, digest_alg::sha256, false);
            EXPECT_EQ(rep.status, pki_status::success);
            auto certs = decrypt_cert_rep(rep, *dev.signer, *dev.key);
            if (!certs || certs->empty()) continue;
            serials.push_back(serial_hex(*certs->front()));
            not_before.push_back(asn1_time_point(*X509_get0_notBefore(certs->front().get())));
        }
        return std::pair{serials, not_before};
    };
    const std::vector<std::string> env{"SCEP_LAB_SERIAL_SEED=ci-run", "SCEP_LAB_CLOCK_OFFSET=-30d"};
    auto [a, a_times] = first_serials(env);
    auto [b, b_times] = first_serials(env);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a, b);  // two fresh labs, same seed: same serials in the same order
    EXPECT_NE(a[0], a[1]);
    auto [c, c_times] = first_serials({"SCEP_LAB_SERIAL_SEED=other"});
    ASSERT_EQ(c.size(), 2u);
    EXPECT_NE(a[0], c[0]);
    // The shifted clock: issued 30 days in the past (minus the profile's backdate).
    auto age = std::chrono::system_clock::now() - a_times[0];
    EXPECT_GT(age, std::chrono::hours(24 * 30 - 1));
    EXPECT_LT(age, std::chrono::hours(24 * 31));
    EXPECT_LT(std::chrono::system_clock::now() - c_times[0], std::chrono::hours(2));
}

}  // namespace
}  // namespace scep
