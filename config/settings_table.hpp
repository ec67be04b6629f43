// The one definition of the TOML settings: each key's section, name, kind,
// range or choices and documentation line, bound to its field in `settings`
// (whose initializer is the default). The TOML reader, the TOML writer
// (`scep-lab config`), `scep-lab config --keys` and the example-file check
// all walk this list, so a key exists everywhere or nowhere.
//
// A visitor V has, for each kind, a member taking (key, field, ..., doc):
//   section(name, doc) / end()
//   text, secret (masked when written), url (its credentials masked when written), flag, number(min, max), duration,
//   signed_duration, millis, list, path, choice(allowed), key_kind, subject,
//   custom(key, read(visitor), write(visitor) -> TOML value, doc) for what
//   needs code (the reader offers table(); the writer show_secrets()),
//   retired(key, what replaces it, apply(settings, bool)): an old boolean
//   spelling, still read (with a deprecation note), never written or listed.
// S is `settings` (reading) or `const settings` (writing).
#pragma once

#include <algorithm>
#include <string>

#include <toml.hpp>

#include "config/config.hpp"
#include "pki/crypto/pattern.hpp"

namespace scep::config {

template <class V, class S>
void visit_settings(V& v, S& s) {
    v.section("server", "the HTTP listener and its limits");
    v.text("listen", s.server.listen, "listen address (also HTTPS unless https.listen); SCEP_LAB_LISTEN");
    v.number("port", s.server.port, 0, 65535, "HTTP port, 0 picks a free one; SCEP_LAB_PORT");
    v.number("threads", s.server.threads, 0, 256, "worker threads, 0 = one per core");
    v.number("max_body_bytes", s.server.max_body_bytes, 1024, 256LL << 20, "largest request body (413 above)");
    v.number("max_header_bytes", s.server.max_header_bytes, 1024, 1 << 20,
             "largest request line and headers (431 above)");
    v.duration("read_timeout", s.server.read_timeout, "time for the first request of a connection");
    v.duration("idle_timeout", s.server.idle_timeout, "time a keep-alive connection may wait for the next one");
    v.number("max_connections", s.server.max_connections, 1, 1000000, "open connections; more are closed at once");
    v.text("ready_file", s.server.ready_file, "JSON file written once listening (URLs, ports, pid)");
    v.text("env_file", s.server.env_file, "KEY=value file for CI written once ready (URLs, challenge, chain, token)");
    v.flag("http", s.server.http, "the plain HTTP listener");
    v.duration("shutdown_timeout", s.server.shutdown_timeout, "time in-flight requests get on SIGTERM");
    v.text("header_server", s.server.header_server,
           "Server header on every answer that has none (\"Microsoft-IIS/10.0\"); empty = none");
    v.text("header_powered_by", s.server.header_powered_by, "X-Powered-By header on every answer (\"ASP.NET\"); empty = none");
    v.end();

    v.section("lab", "deterministic mode for CI");
    v.signed_duration("clock_offset", s.lab.clock_offset, "shift of the lab clock, e.g. \"-30d\"; SCEP_LAB_CLOCK_OFFSET");
    v.text("serial_seed", s.lab.serial_seed, "deterministic serials from this seed; SCEP_LAB_SERIAL_SEED");
    v.end();

    v.section("challenge", "how PKCSReq challenges are checked (docs/challenges.md)");
    v.pick("mode", s.challenge.mode, challenge_modes,
             "static secret, NDES one-time passwords, challenges from the admin API, a webhook, or an NDES "
             "policy module (INDESPolicy over HTTP)");
    v.duration("default_ttl", s.challenge.default_ttl, "api: lifetime of a challenge when the request names none");
    v.url("webhook_url", s.challenge.webhook_url, "webhook, ndes-policy: where to POST (http:// or https://)");
    v.pick("webhook_format", s.challenge.webhook_format, webhook_formats,
             "webhook: this project's JSON or step-ca's SCEPCHALLENGE body and X-Smallstep-Signature");
    v.secret("webhook_secret", s.challenge.webhook_secret,
             "HMAC-SHA256 key of the signature header (step-ca format: base64, as step-ca prints it)");
    v.text("webhook_id", s.challenge.webhook_id, "step-ca format: the X-Smallstep-Webhook-ID header");
    v.secret("webhook_bearer_token", s.challenge.webhook_bearer_token, "sent as Authorization: Bearer when set");
    v.path("webhook_ca_file", s.challenge.webhook_ca_file, "https webhook: CA bundle (PEM); empty = system store");
    v.custom(
        "webhook_timeout",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("webhook_timeout");
            auto ms = parse_millis(toml::get<std::string>(value));
            if (!ms || *ms < std::chrono::milliseconds(50) || *ms > std::chrono::minutes(2))
                r.table().fail(value, "webhook_timeout is a duration from 50ms to 2 minutes, e.g. \"500ms\", \"5s\"");
            st.challenge.webhook_timeout = *ms;
        },
        [&s](auto& w) { return w.quoted(format_millis(s.challenge.webhook_timeout)); },
        "the whole webhook call (connect, TLS, answer); past it the enrollment fails");
    v.flag("get_template", s.challenge.policy_get_template,
           "ndes-policy: ask the module which template to use (GetTemplate)");
    v.flag("notify", s.challenge.policy_notify, "ndes-policy: call Notify with each transaction's outcome");
    v.end();

    v.section("admin", "the JSON admin API");
    v.flag("enabled", s.admin.enabled, "serve /admin/api/");
    v.path("token_file", s.admin.token_file, "where the bearer token lives; empty = <data_dir>/admin-token");
    v.flag("allow_remote", s.admin.allow_remote, "answer non-loopback clients; SCEP_LAB_ADMIN_REMOTE");
    v.end();

    v.section("https", "the HTTPS listener");
    v.flag("enabled", s.https.enabled, "serve HTTPS; SCEP_LAB_HTTPS");
    v.text("listen", s.https.listen, "listen address; empty = server.listen");
    v.number("port", s.https.port, 0, 65535, "HTTPS port, 0 picks a free one; SCEP_LAB_HTTPS_PORT");
    v.list("names", s.https.names, "names of the lab-issued certificate; SCEP_LAB_HTTPS_NAMES");
    v.key_kind("key", s.https.key, "key of the lab-issued certificate");
    v.path("cert_file", s.https.cert_file, "your own certificate (PEM, server certificate first)");
    v.path("key_file", s.https.key_file, "your own key");
    v.choice("min_version", s.https.min_version, {"1.2", "1.3"}, "lowest TLS version");
    v.end();

    v.section("log", "logging");
    v.pick("format", s.log.format, log_formats, "one line per event; SCEP_LAB_LOG_FORMAT");
    v.pick("level", s.log.level, log_levels, "SCEP_LAB_LOG_LEVEL");
    v.text("capture_dir", s.log.capture_dir, "write every PKIOperation request and reply here (DER)");
    v.text("iis_dir", s.log.iis_dir, "log every request here as IIS does (W3C, u_exYYMMDD.log)");
    v.end();

    v.section("inspector", "the transaction inspector (docs/inspector.md)");
    v.flag("enabled", s.inspector.enabled, "decode and keep every SCEP exchange; SCEP_LAB_INSPECTOR");
    v.number("retention", s.inspector.retention, 1, 10000000, "newest transactions kept");
    v.number("max_der_bytes", s.inspector.max_der_bytes, 0, 16LL << 20,
             "request/reply DER kept per transaction; larger ones are not kept");
    v.end();

    v.section("scep", "the SCEP endpoint");
    v.list("paths", s.scep_paths, "paths that serve SCEP (any suffix too)");
    v.secret("challenge", s.scep.challenge, "the static challenge password; SCEP_LAB_CHALLENGE");
    v.list("capabilities", s.scep.capabilities, "GetCACaps keywords, in order");
    v.pick("capabilities_line_end", s.scep.capabilities_line_end, caps_line_ends,
           "GetCACaps line ends: \"lf\" or \"crlf\" (a clone copies the server's)");
    v.flag("capabilities_final_line_end", s.scep.capabilities_final_line_end,
           "GetCACaps ends with a line end after the last keyword");
    v.flag("allow_single_des", s.scep.ciphers.allow_single_des, "accept single DES (RFC 8894 §2.9 forbids it)");
    v.flag("allow_md5", s.scep.ciphers.allow_md5,
           "accept MD5 request digests (old Cisco IOS; RFC 8894 §2.9 forbids it); the reply mirrors them");
    v.flag("ra_as_issuer", s.scep.ra_as_issuer,
           "GetCert/GetCRL naming the RA certificate as issuer are answered for the issuing CA");
    v.pick("ec_requesters", s.scep.ec_requesters, ec_modes,
           "requests signed with EC keys: \"kari\" (reply enveloped by ECDH key agreement, as NDES) or \"refuse\" "
           "(badAlg)");
    v.flag("require_signer_key_match", s.scep.require_signer_key_match,
           "refuse a first PKCSReq whose signer key is not the CSR's (RFC 8894 §2.3)");
    v.pick("ca_cert_order", s.scep.ca_cert_order, ca_cert_orders, "\"ra-first\" or \"ca-first\" (NDES)");
    v.pick("reply_includes_chain", s.scep.reply_includes_chain, reply_chains,
           "CA certificates after the issued one in a SUCCESS: \"none\", \"issuing\" or \"full\" (up to the root)");
    v.retired("include_root_in_ca_chain", "quirks.chain = \"no-root\" (false) or \"full\" (true)", [](auto& st, bool on) {
        if (!on && st.quirks.chain == chain_quirk::full) st.quirks.chain = chain_quirk::no_root;
        if (on && st.quirks.chain == chain_quirk::no_root) st.quirks.chain = chain_quirk::full;
    });
    v.end();

    v.section("renewal", "RenewalReq and PKCSReq signed by an issued certificate");
    v.flag("require_challenge", s.scep.renewal.require_challenge, "ask for the challenge on renewal too");
    v.duration("window", s.scep.renewal.window, "accept renewals only this close to expiry; 0s = any time");
    v.flag("subject_must_match", s.scep.renewal.subject_must_match, "the new CSR keeps the old subject");
    v.flag("allow_key_reuse", s.scep.renewal.allow_key_reuse, "the new CSR may reuse the old key");
    v.flag("revoke_replaced", s.scep.renewal.revoke_replaced, "revoke the old certificate instead of superseding it");
    v.flag("allow_repeat", s.scep.renewal.allow_repeat, "a renewed certificate may be renewed again");
    v.flag("allow_new_names", s.scep.renewal.allow_new_names, "a renewal may add subjectAltNames");
    v.end();

    v.section("crl", "certificate revocation lists");
    v.duration("validity", s.scep.crl_validity, "nextUpdate - thisUpdate");
    v.text("base_url", s.crl_base_url, "base of the CRL URLs in certificates; empty = the server's address");
    v.end();

    v.section("issuance", "what issued certificates get, and what a CSR may ask");
    v.duration("validity", s.issuance.validity, "lifetime of issued certificates");
    v.duration("backdate", s.issuance.backdate, "notBefore this far in the past");
    v.list("key_usage", s.issuance.key_usage, "key usage (critical)");
    v.list("extended_key_usage", s.issuance.extended_key_usage, "extended key usage, names or dotted OIDs");
    v.number("min_rsa_bits", s.csr.min_rsa_bits, 512, 16384, "smallest RSA CSR key");
    v.number("min_ec_bits", s.csr.min_ec_bits, 160, 521, "smallest EC CSR key");
    v.number("min_rsa_exponent", s.csr.min_rsa_exponent, 3, 4294967297LL, "smallest RSA public exponent (odd)");
    v.flag("allow_md5_csr", s.csr.allow_md5, "accept MD5-signed CSRs (legacy devices)");
    v.flag("allow_compromised_keys", s.csr.allow_compromised_keys,
           "issue for keys whose certificate was revoked for keyCompromise");
    v.flag("allow_wildcards", s.csr.names.allow_wildcards, "accept wildcard DNS names");
    v.number("max_sans", s.csr.names.max_sans, 1, 1000, "most subjectAltName entries");
    v.number("max_cn_length", s.csr.names.max_cn_length, 1, 1024, "longest CN, in characters");
    v.number("max_subject_rdns", s.csr.names.max_subject_rdns, 1, 64, "most subject attributes");
    v.list("required_subject", s.issuance.required_subject, "RDNs the CSR subject must carry");
    v.end();

    v.section("approval", "which requests wait for `scep-lab approve` (PENDING)");
    v.pick("mode", s.scep.approval.mode, approval_modes, "\"auto\" or \"manual\" (every request waits)");
    v.custom(
        "pending_subjects",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("pending_subjects");
            st.scep.approval.pending_subjects = toml::get<std::vector<std::string>>(value);
            for (const auto& expr : st.scep.approval.pending_subjects)
                if (auto p = pattern::compile(expr); !p) r.table().fail(value, "pending_subjects: " + p.message());
        },
        [&s](auto& w) { return w.quoted_list(s.scep.approval.pending_subjects); },
        "RE2 patterns searched in the subject: matching requests wait");
    v.end();

    v.section("ndes", "Microsoft NDES mode");
    v.flag("enabled", s.ndes.enabled, "NDES URLs, admin page, passwords, RA pair, templates");
    v.pick("password_mode", s.ndes.password_mode, password_modes, "how challenges are handed out");
    v.duration("password_validity", s.ndes.password_validity, "lifetime of a one-time password");
    v.number("password_cache", s.ndes.password_cache, 1, 10000, "unused one-time passwords at a time");
    v.number("password_bytes", s.ndes.password_bytes, 4, 64, "random bytes per password (hex)");
    v.choice("admin_encoding", s.ndes.admin_encoding, {"utf-16le-bom", "utf-16le", "utf-8"}, "admin page encoding");
    v.custom(
        "admin_users",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("admin_users");
            st.ndes.admin_users = toml::get<std::vector<std::string>>(value);
            for (const auto& u : st.ndes.admin_users)
                if (u.find(':') == std::string::npos || u.front() == ':')
                    r.table().fail(value, "admin_users entries are \"name:password\"");
        },
        [&s](auto& w) {
            std::vector<std::string> users;
            for (const auto& u : s.ndes.admin_users)
                users.push_back(w.show_secrets() ? u : u.substr(0, u.find(':')) + ":********");
            return w.quoted_list(users);
        },
        "\"name:password\" logins of the admin page (HTTP Basic); empty = open");
    v.choice("thumbprint_ca", s.ndes.thumbprint_ca, {"issuing", "root"}, "CA of the admin page's thumbprint");
    v.pick("browse", s.ndes.browse, browse_answers, "answer to browsing the SCEP URL");
    v.pick("admin_response", s.ndes.admin_response, admin_page_answers,
             "the admin page's answer");
    v.pick("reply_digest", s.ndes.reply_digest, reply_digest_modes, "digest of reply signatures");
    v.flag("ra_pair", s.ndes.ra_pair, "signing and encryption RA certificates");
    v.custom(
        "ra_subject",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("ra_subject");
            st.ndes.ra_subject = toml::get<std::string>(value);
            if (auto subject = parse_subject(st.ndes.ra_subject); !subject)
                r.table().fail(value, "ra_subject: " + subject.message());
        },
        [&s](auto& w) { return w.quoted(s.ndes.ra_subject); }, "subject of the RA pair");
    v.flag("reject_utf8_challenge", s.ndes.reject_utf8_challenge, "refuse UTF8String challenges, as NDES");
    v.text("signature_template", s.ndes.signature_template, "template for digitalSignature-only CSRs");
    v.text("encryption_template", s.ndes.encryption_template, "template for keyEncipherment-only CSRs");
    v.text("general_purpose_template", s.ndes.general_purpose_template, "template for the other CSRs");
    v.list("ca_templates", s.ndes.ca_templates,
           "templates the CA publishes; a slot naming another fails with 0x80094800 (empty = all)");
    v.flag("event_log", s.ndes.event_log, "write the events NDES would write to <data_dir>/ndes-events.log and the log");
    v.end();

    v.section("quirks", "reproduction knobs, all off by default");
    v.number("max_url_bytes", s.quirks.max_url_bytes, 0, 1 << 20, "HTTP.sys's 414 for longer URLs (0 = off)");
    v.number("max_query_bytes", s.quirks.max_query_bytes, 0, 1 << 20, "IIS request filtering's 404 (404.15) for longer query strings (0 = off)");
    v.custom(
        "latency",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("latency");
            auto ms = parse_millis(toml::get<std::string>(value));
            if (!ms || *ms > std::chrono::minutes(5))
                r.table().fail(value, "latency is a duration up to 5 minutes, e.g. \"250ms\", \"2s\"");
            st.quirks.latency = *ms;
        },
        [&s](auto& w) { return w.quoted(format_millis(s.quirks.latency)); }, "added before every SCEP answer");
    v.custom(
        "fail_status",
        [](auto& r, auto& st) {
            const auto& value = r.table().at("fail_status");
            if (!value.is_table()) r.table().fail(value, "fail_status is a table: { GetCACert = 503, PKIOperation = 500 }");
            st.quirks.fail_status.clear();
            for (const auto& [op, status] : value.as_table()) {
                if (std::find(quirk_operations.begin(), quirk_operations.end(), op) == quirk_operations.end()) {
                    std::string known;
                    for (const auto& q : quirk_operations) known += (known.empty() ? "" : ", ") + q;
                    r.table().fail(status, "fail_status: unknown operation \"" + op + "\" (" + known + ")");
                }
                if (!status.is_integer() || status.as_integer() < 400 || status.as_integer() > 599)
                    r.table().fail(status, "fail_status." + op + " must be an HTTP status from 400 to 599");
                st.quirks.fail_status[op] = static_cast<int>(status.as_integer());
            }
        },
        [&s](auto&) {
            std::string out = "{";
            bool first = true;
            for (const auto& [op, status] : s.quirks.fail_status) {
                out += (first ? " " : ", ") + op + " = " + std::to_string(status);
                first = false;
            }
            return out + (first ? "}" : " }");
        },
        "HTTP status answered instead, per operation");
    v.number("fail_every", s.quirks.fail_every, 0, 1000000, "every N-th SCEP request fails (0 = off)");
    v.number("fail_every_status", s.quirks.fail_every_status, 400, 599, "the status of those failures");
    v.flag("expired_ra", s.quirks.expired_ra, "serve RA certificates that expired yesterday");
    v.pick("chain", s.quirks.chain, chain_quirks, "what GetCACert sends of the chain");
    v.retired("all_pending", "approval.mode = \"manual\"", [](auto& st, bool on) {
        if (on) st.scep.approval.mode = approval_mode::manual;
    });
    v.choice("fail_info", s.quirks.fail_info, {"", "badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId"},
             "every PKIOperation FAILURE with this failInfo");
    v.end();
}

}  // namespace scep::config
