// The command line's skeleton: the global options, the settled
// configuration, the command a callback chose, and old spellings kept as
// hidden aliases. Each group of commands is declared in its own unit
// (cli/cmd_*.cpp) and mirrors the admin API where one exists (docs/cli.md).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace scep::cli {

// Options before the command, and serve's, as given.
struct global_flags {
    std::string config_file;
    std::string preset;
    // Flags that set configuration keys, in command-line order; parsed as
    // their key's kind when the configuration settles (config::set_from_text).
    std::vector<config::flag_setting> settings;
};

class command_line {
public:
    explicit command_line(std::string self) : self_(std::move(self)) {}

    global_flags flags;
    // The program as it was started (for commands that start it again).
    const std::string& self() const { return self_; }

    // defaults < preset < configuration file < SCEP_LAB_* environment <
    // command-line flags; nullptr after saying what is wrong.
    const config::settings* settings();

    // What a command's callback chose to run: its exit code.
    void choose(std::function<int()> run) { run_ = std::move(run); }
    // The same, for a command that needs the settled configuration.
    void choose_with_settings(std::function<int(const config::settings&)> run);
    int run() const { return run_ ? run_() : 0; }
    // The command logs the configuration's deprecation notes itself (serve).
    void logs_deprecations() { logs_deprecations_ = true; }

    // `old` (a hidden top-level command) works as `now` does, with a warning
    // naming the new spelling. `add` declares the command's options on the
    // App it is given and sets its callback.
    void keep_old_spelling(CLI::App& app, const std::string& old, const std::string& now,
                           const std::function<void(CLI::App&)>& add);

private:
    std::string self_;
    std::optional<config::settings> settled_;
    bool logs_deprecations_ = false;
    std::function<int()> run_;
};

// `--flag VALUE` sets `key` (parsed, checked and masked as the key's kind is,
// whatever the source); the help names the key and its SCEP_LAB_* variable.
CLI::Option* add_setting_option(CLI::App& app, command_line& cl, const std::string& names, const std::string& key,
                                const std::string& help);
// `--flag` alone sets `key` to `value` (e.g. --no-https: https.enabled off).
CLI::Option* add_setting_switch(CLI::App& app, command_line& cl, const std::string& names, const std::string& key,
                                const std::string& value, const std::string& help);

// The groups; each adds its commands (and their old spellings) to `app`.
void add_server_commands(CLI::App& app, command_line& cl);   // serve, init, config, presets, health, version
void add_store_commands(CLI::App& app, command_line& cl);    // cert, pending, store
void add_ca_commands(CLI::App& app, command_line& cl);       // ca, issue, profile
void add_live_commands(CLI::App& app, command_line& cl);     // fault, challenge, transaction, inspect
void add_tool_commands(CLI::App& app, command_line& cl);     // bench, conformance, challenge-server
void add_clone_command(CLI::App& app, command_line& cl);     // clone

// What a command line CLI11 refused gets: help and --version exit 0; a
// mistyped command is named with the nearest real one; every other mistake
// prints CLI11's message and exits 2 (the documented usage-error code).
int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, const char* const* argv);

// The whole command line as a man page (troff): `scep-lab manual`, and
// scep-lab.1 in the build and the package (cli/manual.cpp).
void write_manual(const CLI::App& app, std::ostream& out);

// --format text|json on `cmd`, with `--json` kept as the old spelling of
// --format json.
void add_format_option(CLI::App& cmd, std::string& format);

}  // namespace scep::cli
