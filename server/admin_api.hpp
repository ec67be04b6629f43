// The admin API: JSON over HTTP under /admin/api/, behind a bearer token,
// limited to loopback clients unless admin.allow_remote (docs/admin-api.md).
// Errors are JSON too: {"error": "..."}.
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "pki/challenge/challenge.hpp"
#include "pki/scep/faults.hpp"
#include "pki/store/store.hpp"
#include "server/http.hpp"

namespace scep::server {

class inspector;

struct admin_settings_view {
    std::string token;             // the bearer token
    bool allow_remote = false;     // accept non-loopback clients
    std::string effective_config;  // TOML with secrets masked
};

// What `scep-lab conformance --manual` asks the person at a device to do
// now (PUT /admin/api/prompt), shown on the status page until cleared.
class prompt_board {
public:
    struct prompt {
        std::string title, text;
    };
    void set(prompt p);
    void clear();
    std::optional<prompt> get() const;

private:
    mutable std::mutex mu_;
    std::optional<prompt> current_;
};

class admin_api {
public:
    // The store with its lab face: POST /admin/api/reset empties it.
    admin_api(lab_cert_store& store, admin_settings_view settings);

    static bool is_admin_path(std::string_view path) { return path.rfind("/admin/api/", 0) == 0 || path == "/admin/api"; }
    // `client`: the peer address; `detail` gets a line for the request log.
    response handle(const request& req, const std::string& client, std::string& detail);
    // The request carries the token and comes from a client the API answers:
    // what other endpoints ask before they reveal a secret.
    bool accepts(const request& req, const std::string& client) const;
    // /admin/api/transactions answers when set (inspector.enabled).
    void set_inspector(inspector* i) { inspector_ = i; }
    // /admin/api/faults arms and disarms fault rules (docs/faults.md).
    void set_faults(fault_plan* f) { faults_ = f; }
    // POST /admin/api/rollover {"activate": bool, "keep_ra": bool}: a live CA
    // rollover (docs/lifecycle.md); answers what it did, or the error.
    using rollover_fn = std::function<result<boost::json::object>(bool activate, bool keep_ra)>;
    void set_rollover(rollover_fn f) { rollover_ = std::move(f); }
    // /admin/api/challenges hands out, lists and revokes challenges
    // (challenge.mode = "api", docs/challenges.md).
    // PUT/GET/DELETE /admin/api/prompt: the status page's prompt.
    void set_prompts(prompt_board* p) { prompts_ = p; }
    void set_challenges(api_challenges* c, std::chrono::seconds default_ttl) {
        challenges_ = c;
        challenge_ttl_ = default_ttl;
    }

private:
    // One request to a resource: /admin/api/<resource>[/...].
    struct call {
        const request& req;
        std::vector<std::string> seg;  // path segments after /admin/api/, the resource first
        std::vector<std::pair<std::string, std::string>> params;  // the query, decoded
        std::string& log_detail;       // a line for the request log
    };
    // The route table: one handler per resource.
    struct resource {
        std::string_view name;
        response (admin_api::*serve)(call& c);
    };
    static const resource resources[];
    response route(const request& req, std::string_view path, std::string_view query, std::string& log_detail);

    response certificates(call& c);
    response certificate(call& c);  // certificates/<serial>[/revoke]
    response pending(call& c);
    response faults(call& c);
    response challenges(call& c);
    response transactions(call& c);
    response rollover(call& c);
    response reset(call& c);
    response config(call& c);
    response prompt(call& c);

    lab_cert_store& store_;
    admin_settings_view settings_;
    inspector* inspector_ = nullptr;
    fault_plan* faults_ = nullptr;
    rollover_fn rollover_;
    api_challenges* challenges_ = nullptr;
    std::chrono::seconds challenge_ttl_{3600};
    prompt_board* prompts_ = nullptr;
};

// A challenge row as the admin API lists it: never the secret (only its hash
// is kept), its state at `now`.
boost::json::object challenge_json(const challenge_row& r, std::int64_t now);
// A POST /admin/api/challenges body: {ttl, uses, label, bindings}, each optional.
struct challenge_request {
    std::chrono::seconds ttl;
    int uses = 1;
    std::string label;
    challenge_bindings bindings;
};
result<challenge_request> challenge_request_from_json(const boost::json::object& o, std::chrono::seconds default_ttl);
// The bindings of a POST /admin/api/challenges body; the error names the field.
result<challenge_bindings> challenge_bindings_from_json(const boost::json::value& v);

// A fault rule as JSON, and from JSON (the error names the bad field).
boost::json::object fault_rule_json(const fault_rule& r);
result<fault_rule> fault_rule_from_json(const boost::json::object& o);

// The token of an "Authorization: Bearer <token>" header (scheme in any case).
std::optional<std::string_view> bearer_token(const request& req);

// One certificate row as the admin API and `scep-lab list --format json`
// show it (revocation fields when revoked, replaces_serial for renewals).
boost::json::object certificate_json(const cert_record& r);

// "127.0.0.1", "::1", "::ffff:127.0.0.5": loopback addresses.
bool is_loopback_address(const std::string& address);

// A new random bearer token (32 bytes, hex).
std::string make_admin_token();

}  // namespace scep::server
