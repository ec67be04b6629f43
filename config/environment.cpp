// The SCEP_LAB_* environment variables (one table) and the layering of
// defaults, preset, file, environment and flags.
#include "config/config.hpp"

#include <cstdlib>

namespace scep::config {

env_lookup process_env() {
    return [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

namespace {
// Values of SCEP_LAB_* variables.

result<std::uint16_t> port_value(const std::string& v) {
    char* end = nullptr;
    long port = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || port < 0 || port > 65535) return make_error("is not a port number (0 to 65535)");
    return static_cast<std::uint16_t>(port);
}

result<bool> on_off(const std::string& v) {
    if (v != "on" && v != "off") return make_error("must be on or off");
    return v == "on";
}

using env_apply = result<void> (*)(settings&, const std::string&);

}  // namespace

// The one list of SCEP_LAB_* variables: apply_env() reads them in this
// order, `scep-lab config --env` prints them, and the documentation is
// checked against that output (tests/docs_check.sh).
const std::vector<env_variable>& env_variables() {
    static const std::vector<env_variable> table = [] {
        struct row {
            const char* name;
            const char* setting;
            const char* doc;
            env_apply apply;
        };
        static const row rows[] = {
            {"SCEP_LAB_PRESET", "--preset", "start from a ready configuration (`scep-lab presets`)", nullptr},
            {"SCEP_LAB_CONFIG", "--config", "TOML configuration file read over the preset", nullptr},
            {"SCEP_LAB_LISTEN", "server.listen", "listen address of HTTP (and HTTPS unless https.listen)",
             [](settings& s, const std::string& v) -> result<void> {
                 s.server.listen = v;
                 return {};
             }},
            {"SCEP_LAB_PORT", "server.port", "HTTP port; 0 picks a free one",
             [](settings& s, const std::string& v) -> result<void> {
                 auto p = port_value(v);
                 if (!p) return p.err();
                 s.server.port = *p;
                 return {};
             }},
            {"SCEP_LAB_HTTPS_PORT", "https.port", "HTTPS port; 0 picks a free one",
             [](settings& s, const std::string& v) -> result<void> {
                 auto p = port_value(v);
                 if (!p) return p.err();
                 s.https.port = *p;
                 return {};
             }},
            {"SCEP_LAB_HTTPS", "https.enabled", "on or off: the HTTPS listener",
             [](settings& s, const std::string& v) -> result<void> {
                 auto b = on_off(v);
                 if (!b) return b.err();
                 s.https.enabled = *b;
                 return {};
             }},
            {"SCEP_LAB_HTTPS_NAMES", "https.names", "comma-separated DNS names and IP addresses of the HTTPS certificate",
             [](settings& s, const std::string& v) -> result<void> {
                 s.https.names.clear();
                 std::string item;
                 for (char c : v + ",") {
                     if (c != ',') {
                         item += c;
                         continue;
                     }
                     if (!item.empty()) s.https.names.push_back(item);
                     item.clear();
                 }
                 return {};
             }},
            {"SCEP_LAB_DATA_DIR", "data_dir", "lab PKI, store and admin token",
             [](settings& s, const std::string& v) -> result<void> {
                 s.data_dir = v;
                 return {};
             }},
            {"SCEP_LAB_CHALLENGE", "scep.challenge", "the static challenge password; empty = none required",
             [](settings& s, const std::string& v) -> result<void> {
                 s.scep.challenge = v;
                 return {};
             }},
            {"SCEP_LAB_LOG_FORMAT", "log.format", "text or json",
             [](settings& s, const std::string& v) -> result<void> {
                 auto f = parse_enum(v, log_formats);
                 if (!f) return make_error("must be one of " + names_of(log_formats));
                 s.log.format = *f;
                 return {};
             }},
            {"SCEP_LAB_LOG_LEVEL", "log.level", "trace, debug, info, warn, error or off",
             [](settings& s, const std::string& v) -> result<void> {
                 auto l = parse_enum(v, log_levels);
                 if (!l) return make_error("must be one of " + names_of(log_levels));
                 s.log.level = *l;
                 return {};
             }},
            {"SCEP_LAB_INSPECTOR", "inspector.enabled", "on or off: decode and keep every SCEP exchange",
             [](settings& s, const std::string& v) -> result<void> {
                 auto b = on_off(v);
                 if (!b) return b.err();
                 s.inspector.enabled = *b;
                 return {};
             }},
            {"SCEP_LAB_KEY_PASSPHRASE", "pki.key_passphrase_file", "passphrase of the lab's private keys (8+ characters)",
             [](settings& s, const std::string& v) -> result<void> {
                 if (v.size() < 8) return make_error("must have at least 8 characters");
                 s.pki.key_passphrase = v;
                 return {};
             }},
            {"SCEP_LAB_ADMIN_TOKEN", "(environment only)", "the admin API bearer token (16+ characters; no token file is written)",
             [](settings& s, const std::string& v) -> result<void> {
                 if (v.size() < min_admin_token_length)
                     return make_error("must have at least " + std::to_string(min_admin_token_length) + " characters");
                 s.admin.token = v;
                 return {};
             }},
            {"SCEP_LAB_ADMIN_REMOTE", "admin.allow_remote", "on or off: admin API for non-loopback clients",
             [](settings& s, const std::string& v) -> result<void> {
                 auto b = on_off(v);
                 if (!b) return b.err();
                 s.admin.allow_remote = *b;
                 return {};
             }},
            {"SCEP_LAB_CLOCK_OFFSET", "lab.clock_offset", "shift the lab clock, e.g. -30d (deterministic CI runs)",
             [](settings& s, const std::string& v) -> result<void> {
                 auto off = parse_signed_duration(v);
                 if (!off) return make_error("is not a duration like -30d or +2h");
                 s.lab.clock_offset = *off;
                 return {};
             }},
            {"SCEP_LAB_SERIAL_SEED", "lab.serial_seed", "deterministic serial numbers from this seed",
             [](settings& s, const std::string& v) -> result<void> {
                 s.lab.serial_seed = v;
                 return {};
             }},
        };
        std::vector<env_variable> out;
        for (const auto& r : rows) {
            env_variable e{r.name, r.setting, r.doc, {}};
            if (r.apply) e.apply = r.apply;
            out.push_back(std::move(e));
        }
        return out;
    }();
    return table;
}

result<void> apply_env(settings& s, const env_lookup& env, checks when) {
    for (const auto& e : env_variables()) {
        if (!e.apply) continue;  // the layers (preset, configuration file) are read by settle()
        auto v = env(e.name.c_str());
        if (!v) continue;
        // A secret is never echoed back in the error.
        const bool secret = e.name == "SCEP_LAB_KEY_PASSPHRASE" || e.name == "SCEP_LAB_ADMIN_TOKEN" ||
                            e.name == "SCEP_LAB_CHALLENGE";
        if (auto r = e.apply(s, *v); !r)
            return make_error(e.name + (secret ? std::string() : "=\"" + *v + "\"") + " " + r.message());
    }
    return when == checks::now ? validate(s) : result<void>{};
}

result<settings> settle(const layers& l, const env_lookup& env) {
    settings s = defaults();
    // A layer named by its flag or, without one, by its environment variable.
    auto named = [&env](const std::string& flag, const char* variable) {
        if (!flag.empty()) return flag;
        return env(variable).value_or(std::string());
    };
    if (auto preset = named(l.preset, "SCEP_LAB_PRESET"); !preset.empty()) {
        auto loaded = load_preset(preset, std::move(s), checks::at_the_end);
        if (!loaded) return loaded.err();
        s = std::move(*loaded);
    }
    if (auto file = named(l.config_file, "SCEP_LAB_CONFIG"); !file.empty()) {
        auto loaded = load_file(file, std::move(s), checks::at_the_end);
        if (!loaded) return loaded.err();
        s = std::move(*loaded);
    }
    if (auto r = apply_env(s, env, checks::at_the_end); !r) return r.err();
    if (l.flags) l.flags(s);
    derive(s);
    if (auto r = validate(s); !r) return r.err();
    return s;
}

}  // namespace scep::config
