// What the running server holds, through its admin API (fault, challenge)
// or its transaction log (transaction, inspect).
#include <cctype>
#include <iostream>
#include <memory>

#include "cli/app.hpp"
#include "pki/persona/persona.hpp"
#include "pki/crypto/pattern.hpp"
#include "cli/commands.hpp"
#include "cli/inspect.hpp"
#include "pki/inspect/findings.hpp"

namespace scep::cli {

namespace {

void fault_commands(CLI::App& app, command_line& cl) {
    struct options {
        fault_cli fc;
        std::string operation, message_type, txid, client, subject, subject_regex, format = "text";
    };
    auto o = std::make_shared<options>();
    auto* fault = app.add_subcommand("fault", "arm, list or remove fault rules on the running server (docs/faults.md)");
    fault->require_subcommand(1);
    auto* add = fault->add_subcommand("add", "arm a rule: a fault kind and the requests it applies to");
    add->add_option("kind", o->fc.kind, "the fault (scep-lab fault list shows the kinds)")->required();
    add->add_option("--operation", o->operation, "GetCACaps, GetCACert, GetNextCACert or PKIOperation");
    add->add_option("--message-type", o->message_type, "PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL");
    add->add_option("--transaction-id", o->txid, "this transactionID only");
    add->add_option("--client", o->client, "this client address only");
    add->add_option("--subject", o->subject, "exactly this CSR subject (e.g. 'CN=dev-1,O=lab')");
    add->add_option("--subject-regex", o->subject_regex, "an RE2 pattern searched in the CSR subject (e.g. '^CN=dev-')");
    add->add_option("--first", o->fc.first, "only the first N matching requests");
    add->add_option("--every", o->fc.every, "only every N-th matching request");
    add->add_option("--probability", o->fc.probability, "this share of matching requests (with --seed)")
        ->check(CLI::Range(0.000001, 1.0));
    add->add_option("--seed", o->fc.seed, "seed of --probability (reproducible choices)");
    add->add_option("--status", o->fc.status, "http-status: the status sent (400-599); redirect: 301, 302, 303, 307, 308");
    add->add_option("--delay-ms", o->fc.delay_ms, "delay-headers, delay-body: the pause in milliseconds (default 3000)")
        ->check(CLI::Range(0, 600000));
    add->add_option("--retry-after", o->fc.retry_after, "http-status: Retry-After seconds");
    add->add_option("--cipher", o->fc.cipher, "forced-cipher: des, des3, aes128, aes192 or aes256");
    add->add_flag("--one-shot", o->fc.one_shot, "remove the rule after it fired once");
    auto* list = fault->add_subcommand("list", "the armed rules (matched and fired counts) and the kinds");
    add_format_option(*list, o->format);
    auto* clear = fault->add_subcommand("clear", "remove one rule, or all");
    clear->add_option("id", o->fc.id, "the rule's id (f1, ...); all when omitted");
    for (auto* sub : {add, list, clear})
        sub->add_option("--url", o->fc.url, "the server's base URL; default from the listen address and port settings");
    auto run = [&cl, o](fault_cli::verb verb) {
        return [&cl, o, verb] {
            fault_cli fc = o->fc;
            fc.action = verb;
            fc.json = o->format == "json";
            std::string subject = o->subject_regex;
            if (!o->subject.empty()) {
                // Before --subject-regex existed, --subject was a pattern: a
                // value that reads as one is still taken as one, with a warning.
                if (o->subject.find_first_of("^$*?()[]{}|\\") != std::string::npos) {
                    std::cerr << "scep-lab fault add: --subject is the exact subject now; \"" << o->subject
                              << "\" is taken as a pattern as before (say --subject-regex)\n";
                    subject = o->subject;
                } else {
                    subject = pattern::exactly(o->subject);
                }
            }
            for (auto [key, value] : {std::pair{"operation", &o->operation}, std::pair{"message_type", &o->message_type},
                                      std::pair{"transaction_id", &o->txid}, std::pair{"client", &o->client},
                                      std::pair{"subject", &subject}})
                if (!value->empty()) fc.when.emplace_back(key, *value);
            cl.choose_with_settings([fc](const config::settings& s) { return fault_command(s, fc, std::cout); });
        };
    };
    add->callback(run(fault_cli::verb::add));
    list->callback(run(fault_cli::verb::list));
    clear->callback(run(fault_cli::verb::clear));
}

void challenge_add(CLI::App& cmd, challenge_cli& cc) {
    cmd.add_option("--ttl", cc.ttl, "lifetime, e.g. 10m (default: challenge.default_ttl)");
    cmd.add_option("--uses", cc.uses, "enrollments it allows (default 1)")->check(CLI::Range(1, 1000000));
    cmd.add_option("--label", cc.label, "a name for it, e.g. the device ID");
    cmd.add_option("--subject", cc.subject, "bind: exactly this CSR subject");
    cmd.add_option("--subject-regex", cc.subject_regex,
                   "bind: the whole CSR subject matches this RE2 pattern (e.g. 'CN=laptop-42(,.*)?')");
    cmd.add_option("--san", cc.sans, "bind: allowed subjectAltName, e.g. DNS:dev-1.example (repeat)");
    cmd.add_option("--key-type", cc.key_type, "bind: rsa or ec")->check(CLI::IsMember({"rsa", "ec"}));
    cmd.add_option("--min-key-bits", cc.min_key_bits, "bind: at least this key size")->check(CLI::Range(1, 16384));
    cmd.add_option("--client", cc.client, "bind: the client address that must use it");
}

void challenge_commands(CLI::App& app, command_line& cl) {
    struct options {
        challenge_cli cc;
        std::string format = "text";
    };
    auto o = std::make_shared<options>();
    auto* challenge = app.add_subcommand("challenge", "hand out, list or revoke challenges (challenge.mode = \"api\")");
    challenge->require_subcommand(1);
    auto* add = challenge->add_subcommand("add", "a new challenge; printed once, on the first line");
    add->alias("new");  // the old spelling
    challenge_add(*add, o->cc);
    auto* list = challenge->add_subcommand("list", "live challenges (no values: only their hashes are kept)");
    list->add_flag("--all", o->cc.all, "used, expired and revoked ones too");
    auto* revoke = challenge->add_subcommand("revoke", "revoke a challenge by its id");
    revoke->add_option("id", o->cc.id, "the id (ch-...)")->required();
    for (auto* sub : {add, list, revoke}) {
        sub->add_option("--url", o->cc.url, "the server's base URL; default from the listen address and port settings");
        add_format_option(*sub, o->format);
    }
    auto run = [&cl, o](challenge_cli::verb verb) {
        return [&cl, o, verb] {
            challenge_cli cc = o->cc;
            cc.action = verb;
            cc.json = o->format == "json";
            cl.choose_with_settings([cc](const config::settings& s) { return challenge_command(s, cc, std::cout); });
        };
    };
    add->callback(run(challenge_cli::verb::add));
    list->callback(run(challenge_cli::verb::list));
    revoke->callback(run(challenge_cli::verb::revoke));
}

void transaction_list(CLI::App& cmd, command_line& cl) {
    struct options {
        std::string format = "text";
        transaction_query query;
    };
    auto o = std::make_shared<options>();
    add_format_option(cmd, o->format);
    cmd.add_option("-n,--limit", o->query.limit, "how many (default 100)")->check(CLI::Range(1, 100000));
    cmd.add_option("--offset", o->query.offset, "skip this many first");
    cmd.add_option("--client", o->query.client, "from this client address");
    cmd.add_option("--status", o->query.status, "pkiStatus (SUCCESS, FAILURE, PENDING) or HTTP status");
    cmd.add_option("--finding", o->query.finding, "raising this finding (see inspect --catalogue)");
    cmd.add_option("--severity", o->query.severity, "at least this bad")->check(CLI::IsMember({"error", "warning", "note"}));
    cmd.add_option("--transaction-id", o->query.transaction_id, "this SCEP transactionID");
    cmd.add_option("--device", o->query.device, "consistent with this device persona (scep-lab personas)");
    cmd.callback([&cl, o] {
        if (!o->query.device.empty() && !persona::find(o->query.device)) {
            cl.choose([o] {
                std::cerr << "scep-lab transaction list: --device " << o->query.device << " is not a persona ("
                          << persona::names() << ")\n";
                return 2;
            });
            return;
        }
        if (!o->query.finding.empty() && !inspect::find_finding(o->query.finding)) {
            cl.choose([o] {
                std::cerr << "scep-lab transaction list: --finding " << o->query.finding
                          << " is not in the catalogue (scep-lab inspect --catalogue)\n";
                return 2;
            });
            return;
        }
        cl.choose_with_settings(
            [o](const config::settings& s) { return transactions_list(s, o->format, o->query, std::cout); });
    });
}

void inspect_command(CLI::App& app, command_line& cl) {
    struct options {
        std::vector<std::string> targets;
        std::string format = "text";
        evidence_options evidence;
        bool catalogue = false;
    };
    auto o = std::make_shared<options>();
    auto* cmd = app.add_subcommand(
        "inspect", "decode evidence offline: captures (pcap, pcapng), HAR, IIS logs and event exports as one timeline "
                   "per client, a captured SCEP message (DER, PEM or base64), or one recorded transaction");
    cmd->add_option("target", o->targets, "a transaction id, a SCEP message file, or evidence files (docs/evidence.md)");
    cmd->add_option("--format", o->format, "text or json")->check(CLI::IsMember({"text", "json"}));
    cmd->add_option("--ra-key", o->evidence.ra_key_file,
                    "evidence: the server's RA private key (PEM, its certificate may follow), to open what was encrypted to it");
    cmd->add_option("--html", o->evidence.html,
                    "evidence: also write the timeline as one self-contained HTML page (no script, no network)");
    cmd->add_option("--tls-keylog", o->evidence.tls_keylog,
                    "evidence: TLS session secrets (SSLKEYLOGFILE, NSS key log format) that open HTTPS in captures");
    cmd->add_flag("--import", o->evidence.import,
                  "evidence: add the decoded exchanges to the lab's transaction log (--data-dir), beside its own");
    cmd->add_flag("--catalogue", o->catalogue, "print the findings catalogue (Markdown) and exit");
    cmd->callback([&cl, o] {
        if (o->catalogue) return cl.choose([] { return print_catalogue(std::cout); });
        if (o->targets.empty())
            return cl.choose([] {
                std::cerr << "scep-lab inspect: give a transaction id, a file or evidence files (or --catalogue)\n";
                return 2;
            });
        if (o->targets.size() > 1 || is_evidence_file(o->targets.front()) || !o->evidence.ra_key_file.empty() ||
            !o->evidence.html.empty() || o->evidence.import || !o->evidence.tls_keylog.empty()) {
            cl.choose_with_settings([o](const config::settings& s) {
                return inspect_evidence(s, o->targets, o->evidence, o->format, std::cout);
            });
            return;
        }
        cl.choose_with_settings(
            [o](const config::settings& s) { return inspect(s, o->targets.front(), o->format, std::cout); });
    });
}

}  // namespace

void add_live_commands(CLI::App& app, command_line& cl) {
    fault_commands(app, cl);
    challenge_commands(app, cl);
    auto* transaction = app.add_subcommand("transaction", "the SCEP exchanges the inspector recorded: list, show");
    transaction->require_subcommand(1);
    transaction_list(*transaction->add_subcommand("list", "recorded exchanges, newest first, filtered"), cl);
    {
        auto* show = transaction->add_subcommand("show", "one recorded exchange, decoded, with its findings");
        struct options {
            std::string id, format = "text";
        };
        auto o = std::make_shared<options>();
        show->add_option("id", o->id, "the transaction's id (transaction list shows them)")->required();
        add_format_option(*show, o->format);
        show->callback([&cl, o] {
            if (o->id.empty() || o->id.size() > 18 || o->id.find_first_not_of("0123456789") != std::string::npos)
                return cl.choose([o] {
                    std::cerr << "scep-lab transaction show: \"" << o->id << "\" is not a transaction id (a number)\n";
                    return 2;
                });
            cl.choose_with_settings([o](const config::settings& s) { return inspect(s, o->id, o->format, std::cout); });
        });
    }
    inspect_command(app, cl);
    cl.keep_old_spelling(app, "transactions", "transaction list", [&cl](CLI::App& c) { transaction_list(c, cl); });
}

}  // namespace scep::cli
