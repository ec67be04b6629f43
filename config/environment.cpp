// Settings from text: the SCEP_LAB_* environment variables and command-line
// flags, both parsed by the kind settings_table.hpp gives their key; and the
// layering of defaults, preset, file, environment and flags.
#include "config/config.hpp"

#include <charconv>
#include <cstdlib>
#include <map>

#include "config/settings_table.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::config {

env_lookup process_env() {
    return [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

namespace {

// Sets one key of settings_table.hpp from text (see set_from_text). The kind
// methods mirror the TOML reader's; `custom` keys need TOML and are refused.
class text_setter {
public:
    text_setter(std::string_view key, const std::string& value) : key_(key), value_(value) {}

    void section(const char* name, const char*) { section_ = name; }
    void end() {}
    void text(const char* k, std::string& out, const char*) {
        if (mine(k)) out = value_;
    }
    void secret(const char* k, std::string& out, const char*) {
        if (!mine(k)) return;
        secret_ = true;
        out = value_;
    }
    void url(const char* k, std::string& out, const char*) {
        if (!mine(k)) return;
        shown_ = redact_url(value_);  // credentials in a URL are never echoed
        out = value_;
    }
    template <class I>
    void number(const char* k, I& out, long long min, long long max, const char*) {
        if (!mine(k)) return;
        long long n = 0;
        const char* end = value_.data() + value_.size();
        auto [at, ec] = std::from_chars(value_.data(), end, n);
        if (value_.empty() || ec != std::errc{} || at != end || n < min || n > max)
            return fail("must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
        out = static_cast<I>(n);
    }
    void flag(const char* k, bool& out, const char*) {
        if (!mine(k)) return;
        if (value_ == "on" || value_ == "true") out = true;
        else if (value_ == "off" || value_ == "false") out = false;
        else fail("must be on or off");
    }
    void duration(const char* k, std::chrono::seconds& out, const char*) {
        if (!mine(k)) return;
        auto d = parse_duration(value_);
        if (!d) return fail("is not a duration: use a number and a unit, e.g. 30s, 10m, 12h, 365d");
        out = *d;
    }
    void signed_duration(const char* k, std::chrono::seconds& out, const char*) {
        if (!mine(k)) return;
        auto d = parse_signed_duration(value_);
        if (!d) return fail("is not a duration like -30d or +2h");
        out = *d;
    }
    void list(const char* k, std::vector<std::string>& out, const char*) {
        if (!mine(k)) return;
        out.clear();
        std::string_view rest = value_;
        while (!rest.empty()) {  // comma-separated; blanks around an item and empty items dropped
            const auto comma = rest.find(',');
            std::string_view item = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
            while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
            if (!item.empty()) out.emplace_back(item);
        }
    }
    void path(const char* k, std::filesystem::path& out, const char*) {
        if (mine(k)) out = value_;  // relative to the working directory
    }
    void choice(const char* k, std::string& out, std::initializer_list<const char*> allowed, const char*) {
        if (!mine(k)) return;
        std::string names;
        for (const char* a : allowed) {
            if (value_ == a) {
                out = value_;
                return;
            }
            names += (names.empty() ? "" : ", ") + std::string(*a ? a : "\"\"");
        }
        fail("must be one of " + names);
    }
    template <class E, std::size_t N>
    void pick(const char* k, E& out, const enum_name<E> (&names)[N], const char*) {
        if (!mine(k)) return;
        auto e = parse_enum(value_, names);
        if (!e) return fail("must be one of " + names_of(names));
        out = *e;
    }
    void key_kind(const char* k, key_type& out, const char*) {
        if (!mine(k)) return;
        auto t = key_type_from_name(value_);
        if (!t) return fail("must be one of " + key_type_names());
        out = *t;
    }
    template <class Read, class Write>
    void custom(const char* k, Read, Write, const char*) {
        if (mine(k)) fail("can be set only in a configuration file");
    }
    template <class Apply>
    void retired(const char*, const char*, Apply) {}

    bool found() const { return found_; }
    result<void> outcome() const {
        if (error_.empty()) return {};
        // The value is someone's text: shown without control characters, and cut.
        return make_error((secret_ ? std::string(" ") : "=\"" + printable_text(shown_.value_or(value_), 200, '?') + "\" ") +
                          error_);
    }

private:
    bool mine(const char* k) {
        if (found_ || key_ != section_ + "." + k) return false;
        found_ = true;
        return true;
    }
    void fail(std::string why) { error_ = std::move(why); }

    std::string_view key_;
    const std::string& value_;
    std::string section_;
    bool found_ = false;
    bool secret_ = false;
    std::optional<std::string> shown_;
    std::string error_;
};

}  // namespace

result<void> set_from_text(settings& s, std::string_view key, const std::string& value) {
    if (key == "data_dir") {  // the one top-level key
        s.data_dir = value;
        return {};
    }
    text_setter setter(key, value);
    visit_settings(setter, s);
    if (!setter.found()) return make_error(" names no setting \"" + std::string(key) + "\"");
    return setter.outcome();
}

// The one list of SCEP_LAB_* variables: apply_env() reads them in this
// order, `scep-lab config --env` prints them, and the documentation is
// checked against that output (tests/docs_check.sh). A variable that stands
// for a key is parsed as that key's kind (set_from_text).
const std::vector<env_variable>& env_variables() {
    static const std::vector<env_variable> table = [] {
        struct row {
            const char* name;
            const char* setting;
            const char* doc;
        };
        static const row rows[] = {
            {"SCEP_LAB_PRESET", "--preset", "start from a ready configuration (`scep-lab presets`)"},
            {"SCEP_LAB_CONFIG", "--config", "TOML configuration file read over the preset"},
            {"SCEP_LAB_LISTEN", "server.listen", "listen address of HTTP (and HTTPS unless https.listen)"},
            {"SCEP_LAB_PORT", "server.port", "HTTP port; 0 picks a free one"},
            {"SCEP_LAB_HTTPS_PORT", "https.port", "HTTPS port; 0 picks a free one"},
            {"SCEP_LAB_HTTPS", "https.enabled", "on or off: the HTTPS listener"},
            {"SCEP_LAB_HTTPS_NAMES", "https.names", "comma-separated DNS names and IP addresses of the HTTPS certificate"},
            {"SCEP_LAB_DATA_DIR", "data_dir", "lab PKI, store and admin token"},
            {"SCEP_LAB_CHALLENGE", "scep.challenge", "the static challenge password; empty = none required"},
            {"SCEP_LAB_LOG_FORMAT", "log.format", "text or json"},
            {"SCEP_LAB_LOG_LEVEL", "log.level", "trace, debug, info, warn, error or off"},
            {"SCEP_LAB_INSPECTOR", "inspector.enabled", "on or off: decode and keep every SCEP exchange"},
            {"SCEP_LAB_KEY_PASSPHRASE", "pki.key_passphrase_file", "passphrase of the lab's private keys (8+ characters)"},
            {"SCEP_LAB_ADMIN_TOKEN", "(environment only)", "the admin API bearer token (16+ characters; no token file is written)"},
            {"SCEP_LAB_ADMIN_REMOTE", "admin.allow_remote", "on or off: admin API for non-loopback clients"},
            {"SCEP_LAB_CLOCK_OFFSET", "lab.clock_offset", "shift the lab clock, e.g. -30d (deterministic CI runs)"},
            {"SCEP_LAB_SERIAL_SEED", "lab.serial_seed", "deterministic serial numbers from this seed"},
        };
        // The secrets that are not keys; their errors never carry the value.
        const std::map<std::string, std::function<result<void>(settings&, const std::string&)>> own = {
            {"SCEP_LAB_PRESET", nullptr},
            {"SCEP_LAB_CONFIG", nullptr},
            {"SCEP_LAB_KEY_PASSPHRASE",
             [](settings& s, const std::string& v) -> result<void> {
                 if (v.size() < 8) return make_error(" must have at least 8 characters");
                 s.pki.key_passphrase = v;
                 return {};
             }},
            {"SCEP_LAB_ADMIN_TOKEN",
             [](settings& s, const std::string& v) -> result<void> {
                 if (v.size() < min_admin_token_length)
                     return make_error(" must have at least " + std::to_string(min_admin_token_length) + " characters");
                 s.admin.token = v;
                 return {};
             }},
        };
        std::vector<env_variable> out;
        for (const auto& r : rows) {
            env_variable e{r.name, r.setting, r.doc, {}};
            if (auto it = own.find(r.name); it != own.end()) e.apply = it->second;
            else e.apply = [key = std::string(r.setting)](settings& s, const std::string& v) { return set_from_text(s, key, v); };
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
        if (auto r = e.apply(s, *v); !r) return make_error(e.name + r.message());
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
    for (const auto& f : l.flags)
        if (auto r = set_from_text(s, f.key, f.value); !r) return make_error(f.flag + r.message());
    derive(s);
    if (auto r = validate(s); !r) return r.err();
    return s;
}

}  // namespace scep::config
