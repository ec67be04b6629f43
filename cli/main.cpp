// scep-lab: a lab SCEP/NDES-compatible test server. This file only builds
// the command line from its groups (cli/cmd_*.cpp) and runs the command
// chosen; cli/serve.cpp assembles and runs the server.
#include <filesystem>
#include <iostream>

#include "cli/app.hpp"

int main(int argc, char** argv) {
    CLI::App app{"scep-lab: a lab SCEP (RFC 8894) and NDES-compatible test server"};
    app.require_subcommand(1);
    app.fallthrough();
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    scep::cli::command_line cl(ec ? argv[0] : self.string());
    auto& f = cl.flags;
    app.add_option("-c,--config", f.config_file, "TOML configuration file (also SCEP_LAB_CONFIG)")
        ->check(CLI::ExistingFile);
    app.add_option("--preset", f.preset,
                   "start from a ready configuration (SCEP_LAB_PRESET); --config and flags override it; "
                   "`scep-lab presets` lists them");
    // Flags that set configuration keys: parsed as the key's kind (the same
    // parser, range and secret handling as the file and SCEP_LAB_* give it).
    scep::cli::add_setting_option(app, cl, "--data-dir", "data_dir", "data directory: lab PKI and store");
    scep::cli::add_setting_option(app, cl, "--log-format", "log.format", "text or json");
    scep::cli::add_setting_option(app, cl, "--log-level", "log.level", "trace, debug, info, warn, error, off");

    scep::cli::add_server_commands(app, cl);
    scep::cli::add_store_commands(app, cl);
    scep::cli::add_ca_commands(app, cl);
    scep::cli::add_live_commands(app, cl);
    scep::cli::add_tool_commands(app, cl);
    scep::cli::add_clone_command(app, cl);
    app.add_subcommand("manual", "print this command line as a man page (scep-lab manual | man -l -)")
        ->callback([&app, &cl] {
            cl.choose([&app] {
                scep::cli::write_manual(app, std::cout);
                return 0;
            });
        });

    app.set_version_flag("--version", std::string("scep-lab ") + SCEP_LAB_VERSION);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return scep::cli::usage_error(app, e, argc, argv);
    }
    return cl.run();
}
