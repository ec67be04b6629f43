#include "cli/app.hpp"

#include <iostream>

namespace scep::cli {

const config::settings* command_line::settings() {
    if (settled_) return &*settled_;
    const global_flags& f = flags;
    config::layers l{.preset = f.preset, .config_file = f.config_file, .flags = [&f](config::settings& s) {
        if (f.listen) s.server.listen = *f.listen;
        if (f.port) s.server.port = static_cast<std::uint16_t>(*f.port);
        if (f.data_dir) s.data_dir = *f.data_dir;
        if (f.challenge) s.scep.challenge = *f.challenge;
        // CLI11 has checked them against the same names.
        if (f.log_format) s.log.format = config::parse_enum(*f.log_format, config::log_formats).value();
        if (f.log_level) s.log.level = config::parse_enum(*f.log_level, config::log_levels).value();
        if (f.ready_file) s.server.ready_file = *f.ready_file;
        if (f.https_port) s.https.port = static_cast<std::uint16_t>(*f.https_port);
        if (f.no_https) s.https.enabled = false;
        if (f.no_http) s.server.http = false;
    }};
    auto s = config::settle(l, config::process_env());
    if (!s) {
        std::cerr << "scep-lab: configuration error: " << s.message() << "\n";
        return nullptr;
    }
    settled_ = std::move(*s);
    return &*settled_;
}

void command_line::choose_with_settings(std::function<int(const config::settings&)> run) {
    run_ = [this, run = std::move(run)] {
        const config::settings* s = settings();
        return s ? run(*s) : 2;
    };
}

void command_line::keep_old_spelling(CLI::App& app, const std::string& old, const std::string& now,
                                     const std::function<void(CLI::App&)>& add) {
    auto* cmd = app.add_subcommand(old, "old spelling of `scep-lab " + now + "`");
    cmd->group("");  // not listed in --help
    add(*cmd);
    // Said once the command line is parsed, before the command runs.
    cmd->parse_complete_callback([old, now] {
        std::cerr << "scep-lab: `" << old << "` is now `scep-lab " << now << "` (the old spelling still works)\n";
    });
}

void add_format_option(CLI::App& cmd, std::string& format) {
    cmd.add_option("--format", format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
    cmd.add_flag_callback("--json", [&format] { format = "json"; }, "old spelling of --format json")->group("");
}

}  // namespace scep::cli
