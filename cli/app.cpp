#include "cli/app.hpp"

#include <algorithm>
#include <iostream>
#include <vector>

#include "pki/crypto/encoding.hpp"

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
        ->type_name("VALUE")
        // Given twice (a wrapper's default, then the user's), the last one wins.
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option* add_setting_switch(CLI::App& app, command_line& cl, const std::string& names, const std::string& key,
                                const std::string& value, const std::string& help) {
    return app.add_flag_callback(
        names, [&cl, key, value, names] { cl.flags.settings.push_back({names, key, value}); },
        help_for(help, key));
}

namespace {

// Edits between two words, a swap of neighbours counting as one ("lsit").
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::string command_path(const CLI::App* app) {
    std::string path;
    for (; app && app->get_parent(); app = app->get_parent()) path = app->get_name() + (path.empty() ? "" : " " + path);
    return path.empty() ? "scep-lab" : "scep-lab " + path;
}

}  // namespace

int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, const char* const* argv) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // The words that name commands, followed as far as they go.
    const CLI::App* at = &app;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") break;
        if (arg.size() > 1 && arg[0] == '-') {
            // An option: skip its value when it is given apart ("--config x").
            const CLI::Option* opt = nullptr;
            const std::string name = arg.substr(0, arg.find('='));
            for (const CLI::App* a = at; a && !opt; a = a->get_parent()) opt = a->get_option_no_throw(name);
            if (!opt && name != "--help" && name != "-h") {
                std::cerr << "scep-lab: unknown option " << printable_text(name, 60, '?') << " for `" << command_path(at)
                          << "`\nRun `" << command_path(at) << " --help` for its options.\n";
                return 2;
            }
            if (opt && arg.find('=') == std::string::npos && opt->get_items_expected_min() > 0) ++i;
            continue;
        }
        const CLI::App* next = nullptr;
        for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; }))
            if (sub->check_name(arg)) next = sub;
        if (next) {
            at = next;
            continue;
        }
        const auto subs = at->get_subcommands([](const CLI::App*) { return true; });
        if (subs.empty()) break;  // a positional argument of a command
        // Suggest only what is close (fewer than 3 edits); a listed command
        // wins a tie over an old spelling.
        std::string best;
        std::size_t best_score = 6;
        for (const CLI::App* sub : subs) {
            const std::size_t score = edit_distance(arg, sub->get_name()) * 2 + (sub->get_group().empty() ? 1 : 0);
            if (score < best_score) best_score = score, best = sub->get_name();
        }
        std::cerr << "scep-lab: unknown command \"" << printable_text(arg, 60, '?') << "\" for `" << command_path(at)
                  << "`" << (best.empty() ? "" : "; did you mean `" + command_path(at) + " " + best + "`?") << "\n"
                  << "Run `" << command_path(at) << " --help` for the commands.\n";
        return 2;
    }
    if (dynamic_cast<const CLI::RequiredError*>(&e) && !at->get_subcommands([](const CLI::App* c) {
                                                             return !c->get_group().empty();
                                                         }).empty()) {
        std::cerr << "scep-lab: `" << command_path(at) << "` needs a command; `" << command_path(at)
                  << " --help` lists them\n";
        return 2;
    }
    app.exit(e);
    return 2;
}

void add_format_option(CLI::App& cmd, std::string& format) {
    cmd.add_option("--format", format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
    cmd.add_flag_callback("--json", [&format] { format = "json"; }, "old spelling of --format json")->group("");
}

}  // namespace scep::cli
