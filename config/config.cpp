#include "config/config.hpp"

#include "config/settings_table.hpp"

#include <toml.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

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

    void string(const std::string& key, std::string& out) {
        if (has(key)) out = toml::get<std::string>(at(key));
    }
    void boolean(const std::string& key, bool& out) {
        if (has(key)) out = toml::get<bool>(at(key));
    }
    template <class Int>
    void integer(const std::string& key, Int& out, long long min, long long max) {
        if (!has(key)) return;
        const auto& v = at(key);
        auto n = toml::get<long long>(v);
        if (n < min || n > max)
            fail(v, key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
        out = static_cast<Int>(n);
    }
    void duration(const std::string& key, std::chrono::seconds& out) {
        if (!has(key)) return;
        const auto& v = at(key);
        auto d = parse_duration(toml::get<std::string>(v));
        if (!d) fail(v, key + " is not a duration: use a number and a unit, e.g. \"30s\", \"10m\", \"12h\", \"365d\"");
        out = *d;
    }
    void strings(const std::string& key, std::vector<std::string>& out) {
        if (has(key)) out = toml::get<std::vector<std::string>>(at(key));
    }
    void path(const std::string& key, std::filesystem::path& out, const std::filesystem::path& base) {
        if (!has(key)) return;
        std::filesystem::path p = toml::get<std::string>(at(key));
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
    auto value = toml::get<std::string>(v);
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

std::optional<fail_info> fail_info_named(std::string_view name) {
    for (auto f : {fail_info::bad_alg, fail_info::bad_message_check, fail_info::bad_request, fail_info::bad_time,
                   fail_info::bad_cert_id})
        if (to_string(f) == name) return f;
    return std::nullopt;
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
    auto k = key_type_from_name(toml::get<std::string>(v));
    if (!k) r.fail(v, key + " must be one of rsa2048, rsa3072, rsa4096, ec-p256, ec-p384");
    return *k;
}

// "-30d", "+2h", "0s": a duration with an optional sign.
std::optional<std::chrono::seconds> parse_signed_duration(std::string_view text) {
    bool negative = false;
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    auto d = parse_duration(text);
    if (!d) return std::nullopt;
    return negative ? -*d : *d;
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
        if (top_.has(name)) r_.emplace(top_.at(name), name);
    }
    void end() {
        if (r_) r_->finish();
        r_.reset();
    }
    void text(const char* k, std::string& out, const char*) {
        if (r_) r_->string(k, out);
    }
    void secret(const char* k, std::string& out, const char* doc) { text(k, out, doc); }
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
        auto d = parse_signed_duration(toml::get<std::string>(v));
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
    void key_kind(const char* k, key_type v, const char*) { line(k, quote(std::string(to_string(v)))); }
    template <class Read, class Write>
    void custom(const char* k, Read, Write write, const char*) {
        line(k, write(*this));
    }
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
    template <class T>
    void key_kind(const char* k, T&, const char* doc) { add(k, "rsa2048|rsa3072|rsa4096|ec-p256|ec-p384", doc); }
    template <class Read, class Write>
    void custom(const char* k, Read, Write, const char* doc) { add(k, "see the example file", doc); }

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
        s.scep.ndes_replies = s.ndes.enabled;
        s.scep.reply_sha1 = s.ndes.enabled && s.ndes.reply_digest == "sha1";
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
            auto src = toml::get<std::string>(v);
            if (src != "generate" && src != "files") r.fail(v, "source must be \"generate\" or \"files\"");
            s.pki.bring_your_own = src == "files";
        }
        if (r.has("tiers")) {
            const auto& arr = r.at("tiers");
            const auto& tiers = toml::get<toml::array>(arr);
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
                if (auto subject = parse_subject(spec.subject); !subject) t.fail(t.at("subject"), subject.message());
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
    s.pki.ra.ndes_pair = s.ndes.enabled && s.ndes.ra_pair;
    s.pki.ra.ndes_subject = s.ndes.ra_subject;
}


}  // namespace

std::map<std::string, issuance_profile> builtin_templates() {
    // NDES's factory default for all three slots: "IPSec (Offline request)",
    // digitalSignature + keyEncipherment, EKU IP security IKE intermediate,
    // two years (ndes.md §5).
    issuance_profile ipsec;
    ipsec.name = "IPSECIntermediateOffline";
    ipsec.key_usage = {"digitalSignature", "keyEncipherment"};
    ipsec.extended_key_usage = {"1.3.6.1.5.5.8.2.2"};
    ipsec.validity = std::chrono::hours(24 * 365 * 2);
    return {{ipsec.name, ipsec}};
}

clock_fn lab_clock(const settings& s) {
    const auto offset = s.lab.clock_offset;
    if (offset.count() == 0) return system_clock_fn();
    return [offset] { return std::chrono::system_clock::now() + offset; };
}

std::vector<std::string> https_names(const settings& s, const std::string& host_name) {
    if (!s.https.names.empty()) return s.https.names;
    std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
    auto add = [&](const std::string& n) {
        if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    add(host_name);
    const std::string& listen = s.https_listen();
    if (listen != "0.0.0.0" && listen != "::") add(listen);
    return names;
}

settings defaults() {
    settings s;
    s.scep.challenge = default_challenge;
    // micromdm scepclient 2.x (Debian's `scep` package) and Cisco IOS encrypt
    // with single DES only. A lab server must serve them out of the box; the
    // server warns at start, and strict presets turn it off (RFC 8894 §2.9).
    s.scep.ciphers.allow_single_des = true;
    using std::chrono::hours;
    s.pki.tiers = {
        {"root", "CN=scep-lab Root CA,O=scep-lab", key_type::rsa2048, hours(24 * 3650)},
        {"intermediate", "CN=scep-lab Intermediate CA,O=scep-lab", key_type::rsa2048, hours(24 * 1825)},
        {"issuing", "CN=scep-lab Issuing CA,O=scep-lab", key_type::rsa2048, hours(24 * 1095)},
    };
    return s;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    if (text.size() < 2) return std::nullopt;
    char unit = text.back();
    std::string_view digits = text.substr(0, text.size() - 1);
    long long n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
        if (n > 100000000) return std::nullopt;
    }
    switch (unit) {
        case 's': return std::chrono::seconds(n);
        case 'm': return std::chrono::seconds(n * 60);
        case 'h': return std::chrono::seconds(n * 3600);
        case 'd': return std::chrono::seconds(n * 86400);
        case 'y': return std::chrono::seconds(n * 86400 * 365);
        default: return std::nullopt;
    }
}

std::optional<std::chrono::milliseconds> parse_millis(std::string_view text) {
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        long long n = 0;
        for (char c : text.substr(0, text.size() - 2)) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + (c - '0');
            if (n > 100000000) return std::nullopt;
        }
        return std::chrono::milliseconds(n);
    }
    if (auto d = parse_duration(text)) return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    return std::nullopt;
}

std::string format_millis(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return format_duration(std::chrono::duration_cast<std::chrono::seconds>(ms));
    return std::to_string(ms.count()) + "ms";
}

namespace {

result<issuance_profile> profile_named(const settings& s, const std::string& name) {
    if (name == "issuance") return s.issuance;
    auto it = s.templates.find(name);
    if (it == s.templates.end()) {
        std::string known = "issuance";
        for (const auto& [n, p] : s.templates) known += ", " + n;
        return make_error("unknown template \"" + name + "\" (defined: " + known + ")");
    }
    return it->second;
}
}  // namespace

service_config service_settings(const settings& s) {
    service_config c = s.scep;
    if (s.ndes.enabled) {
        c.reject_utf8_challenge = s.ndes.reject_utf8_challenge;
        // validate() has checked the names.
        auto slot = [&](const std::string& name) {
            auto p = profile_named(s, name);
            return p ? *p : s.issuance;
        };
        template_slots t;
        t.signature = slot(s.ndes.signature_template);
        t.encryption = slot(s.ndes.encryption_template);
        t.general_purpose = slot(s.ndes.general_purpose_template);
        c.templates = std::move(t);
    }
    if (s.quirks.all_pending) c.approval.manual = true;
    if (s.quirks.chain == "no-root") c.include_root_in_ca_chain = false;
    if (s.quirks.chain == "issuing-only") c.chain_issuing_only = true;
    if (!s.quirks.fail_info.empty()) c.forced_failure = fail_info_named(s.quirks.fail_info);
    return c;
}

std::vector<std::string> active_quirks(const settings& s) {
    const auto& q = s.quirks;
    std::vector<std::string> out;
    if (q.max_url_bytes) out.push_back("max_url_bytes = " + std::to_string(q.max_url_bytes) + ": longer URLs get 414");
    if (q.max_query_bytes)
        out.push_back("max_query_bytes = " + std::to_string(q.max_query_bytes) + ": longer query strings get 414");
    if (q.latency.count()) out.push_back("latency = " + format_millis(q.latency) + " before every SCEP answer");
    for (const auto& [op, status] : q.fail_status)
        out.push_back("fail_status: every " + op + " gets HTTP " + std::to_string(status));
    if (q.fail_every)
        out.push_back("fail_every = " + std::to_string(q.fail_every) + ": one in " + std::to_string(q.fail_every) +
                      " SCEP requests gets HTTP " + std::to_string(q.fail_every_status));
    if (q.expired_ra) out.push_back("expired_ra: the RA certificates served and used to sign expired yesterday");
    if (q.chain != "full") out.push_back("chain = " + q.chain + ": GetCACert sends an incomplete chain");
    if (q.all_pending) out.push_back("all_pending: every request is PENDING until `scep-lab approve`");
    if (!q.fail_info.empty()) out.push_back("fail_info = " + q.fail_info + ": every PKIOperation gets FAILURE");
    return out;
}

result<settings> load_preset(const std::string& name, settings base, checks when) {
    std::string known;
    for (const auto& p : presets()) {
        if (p.name == name) return load_string(p.text, "preset " + name, std::move(base), when);
        known += (known.empty() ? "" : ", ") + p.name;
    }
    return make_error("unknown preset \"" + name + "\" (known: " + known + ")");
}

std::string format_duration(std::chrono::seconds s) {
    auto n = s.count();
    if (n % 86400 == 0) return std::to_string(n / 86400) + "d";
    if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
    if (n % 60 == 0) return std::to_string(n / 60) + "m";
    return std::to_string(n) + "s";
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
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return bad("control character 0x" + to_hex(byte_view(&c, 1)));
            ++i;
            continue;
        }
        std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || i + n > text.size()) return bad("invalid UTF-8");
        std::uint32_t cp = c & (0xFF >> (n + 1));
        for (std::size_t k = 1; k < n; ++k) {
            auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) return bad("invalid UTF-8");
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return bad("invalid UTF-8");
        i += n;
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
                 s.log.format = v;
                 return {};
             }},
            {"SCEP_LAB_LOG_LEVEL", "log.level", "trace, debug, info, warn or error",
             [](settings& s, const std::string& v) -> result<void> {
                 s.log.level = v;
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
    if (auto r = validate(s); !r) return r.err();
    return s;
}

result<void> validate(const settings& s) {
    if (s.log.format != "text" && s.log.format != "json")
        return make_error("log.format must be \"text\" or \"json\", not \"" + s.log.format + "\"");
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
    if (!levels.count(s.log.level))
        return make_error("log.level must be one of trace, debug, info, warn, error, off; not \"" + s.log.level + "\"");
    if (s.data_dir.empty()) return make_error("data_dir must not be empty");
    if (s.scep_paths.empty()) return make_error("scep.paths must name at least one path");
    for (const auto& p : s.scep_paths)
        if (p.empty() || p.front() != '/' || p.find_first_of("?# ") != std::string::npos)
            return make_error("scep.paths: \"" + p + "\" must start with '/' and contain no '?', '#' or space");
    // Unknown keywords are allowed: clients ignore them (RFC 8894 §3.5.2).
    for (const auto& c : s.scep.capabilities)
        if (c.empty() || c.find_first_of("\r\n") != std::string::npos)
            return make_error("scep.capabilities: empty entries and line breaks are not allowed");
    if (!s.crl_base_url.empty() && s.crl_base_url.rfind("http://", 0) != 0 && s.crl_base_url.rfind("https://", 0) != 0)
        return make_error("crl.base_url must start with http:// or https://, not \"" + s.crl_base_url + "\"");
    if (s.scep.crl_validity < std::chrono::minutes(1)) return make_error("crl.validity must be at least one minute");
    if (auto r = scep::validate(s.pki); !r) return r;
    if (auto r = scep::validate(s.issuance); !r) return make_error("issuance: " + r.message());
    for (const auto& [name, p] : s.templates)
        if (auto r = scep::validate(p); !r) return make_error("templates." + name + ": " + r.message());
    // An unknown template fails here, at start-up, not at the first request.
    for (auto [key, name] : {std::pair{"ndes.signature_template", &s.ndes.signature_template},
                             std::pair{"ndes.encryption_template", &s.ndes.encryption_template},
                             std::pair{"ndes.general_purpose_template", &s.ndes.general_purpose_template}})
        if (auto p = profile_named(s, *name); !p) return make_error(std::string(key) + ": " + p.message());
    if (!s.server.http && !s.https.enabled)
        return make_error("server.http = false and https.enabled = false: nothing would listen; turn one on");
    if (s.https.cert_file.empty() != s.https.key_file.empty())
        return make_error("https.cert_file and https.key_file go together: set both (your own certificate) or neither "
                          "(issued by the lab)");
    if (s.server.http && s.https.enabled && s.https.port != 0 && s.https.port == s.server.port &&
        s.https_listen() == s.server.listen)
        return make_error("server.port and https.port are both " + std::to_string(s.https.port) +
                          ": HTTP and HTTPS need different ports");
    for (const auto& n : s.https.names)
        if (n.empty() || n.find_first_of(" ,/") != std::string::npos)
            return make_error("https.names: \"" + n + "\" is not a host name or IP address");
    if (s.quirks.expired_ra && s.pki.ca_as_ra)
        return make_error("quirks.expired_ra needs a separate RA certificate; it cannot be used with pki.ca_as_ra = true");
    return {};
}

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
    o << "[pki]\nsource = " << quote(s.pki.bring_your_own ? "files" : "generate")
      << "\nca_as_ra = " << (s.pki.ca_as_ra ? "true" : "false")
      << "\nkey_passphrase_file = " << quote(s.key_passphrase_file.string()) << "\n\n";
    for (const auto& t : s.pki.tiers)
        o << "[[pki.tiers]]\nname = " << quote(t.name) << "\nsubject = " << quote(t.subject)
          << "\nkey = " << quote(std::string(to_string(t.key))) << "\nvalidity = " << quote(format_duration(t.validity))
          << "\n\n";
    o << "[pki.ra]\nsubject = " << quote(s.pki.ra.subject) << "\nkey = " << quote(std::string(to_string(s.pki.ra.key)))
      << "\nvalidity = " << quote(format_duration(s.pki.ra.validity)) << "\n\n";
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
