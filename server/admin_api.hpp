// The admin API: JSON over HTTP under /admin/api/, behind a bearer token,
// limited to loopback clients unless admin.allow_remote (docs/admin-api.md).
// Errors are JSON too: {"error": "..."}.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>

#include "pki/scep/challenge.hpp"
#include "pki/scep/faults.hpp"
#include "pki/store/store.hpp"

namespace scep::server {

class inspector;

using admin_request = boost::beast::http::request<boost::beast::http::string_body>;
using admin_response = boost::beast::http::response<boost::beast::http::string_body>;

struct admin_settings_view {
    std::string token;             // the bearer token
    bool allow_remote = false;     // accept non-loopback clients
    std::string effective_config;  // TOML with secrets masked
};

class admin_api {
public:
    admin_api(cert_store& store, admin_settings_view settings);

    static bool is_admin_path(std::string_view path) { return path.rfind("/admin/api/", 0) == 0 || path == "/admin/api"; }
    // `client`: the peer address; `detail` gets a line for the request log.
    admin_response handle(const admin_request& req, const std::string& client, std::string& detail);
    // The request carries the token and comes from a client the API answers:
    // what other endpoints ask before they reveal a secret.
    bool accepts(const admin_request& req, const std::string& client) const;
    // /admin/api/transactions answers when set (inspector.enabled).
    void set_inspector(inspector* i) { inspector_ = i; }
    // /admin/api/faults arms and disarms fault rules (docs/faults.md).
    void set_faults(fault_plan* f) { faults_ = f; }
    // POST /admin/api/rollover {"activate": bool, "keep_ra": bool}: a live CA
    // rollover (docs/operations.md); answers what it did, or the error.
    using rollover_fn = std::function<result<boost::json::object>(bool activate, bool keep_ra)>;
    void set_rollover(rollover_fn f) { rollover_ = std::move(f); }
    // /admin/api/challenges hands out, lists and revokes challenges
    // (challenge.mode = "api", docs/challenges.md).
    void set_challenges(api_challenges* c, std::chrono::seconds default_ttl) {
        challenges_ = c;
        challenge_ttl_ = default_ttl;
    }

private:
    admin_response route(const admin_request& req, std::string_view path, std::string_view query,
                         std::string& log_detail);

    cert_store& store_;
    admin_settings_view settings_;
    inspector* inspector_ = nullptr;
    fault_plan* faults_ = nullptr;
    rollover_fn rollover_;
    api_challenges* challenges_ = nullptr;
    std::chrono::seconds challenge_ttl_{3600};
};

// A challenge row as the admin API lists it: never the secret (only its hash
// is kept), its state at `now`.
boost::json::object challenge_json(const challenge_row& r, std::int64_t now);
// The bindings of a POST /admin/api/challenges body; the error names the field.
result<challenge_bindings> challenge_bindings_from_json(const boost::json::value& v);

// A fault rule as JSON, and from JSON (the error names the bad field).
boost::json::object fault_rule_json(const fault_rule& r);
result<fault_rule> fault_rule_from_json(const boost::json::object& o);

// The token of an "Authorization: Bearer <token>" header (scheme in any case).
std::optional<std::string_view> bearer_token(const admin_request& req);

// One certificate row as the admin API and `scep-lab list --format json`
// show it (revocation fields when revoked, replaces_serial for renewals).
boost::json::object certificate_json(const cert_record& r);

// "127.0.0.1", "::1", "::ffff:127.0.0.5": loopback addresses.
bool is_loopback_address(const std::string& address);

// A new random bearer token (32 bytes, hex).
std::string make_admin_token();

}  // namespace scep::server
