// The store: cert list|show|revoke|export, pending list|approve|reject,
// store reset|seed. Each works on the data directory, also while the server
// runs; the admin API twins are in docs/cli.md.
#include <iostream>
#include <memory>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "pki/trust/exports.hpp"

namespace scep::cli {

namespace {

void cert_list(CLI::App& cmd, command_line& cl) {
    struct options {
        std::string format = "text";
        cert_query query;
    };
    auto o = std::make_shared<options>();
    add_format_option(cmd, o->format);
    cmd.add_option("-n,--limit", o->query.limit, "how many (newest first, default 100)")->check(CLI::Range(1, 100000000));
    cmd.add_option("--offset", o->query.offset, "skip this many first");
    cmd.add_option("--subject", o->query.subject, "subject contains this (case-insensitive)");
    cmd.add_option("--serial", o->query.serial, "this serial number");
    cmd.add_option("--status", o->query.status, "valid, revoked or superseded")
        ->check(CLI::IsMember({"valid", "revoked", "superseded"}));
    cmd.add_option("--since", o->query.since, "issued at or after (ISO 8601, e.g. 2026-11-25)");
    cmd.add_option("--until", o->query.until, "issued before (ISO 8601)");
    cmd.callback([&cl, o] {
        cl.choose_with_settings([o](const config::settings& s) {
            cert_query q = o->query;
            if (!q.serial.empty()) q.serial = normalize_serial(q.serial);
            return list(s, o->format, q, std::cout);
        });
    });
}

void cert_revoke(CLI::App& cmd, command_line& cl) {
    struct options {
        std::string serial, reason = "unspecified";
    };
    auto o = std::make_shared<options>();
    cmd.add_option("serial", o->serial, "serial number in hex (as `scep-lab cert list` shows it)")->required();
    cmd.add_option("--reason", o->reason, "CRLReason: keyCompromise, superseded, cessationOfOperation, ...");
    cmd.callback([&cl, o] {
        cl.choose_with_settings([o](const config::settings& s) { return revoke(s, o->serial, o->reason, std::cout); });
    });
}

void pending_list(CLI::App& cmd, command_line& cl) {
    auto all = std::make_shared<bool>(false);
    cmd.add_flag("--all", *all, "include approved, rejected and issued ones");
    cmd.callback([&cl, &cmd, all] {
        // `pending` alone lists; with a verb (whose callback ran first) it does not.
        if (!cmd.get_subcommands().empty()) return;
        cl.choose_with_settings([all](const config::settings& s) { return cli::pending_list(s, *all, std::cout); });
    });
}

void pending_decide(CLI::App& cmd, command_line& cl, bool approve) {
    struct options {
        std::string txid, reason;
    };
    auto o = std::make_shared<options>();
    cmd.add_option("transaction_id", o->txid, "transactionID (see `scep-lab pending list`)")->required();
    if (!approve) cmd.add_option("--reason", o->reason, "text sent to the client as failInfoText");
    cmd.callback([&cl, o, approve] {
        cl.choose_with_settings(
            [o, approve](const config::settings& s) { return decide(s, o->txid, approve, o->reason, std::cout); });
    });
}

void store_reset(CLI::App& cmd, command_line& cl) {
    auto yes = std::make_shared<bool>(false);
    cmd.add_flag("--yes", *yes, "confirm")->required();
    cmd.callback([&cl] { cl.choose_with_settings([](const config::settings& s) { return reset_store(s, std::cout); }); });
}

void store_seed(CLI::App& cmd, command_line& cl) {
    auto count = std::make_shared<std::size_t>(0);
    cmd.add_option("count", *count, "how many rows")->required()->check(CLI::Range(1, 100000000));
    cmd.callback([&cl, count] {
        cl.choose_with_settings([count](const config::settings& s) { return seed(s, *count, std::cout); });
    });
}

}  // namespace

void add_store_commands(CLI::App& app, command_line& cl) {
    auto* cert = app.add_subcommand("cert", "issued certificates in the store: list, show, revoke, export");
    cert->require_subcommand(1);
    cert_list(*cert->add_subcommand("list", "list issued certificates (newest first), filtered"), cl);
    {
        auto* show = cert->add_subcommand("show", "one certificate: its row and PEM");
        struct options {
            std::string serial, format = "text";
        };
        auto o = std::make_shared<options>();
        show->add_option("serial", o->serial, "serial number in hex")->required();
        add_format_option(*show, o->format);
        show->callback([&cl, o] {
            cl.choose_with_settings(
                [o](const config::settings& s) { return show_certificate(s, o->serial, o->format, std::cout); });
        });
    }
    cert_revoke(*cert->add_subcommand("revoke", "revoke an issued certificate (the next CRL lists it)"), cl);
    {
        auto* exp = cert->add_subcommand("export", "write an issued certificate");
        struct options {
            std::string serial, format = "pem", out;
        };
        auto o = std::make_shared<options>();
        exp->add_option("serial", o->serial, "serial number in hex")->required();
        exp->add_option("-f,--format", o->format, "pem (default), der")->check(CLI::IsMember({"pem", "der", "crt", "cer"}));
        exp->add_option("-o,--out", o->out, "file to write (default: standard output)");
        exp->callback([&cl, o] {
            cl.choose_with_settings([o](const config::settings& s) {
                return export_file(s, "cert:" + o->serial, o->format, o->out, std::cout);
            });
        });
    }

    auto* pending = app.add_subcommand("pending", "requests held for approval: list, approve, reject");
    // `scep-lab pending` alone lists, as it always did.
    pending_list(*pending, cl);
    pending_list(*pending->add_subcommand("list", "requests waiting for approval"), cl);
    pending_decide(*pending->add_subcommand("approve", "issue a pending request at the client's next poll"), cl, true);
    pending_decide(*pending->add_subcommand("reject", "refuse a pending request (FAILURE at the next poll)"), cl, false);

    auto* store = app.add_subcommand("store", "the store itself (lab use): reset, seed");
    store->require_subcommand(1);
    store_reset(*store->add_subcommand("reset", "delete every certificate and pending request"), cl);
    store_seed(*store->add_subcommand("seed", "add N placeholder certificates (benchmarks on a full store)"), cl);

    // Old spellings.
    cl.keep_old_spelling(app, "list", "cert list", [&cl](CLI::App& c) { cert_list(c, cl); });
    cl.keep_old_spelling(app, "revoke", "cert revoke", [&cl](CLI::App& c) { cert_revoke(c, cl); });
    cl.keep_old_spelling(app, "approve", "pending approve", [&cl](CLI::App& c) { pending_decide(c, cl, true); });
    cl.keep_old_spelling(app, "reject", "pending reject", [&cl](CLI::App& c) { pending_decide(c, cl, false); });
    cl.keep_old_spelling(app, "reset", "store reset", [&cl](CLI::App& c) { store_reset(c, cl); });
    cl.keep_old_spelling(app, "seed", "store seed", [&cl](CLI::App& c) { store_seed(c, cl); });
}

}  // namespace scep::cli
