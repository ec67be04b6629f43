// The commands that work on the lab's files: init, list, revoke, export,
// issue, profile, pending/approve/reject, rollover, reset, seed, health.
#include "cli/commands.hpp"

#include <fstream>

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

#include "pki/crypto/encoding.hpp"
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
#include "client/admin_client.hpp"
#include "client/scep_client.hpp"
#include "server/status_page.hpp"

#include "cli/lab.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::cli {

using namespace scep::server;
using namespace scep::client;

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
    auto locked = data_dir_lock::take(s.data_dir);
    if (!locked) {
        log.error("init failed", {{"error", locked.message()}});
        return 1;
    }
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
    event_log log(s.log.format, config::log_level::warn);
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
    event_log log(s.log.format, config::log_level::warn);
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
        spec.crl_url = s.crl_base_url + crl_path(opened->pki.issuing().name);
    else if (s.server.http && s.server.port != 0)
        spec.crl_url = "http://" + display_host(s.server.listen) + ":" + std::to_string(s.server.port) +
                       crl_path(opened->pki.issuing().name);
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
    event_log log(s.log.format, config::log_level::warn);
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
        out << scep::json_text(items) << "\n";
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

int show_certificate(const config::settings& s, const std::string& serial, const std::string& format,
                     std::ostream& out) {
    const std::string wanted = normalize_serial(serial);
    // As GET /admin/api/certificates/<serial> checks it, before the store is opened.
    if (wanted.empty() || wanted.size() > 40 || wanted.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
        std::cerr << "scep-lab cert show: \"" << printable_text(serial, 64, '?')
                  << "\" is not a serial number in hex\n";
        return 2;
    }
    auto store = existing_store(s);
    if (!store) return 1;
    auto row = store->find_by_serial(wanted);
    if (!row) {
        std::cerr << row.message() << "\n";
        return 1;
    }
    if (!*row) {
        std::cerr << "scep-lab cert show: no certificate with serial " << wanted << "\n";
        return 1;
    }
    // What GET /admin/api/certificates/<serial> answers.
    auto o = certificate_json(**row);
    auto cert = x509_from_der((*row)->der);
    if (cert) o["pem"] = x509_to_pem(**cert);
    if (format == "json") {
        out << scep::json_text(o) << "\n";
        return 0;
    }
    for (const auto& [k, v] : o) {
        if (k == "pem") continue;
        out << std::string(k) << ": " << (v.is_string() ? std::string(v.as_string()) : scep::json_text(v)) << "\n";
    }
    if (cert) out << x509_to_pem(**cert);
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

namespace {

// The running server's admin API: its address (as `health` finds it) and the
// token (SCEP_LAB_ADMIN_TOKEN, else the token file).
result<client::admin_client> admin_client_for(const config::settings& s, const std::string& base_url) {
    auto parsed = parse_scep_url(base_url.empty() ? configured_base_url(s) : base_url);
    if (!parsed) return parsed.err();
    if (parsed->tls) {
        auto chain = s.pki_dir() / "ca-chain.pem";
        if (std::filesystem::exists(chain)) parsed->ca_file = chain.string();
    }
    auto token = stored_admin_token(s);
    if (!token) return token.err();
    return client::admin_client(std::move(*parsed), std::move(*token));
}

}  // namespace

int rollover(const config::settings& s, bool activate, bool keep_ra, bool live, const std::string& url,
             std::ostream& out) {
    load_providers();
    if (live) {
        auto client = admin_client_for(s, url);
        if (!client) {
            std::cerr << "rollover: " << client.message() << "\n";
            return 2;
        }
        boost::json::object body{{"activate", activate}, {"keep_ra", keep_ra}};
        auto r = client->call("POST", "/admin/api/rollover", scep::json_text(body));
        if (!r) {
            std::cerr << "rollover: " << r.message() << "\n";
            return 1;
        }
        const auto& o = r->as_object();
        if (const auto* m = o.if_contains("message"); m && m->is_string()) out << std::string(m->as_string()) << "\n";
        out << "The running server " << (activate ? "now issues from it." : "offers it with GetNextCACert.") << "\n";
        return 0;
    }
    auto r = activate ? activate_rollover(s.pki, s.pki_dir())
                      : prepare_rollover(s.pki, s.pki_dir(), std::chrono::system_clock::now(), keep_ra);
    if (!r) {
        std::cerr << "rollover: " << r.message() << "\n";
        return 1;
    }
    out << *r << "\n";
    out << "A running server needs a restart to see it; `scep-lab ca rollover --live` does it through the running "
           "server instead.\n";
    return 0;
}

int challenge_command(const config::settings& s, const challenge_cli& c, std::ostream& out) {
    auto client = admin_client_for(s, c.url);
    if (!client) {
        std::cerr << "scep-lab challenge: " << client.message() << "\n";
        return 2;
    }
    if (c.action == challenge_cli::verb::add) {
        boost::json::object body{{"uses", c.uses}};
        if (!c.ttl.empty()) body["ttl"] = c.ttl;
        if (!c.label.empty()) body["label"] = c.label;
        boost::json::object b;
        if (!c.subject.empty()) b["subject"] = c.subject;
        if (!c.subject_regex.empty()) b["subject_regex"] = c.subject_regex;
        if (!c.sans.empty()) {
            boost::json::array a;
            for (const auto& n : c.sans) a.push_back(boost::json::string(n));
            b["sans"] = std::move(a);
        }
        if (!c.key_type.empty()) b["key_type"] = c.key_type;
        if (c.min_key_bits > 0) b["min_key_bits"] = c.min_key_bits;
        if (!c.client.empty()) b["client"] = c.client;
        if (!b.empty()) body["bindings"] = std::move(b);
        auto r = client->call("POST", "/admin/api/challenges", scep::json_text(body));
        if (!r) {
            std::cerr << "scep-lab challenge add: " << r.message() << "\n";
            return 1;
        }
        if (c.json) {
            out << scep::json_text(*r) << "\n";
            return 0;
        }
        const auto& o = r->as_object();
        // The challenge alone on the first line, for scripts; it is never shown again.
        out << std::string(o.at("challenge").as_string()) << "\n";
        out << "id " << std::string(o.at("id").as_string()) << ", expires " << std::string(o.at("expires_at").as_string())
            << ", uses " << o.at("uses").as_int64() << "\n";
        return 0;
    }
    if (c.action == challenge_cli::verb::list) {
        auto r = client->call("GET", std::string("/admin/api/challenges") + (c.all ? "?all=true" : ""));
        if (!r) {
            std::cerr << "scep-lab challenge list: " << r.message() << "\n";
            return 1;
        }
        if (c.json) {
            out << scep::json_text(*r) << "\n";
            return 0;
        }
        const auto& list = r->as_object().at("challenges").as_array();
        for (const auto& v : list) {
            const auto& o = v.as_object();
            out << std::string(o.at("id").as_string()) << "  " << std::string(o.at("state").as_string()) << "  uses "
                << o.at("uses_left").as_int64() << "/" << o.at("uses").as_int64() << "  expires "
                << std::string(o.at("expires_at").as_string()) << "  " << std::string(o.at("label").as_string())
                << "  " << scep::json_text(o.at("bindings")) << "\n";
        }
        out << list.size() << " challenge" << (list.size() == 1 ? "" : "s") << "\n";
        return 0;
    }
    auto r = client->call("DELETE", "/admin/api/challenges/" + c.id);
    if (!r) {
        std::cerr << "scep-lab challenge revoke: " << r.message() << "\n";
        return 1;
    }
    out << "revoked " << c.id << "\n";
    return 0;
}

int fault_command(const config::settings& s, const fault_cli& f, std::ostream& out) {
    auto client = admin_client_for(s, f.url);
    if (!client) {
        std::cerr << "scep-lab fault: " << client.message() << "\n";
        return 2;
    }
    if (f.action == fault_cli::verb::add) {
        boost::json::object when;
        for (const auto& [k, v] : f.when) when[k] = v;
        if (f.first) when["first"] = f.first;
        if (f.every) when["every"] = f.every;
        if (f.probability < 1.0) {
            when["probability"] = f.probability;
            when["seed"] = f.seed;
        }
        boost::json::object rule{{"kind", f.kind}, {"when", std::move(when)}, {"one_shot", f.one_shot}};
        if (f.status) rule["status"] = f.status;
        if (f.retry_after) rule["retry_after"] = f.retry_after;
        if (f.delay_ms >= 0) rule["delay_ms"] = f.delay_ms;
        if (!f.cipher.empty()) rule["cipher"] = f.cipher;
        auto r = client->call("POST", "/admin/api/faults", scep::json_text(rule));
        if (!r) {
            std::cerr << "scep-lab fault add: " << r.message() << "\n";
            return 1;
        }
        out << "armed " << boost::json::value_to<std::string>(r->at("id")) << ": "
            << scep::json_text(*r) << "\n";
        return 0;
    }
    if (f.action == fault_cli::verb::list) {
        auto r = client->call("GET", "/admin/api/faults");
        if (!r) {
            std::cerr << "scep-lab fault list: " << r.message() << "\n";
            return 1;
        }
        if (f.json) {
            out << scep::json_text(*r) << "\n";
            return 0;
        }
        const auto& rules = r->at("faults").as_array();
        for (const auto& rule : rules) {
            const auto& o = rule.as_object();
            out << boost::json::value_to<std::string>(o.at("id")) << "  "
                << boost::json::value_to<std::string>(o.at("kind")) << "  when " << scep::json_text(o.at("when"))
                << "  matched " << scep::json_text(o.at("matched")) << ", fired "
                << scep::json_text(o.at("fired")) << (o.at("one_shot").as_bool() ? "  (one-shot)" : "") << "\n";
        }
        if (rules.empty()) out << "no fault armed\n";
        return 0;
    }
    // clear [ID]
    auto r = client->call("DELETE", f.id.empty() ? "/admin/api/faults" : "/admin/api/faults/" + f.id);
    if (!r) {
        std::cerr << "scep-lab fault clear: " << r.message() << "\n";
        return 1;
    }
    out << "removed " << scep::json_text(r->at("removed")) << "\n";
    return 0;
}

int challenge_server_command(challenge_server_options o, const std::vector<std::string>& rules, std::ostream& out) {
    for (const auto& rule : rules) {
        auto eq = rule.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::cerr << "scep-lab challenge-server: --rule takes CHALLENGE=OUTCOME, got \"" << rule << "\"\n";
            return 2;
        }
        auto outcome = parse_outcome(rule.substr(eq + 1));
        if (!outcome) {
            std::cerr << "scep-lab challenge-server: --rule " << rule << ": " << outcome.message() << "\n";
            return 2;
        }
        o.rules[rule.substr(0, eq)] = *outcome;
    }
    auto ran = run_challenge_server(o, [&](std::uint16_t port) {
        out << "challenge-server listening on http://" << (o.listen.find(':') != std::string::npos ? "[" + o.listen + "]" : o.listen)
            << ":" << port << "/ (" << o.allow.size() << " allowed, " << o.rules.size() << " rules, signatures "
            << (o.secret.empty() ? "not checked" : "checked") << ")" << std::endl;
        if (!o.port_file.empty()) {
            std::ofstream f(o.port_file + ".tmp");
            f << port << "\n";
            f.close();
            std::filesystem::rename(o.port_file + ".tmp", o.port_file);
        }
    });
    if (!ran) {
        std::cerr << "scep-lab challenge-server: " << ran.message() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace scep::cli
