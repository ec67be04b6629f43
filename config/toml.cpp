// Reading and writing the TOML configuration. The keys come from
// config/settings_table.hpp; [pki] and [templates.*] are read here by code.
#include "config/config.hpp"

#include <toml.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <type_traits>
#include <set>
#include <sstream>

#include "config/settings_table.hpp"
#include "pki/crypto/encoding.hpp"

namespace scep::config {

namespace {

// Reads one TOML table, remembering which keys it understood so that the
// rest can be reported as unknown (a typo must not be silently ignored).
class table_reader {
public:
    table_reader(const toml::value& table, std::string path) : table_(table), path_(std::move(path)) {}

    bool has(const std::string& key) const { return table_.contains(key); }
    const toml::value& at(const std::string& key) {
        known_.insert(key);
        return table_.at(key);
    }

    // The value as T, or a message naming the key, what it must be and what
    // it is (not the TOML library's "bad_cast to integer").
    template <class T>
    T get(const toml::value& v, const std::string& key) const {
        bool ok = false;
        const char* want = "";
        if constexpr (std::is_same_v<T, std::string>) {
            ok = v.is_string(), want = "a string in quotes";
        } else if constexpr (std::is_same_v<T, bool>) {
            ok = v.is_boolean(), want = "true or false";
        } else if constexpr (std::is_same_v<T, long long>) {
            ok = v.is_integer(), want = "a whole number";
        } else if constexpr (std::is_same_v<T, double>) {
            ok = v.is_floating() || v.is_integer(), want = "a number";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            ok = v.is_array() && std::all_of(v.as_array().begin(), v.as_array().end(),
                                             [](const toml::value& e) { return e.is_string(); });
            want = "a list of strings, e.g. [\"a\", \"b\"]";
        } else {
            static_assert(std::is_same_v<T, toml::array>);
            ok = v.is_array(), want = "a list";
        }
        if (!ok) fail(v, key + " must be " + want + ", not " + type_name(v));
        if constexpr (std::is_same_v<T, double>)
            return v.is_integer() ? static_cast<double>(v.as_integer()) : v.as_floating();
        else
            return toml::get<T>(v);
    }
    static std::string type_name(const toml::value& v) {
        switch (v.type()) {
            case toml::value_t::string: return "a string";
            case toml::value_t::integer: return "a whole number";
            case toml::value_t::floating: return "a number with a fraction";
            case toml::value_t::boolean: return "true/false";
            case toml::value_t::array: return "a list" + std::string(v.as_array().empty() ? "" : " of other values");
            case toml::value_t::table: return "a table";
            case toml::value_t::offset_datetime:
            case toml::value_t::local_datetime:
            case toml::value_t::local_date:
            case toml::value_t::local_time: return "a date or time";
            default: return "empty";
        }
    }

    void string(const std::string& key, std::string& out) {
        if (has(key)) out = get<std::string>(at(key), key);
    }
    void boolean(const std::string& key, bool& out) {
        if (has(key)) out = get<bool>(at(key), key);
    }
    template <class Int>
    void integer(const std::string& key, Int& out, long long min, long long max) {
        if (!has(key)) return;
        const auto& v = at(key);
        auto n = get<long long>(v, key);
        if (n < min || n > max)
            fail(v, key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
        out = static_cast<Int>(n);
    }
    void duration(const std::string& key, std::chrono::seconds& out) {
        if (!has(key)) return;
        const auto& v = at(key);
        auto d = parse_duration(get<std::string>(v, key));
        if (!d) fail(v, key + " is not a duration: use a number and a unit, e.g. \"30s\", \"10m\", \"12h\", \"365d\"");
        out = *d;
    }
    void strings(const std::string& key, std::vector<std::string>& out) {
        if (has(key)) out = get<std::vector<std::string>>(at(key), key);
    }
    void path(const std::string& key, std::filesystem::path& out, const std::filesystem::path& base) {
        if (!has(key)) return;
        std::filesystem::path p = get<std::string>(at(key), key);
        out = p.empty() || p.is_absolute() ? p : base / p;
    }

    [[noreturn]] void fail(const toml::value& v, const std::string& msg) const {
        throw std::runtime_error(toml::format_error("[error] " + qualified(msg), v, "here", {}, false));
    }

    // Reports the first key this reader was not asked about.
    void finish() const {
        if (!table_.is_table()) return;
        for (const auto& [key, value] : table_.as_table())
            if (!known_.count(key))
                throw std::runtime_error(toml::format_error(
                    "[error] unknown setting \"" + qualified(key) + "\"", value,
                    "not a scep-lab setting (see config/scep-lab.example.toml)", {}, false));
    }

private:
    std::string qualified(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
    const toml::value& table_;
    std::string path_;
    std::set<std::string> known_;
};

void read_choice(table_reader& r, const char* key, std::string& out, std::initializer_list<const char*> allowed) {
    if (!r.has(key)) return;
    const auto& v = r.at(key);
    auto value = r.get<std::string>(v, key);
    std::string list;
    for (const char* a : allowed) {
        if (value == a) {
            out = value;
            return;
        }
        list += std::string(list.empty() ? "" : ", ") + "\"" + a + "\"";
    }
    r.fail(v, std::string(key) + " must be one of " + list);
}


void read_profile(table_reader& r, issuance_profile& p) {
    r.duration("validity", p.validity);
    r.duration("backdate", p.backdate);
    r.strings("key_usage", p.key_usage);
    r.strings("extended_key_usage", p.extended_key_usage);
    r.strings("required_subject", p.required_subject);
}

key_type read_key_type(table_reader& r, const std::string& key, key_type current) {
    if (!r.has(key)) return current;
    const auto& v = r.at(key);
    auto k = key_type_from_name(r.get<std::string>(v, key));
    if (!k) r.fail(v, key + " must be one of " + key_type_names());
    return *k;
}

// A clone's copy of a customer's certificate (pki.tiers, pki.ra and its
// halves): docs/clone.md.
void read_shape(table_reader& t, const toml::value& table, cert_shape& shape) {
    if (t.has("subject_der")) {
        const auto& v = t.at("subject_der");
        auto der = base64_decode(t.get<std::string>(v, "subject_der"));
        if (!der || der->empty()) t.fail(v, "subject_der must be the subject's DER in base64");
        shape.subject_der = std::move(*der);
    }
    if (t.has("signature")) {
        const auto& v = t.at("signature");
        auto sig = signature_from_name(t.get<std::string>(v, "signature"));
        if (!sig)
            t.fail(v, "signature must be sha1, sha256, sha384 or sha512, or rsa-pss- and one of them (rsa-pss-sha256)");
        shape.signature = *sig;
    }
    if (t.has("extensions")) {
        std::vector<std::string> lines;
        t.strings("extensions", lines);
        for (const auto& line : lines)
            if (auto ext = check_extension_line(line); !ext) t.fail(t.at("extensions"), ext.message());
        shape.extensions = std::move(lines);
    }
    for (const auto& [key, out] : {std::pair{"not_before", &shape.not_before}, std::pair{"not_after", &shape.not_after}}) {
        if (!t.has(key)) continue;
        const auto& v = t.at(key);
        auto when = parse_utc_text(t.get<std::string>(v, key));
        if (!when) t.fail(v, std::string(key) + " must be a UTC time such as \"2031-05-01T12:00:00Z\"");
        *out = *when;
    }
    if (shape.not_before && shape.not_after && *shape.not_after <= *shape.not_before)
        t.fail(table, "not_after must come after not_before");
}

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string quote_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
    return out + "]";
}

// Reads the keys of settings_table.hpp from a TOML document.
class toml_reader {
public:
    toml_reader(table_reader& top, const std::filesystem::path& base, settings& s) : top_(top), base_(base), s_(s) {}

    void section(const char* name, const char*) {
        section_ = name;
        if (top_.has(name)) r_.emplace(top_.at(name), name);
    }
    void end() {
        if (r_) r_->finish();
        r_.reset();
    }
    void text(const char* k, std::string& out, const char*) {
        if (r_) r_->string(k, out);
    }
    template <class Apply>
    void retired(const char* k, const char* now, Apply apply) {
        if (!r_ || !r_->has(k)) return;
        apply(s_, r_->get<bool>(r_->at(k), k));
        s_.deprecations.push_back(section_ + "." + k + " is retired: use " + now + " (the old key is still read)");
    }
    void secret(const char* k, std::string& out, const char* doc) { text(k, out, doc); }
    void url(const char* k, std::string& out, const char* doc) { text(k, out, doc); }
    template <class I>
    void number(const char* k, I& out, long long min, long long max, const char*) {
        if (r_) r_->integer(k, out, min, max);
    }
    void flag(const char* k, bool& out, const char*) {
        if (r_) r_->boolean(k, out);
    }
    void duration(const char* k, std::chrono::seconds& out, const char*) {
        if (r_) r_->duration(k, out);
    }
    void signed_duration(const char* k, std::chrono::seconds& out, const char*) {
        if (!r_ || !r_->has(k)) return;
        const auto& v = r_->at(k);
        auto d = parse_signed_duration(r_->get<std::string>(v, k));
        if (!d) r_->fail(v, std::string(k) + " is a duration with an optional sign, e.g. \"-30d\", \"+2h\", \"0s\"");
        out = *d;
    }
    void list(const char* k, std::vector<std::string>& out, const char*) {
        if (r_) r_->strings(k, out);
    }
    void path(const char* k, std::filesystem::path& out, const char*) {
        if (r_) r_->path(k, out, base_);
    }
    void choice(const char* k, std::string& out, std::initializer_list<const char*> allowed, const char*) {
        if (r_) read_choice(*r_, k, out, allowed);
    }
    void choice_value(const char* k, std::string& out, std::initializer_list<const char*> allowed) {
        if (r_) read_choice(*r_, k, out, allowed);
    }
    template <class E, std::size_t N>
    void pick(const char* k, E& out, const enum_name<E> (&names)[N], const char*) {
        if (!r_ || !r_->has(k)) return;
        const auto& v = r_->at(k);
        auto e = parse_enum(r_->get<std::string>(v, k), names);
        if (!e) r_->fail(v, std::string(k) + " must be one of " + names_of(names, ", ", true));
        out = *e;
    }
    void key_kind(const char* k, key_type& out, const char*) {
        if (r_) out = read_key_type(*r_, k, out);
    }
    template <class Read, class Write>
    void custom(const char* k, Read read, Write, const char*) {
        if (r_ && r_->has(k)) read(*this, s_);
    }
    table_reader& table() { return *r_; }

private:
    table_reader& top_;
    const std::filesystem::path& base_;
    settings& s_;
    std::string section_;
    std::optional<table_reader> r_;
};

// Writes the keys of settings_table.hpp as TOML.
class toml_writer {
public:
    toml_writer(std::ostream& o, bool show_secrets) : o_(o), show_secrets_(show_secrets) {}

    void section(const char* name, const char*) { o_ << "[" << name << "]\n"; }
    void end() { o_ << "\n"; }
    void text(const char* k, const std::string& v, const char*) { line(k, quote(v)); }
    void secret(const char* k, const std::string& v, const char*) {
        line(k, quote(show_secrets_ || v.empty() ? v : "********"));
    }
    // A URL may carry credentials (user:password@, ?token=...): masked unless asked.
    void url(const char* k, const std::string& v, const char*) { line(k, quote(show_secrets_ ? v : redact_url(v))); }
    template <class I>
    void number(const char* k, const I& v, long long, long long, const char*) {
        line(k, std::to_string(v));
    }
    void flag(const char* k, bool v, const char*) { line(k, v ? "true" : "false"); }
    void duration(const char* k, std::chrono::seconds v, const char*) { line(k, quote(format_duration(v))); }
    void signed_duration(const char* k, std::chrono::seconds v, const char*) {
        line(k, quote((v.count() < 0 ? "-" : "") + format_duration(std::chrono::seconds(std::abs(v.count())))));
    }
    void list(const char* k, const std::vector<std::string>& v, const char*) { line(k, quote_list(v)); }
    void path(const char* k, const std::filesystem::path& v, const char*) { line(k, quote(v.string())); }
    void choice(const char* k, const std::string& v, std::initializer_list<const char*>, const char*) {
        line(k, quote(v));
    }
    template <class E, std::size_t N>
    void pick(const char* k, E v, const enum_name<E> (&names)[N], const char*) {
        line(k, quote(std::string(name_of(v, names))));
    }
    void key_kind(const char* k, key_type v, const char*) { line(k, quote(std::string(to_string(v)))); }
    template <class Read, class Write>
    void custom(const char* k, Read, Write write, const char*) {
        line(k, write(*this));
    }
    template <class Apply>
    void retired(const char*, const char*, Apply) {}
    bool show_secrets() const { return show_secrets_; }
    std::string quoted(const std::string& v) const { return quote(v); }
    std::string quoted_list(const std::vector<std::string>& v) const { return quote_list(v); }

private:
    void line(const char* k, const std::string& value) { o_ << k << " = " << value << "\n"; }
    std::ostream& o_;
    bool show_secrets_;
};

// Lists the keys of settings_table.hpp: "section.key<TAB>kind<TAB>doc".
class key_lister {
public:
    explicit key_lister(std::vector<setting_key>& out) : out_(out) {}
    void section(const char* name, const char*) { section_ = name; }
    void end() {}
    template <class T>
    void text(const char* k, T&, const char* doc) { add(k, "string", doc); }
    template <class T>
    void secret(const char* k, T&, const char* doc) { add(k, "string (secret)", doc); }
    template <class T>
    void url(const char* k, T&, const char* doc) { add(k, "URL (credentials in it masked)", doc); }
    template <class I>
    void number(const char* k, I&, long long min, long long max, const char* doc) {
        add(k, "integer " + std::to_string(min) + ".." + std::to_string(max), doc);
    }
    template <class T>
    void flag(const char* k, T&, const char* doc) { add(k, "boolean", doc); }
    template <class T>
    void duration(const char* k, T&, const char* doc) { add(k, "duration", doc); }
    template <class T>
    void signed_duration(const char* k, T&, const char* doc) { add(k, "signed duration", doc); }
    template <class T>
    void list(const char* k, T&, const char* doc) { add(k, "list of strings", doc); }
    template <class T>
    void path(const char* k, T&, const char* doc) { add(k, "path", doc); }
    template <class T>
    void choice(const char* k, T&, std::initializer_list<const char*> allowed, const char* doc) {
        std::string kinds;
        for (const char* a : allowed) kinds += (kinds.empty() ? "" : "|") + std::string(a);
        add(k, kinds, doc);
    }
    template <class E, std::size_t N>
    void pick(const char* k, E&, const enum_name<E> (&names)[N], const char* doc) {
        add(k, names_of(names, "|"), doc);
    }
    template <class T>
    void key_kind(const char* k, T&, const char* doc) { add(k, key_type_names("|"), doc); }
    template <class Read, class Write>
    void custom(const char* k, Read, Write, const char* doc) { add(k, "see the example file", doc); }
    template <class Apply>
    void retired(const char*, const char*, Apply) {}

private:
    void add(const char* k, std::string kind, const char* doc) {
        out_.push_back({section_ + "." + k, std::move(kind), doc});
    }
    std::vector<setting_key>& out_;
    std::string section_;
};

void read_file_table(const toml::value& root, settings& s, const std::filesystem::path& base) {
    table_reader top(root, "");
    top.path("data_dir", s.data_dir, std::filesystem::path{});  // relative to the working directory
    const bool ndes_was_enabled = s.ndes.enabled;
    toml_reader keys(top, base, s);
    visit_settings(keys, s);
    if (top.has("ndes")) {
        // Switching NDES on brings NDES's GetCACaps list and GetCACert order,
        // unless this file sets them (a later file that only tweaks [ndes]
        // keeps what an earlier one, e.g. a preset, chose).
        auto scep_sets = [&](const char* key) { return top.has("scep") && top.at("scep").contains(key); };
        if (s.ndes.enabled && !ndes_was_enabled) {
            if (!scep_sets("capabilities")) s.scep.capabilities = ndes_capabilities;
            if (!scep_sets("ca_cert_order")) s.scep.ca_cert_order = service_config::order::ca_first;
        }
    }

    if (top.has("templates")) {
        const auto& all = top.at("templates");
        if (!all.is_table()) throw std::runtime_error("[error] templates must be a table of [templates.NAME] sections");
        for (const auto& [name, value] : all.as_table()) {
            if (name == "issuance")
                throw std::runtime_error("[error] templates.issuance: \"issuance\" names the [issuance] profile; "
                                         "choose another template name");
            issuance_profile p = s.templates.count(name) ? s.templates.at(name) : s.issuance;
            p.name = name;
            table_reader t(value, "templates." + name);
            read_profile(t, p);
            t.finish();
            if (auto ok = scep::validate(p); !ok) t.fail(value, ok.message());
            s.templates[name] = std::move(p);
        }
    }
    if (top.has("faults")) {
        const auto& arr = top.at("faults");
        if (!arr.is_array()) throw std::runtime_error("[error] faults must be an array of [[faults]] tables");
        const auto& rules = arr.as_array();
        s.faults.clear();
        for (std::size_t i = 0; i < rules.size(); ++i) {
            const std::string where = "faults[" + std::to_string(i) + "]";
            table_reader t(rules[i], where);
            fault_rule rule;
            if (!t.has("kind")) t.fail(rules[i], "each [[faults]] needs a kind (docs/faults.md lists them)");
            const auto& kind_value = t.at("kind");
            const auto kind_name = t.get<std::string>(kind_value, "kind");
            auto kind = fault_kind_from_name(kind_name);
            if (!kind) t.fail(kind_value, "unknown fault kind \"" + kind_name + "\" (docs/faults.md)");
            rule.kind = *kind;
            t.boolean("one_shot", rule.one_shot);
            t.integer("status", rule.status, 300, 599);
            t.integer("delay_ms", rule.delay_ms, 0, 600000);
            t.integer("retry_after", rule.retry_after, 0, 86400);
            t.string("cipher", rule.cipher);
            if (t.has("when")) {
                table_reader w(t.at("when"), where + ".when");
                w.string("operation", rule.when.operation);
                w.string("message_type", rule.when.message_type);
                w.string("transaction_id", rule.when.transaction_id);
                w.string("client", rule.when.client);
                w.string("subject", rule.when.subject);
                w.integer("first", rule.when.first, 0, 1LL << 40);
                w.integer("every", rule.when.every, 0, 1LL << 40);
                w.integer("seed", rule.when.seed, 0, 1LL << 62);
                if (w.has("probability")) {
                    const auto& p = w.at("probability");
                    rule.when.probability = w.get<double>(p, "probability");
                }
                w.finish();
            }
            t.finish();
            // The same checks as arming it through the API (pattern, ranges).
            fault_plan check;
            if (auto ok = check.add(rule); !ok) t.fail(rules[i], ok.message());
            rule.status = check.rules().front().status;  // the kind's default when not given
            s.faults.push_back(std::move(rule));
        }
    }
    if (top.has("pki")) {
        table_reader r(top.at("pki"), "pki");
        r.boolean("ca_as_ra", s.pki.ca_as_ra);
        if (r.has("key_passphrase_file")) {
            const auto& v = r.at("key_passphrase_file");
            r.path("key_passphrase_file", s.key_passphrase_file, base);
            if (!s.key_passphrase_file.empty()) {
                std::ifstream in(s.key_passphrase_file, std::ios::binary);
                if (!in) r.fail(v, "key_passphrase_file: cannot read " + s.key_passphrase_file.string());
                std::getline(in, s.pki.key_passphrase);
                if (!s.pki.key_passphrase.empty() && s.pki.key_passphrase.back() == '\r') s.pki.key_passphrase.pop_back();
                if (s.pki.key_passphrase.size() < 8)
                    r.fail(v, "key_passphrase_file: the passphrase (first line) must have at least 8 characters");
            }
        }
        if (r.has("source")) {
            const auto& v = r.at("source");
            auto src = r.get<std::string>(v, "source");
            if (src != "generate" && src != "files") r.fail(v, "source must be \"generate\" or \"files\"");
            s.pki.bring_your_own = src == "files";
        }
        if (r.has("tiers")) {
            const auto& arr = r.at("tiers");
            const auto tiers = r.get<toml::array>(arr, "tiers");
            s.pki.tiers.clear();
            for (std::size_t i = 0; i < tiers.size(); ++i) {
                table_reader t(tiers[i], "pki.tiers[" + std::to_string(i) + "]");
                tier_spec spec;
                if (!t.has("name") || !t.has("subject"))
                    t.fail(tiers[i], "each tier needs at least name and subject");
                t.string("name", spec.name);
                t.string("subject", spec.subject);
                spec.key = read_key_type(t, "key", key_type::rsa2048);
                spec.validity = std::chrono::hours(24 * 365 * 5);
                t.duration("validity", spec.validity);
                if (t.has("key_usage")) {
                    std::vector<std::string> usages;
                    t.strings("key_usage", usages);
                    spec.key_usage = std::move(usages);
                }
                read_shape(t, tiers[i], spec.shape);
                t.strings("crl_paths", spec.crl_paths);
                t.strings("cert_paths", spec.cert_paths);
                // With subject_der, the text is for reading (it may not even parse back).
                if (auto subject = parse_subject(spec.subject); !subject && spec.shape.subject_der.empty())
                    t.fail(t.at("subject"), subject.message());
                t.finish();
                s.pki.tiers.push_back(std::move(spec));
            }
            if (s.pki.tiers.empty() || s.pki.tiers.size() > 4)
                r.fail(arr, "tiers must list 1 to 4 CAs, root first and issuing CA last");
        }
        if (r.has("ra")) {
            table_reader t(r.at("ra"), "pki.ra");
            t.string("subject", s.pki.ra.subject);
            s.pki.ra.key = read_key_type(t, "key", s.pki.ra.key);
            t.duration("validity", s.pki.ra.validity);
            if (t.has("key_usage")) t.strings("key_usage", s.pki.ra.key_usage);
            if (t.has("extended_key_usage")) t.strings("extended_key_usage", s.pki.ra.extended_key_usage);
            if (t.has("pair")) {
                const auto& v = t.at("pair");
                if (!v.is_boolean()) t.fail(v, "pair must be true or false");
                s.pki.ra.pair = v.as_boolean();
            }
            read_shape(t, r.at("ra"), s.pki.ra.shape);
            for (const auto& [name, half] : {std::pair{"signing", &s.pki.ra.signing}, std::pair{"encryption", &s.pki.ra.encryption}}) {
                if (!t.has(name)) continue;
                const auto& table = t.at(name);
                table_reader h(table, std::string("pki.ra.") + name);
                h.string("subject", half->subject);
                if (h.has("key")) half->key = read_key_type(h, "key", key_type::rsa2048);
                if (h.has("validity")) {
                    std::chrono::seconds v{};
                    h.duration("validity", v);
                    half->validity = v;
                }
                read_shape(h, table, half->shape);
                if (!half->subject.empty() && half->shape.subject_der.empty())
                    if (auto subject = parse_subject(half->subject); !subject) h.fail(h.at("subject"), subject.message());
                h.finish();
            }
            t.finish();
        }
        if (r.has("files")) {
            table_reader t(r.at("files"), "pki.files");
            if (t.has("chain")) {
                std::vector<std::string> chain;
                t.strings("chain", chain);
                s.pki.byo.chain.clear();
                for (const auto& c : chain)
                    s.pki.byo.chain.push_back(std::filesystem::path(c).is_absolute() ? std::filesystem::path(c) : base / c);
            }
            t.path("issuing_key", s.pki.byo.issuing_key, base);
            t.path("ra_cert", s.pki.byo.ra_cert, base);
            t.path("ra_key", s.pki.byo.ra_key, base);
            t.finish();
        }
        r.finish();
    }
    top.finish();
    derive(s);
}

}  // namespace

result<settings> load_preset(const std::string& name, settings base, checks when) {
    std::string known;
    for (const auto& p : presets()) {
        if (p.name == name) return load_string(p.text, "preset " + name, std::move(base), when);
        known += (known.empty() ? "" : ", ") + p.name;
    }
    return make_error("unknown preset \"" + name + "\" (known: " + known + ")");
}

namespace {
// TOML files are UTF-8 without control characters other than tab and line
// ends (TOML 1.0 §"Spec"). Checked before parsing: the toml11 in Debian
// bookworm reads past its buffer on some invalid UTF-8 (found by fuzzing).
result<void> check_text(const std::string& text, const std::string& name) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        auto bad = [&](const std::string& what) {
            return make_error(name + ":" + std::to_string(line) + ": " + what + " (a configuration file is UTF-8 text)");
        };
        if (c == '\n') ++line;
        auto ch = decode_utf8(text, i);
        if (!ch) return bad("invalid UTF-8");
        if ((ch->code_point < 0x20 && c != '\t' && c != '\n' && c != '\r') || ch->code_point == 0x7f)
            return bad("control character 0x" + to_hex(byte_view(&c, 1)));
        i += ch->size;
    }
    return {};
}
}  // namespace

result<settings> load_string(const std::string& text, const std::string& name, settings base, checks when) {
    if (auto ok = check_text(text, name); !ok) return ok.err();
    try {
        std::istringstream in(text);
        toml::value root = toml::parse(in, name);
        auto dir = std::filesystem::path(name).parent_path();
        read_file_table(root, base, dir);
    } catch (const toml::type_error& e) {
        // A key read by code without a typed get: say the type, not the cast.
        static const std::regex cast(R"(toml::value::(as_\w+\(\)|cast): bad_cast to (\w+))");
        return make_error(std::regex_replace(e.what(), cast, "a value of the wrong type: expected $2"));
    } catch (const toml::syntax_error& e) {
        static const std::regex where(R"(toml::\w+: )");
        return make_error(std::regex_replace(e.what(), where, "TOML syntax: ", std::regex_constants::format_first_only));
    } catch (const std::exception& e) {
        return make_error(e.what());
    }
    if (when == checks::now)
        if (auto r = validate(base); !r) return make_error(name + ": " + r.message());
    return base;
}

result<settings> load_file(const std::filesystem::path& file, settings base, checks when) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error("cannot read configuration file " + file.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return load_string(ss.str(), file.string(), std::move(base), when);
}

namespace {
// The keys read_shape reads, for to_toml.
std::string shape_toml(const cert_shape& shape) {
    std::string o;
    if (!shape.subject_der.empty()) o += "subject_der = " + quote(base64_encode(shape.subject_der)) + "\n";
    if (shape.signature) o += "signature = " + quote(to_string(*shape.signature)) + "\n";
    if (shape.not_before) o += "not_before = " + quote(utc_text(*shape.not_before)) + "\n";
    if (shape.not_after) o += "not_after = " + quote(utc_text(*shape.not_after)) + "\n";
    if (shape.extensions) {
        o += "extensions = [\n";
        for (const auto& line : *shape.extensions) o += "  " + quote(line) + ",\n";
        o += "]\n";
    }
    return o;
}
}  // namespace

std::string to_toml(const settings& s, bool show_secrets) {
    std::ostringstream o;
    o << "data_dir = " << quote(s.data_dir.string()) << "\n\n";
    toml_writer keys(o, show_secrets);
    visit_settings(keys, s);
    for (const auto& [name, p] : s.templates)
        o << "[templates." << (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
                                       std::string::npos
                                   ? name
                                   : quote(name))
          << "]\nvalidity = " << quote(format_duration(p.validity)) << "\nbackdate = " << quote(format_duration(p.backdate))
          << "\nkey_usage = " << quote_list(p.key_usage) << "\nextended_key_usage = " << quote_list(p.extended_key_usage)
          << "\nrequired_subject = " << quote_list(p.required_subject) << "\n\n";
    for (const auto& f : s.faults) {
        o << "[[faults]]\nkind = " << quote(std::string(info(f.kind).name)) << "\none_shot = " << (f.one_shot ? "true" : "false");
        if (f.kind == fault_kind::http_status)
            o << "\nstatus = " << f.status << "\nretry_after = " << f.retry_after;
        if (f.kind == fault_kind::redirect) o << "\nstatus = " << f.status;
        if (f.kind == fault_kind::delay_headers || f.kind == fault_kind::delay_body) o << "\ndelay_ms = " << f.delay_ms;
        if (f.kind == fault_kind::forced_cipher) o << "\ncipher = " << quote(f.cipher);
        const auto& w = f.when;
        std::string when;
        auto add = [&](const char* k, const std::string& v) {
            if (!v.empty()) when += (when.empty() ? "" : ", ") + std::string(k) + " = " + v;
        };
        add("operation", w.operation.empty() ? "" : quote(w.operation));
        add("message_type", w.message_type.empty() ? "" : quote(w.message_type));
        add("transaction_id", w.transaction_id.empty() ? "" : quote(w.transaction_id));
        add("client", w.client.empty() ? "" : quote(w.client));
        add("subject", w.subject.empty() ? "" : quote(w.subject));
        add("first", w.first ? std::to_string(w.first) : "");
        add("every", w.every ? std::to_string(w.every) : "");
        if (w.probability < 1.0) {
            std::ostringstream p;
            p.precision(17);
            p << w.probability;
            add("probability", p.str().find_first_of(".e") == std::string::npos ? p.str() + ".0" : p.str());
            add("seed", std::to_string(w.seed));
        }
        o << "\nwhen = { " << when << (when.empty() ? "" : " ") << "}\n\n";
    }
    o << "[pki]\nsource = " << quote(s.pki.bring_your_own ? "files" : "generate")
      << "\nca_as_ra = " << (s.pki.ca_as_ra ? "true" : "false")
      << "\nkey_passphrase_file = " << quote(s.key_passphrase_file.string()) << "\n\n";
    for (const auto& t : s.pki.tiers)
        o << "[[pki.tiers]]\nname = " << quote(t.name) << "\nsubject = " << quote(t.subject)
          << "\nkey = " << quote(std::string(to_string(t.key))) << "\nvalidity = " << quote(format_duration(t.validity))
          << (t.key_usage ? "\nkey_usage = " + quote_list(*t.key_usage) : std::string()) << "\n"
          << shape_toml(t.shape)
          << (t.crl_paths.empty() ? std::string() : "crl_paths = " + quote_list(t.crl_paths) + "\n")
          << (t.cert_paths.empty() ? std::string() : "cert_paths = " + quote_list(t.cert_paths) + "\n") << "\n";
    o << "[pki.ra]\nsubject = " << quote(s.pki.ra.subject) << "\nkey = " << quote(std::string(to_string(s.pki.ra.key)))
      << "\nvalidity = " << quote(format_duration(s.pki.ra.validity)) << "\nkey_usage = " << quote_list(s.pki.ra.key_usage)
      << "\nextended_key_usage = " << quote_list(s.pki.ra.extended_key_usage) << "\n"
      << shape_toml(s.pki.ra.shape) << "\n";
    for (const auto& [name, half] : {std::pair{"signing", &s.pki.ra.signing}, std::pair{"encryption", &s.pki.ra.encryption}}) {
        const std::string body = (half->subject.empty() ? "" : "subject = " + quote(half->subject) + "\n") +
                                 (half->key ? "key = " + quote(std::string(to_string(*half->key))) + "\n" : "") +
                                 (half->validity ? "validity = " + quote(format_duration(*half->validity)) + "\n" : "") +
                                 shape_toml(half->shape);
        if (!body.empty()) o << "[pki.ra." << name << "]\n" << body << "\n";
    }
    std::vector<std::string> chain;
    for (const auto& c : s.pki.byo.chain) chain.push_back(c.string());
    o << "[pki.files]\nchain = " << quote_list(chain) << "\nissuing_key = " << quote(s.pki.byo.issuing_key.string())
      << "\nra_cert = " << quote(s.pki.byo.ra_cert.string()) << "\nra_key = " << quote(s.pki.byo.ra_key.string())
      << "\n";
    return o.str();
}

std::vector<setting_key> setting_keys() {
    std::vector<setting_key> out;
    key_lister lister(out);
    settings s = defaults();
    visit_settings(lister, s);
    return out;
}

}  // namespace scep::config
