#include "server/app.hpp"

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <iostream>
#include <thread>

#include <sys/resource.h>

#include "pki/crl.hpp"
#include "pki/exports.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuer.hpp"
#include "pki/scep_service.hpp"
#include "pki/store.hpp"
#include "server/http_server.hpp"
#include "server/logging.hpp"
#include "server/ndes_admin.hpp"
#include "server/quirks.hpp"
#include "server/router.hpp"
#include "server/scep_client.hpp"

namespace scep::server {

namespace {

struct lab {
    hierarchy pki;
    std::unique_ptr<cert_store> store;
};

result<lab> open_lab(const config::settings& s, event_log& log) {
    load_providers();
    auto pki = hierarchy::open(s.pki, s.pki_dir(), std::chrono::system_clock::now(),
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

    issuer iss(l.pki, s.issuance, s.csr, system_clock_fn());
    // NDES mode decides how challenges are checked; otherwise the static secret.
    std::optional<one_time_passwords> otp;
    std::optional<static_challenge> fixed;
    challenge_verifier* verifier = nullptr;
    std::vector<std::string> paths = s.scep_paths;
    std::optional<ndes_frontend> ndes;
    if (s.ndes.enabled) {
        if (s.ndes.password_mode == "dynamic") {
            otp.emplace(s.ndes.password_validity, s.ndes.password_cache, s.ndes.password_bytes, system_clock_fn());
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
    scep_service service(l.pki, iss, *l.store, scfg, system_clock_fn(), verifier);
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
    boost::asio::io_context ioc;
    http_limits limits{s.server.max_body_bytes, s.server.max_header_bytes, s.server.read_timeout,
                       s.server.idle_timeout, s.server.max_connections};
    http_server server(ioc, r, log, limits);
    auto ep = server.listen(s.server.listen, s.server.port);
    if (!ep) {
        log.error("cannot start", {{"error", ep.message()}});
        return 1;
    }
    std::string base = "http://" + display_host(s.server.listen) + ":" + std::to_string(ep->port());
    // Known only now (port 0 picks one); set before the first request is accepted.
    iss.set_crl_url((s.crl_base_url.empty() ? base : s.crl_base_url) + "/crl/" + l.pki.issuing().name + ".crl");
    server.start();

    std::string scep_url = base + s.scep_paths.front();
    auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    log.info("ready", {{"url", scep_url},
                       {"listen", ep->address().to_string() + ":" + std::to_string(ep->port())},
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
              << "  challenge  " << challenge_line << "\n"
              << "  CA chain   " << l.pki.chain_file().string() << "\n"
              << "  root CA    " << l.pki.tiers().front().cert_file.string() << "\n"
              << "  store      " << s.store_file().string() << "\n"
              << (s.ndes.enabled ? "  NDES       " + ndes_url + "  admin " + base + "/certsrv/mscep_admin/ (" +
                                       s.ndes.password_mode + " passwords)\n"
                                 : std::string())
              << "  try        mkdir dev1 && scepclient -server-url " << (s.ndes.enabled ? ndes_url : scep_url)
              << " -challenge " << try_challenge << " -private-key dev1/key.pem -certificate dev1/cert.pem\n"
              << std::flush;

    if (!s.server.ready_file.empty()) {
        std::string json = "{\"url\":\"" + json_escape(scep_url) + "\",\"base_url\":\"" + json_escape(base) +
                           "\",\"port\":" + std::to_string(ep->port()) + ",\"ca_chain\":\"" +
                           json_escape(std::filesystem::absolute(l.pki.chain_file()).string()) + "\",\"pid\":" +
                           std::to_string(::getpid()) +
                           (s.ndes.enabled ? ",\"ndes_url\":\"" + json_escape(ndes_url) + "\"" : std::string()) + "}\n";
        if (auto w = write_file(s.server.ready_file, json, false); !w)
            log.warn("cannot write ready file", {{"error", w.message()}});
    }

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        log.info("stopping", {{"signal", std::to_string(sig)}});
        server.stop();
        // Requests in flight get a moment to finish; SQLite commits are atomic,
        // so nothing stored can be half-written either way.
        auto timer = std::make_shared<boost::asio::steady_timer>(ioc, std::chrono::seconds(2));
        timer->async_wait([&ioc, timer](const boost::system::error_code&) { ioc.stop(); });
    });

    unsigned threads = s.server.threads ? s.server.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    log.info("stopped");
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
    auto code = crl_reason_from_name(reason);
    if (!code) {
        std::cerr << "unknown reason \"" << reason << "\" (unspecified, keyCompromise, cACompromise, "
                  << "affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, "
                  << "aACompromise)\n";
        return 2;
    }
    // Any spelling: "07:04:b5", "704B5" (openssl drops the leading zero).
    const std::string serial = normalize_serial(serial_in);
    auto store = existing_store(s);
    if (!store) return 1;
    auto r = store->revoke(serial, *code, now_iso8601());
    if (!r) {
        std::cerr << r.message() << "\n";
        return 1;
    }
    switch (*r) {
        case revoke_outcome::revoked: out << "revoked " << serial << " (" << reason << ")\n"; return 0;
        case revoke_outcome::already_revoked: out << serial << " was already revoked\n"; return 0;
        case revoke_outcome::not_found: std::cerr << "no certificate with serial " << serial << "\n"; return 1;
    }
    return 1;
}

int export_file(const config::settings& s, const std::string& what, const std::string& format,
                const std::string& out_file, std::ostream& out) {
    event_log log(s.log.format, "warn");
    result<exported> found = make_error("unset");
    if (what.rfind("cert:", 0) == 0) {
        auto store = existing_store(s);
        if (!store) return 1;
        found = export_certificate(*store, what.substr(5), format);
    } else {
        load_providers();
        auto pki = hierarchy::open(s.pki, s.pki_dir(), std::chrono::system_clock::now(), [](const std::string&) {});
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

int list(const config::settings& s, const std::string& format, std::size_t limit, std::ostream& out) {
    auto store = existing_store(s);
    if (!store) return 1;
    auto rows = store->list(limit, 0);
    if (!rows) {
        std::cerr << rows.message() << "\n";
        return 1;
    }
    if (format == "json") {
        out << "[";
        for (std::size_t i = 0; i < rows->size(); ++i) {
            const auto& r = (*rows)[i];
            out << (i ? ",\n " : "") << "{\"serial\":\"" << r.serial << "\",\"subject\":\"" << json_escape(r.subject)
                << "\",\"sans\":\"" << json_escape(r.sans) << "\",\"issuer\":\"" << json_escape(r.issuer)
                << "\",\"not_before\":\"" << r.not_before << "\",\"not_after\":\"" << r.not_after
                << "\",\"transaction_id\":\"" << json_escape(r.transaction_id) << "\",\"requester\":\""
                << json_escape(r.requester) << "\",\"status\":\"" << r.status << "\",\"created_at\":\""
                << r.created_at << "\"}";
        }
        out << "]\n";
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
    auto total = store->count();
    out << rows->size() << " shown";
    if (total) out << " of " << *total;
    out << "\n";
    return 0;
}

int health(const config::settings& s, const std::string& base_url, std::ostream& out) {
    std::string url = base_url.empty()
                          ? "http://" + display_host(s.server.listen) + ":" + std::to_string(s.server.port)
                          : base_url;
    auto parsed = parse_scep_url(url);
    if (!parsed) {
        std::cerr << parsed.message() << "\n";
        return 2;
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
