// serve, init, config, presets, health, admin-token, version.
#include <filesystem>
#include <iostream>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "cli/lab.hpp"

namespace scep::cli {

void add_server_commands(CLI::App& app, command_line& cl) {
    auto* serve = app.add_subcommand("serve", "run the SCEP server (creates the lab PKI on first start)");
    add_setting_option(*serve, cl, "--listen", "server.listen", "listen address, default 127.0.0.1");
    add_setting_option(*serve, cl, "-p,--port", "server.port", "TCP port, 0 picks a free one, default 8080");
    add_setting_option(*serve, cl, "--https-port", "https.port", "HTTPS port, 0 picks a free one, default 8443");
    add_setting_switch(*serve, cl, "--no-https", "https.enabled", "off", "no HTTPS listener");
    add_setting_switch(*serve, cl, "--no-http", "server.http", "off", "HTTPS only");
    add_setting_option(*serve, cl, "--challenge", "scep.challenge", "static challenge password");
    add_setting_option(*serve, cl, "--ready-file", "server.ready_file",
                       "write the URL and port as JSON here once listening");
    add_setting_option(*serve, cl, "--env-file", "server.env_file",
                       "write KEY=value lines for CI here once ready (URLs, challenge, CA chain, admin token)");
    serve->callback([&cl] {
        cl.logs_deprecations();
        cl.choose_with_settings([](const config::settings& s) { return cli::serve(s); });
    });

    auto* init = app.add_subcommand("init", "create the lab PKI and the store, then exit");
    init->callback([&cl] { cl.choose_with_settings([](const config::settings& s) { return cli::init(s, std::cout); }); });

    struct config_options {
        bool show_secrets = false, env = false, keys = false;
    };
    auto co = std::make_shared<config_options>();
    auto* show = app.add_subcommand("config", "print the effective configuration as TOML");
    show->add_flag("--show-secrets", co->show_secrets, "print the challenge instead of ********");
    show->add_flag("--env", co->env, "list the SCEP_LAB_* environment variables and the settings they set");
    show->add_flag("--keys", co->keys, "list the configuration keys with their kind and what they do");
    show->callback([&cl, co] {
        // The variable and key lists need no settled configuration (they explain a broken one).
        if (co->env || co->keys) {
            cl.choose([co] {
                if (co->env)
                    for (const auto& e : config::env_variables())
                        std::cout << e.name << "\t" << e.setting << "\t" << e.doc << "\n";
                else
                    for (const auto& k : config::setting_keys())
                        std::cout << k.name << "\t" << k.kind << "\t" << k.doc << "\n";
                return 0;
            });
            return;
        }
        cl.choose_with_settings([co](const config::settings& s) {
            std::cout << config::to_toml(s, co->show_secrets);
            return 0;
        });
    });

    app.add_subcommand("presets", "list the ready configurations for --preset")->callback([&cl] {
        cl.choose([] {
            // Each preset's first comment line says what it reproduces.
            for (const auto& p : config::presets()) {
                std::string first = p.text.substr(0, p.text.find('\n'));
                auto colon = first.find(": ");
                std::cout << p.name << "\n    " << (colon == std::string::npos ? first : first.substr(colon + 2)) << "\n";
            }
            return 0;
        });
    });

    auto health_url = std::make_shared<std::string>();
    auto* health = app.add_subcommand("health", "exit 0 when the server answers /healthz (for Docker HEALTHCHECK)");
    health->add_option("--url", *health_url, "base URL; default from the listen address and port settings");
    add_setting_option(*health, cl, "-p,--port", "server.port", "TCP port")->check(CLI::Range(1, 65535));
    health->callback([&cl, health_url] {
        cl.choose_with_settings([health_url](const config::settings& s) { return cli::health(s, *health_url, std::cout); });
    });

    // The token the admin API wants, for whoever may read the data directory
    // (docker exec <container> scep-lab admin-token).
    app.add_subcommand("admin-token", "print the admin API's token (SCEP_LAB_ADMIN_TOKEN or the data directory's)")
        ->callback([&cl] {
            cl.choose_with_settings([](const config::settings& s) {
                auto token = stored_admin_token(s);
                if (!token) {
                    std::cerr << "scep-lab: " << token.message() << "\n";
                    return 1;
                }
                std::cout << *token << "\n";
                return 0;
            });
        });

    app.add_subcommand("version", "print the version")->callback([&cl] {
        cl.choose([] {
            std::cout << "scep-lab " << SCEP_LAB_VERSION << "\n";
            return 0;
        });
    });
}

}  // namespace scep::cli
