// `scep-lab bench`: a SCEP load generator on the project's own codec and Asio.
// Before timing it prepares N distinct enrollments (own key, CSR and
// transactionID each), then drives them over C keep-alive connections against
// any SCEP URL and checks every reply: signature against the RA certificate,
// pkiStatus, transactionID and recipientNonce; every K-th reply is also
// decrypted and its certificate matched to the request's key.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "pki/scep/message.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep::client {

struct bench_options {
    std::string url;                  // http://host:port/path
    std::size_t requests = 1000;      // N
    std::size_t connections = 16;     // C
    bool use_get = false;             // PKIOperation by GET instead of POST
    key_type key = key_type::rsa2048;
    content_cipher cipher = content_cipher::aes_128_cbc;
    digest_alg digest = digest_alg::sha256;
    std::string challenge = "scep-lab-challenge";
    std::size_t check_every = 10;     // K: decrypt every K-th SUCCESS reply (1 = all)
    std::filesystem::path key_cache;  // PEM keys reused across runs (generating RSA keys dominates preparation)
    std::size_t distinct_keys = 0;    // 0 = one key per request; else this many, cycled (long soak runs)
    std::filesystem::path received;   // "transactionID serial" of every SUCCESS reply, for crash tests
    std::chrono::seconds timeout{30};
    // The server's CPU time around the measured run: from /proc/<pid>/stat
    // when given (any server on this machine), else from the server's
    // /metrics (process_cpu_seconds_total), else not reported.
    int server_pid = 0;
    bool floor = true;                // measure the crypto floor in-process (about a second)
    bool new_connection = false;      // one connection per enrollment (HTTPS: sessions resumed)
    std::filesystem::path ca_file;    // https://: verify the server against these certificates
    bool json = false;
    bool progress = false;            // a progress line on stderr
};

struct bench_result {
    std::size_t requests = 0;
    std::size_t succeeded = 0;
    std::size_t failed = 0;
    std::size_t decrypted = 0;                   // SUCCESS replies decrypted and matched
    std::map<std::string, std::size_t> failures;  // kind -> count
    double seconds = 0;                          // timed phase
    double prepare_seconds = 0;
    double per_second = 0;                       // succeeded / seconds
    double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
    // The server's CPU per enrollment (ms) and where it was read; 0 = unknown.
    double server_cpu_ms = 0;
    std::string server_cpu_source;  // "/metrics", "/proc/<pid>/stat"
    // The floor: the private-key operations an enrollment cannot avoid on
    // this machine (RA decrypt, CA signature, RA signature), timed here.
    double floor_ms = 0;
    std::string floor_text;
    std::size_t tls_handshakes = 0, tls_resumed = 0;
    double efficiency() const { return server_cpu_ms > 0 ? floor_ms / server_cpu_ms : 0; }
};

result<bench_result> run_bench(const bench_options& o, std::ostream& log);
std::string bench_report(const bench_options& o, const bench_result& r);  // text or JSON, per o.json

}  // namespace scep::client
