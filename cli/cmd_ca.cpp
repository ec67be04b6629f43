// The CA: ca export|rollover, issue (server certificates), profile apple.
#include <iostream>
#include <memory>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::cli {

namespace {

void ca_export(CLI::App& cmd, command_line& cl) {
    struct options {
        std::string what, format = "pem", out;
    };
    auto o = std::make_shared<options>();
    cmd.add_option("what", o->what,
                   "root, intermediate, issuing (any tier name), ra, ra-encryption, chain, tls, tls-chain, or "
                   "cert:<serial>")
        ->required();
    cmd.add_option("-f,--format", o->format, "pem (default), der, p7b")
        ->check(CLI::IsMember({"pem", "der", "crt", "cer", "p7b"}));
    cmd.add_option("-o,--out", o->out, "file to write (default: standard output)");
    cmd.callback([&cl, o] {
        cl.choose_with_settings(
            [o](const config::settings& s) { return export_file(s, o->what, o->format, o->out, std::cout); });
    });
}

void ca_rollover(CLI::App& cmd, command_line& cl) {
    struct options {
        bool activate = false, keep_ra = false, live = false;
        std::string url;
    };
    auto o = std::make_shared<options>();
    cmd.add_flag("--activate", o->activate, "make the prepared next CA the issuing CA");
    cmd.add_flag("--keep-ra", o->keep_ra, "keep the current RA certificate instead of issuing a new one");
    cmd.add_flag("--live", o->live, "have the running server do it (admin API): no restart");
    cmd.add_option("--url", o->url, "with --live: the server's base URL; default from the listen settings");
    cmd.callback([&cl, o] {
        cl.choose_with_settings([o](const config::settings& s) {
            return rollover(s, o->activate, o->keep_ra, o->live, o->url, std::cout);
        });
    });
}

void issue(CLI::App& app, command_line& cl) {
    struct options {
        issue_options io;
        std::vector<std::string> dns, ip;
    };
    auto o = std::make_shared<options>();
    auto* cmd = app.add_subcommand("issue", "issue a server certificate (RADIUS, web) from the lab's issuing CA");
    cmd->add_option("--profile", o->io.profile, "radius-server (FreeRADIUS files) or tls-server (certbot files)")
        ->check(CLI::IsMember({"radius-server", "tls-server"}));
    cmd->add_option("--dns", o->dns, "DNS name (repeat for more)");
    cmd->add_option("--ip", o->ip, "IP address (repeat for more)");
    cmd->add_option("--cn", o->io.common_name, "common name (default: the first DNS name)");
    cmd->add_option("--key", o->io.key, "rsa2048 (default), rsa3072, rsa4096, ec-p256, ec-p384");
    cmd->add_option("--days", o->io.days, "validity in days (default 397)")->check(CLI::Range(1, 36500));
    cmd->add_option("-o,--out", o->io.out_dir, "directory for key, certificate and chain")->required();
    cmd->callback([&cl, o] {
        cl.choose_with_settings([o](const config::settings& s) {
            issue_options io = o->io;
            io.names = o->dns;
            io.names.insert(io.names.end(), o->ip.begin(), o->ip.end());
            if (io.names.empty()) {
                std::cerr << "scep-lab issue: give at least one --dns or --ip\n";
                return 2;
            }
            return issue_server(s, io, std::cout);
        });
    });
}

// scep-lab profile apple: options map onto the download's query parameters.
void profile(CLI::App& app, command_line& cl) {
    struct options {
        apple_profile_cli pc;
        std::string ssid, security, subject, fingerprint, fingerprint_ca, challenge;
        std::vector<std::string> radius, omit;
        std::optional<int> key_size;
    };
    auto o = std::make_shared<options>();
    auto* profile = app.add_subcommand("profile", "write a device configuration profile");
    profile->require_subcommand(1);
    auto* apple = profile->add_subcommand("apple", "Apple .mobileconfig: CA payloads, SCEP payload, optional Wi-Fi");
    apple->add_option("--url", o->pc.url, "SCEP URL devices use (default from the listen settings)");
    apple->add_option("--challenge", o->challenge, "challenge in the SCEP payload (default: the configured one)");
    apple->add_option("--ssid", o->ssid, "add a WPA2/WPA3-Enterprise EAP-TLS Wi-Fi payload for this SSID");
    apple->add_option("--security", o->security, "WPA2 (default) or WPA3");
    apple->add_option("--radius-name", o->radius,
                      "TLSTrustedServerNames entry (repeat); default: the newest `issue --profile radius-server` names");
    apple->add_option("--omit", o->omit, "leave out this CA payload (root, intermediate, ...; repeat)");
    apple->add_option("--subject", o->subject, "requested subject (default CN=scep-lab device,O=scep-lab)");
    apple->add_option("--key-size", o->key_size, "1024, 2048 (default) or 4096");
    apple->add_option("--fingerprint", o->fingerprint, "CAFingerprint digest: sha1 (default) or sha256");
    apple->add_option("--fingerprint-ca", o->fingerprint_ca, "CA tier CAFingerprint is of (default issuing)");
    apple->add_flag("--sign", o->pc.sign, "sign the profile (CMS) with the lab's profile-signing certificate");
    apple->add_option("-o,--out", o->pc.out_file, "file to write (default: standard output)");
    apple->callback([&cl, o, apple] {
        const bool challenge_given = apple->count("--challenge") > 0;
        cl.choose_with_settings([o, challenge_given](const config::settings& s) {
            apple_profile_cli pc = o->pc;
            auto add = [&pc](const std::string& key, const std::string& value) {
                if (value.empty()) return;
                pc.query += (pc.query.empty() ? "" : "&") + key + "=" + percent_encode(value);
            };
            add("ssid", o->ssid);
            add("security", o->security);
            for (const auto& n : o->radius) add("radius_name", n);
            for (const auto& n : o->omit) add("omit", n);
            add("subject", o->subject);
            add("fingerprint", o->fingerprint);
            add("fingerprint_ca", o->fingerprint_ca);
            if (o->key_size) add("key_size", std::to_string(*o->key_size));
            if (challenge_given) pc.challenge = o->challenge;
            return apple_profile(s, pc, std::cout);
        });
    });
}

}  // namespace

void add_ca_commands(CLI::App& app, command_line& cl) {
    auto* ca = app.add_subcommand("ca", "the lab's CAs: export their certificates, roll the issuing CA over");
    ca->require_subcommand(1);
    ca_export(*ca->add_subcommand("export", "write a CA certificate, the chain or an issued certificate"), cl);
    ca_rollover(*ca->add_subcommand("rollover", "prepare the next issuing CA (GetNextCACert), or activate it"), cl);
    issue(app, cl);
    profile(app, cl);
    cl.keep_old_spelling(app, "export", "ca export", [&cl](CLI::App& c) { ca_export(c, cl); });
    cl.keep_old_spelling(app, "rollover", "ca rollover", [&cl](CLI::App& c) { ca_rollover(c, cl); });
}

}  // namespace scep::cli
