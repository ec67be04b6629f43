// scep-lab: a lab SCEP/NDES-compatible test server. This file only parses the
// command line and settings; cli/serve.cpp assembles and runs the server.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <unistd.h>
#include <optional>

#include "config/config.hpp"
#include "cli/commands.hpp"
#include "cli/inspect.hpp"
#include "pki/inspect/findings.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/trust/exports.hpp"
#include "client/bench.hpp"
#include "client/conformance.hpp"

namespace {

struct flags {
    std::string config_file;
    std::string preset;
    std::optional<std::string> listen;
    std::optional<int> port;
    std::optional<std::string> data_dir;
    std::optional<std::string> challenge;
    std::optional<std::string> log_format;
    std::optional<std::string> log_level;
    std::optional<std::string> ready_file;
    std::optional<int> https_port;
    bool no_https = false;
    bool no_http = false;
};

// defaults < preset < configuration file < SCEP_LAB_* environment < command-line flags
scep::result<scep::config::settings> settle(const flags& f) {
    scep::config::layers l{.preset = f.preset, .config_file = f.config_file, .flags = [&f](scep::config::settings& s) {
        if (f.listen) s.server.listen = *f.listen;
        if (f.port) s.server.port = static_cast<std::uint16_t>(*f.port);
        if (f.data_dir) s.data_dir = *f.data_dir;
        if (f.challenge) s.scep.challenge = *f.challenge;
        if (f.log_format) s.log.format = *f.log_format;
        if (f.log_level) s.log.level = *f.log_level;
        if (f.ready_file) s.server.ready_file = *f.ready_file;
        if (f.https_port) s.https.port = static_cast<std::uint16_t>(*f.https_port);
        if (f.no_https) s.https.enabled = false;
        if (f.no_http) s.server.http = false;
    }};
    return scep::config::settle(l, scep::config::process_env());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"scep-lab: a lab SCEP (RFC 8894) and NDES-compatible test server"};
    app.require_subcommand(1);
    flags f;
    app.add_option("-c,--config", f.config_file, "TOML configuration file (also SCEP_LAB_CONFIG)")
        ->check(CLI::ExistingFile);
    app.add_option("--preset", f.preset,
                   "start from a ready configuration (SCEP_LAB_PRESET); --config and flags override it; "
                   "`scep-lab presets` lists them");
    app.add_option("--data-dir", f.data_dir, "data directory: lab PKI and store (SCEP_LAB_DATA_DIR)");
    app.add_option("--log-format", f.log_format, "text or json (SCEP_LAB_LOG_FORMAT)")
        ->check(CLI::IsMember({"text", "json"}));
    app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error (SCEP_LAB_LOG_LEVEL)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    app.fallthrough();

    auto* serve = app.add_subcommand("serve", "run the SCEP server (creates the lab PKI on first start)");
    serve->add_option("--listen", f.listen, "listen address (SCEP_LAB_LISTEN), default 127.0.0.1");
    serve->add_option("-p,--port", f.port, "TCP port, 0 picks a free one (SCEP_LAB_PORT), default 8080")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--https-port", f.https_port, "HTTPS port, 0 picks a free one (SCEP_LAB_HTTPS_PORT), default 8443")
        ->check(CLI::Range(0, 65535));
    serve->add_flag("--no-https", f.no_https, "no HTTPS listener (SCEP_LAB_HTTPS=off, https.enabled = false)");
    serve->add_flag("--no-http", f.no_http, "HTTPS only (server.http = false)");
    serve->add_option("--challenge", f.challenge, "static challenge password (SCEP_LAB_CHALLENGE)");
    serve->add_option("--ready-file", f.ready_file, "write the URL and port as JSON here once listening");

    auto* init = app.add_subcommand("init", "create the lab PKI and the store, then exit");

    std::string list_format = "text";
    scep::cert_query list_query;
    auto* list = app.add_subcommand("list", "list issued certificates from the store");
    list->add_option("--format", list_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    list->add_option("-n,--limit", list_query.limit, "how many (newest first, default 100)")
        ->check(CLI::Range(1, 100000000));
    list->add_option("--offset", list_query.offset, "skip this many first");
    list->add_option("--subject", list_query.subject, "subject contains this (case-insensitive)");
    list->add_option("--serial", list_query.serial, "this serial number");
    list->add_option("--status", list_query.status, "valid, revoked or superseded")
        ->check(CLI::IsMember({"valid", "revoked", "superseded"}));
    list->add_option("--since", list_query.since, "issued at or after (ISO 8601, e.g. 2026-11-25)");
    list->add_option("--until", list_query.until, "issued before (ISO 8601)");

    bool reset_yes = false;
    auto* reset = app.add_subcommand("reset", "delete every certificate and pending request from the store (lab use)");
    reset->add_flag("--yes", reset_yes, "confirm")->required();

    std::string serial, reason = "unspecified";
    auto* revoke = app.add_subcommand("revoke", "revoke an issued certificate (the next CRL lists it)");
    revoke->add_option("serial", serial, "serial number in hex (as `scep-lab list` shows it)")->required();
    revoke->add_option("--reason", reason, "CRLReason: keyCompromise, superseded, cessationOfOperation, ...");

    std::string txid, why;
    auto* approve = app.add_subcommand("approve", "issue a pending request at the client's next poll");
    approve->add_option("transaction_id", txid, "transactionID (see `scep-lab pending`)")->required();
    auto* reject = app.add_subcommand("reject", "refuse a pending request (FAILURE at the next poll)");
    reject->add_option("transaction_id", txid, "transactionID (see `scep-lab pending`)")->required();
    reject->add_option("--reason", why, "text sent to the client as failInfoText");
    bool all_pending = false;
    auto* pending = app.add_subcommand("pending", "list requests waiting for approval");
    pending->add_flag("--all", all_pending, "include approved, rejected and issued ones");

    bool activate = false, keep_ra = false;
    auto* rollover = app.add_subcommand("rollover", "prepare the next issuing CA (GetNextCACert), or activate it");
    bool rollover_live = false;
    std::string rollover_url;
    rollover->add_flag("--activate", activate, "make the prepared next CA the issuing CA");
    rollover->add_flag("--keep-ra", keep_ra, "keep the current RA certificate instead of issuing a new one");
    rollover->add_flag("--live", rollover_live, "have the running server do it (admin API): no restart");
    rollover->add_option("--url", rollover_url, "with --live: the server's base URL; default from the listen settings");

    bool show_secrets = false;
    auto* show = app.add_subcommand("config", "print the effective configuration as TOML");
    show->add_flag("--show-secrets", show_secrets, "print the challenge instead of ********");
    bool show_env = false;
    show->add_flag("--env", show_env, "list the SCEP_LAB_* environment variables and the settings they set");
    bool show_keys = false;
    show->add_flag("--keys", show_keys, "list the configuration keys with their kind and what they do");

    std::string health_url;
    auto* health = app.add_subcommand("health", "exit 0 when the server answers /healthz (for Docker HEALTHCHECK)");
    health->add_option("--url", health_url, "base URL; default from the listen address and port settings");
    health->add_option("-p,--port", f.port, "TCP port (SCEP_LAB_PORT)")->check(CLI::Range(1, 65535));

    scep::client::bench_options bo;
    std::string bench_key = "rsa2048", bench_cipher = "aes128", bench_digest = "sha256";
    auto* bench = app.add_subcommand("bench", "SCEP load generator: N enrollments over C connections, replies checked");
    bench->add_option("url", bo.url, "SCEP URL, e.g. http://127.0.0.1:8080/scep")->required();
    bench->add_option("-n,--requests", bo.requests, "enrollments, each with its own key (default 1000)")
        ->check(CLI::Range(1, 10000000));
    bench->add_option("-c,--connections", bo.connections, "concurrent keep-alive connections (default 16)")
        ->check(CLI::Range(1, 10000));
    bench->add_flag("--get", bo.use_get, "send PKIOperation by GET (default POST)");
    bench->add_option("--key", bench_key, "rsa2048 (default), rsa3072, rsa4096, ec-p256, ec-p384");
    bench->add_option("--cipher", bench_cipher, "envelope cipher: aes128 (default), aes192, aes256, des3, des");
    bench->add_option("--digest", bench_digest, "signature digest: sha256 (default), sha1, sha224, sha384, sha512");
    bench->add_option("--bench-challenge", bo.challenge, "challenge password (default scep-lab-challenge)");
    bench->add_option("-k,--check-every", bo.check_every, "decrypt every K-th reply and match it to its key (default 10)")
        ->check(CLI::Range(1, 1000000));
    bench->add_option("--keys", bo.distinct_keys, "distinct keys, cycled over the requests (default: one each)");
    bench->add_option("--key-cache", bo.key_cache, "PEM file of keys reused across runs (created and extended)");
    bench->add_option("--server-pid", bo.server_pid,
                      "read the server's CPU time from /proc/PID/stat (default: its /metrics, when it has them)");
    bench->add_flag("!--no-floor", bo.floor, "skip the in-process measurement of the crypto floor");
    bench->add_flag("--new-connection", bo.new_connection,
                    "a new connection for every enrollment (HTTPS: resuming the previous TLS session)");
    bench->add_option("--ca-file", bo.ca_file, "https://: verify the server against these PEM certificates");
    bench->add_option("--received", bo.received, "write \"transactionID serial\" of every SUCCESS reply here");
    bench->add_flag("--json", bo.json, "print the result as JSON");

    std::size_t seed_count = 0;
    auto* seed = app.add_subcommand("seed", "add N placeholder certificates to the store (benchmarks on a full store)");
    seed->add_option("count", seed_count, "how many rows")->required()->check(CLI::Range(1, 100000000));

    std::string export_what, export_format = "pem", export_out;
    auto* exporter = app.add_subcommand("export", "write a CA certificate, the chain or an issued certificate");
    exporter->add_option("what", export_what,
                         "root, intermediate, issuing (any tier name), ra, ra-encryption, chain, tls, tls-chain, or cert:<serial>")
        ->required();
    exporter->add_option("-f,--format", export_format, "pem (default), der, p7b")
        ->check(CLI::IsMember({"pem", "der", "crt", "cer", "p7b"}));
    exporter->add_option("-o,--out", export_out, "file to write (default: standard output)");

    scep::cli::issue_options io;
    std::vector<std::string> issue_dns, issue_ip;
    auto* issue = app.add_subcommand("issue", "issue a server certificate (RADIUS, web) from the lab's issuing CA");
    issue->add_option("--profile", io.profile, "radius-server (FreeRADIUS files) or tls-server (certbot files)")
        ->check(CLI::IsMember({"radius-server", "tls-server"}));
    issue->add_option("--dns", issue_dns, "DNS name (repeat for more)");
    issue->add_option("--ip", issue_ip, "IP address (repeat for more)");
    issue->add_option("--cn", io.common_name, "common name (default: the first DNS name)");
    issue->add_option("--key", io.key, "rsa2048 (default), rsa3072, rsa4096, ec-p256, ec-p384");
    issue->add_option("--days", io.days, "validity in days (default 397)")->check(CLI::Range(1, 36500));
    issue->add_option("-o,--out", io.out_dir, "directory for key, certificate and chain")->required();

    // scep-lab profile apple: options map onto the download's query parameters.
    scep::cli::apple_profile_cli pc;
    std::string p_ssid, p_security, p_subject, p_fingerprint, p_fingerprint_ca;
    std::vector<std::string> p_radius, p_omit;
    std::optional<int> p_key_size;
    std::string p_challenge;
    auto* profile = app.add_subcommand("profile", "write a device configuration profile");
    profile->require_subcommand(1);
    auto* apple = profile->add_subcommand("apple", "Apple .mobileconfig: CA payloads, SCEP payload, optional Wi-Fi");
    apple->add_option("--url", pc.url, "SCEP URL devices use (default from the listen settings)");
    apple->add_option("--challenge", p_challenge, "challenge in the SCEP payload (default: the configured one)");
    apple->add_option("--ssid", p_ssid, "add a WPA2/WPA3-Enterprise EAP-TLS Wi-Fi payload for this SSID");
    apple->add_option("--security", p_security, "WPA2 (default) or WPA3");
    apple->add_option("--radius-name", p_radius,
                      "TLSTrustedServerNames entry (repeat); default: the newest `issue --profile radius-server` names");
    apple->add_option("--omit", p_omit, "leave out this CA payload (root, intermediate, ...; repeat)");
    apple->add_option("--subject", p_subject, "requested subject (default CN=scep-lab device,O=scep-lab)");
    apple->add_option("--key-size", p_key_size, "1024, 2048 (default) or 4096");
    apple->add_option("--fingerprint", p_fingerprint, "CAFingerprint digest: sha1 (default) or sha256");
    apple->add_option("--fingerprint-ca", p_fingerprint_ca, "CA tier CAFingerprint is of (default issuing)");
    apple->add_flag("--sign", pc.sign, "sign the profile (CMS) with the lab's profile-signing certificate");
    apple->add_option("-o,--out", pc.out_file, "file to write (default: standard output)");

    std::string tx_format = "text";
    scep::transaction_query tx_query;
    auto* transactions = app.add_subcommand("transactions", "list the SCEP exchanges the inspector recorded (newest first)");
    transactions->add_option("--format", tx_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    transactions->add_option("-n,--limit", tx_query.limit, "how many (default 100)")->check(CLI::Range(1, 100000));
    transactions->add_option("--offset", tx_query.offset, "skip this many first");
    transactions->add_option("--client", tx_query.client, "from this client address");
    transactions->add_option("--status", tx_query.status, "pkiStatus (SUCCESS, FAILURE, PENDING) or HTTP status");
    transactions->add_option("--finding", tx_query.finding, "raising this finding (see inspect --catalogue)");
    transactions->add_option("--severity", tx_query.severity, "at least this bad")
        ->check(CLI::IsMember({"error", "warning", "note"}));
    transactions->add_option("--transaction-id", tx_query.transaction_id, "this SCEP transactionID");
    std::string inspect_target, inspect_format = "text";
    bool inspect_catalogue = false;
    auto* inspect = app.add_subcommand(
        "inspect", "show one recorded transaction, or decode a captured SCEP message (DER, PEM or base64) offline");
    inspect->add_option("target", inspect_target, "a transaction id, or a file");
    inspect->add_option("--format", inspect_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    inspect->add_flag("--catalogue", inspect_catalogue, "print the findings catalogue (Markdown) and exit");

    scep::cli::fault_cli fc;
    std::string fw_operation, fw_message_type, fw_txid, fw_client, fw_subject;
    auto* fault = app.add_subcommand("fault", "arm, list or remove fault rules on the running server (docs/faults.md)");
    fault->require_subcommand(1);
    auto* fault_add = fault->add_subcommand("add", "arm a rule: a fault kind and the requests it applies to");
    fault_add->add_option("kind", fc.kind, "the fault (scep-lab fault list shows the kinds)")->required();
    fault_add->add_option("--operation", fw_operation, "GetCACaps, GetCACert, GetNextCACert or PKIOperation");
    fault_add->add_option("--message-type", fw_message_type, "PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL");
    fault_add->add_option("--transaction-id", fw_txid, "this transactionID only");
    fault_add->add_option("--client", fw_client, "this client address only");
    fault_add->add_option("--subject", fw_subject, "regular expression searched in the CSR subject");
    fault_add->add_option("--first", fc.first, "only the first N matching requests");
    fault_add->add_option("--every", fc.every, "only every N-th matching request");
    fault_add->add_option("--probability", fc.probability, "this share of matching requests (with --seed)")
        ->check(CLI::Range(0.000001, 1.0));
    fault_add->add_option("--seed", fc.seed, "seed of --probability (reproducible choices)");
    fault_add->add_option("--status", fc.status, "http-status: the status sent (400-599); redirect: 301, 302, 303, 307, 308");
    fault_add->add_option("--delay-ms", fc.delay_ms, "delay-headers, delay-body: the pause in milliseconds (default 3000)")
        ->check(CLI::Range(0, 600000));
    fault_add->add_option("--retry-after", fc.retry_after, "http-status: Retry-After seconds");
    fault_add->add_option("--cipher", fc.cipher, "forced-cipher: des, des3, aes128, aes192 or aes256");
    fault_add->add_flag("--one-shot", fc.one_shot, "remove the rule after it fired once");
    auto* fault_list = fault->add_subcommand("list", "the armed rules (matched and fired counts) and the kinds");
    fault_list->add_flag("--json", fc.json, "the admin API's JSON");
    auto* fault_clear = fault->add_subcommand("clear", "remove one rule, or all");
    fault_clear->add_option("id", fc.id, "the rule's id (f1, ...); all when omitted");
    for (auto* sub : {fault_add, fault_list, fault_clear})
        sub->add_option("--url", fc.url, "the server's base URL; default from the listen address and port settings");

    scep::cli::challenge_cli cc;
    auto* challenge_cmd = app.add_subcommand("challenge", "hand out, list or revoke challenges (challenge.mode = \"api\")");
    challenge_cmd->require_subcommand(1);
    auto* ch_new = challenge_cmd->add_subcommand("new", "a new challenge; printed once, on the first line");
    ch_new->add_option("--ttl", cc.ttl, "lifetime, e.g. 10m (default: challenge.default_ttl)");
    ch_new->add_option("--uses", cc.uses, "enrollments it allows (default 1)")->check(CLI::Range(1, 1000000));
    ch_new->add_option("--label", cc.label, "a name for it, e.g. the device ID");
    ch_new->add_option("--subject", cc.subject, "bind: exactly this CSR subject");
    ch_new->add_option("--subject-regex", cc.subject_regex, "bind: the whole CSR subject matches this RE2 pattern (e.g. 'CN=laptop-42(,.*)?')");
    ch_new->add_option("--san", cc.sans, "bind: allowed subjectAltName, e.g. DNS:dev-1.example (repeat)");
    ch_new->add_option("--key-type", cc.key_type, "bind: rsa or ec")->check(CLI::IsMember({"rsa", "ec"}));
    ch_new->add_option("--min-key-bits", cc.min_key_bits, "bind: at least this key size")->check(CLI::Range(1, 16384));
    ch_new->add_option("--client", cc.client, "bind: the client address that must use it");
    auto* ch_list = challenge_cmd->add_subcommand("list", "live challenges (no values: only their hashes are kept)");
    ch_list->add_flag("--all", cc.all, "used, expired and revoked ones too");
    auto* ch_revoke = challenge_cmd->add_subcommand("revoke", "revoke a challenge by its id");
    ch_revoke->add_option("id", cc.id, "the id (ch-...)")->required();
    for (auto* sub : {ch_new, ch_list, ch_revoke}) {
        sub->add_option("--url", cc.url, "the server's base URL; default from the listen address and port settings");
        sub->add_flag("--json", cc.json, "the admin API's JSON");
    }

    scep::client::conformance_options co;
    bool co_list = false;
    auto* conformance = app.add_subcommand(
        "conformance", "score a SCEP client against every fault kind: one run per case (docs/conformance.md)");
    conformance->add_option("--client", co.client, "a built-in client profile: scepclient or certmonger")
        ->check(CLI::IsMember({"scepclient", "certmonger"}));
    conformance->add_option("--case", co.only, "run only these cases (repeatable; the baseline always runs)");
    conformance->add_option("--timeout", co.timeout_seconds, "seconds per run before the client counts as hung")
        ->check(CLI::Range(1, 3600));
    conformance->add_option("--markdown", co.markdown_file, "write the scorecard as Markdown");
    conformance->add_option("--junit", co.junit_file, "write the scorecard as JUnit XML");
    conformance->add_option("--work-dir", co.work_dir, "keep the server's and each case's files here");
    conformance->add_flag("--no-fail", co.no_fail_exit, "exit 0 even when a case FAILs");
    conformance->add_flag("--list", co_list, "list the cases and what a correct client does, then exit");
    bool co_catalogue = false;
    conformance->add_flag("--catalogue", co_catalogue, "print the cases as a Markdown table, then exit");
    conformance->add_option("command", co.command,
                            "the client command after --, with {url} {challenge} {dir} {cn} {ca}");

    scep::challenge_server_options cs;
    std::vector<std::string> cs_rules;
    auto* challenge_server = app.add_subcommand(
        "challenge-server", "a reference webhook / NDES policy-module server for tests and demos (docs/challenges.md)");
    challenge_server->add_option("--listen", cs.listen, "address to listen on (default 127.0.0.1)");
    challenge_server->add_option("--port", cs.port, "port; 0 picks a free one (default)");
    challenge_server->add_option("--port-file", cs.port_file, "write the port here once listening");
    challenge_server->add_option("--secret", cs.secret,
                                 "check the HMAC signature with this key (step-ca calls: base64); empty = not checked");
    challenge_server->add_option("--allow", cs.allow, "a challenge to allow (repeat)");
    challenge_server->add_option("--rule", cs_rules,
                                 "CHALLENGE=OUTCOME, outcome: allow, deny[:reason], unverified[:reason], "
                                 "timeout[:seconds], malformed, status:CODE, hresult:0x8XXXXXXX (repeat)");
    challenge_server->add_option("--deny-reason", cs.deny_reason, "the reason given for challenges not allowed");
    challenge_server->add_option("--template", cs.template_name, "GetTemplate's answer (default: keep NDES's choice)");
    challenge_server->add_option("--log", cs.log_file, "append every call here as a JSON line");

    auto* version = app.add_subcommand("version", "print the version");
    auto* presets = app.add_subcommand("presets", "list the ready configurations for --preset");

    CLI11_PARSE(app, argc, argv);
    if (challenge_server->parsed()) return scep::cli::challenge_server_command(cs, cs_rules, std::cout);

    if (version->parsed()) {
        std::cout << "scep-lab " << SCEP_LAB_VERSION << "\n";
        return 0;
    }
    if (presets->parsed()) {
        // Each preset's first comment line says what it reproduces.
        for (const auto& p : scep::config::presets()) {
            std::string first = p.text.substr(0, p.text.find('\n'));
            auto colon = first.find(": ");
            std::cout << p.name << "\n    " << (colon == std::string::npos ? first : first.substr(colon + 2)) << "\n";
        }
        return 0;
    }
    if (bench->parsed()) {
        auto k = scep::key_type_from_name(bench_key);
        auto c = scep::content_cipher_from_name(bench_cipher);
        auto d = scep::digest_alg_from_name(bench_digest);
        if (!k || !c || !d) {
            std::cerr << "scep-lab bench: unknown " << (!k ? "--key " + bench_key : !c ? "--cipher " + bench_cipher
                                                                                 : "--digest " + bench_digest)
                      << "\n";
            return 2;
        }
        bo.key = *k;
        bo.cipher = *c;
        bo.digest = *d;
        bo.progress = !bo.json && ::isatty(2);
        auto r = scep::client::run_bench(bo, std::cerr);
        if (!r) {
            std::cerr << "scep-lab bench: " << r.message() << "\n";
            return 1;
        }
        std::cout << scep::client::bench_report(bo, *r);
        return r->failed == 0 ? 0 : 3;
    }
    if (conformance->parsed() && co_catalogue) {
        std::cout << scep::client::cases_markdown();
        return 0;
    }
    if (conformance->parsed() && co_list) {
        for (const auto& c : scep::client::conformance_cases())
            std::cout << c.name << "\t" << scep::client::to_string(c.expect) << "\t" << c.why << "\n";
        return 0;
    }
    if (conformance->parsed()) {
        co.server_config = f.config_file;
        co.server_preset = f.preset;
        std::error_code ec;
        auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        return scep::client::conformance(ec ? argv[0] : self.string(), co, std::cout);
    }
    if (inspect->parsed() && inspect_catalogue) return scep::cli::print_catalogue(std::cout);
    if (inspect->parsed() && inspect_target.empty()) {
        std::cerr << "scep-lab inspect: give a transaction id or a file (or --catalogue)\n";
        return 2;
    }
    if (transactions->parsed() && !tx_query.finding.empty() && !scep::inspect::find_finding(tx_query.finding)) {
        std::cerr << "scep-lab transactions: --finding " << tx_query.finding
                  << " is not in the catalogue (scep-lab inspect --catalogue)\n";
        return 2;
    }
    // The variable list needs no settled configuration (it explains a broken one).
    if (show->parsed() && show_env) {
        for (const auto& e : scep::config::env_variables())
            std::cout << e.name << "\t" << e.setting << "\t" << e.doc << "\n";
        return 0;
    }
    if (show->parsed() && show_keys) {
        for (const auto& k : scep::config::setting_keys()) std::cout << k.name << "\t" << k.kind << "\t" << k.doc << "\n";
        return 0;
    }
    auto s = settle(f);
    if (!s) {
        std::cerr << "scep-lab: configuration error: " << s.message() << "\n";
        return 2;
    }
    if (serve->parsed()) return scep::cli::serve(*s);
    if (apple->parsed()) {
        auto add = [&pc](const std::string& key, const std::string& value) {
            if (value.empty()) return;
            pc.query += (pc.query.empty() ? "" : "&") + key + "=" + scep::percent_encode(value);
        };
        add("ssid", p_ssid);
        add("security", p_security);
        for (const auto& n : p_radius) add("radius_name", n);
        for (const auto& n : p_omit) add("omit", n);
        add("subject", p_subject);
        add("fingerprint", p_fingerprint);
        add("fingerprint_ca", p_fingerprint_ca);
        if (p_key_size) add("key_size", std::to_string(*p_key_size));
        if (apple->count("--challenge")) pc.challenge = p_challenge;
        return scep::cli::apple_profile(*s, pc, std::cout);
    }
    if (issue->parsed()) {
        io.names = issue_dns;
        io.names.insert(io.names.end(), issue_ip.begin(), issue_ip.end());
        if (io.names.empty()) {
            std::cerr << "scep-lab issue: give at least one --dns or --ip\n";
            return 2;
        }
        return scep::cli::issue_server(*s, io, std::cout);
    }
    if (init->parsed()) return scep::cli::init(*s, std::cout);
    if (transactions->parsed()) return scep::cli::transactions_list(*s, tx_format, tx_query, std::cout);
    if (challenge_cmd->parsed()) {
        cc.action = ch_new->parsed() ? "new" : ch_list->parsed() ? "list" : "revoke";
        return scep::cli::challenge_command(*s, cc, std::cout);
    }
    if (fault->parsed()) {
        fc.action = fault_add->parsed() ? "add" : fault_list->parsed() ? "list" : "clear";
        for (auto [key, value] : {std::pair{"operation", &fw_operation}, std::pair{"message_type", &fw_message_type},
                                  std::pair{"transaction_id", &fw_txid}, std::pair{"client", &fw_client},
                                  std::pair{"subject", &fw_subject}})
            if (!value->empty()) fc.when.emplace_back(key, *value);
        return scep::cli::fault_command(*s, fc, std::cout);
    }
    if (inspect->parsed()) return scep::cli::inspect(*s, inspect_target, inspect_format, std::cout);
    if (list->parsed()) {
        if (!list_query.serial.empty()) list_query.serial = scep::normalize_serial(list_query.serial);
        return scep::cli::list(*s, list_format, list_query, std::cout);
    }
    if (reset->parsed()) return scep::cli::reset_store(*s, std::cout);
    if (rollover->parsed()) return scep::cli::rollover(*s, activate, keep_ra, rollover_live, rollover_url, std::cout);
    if (revoke->parsed()) return scep::cli::revoke(*s, serial, reason, std::cout);
    if (approve->parsed()) return scep::cli::decide(*s, txid, true, "", std::cout);
    if (reject->parsed()) return scep::cli::decide(*s, txid, false, why, std::cout);
    if (pending->parsed()) return scep::cli::pending_list(*s, all_pending, std::cout);
    if (health->parsed()) return scep::cli::health(*s, health_url, std::cout);
    if (seed->parsed()) return scep::cli::seed(*s, seed_count, std::cout);
    if (exporter->parsed()) return scep::cli::export_file(*s, export_what, export_format, export_out, std::cout);
    if (show->parsed()) {
        std::cout << scep::config::to_toml(*s, show_secrets);
        return 0;
    }
    return 0;
}
