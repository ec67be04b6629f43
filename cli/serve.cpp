// `scep-lab serve`: assembles the lab from the settings and runs it.
#include "cli/commands.hpp"

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <cctype>
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
#include "pki/crypto/encoding.hpp"
#include "pki/trust/exports.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/scep/service.hpp"
#include "pki/challenge/challenge_webhook.hpp"
#include "pki/ca/server_certs.hpp"
#include "pki/store/store.hpp"
#include <boost/json.hpp>

#include "server/admin_api.hpp"
#include "server/profile_download.hpp"
#include "server/http_server.hpp"
#include "server/iis_log.hpp"
#include "server/logging.hpp"
#include "server/inspector.hpp"
#include "server/metrics.hpp"
#include "server/ndes_admin.hpp"
#include "server/ndes_events.hpp"
#include "server/quirks.hpp"
#include "server/router.hpp"
#include "client/scep_client.hpp"
#include "server/status_page.hpp"

#include "cli/lab.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::cli {

using namespace scep::server;

namespace {

// How often a graceful shutdown looks whether in-flight requests are done.
constexpr auto drain_poll_interval = std::chrono::milliseconds(20);

// The HTTPS listener's certificate and chain (server certificate first).
struct https_identity {
    evp_pkey_ptr key;
    std::vector<x509_ptr> chain;
    std::vector<const X509*> chain_view() const {
        std::vector<const X509*> out;
        for (const auto& c : chain) out.push_back(c.get());
        return out;
    }
    std::vector<x509_ptr> chain_copy() const {
        std::vector<x509_ptr> out;
        for (const auto& c : chain) out.push_back(dup(*c));
        return out;
    }
};

result<https_identity> load_https_identity(const config::settings& s, lab& l, event_log& log) {
    https_identity id;
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
result<void> configure_tls(boost::asio::ssl::context& ctx, const https_identity& id, const std::string& min_version) {
    SSL_CTX* c = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(c, min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION) != 1)
        return make_error(ossl_error("TLS minimum version"));
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    // A lab that reproduces a customer's SHA-1 CA (scep-lab clone) serves its
    // chain too: OpenSSL's default security level refuses SHA-1 signatures in
    // it ("ca md too weak"). Level 0 for this context only; clients still
    // judge the chain themselves.
    for (const auto& cert : id.chain) {
        const auto sig = signature_of(*cert);
        if (sig && sig->digest == "sha1") SSL_CTX_set_security_level(c, 0);
    }
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

// What the settings change about what clients see: said before anything else.
void warn_about_settings(const config::settings& s, event_log& log) {
    if (s.scep.ciphers.allow_single_des) {
        if (legacy_provider_loaded())
            log.warn("single DES requests are accepted (scep.allow_single_des = true): RFC 8894 §2.9 forbids it, "
                     "but micromdm scepclient 2.x and old network gear send nothing else");
        else
            log.warn("single DES is enabled but OpenSSL's legacy provider is not available: DES requests will get "
                     "badAlg");
    }
    for (const auto& d : s.deprecations) log.warn(d);
    if (s.scep.challenge.empty()) log.warn("no challenge password is required: anyone who can connect can enroll");
    for (const auto& q : config::active_quirks(s)) log.warn("quirk active: " + q);
    if (s.lab.clock_offset.count() != 0)
        log.warn("deterministic mode: the lab clock is shifted",
                 {{"clock_offset_s", s.lab.clock_offset.count()}});
    if (!s.lab.serial_seed.empty()) log.warn("deterministic mode: serial numbers follow lab.serial_seed (not random)");
}

// How PKCSReq challenges are checked: NDES one-time passwords, NDES's single
// password (or none), or the static secret.
struct challenges {
    std::optional<one_time_passwords> otp;
    std::optional<static_challenge> fixed;
    std::unique_ptr<challenge_store> store;  // challenge.mode = "api"
    std::optional<api_challenges> api;
    std::unique_ptr<webhook_challenges> hook;    // "webhook"
    std::unique_ptr<ndes_policy_module> policy;  // "ndes-policy"
    challenge_verifier* verifier() {
        if (api) return &*api;
        if (hook) return hook.get();
        if (policy) return policy.get();
        return otp ? static_cast<challenge_verifier*>(&*otp) : fixed ? &*fixed : nullptr;
    }
};

// The webhook's HTTP(S) transport: one POST with one deadline for all of it.
result<webhook_transport> webhook_sender(const config::settings& s) {
    auto url = client::parse_scep_url(s.challenge.webhook_url);
    if (!url) return make_error("challenge.webhook_url " + redact_url(s.challenge.webhook_url) + ": " + url.message());
    if (!s.challenge.webhook_ca_file.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(s.challenge.webhook_ca_file, ec))
            return make_error("challenge.webhook_ca_file " + s.challenge.webhook_ca_file.string() + " is not a file");
        url->ca_file = s.challenge.webhook_ca_file.string();
    }
    url->max_reply_bytes = 64 << 10;  // an answer is a small JSON object
    const auto timeout = s.challenge.webhook_timeout;
    return webhook_transport([target = *url, timeout](const webhook_post& p) -> result<webhook_response> {
        auto r = client::http_request(target, "POST", target.path, p.body, p.headers, timeout);
        if (!r) return r.err();
        return webhook_response{r->status, std::move(r->body)};
    });
}

result<void> make_challenges(const config::settings& s, const clock_fn& clock, event_log& log, challenges& out) {
    if (s.challenge.mode == config::challenge_mode::webhook || s.challenge.mode == config::challenge_mode::ndes_policy) {
        auto send = webhook_sender(s);
        if (!send) return send.err();
        if (s.challenge.mode == config::challenge_mode::ndes_policy) {
            out.policy = std::make_unique<ndes_policy_module>(
                ndes_policy_module::options{s.challenge.webhook_secret, s.challenge.webhook_bearer_token,
                                            s.challenge.policy_get_template, s.challenge.policy_notify},
                std::move(*send), clock, [&log](const std::string& m) { log.warn(m); });
            // NDES loads its policy module at start (Initialize); a module that
            // is not there yet is reported, and each request asks again.
            if (auto init = out.policy->initialize(); !init)
                log.warn("NDES policy module: Initialize failed; requests are refused until it answers",
                         {{"error", init.message()}});
            log.info("challenges decided by an NDES policy module (INDESPolicy over HTTP)",
                     {{"url", redact_url(s.challenge.webhook_url)}, {"get_template", s.challenge.policy_get_template ? "on" : "off"},
                      {"notify", s.challenge.policy_notify ? "on" : "off"}});
            return {};
        }
        webhook_options o;
        o.body = s.challenge.webhook_format == config::webhook_format::step_ca ? webhook_options::format::step_ca
                                                          : webhook_options::format::scep_lab;
        o.secret = s.challenge.webhook_secret;
        o.webhook_id = s.challenge.webhook_id;
        o.bearer_token = s.challenge.webhook_bearer_token;
        auto hook = webhook_challenges::make(std::move(o), std::move(*send), clock);
        if (!hook) return hook.err();
        out.hook = std::move(*hook);
        log.info("challenges decided by a webhook",
                 {{"url", redact_url(s.challenge.webhook_url)}, {"format", std::string(config::name_of(s.challenge.webhook_format, config::webhook_formats))},
                  {"signed", s.challenge.webhook_secret.empty() ? "no" : "yes"}});
        return {};
    }
    if (s.challenge.mode == config::challenge_mode::api) {
        auto store = challenge_store::open(s.challenges_file());
        if (!store) return store.err();
        out.store = std::move(*store);
        out.api.emplace(*out.store, clock);
        return {};
    }
    if (!s.ndes.enabled) return {};  // the service checks scep.challenge itself
    if (s.ndes.password_mode == config::password_mode::dynamic)
        out.otp.emplace(s.ndes.password_validity, s.ndes.password_cache, s.ndes.password_bytes, clock);
    else
        out.fixed.emplace(s.ndes.password_mode == config::password_mode::none ? std::string() : s.scep.challenge);
    return {};
}

// The SCEP paths, with Microsoft's in NDES mode.
std::vector<std::string> scep_paths(const config::settings& s) {
    std::vector<std::string> paths = s.scep_paths;
    if (s.ndes.enabled)
        for (std::string_view p : config::ndes_scep_paths)
            if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.emplace_back(p);
    return paths;
}

// The admin page's thumbprint: of the issuing CA, or of the root (ndes.thumbprint_ca).
std::string admin_page_thumbprint(const config::settings& s, const hierarchy& pki) {
    return ndes_thumbprint(s.ndes.thumbprint_ca == "root" ? pki.root_cert()
                                                          : static_cast<const X509&>(*pki.issuing().cert));
}

void make_ndes(const config::settings& s, const lab& l, challenges& c, event_log& log, std::optional<ndes_frontend>& out) {
    if (!s.ndes.enabled) return;
    out.emplace(s.ndes, c.otp ? &*c.otp : nullptr, s.scep.challenge, admin_page_thumbprint(s, l.pki));
    // The admin page hands out what the challenge mode checks: a single-use
    // challenge from the store (api), or the policy module's GenerateChallenge.
    // Like NDES's password cache (PasswordMax, 5 by default), at most
    // ndes.password_cache unused admin-page challenges live at once: an
    // anonymous visitor cannot fill the challenge store.
    if (c.api)
        out->set_password_source(
            [&api = *c.api, ttl = s.challenge.default_ttl, cap = s.ndes.password_cache,
             mu = std::make_shared<std::mutex>()](const std::string&) -> result<std::optional<std::string>> {
                static const std::string label = "NDES admin page";
                std::lock_guard lock(*mu);  // count and issue as one step
                auto unused = api.unused_with_label(label, cap);
                if (!unused) return unused.err();
                if (*unused >= cap) return std::optional<std::string>();
                auto issued = api.issue(ttl, 1, challenge_bindings{}, label);
                if (!issued) return issued.err();
                return std::optional<std::string>(std::move(issued->secret));
            },
            static_cast<int>(s.challenge.default_ttl.count() / 60));
    if (c.policy)
        out->set_password_source(
            [&policy = *c.policy, name = s.ndes.general_purpose_template](
                const std::string& params) -> result<std::optional<std::string>> {
                auto password = policy.generate_challenge(name, params);
                if (!password) return password.err();
                return std::optional<std::string>(std::move(*password));
            },
            static_cast<int>(s.ndes.password_validity.count() / 60));
    log.info("NDES mode", {{"password_mode", std::string(config::name_of(s.ndes.password_mode, config::password_modes))},
                           {"admin_response", std::string(config::name_of(s.ndes.admin_response, config::admin_page_answers))},
                           {"browse", std::string(config::name_of(s.ndes.browse, config::browse_answers))}});
}

// The admin API's bearer token: from the environment, or the token file
// (created with a random token at the first start and shown once: `shown`).
result<std::string> admin_token(const config::settings& s, event_log& log, std::string& shown) {
    if (!s.admin.token.empty()) return s.admin.token;
    const auto file = s.admin_token_file();
    if (std::filesystem::exists(file)) {
        auto stored = stored_admin_token(s);
        if (!stored) return stored.err();
        std::string token = std::move(*stored);
        if (token.size() < config::min_admin_token_length)
            return make_error("admin token file " + file.string() + " holds fewer than " +
                              std::to_string(config::min_admin_token_length) +
                              " characters; delete it to get a new one");
        return token;
    }
    std::string token = make_admin_token();
    if (auto w = write_file(file, token + "\n", true); !w) return make_error("admin token: " + w.message());
    log.info("created the admin API token", {{"file", file.string()}});
    shown = token;
    return token;
}

// Every connection is a file descriptor: make room for max_connections.
void raise_open_file_limit(const config::settings& s, event_log& log) {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = static_cast<rlim_t>(s.server.max_connections) + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = std::min(want, rl.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want)
        log.warn("the open-file limit (" + std::to_string(rl.rlim_cur) + ") is below server.max_connections + 256; "
                 "raise it (ulimit -n) or lower max_connections");
}

// Apple profiles: built per download (a fresh NDES password each time), the
// challenge only for those who could read it elsewhere.
router::profile_source profile_downloads(const config::settings& s, lab& l, const scep_service& service, challenges& c,
                                         const admin_api* admin, const ndes_frontend* ndes,
                                         std::vector<const X509*> tls_chain) {
    auto once = std::make_shared<std::mutex>();  // the first signed download issues the signer once
    return [&s, &l, &service, &c, admin, ndes, tls_chain = std::move(tls_chain), once](router::profile_call& call) -> result<exported> {
        std::lock_guard lock(*once);
        auto req = profile_request_from_query(call.query);
        if (!req) return req.err();
        req->may_see_challenge = (admin && admin->accepts(call.req, call.client)) || (ndes && ndes->has_login(call.req));
        // The service's PKI: after a live rollover, the new CA.
        profile_sources src{s, service.pki(), *l.store, tls_chain, c.otp ? &*c.otp : nullptr};
        return make_apple_profile(src, std::move(*req), call.base_url, &call.note);
    };
}

// The status page at "/": the challenge is shown when it is the lab default.
router::status_source status_page(const config::settings& s, lab& l, const scep_service& service,
                                  const challenge_store* challenges, bool admin_on, transaction_store* transactions,
                                  const prompt_board* prompts) {
    return [&s, &l, &service, challenges, admin_on, transactions, prompts](const std::string& base_url) {
        status_inputs in{.pki = service.pki(), .store = *l.store, .base_url = base_url, .scep_path = s.scep_paths.front(),
                         .ndes_path = {}, .challenge = {}, .challenge_note = {}, .https = s.https.enabled,
                         .admin = admin_on, .transactions = s.inspector.enabled};
        if (s.ndes.enabled) in.ndes_path = std::string(config::ndes_scep_paths.front());
        in.challenges = challenges;
        in.transaction_log = transactions;
        if (auto p = prompts ? prompts->get() : std::nullopt) in.prompt = std::make_pair(p->title, p->text);
        if (challenges)
            in.challenge_note = "one-time challenges from the admin API (scep-lab challenge add)";
        else if (s.challenge.mode == config::challenge_mode::webhook)
            in.challenge_note = "decided by a webhook (challenge.webhook_url)";
        else if (s.challenge.mode == config::challenge_mode::ndes_policy)
            in.challenge_note = "decided by an NDES policy module (challenge.webhook_url)";
        else if (s.ndes.enabled && (s.ndes.password_mode == config::password_mode::dynamic))
            in.challenge_note = "one-time passwords from the NDES admin page";
        else if (s.ndes.enabled && s.ndes.password_mode == config::password_mode::none)
            in.challenge_note = "none required";
        else if (s.scep.challenge == config::default_challenge)
            in.challenge = s.scep.challenge;
        else
            in.challenge_note = s.scep.challenge.empty() ? "none required" : "set by configuration (not shown)";
        return render_status_page(in);
    };
}

// The addresses the listeners got (port 0 picks one).
struct addresses {
    std::string base, https_base;  // "http://127.0.0.1:8080", "https://..."; empty when off
    std::uint16_t http_port = 0, https_port = 0;
};

// The listeners, bound before anything is written: a busy port or an address
// this machine does not have fails the start with the data directory untouched.
struct early_listeners {
    std::optional<tcp::acceptor> plain, secure;
    addresses at;
};

result<void> bind_all(const config::settings& s, boost::asio::io_context& ioc, early_listeners& out) {
    if (s.server.http) {
        auto bound = bind_listener(ioc, s.server.listen, s.server.port);
        if (!bound) return make_error(bound.message() + " (server.port; --port 0 picks a free port)");
        out.at.http_port = bound->local_endpoint().port();
        out.at.base = "http://" + display_host(s.server.listen) + ":" + std::to_string(out.at.http_port);
        out.plain.emplace(std::move(*bound));
    }
    if (s.https.enabled) {
        auto bound = bind_listener(ioc, s.https_listen(), s.https.port);
        if (!bound)
            return make_error(bound.message() +
                              " (https.port; --https-port 0 picks a free port, --no-https turns HTTPS off)");
        out.at.https_port = bound->local_endpoint().port();
        out.at.https_base = "https://" + display_host(s.https_listen()) + ":" + std::to_string(out.at.https_port);
        out.secure.emplace(std::move(*bound));
    }
    return {};
}

result<void> adopt_all(early_listeners& early, std::optional<http_server>& plain, std::optional<http_server>& secure) {
    if (plain && early.plain)
        if (auto ep = plain->adopt(std::move(*early.plain)); !ep) return ep.err();
    if (secure && early.secure)
        if (auto ep = secure->adopt(std::move(*early.secure)); !ep) return ep.err();
    return {};
}

// Where the admin API's token is. A token made now is shown only to a
// terminal: a log collector (docker logs, a CI log) gets where to read it.
std::string admin_line(const config::settings& s, const std::string& new_admin_token) {
    if (!s.admin.enabled) return {};
    if (!s.admin.token.empty()) return "  admin      token from SCEP_LAB_ADMIN_TOKEN\n";
    const std::string file = s.admin_token_file().string();
    if (!new_admin_token.empty() && ::isatty(STDOUT_FILENO))
        return "  admin      token " + new_admin_token + " (shown once; kept in " + file +
               "; `scep-lab admin-token` prints it)\n";
    return "  admin      token in " + file + " (`scep-lab admin-token` prints it)\n";
}

// The banner is for the person at the terminal; the log never carries the
// challenge. A non-default challenge is the user's own and not echoed.
void print_banner(const config::settings& s, const lab& l, const addresses& a, const std::string& new_admin_token) {
    const std::string base = a.base.empty() ? a.https_base : a.base;
    const std::string scep_url = base + s.scep_paths.front();
    const std::string ndes_url = base + std::string(config::ndes_scep_paths.front());
    const bool dynamic = s.ndes.enabled && s.ndes.password_mode == config::password_mode::dynamic;
    std::string challenge_line = s.scep.challenge == config::default_challenge ? s.scep.challenge
                                 : s.scep.challenge.empty()                     ? "(none required)"
                                                                                : "(set by configuration)";
    if (dynamic) challenge_line = "one-time passwords from " + base + std::string(config::ndes_admin_path);
    if (s.ndes.enabled && s.ndes.password_mode == config::password_mode::none) challenge_line = "(none required: ndes.password_mode = none)";
    const std::string try_challenge = dynamic ? "<password from the admin page>"
                                      : s.scep.challenge == config::default_challenge ? s.scep.challenge
                                                                                      : "<your challenge>";
    std::cout << "scep-lab ready\n"
              << "  SCEP URL   " << scep_url << "\n"
              << (a.https_base.empty() || a.base.empty() ? std::string()
                                                          : "  HTTPS      " + a.https_base + s.scep_paths.front() + "\n")
              << "  challenge  " << challenge_line << "\n"
              << "  CA chain   " << l.pki.chain_file().string() << "\n"
              << "  root CA    " << l.pki.tiers().front().cert_file.string() << "\n"
              << "  store      " << s.store_file().string() << "\n"
              << (s.ndes.enabled ? "  NDES       " + ndes_url + "  admin " + base + "/certsrv/mscep_admin/ (" +
                                       std::string(config::name_of(s.ndes.password_mode, config::password_modes)) +
                                       " passwords)\n"
                                 : std::string())
              << admin_line(s, new_admin_token)
              << "  try        mkdir dev1 && scepclient -server-url " << (s.ndes.enabled ? ndes_url : scep_url)
              << " -challenge " << try_challenge << " -private-key dev1/key.pem -certificate dev1/cert.pem\n"
              << std::flush;
}

// The ready file: what CI waits for (URLs, ports, chain, pid).
result<void> write_ready_file(const config::settings& s, const lab& l, const addresses& a) {
    const std::string base = a.base.empty() ? a.https_base : a.base;
    boost::json::object ready{{"url", base + s.scep_paths.front()},
                              {"base_url", base},
                              {"port", a.http_port ? a.http_port : a.https_port}};
    if (!a.https_base.empty()) {
        ready["https_url"] = a.https_base + s.scep_paths.front();
        ready["https_base_url"] = a.https_base;
        ready["https_port"] = a.https_port;
    }
    ready["ca_chain"] = std::filesystem::absolute(l.pki.chain_file()).string();
    ready["pid"] = ::getpid();
    if (s.ndes.enabled) ready["ndes_url"] = base + std::string(config::ndes_scep_paths.front());
    if (s.admin.enabled && s.admin.token.empty())
        ready["admin_token_file"] = std::filesystem::absolute(s.admin_token_file()).string();
    return write_file(s.server.ready_file, scep::json_text(ready) + "\n", false);
}

// A value for a KEY=value line that `source`, $GITHUB_ENV, GitLab's dotenv and
// `docker run --env-file` all read the same: written as it is when it holds
// nothing a shell would interpret, in single quotes otherwise (then only
// `source` reads it right; docs/ci.md says so). Line breaks cannot be written.
result<std::string> env_value(const std::string& key, const std::string& v) {
    if (v.find_first_of("\r\n") != std::string::npos || v.find('\0') != std::string::npos)
        return make_error(key + " holds a line break: it cannot go into an env file");
    const bool plain = std::all_of(v.begin(), v.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-:,@+%=[]").find(c) != std::string_view::npos;
    });
    if (plain) return v;
    std::string quoted = "'";
    for (char c : v) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

// The env file (server.env_file): everything a CI job needs to enroll against
// this instance, from the settings in force, written once the server is ready.
result<void> write_env_file(const config::settings& s, const lab& l, const addresses& a, const std::string& admin_token) {
    namespace fs = std::filesystem;
    const std::string base = a.base.empty() ? a.https_base : a.base;
    std::vector<std::pair<std::string, std::string>> v;
    v.emplace_back("SCEP_LAB_URL", base + s.scep_paths.front());
    v.emplace_back("SCEP_LAB_BASE_URL", base);
    if (!a.https_base.empty()) v.emplace_back("SCEP_LAB_HTTPS_URL", a.https_base + s.scep_paths.front());
    if (s.ndes.enabled) {
        v.emplace_back("SCEP_LAB_NDES_URL", base + std::string(config::ndes_scep_paths.front()));
        v.emplace_back("SCEP_LAB_NDES_ADMIN_URL", base + std::string(config::ndes_admin_path));
    }
    // How a client gets its challenge: the value itself when there is one.
    std::string mode;
    if (s.challenge.mode == config::challenge_mode::api) mode = "api";
    else if (s.challenge.mode == config::challenge_mode::webhook) mode = "webhook";
    else if (s.challenge.mode == config::challenge_mode::ndes_policy) mode = "ndes-policy";
    else if (s.ndes.enabled && s.ndes.password_mode == config::password_mode::dynamic) mode = "ndes-admin-page";
    else if (s.ndes.enabled && s.ndes.password_mode == config::password_mode::none) mode = "none";
    else mode = s.scep.challenge.empty() ? "none" : "static";
    v.emplace_back("SCEP_LAB_CHALLENGE_MODE", mode);
    if (mode == "static") v.emplace_back("SCEP_LAB_CHALLENGE", s.scep.challenge);
    v.emplace_back("SCEP_LAB_CA_CHAIN", fs::absolute(l.pki.chain_file()).string());
    v.emplace_back("SCEP_LAB_ROOT_CA", fs::absolute(l.pki.tiers().front().cert_file).string());
    if (!admin_token.empty()) {
        v.emplace_back("SCEP_LAB_ADMIN_URL", base + "/admin/api");
        v.emplace_back("SCEP_LAB_ADMIN_TOKEN", admin_token);
    }
    v.emplace_back("SCEP_LAB_DATA_DIR", fs::absolute(s.data_dir).string());
    v.emplace_back("SCEP_LAB_READY_URL", base + "/readyz");
    v.emplace_back("SCEP_LAB_PID", std::to_string(::getpid()));
    // No comment lines: $GITHUB_ENV refuses a line without "=".
    v.emplace_back("SCEP_LAB_VERSION", SCEP_LAB_VERSION);
    std::string text;
    for (const auto& [key, value] : v) {
        auto written = env_value(key, value);
        if (!written) return written.err();
        text += key + "=" + *written + "\n";
    }
    return write_file(s.server.env_file, text, true);  // the token and challenge: owner only
}

// Runs until SIGINT/SIGTERM, then shuts down gracefully: stop accepting,
// answer /readyz 503, let every request already read finish (up to
// server.shutdown_timeout), then stop. Idle keep-alive connections close.
void run_until_signalled(const config::settings& s, boost::asio::io_context& ioc, router& r,
                         std::optional<http_server>& plain, std::optional<http_server>& secure, event_log& log) {
    auto in_flight = [&] { return (plain ? plain->in_flight() : 0) + (secure ? secure->in_flight() : 0); };
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    boost::asio::steady_timer drain_timer(ioc);
    std::chrono::steady_clock::time_point drain_deadline;
    std::function<void()> drain = [&] {
        const auto left = in_flight();
        if (left == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
            if (left > 0) log.warn("shutdown timeout: requests still in flight", {{"in_flight", left}});
            ioc.stop();
            return;
        }
        drain_timer.expires_after(drain_poll_interval);
        drain_timer.async_wait([&](const boost::system::error_code&) { drain(); });
    };
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        log.info("stopping", {{"signal", sig}, {"in_flight", in_flight()}});
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
    log.info("stopped", {{"in_flight", in_flight()}});
}

int cannot_start(event_log& log, const std::string& why) {
    log.error("cannot start", {{"error", why}});
    return 1;
}

}  // namespace

int serve(const config::settings& configured) {
    // "${lab}" in a clone's CDP and AIA URLs becomes the address this server
    // really listens on (port 0 is known once bound, below).
    config::settings s = configured;
    event_log log(s.log.format, s.log.level);
    const auto started = std::chrono::steady_clock::now();
    // Before the warnings: whether single DES works depends on the legacy provider.
    load_providers();
    warn_about_settings(s, log);

    // Checks that write nothing come first: the listeners and the fault rules.
    boost::asio::io_context binding;  // owns the listeners until the servers take them
    early_listeners early;
    if (auto bound = bind_all(s, binding, early); !bound) return cannot_start(log, bound.message());
    if (s.crl_base_url.empty()) s.pki.lab_url = early.at.base.empty() ? early.at.https_base : early.at.base;
    fault_plan faults;
    for (const auto& rule : s.faults) {
        auto id = faults.add(rule);
        if (!id) return cannot_start(log, "[[faults]]: " + id.message());
        log.warn("fault armed from the configuration", {{"id", *id}, {"kind", std::string(info(rule.kind).name)}});
    }
    // Then the data directory, one instance at a time.
    auto locked = data_dir_lock::take(s.data_dir);
    if (!locked) return cannot_start(log, locked.message());
    auto opened = open_lab(s, log);
    if (!opened) return cannot_start(log, opened.message());
    lab& l = *opened;
    if (s.quirks.expired_ra)
        if (auto r = l.pki.expire_ra(std::chrono::system_clock::now()); !r) return cannot_start(log, r.message());

    // Issuance and the SCEP service.
    const clock_fn clock = config::lab_clock(s);
    issuer iss(l.pki, s.issuance, s.csr, clock);
    if (!s.lab.serial_seed.empty())
        if (auto n = l.store->count()) iss.set_serial_seed(s.lab.serial_seed, static_cast<std::uint64_t>(*n));
    challenges challenge;
    if (auto made = make_challenges(s, clock, log, challenge); !made) return cannot_start(log, made.message());
    if (challenge.api) log.info("challenges from the admin API", {{"store", s.challenges_file().string()}});
    const service_config scfg = config::service_settings(s);
    if (scfg.templates)
        log.info("NDES templates", {{"signature", scfg.templates->signature.name},
                                    {"encryption", scfg.templates->encryption.name},
                                    {"general_purpose", scfg.templates->general_purpose.name}});
    if (scfg.approval.mode == approval_mode::manual) log.info("manual approval: every request waits for `scep-lab pending approve <txid>`");
    scep_service service(l.pki, iss, *l.store, scfg, clock, challenge.verifier());
    // Fault rules: [[faults]] (armed above), the admin API and `scep-lab fault` (docs/faults.md).
    service.set_faults(&faults);

    // The HTTP side: NDES front end, quirks, admin API, TLS identity, router.
    std::optional<ndes_frontend> ndes;
    make_ndes(s, l, challenge, log, ndes);
    if (!s.ndes.enabled && s.ndes.event_log) log.warn("ndes.event_log is set but NDES mode is off: no events are written");
    std::unique_ptr<ndes_event_log> ndes_events;
    if (s.ndes.enabled && s.ndes.event_log) {
        auto opened = ndes_event_log::open(s.ndes_events_file(), log);
        if (!opened) return cannot_start(log, opened.message());
        ndes_events = std::move(*opened);
        log.info("NDES events are written", {{"file", s.ndes_events_file().string()}});
    }
    quirk_gate quirks(s.quirks);
    std::optional<admin_api> admin;
    prompt_board prompts;  // conformance --manual's prompt, on the status page
    std::string new_admin_token, admin_token_in_force;
    if (s.admin.enabled) {
        auto token = admin_token(s, log, new_admin_token);
        if (!token) return cannot_start(log, token.message());
        admin_token_in_force = *token;
        admin.emplace(*l.store, admin_settings_view{*token, s.admin.allow_remote, config::to_toml(s, false)});
        admin->set_faults(&faults);
        admin->set_prompts(&prompts);
        if (challenge.api) admin->set_challenges(&*challenge.api, s.challenge.default_ttl);
    }
    std::optional<https_identity> identity;
    if (s.https.enabled) {
        auto id = load_https_identity(s, l, log);
        if (!id) return cannot_start(log, id.message());
        identity.emplace(std::move(*id));
    }
    if (!s.log.capture_dir.empty()) {
        // Captures hold requests with their encrypted challenges: a directory
        // the server makes is the owner's alone (0700, whatever the umask).
        std::error_code ec;
        const std::filesystem::path dir(s.log.capture_dir);
        const bool existed = std::filesystem::exists(std::filesystem::symlink_status(dir, ec));
        if (!existed) {
            if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
            if (!ec && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
                ec = std::error_code(errno, std::generic_category());
            if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
        }
        if (ec) return cannot_start(log, "log.capture_dir " + s.log.capture_dir + ": " + ec.message());
        if (!std::filesystem::is_directory(std::filesystem::symlink_status(dir)))
            return cannot_start(log, "log.capture_dir " + s.log.capture_dir + " is not a directory (a link is not followed)");
        using std::filesystem::perms;
        if (existed && (std::filesystem::status(dir).permissions() & (perms::group_write | perms::others_write)) != perms::none)
            log.warn("log.capture_dir " + s.log.capture_dir +
                     " is writable by other users: captures are written without following links, but others can "
                     "read what they find there; chmod 700 it");
        log.warn("capturing every PKIOperation request and reply in " + s.log.capture_dir);
    }
    // log.iis_dir: the log IIS would write (docs/evidence.md).
    std::unique_ptr<iis_access_log> iis_log;
    if (!s.log.iis_dir.empty()) {
        auto opened = iis_access_log::open(s.log.iis_dir);
        if (!opened) return cannot_start(log, opened.message());
        iis_log = std::move(*opened);
        log.info("IIS log", {{"dir", s.log.iis_dir}});
    }
    // Declared before the io_context: sessions still queued in it when it is
    // destroyed at the end refer to the metrics, the router and the TLS context.
    metrics stats;
    std::unique_ptr<transaction_store> transactions;
    std::optional<inspector> inspect;
    if (s.inspector.enabled) {
        auto opened_log = open_sqlite_transactions(s.transactions_file());
        if (!opened_log) return cannot_start(log, opened_log.message());
        transactions = std::move(*opened_log);
        const bool challenge_required =
            s.ndes.enabled ? s.ndes.password_mode != config::password_mode::none : !s.scep.challenge.empty();
        inspect.emplace(*transactions, service,
                        inspector_config{s.inspector.retention, s.inspector.max_der_bytes, s.csr.min_rsa_bits,
                                         s.csr.min_ec_bits, challenge_required},
                        &stats, [&log](const std::string& m) { log.warn(m); });
        if (admin) admin->set_inspector(&*inspect);
    }
    router r(router_parts{.service = service,
                          .scep_paths = scep_paths(s),
                          .ndes = ndes ? &*ndes : nullptr,
                          .quirks = &quirks,
                          .stats = &stats,
                          .admin = admin ? &*admin : nullptr,
                          .inspect = inspect ? &*inspect : nullptr,
                          .faults = &faults,
                          .profiles = profile_downloads(s, l, service, challenge, admin ? &*admin : nullptr,
                                                        ndes ? &*ndes : nullptr, identity ? identity->chain_view() : std::vector<const X509*>{}),
                          .status_page = status_page(s, l, service, challenge.store.get(), admin.has_value(), transactions.get(),
                                                     &prompts),
                          .tls_chain = identity ? identity->chain_copy() : std::vector<x509_ptr>{},
                          .capture_dir = s.log.capture_dir,
                          .ndes_events = ndes_events.get(),
                          .header_server = s.server.header_server,
                          .header_powered_by = s.server.header_powered_by,
                          .ca_paths = [&] {
                              std::map<std::string, std::pair<std::string, bool>> out;
                              for (const auto& t : s.pki.tiers) {
                                  for (const auto& p : t.crl_paths) out[p] = {t.name, true};
                                  for (const auto& p : t.cert_paths) out[p] = {t.name, false};
                              }
                              return out;
                          }()});
    // Live rollover (POST /admin/api/rollover, `scep-lab ca rollover --live`):
    // the same files `scep-lab ca rollover` writes, then the PKI is loaded again
    // and swapped in; requests already running finish with the old one.
    std::mutex rollover_mu;
    if (admin)
        admin->set_rollover([&](bool activate, bool keep_ra) -> result<boost::json::object> {
            std::lock_guard lock(rollover_mu);
            const auto now = std::chrono::system_clock::now();
            auto done = activate ? activate_rollover(s.pki, s.pki_dir()) : prepare_rollover(s.pki, s.pki_dir(), now, keep_ra);
            if (!done) return done.err();
            auto reopened = hierarchy::open(s.pki, s.pki_dir(), now, [&log](const std::string& m) { log.info(m); });
            if (!reopened)
                return make_error("the rollover is on disk, but the PKI does not load (" + reopened.message() +
                                  "); the server keeps answering with the PKI it had");
            if (s.quirks.expired_ra)
                if (auto r = reopened->expire_ra(now); !r) return r.err();
            service.install_pki(std::make_unique<hierarchy>(std::move(*reopened)));
            if (inspect) inspect->refresh_lab(service);
            if (ndes) ndes->set_thumbprint(admin_page_thumbprint(s, service.pki()));
            const hierarchy& now_pki = service.pki();
            boost::json::object out{{"message", *done},
                                    {"issuing_serial", serial_hex(*now_pki.issuing().cert)},
                                    {"ra_serial", serial_hex(now_pki.ra_cert())}};
            if (const ca_entry* next = now_pki.next_issuing()) out["next_serial"] = serial_hex(*next->cert);
            log.info(activate ? "live rollover: the next CA is now the issuing CA" : "live rollover: next CA prepared",
                     {{"issuing_serial", serial_hex(*now_pki.issuing().cert)},
                      {"next_serial", now_pki.next_issuing() ? serial_hex(*now_pki.next_issuing()->cert) : "-"}});
            return out;
        });
    boost::asio::ssl::context tls_ctx{boost::asio::ssl::context::tls_server};
    if (identity)
        if (auto ok = configure_tls(tls_ctx, *identity, s.https.min_version); !ok) return cannot_start(log, ok.message());

    // Listeners: HTTP and HTTPS, one router, one set of metrics.
    raise_open_file_limit(s, log);
    boost::asio::io_context ioc;
    const http_limits limits{s.server.max_body_bytes, s.server.max_header_bytes, s.server.read_timeout,
                             s.server.idle_timeout, s.server.max_connections};
    std::optional<http_server> plain, secure;
    if (s.server.http) plain.emplace(ioc, r, log, limits, nullptr, &stats, iis_log.get());
    if (identity) secure.emplace(ioc, r, log, limits, &tls_ctx, &stats, iis_log.get());
    const addresses at = early.at;
    if (auto ok = adopt_all(early, plain, secure); !ok) return cannot_start(log, ok.message());
    if (identity)
        log.info("HTTPS", {{"url", at.https_base},
                           {"certificate", s.https_cert_file().string()},
                           {"names", subject_alt_names(*identity->chain.front())},
                           {"min_version", "TLS " + s.https.min_version}});
    // Known only now (port 0 picks one), set before the first request is
    // accepted. Relying parties fetch CRLs over plain HTTP when it runs
    // (RFC 5280 §4.2.1.13).
    const std::string base = at.base.empty() ? at.https_base : at.base;
    iss.set_crl_url((s.crl_base_url.empty() ? base : s.crl_base_url) + crl_path(l.pki.issuing().name));
    if (plain) plain->start();
    if (secure) secure->start();

    fields ready{{"url", base + s.scep_paths.front()},
                 {"listen", s.server.http ? s.server.listen + ":" + std::to_string(at.http_port) : "-"},
                 {"https", at.https_base.empty() ? std::string("off") : at.https_base},
                 {"ca_chain", l.pki.chain_file().string()},
                 {"store", s.store_file().string()}};
    if (s.ndes.enabled) {
        ready.emplace_back("ndes_url", base + std::string(config::ndes_scep_paths.front()));
        ready.emplace_back("ndes_admin_url", base + std::string(config::ndes_admin_path));
    }
    if (admin && s.admin.token.empty()) ready.emplace_back("admin_token_file", s.admin_token_file().string());
    ready.emplace_back("startup_ms",
                       std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
    log.info("ready", ready);
    // In JSON mode the "ready" record above is the banner: nothing else is
    // written that a log collector would have to parse.
    if (!log.json()) print_banner(s, l, at, new_admin_token);
    if (!s.server.ready_file.empty())
        if (auto w = write_ready_file(s, l, at); !w) log.warn("cannot write ready file", {{"error", w.message()}});
    if (!s.server.env_file.empty()) {
        // A CI job that sources a wrong file fails later and obscurely: stop now.
        if (auto w = write_env_file(s, l, at, admin_token_in_force); !w) {
            if (plain) plain->stop();
            if (secure) secure->stop();
            return cannot_start(log, "server.env_file " + s.server.env_file + ": " + w.message());
        }
    }
    run_until_signalled(s, ioc, r, plain, secure, log);
    if (!s.server.env_file.empty()) {
        std::error_code ignored;
        std::filesystem::remove(s.server.env_file, ignored);
    }
    if (challenge.policy) challenge.policy->uninitialize();
    return 0;
}

}  // namespace scep::cli
