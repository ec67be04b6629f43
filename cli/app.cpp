#include "cli/app.hpp"

#include <iostream>

namespace scep::cli {

const config::settings* command_line::settings() {
    if (settled_) return &*settled_;
    config::layers l{.preset = flags.preset, .config_file = flags.config_file, .flags = flags.settings};
    auto s = config::settle(l, config::process_env());
    if (!s) {
        std::cerr << "scep-lab: configuration error: " << s.message() << "\n";
        return nullptr;
    }
    // Old spellings are said once: the server logs them with its other
    // start-up warnings, every other command on standard error.
    if (!logs_deprecations_)
        for (const auto& d : s->deprecations) std::cerr << "scep-lab: warning: " << d << "\n";
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

namespace {
std::string help_for(const std::string& help, const std::string& key) {
    std::string variable;
    for (const auto& e : config::env_variables())
        if (e.setting == key) variable = ", " + e.name;
    return help + " (" + key + variable + ")";
}
}  // namespace

CLI::Option* add_setting_option(CLI::App& app, command_line& cl, const std::string& names, const std::string& key,
                                const std::string& help) {
    return app
        .add_option_function<std::string>(
            names,
            [&cl, key, shown = names.substr(names.find("--"))](const std::string& v) {
                cl.flags.settings.push_back({shown, key, v});
            },
            help_for(help, key))
        ->type_name("VALUE");
}

CLI::Option* add_setting_switch(CLI::App& app, command_line& cl, const std::string& names, const std::string& key,
                                const std::string& value, const std::string& help) {
    return app.add_flag_callback(
        names, [&cl, key, value, names] { cl.flags.settings.push_back({names, key, value}); },
        help_for(help, key));
}

void add_format_option(CLI::App& cmd, std::string& format) {
    cmd.add_option("--format", format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
    cmd.add_flag_callback("--json", [&format] { format = "json"; }, "old spelling of --format json")->group("");
}

}  // namespace scep::cli
