// Assembles scep-lab from its settings: everything is built once here and
// handed to its users through constructors (no singletons).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "peers/challenge_server.hpp"
#include "pki/store/store.hpp"

namespace scep::cli {

// Runs the server until SIGINT/SIGTERM. Returns the process exit code.
int serve(const config::settings& s);

// Creates (or checks) the lab PKI and the store, prints where they are, exits.
int init(const config::settings& s, std::ostream& out);

// Prints issued certificates from the store ("text" or "json"), filtered as
// the admin API's GET /admin/api/certificates.
int list(const config::settings& s, const std::string& format, const cert_query& q, std::ostream& out);

// `scep-lab cert show SERIAL`: one certificate as the admin API shows it
// (text or json), with its PEM; exit 1 when the store has none.
int show_certificate(const config::settings& s, const std::string& serial, const std::string& format,
                     std::ostream& out);

// `scep-lab store reset --yes`: deletes every certificate and pending request (lab use).
int reset_store(const config::settings& s, std::ostream& out);

// Revokes a certificate in the store (the next CRL lists it).
int revoke(const config::settings& s, const std::string& serial, const std::string& reason, std::ostream& out);
// Approves or rejects a pending request; the client gets the answer at its next poll.
int decide(const config::settings& s, const std::string& txid, bool approve, const std::string& reason,
           std::ostream& out);
int pending_list(const config::settings& s, bool all, std::ostream& out);

// CA rollover: prepare the next issuing CA, or activate it.
// Offline (files only; a running server needs a restart), or with `live` by
// the running server's admin API at `url` (default from the settings).
int rollover(const config::settings& s, bool activate, bool keep_ra, bool live, const std::string& url,
             std::ostream& out);

// `scep-lab fault add|list|clear` (docs/faults.md): arms, lists and removes
// fault rules on the running server through its admin API.
struct fault_cli {
    enum class verb { add, list, clear } action = verb::list;
    std::string url;     // base URL; default from the listen address and port
    std::string kind;
    std::vector<std::pair<std::string, std::string>> when;  // operation, message_type, ... -> value
    std::uint64_t first = 0, every = 0, seed = 1;
    double probability = 1.0;
    int status = 0, retry_after = 0;
    int delay_ms = -1;   // delay-headers, delay-body; -1: the server's default
    std::string cipher;  // forced-cipher
    bool one_shot = false;
    bool json = false;
    std::string id;  // clear: one rule
};
int fault_command(const config::settings& s, const fault_cli& f, std::ostream& out);

// `scep-lab challenge add|list|revoke` (`new` is the old spelling of add): the running server's challenges
// (challenge.mode = "api", docs/challenges.md).
struct challenge_cli {
    enum class verb { add, list, revoke } action = verb::list;
    std::string url;
    std::string ttl;     // "10m"; empty: the server's default
    int uses = 1;
    std::string label;
    std::string subject, subject_regex, key_type, client;
    std::vector<std::string> sans;
    int min_key_bits = 0;
    bool all = false, json = false;
    std::string id;  // revoke
};
int challenge_command(const config::settings& s, const challenge_cli& c, std::ostream& out);

// `scep-lab challenge-server`: runs peers/challenge_server until stopped;
// rules are "CHALLENGE=OUTCOME".
int challenge_server_command(challenge_server_options o, const std::vector<std::string>& rules, std::ostream& out);

// GET /healthz on the configured (or given) address; 0 when it answers 200.
// `scep-lab store seed N`: adds N placeholder certificate rows to the store (for
// benchmarks on a full store); every row carries one real certificate's DER.
int seed(const config::settings& s, std::size_t count, std::ostream& out);

// `scep-lab ca export WHAT`: a CA ("root", "issuing", ..., "ra", "chain") or an
// issued certificate ("cert:<serial>") to `out_file`, or stdout when empty.
int export_file(const config::settings& s, const std::string& what, const std::string& format,
                const std::string& out_file, std::ostream& out);

// `scep-lab issue --profile radius-server|tls-server`: a server certificate
// from the issuing CA, written with its key and chain into `out_dir` in the
// layout that server expects, and recorded in the store.
struct issue_options {
    std::string profile = "tls-server";
    std::vector<std::string> names;  // --dns and --ip, in order
    std::string common_name;
    std::string key = "rsa2048";
    int days = 397;
    std::string out_dir;
};
int issue_server(const config::settings& s, const issue_options& o, std::ostream& out);

// `scep-lab profile apple`: the .mobileconfig the server would serve at
// /profiles/apple.mobileconfig, for the same query parameters.
struct apple_profile_cli {
    std::string query;  // ssid=...&omit=root&... (as the download URL takes them)
    std::string url;    // SCEP URL; empty = from the listen settings
    std::optional<std::string> challenge;
    bool sign = false;
    std::string out_file;
};
int apple_profile(const config::settings& s, const apple_profile_cli& o, std::ostream& out);

int health(const config::settings& s, const std::string& base_url, std::ostream& out);

}  // namespace scep::cli
