// scep-lab: a lab SCEP/NDES-compatible test server. This file only builds
// the command line from its groups (cli/cmd_*.cpp) and runs the command
// chosen; cli/serve.cpp assembles and runs the server.
#include <filesystem>

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
    app.add_option("--data-dir", f.data_dir, "data directory: lab PKI and store (SCEP_LAB_DATA_DIR)");
    // The names come from the settings' own tables: one list per mode.
    auto names = [](const auto& table) {
        std::vector<std::string> out;
        for (const auto& n : table) out.emplace_back(n.name);
        return out;
    };
    app.add_option("--log-format", f.log_format, "text or json (SCEP_LAB_LOG_FORMAT)")
        ->check(CLI::IsMember(names(scep::config::log_formats)));
    app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error, off (SCEP_LAB_LOG_LEVEL)")
        ->check(CLI::IsMember(names(scep::config::log_levels)));

    scep::cli::add_server_commands(app, cl);
    scep::cli::add_store_commands(app, cl);
    scep::cli::add_ca_commands(app, cl);
    scep::cli::add_live_commands(app, cl);
    scep::cli::add_tool_commands(app, cl);

    CLI11_PARSE(app, argc, argv);
    return cl.run();
}
