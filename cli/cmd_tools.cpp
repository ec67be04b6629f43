// Tools that run beside a server: bench (load), conformance (scores a
// client), challenge-server (a reference webhook / NDES policy module).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "client/bench.hpp"
#include "client/conformance.hpp"
#include "client/probe.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/persona/persona.hpp"

namespace scep::cli {

namespace {

void bench(CLI::App& app, command_line& cl) {
    struct options {
        client::bench_options bo;
        std::string key = "rsa2048", cipher = "aes128", digest = "sha256", format = "text";
    };
    auto o = std::make_shared<options>();
    auto& bo = o->bo;
    auto* cmd = app.add_subcommand("bench", "SCEP load generator: N enrollments over C connections, replies checked");
    cmd->add_option("url", bo.url, "SCEP URL, e.g. http://127.0.0.1:8080/scep")->required();
    cmd->add_option("-n,--requests", bo.requests, "enrollments, each with its own key (default 1000)")
        ->check(CLI::Range(1, 10000000));
    cmd->add_option("-c,--connections", bo.connections, "concurrent keep-alive connections (default 16)")
        ->check(CLI::Range(1, 10000));
    cmd->add_flag("--get", bo.use_get, "send PKIOperation by GET (default POST)");
    cmd->add_option("--key", o->key, "rsa2048 (default), rsa3072, rsa4096, ec-p256, ec-p384");
    cmd->add_option("--cipher", o->cipher, "envelope cipher: aes128 (default), aes192, aes256, des3, des");
    cmd->add_option("--digest", o->digest, "signature digest: sha256 (default), sha1, sha224, sha384, sha512");
    cmd->add_option("--bench-challenge", bo.challenge, "challenge password (default scep-lab-challenge)");
    cmd->add_option("-k,--check-every", bo.check_every, "decrypt every K-th reply and match it to its key (default 10)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--keys", bo.distinct_keys, "distinct keys, cycled over the requests (default: one each)");
    cmd->add_option("--key-cache", bo.key_cache, "PEM file of keys reused across runs (created and extended)");
    cmd->add_option("--server-pid", bo.server_pid,
                    "read the server's CPU time from /proc/PID/stat (default: its /metrics, when it has them)");
    cmd->add_flag("!--no-floor", bo.floor, "skip the in-process measurement of the crypto floor");
    cmd->add_flag("--new-connection", bo.new_connection,
                  "a new connection for every enrollment (HTTPS: resuming the previous TLS session)");
    cmd->add_option("--ca-file", bo.ca_file, "https://: verify the server against these PEM certificates");
    cmd->add_option("--received", bo.received, "write \"transactionID serial\" of every SUCCESS reply here");
    add_format_option(*cmd, o->format);
    cmd->callback([&cl, o] {
        cl.choose([o] {
            auto k = key_type_from_name(o->key);
            auto c = content_cipher_from_name(o->cipher);
            auto d = digest_alg_from_name(o->digest);
            if (!k || !c || !d) {
                std::cerr << "scep-lab bench: unknown "
                          << (!k ? "--key " + o->key : !c ? "--cipher " + o->cipher : "--digest " + o->digest) << "\n";
                return 2;
            }
            client::bench_options bo = o->bo;
            bo.key = *k;
            bo.cipher = *c;
            bo.digest = *d;
            bo.json = o->format == "json";
            bo.progress = !bo.json && ::isatty(2);
            auto r = client::run_bench(bo, std::cerr);
            if (!r) {
                std::cerr << "scep-lab bench: " << r.message() << "\n";
                return 1;
            }
            std::cout << client::bench_report(bo, *r);
            return r->failed == 0 ? 0 : 3;
        });
    });
}

void conformance(CLI::App& app, command_line& cl) {
    struct options {
        client::conformance_options co;
        bool list = false, catalogue = false;
    };
    auto o = std::make_shared<options>();
    auto& co = o->co;
    auto* cmd = app.add_subcommand(
        "conformance", "score a SCEP client against every fault kind: one run per case (docs/conformance.md)");
    cmd->add_option("--client", co.client, "a built-in client profile: scepclient or certmonger")
        ->check(CLI::IsMember({"scepclient", "certmonger"}));
    cmd->add_option("--client-name", co.client_name,
                    "the client's name in the reports (default: the profile, or the command's file name)");
    cmd->add_option("--client-version", co.client_version,
                    "the client's version in the reports (default: the profile's package, or the first line of the "
                    "command's --version when it is a program, not a script)");
    cmd->add_option("--case", co.only, "run only these cases (repeatable; the baseline always runs)");
    cmd->add_option("--timeout", co.timeout_seconds, "seconds per run before the client counts as hung")
        ->check(CLI::Range(1, 3600));
    cmd->add_option("--markdown", co.markdown_file, "write the scorecard as Markdown");
    cmd->add_option("--junit", co.junit_file, "write the scorecard as JUnit XML");
    cmd->add_option("--work-dir", co.work_dir, "keep the server's and each case's files here");
    cmd->add_flag("--no-fail", co.no_fail_exit, "exit 0 even when a case FAILs");
    cmd->add_flag("--list", o->list, "list the cases and what a correct client does, then exit");
    cmd->add_flag("--catalogue", o->catalogue, "print the cases as a Markdown table, then exit");
    cmd->add_option("--server", co.server_url,
                    "score against a lab that already runs (its base or SCEP URL; SCEP_LAB_URL of an env file) "
                    "instead of a private one");
    cmd->add_option("--admin-token", co.admin_token, "with --server: its admin API token (default SCEP_LAB_ADMIN_TOKEN)");
    cmd->add_option("--challenge", co.challenge,
                    "with --server: the challenge its clients use (default SCEP_LAB_CHALLENGE, else scep-lab-challenge)");
    cmd->add_option("--trigger", co.trigger,
                    "watch a device instead of running a client: per case, this shell command makes the device "
                    "enroll (an MDM API call, adb shell ...); SCEP_LAB_CASE, _URL, _CHALLENGE, _CA, _DIR, _CN, "
                    "_EXPECT in its environment");
    cmd->add_flag("--manual", co.manual,
                  "watch a device a person makes enroll: per case, a prompt here and on the lab's status page");
    cmd->add_option("--check", co.check,
                    "with --trigger/--manual: a shell command run after each case's window; exit 0 = the device "
                    "holds a certificate from this case (an MDM API query)");
    cmd->add_option("--settle", co.settle_seconds,
                    "with --trigger/--manual: end a case's window once the device has been quiet this many seconds "
                    "after a final answer (default 10; --timeout is the longest window)")
        ->check(CLI::Range(1, 3600));
    cmd->add_option("--device-address", co.device_address,
                    "with --trigger/--manual: only this client address's exchanges are the device's");
    cmd->add_option("--device-cn", co.device_cn,
                    "with --trigger/--manual: the device's requests carry a CN matching this pattern (shell glob)");
    cmd->add_option("command", co.command, "the client command after --, with {url} {challenge} {dir} {cn} {ca}");
    cmd->callback([&cl, o] {
        cl.choose([&cl, o] {
            if (o->catalogue) {
                std::cout << client::cases_markdown();
                return 0;
            }
            if (o->list) {
                for (const auto& c : client::conformance_cases())
                    std::cout << c.name << "\t" << client::to_string(c.expect) << "\t" << c.why << "\n";
                return 0;
            }
            client::conformance_options co = o->co;
            co.server_config = cl.flags.config_file;
            co.server_preset = cl.flags.preset;
            if (co.server_url.empty() && (!co.admin_token.empty() || !co.challenge.empty())) {
                std::cerr << "scep-lab conformance: --admin-token and --challenge go with --server (a private lab "
                             "makes its own)\n";
                return 2;
            }
            if (const char* t = std::getenv("SCEP_LAB_ADMIN_TOKEN"); t && co.admin_token.empty()) co.admin_token = t;
            if (const char* c = std::getenv("SCEP_LAB_CHALLENGE"); c && co.challenge.empty()) co.challenge = c;
            if (co.challenge.empty()) co.challenge = "scep-lab-challenge";
            return client::conformance(cl.self(), co, std::cout);
        });
    });
}

void probe(CLI::App& app, command_line& cl) {
    struct options {
        client::probe_options po;
        std::vector<std::string> urls;
        bool compare = false;
        std::string challenge_b;
    };
    auto all = std::make_shared<options>();
    auto o = std::shared_ptr<client::probe_options>(all, &all->po);
    auto* cmd = app.add_subcommand("probe",
                                   "act as a device (iPhone, Windows, Android, Cisco, RFC 8894) against any SCEP "
                                   "server and say where it would fail (docs/probe.md)");
    cmd->add_option("url", all->urls, "the server's SCEP URL, e.g. https://ndes.example/certsrv/mscep/mscep.dll "
                                      "(two with --compare)")
        ->required()
        ->expected(1, 2);
    cmd->add_flag("--compare", all->compare,
                  "send the same personas and suite to two servers (URL_A URL_B) and show where they differ");
    cmd->add_option("--challenge-b", all->challenge_b, "with --compare: the second server's challenge, when it differs");
    cmd->add_option("--persona", o->personas, "a persona (repeatable), or all: scep-lab personas lists them");
    cmd->add_option("--suite", o->suite, "run the server compliance suite too: rfc8894")
        ->check(CLI::IsMember({"rfc8894"}));
    cmd->add_option("--challenge", o->challenge, "the challenge password to send");
    cmd->add_option("--challenge-file", o->challenge_file, "read the challenge from this file's first line");
    cmd->add_option("--ndes-user", o->ndes_user, "fetch a one-time password from the NDES admin page as this user");
    cmd->add_option("--ndes-password", o->ndes_password, "with --ndes-user: the password (Basic authentication)");
    cmd->add_option("--ndes-admin-url", o->ndes_admin_url,
                    "with --ndes-user: the admin page (default <server>/certsrv/mscep_admin/)");
    cmd->add_option("--admin-token", o->admin_token,
                    "fetch a one-use challenge from a scep-lab's challenge API ([challenge] mode = \"api\")");
    cmd->add_option("--ca-file", o->ca_file, "https://: verify the server against these PEM certificates");
    cmd->add_option("--ca-thumbprint", o->ca_thumbprint,
                    "the CA's SHA-1 thumbprint a pinning device's profile names (Windows CAThumbprint)");
    cmd->add_option("--trust", o->trust_file, "PEM roots the device's profile installs (not sent in GetCACert)");
    cmd->add_option("--device-name", o->device_name, "{device} in the personas' subjects");
    cmd->add_flag("--real-time", o->real_time, "wait as long as the device would between polls and retries");
    cmd->add_flag("--dry-run", o->dry_run, "read-only: GetCACaps, GetCACert and GetNextCACert; nothing is issued");
    cmd->add_option("--timeout", o->timeout_seconds, "seconds per HTTP exchange (default 30)")
        ->check(CLI::Range(1, 3600));
    cmd->add_option("--markdown", o->markdown_file, "write the report as Markdown");
    cmd->add_option("--junit", o->junit_file, "write the report as JUnit XML");
    add_format_option(*cmd, o->format);
    cmd->callback([&cl, all, o] {
        cl.choose([all, o] {
            if (all->urls.size() != (all->compare ? 2u : 1u)) {
                std::cerr << "scep-lab probe: " << (all->compare ? "--compare takes two URLs: URL_A URL_B\n"
                                                                  : "one URL (two only with --compare)\n");
                return 2;
            }
            o->url = all->urls.front();
            if (all->compare && o->personas.empty() && o->suite.empty()) {
                o->personas = {"all"};
                o->suite = "rfc8894";
            }
            if (!o->ndes_user.empty() + !o->challenge.empty() + !o->challenge_file.empty() + !o->admin_token.empty() > 1) {
                std::cerr << "scep-lab probe: choose one of --challenge, --challenge-file, --ndes-user, --admin-token\n";
                return 2;
            }
            if (o->personas.empty() && o->suite.empty()) {
                std::cerr << "scep-lab probe: say what to run: --persona NAME|all, --suite rfc8894, or both\n";
                return 2;
            }
            for (const auto& name : o->personas)
                if (name != "all" && !persona::find(name)) {
                    std::cerr << "scep-lab probe: no persona \"" << name << "\" (" << persona::names() << ", all)\n";
                    return 2;
                }
            for (const auto& url : all->urls)
                if (auto u = client::parse_scep_url(url); !u) {
                    std::cerr << "scep-lab probe: " << u.message() << "\n";
                    return 2;
                }
            auto write = [](const std::string& file, const std::string& text) {
                if (file.empty()) return true;
                std::ofstream out(file, std::ios::binary);
                out << text;
                if (out) return true;
                std::cerr << "scep-lab probe: cannot write " << file << "\n";
                return false;
            };
            if (all->compare) {
                auto c = client::run_compare(*o, all->urls[1], all->challenge_b, std::cerr);
                if (!c) {
                    std::cerr << "scep-lab probe: " << c.message() << "\n";
                    return 1;
                }
                bool written = write(o->markdown_file, client::compare_markdown(*c));
                if (o->format == "json")
                    std::cout << json_text(client::compare_json(*c)) << "\n";
                else
                    std::cout << client::compare_text(*c);
                return written && c->differences.empty() ? 0 : 1;
            }
            auto r = client::run_probe(*o, std::cerr);
            if (!r) {
                std::cerr << "scep-lab probe: " << r.message() << "\n";
                return 1;
            }
            bool written = write(o->markdown_file, client::probe_markdown(*r)) &&
                           write(o->junit_file, client::probe_junit(*r));
            if (o->format == "json")
                std::cout << json_text(client::probe_json(*r)) << "\n";
            else
                std::cout << client::probe_text(*r);
            return written && r->clean() ? 0 : 1;
        });
    });
}

void personas(CLI::App& app, command_line& cl) {
    struct options {
        bool markdown = false;
        std::string name;
    };
    auto o = std::make_shared<options>();
    auto* cmd = app.add_subcommand("personas", "list the device personas, or one's rules (docs/personas.md)");
    cmd->add_option("name", o->name, "a persona: its rules with sources and confidence");
    cmd->add_flag("--markdown", o->markdown, "write docs/personas.md (every persona) to standard output");
    cmd->callback([&cl, o] {
        cl.choose([o] {
            if (o->markdown) {
                std::cout << persona::markdown(persona::all());
                return 0;
            }
            if (o->name.empty()) {
                for (const auto& p : persona::all())
                    std::cout << p.name << "\t" << p.confidence << "\t" << p.title << "\n";
                return 0;
            }
            const persona::persona* p = persona::find(o->name);
            if (!p) {
                std::cerr << "scep-lab personas: no persona \"" << o->name << "\" (" << persona::names() << ")\n";
                return 2;
            }
            std::cout << p->title << " (" << p->name << ", confidence " << p->confidence << ")\n";
            for (const auto& r : p->rules)
                std::cout << "  " << r.id << " = " << r.value_text << (r.inherited ? "  (inherited)" : "") << "\n      "
                          << r.says << "\n      source: " << (r.inherited ? "none for this device" : r.source)
                          << (r.inherited ? "" : " (" + r.confidence + ")") << "\n";
            return 0;
        });
    });
}

void challenge_server(CLI::App& app, command_line& cl) {
    struct options {
        challenge_server_options cs;
        std::vector<std::string> rules;
    };
    auto o = std::make_shared<options>();
    auto& cs = o->cs;
    auto* cmd = app.add_subcommand(
        "challenge-server", "a reference webhook / NDES policy-module server for tests and demos (docs/challenges.md)");
    cmd->add_option("--listen", cs.listen, "address to listen on (default 127.0.0.1)");
    cmd->add_option("--port", cs.port, "port; 0 picks a free one (default)");
    cmd->add_option("--port-file", cs.port_file, "write the port here once listening");
    cmd->add_option("--secret", cs.secret,
                    "check the HMAC signature with this key (step-ca calls: base64); empty = not checked");
    cmd->add_option("--allow", cs.allow, "a challenge to allow (repeat)");
    cmd->add_option("--rule", o->rules,
                    "CHALLENGE=OUTCOME, outcome: allow, deny[:reason], unverified[:reason], "
                    "timeout[:seconds], malformed, status:CODE, hresult:0x8XXXXXXX (repeat)");
    cmd->add_option("--deny-reason", cs.deny_reason, "the reason given for challenges not allowed");
    cmd->add_option("--template", cs.template_name, "GetTemplate's answer (default: keep NDES's choice)");
    cmd->add_option("--log", cs.log_file, "append every call here as a JSON line");
    cmd->callback([&cl, o] { cl.choose([o] { return challenge_server_command(o->cs, o->rules, std::cout); }); });
}

}  // namespace

void add_tool_commands(CLI::App& app, command_line& cl) {
    bench(app, cl);
    conformance(app, cl);
    probe(app, cl);
    personas(app, cl);
    challenge_server(app, cl);
}

}  // namespace scep::cli
