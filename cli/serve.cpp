// `scep-lab serve`: assembles the lab from the settings and runs it.
#include "cli/commands.hpp"

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <iostream>
#include <functional>
#include <mutex>
#include <thread>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "pki/ca/crl.hpp"
#include "pki/trust/exports.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/scep/service.hpp"
#include "pki/ca/server_certs.hpp"
#include "pki/store/store.hpp"
#include <boost/json.hpp>

#include "server/admin_api.hpp"
#include "server/profile_download.hpp"
#include "server/http_server.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/ndes_admin.hpp"
#include "server/quirks.hpp"
#include "server/router.hpp"
#include "client/scep_client.hpp"
#include "server/status_page.hpp"

#include "cli/lab.hpp"

namespace scep::cli {

using namespace scep::server;

namespace {

// The HTTPS listener's certificate and chain (server certificate first).
struct tls_identity {
    evp_pkey_ptr key;
    std::vector<x509_ptr> chain;
};

result<tls_identity> https_identity(const config::settings& s, lab& l, event_log& log) {
    tls_identity id;
    if (!s.https.cert_file.empty()) {
        // The tester's own certificate: used as it is, checked for the mistakes
        // that otherwise show up only as a client's handshake failure.
        auto certs = read_https_chain(s);
        if (!certs) return make_error("https.cert_file: " + certs.message());
        auto key_pem = read_file(s.https.key_file);
        if (!key_pem) return make_error("https.key_file: " + key_pem.message());
        auto key = private_key_from_pem(*key_pem, s.pki.key_passphrase);
        if (!key) return make_error("https.key_file " + s.https.key_file.string() + ": " + key.message());
        if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
            ERR_clear_error();
            return make_error("https.key_file does not belong to the first certificate of https.cert_file");
        }
        auto not_after = asn1_time_point(*X509_get0_notAfter(certs->front().get()));
        if (not_after < std::chrono::system_clock::now())
            log.warn("the HTTPS certificate in https.cert_file has expired: clients will refuse it",
                     {{"not_after", time_to_iso8601(*X509_get0_notAfter(certs->front().get()))}});
        id.key = std::move(*key);
        id.chain = std::move(*certs);
        return id;
    }
    server_cert_spec spec;
    spec.profile = server_profile::tls_server;
    spec.names = config::https_names(s, host_name());
    spec.key = s.https.key;
    auto got = ensure_https_cert(l.pki, spec, s.lab_https_cert_file(), s.lab_https_key_file(),
                                 s.pki.key_passphrase, std::chrono::system_clock::now());
    if (!got) return make_error("HTTPS certificate: " + got.message());
    if (got->issued_now) {
        // Recorded like every certificate the lab issues.
        auto rec = make_record(*got->sc.cert);
        rec.requester = "scep-lab https";
        if (auto r = l.store->insert(rec); !r) return make_error("recording the HTTPS certificate: " + r.message());
        log.info("issued the HTTPS certificate", {{"reason", got->reason},
                                                  {"serial", rec.serial},
                                                  {"names", subject_alt_names(*got->sc.cert)}});
    }
    id.key = std::move(got->sc.key);
    id.chain.push_back(std::move(got->sc.cert));
    for (const X509* c : l.pki.chain(true)) id.chain.push_back(dup(*c));
    return id;
}

// Modern defaults: TLS 1.2 or 1.3 only (https.min_version), OpenSSL's default
// cipher suites (forward secrecy; Debian's security level 2).
result<void> configure_tls(boost::asio::ssl::context& ctx, const tls_identity& id, const std::string& min_version) {
    SSL_CTX* c = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(c, min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION) != 1)
        return make_error(ossl_error("TLS minimum version"));
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate(c, id.chain.front().get()) != 1) return make_error(ossl_error("HTTPS certificate"));
    // The root stays out of the handshake: clients must already trust it.
    for (std::size_t i = 1; i < id.chain.size(); ++i) {
        const X509* cert = id.chain[i].get();
        if (i + 1 == id.chain.size() && id.chain.size() > 1 &&
            X509_check_issued(const_cast<X509*>(cert), const_cast<X509*>(cert)) == X509_V_OK)
            break;
        if (SSL_CTX_add1_chain_cert(c, const_cast<X509*>(cert)) != 1) return make_error(ossl_error("HTTPS chain"));
    }
    if (SSL_CTX_use_PrivateKey(c, id.key.get()) != 1) return make_error(ossl_error("HTTPS key"));
    if (SSL_CTX_check_private_key(c) != 1) return make_error(ossl_error("HTTPS key and certificate"));
    return {};
}

}  // namespace

int serve(const config::settings& s) {
    event_log log(s.log.format, s.log.level);
    auto started = std::chrono::steady_clock::now();
    auto opened = open_lab(s, log);
    if (!opened) {
        log.error("cannot start", {{"error", opened.message()}});
        return 1;
    }
    lab& l = *opened;
    if (s.scep.ciphers.allow_single_des) {
        if (legacy_provider_loaded())
            log.warn("single DES requests are accepted (scep.allow_single_des = true): RFC 8894 §2.9 forbids it, "
                     "but micromdm scepclient 2.x and old network gear send nothing else");
        else
            log.warn("single DES is enabled but OpenSSL's legacy provider is not available: DES requests will get "
                     "badAlg");
    }
    if (s.scep.challenge.empty()) log.warn("no challenge password is required: anyone who can connect can enroll");
    if (s.quirks.expired_ra)
        if (auto r = l.pki.expire_ra(std::chrono::system_clock::now()); !r) {
            log.error("cannot start", {{"error", r.message()}});
            return 1;
        }
    // Reproduction knobs change what clients see: say so before anything else.
    for (const auto& q : config::active_quirks(s)) log.warn("quirk active: " + q);

    const clock_fn clock = config::lab_clock(s);
    issuer iss(l.pki, s.issuance, s.csr, clock);
    if (s.lab.clock_offset.count() != 0)
        log.warn("deterministic mode: the lab clock is shifted", {{"clock_offset_s", std::to_string(s.lab.clock_offset.count())}});
    if (!s.lab.serial_seed.empty()) {
        auto n = l.store->count();
        iss.set_serial_seed(s.lab.serial_seed, n ? static_cast<std::uint64_t>(*n) : 0);
        log.warn("deterministic mode: serial numbers follow lab.serial_seed (not random)");
    }
    // NDES mode decides how challenges are checked; otherwise the static secret.
    std::optional<one_time_passwords> otp;
    std::optional<static_challenge> fixed;
    challenge_verifier* verifier = nullptr;
    std::vector<std::string> paths = s.scep_paths;
    std::optional<ndes_frontend> ndes;
    if (s.ndes.enabled) {
        if (s.ndes.password_mode == "dynamic") {
            otp.emplace(s.ndes.password_validity, s.ndes.password_cache, s.ndes.password_bytes, clock);
            verifier = &*otp;
        } else {
            fixed.emplace(s.ndes.password_mode == "none" ? std::string() : s.scep.challenge);
            verifier = &*fixed;
        }
        for (const char* p : {"/certsrv/mscep/mscep.dll", "/certsrv/mscep", "/CertSrv/mscep/mscep.dll", "/CertSrv/mscep"})
            if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
        const X509& thumb_ca = s.ndes.thumbprint_ca == "root" ? l.pki.root_cert() : static_cast<const X509&>(*l.pki.issuing().cert);
        ndes.emplace(s.ndes, otp ? &*otp : nullptr, s.scep.challenge, ndes_thumbprint(thumb_ca));
        log.info("NDES mode", {{"password_mode", s.ndes.password_mode},
                               {"admin_response", s.ndes.admin_response},
                               {"browse", s.ndes.browse}});
    }
    service_config scfg = config::service_settings(s);
    if (scfg.templates)
        log.info("NDES templates", {{"signature", scfg.templates->signature.name},
                                    {"encryption", scfg.templates->encryption.name},
                                    {"general_purpose", scfg.templates->general_purpose.name}});
    scep_service service(l.pki, iss, *l.store, scfg, clock, verifier);
    quirk_gate quirks(s.quirks);
    router r(service, paths, ndes ? &*ndes : nullptr, &quirks);
    if (!s.log.capture_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(s.log.capture_dir, ec);
        if (ec) {
            log.error("cannot start", {{"error", "log.capture_dir " + s.log.capture_dir + ": " + ec.message()}});
            return 1;
        }
        r.capture_to(s.log.capture_dir);
        log.warn("capturing every PKIOperation request and reply in " + s.log.capture_dir);
    }
    if (scfg.approval.manual) log.info("manual approval: every request waits for `scep-lab approve <txid>`");

    // The admin API's bearer token: from the environment, or the token file
    // (created with a random token at the first start and shown once).
    std::optional<admin_api> admin;
    std::string new_admin_token;
    if (s.admin.enabled) {
        std::string token = s.admin.token;
        if (token.empty()) {
            const auto file = s.admin_token_file();
            if (std::filesystem::exists(file)) {
                auto text = read_file(file);
                if (!text) {
                    log.error("cannot start", {{"error", "admin token: " + text.message()}});
                    return 1;
                }
                token = text->substr(0, text->find_first_of("\r\n"));
                if (token.size() < 16) {
                    log.error("cannot start", {{"error", "admin token file " + file.string() +
                                                             " holds fewer than 16 characters; delete it to get a new one"}});
                    return 1;
                }
            } else {
                token = make_admin_token();
                if (auto w = write_file(file, token + "\n", true); !w) {
                    log.error("cannot start", {{"error", "admin token: " + w.message()}});
                    return 1;
                }
                new_admin_token = token;
                log.info("created the admin API token", {{"file", file.string()}});
            }
        }
        admin.emplace(*l.store, admin_settings_view{token, s.admin.allow_remote, config::to_toml(s, false)});
        r.set_admin(&*admin);
    }

    // Every connection is a file descriptor: make room for max_connections.
    if (struct rlimit rl {}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = static_cast<rlim_t>(s.server.max_connections) + 256;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = std::min(want, rl.rlim_max);
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur < want)
            log.warn("the open-file limit (" + std::to_string(rl.rlim_cur) + ") is below server.max_connections + 256; "
                     "raise it (ulimit -n) or lower max_connections");
    }
    // Declared before the io_context: sessions still queued in it when it is
    // destroyed at the end refer to the metrics, the limits and the TLS context.
    metrics stats;
    boost::asio::ssl::context tls_ctx{boost::asio::ssl::context::tls_server};
    boost::asio::io_context ioc;
    const http_limits limits{s.server.max_body_bytes, s.server.max_header_bytes, s.server.read_timeout,
                       s.server.idle_timeout, s.server.max_connections};
    // HTTP and HTTPS: two listeners, one router, one set of metrics.
    r.set_metrics(&stats);
    std::optional<http_server> plain;
    std::optional<http_server> secure;
    std::string base, https_base;
    std::uint16_t http_port = 0, https_port = 0;
    if (s.server.http) {
        plain.emplace(ioc, r, log, limits, nullptr, &stats);
        auto ep = plain->listen(s.server.listen, s.server.port);
        if (!ep) {
            log.error("cannot start", {{"error", ep.message() + " (server.port; --port 0 picks a free port)"}});
            return 1;
        }
        http_port = ep->port();
        base = "http://" + display_host(s.server.listen) + ":" + std::to_string(http_port);
    }
    if (s.https.enabled) {
        auto id = https_identity(s, l, log);
        if (!id) {
            log.error("cannot start", {{"error", id.message()}});
            return 1;
        }
        if (auto ok = configure_tls(tls_ctx, *id, s.https.min_version); !ok) {
            log.error("cannot start", {{"error", ok.message()}});
            return 1;
        }
        std::vector<x509_ptr> tls_chain;
        for (const auto& c : id->chain) tls_chain.push_back(dup(*c));
        r.set_tls_chain(std::move(tls_chain));
        const std::string& listen = s.https_listen();
        secure.emplace(ioc, r, log, limits, &tls_ctx, &stats);
        auto ep = secure->listen(listen, s.https.port);
        if (!ep) {
            log.error("cannot start", {{"error", ep.message() + " (https.port; --https-port 0 picks a free port, "
                                                               "--no-https turns HTTPS off)"}});
            return 1;
        }
        https_port = ep->port();
        https_base = "https://" + display_host(listen) + ":" + std::to_string(https_port);
        log.info("HTTPS", {{"url", https_base},
                           {"certificate", s.https_cert_file().string()},
                           {"names", subject_alt_names(*id->chain.front())},
                           {"min_version", "TLS " + s.https.min_version}});
    }
    if (base.empty()) base = https_base;
    // Apple profiles: built per download (a fresh NDES password each time).
    std::mutex profile_mutex;  // the first signed download issues the signer once
    r.set_profile_source([&s, &l, &otp, &r, &profile_mutex, &admin, &ndes](router::profile_call& call) -> result<exported> {
        std::lock_guard lock(profile_mutex);
        auto req = profile_request_from_query(call.query);
        if (!req) return req.err();
        // The same people who could read the challenge elsewhere: the admin
        // token's holder, or whoever has the NDES admin page's login.
        req->may_see_challenge = (admin && admin->accepts(call.req, call.client)) || (ndes && ndes->has_login(call.req));
        profile_sources src{s, l.pki, *l.store, r.tls_chain(), otp ? &*otp : nullptr};
        return make_apple_profile(src, std::move(*req), call.base_url, &call.note);
    });
    // The status page at "/".
    r.set_status_page([&s, &l, secure_on = s.https.enabled, admin_on = admin.has_value()](const std::string& base_url) {
        status_inputs in{.pki = l.pki, .store = *l.store, .base_url = base_url, .scep_path = s.scep_paths.front(),
                         .ndes_path = {}, .challenge = {}, .challenge_note = {}, .https = false, .admin = false};
        if (s.ndes.enabled) in.ndes_path = "/certsrv/mscep/mscep.dll";
        // The challenge is shown when it is the lab's default one (as in the banner).
        if (s.ndes.enabled && s.ndes.password_mode == "dynamic")
            in.challenge_note = "one-time passwords from the NDES admin page";
        else if (s.ndes.enabled && s.ndes.password_mode == "none")
            in.challenge_note = "none required";
        else if (s.scep.challenge == config::default_challenge)
            in.challenge = s.scep.challenge;
        else
            in.challenge_note = s.scep.challenge.empty() ? "none required" : "set by configuration (not shown)";
        in.https = secure_on;
        in.admin = admin_on;
        return render_status_page(in);
    });
    // Known only now (port 0 picks one); set before the first request is accepted.
    // Relying parties fetch CRLs over plain HTTP when it runs (RFC 5280 §4.2.1.13).
    iss.set_crl_url((s.crl_base_url.empty() ? base : s.crl_base_url) + "/crl/" + l.pki.issuing().name + ".crl");
    if (plain) plain->start();
    if (secure) secure->start();
    const std::uint16_t port = http_port ? http_port : https_port;

    std::string scep_url = base + s.scep_paths.front();
    auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    log.info("ready", {{"url", scep_url},
                       {"listen", (s.server.http ? s.server.listen + ":" + std::to_string(http_port) : std::string("-"))},
                       {"https", https_base.empty() ? std::string("off") : https_base},
                       {"ca_chain", l.pki.chain_file().string()},
                       {"store", s.store_file().string()},
                       {"startup_ms", std::to_string(static_cast<long long>(ready_ms))}});

    // The banner is for the person at the terminal; the log never carries the
    // challenge. A non-default challenge is the user's own and not echoed.
    std::string challenge_line = s.scep.challenge == config::default_challenge ? s.scep.challenge
                                 : s.scep.challenge.empty()                     ? "(none required)"
                                                                                : "(set by configuration)";
    const std::string ndes_url = s.ndes.enabled ? base + "/certsrv/mscep/mscep.dll" : std::string();
    const bool dynamic = s.ndes.enabled && s.ndes.password_mode == "dynamic";
    if (dynamic) challenge_line = "one-time passwords from " + base + "/certsrv/mscep_admin/";
    if (s.ndes.enabled && s.ndes.password_mode == "none") challenge_line = "(none required: ndes.password_mode = none)";
    std::string try_challenge = dynamic ? "<password from the admin page>"
                                : s.scep.challenge == config::default_challenge ? s.scep.challenge
                                                                                : "<your challenge>";
    std::cout << "scep-lab ready\n"
              << "  SCEP URL   " << scep_url << "\n"
              << (https_base.empty() || !s.server.http ? std::string()
                                                       : "  HTTPS      " + https_base + s.scep_paths.front() + "\n")
              << "  challenge  " << challenge_line << "\n"
              << "  CA chain   " << l.pki.chain_file().string() << "\n"
              << "  root CA    " << l.pki.tiers().front().cert_file.string() << "\n"
              << "  store      " << s.store_file().string() << "\n"
              << (s.ndes.enabled ? "  NDES       " + ndes_url + "  admin " + base + "/certsrv/mscep_admin/ (" +
                                       s.ndes.password_mode + " passwords)\n"
                                 : std::string())
              << (new_admin_token.empty() ? std::string()
                                          : "  admin      token " + new_admin_token + " (shown once; kept in " +
                                                s.admin_token_file().string() + ")\n")
              << "  try        mkdir dev1 && scepclient -server-url " << (s.ndes.enabled ? ndes_url : scep_url)
              << " -challenge " << try_challenge << " -private-key dev1/key.pem -certificate dev1/cert.pem\n"
              << std::flush;

    if (!s.server.ready_file.empty()) {
        boost::json::object ready{{"url", scep_url}, {"base_url", base}, {"port", port}};
        if (!https_base.empty()) {
            ready["https_url"] = https_base + s.scep_paths.front();
            ready["https_base_url"] = https_base;
            ready["https_port"] = https_port;
        }
        ready["ca_chain"] = std::filesystem::absolute(l.pki.chain_file()).string();
        ready["pid"] = ::getpid();
        if (s.ndes.enabled) ready["ndes_url"] = ndes_url;
        if (s.admin.enabled && s.admin.token.empty())
            ready["admin_token_file"] = std::filesystem::absolute(s.admin_token_file()).string();
        const std::string json = boost::json::serialize(ready) + "\n";
        if (auto w = write_file(s.server.ready_file, json, false); !w)
            log.warn("cannot write ready file", {{"error", w.message()}});
    }

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    // Graceful shutdown: stop accepting, answer /readyz 503, let every request
    // already read finish (up to server.shutdown_timeout), then stop. Idle
    // keep-alive connections are simply closed; the store closes when `l` goes.
    auto in_flight = [&] { return (plain ? plain->in_flight() : 0) + (secure ? secure->in_flight() : 0); };
    boost::asio::steady_timer drain_timer(ioc);
    std::chrono::steady_clock::time_point drain_deadline;
    std::function<void()> drain = [&] {
        const auto left = in_flight();
        if (left == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
            if (left > 0) log.warn("shutdown timeout: requests still in flight", {{"in_flight", std::to_string(left)}});
            ioc.stop();
            return;
        }
        drain_timer.expires_after(std::chrono::milliseconds(20));
        drain_timer.async_wait([&](const boost::system::error_code&) { drain(); });
    };
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        log.info("stopping", {{"signal", std::to_string(sig)}, {"in_flight", std::to_string(in_flight())}});
        r.set_ready(false);
        if (plain) plain->stop();
        if (secure) secure->stop();
        drain_deadline = std::chrono::steady_clock::now() + s.server.shutdown_timeout;
        drain();
    });

    unsigned threads = s.server.threads ? s.server.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    log.info("stopped", {{"in_flight", std::to_string(in_flight())}});
    return 0;
}

}  // namespace scep::cli
