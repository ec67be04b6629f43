#include "server/app.hpp"

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

#include "pki/crl.hpp"
#include "pki/exports.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuer.hpp"
#include "pki/scep_service.hpp"
#include "pki/server_certs.hpp"
#include "pki/store.hpp"
#include <boost/json.hpp>

#include "server/admin_api.hpp"
#include "server/apple_profiles.hpp"
#include "server/http_server.hpp"
#include "server/logging.hpp"
#include "server/metrics.hpp"
#include "server/ndes_admin.hpp"
#include "server/quirks.hpp"
#include "server/router.hpp"
#include "server/scep_client.hpp"
#include "server/status_page.hpp"

namespace scep::server {

namespace {

struct lab {
    hierarchy pki;
    std::unique_ptr<cert_store> store;
};

// The data directory holds keys, tokens and the store: owner only. It is
// made 0700 when it is this user's; a shared one (another owner, the sticky
// bit of /tmp, the home directory) is left alone with a warning.
void make_data_dir_private(const std::filesystem::path& dir, event_log& log) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(dir, ec)) fs::create_directories(dir, ec);
    struct stat st {};
    if (ec || ::stat(dir.c_str(), &st) != 0) return;  // opening the lab reports what is wrong with the path
    if ((st.st_mode & 077) == 0) return;
    const char* home = std::getenv("HOME");
    const bool shared = st.st_uid != ::geteuid() || (st.st_mode & S_ISVTX) ||
                        fs::equivalent(dir, "/", ec) || (home && fs::equivalent(dir, home, ec));
    if (shared) {
        log.warn("the data directory is open to other users and not scep-lab's own; keep the lab's keys in a "
                 "directory of their own",
                 {{"data_dir", dir.string()}});
        return;
    }
    if (::chmod(dir.c_str(), 0700) == 0)
        log.info("made the data directory private (0700)", {{"data_dir", dir.string()}});
}

result<lab> open_lab(const config::settings& s, event_log& log) {
    load_providers();
    make_data_dir_private(s.data_dir, log);
    {
        // An empty file where the store should be is most often a failed copy
        // or restore: say so instead of silently starting with no certificates.
        std::error_code ec;
        if (std::filesystem::is_regular_file(s.store_file(), ec) && std::filesystem::file_size(s.store_file(), ec) == 0 &&
            !ec)
            log.warn("the store file is empty (0 bytes): starting with no certificates; if it held some, stop and "
                     "restore it from a backup",
                     {{"file", s.store_file().string()}});
    }
    auto pki = hierarchy::open(s.pki, s.pki_dir(), config::lab_clock(s)(),
                               [&](const std::string& note) {
                                   if (note.rfind("warning: ", 0) == 0)
                                       log.warn(note.substr(9));
                                   else
                                       log.info(note);
                               });
    if (!pki) return pki.err();
    auto store = open_sqlite_store(s.store_file());
    if (!store) return store.err();
    return lab{std::move(*pki), std::move(*store)};
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

std::string display_host(const std::string& listen);

// The base URL the settings give for this machine: HTTP, or HTTPS when HTTP is off.
std::string configured_base_url(const config::settings& s) {
    return s.server.http ? "http://" + display_host(s.server.listen) + ":" + std::to_string(s.server.port)
                         : "https://" + display_host(s.https_listen()) + ":" + std::to_string(s.https.port);
}

// The certificates of the HTTPS certificate file (server certificate first).
result<std::vector<x509_ptr>> read_https_chain(const config::settings& s) {
    const auto file = s.https_cert_file();
    auto pem = read_file(file);
    if (!pem)
        return make_error(s.https.cert_file.empty() ? "no HTTPS certificate at " + file.string() +
                                                          " (it is issued at the first start with HTTPS on)"
                                                    : pem.message());
    auto certs = x509_list_from_pem(*pem);
    if (!certs || certs->empty()) return make_error(file.string() + " holds no certificate");
    return std::move(*certs);
}

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

std::string display_host(const std::string& listen) {
    if (listen == "0.0.0.0" || listen.empty()) return "127.0.0.1";
    if (listen == "::") return "[::1]";
    if (listen.find(':') != std::string::npos) return "[" + listen + "]";
    return listen;
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
        std::string json = "{\"url\":\"" + json_escape(scep_url) + "\",\"base_url\":\"" + json_escape(base) +
                           "\",\"port\":" + std::to_string(port) +
                           (https_base.empty() ? std::string()
                                               : ",\"https_url\":\"" + json_escape(https_base + s.scep_paths.front()) +
                                                     "\",\"https_base_url\":\"" + json_escape(https_base) +
                                                     "\",\"https_port\":" + std::to_string(https_port)) +
                           ",\"ca_chain\":\"" +
                           json_escape(std::filesystem::absolute(l.pki.chain_file()).string()) + "\",\"pid\":" +
                           std::to_string(::getpid()) +
                           (s.ndes.enabled ? ",\"ndes_url\":\"" + json_escape(ndes_url) + "\"" : std::string()) +
                           (s.admin.enabled && s.admin.token.empty()
                                ? ",\"admin_token_file\":\"" +
                                      json_escape(std::filesystem::absolute(s.admin_token_file()).string()) + "\""
                                : std::string()) +
                           "}\n";
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

int seed(const config::settings& s, std::size_t count, std::ostream& out) {
    event_log log(s.log.format, s.log.level);
    auto opened = open_lab(s, log);
    if (!opened) {
        log.error("seed failed", {{"error", opened.message()}});
        return 1;
    }
    // One real certificate from the issuing CA gives every row a realistic size.
    auto key = generate_key(key_type::ec_p256);
    auto subject = parse_subject("CN=scep-lab seed template,O=scep-lab seed");
    if (!key || !subject) return 1;
    cert_request req;
    req.subject = subject->get();
    req.public_key = key->get();
    req.not_before = std::chrono::system_clock::now();
    req.not_after = req.not_before + std::chrono::hours(24 * 365);
    req.extensions = {{NID_basic_constraints, "critical,CA:FALSE"}, {NID_key_usage, "critical,digitalSignature"}};
    const ca_entry& ca = opened->pki.issuing();
    auto cert = sign_certificate(req, ca.cert.get(), *ca.key);
    if (!cert) {
        std::cerr << "seed: " << cert.message() << "\n";
        return 1;
    }
    auto started = std::chrono::steady_clock::now();
    auto n = opened->store->seed(count, make_record(**cert), to_hex(random_bytes(4), true));
    if (!n) {
        std::cerr << "seed: " << n.message() << "\n";
        return 1;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto total = opened->store->count();
    out << "added " << *n << " placeholder certificates in " << static_cast<long long>(secs * 1000) << " ms; the store holds "
        << (total ? *total : -1) << "\n";
    return 0;
}

int init(const config::settings& s, std::ostream& out) {
    event_log log(s.log.format, s.log.level);
    auto opened = open_lab(s, log);
    if (!opened) {
        log.error("init failed", {{"error", opened.message()}});
        return 1;
    }
    out << (opened->pki.generated_now() ? "created" : "existing") << " lab PKI in " << s.pki_dir().string() << "\n";
    for (const auto& t : opened->pki.tiers())
        out << "  " << t.name << "  " << name_to_string(*X509_get_subject_name(t.cert.get())) << "  "
            << t.cert_file.string() << "\n";
    if (opened->pki.ndes_pair()) {
        out << "  ra (signing)     " << name_to_string(*X509_get_subject_name(&opened->pki.ra_cert())) << "\n";
        out << "  ra (encryption)  " << name_to_string(*X509_get_subject_name(&opened->pki.ra_encryption_cert()))
            << "\n";
    } else if (!opened->pki.ca_as_ra()) {
        out << "  ra  " << name_to_string(*X509_get_subject_name(&opened->pki.ra_cert())) << "\n";
    }
    out << "CA chain: " << opened->pki.chain_file().string() << "\nstore: " << s.store_file().string() << "\n";
    return 0;
}

namespace {
// The store of an existing data dir, for commands that act while the server
// runs (SQLite WAL lets both work at once).
std::unique_ptr<cert_store> existing_store(const config::settings& s) {
    if (!std::filesystem::exists(s.store_file())) {
        std::cerr << "no store at " << s.store_file().string() << " (has the server run with this data dir?)\n";
        return nullptr;
    }
    auto store = open_sqlite_store(s.store_file());
    if (!store) {
        std::cerr << store.message() << "\n";
        return nullptr;
    }
    return std::move(*store);
}
}  // namespace

int revoke(const config::settings& s, const std::string& serial_in, const std::string& reason, std::ostream& out) {
    auto code = revocation_reason_from_name(reason);
    if (!code) {
        std::cerr << code.message() << "\n";
        return 2;
    }
    // Any spelling: "07:04:b5", "704B5" (openssl drops the leading zero).
    const std::string serial = normalize_serial(serial_in);
    auto store = existing_store(s);
    if (!store) return 1;
    auto r = revoke_certificate(*store, serial, *code);
    if (!r) {
        std::cerr << r.message() << "\n";
        return 1;
    }
    switch (r->result) {
        case revocation::outcome::revoked: out << "revoked " << serial << " (" << reason << ")\n"; return 0;
        case revocation::outcome::already_revoked: out << serial << " was already revoked (" << reason << ")\n"; return 0;
        case revocation::outcome::conflict:
            std::cerr << serial << " is already revoked with reason " << crl_reason_name(r->reason) << " since "
                      << r->revoked_at << "; the first revocation stands\n";
            return 1;
        case revocation::outcome::not_found: std::cerr << "no certificate with serial " << serial << "\n"; return 1;
    }
    return 1;
}

int export_file(const config::settings& s, const std::string& what, const std::string& format,
                const std::string& out_file, std::ostream& out) {
    event_log log(s.log.format, "warn");
    result<exported> found = make_error("unset");
    if (what == "tls" || what == "tls-chain") {
        // The HTTPS certificate the server uses (lab-issued, or your own).
        auto certs = read_https_chain(s);
        if (!certs) {
            std::cerr << certs.message() << "\n";
            return 1;
        }
        std::vector<x509_ptr> owned = std::move(*certs);
        std::vector<const X509*> list;
        for (const auto& c : owned) {
            list.push_back(c.get());
            if (what == "tls") break;
        }
        if (what == "tls-chain" && s.https.cert_file.empty()) {
            load_providers();
            auto pki = hierarchy::open(s.pki, s.pki_dir(), config::lab_clock(s)(), [](const std::string&) {});
            if (!pki) {
                std::cerr << pki.message() << "\n";
                return 1;
            }
            owned.push_back(dup(pki->root_cert()));
            list.push_back(owned.back().get());
        }
        found = export_certs(list, what, format);
    } else if (what.rfind("cert:", 0) == 0) {
        auto store = existing_store(s);
        if (!store) return 1;
        found = export_certificate(*store, what.substr(5), format);
    } else {
        load_providers();
        auto pki = hierarchy::open(s.pki, s.pki_dir(), config::lab_clock(s)(), [](const std::string&) {});
        if (!pki) {
            std::cerr << pki.message() << "\n";
            return 1;
        }
        found = export_ca(*pki, what, format);
    }
    if (!found) {
        std::cerr << found.message() << "\n";
        return 1;
    }
    if (out_file.empty()) {
        out << found->body << std::flush;
        return 0;
    }
    if (auto w = write_file(out_file, found->body, false); !w) {
        std::cerr << w.message() << "\n";
        return 1;
    }
    std::cerr << "wrote " << out_file << "\n";
    return 0;
}

int issue_server(const config::settings& s, const issue_options& o, std::ostream& out) {
    auto profile = server_profile_from_name(o.profile);
    if (!profile) {
        std::cerr << "unknown profile \"" << o.profile << "\" (radius-server, tls-server)\n";
        return 2;
    }
    auto key = key_type_from_name(o.key);
    if (!key) {
        std::cerr << "unknown key type \"" << o.key << "\" (rsa2048, rsa3072, rsa4096, ec-p256, ec-p384)\n";
        return 2;
    }
    event_log log(s.log.format, "warn");
    auto opened = open_lab(s, log);
    if (!opened) {
        std::cerr << opened.message() << "\n";
        return 1;
    }
    server_cert_spec spec;
    spec.profile = *profile;
    spec.names = o.names;
    spec.common_name = o.common_name;
    spec.key = *key;
    spec.validity = std::chrono::hours(24) * o.days;
    // The CRL URL the server publishes (port 0 has no stable address: none then).
    if (!s.crl_base_url.empty())
        spec.crl_url = s.crl_base_url + "/crl/" + opened->pki.issuing().name + ".crl";
    else if (s.server.http && s.server.port != 0)
        spec.crl_url = "http://" + display_host(s.server.listen) + ":" + std::to_string(s.server.port) + "/crl/" +
                       opened->pki.issuing().name + ".crl";
    auto sc = issue_server_cert(opened->pki, spec, std::chrono::system_clock::now());
    if (!sc) {
        std::cerr << "issue: " << sc.message() << "\n";
        return 1;
    }
    auto files = write_server_files(opened->pki, *sc, *profile, o.out_dir, s.pki.key_passphrase);
    if (!files) {
        std::cerr << "issue: " << files.message() << "\n";
        return 1;
    }
    auto rec = make_record(*sc->cert);
    rec.requester = "scep-lab issue " + o.profile;
    if (auto r = opened->store->insert(rec); !r) {
        std::cerr << "issue: recording in the store: " << r.message() << "\n";
        return 1;
    }
    out << "issued " << o.profile << " certificate " << rec.serial << "\n  subject  " << rec.subject
        << "\n  names    " << rec.sans << "\n  expires  " << rec.not_after << "\n";
    for (const auto& f : *files) out << "  wrote    " << f.string() << "\n";
    if (*profile == server_profile::radius_server) {
        const std::string dir = std::filesystem::absolute(o.out_dir).lexically_normal().string();
        out << "FreeRADIUS (mods-available/eap, tls-config tls-common):\n"
            << "  private_key_file = " << dir << "/server.key\n"
            << "  certificate_file = " << dir << "/server.pem\n"
            << "  ca_file = " << dir << "/ca.pem\n";
    }
    return 0;
}

int apple_profile(const config::settings& s, const apple_profile_cli& o, std::ostream& out) {
    event_log log(s.log.format, "warn");
    auto opened = open_lab(s, log);
    if (!opened) {
        std::cerr << opened.message() << "\n";
        return 1;
    }
    auto req = profile_request_from_query(o.query);
    if (!req) {
        std::cerr << "profile: " << req.message() << "\n";
        return 2;
    }
    req->sign = req->sign || o.sign;
    req->may_see_challenge = true;  // whoever can run this reads the data directory anyway
    if (o.challenge) {
        req->options.challenge = *o.challenge;
        req->challenge_given = true;
    }
    req->options.scep_url = o.url;
    // The HTTPS chain, when HTTPS is on and its certificate exists.
    std::vector<x509_ptr> tls_owned;
    std::vector<const X509*> tls_chain;
    if (s.https.enabled)
        if (auto certs = read_https_chain(s)) tls_owned = std::move(*certs);
    for (const auto& c : tls_owned) tls_chain.push_back(c.get());
    profile_sources src{s, opened->pki, *opened->store, tls_chain, nullptr};
    auto made = make_apple_profile(src, std::move(*req), configured_base_url(s));
    if (!made) {
        std::cerr << "profile: " << made.message() << "\n";
        return 1;
    }
    if (o.out_file.empty()) {
        out << made->body << std::flush;
        return 0;
    }
    if (auto w = write_file(o.out_file, made->body, false); !w) {
        std::cerr << w.message() << "\n";
        return 1;
    }
    std::cerr << "wrote " << o.out_file << "\n";
    return 0;
}

int decide(const config::settings& s, const std::string& txid, bool approve, const std::string& reason,
           std::ostream& out) {
    auto store = existing_store(s);
    if (!store) return 1;
    auto r = store->decide_pending(txid, approve, reason);
    if (!r) {
        std::cerr << r.message() << "\n";
        return 1;
    }
    switch (*r) {
        case decide_outcome::decided:
            out << (approve ? "approved " : "rejected ") << txid
                << ": the client receives the answer at its next poll\n";
            return 0;
        case decide_outcome::not_pending: {
            auto p = store->find_pending(txid);
            std::cerr << "request " << txid << " is already " << (p && *p ? (*p)->status : "decided") << "\n";
            return 1;
        }
        case decide_outcome::not_found: std::cerr << "no pending request with transactionID " << txid << "\n"; return 1;
    }
    return 1;
}

int pending_list(const config::settings& s, bool all, std::ostream& out) {
    auto store = existing_store(s);
    if (!store) return 1;
    auto rows = store->list_pending(all);
    if (!rows) {
        std::cerr << rows.message() << "\n";
        return 1;
    }
    for (const auto& p : *rows)
        out << p.transaction_id << "  " << p.status << "  " << p.created_at << "  " << p.subject
            << (p.replaces_serial.empty() ? "" : "  renews " + p.replaces_serial) << "\n";
    out << rows->size() << (all ? " requests\n" : " waiting\n");
    return 0;
}

int rollover(const config::settings& s, bool activate, bool keep_ra, std::ostream& out) {
    load_providers();
    auto r = activate ? activate_rollover(s.pki, s.pki_dir())
                      : prepare_rollover(s.pki, s.pki_dir(), std::chrono::system_clock::now(), keep_ra);
    if (!r) {
        std::cerr << "rollover: " << r.message() << "\n";
        return 1;
    }
    out << *r << "\n";
    if (!activate) out << "Restart the server to offer it with GetNextCACert; `scep-lab rollover --activate` switches to it.\n";
    return 0;
}

int reset_store(const config::settings& s, std::ostream& out) {
    auto store = existing_store(s);
    if (!store) return 1;
    auto n = store->reset();
    if (!n) {
        std::cerr << n.message() << "\n";
        return 1;
    }
    out << "deleted " << *n << " rows (certificates and pending requests); the lab PKI is unchanged\n";
    return 0;
}

int list(const config::settings& s, const std::string& format, const cert_query& q, std::ostream& out) {
    auto store = existing_store(s);
    if (!store) return 1;
    auto page = store->search(q);
    if (!page) {
        std::cerr << page.message() << "\n";
        return 1;
    }
    const std::vector<cert_record>* rows = &page->items;
    if (format == "json") {
        // The admin API's JSON for each row, one array.
        boost::json::array items;
        for (const auto& r : *rows) items.push_back(certificate_json(r));
        out << boost::json::serialize(items) << "\n";
        return 0;
    }
    out << "SERIAL                            STATUS  NOT AFTER             SUBJECT\n";
    for (const auto& r : *rows) {
        std::string serial = r.serial;
        serial.resize(std::max<std::size_t>(serial.size(), 32), ' ');
        std::string status = r.status;
        status.resize(std::max<std::size_t>(status.size(), 6), ' ');
        out << serial << "  " << status << "  " << r.not_after << "  " << r.subject << "\n";
    }
    out << rows->size() << " shown of " << page->total << "\n";
    return 0;
}

int health(const config::settings& s, const std::string& base_url, std::ostream& out) {
    // The HTTP listener, or HTTPS (verified against the lab chain) when HTTP is off.
    const std::string url = base_url.empty() ? configured_base_url(s) : base_url;
    auto parsed = parse_scep_url(url);
    if (!parsed) {
        std::cerr << parsed.message() << "\n";
        return 2;
    }
    if (parsed->tls) {
        // The whole lab chain (issuing CA up to the top tier, whatever the
        // tiers are called: a micromdm-like lab has one named "ca").
        auto chain = s.pki_dir() / "ca-chain.pem";
        if (std::filesystem::exists(chain)) parsed->ca_file = chain.string();
    }
    auto r = http_call(*parsed, "GET", "/healthz", "", "", std::chrono::seconds(3));
    if (!r) {
        std::cerr << "unhealthy: " << r.message() << "\n";
        return 1;
    }
    if (r->status != 200) {
        std::cerr << "unhealthy: HTTP " << r->status << "\n";
        return 1;
    }
    out << "healthy: " << url << "/healthz\n";
    return 0;
}

}  // namespace scep::server
