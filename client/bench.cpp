#include "client/bench.hpp"

#include "client/progress.hpp"

#include "pki/crypto/der.hpp"

#include <boost/json.hpp>

#include <cmath>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "pki/crypto/encoding.hpp"
#include "client/scep_client.hpp"
#include "pki/crypto/tls.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

// Runs fn(i) for i in [0, n) on every core.
template <class Fn>
void parallel_for(std::size_t n, Fn fn) {
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (std::size_t i = next++; i < n; i = next++) fn(i);
        });
    for (auto& t : pool) t.join();
}

bool same_kind(const EVP_PKEY& key, key_type want) {
    if (is_rsa(want) != key_is_rsa(key)) return false;
    int bits = key_bits(key);
    switch (want) {
        case key_type::rsa2048: return bits == 2048;
        case key_type::rsa3072: return bits == 3072;
        case key_type::rsa4096: return bits == 4096;
        case key_type::ec_p256: return bits == 256;
        case key_type::ec_p384: return bits == 384;
    }
    return false;
}

// The server's CPU seconds so far: /proc/<pid>/stat (utime + stime) or the
// server's /metrics (process_cpu_seconds_total).
std::optional<double> server_cpu_seconds(const bench_options& o, const scep_url& url, std::string& source) {
    if (o.server_pid > 0) {
        std::ifstream stat("/proc/" + std::to_string(o.server_pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return std::nullopt;
        // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
        std::istringstream rest(line.substr(line.rfind(')') + 2));
        std::string field;
        double utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::atof(field.c_str());
            if (i == 15) stime = std::atof(field.c_str());
        }
        source = "/proc/" + std::to_string(o.server_pid) + "/stat";
        return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    auto r = http_call(url, "GET", "/metrics", "", "", std::chrono::seconds(5));
    if (!r || r->status != 200) return std::nullopt;
    constexpr std::string_view name = "\nprocess_cpu_seconds_total ";
    auto at = r->body.find(name);
    if (at == std::string::npos) return std::nullopt;
    source = "/metrics";
    return std::atof(r->body.c_str() + at + name.size());
}

// Milliseconds per private-key operation with a key like `like` (RSA of its
// size, or EC on its curve): signatures of a SHA-256 digest for a quarter
// second on this thread. RSA decryption costs what a signature costs.
double private_op_ms(const EVP_PKEY& like) {
    evp_pkey_ptr key;
    std::string what;
    if (key_is_rsa(like)) {
        key.reset(EVP_RSA_gen(static_cast<unsigned>(key_bits(like))));
    } else {
        char group[64] = {};
        if (EVP_PKEY_get_utf8_string_param(&like, "group", group, sizeof group, nullptr) == 1)
            key.reset(EVP_EC_gen(group));
    }
    if (!key) return 0;
    evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)
        return 0;
    const bytes digest = sha256(bytes{1, 2, 3});
    std::vector<unsigned char> sig(static_cast<std::size_t>(EVP_PKEY_get_size(key.get())));
    auto sign_once = [&] {
        std::size_t len = sig.size();
        return EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) == 1;
    };
    for (int i = 0; i < 5; ++i)
        if (!sign_once()) return 0;
    // The floor is CPU time, as the server's figure is (its process CPU per
    // enrollment): timed on this thread's CPU clock, so a busy machine (a
    // test suite beside it) slows it down without inflating it.
    auto thread_cpu_ms = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    std::size_t n = 0;
    const auto start = steady::now();
    const double cpu_start = thread_cpu_ms();
    while (steady::now() - start < std::chrono::milliseconds(250) || n < 20) {
        if (!sign_once()) return 0;
        ++n;
    }
    return (thread_cpu_ms() - cpu_start) / static_cast<double>(n);
}

std::string key_name(const EVP_PKEY& k) {
    return key_is_rsa(k) ? "RSA-" + std::to_string(key_bits(k)) : "EC P-" + std::to_string(key_bits(k));
}

// The floor of one enrollment: the RA decrypts the request and signs the
// CertRep, the issuing CA signs the certificate (one key does all three when
// the CA is its own RA).
void measure_floor(const std::vector<x509_ptr>& certs, const X509& ra, bench_result& r) {
    const X509* ca = &ra;
    for (const auto& c : certs)
        if (c.get() != &ra && X509_check_issued(c.get(), const_cast<X509*>(&ra)) == X509_V_OK) ca = c.get();
    const EVP_PKEY* ra_key = X509_get0_pubkey(&ra);
    const EVP_PKEY* ca_key = X509_get0_pubkey(ca);
    if (!ra_key || !ca_key) return;
    double ra_ms = private_op_ms(*ra_key);
    double ca_ms = ca == &ra ? ra_ms : private_op_ms(*ca_key);
    if (ra_ms <= 0 || ca_ms <= 0) return;
    r.floor_ms = 2 * ra_ms + ca_ms;
    char text[200];
    std::snprintf(text, sizeof text, "RA decrypt + RA signature (%s, %.3f ms each) + CA signature (%s, %.3f ms)",
                  key_name(*ra_key).c_str(), ra_ms, key_name(*ca_key).c_str(), ca_ms);
    r.floor_text = text;
}

// N keys: from the cache file first, the rest generated (and appended to it).
result<std::vector<evp_pkey_ptr>> prepare_keys(const bench_options& o) {
    const std::size_t wanted = o.distinct_keys ? std::min(o.distinct_keys, o.requests) : o.requests;
    std::vector<evp_pkey_ptr> keys;
    if (!o.key_cache.empty() && std::filesystem::exists(o.key_cache)) {
        bio_ptr in(BIO_new_file(o.key_cache.c_str(), "r"));
        if (!in) return make_error("cannot read the key cache " + o.key_cache.string());
        while (keys.size() < wanted) {
            EVP_PKEY* k = PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr);
            if (!k) break;
            keys.emplace_back(k);
            if (!same_kind(*keys.back(), o.key))
                return make_error("the key cache " + o.key_cache.string() + " holds keys of another type than " +
                                  std::string(to_string(o.key)) + "; use another file");
        }
        ERR_clear_error();
    }
    std::size_t cached = keys.size();
    keys.resize(wanted);
    std::atomic<bool> failed{false};
    std::atomic<std::size_t> made{0};
    // RSA keys take a while (100 RSA-2048 keys: about 20 s on two cores): say so.
    progress shown("bench: generating " + std::string(to_string(o.key)) + " keys", wanted - cached, std::cerr);
    parallel_for(wanted - cached, [&](std::size_t i) {
        auto k = generate_key(o.key);
        if (!k) {
            failed = true;
            return;
        }
        keys[cached + i] = std::move(*k);
        shown.update(++made);
    });
    shown.finish();
    if (failed) return make_error("key generation failed");
    if (!o.key_cache.empty() && cached < keys.size()) {
        std::ofstream out(o.key_cache, std::ios::app | std::ios::binary);
        for (std::size_t i = cached; i < keys.size(); ++i) out << private_key_to_pem(*keys[i]);
        if (!out) return make_error("cannot write the key cache " + o.key_cache.string());
    }
    return keys;
}

struct prepared {
    std::string target;  // path?operation=PKIOperation[&message=...]
    std::string body;    // DER for POST
    std::string transaction_id;
    bytes nonce;
    evp_pkey_ptr key;
    x509_ptr signer;
};

result<prepared> prepare_one(const bench_options& o, const scep_url& url, const std::string& run_id, std::size_t i,
                             evp_pkey_ptr key, const X509& recipient) {
    prepared p;
    auto subject = parse_subject("CN=bench-" + run_id + "-" + std::to_string(i) + ",O=scep-lab bench");
    if (!subject) return subject.err();
    x509_req_ptr csr(X509_REQ_new());
    X509_REQ_set_version(csr.get(), 0);
    X509_REQ_set_subject_name(csr.get(), subject->get());
    X509_REQ_set_pubkey(csr.get(), key.get());
    if (!o.challenge.empty())
        X509_REQ_add1_attr_by_NID(csr.get(), NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
                                  reinterpret_cast<const unsigned char*>(o.challenge.data()),
                                  static_cast<int>(o.challenge.size()));
    if (X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) <= 0) return make_error(ossl_error("CSR signing failed"));
    auto signer = self_signed(*key, *subject->get(), std::chrono::system_clock::now());
    if (!signer) return signer.err();
    pki_request_params params;
    params.transaction_id = make_transaction_id();
    params.sender_nonce = random_bytes(16);
    params.message_data = x509_req_to_der(*csr);
    params.cipher = o.cipher;
    params.digest = o.digest;
    auto msg = build_pki_request(params, **signer, *key, {&recipient});
    if (!msg) return msg.err();
    p.target = url.path + "?operation=PKIOperation";
    if (o.use_get)
        p.target += "&message=" + base64_query_value(*msg);
    else
        p.body.assign(msg->begin(), msg->end());
    p.transaction_id = params.transaction_id;
    p.nonce = std::move(params.sender_nonce);
    p.key = std::move(key);
    p.signer = std::move(*signer);
    return p;
}

// The CertRep without its SignedData `certificates` field. The client already
// holds the RA certificate (from GetCACert) and verifies against it; parsing
// the embedded copy costs OpenSSL 3.0 a public-key decode (~150 µs) per reply,
// CPU the benchmark would otherwise take from the server it measures on the
// same machine. The signature does not cover this field. Anything unexpected:
// the reply is returned unchanged.
bytes strip_certificates(byte_view der) {
    bytes same(der.begin(), der.end());
    auto ci = read_der_tlv(der, 0);
    if (!ci || ci->tag != 0x30) return same;
    auto oid = read_der_tlv(der, ci->start + ci->header);
    if (!oid || oid->tag != 0x06) return same;
    auto explicit0 = read_der_tlv(der, oid->end());
    if (!explicit0 || explicit0->tag != 0xA0) return same;
    auto sd = read_der_tlv(der, explicit0->start + explicit0->header);
    if (!sd || sd->tag != 0x30) return same;
    bytes children;
    bool dropped = false;
    for (std::size_t at = sd->start + sd->header; at < sd->end();) {
        auto child = read_der_tlv(der, at);
        if (!child) return same;
        if (child->tag == 0xA0)
            dropped = true;
        else
            children.insert(children.end(), der.begin() + static_cast<std::ptrdiff_t>(at),
                            der.begin() + static_cast<std::ptrdiff_t>(child->end()));
        at = child->end();
    }
    if (!dropped) return same;
    bytes signed_data, wrapper, out;
    append_der_tlv(signed_data, 0x30, children);
    append_der_tlv(wrapper, 0xA0, signed_data);
    bytes body(der.begin() + static_cast<std::ptrdiff_t>(oid->start), der.begin() + static_cast<std::ptrdiff_t>(oid->end()));
    body.insert(body.end(), wrapper.begin(), wrapper.end());
    append_der_tlv(out, 0x30, body);
    return out;
}

double percentile(std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(i, sorted.size() - 1)];
}

// The timed phase: shared by every connection, on one thread.
struct run_state {
    const bench_options& o;
    const scep_url& url;
    const X509& signer;
    std::vector<prepared>& reqs;
    tcp::resolver::results_type endpoints;
    std::size_t next = 0;
    std::size_t done = 0;
    std::size_t succeeded = 0;
    std::size_t decrypted = 0;
    std::map<std::string, std::size_t> failures;
    std::vector<double> latencies_ms;
    std::ofstream received;
    asio::ssl::context* tls = nullptr;  // https://
    std::size_t handshakes = 0;
    std::size_t resumed = 0;

    bool take(std::size_t& i) {
        if (next >= reqs.size()) return false;
        i = next++;
        return true;
    }
    void fail(const std::string& kind) {
        ++failures[kind];
        ++done;
    }
    void finish(std::size_t i, steady::time_point t0, const http::response<http::string_body>& res) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
        check(i, res);
        ++done;
    }
    void check(std::size_t i, const http::response<http::string_body>& res) {
        prepared& p = reqs[i];
        if (res.result_int() != 200) return void(++failures["http " + std::to_string(res.result_int())]);
        const std::string& body = res.body();
        bytes der = strip_certificates(byte_view(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
        auto rep = parse_cert_rep(der, signer);
        if (!rep) {
            std::string why = rep.message();
            return void(++failures[why.find("signature") != std::string::npos ? "signature does not verify"
                                                                                 : "not a CertRep: " + why.substr(0, 60)]);
        }
        if (rep->transaction_id != p.transaction_id) return void(++failures["transactionID mismatch"]);
        if (rep->recipient_nonce != p.nonce) return void(++failures["recipientNonce mismatch"]);
        if (rep->status == pki_status::pending) return void(++failures["PENDING"]);
        if (rep->status != pki_status::success)
            return void(++failures["FAILURE " + (rep->failure ? std::string(to_string(*rep->failure)) : "?")]);
        std::string serial;
        if (o.check_every && succeeded % o.check_every == 0) {
            auto certs = decrypt_cert_rep(*rep, *p.signer, *p.key);
            if (!certs || certs->empty()) return void(++failures["cannot decrypt the reply"]);
            if (EVP_PKEY_eq(X509_get0_pubkey(certs->front().get()), p.key.get()) != 1)
                return void(++failures["certificate is not for the request's key"]);
            serial = serial_hex(*certs->front());
            ++decrypted;
        }
        ++succeeded;
        if (received.is_open()) received << p.transaction_id << ' ' << serial << '\n';
    }
};

// One client connection: plain HTTP or HTTPS (Tls), kept alive across
// requests unless o.new_connection; a new TLS connection offers the session
// of the previous one (resumption, RFC 8446 §2.2).
template <bool Tls>
class connection : public std::enable_shared_from_this<connection<Tls>> {
    using stream_type = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

public:
    connection(asio::io_context& ioc, run_state& run) : ioc_(ioc), run_(run) {}
    void start() { next(); }

private:
    beast::tcp_stream& lowest() { return beast::get_lowest_layer(*stream_); }

    void next() {
        if (!run_.take(current_)) return close();
        if (connected_) return send();
        if constexpr (Tls)
            stream_.emplace(ioc_, *run_.tls);
        else
            stream_.emplace(ioc_);
        lowest().expires_after(run_.o.timeout);
        lowest().async_connect(run_.endpoints, [self = this->shared_from_this()](beast::error_code ec,
                                                                                  const tcp::endpoint&) {
            if (ec) {
                self->run_.fail("connect: " + ec.message());
                return self->next();
            }
            self->handshake();
        });
    }

    void handshake() {
        if constexpr (Tls) {
            SSL* ssl = stream_->native_handle();
            SSL_set_tlsext_host_name(ssl, run_.url.host.c_str());
            if (session_) SSL_set_session(ssl, session_.get());
            stream_->async_handshake(asio::ssl::stream_base::client, [self = this->shared_from_this()](beast::error_code ec) {
                if (ec) {
                    self->run_.fail("TLS handshake: " + ec.message());
                    self->stream_.reset();
                    return self->next();
                }
                ++self->run_.handshakes;
                if (SSL_session_reused(self->stream_->native_handle())) ++self->run_.resumed;
                self->connected_ = true;
                self->send();
            });
        } else {
            connected_ = true;
            send();
        }
    }

    void send() {
        prepared& p = run_.reqs[current_];
        req_ = {run_.o.use_get ? http::verb::get : http::verb::post, p.target, 11};
        req_.set(http::field::host, run_.url.host);
        req_.keep_alive(!run_.o.new_connection);
        if (!run_.o.use_get) {
            req_.set(http::field::content_type, "application/x-pki-message");
            req_.body() = p.body;
        }
        req_.prepare_payload();
        started_ = steady::now();
        lowest().expires_after(run_.o.timeout);
        http::async_write(*stream_, req_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->broken("send: " + ec.message());
            self->parser_.emplace();
            self->parser_->body_limit(16 << 20);
            http::async_read(*self->stream_, self->buffer_, *self->parser_, [self](beast::error_code ec2, std::size_t) {
                if (ec2) return self->broken("receive: " + ec2.message());
                const auto& res = self->parser_->get();
                self->run_.finish(self->current_, self->started_, res);
                if (!res.keep_alive() || self->run_.o.new_connection) self->reset(true);
                self->next();
            });
        });
    }

    void broken(const std::string& kind) {
        run_.fail(kind);
        reset(false);
        next();
    }
    // Closes the connection; a clean TLS close keeps its session for the
    // next handshake (a session closed without close_notify is not resumed).
    void reset(bool clean) {
        if (!stream_) return;
        if constexpr (Tls) {
            SSL* ssl = stream_->native_handle();
            if (clean) {
                SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
                if (SSL_SESSION* s = SSL_get1_session(ssl)) session_.reset(s);
            }
        }
        beast::error_code ignored;
        lowest().socket().close(ignored);
        stream_.reset();
        buffer_.clear();
        connected_ = false;
    }
    void close() { reset(true); }

    asio::io_context& ioc_;
    run_state& run_;
    std::optional<stream_type> stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    std::optional<http::response_parser<http::string_body>> parser_;
    std::size_t current_ = 0;
    steady::time_point started_;
    bool connected_ = false;
    ssl_session_ptr session_;  // the last connection's, offered to the next
};

std::string fixed(double v, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}  // namespace

result<bench_result> run_bench(const bench_options& o, std::ostream& log) {
    if (o.requests == 0 || o.connections == 0) return make_error("requests and connections must be at least 1");
    load_providers();
    auto url = parse_scep_url(o.url);
    if (!url) return url.err();
    url->ca_file = o.ca_file.string();
    scep_client client(*url);
    auto certs = client.get_ca_cert();
    if (!certs) return make_error("GetCACert from " + o.url + " failed: " + certs.message());
    const X509* recipient = select_recipient(*certs);
    const X509* signer = select_signer(*certs);
    if (!recipient || !signer) return make_error("GetCACert returned no certificate");

    auto prep_start = steady::now();
    if (o.progress) log << "preparing " << o.requests << " " << to_string(o.key) << " enrollments..." << std::flush;
    auto keys = prepare_keys(o);
    if (!keys) return keys.err();
    std::string run_id = to_hex(random_bytes(4));
    std::vector<prepared> reqs(o.requests);
    std::atomic<bool> bad{false};
    std::string first_error;
    std::mutex error_mutex;
    parallel_for(o.requests, [&](std::size_t i) {
        EVP_PKEY* shared = (*keys)[i % keys->size()].get();
        EVP_PKEY_up_ref(shared);
        auto p = prepare_one(o, *url, run_id, i, evp_pkey_ptr(shared), *recipient);
        if (!p) {
            std::lock_guard lock(error_mutex);
            if (!bad.exchange(true)) first_error = p.message();
            return;
        }
        reqs[i] = std::move(*p);
    });
    if (bad) return make_error("preparing a request failed: " + first_error);
    bench_result r;
    r.requests = o.requests;
    r.prepare_seconds = std::chrono::duration<double>(steady::now() - prep_start).count();
    if (o.progress) log << " " << fixed(r.prepare_seconds) << " s\n";
    if (o.floor) measure_floor(*certs, *signer, r);
    std::string cpu_source;
    const auto cpu_before = server_cpu_seconds(o, *url, cpu_source);

    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url->host, std::to_string(url->port), ec);
    if (ec) return make_error("cannot resolve " + url->host + ": " + ec.message());
    run_state run{o, *url, *signer, reqs, endpoints, 0, 0, 0, 0, {}, {}, {}};
    run.latencies_ms.reserve(o.requests);
    if (!o.received.empty()) {
        run.received.open(o.received, std::ios::trunc);
        if (!run.received) return make_error("cannot write " + o.received.string());
    }

    // Progress: a line on stderr four times a second while the run lasts.
    asio::steady_timer ticker(ioc);
    auto t0 = steady::now();
    std::function<void()> tick = [&] {
        double s = std::chrono::duration<double>(steady::now() - t0).count();
        log << "\r" << run.done << "/" << o.requests << "  " << fixed(s > 0 ? run.succeeded / s : 0) << " enrollments/s  "
            << (run.done - run.succeeded) << " failed   " << std::flush;
        if (run.done >= o.requests) return;
        ticker.expires_after(std::chrono::milliseconds(250));
        ticker.async_wait([&](beast::error_code e) {
            if (!e) tick();
        });
    };
    std::optional<asio::ssl::context> tls;
    if (url->tls) {
        tls.emplace(asio::ssl::context::tls_client);
        // A load generator against a lab: the chain is checked when --ca-file names it.
        if (!url->ca_file.empty()) {
            tls->load_verify_file(url->ca_file, ec);
            if (ec) return make_error("--ca-file " + url->ca_file + ": " + ec.message());
            tls->set_verify_mode(asio::ssl::verify_peer);
        } else {
            tls->set_verify_mode(asio::ssl::verify_none);
        }
        // Sessions are kept by the connections themselves (SSL_set_session).
        SSL_CTX_set_session_cache_mode(tls->native_handle(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        run.tls = &*tls;
    }
    for (std::size_t c = 0; c < std::min(o.connections, o.requests); ++c) {
        if (url->tls)
            std::make_shared<connection<true>>(ioc, run)->start();
        else
            std::make_shared<connection<false>>(ioc, run)->start();
    }
    if (o.progress) tick();
    ioc.run();
    r.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    if (o.progress) log << "\n";
    if (cpu_before) {
        // The transaction log is written behind the answers: let it finish
        // so that its cost is counted too.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::string source;
        auto cpu_after = server_cpu_seconds(o, *url, source);
        if (cpu_after && run.succeeded > 0) {
            r.server_cpu_ms = (*cpu_after - *cpu_before) * 1000 / static_cast<double>(run.succeeded);
            r.server_cpu_source = source;
        }
    }

    r.tls_handshakes = run.handshakes;
    r.tls_resumed = run.resumed;
    r.succeeded = run.succeeded;
    r.decrypted = run.decrypted;
    r.failures = run.failures;
    for (const auto& [kind, n] : run.failures) r.failed += n;
    r.per_second = r.seconds > 0 ? static_cast<double>(r.succeeded) / r.seconds : 0;
    std::sort(run.latencies_ms.begin(), run.latencies_ms.end());
    r.p50_ms = percentile(run.latencies_ms, 0.50);
    r.p95_ms = percentile(run.latencies_ms, 0.95);
    r.p99_ms = percentile(run.latencies_ms, 0.99);
    r.max_ms = run.latencies_ms.empty() ? 0 : run.latencies_ms.back();
    return r;
}

std::string bench_report(const bench_options& o, const bench_result& r) {
    std::ostringstream out;
    if (o.json) {
        auto rounded = [](double v, int digits) {
            const double scale = std::pow(10.0, digits);
            return std::round(v * scale) / scale;
        };
        boost::json::object failures;
        for (const auto& [kind, n] : r.failures) failures[kind] = n;
        boost::json::object report{
            {"url", o.url},
            {"requests", r.requests},
            {"connections", o.connections},
            {"method", o.use_get ? "GET" : "POST"},
            {"key", to_string(o.key)},
            {"cipher", to_string(o.cipher)},
            {"digest", to_string(o.digest)},
            {"succeeded", r.succeeded},
            {"failed", r.failed},
            {"decrypted", r.decrypted},
            {"failures", std::move(failures)},
            {"seconds", rounded(r.seconds, 3)},
            {"prepare_seconds", rounded(r.prepare_seconds, 3)},
            {"enrollments_per_second", rounded(r.per_second, 1)},
            {"latency_ms", boost::json::object{{"p50", rounded(r.p50_ms, 2)},
                                               {"p95", rounded(r.p95_ms, 2)},
                                               {"p99", rounded(r.p99_ms, 2)},
                                               {"max", rounded(r.max_ms, 2)}}},
            {"server_cpu_ms_per_enrollment", rounded(r.server_cpu_ms, 3)},
            {"server_cpu_source", r.server_cpu_source},
            {"floor_ms", rounded(r.floor_ms, 3)},
            {"floor", r.floor_text},
            {"efficiency", rounded(r.efficiency(), 3)},
            {"new_connection", o.new_connection},
            {"tls_handshakes", r.tls_handshakes},
            {"tls_resumed", r.tls_resumed}};
        return scep::json_text(report) + "\n";
    }
    out << "scep-lab bench  " << o.url << "\n"
        << "  requests      " << r.requests << " (" << to_string(o.key) << ", " << to_string(o.cipher) << ", "
        << to_string(o.digest) << ", " << (o.use_get ? "GET" : "POST") << "), " << o.connections
        << " connections, prepared in " << fixed(r.prepare_seconds) << " s\n"
        << "  succeeded     " << r.succeeded << " (" << r.decrypted << " decrypted and matched to their key)\n"
        << "  failed        " << r.failed << "\n";
    for (const auto& [kind, n] : r.failures) out << "    " << n << "  " << kind << "\n";
    out << "  time          " << fixed(r.seconds, 2) << " s\n"
        << "  throughput    " << fixed(r.per_second) << " enrollments/s\n"
        << "  latency       p50 " << fixed(r.p50_ms, 2) << " ms  p95 " << fixed(r.p95_ms, 2) << " ms  p99 "
        << fixed(r.p99_ms, 2) << " ms  max " << fixed(r.max_ms, 2) << " ms\n";
    if (r.tls_handshakes > 0)
        out << "  TLS           " << r.tls_handshakes << " handshakes, " << r.tls_resumed << " resumed\n";
    if (r.floor_ms > 0) out << "  floor         " << fixed(r.floor_ms, 3) << " ms: " << r.floor_text << "\n";
    if (r.server_cpu_ms > 0)
        out << "  server CPU    " << fixed(r.server_cpu_ms, 3) << " ms per enrollment (" << r.server_cpu_source << ")"
            << (r.floor_ms > 0 ? ", efficiency " + fixed(100 * r.efficiency(), 1) + " % of the floor" : std::string())
            << "\n";
    else
        out << "  server CPU    unknown (no process_cpu_seconds_total in /metrics; --server-pid reads /proc)\n";
    return out.str();
}

}  // namespace scep::client
