// scep-lab settings: embedded defaults, a TOML file, SCEP_LAB_* environment
// variables and command-line flags, in that order of precedence. Every limit
// and timeout lives here with its default (config/scep-lab.example.toml
// documents each key).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/scep/service.hpp"

namespace scep::config {

// A mode's spellings in TOML, the environment and on the command line: each
// enum below has one table, read and written through it (parse_enum, name_of).
template <class E>
struct enum_name {
    std::string_view name;
    E value;
};
template <class E, std::size_t N>
constexpr std::string_view name_of(E value, const enum_name<E> (&names)[N]) {
    for (const auto& n : names)
        if (n.value == value) return n.name;
    return "?";
}
template <class E, std::size_t N>
constexpr std::optional<E> parse_enum(std::string_view text, const enum_name<E> (&names)[N]) {
    for (const auto& n : names)
        if (n.name == text) return n.value;
    return std::nullopt;
}
// "a, b, c" (with quotes when `quoted`), for errors and key lists.
template <class E, std::size_t N>
std::string names_of(const enum_name<E> (&names)[N], std::string_view separator = ", ", bool quoted = false) {
    std::string out;
    for (const auto& n : names)
        out += std::string(out.empty() ? "" : separator) + (quoted ? "\"" : "") + std::string(n.name) + (quoted ? "\"" : "");
    return out;
}

enum class log_format { text, json };
inline constexpr enum_name<log_format> log_formats[] = {{"text", log_format::text}, {"json", log_format::json}};
enum class log_level { trace, debug, info, warn, error, off };
inline constexpr enum_name<log_level> log_levels[] = {{"trace", log_level::trace}, {"debug", log_level::debug},
                                                      {"info", log_level::info},   {"warn", log_level::warn},
                                                      {"error", log_level::error}, {"off", log_level::off}};
enum class challenge_mode { static_secret, ndes_dynamic, api, webhook, ndes_policy };
inline constexpr enum_name<challenge_mode> challenge_modes[] = {{"static", challenge_mode::static_secret},
                                                                {"ndes-dynamic", challenge_mode::ndes_dynamic},
                                                                {"api", challenge_mode::api},
                                                                {"webhook", challenge_mode::webhook},
                                                                {"ndes-policy", challenge_mode::ndes_policy}};
enum class password_mode { dynamic, single, none };
inline constexpr enum_name<password_mode> password_modes[] = {
    {"dynamic", password_mode::dynamic}, {"single", password_mode::single}, {"none", password_mode::none}};
enum class webhook_format { scep_lab, step_ca };
inline constexpr enum_name<webhook_format> webhook_formats[] = {{"scep-lab", webhook_format::scep_lab},
                                                                {"step-ca", webhook_format::step_ca}};
enum class browse_answer { page, forbidden };
inline constexpr enum_name<browse_answer> browse_answers[] = {{"page", browse_answer::page}, {"403", browse_answer::forbidden}};
enum class admin_page_answer { password, cache_full, no_permission, empty, server_error };
inline constexpr enum_name<admin_page_answer> admin_page_answers[] = {
    {"password", admin_page_answer::password}, {"cache-full", admin_page_answer::cache_full},
    {"no-permission", admin_page_answer::no_permission}, {"empty", admin_page_answer::empty},
    {"500", admin_page_answer::server_error}};
enum class reply_digest_mode { sha1, mirror };
inline constexpr enum_name<reply_digest_mode> reply_digest_modes[] = {{"sha1", reply_digest_mode::sha1},
                                                                      {"mirror", reply_digest_mode::mirror}};
inline constexpr enum_name<approval_mode> approval_modes[] = {{"auto", approval_mode::automatic},
                                                              {"manual", approval_mode::manual}};
inline constexpr enum_name<service_config::ec_mode> ec_modes[] = {{"kari", service_config::ec_mode::kari},
                                                                 {"refuse", service_config::ec_mode::refuse}};
inline constexpr enum_name<service_config::order> ca_cert_orders[] = {{"ra-first", service_config::order::ra_first},
                                                                     {"ca-first", service_config::order::ca_first}};
inline constexpr enum_name<service_config::reply_chain> reply_chains[] = {
    {"none", service_config::reply_chain::none},
    {"issuing", service_config::reply_chain::issuing},
    {"full", service_config::reply_chain::full}};
inline constexpr enum_name<service_config::line_end> caps_line_ends[] = {{"lf", service_config::line_end::lf},
                                                                       {"crlf", service_config::line_end::crlf}};
enum class chain_quirk { full, no_root, issuing_only };
inline constexpr enum_name<chain_quirk> chain_quirks[] = {
    {"full", chain_quirk::full}, {"no-root", chain_quirk::no_root}, {"issuing-only", chain_quirk::issuing_only}};

struct server_settings {
    std::string listen = "127.0.0.1";
    std::uint16_t port = 8080;
    unsigned threads = 0;  // 0 = one per core
    std::size_t max_body_bytes = 1 << 20;
    // Request line + headers. Generous: iOS sends PKIOperation by GET; NDES
    // presets lower it to reproduce IIS's 404.15 and HTTP.sys's 414.
    std::size_t max_header_bytes = 65536;
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds idle_timeout{60};
    std::size_t max_connections = 1024;
    std::string ready_file;  // written with the listening URL once ready
    std::string env_file;    // KEY=value lines for CI once ready (cli/serve.cpp)
    bool http = true;        // the plain HTTP listener (HTTPS is [https])
    // On SIGTERM/SIGINT: how long requests already read may take to finish.
    std::chrono::seconds shutdown_timeout{10};
    // HTTP identity (a clone copies the customer's): added to every answer
    // that does not set its own (IIS error pages keep theirs).
    std::string header_server;
    std::string header_powered_by;
};

// The HTTPS listener: same routes as HTTP, with a server certificate issued
// by the lab hierarchy (or the tester's own).
struct https_settings {
    bool enabled = true;
    std::string listen;  // empty: server.listen
    std::uint16_t port = 8443;
    // DNS names and IP addresses of the lab-issued certificate; empty means
    // localhost, 127.0.0.1, ::1, this machine's host name and the listen
    // address when it is a specific one.
    std::vector<std::string> names;
    key_type key = key_type::rsa2048;
    // Your own certificate (PEM: server certificate first, then its chain)
    // and key; both or neither.
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
    std::string min_version = "1.2";  // "1.2" | "1.3"
};

struct log_settings {
    log_format format = log_format::text;
    log_level level = log_level::info;
    // When set, every PKIOperation request and reply is written here as DER
    // (<n>-<transactionID>.request.der / .reply.der): captures for support
    // cases, openssl asn1parse, and the fuzzers' seed corpus.
    std::string capture_dir;
    // When set, every request answered is logged here as IIS logs it (W3C,
    // u_exYYMMDD.log a UTC day): server/iis_log.hpp.
    std::string iis_dir;
};

// The transaction inspector (docs/inspector.md): every SCEP exchange decoded,
// checked against the findings catalogue and kept in <data_dir>/transactions.db.
struct inspector_settings {
    bool enabled = true;
    std::size_t retention = 10000;       // newest transactions kept
    std::size_t max_der_bytes = 65536;   // request/reply DER kept per transaction (larger: not kept)
};

// Deterministic mode for CI fixtures: a shifted clock and predictable serials.
struct lab_settings {
    // Added to the real time everywhere the lab reads the clock (issuance,
    // CRLs, passwords, PKI generation): "-30d" reproduces a lab a month old.
    std::chrono::seconds clock_offset{0};
    // Non-empty: serials are SHA-256("<seed>:<n>") for the n-th certificate
    // (n continues from the store's row count), not random.
    std::string serial_seed;
};

// How PKCSReq challenges are checked (docs/challenges.md).
struct challenge_settings {
    // "static": scep.challenge (in NDES mode, ndes.password_mode decides);
    // "ndes-dynamic": the old spelling of "static" with ndes.password_mode =
    // "dynamic" (derive() rewrites it, with a deprecation note);
    // "api": challenges from POST /admin/api/challenges, kept in <data_dir>/challenges.db.
    // "webhook": each new enrollment is POSTed to webhook_url, which allows or denies it;
    // "ndes-policy": the same transport speaking NDES's INDESPolicy contract (VerifyRequest, Notify).
    challenge_mode mode = challenge_mode::static_secret;
    std::chrono::seconds default_ttl = std::chrono::hours(1);  // api: when the request names none
    std::string webhook_url;                     // http:// or https://
    config::webhook_format webhook_format = config::webhook_format::scep_lab;  // or step-ca's SCEPCHALLENGE body
    std::string webhook_secret;                  // HMAC-SHA256 key; step-ca format: base64, as step-ca prints it
    std::string webhook_id;                      // step-ca format: X-Smallstep-Webhook-ID
    std::string webhook_bearer_token;            // sent as Authorization: Bearer when set
    std::filesystem::path webhook_ca_file;       // https: trust these (PEM) instead of the system store
    std::chrono::milliseconds webhook_timeout{5000};
    bool policy_get_template = false;  // ndes-policy: ask the module for the template (GetTemplate)
    bool policy_notify = true;         // ndes-policy: Notify after each decided transaction
};

// The admin API (docs/admin-api.md) and its bearer token.
struct admin_settings {
    bool enabled = true;
    // Where the token lives; empty = <data_dir>/admin-token. Generated (0600)
    // at the first start and printed once.
    std::filesystem::path token_file;
    // SCEP_LAB_ADMIN_TOKEN: a token chosen by the caller (CI fixtures); never printed.
    std::string token;
    // Accept admin requests from non-loopback clients (Docker port mappings).
    bool allow_remote = false;
};

// NDES mode (shared/reference/ndes.md): Microsoft's URLs, admin page and
// password behaviour.
struct ndes_settings {
    bool enabled = false;
    config::password_mode password_mode = config::password_mode::dynamic;  // none: EnforcePassword = 0
    std::chrono::seconds password_validity = std::chrono::minutes(60);
    std::size_t password_cache = 5;
    std::size_t password_bytes = 8;  // 16 hex digits, as NDES
    std::string admin_encoding = "utf-16le-bom";  // utf-16le-bom | utf-16le | utf-8
    std::vector<std::string> admin_users;         // "name:password" for HTTP Basic; empty = open
    // Which CA the admin page's thumbprint is of: "issuing" or "root" (unconfirmed on real NDES).
    std::string thumbprint_ca = "issuing";
    // Browsing the SCEP URL without an operation: "page" (information page) or "403"
    // (what NDES does with the Intune policy module installed).
    browse_answer browse = browse_answer::page;
    // The admin page's answer: "password" (normal), "cache-full", "no-permission", "empty", "500".
    admin_page_answer admin_response = admin_page_answer::password;
    // Digest of reply signatures: "sha1" (as NDES) or "mirror" (the request's).
    reply_digest_mode reply_digest = reply_digest_mode::sha1;
    // The RA pair (signing + encryption certificates) instead of one RA.
    bool ra_pair = true;
    std::string ra_subject = "CN=SCEPLAB-MSCEP-RA,O=scep-lab";
    // A UTF8String challengePassword gets FAILURE/badRequest, as on NDES.
    bool reject_utf8_challenge = true;
    // The three template slots (ndes.md §5), each the name of a [templates.*]
    // profile, or "issuance" for the [issuance] profile. NDES's factory
    // default is IPSECIntermediateOffline for all three.
    std::string signature_template = "IPSECIntermediateOffline";
    std::string encryption_template = "IPSECIntermediateOffline";
    std::string general_purpose_template = "IPSECIntermediateOffline";
    // The templates the CA publishes; a slot naming another one fails with
    // 0x80094800 (event 31), NDES's most reported error. Empty = all.
    std::vector<std::string> ca_templates;
    // Write the events NDES would write (docs/ndes.md) beside the normal log
    // and to <data_dir>/ndes-events.log.
    bool event_log = false;
};

// Reproduction knobs (docs/ndes.md "quirks"): all off by default.
struct quirk_settings {
    std::size_t max_url_bytes = 0;    // 414 when the request target is longer (HTTP.sys MaxFieldLength: 16384)
    std::size_t max_query_bytes = 0;  // 404 (404.15) when the query string is longer (IIS maxQueryString: 2048)
    std::chrono::milliseconds latency{0};  // added before every SCEP and admin-page answer
    std::map<std::string, int> fail_status;  // operation -> HTTP status answered instead
    std::size_t fail_every = 0;        // every N-th SCEP request gets fail_every_status
    int fail_every_status = 503;
    bool expired_ra = false;           // serve and sign with RA certificates that expired yesterday
    chain_quirk chain = chain_quirk::full;
    std::string fail_info;             // every PKIOperation FAILURE with this failInfo
};

// Microsoft's NDES URLs (IIS paths are case-insensitive; clients write both
// spellings). The first is the one links and profiles use.
inline constexpr std::array<std::string_view, 4> ndes_scep_paths{"/certsrv/mscep/mscep.dll", "/certsrv/mscep",
                                                                 "/CertSrv/mscep/mscep.dll", "/CertSrv/mscep"};
inline constexpr std::string_view ndes_admin_path = "/certsrv/mscep_admin/";

// The shortest admin API token accepted (from the token file or SCEP_LAB_ADMIN_TOKEN).
inline constexpr std::size_t min_admin_token_length = 16;

// Operations fail_status may name: the SCEP operations and NDES's admin page.
inline const std::vector<std::string> quirk_operations = [] {
    std::vector<std::string> out(std::begin(scep_operations), std::end(scep_operations));
    out.emplace_back("mscep_admin");
    return out;
}();

// Built-in issuance profiles, usable as NDES templates.
std::map<std::string, issuance_profile> builtin_templates();

// NDES GetCACaps as captured from a real server (ndes.md §3).
inline const std::vector<std::string> ndes_capabilities{"POSTPKIOperation", "Renewal", "SHA-512", "SHA-256",
                                                        "SHA-1", "DES3"};

struct settings {
    std::filesystem::path data_dir = "./data";
    server_settings server;
    https_settings https;
    admin_settings admin;
    lab_settings lab;
    log_settings log;
    inspector_settings inspector;
    // [[faults]]: fault rules armed at start (docs/faults.md).
    std::vector<fault_rule> faults;
    std::vector<std::string> scep_paths{"/scep", "/cgi-bin/pkiclient.exe"};
    service_config scep;
    hierarchy_spec pki;
    issuance_profile issuance;
    csr_policy csr;

    // Base of the CRL URLs in issued certificates ("http://host:port");
    // empty = the server's own address.
    std::string crl_base_url;
    ndes_settings ndes;
    // Named issuance profiles ([templates.NAME]), for the NDES template slots.
    std::map<std::string, issuance_profile> templates = builtin_templates();
    quirk_settings quirks;
    challenge_settings challenge;
    // File holding the passphrase of the lab's private keys (PKCS#8, AES-256);
    // SCEP_LAB_KEY_PASSPHRASE overrides it. The passphrase itself lives only
    // in pki.key_passphrase, never in output or logs.
    std::filesystem::path key_passphrase_file;
    // Old spellings read on the way (a retired key, a mode said another way),
    // each naming what replaces it; said once at start-up.
    std::vector<std::string> deprecations;

    std::filesystem::path pki_dir() const { return data_dir / "pki"; }
    std::filesystem::path store_file() const { return data_dir / "scep-lab.db"; }
    std::filesystem::path ndes_events_file() const { return data_dir / "ndes-events.log"; }
    std::filesystem::path challenges_file() const { return data_dir / "challenges.db"; }
    // The transaction inspector's log (docs/inspector.md).
    std::filesystem::path transactions_file() const { return data_dir / "transactions.db"; }
    // Where HTTPS listens (https.listen, or server.listen when empty).
    const std::string& https_listen() const { return https.listen.empty() ? server.listen : https.listen; }
    // The HTTPS certificate file the server uses: your own, or the lab-issued one.
    std::filesystem::path lab_https_cert_file() const { return pki_dir() / "https-server.crt"; }
    std::filesystem::path lab_https_key_file() const { return pki_dir() / "https-server.key"; }
    std::filesystem::path https_cert_file() const { return https.cert_file.empty() ? lab_https_cert_file() : https.cert_file; }
    std::filesystem::path admin_token_file() const {
        return admin.token_file.empty() ? data_dir / "admin-token" : admin.token_file;
    }
};

// The names the lab-issued HTTPS certificate carries (https.names, or the
// defaults listed there).
std::vector<std::string> https_names(const settings& s, const std::string& host_name);

// The embedded defaults: a three-tier RSA hierarchy, static challenge.
settings defaults();
inline constexpr const char* default_challenge = "scep-lab-challenge";

// Whether a loader runs the cross-field checks of validate() on its result
// (standalone use), or leaves them to whoever settles the final layers.
enum class checks { now, at_the_end };

// Reads a TOML file over `base`. Errors name the file, line and problem.
result<settings> load_file(const std::filesystem::path& file, settings base, checks when = checks::now);
result<settings> load_string(const std::string& toml_text, const std::string& name, settings base,
                             checks when = checks::now);

using env_lookup = std::function<std::optional<std::string>(const char*)>;
env_lookup process_env();

// Sets one key ("section.name", or "data_dir") from text, as an environment
// variable or a command-line flag gives it: the key's kind in
// settings_table.hpp chooses the parser and the range, as for TOML. The error
// reads `="value" must be ...`, without the value for a secret, so that the
// caller puts the variable's or flag's name in front.
result<void> set_from_text(settings& s, std::string_view key, const std::string& value);

// A SCEP_LAB_* variable: its name, the key it sets (applied by
// set_from_text), one line of documentation. The layer variables
// SCEP_LAB_PRESET and SCEP_LAB_CONFIG (read by settle()) and the two secrets
// with no key (the key passphrase, the admin token) have `apply` instead.
struct env_variable {
    std::string name;
    std::string setting;
    std::string doc;
    std::function<result<void>(settings&, const std::string&)> apply;
};
const std::vector<env_variable>& env_variables();

// Applies the SCEP_LAB_* variables (docs/configuration.md lists them); each
// value is checked as it is read.
result<void> apply_env(settings& s, const env_lookup& env, checks when = checks::now);

// A command-line flag's value for a key (`--port 0` is {"--port", "server.port", "0"}).
struct flag_setting {
    std::string flag;
    std::string key;
    std::string value;
};

// The layers, lowest first: embedded defaults < preset < configuration file <
// SCEP_LAB_* environment < command-line flags. Each layer is read on top of
// the one below; validate() runs once, on the final settings, so a value one
// layer sets and a later one fixes is not refused on the way.
struct layers {
    std::string preset;       // --preset; empty: SCEP_LAB_PRESET
    std::string config_file;  // --config; empty: SCEP_LAB_CONFIG
    std::vector<flag_setting> flags;  // the command line, in order
};
result<settings> settle(const layers& l, const env_lookup& env);

// Cross-field checks (also run after flags are applied).
result<void> validate(const settings& s);

// The clock the lab runs on: the system clock plus lab.clock_offset.
clock_fn lab_clock(const settings& s);

// The [issuance] profile ("issuance") or a [templates.NAME] profile.
result<issuance_profile> profile_named(const settings& s, const std::string& name);

// "-30d", "+2h", "0s": a duration with an optional sign.
std::optional<std::chrono::seconds> parse_signed_duration(std::string_view text);

// "30s", "10m", "2h", "365d", "10y" -> seconds.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::seconds s);

// What the SCEP service runs with: scep plus what NDES mode and the quirks
// imply (template slots, UTF8String refusal, chain, approval, forced failure).
service_config service_settings(const settings& s);
// States what NDES mode implies for the reply shape and the RA pair, from
// the settings as they are, whatever layer set them. Every load and settle()
// end with it; code that builds settings by hand calls it too.
void derive(settings& s);
// One line per active quirk, for the start-up log; empty when none is.
std::vector<std::string> active_quirks(const settings& s);

// Ready configurations compiled in from config/presets/*.toml.
struct preset {
    std::string name;
    std::string text;
};
const std::vector<preset>& presets();
// Loads the named preset over `base`; the error lists the known names.
result<settings> load_preset(const std::string& name, settings base, checks when = checks::now);

// "250ms", "2s", "1m" -> milliseconds.
std::optional<std::chrono::milliseconds> parse_millis(std::string_view text);
std::string format_millis(std::chrono::milliseconds ms);  // "250ms", "2s"

// The keys of config/settings_table.hpp: "section.key", its kind (type,
// range or choices) and documentation line (`scep-lab config --keys`). The
// [pki] tables and [templates.*] are read by code of their own.
struct setting_key {
    std::string name;
    std::string kind;
    std::string doc;
};
std::vector<setting_key> setting_keys();

// The effective configuration as TOML, secrets masked unless asked.
std::string to_toml(const settings& s, bool show_secrets = false);

}  // namespace scep::config
