#include "server/admin_api.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>

#include "config/config.hpp"
#include "pki/ca/crl.hpp"
#include "pki/crypto/constant_time.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/trust/exports.hpp"
#include "pki/scep/service.hpp"
#include "server/inspector.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::server {

namespace json = boost::json;

namespace {

// Longer subject filters are refused (SQLite's LIKE gives up on long patterns).
constexpr std::size_t max_subject_filter = 256;

response reply(const request& req, http::status status, const json::value& body) {
    return json_response(req, status, body);
}

response error(const request& req, http::status status, const std::string& message) {
    return json_error(req, status, message);
}

// A store failure: the caller learns that much, the log gets the details
// (they name files on the server).
response internal_error(const request& req, const scep::error& e, std::string& log_detail) {
    log_detail = e.message;
    return error(req, http::status::internal_server_error, "store error (see the server log)");
}

}  // namespace

json::object certificate_json(const cert_record& r) {
    json::object o{{"serial", r.serial},
                   {"subject", r.subject},
                   {"sans", r.sans},
                   {"issuer", r.issuer},
                   {"not_before", r.not_before},
                   {"not_after", r.not_after},
                   {"status", r.status},
                   {"transaction_id", r.transaction_id},
                   {"requester", r.requester},
                   {"created_at", r.created_at},
                   {"public_key_sha256", r.public_key_sha256}};
    if (!r.replaces_serial.empty()) o["replaces_serial"] = r.replaces_serial;
    if (r.status == "revoked") {
        o["revoked_at"] = r.revoked_at;
        o["revocation_reason"] = crl_reason_name(r.revocation_reason);
    }
    return o;
}

json::object fault_rule_json(const fault_rule& r) {
    const auto& w = r.when;
    json::object when;
    auto put = [&](const char* k, const std::string& v) {
        if (!v.empty()) when[k] = v;
    };
    put("operation", w.operation);
    put("message_type", w.message_type);
    put("transaction_id", w.transaction_id);
    put("client", w.client);
    put("subject", w.subject);
    if (w.first) when["first"] = w.first;
    if (w.every) when["every"] = w.every;
    if (w.probability < 1.0) {
        when["probability"] = w.probability;
        when["seed"] = w.seed;
    }
    json::object o{{"id", r.id}, {"kind", info(r.kind).name}, {"when", std::move(when)},
                   {"one_shot", r.one_shot}, {"matched", r.matched}, {"fired", r.fired}};
    if (r.kind == fault_kind::http_status) {
        o["status"] = r.status;
        if (r.retry_after) o["retry_after"] = r.retry_after;
    }
    if (r.kind == fault_kind::redirect) o["status"] = r.status;
    if (r.kind == fault_kind::delay_headers || r.kind == fault_kind::delay_body) o["delay_ms"] = r.delay_ms;
    if (r.kind == fault_kind::forced_cipher) o["cipher"] = r.cipher;
    return o;
}

result<fault_rule> fault_rule_from_json(const json::object& o) {
    fault_rule r;
    auto text = [](const json::value& v, const std::string& key) -> result<std::string> {
        if (!v.is_string()) return make_error(key + " must be a string");
        if (v.as_string().size() > 256) return make_error(key + " is longer than 256 characters");
        return std::string(v.as_string());
    };
    auto count = [](const json::value& v, const std::string& key) -> result<std::uint64_t> {
        if (v.is_uint64()) return v.as_uint64();
        if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
        return make_error(key + " must be a whole number of at least 0");
    };
    bool have_kind = false;
    for (const auto& [k, v] : o) {
        const std::string key(k);
        if (key == "kind") {
            auto name = text(v, key);
            if (!name) return name.err();
            auto kind = fault_kind_from_name(*name);
            if (!kind) return make_error("unknown fault kind \"" + *name + "\" (GET /admin/api/faults lists them)");
            r.kind = *kind;
            have_kind = true;
        } else if (key == "cipher") {
            auto c = text(v, key);
            if (!c) return c.err();
            r.cipher = *c;
        } else if (key == "one_shot") {
            if (!v.is_bool()) return make_error("one_shot must be true or false");
            r.one_shot = v.as_bool();
        } else if (key == "status" || key == "retry_after" || key == "delay_ms") {
            auto n = count(v, key);
            if (!n) return n.err();
            if (*n > 600000) return make_error(key + " is too large");
            (key == "status" ? r.status : key == "retry_after" ? r.retry_after : r.delay_ms) = static_cast<int>(*n);
        } else if (key == "when") {
            if (!v.is_object()) return make_error("when must be an object");
            auto& w = r.when;
            for (const auto& [wk, wv] : v.as_object()) {
                const std::string name = "when." + std::string(wk);
                std::string* field = wk == "operation"        ? &w.operation
                                     : wk == "message_type"   ? &w.message_type
                                     : wk == "transaction_id" ? &w.transaction_id
                                     : wk == "client"         ? &w.client
                                     : wk == "subject"        ? &w.subject
                                                              : nullptr;
                if (field) {
                    auto t = text(wv, name);
                    if (!t) return t.err();
                    *field = *t;
                } else if (wk == "first" || wk == "every" || wk == "seed") {
                    auto n = count(wv, name);
                    if (!n) return n.err();
                    (wk == "first" ? w.first : wk == "every" ? w.every : w.seed) = *n;
                } else if (wk == "probability") {
                    if (!wv.is_number()) return make_error(name + " must be a number");
                    w.probability = wv.to_number<double>();
                } else {
                    return make_error("unknown field " + name +
                                      " (operation, message_type, transaction_id, client, subject, first, every, "
                                      "probability, seed)");
                }
            }
        } else {
            return make_error("unknown field \"" + key + "\" (kind, when, status, retry_after, delay_ms, cipher, one_shot)");
        }
    }
    if (!have_kind) return make_error("kind is required (GET /admin/api/faults lists them)");
    return r;
}

namespace {

json::object pending_json(const pending_record& p) {
    json::object o{{"transaction_id", p.transaction_id}, {"status", p.status},   {"subject", p.subject},
                   {"requester", p.requester},           {"created_at", p.created_at}};
    if (!p.reason.empty()) o["reason"] = p.reason;
    if (!p.replaces_serial.empty()) o["replaces_serial"] = p.replaces_serial;
    if (!p.issued_serial.empty()) o["issued_serial"] = p.issued_serial;
    if (!p.decided_at.empty()) o["decided_at"] = p.decided_at;
    return o;
}

std::optional<std::size_t> to_size(const std::string& s) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return n;
}

// A JSON object body; an empty body is an empty object.
std::optional<json::object> body_object(const request& req, std::string& why) {
    if (req.body().empty()) return json::object{};
    json::error_code ec;
    auto v = json::parse(req.body(), ec);
    if (ec) {
        why = "the body is not JSON: " + ec.message();
        return std::nullopt;
    }
    if (!v.is_object()) {
        why = "the body must be a JSON object";
        return std::nullopt;
    }
    return v.as_object();
}

std::optional<std::string> string_field(const json::object& o, const char* key, std::string& why) {
    auto it = o.find(key);
    if (it == o.end()) return std::string();
    if (!it->value().is_string()) {
        why = std::string(key) + " must be a string";
        return std::nullopt;
    }
    return std::string(it->value().as_string());
}

// "a/b/c" -> {"a","b","c"}
std::vector<std::string> segments(std::string_view path) {
    std::vector<std::string> out;
    while (!path.empty()) {
        auto slash = path.find('/');
        auto part = path.substr(0, slash);
        if (!part.empty()) out.emplace_back(part);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return out;
}

bool is_iso_time(const std::string& s) {
    // 2026-11-25 or 2026-11-25T10:00:00Z (compared as text, like the store's values).
    if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
    return s.find_first_not_of("0123456789-T:Z.") == std::string::npos;
}

}  // namespace

std::optional<std::string_view> bearer_token(const request& req) {
    // RFC 9110 §11.1: the scheme name is case-insensitive ("bearer" works).
    std::string_view auth = req[http::field::authorization];
    constexpr std::string_view scheme = "bearer";
    if (auth.size() <= scheme.size() + 1 || auth[scheme.size()] != ' ' ||
        !ascii_iequals(auth.substr(0, scheme.size()), scheme))
        return std::nullopt;
    auto token = auth.substr(scheme.size() + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.empty()) return std::nullopt;
    return token;
}

bool is_loopback_address(const std::string& a) {
    return a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0;
}

std::string make_admin_token() { return to_hex(random_bytes(32)); }

admin_api::admin_api(lab_cert_store& store, admin_settings_view settings)
    : store_(store), settings_(std::move(settings)) {}

bool admin_api::accepts(const request& req, const std::string& client) const {
    if (!settings_.allow_remote && !is_loopback_address(client)) return false;
    auto token = bearer_token(req);
    return token && constant_time_equal(*token, settings_.token);
}

response admin_api::handle(const request& req, const std::string& client, std::string& detail) {
    if (!settings_.allow_remote && !is_loopback_address(client)) {
        detail = "admin API refused for a non-loopback client";
        return error(req, http::status::forbidden,
                     "the admin API answers loopback clients only (set admin.allow_remote = true to open it)");
    }
    auto token = bearer_token(req);
    if (!token) {
        detail = "no bearer token";
        auto res = error(req, http::status::unauthorized, "missing \"Authorization: Bearer <token>\" header");
        res.set(http::field::www_authenticate, "Bearer realm=\"scep-lab\"");
        return res;
    }
    if (!constant_time_equal(*token, settings_.token)) {
        detail = "wrong bearer token";
        auto res = error(req, http::status::unauthorized, "invalid token");
        res.set(http::field::www_authenticate, "Bearer realm=\"scep-lab\", error=\"invalid_token\"");
        return res;
    }
    std::string_view target = req.target();
    auto q = target.find('?');
    std::string failure;
    auto res = route(req, target.substr(0, q), q == std::string_view::npos ? std::string_view{} : target.substr(q + 1),
                     failure);
    detail = std::string(req.method_string()) + " " + std::string(target.substr(0, q)).substr(0, 200);
    if (!failure.empty()) detail += ": " + failure;
    return res;
}

const admin_api::resource admin_api::resources[] = {
    {"certificates", &admin_api::certificates}, {"pending", &admin_api::pending},
    {"faults", &admin_api::faults},             {"challenges", &admin_api::challenges},
    {"transactions", &admin_api::transactions}, {"rollover", &admin_api::rollover},
    {"reset", &admin_api::reset},               {"config", &admin_api::config},
    {"prompt", &admin_api::prompt},
};

namespace {
response unknown_path(const request& req) {
    return error(req, http::status::not_found,
                 "unknown admin API path (certificates, certificates/<serial>, certificates/<serial>/revoke, pending, "
                 "pending/<txid>/approve|reject, faults, challenges, transactions, rollover, reset, config, prompt)");
}
}  // namespace

response admin_api::route(const request& req, std::string_view path, std::string_view query, std::string& log_detail) {
    auto p = form_params(query);
    if (!p) return error(req, http::status::bad_request, "the query string is not percent-encoded properly");
    call c{req, segments(path.substr(std::string_view("/admin/api").size())), std::move(*p), log_detail};
    if (c.seg.empty()) return unknown_path(req);
    for (const auto& r : resources)
        if (c.seg[0] == r.name) return (this->*r.serve)(c);
    return unknown_path(req);
}

// POST /admin/api/challenges {ttl, uses, label, bindings}; GET [?all=true]; DELETE /admin/api/challenges/<id>
response admin_api::challenges(call& c) {
    const request& req = c.req;
    if (!challenges_)
        return error(req, http::status::not_found, "challenges come from the admin API only with challenge.mode = \"api\"");
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto method = req.method();
    if (c.seg.size() == 1 && method == http::verb::get) {
        bool all = false;
        for (const auto& [k, v] : c.params)
            if (k == "all") all = v == "true" || v == "1";
        auto rows = challenges_->store().list(now, all);
        if (!rows) return error(req, http::status::internal_server_error, "the challenge store cannot be read");
        json::array out;
        for (const auto& r : *rows) out.push_back(challenge_json(r, now));
        return reply(req, http::status::ok, json::object{{"challenges", std::move(out)}});
    }
    if (c.seg.size() == 1 && method == http::verb::post) {
        std::string why;
        auto body = body_object(req, why);
        if (!body) return error(req, http::status::bad_request, why);
        auto asked = challenge_request_from_json(*body, challenge_ttl_);
        if (!asked) return error(req, http::status::bad_request, asked.message());
        auto made = challenges_->issue(asked->ttl, asked->uses, asked->bindings, asked->label);
        if (!made) return error(req, http::status::bad_request, made.message());
        auto out = challenge_json(made->row, now);
        out["challenge"] = made->secret;
        c.log_detail = "challenge " + made->row.handle + " issued";
        return reply(req, http::status::created, std::move(out));
    }
    if (c.seg.size() == 2 && method == http::verb::delete_) {
        auto r = challenges_->store().revoke(c.seg[1]);
        if (!r) return error(req, http::status::internal_server_error, "the challenge store cannot be written");
        if (!*r) return error(req, http::status::not_found, "no challenge " + c.seg[1]);
        c.log_detail = "challenge " + c.seg[1] + " revoked";
        return reply(req, http::status::ok, json::object{{"revoked", 1}});
    }
    return json_method_not_allowed(req, c.seg.size() == 1 ? "GET, POST" : "DELETE");
}

// POST /admin/api/rollover {"activate": false, "keep_ra": false}
response admin_api::rollover(call& c) {
    const request& req = c.req;
    if (c.seg.size() != 1) return unknown_path(req);
    if (!rollover_) return error(req, http::status::not_found, "live rollover is not available");
    if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
    std::string why;
    auto body = body_object(req, why);
    if (!body) return error(req, http::status::bad_request, why);
    bool activate = false, keep_ra = false;
    for (const auto& [key, value] : *body) {
        if (key != "activate" && key != "keep_ra")
            return error(req, http::status::bad_request, "unknown field \"" + std::string(key) + "\" (activate, keep_ra)");
        if (!value.is_bool()) return error(req, http::status::bad_request, std::string(key) + " must be true or false");
        (key == "activate" ? activate : keep_ra) = value.as_bool();
    }
    if (activate && keep_ra) return error(req, http::status::bad_request, "keep_ra applies to preparing, not to activate");
    auto done = rollover_(activate, keep_ra);
    if (!done) return error(req, http::status::conflict, done.message());
    c.log_detail = activate ? "rollover activated" : "rollover prepared";
    return reply(req, http::status::ok, std::move(*done));
}

// GET /admin/api/faults; POST /admin/api/faults {rule}; DELETE /admin/api/faults[/<id>]
response admin_api::faults(call& c) {
    const request& req = c.req;
    if (!faults_) return error(req, http::status::not_found, "fault injection is not available");
    const auto method = req.method();
    if (c.seg.size() == 1 && method == http::verb::get) {
        json::array rules, kinds;
        for (const auto& r : faults_->rules()) rules.push_back(fault_rule_json(r));
        for (const auto& k : fault_kinds())
            kinds.push_back(json::object{{"kind", k.name},
                                         {"layer", k.layer == fault_layer::certrep ? "certrep" : "http"},
                                         {"operation", k.operation.empty() ? "any" : k.operation},
                                         {"what", k.what},
                                         {"client_should", k.client_should}});
        return reply(req, http::status::ok, json::object{{"faults", std::move(rules)}, {"kinds", std::move(kinds)}});
    }
    if (c.seg.size() == 1 && method == http::verb::post) {
        std::string why;
        auto body = body_object(req, why);
        if (!body) return error(req, http::status::bad_request, why);
        auto rule = fault_rule_from_json(*body);
        if (!rule) return error(req, http::status::bad_request, rule.message());
        auto id = faults_->add(*rule);
        if (!id) return error(req, http::status::bad_request, id.message());
        rule->id = *id;
        // Answer with the rule as armed (the kind's defaults filled in).
        for (const auto& armed : faults_->rules())
            if (armed.id == *id) *rule = armed;
        c.log_detail = "armed " + *id + " " + std::string(info(rule->kind).name);
        return reply(req, http::status::created, fault_rule_json(*rule));
    }
    if (c.seg.size() == 1 && method == http::verb::delete_)
        return reply(req, http::status::ok, json::object{{"removed", faults_->clear()}});
    if (c.seg.size() == 2 && method == http::verb::delete_) {
        if (!faults_->remove(c.seg[1])) return error(req, http::status::not_found, "no fault rule " + c.seg[1]);
        return reply(req, http::status::ok, json::object{{"removed", 1}});
    }
    return json_method_not_allowed(req, c.seg.size() == 1 ? "GET, POST, DELETE" : "DELETE");
}

// GET /admin/api/transactions?client=&status=&finding=&severity=&transaction_id=&operation=&after=&limit=&offset=
// GET /admin/api/transactions/<id>, .../<id>/request.der, .../<id>/reply.der
response admin_api::transactions(call& c) {
    const request& req = c.req;
    const auto& seg = c.seg;
    if (!inspector_) return error(req, http::status::not_found, "the transaction inspector is off (inspector.enabled)");
    if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
    inspector_->flush();
    if (seg.size() == 1) {
        auto q = transaction_query_from(c.params);
        if (!q) return error(req, http::status::bad_request, q.message());
        auto page = inspector_->log().search(*q);
        if (!page) return internal_error(req, page.err(), c.log_detail);
        json::array items;
        for (const auto& t : page->items) items.push_back(transaction_summary_json(t));
        return reply(req, http::status::ok,
                     json::object{{"total", page->total}, {"limit", q->limit}, {"offset", q->offset},
                                  {"items", std::move(items)}});
    }
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(seg[1].data(), seg[1].data() + seg[1].size(), id);
    if (ec != std::errc() || end != seg[1].data() + seg[1].size() || id <= 0 || seg.size() > 3)
        return error(req, http::status::not_found, "no such transaction");
    auto found = inspector_->log().find(id);
    if (!found) return internal_error(req, found.err(), c.log_detail);
    if (!*found) return error(req, http::status::not_found, "no transaction " + seg[1] + " (it may have aged out)");
    if (seg.size() == 2) return reply(req, http::status::ok, transaction_json(inspector_->log(), **found));
    if (seg[2] != "request.der" && seg[2] != "reply.der")
        return error(req, http::status::not_found, "use request.der or reply.der");
    const bytes& der = seg[2] == "request.der" ? (*found)->request_der : (*found)->reply_der;
    if (der.empty()) return error(req, http::status::not_found, seg[2] + " was not kept for transaction " + seg[1]);
    auto res = file_response(req,
                             seg[2] == "request.der" || (*found)->operation == "PKIOperation"
                                 ? "application/x-pki-message"
                                 : "application/octet-stream",
                             "transaction-" + seg[1] + "." + seg[2], std::string(der.begin(), der.end()));
    res.set(http::field::cache_control, "no-store");
    return res;
}

response admin_api::certificates(call& c) {
    if (c.seg.size() >= 2) return certificate(c);
    // GET /admin/api/certificates?subject=&serial=&status=&since=&until=&limit=&offset=
    const request& req = c.req;
    if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
    cert_query cq;
    for (const auto& [k, v] : c.params) {
        if (k == "subject") {
            if (v.size() > max_subject_filter)
                return error(req, http::status::bad_request,
                             "subject filter longer than " + std::to_string(max_subject_filter) + " characters");
            cq.subject = v;
        } else if (k == "serial") {
            cq.serial = normalize_serial(v);
        } else if (k == "status") {
            if (v != "valid" && v != "revoked" && v != "superseded")
                return error(req, http::status::bad_request, "status is valid, revoked or superseded");
            cq.status = v;
        } else if (k == "since" || k == "until") {
            if (!is_iso_time(v)) return error(req, http::status::bad_request, k + " must be an ISO 8601 date or time");
            (k == "since" ? cq.since : cq.until) = v;
        } else if (k == "limit" || k == "offset") {
            auto n = to_size(v);
            // The store counts in signed 64 bits: a larger offset would wrap to the first page.
            if (!n || (k == "limit" && (*n == 0 || *n > 1000)) ||
                (k == "offset" && *n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())))
                return error(req, http::status::bad_request,
                             k == "limit" ? "limit is a number from 1 to 1000" : "offset is a number below 2^63");
            (k == "limit" ? cq.limit : cq.offset) = *n;
        } else {
            return error(req, http::status::bad_request,
                         "unknown parameter \"" + k + "\" (subject, serial, status, since, until, limit, offset)");
        }
    }
    auto page = store_.search(cq);
    if (!page) return internal_error(req, page.err(), c.log_detail);
    json::array items;
    for (const auto& r : page->items) items.push_back(certificate_json(r));
    return reply(req, http::status::ok,
                 json::object{{"total", page->total}, {"limit", cq.limit}, {"offset", cq.offset},
                              {"items", std::move(items)}});
}

// GET /admin/api/certificates/<serial>[?format=json|pem|der]; POST .../revoke
response admin_api::certificate(call& c) {
    const request& req = c.req;
    const auto& seg = c.seg;
    const std::string serial = normalize_serial(seg[1]);
    if (serial.empty() || serial.find_first_not_of("0123456789ABCDEF") != std::string::npos)
        return error(req, http::status::bad_request, "\"" + seg[1] + "\" is not a serial number in hex");
    auto row = store_.find_by_serial(serial);
    if (!row) return internal_error(req, row.err(), c.log_detail);
    if (!*row) return error(req, http::status::not_found, "no certificate with serial " + serial);
    if (seg.size() == 2) {
        if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
        std::string format = "json";
        for (const auto& [k, v] : c.params) {
            if (k != "format") return error(req, http::status::bad_request, "unknown parameter \"" + k + "\" (format)");
            format = v;
        }
        if (format == "json") {
            auto o = certificate_json(**row);
            auto cert = x509_from_der((*row)->der);
            if (cert) o["pem"] = x509_to_pem(**cert);
            return reply(req, http::status::ok, o);
        }
        auto file = export_certificate(store_, serial, format);
        if (!file) return error(req, http::status::bad_request, file.message() + " (or json)");
        return file_response(req, std::move(file->content_type), "", std::move(file->body));
    }
    if (seg.size() != 3 || seg[2] != "revoke") return unknown_path(req);
    if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
    std::string why;
    auto body = body_object(req, why);
    if (!body) return error(req, http::status::bad_request, why);
    auto reason_name = string_field(*body, "reason", why);
    if (!reason_name) return error(req, http::status::bad_request, why);
    if (reason_name->empty()) *reason_name = "unspecified";
    auto reason = revocation_reason_from_name(*reason_name);
    if (!reason) return error(req, http::status::bad_request, reason.message());
    auto r = revoke_certificate(store_, serial, *reason);
    if (!r) return internal_error(req, r.err(), c.log_detail);
    if (r->result == revocation::outcome::not_found)
        return error(req, http::status::not_found, "no certificate with serial " + serial);
    if (r->result == revocation::outcome::conflict)
        return error(req, http::status::conflict,
                     "already revoked with reason " + crl_reason_name(r->reason) + " at " + r->revoked_at +
                         "; the first revocation stands");
    return reply(req, http::status::ok,
                 json::object{{"serial", serial},
                              {"status", "revoked"},
                              {"reason", *reason_name},
                              {"already_revoked", r->result == revocation::outcome::already_revoked}});
}

// GET /admin/api/pending[?all=true]; POST /admin/api/pending/<txid>/approve | reject {"reason": "..."}
response admin_api::pending(call& c) {
    const request& req = c.req;
    const auto& seg = c.seg;
    if (seg.size() == 1) {
        if (req.method() != http::verb::get) return json_method_not_allowed(req, "GET");
        bool all = false;
        for (const auto& [k, v] : c.params) {
            if (k != "all" || (v != "true" && v != "false"))
                return error(req, http::status::bad_request, "the only parameter is all=true|false");
            all = v == "true";
        }
        auto rows = store_.list_pending(all);
        if (!rows) return internal_error(req, rows.err(), c.log_detail);
        json::array items;
        for (const auto& r : *rows) items.push_back(pending_json(r));
        return reply(req, http::status::ok, json::object{{"items", std::move(items)}});
    }
    if (seg.size() != 3 || (seg[2] != "approve" && seg[2] != "reject")) return unknown_path(req);
    if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
    auto txid = percent_decode(seg[1]);
    if (!txid) return error(req, http::status::bad_request, "the transaction ID is not percent-encoded properly");
    std::string why;
    auto body = body_object(req, why);
    if (!body) return error(req, http::status::bad_request, why);
    auto reason = string_field(*body, "reason", why);
    if (!reason) return error(req, http::status::bad_request, why);
    const bool approve = seg[2] == "approve";
    auto r = store_.decide_pending(*txid, approve, *reason);
    if (!r) return internal_error(req, r.err(), c.log_detail);
    if (*r == decide_outcome::not_found)
        return error(req, http::status::not_found, "no pending request with transactionID " + *txid);
    if (*r == decide_outcome::not_pending) {
        auto cur = store_.find_pending(*txid);
        return error(req, http::status::conflict,
                     "request " + *txid + " is already " + (cur && *cur ? (*cur)->status : std::string("decided")));
    }
    return reply(req, http::status::ok,
                 json::object{{"transaction_id", *txid}, {"status", approve ? "approved" : "rejected"}});
}

// POST /admin/api/reset {"confirm": "reset"}
response admin_api::reset(call& c) {
    const request& req = c.req;
    if (c.seg.size() != 1) return unknown_path(req);
    if (req.method() != http::verb::post) return json_method_not_allowed(req, "POST");
    std::string why;
    auto body = body_object(req, why);
    if (!body) return error(req, http::status::bad_request, why);
    auto confirm = string_field(*body, "confirm", why);
    if (!confirm || *confirm != "reset")
        return error(req, http::status::bad_request,
                     "reset deletes every certificate and pending request: send {\"confirm\": \"reset\"}");
    auto n = store_.reset();
    if (!n) return internal_error(req, n.err(), c.log_detail);
    return reply(req, http::status::ok, json::object{{"deleted_rows", *n}});
}

// GET /admin/api/config
response admin_api::config(call& c) {
    if (c.seg.size() != 1) return unknown_path(c.req);
    if (c.req.method() != http::verb::get) return json_method_not_allowed(c.req, "GET");
    return reply(c.req, http::status::ok, json::object{{"toml", settings_.effective_config}});
}

void prompt_board::set(prompt p) {
    std::lock_guard lock(mu_);
    current_ = std::move(p);
}

void prompt_board::clear() {
    std::lock_guard lock(mu_);
    current_.reset();
}

std::optional<prompt_board::prompt> prompt_board::get() const {
    std::lock_guard lock(mu_);
    return current_;
}

// GET | PUT {"title", "text"} | DELETE /admin/api/prompt
response admin_api::prompt(call& c) {
    const request& req = c.req;
    if (c.seg.size() != 1) return unknown_path(req);
    if (!prompts_) return error(req, http::status::not_found, "this server shows no prompts");
    if (req.method() == http::verb::get) {
        auto p = prompts_->get();
        return reply(req, http::status::ok,
                     p ? json::object{{"title", p->title}, {"text", p->text}} : json::object{{"title", nullptr}});
    }
    if (req.method() == http::verb::delete_) {
        prompts_->clear();
        return reply(req, http::status::ok, json::object{{"cleared", true}});
    }
    if (req.method() != http::verb::put) return json_method_not_allowed(req, "GET, PUT, DELETE");
    std::string why;
    auto body = body_object(req, why);
    if (!body) return error(req, http::status::bad_request, why);
    for (const auto& [key, value] : *body)
        if (key != "title" && key != "text") return error(req, http::status::bad_request, "unknown field \"" + std::string(key) + "\" (title, text)");
    auto title = string_field(*body, "title", why);
    auto text = title ? string_field(*body, "text", why) : std::nullopt;
    if (!title || !text) return error(req, http::status::bad_request, why);
    if (title->empty()) return error(req, http::status::bad_request, "title is required");
    if (title->size() > 200 || text->size() > 4000)
        return error(req, http::status::bad_request, "title is at most 200 characters, text at most 4000");
    // Shown on a page: control characters go (the page escapes the rest).
    auto tidy = [](std::string s) {
        for (char& ch : s)
            if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n') ch = ' ';
        return s;
    };
    prompts_->set({tidy(*title), tidy(*text)});
    return reply(req, http::status::ok, json::object{{"title", *title}});
}

result<challenge_request> challenge_request_from_json(const json::object& o, std::chrono::seconds default_ttl) {
    challenge_request r{default_ttl, 1, {}, {}};
    for (const auto& [key, value] : o) {
        if (key == "ttl") {
            if (value.is_int64() && value.as_int64() > 0)
                r.ttl = std::chrono::seconds(value.as_int64());
            else if (auto d = value.is_string() ? config::parse_duration(std::string_view(value.as_string())) : std::nullopt)
                r.ttl = *d;
            else
                return make_error("ttl must be seconds or a duration like \"10m\"");
        } else if (key == "uses") {
            if (!value.is_int64() || value.as_int64() < 1 || value.as_int64() > 1000000)
                return make_error("uses must be 1 to 1000000");
            r.uses = static_cast<int>(value.as_int64());
        } else if (key == "label") {
            if (!value.is_string()) return make_error("label must be a string");
            r.label = std::string(value.as_string());
        } else if (key == "bindings") {
            auto b = challenge_bindings_from_json(value);
            if (!b) return make_error("bindings: " + b.message());
            r.bindings = std::move(*b);
        } else {
            return make_error("unknown field \"" + std::string(key) + "\" (ttl, uses, label, bindings)");
        }
    }
    return r;
}

boost::json::object challenge_json(const challenge_row& r, std::int64_t now) {
    const auto iso = unix_time_iso8601;
    const char* state = r.revoked ? "revoked" : r.uses_left <= 0 ? "used" : r.expires_at <= now ? "expired" : "live";
    json::object o{{"id", r.handle},       {"label", r.label},         {"created_at", iso(r.created_at)},
                   {"expires_at", iso(r.expires_at)}, {"uses", r.uses_total}, {"uses_left", r.uses_left},
                   {"state", state}};
    json::object b;
    if (auto parsed = challenge_bindings::from_text(r.bindings)) {
        if (!parsed->subject.empty()) b["subject"] = parsed->subject;
        if (!parsed->subject_regex.empty()) b["subject_regex"] = parsed->subject_regex;
        if (!parsed->sans.empty()) {
            json::array a;
            for (const auto& n : parsed->sans) a.push_back(json::string(n));
            b["sans"] = std::move(a);
        }
        if (!parsed->key_type.empty()) b["key_type"] = parsed->key_type;
        if (parsed->min_key_bits > 0) b["min_key_bits"] = parsed->min_key_bits;
        if (!parsed->client.empty()) b["client"] = parsed->client;
    }
    o["bindings"] = std::move(b);
    return o;
}

result<challenge_bindings> challenge_bindings_from_json(const boost::json::value& v) {
    if (!v.is_object()) return make_error("must be an object");
    challenge_bindings b;
    for (const auto& kv : v.as_object()) {
        // Named, not a structured binding: lambdas may not capture those before C++20's clang 16.
        const std::string_view key = kv.key();
        const boost::json::value& value = kv.value();
        auto text = [&](std::string& out) -> result<void> {
            if (!value.is_string()) return make_error(std::string(key) + " must be a string");
            out = std::string(value.as_string());
            return {};
        };
        result<void> ok;
        if (key == "subject") ok = text(b.subject);
        else if (key == "subject_regex") ok = text(b.subject_regex);
        else if (key == "key_type") ok = text(b.key_type);
        else if (key == "client") ok = text(b.client);
        else if (key == "min_key_bits") {
            if (!value.is_int64()) return make_error("min_key_bits must be a number");
            b.min_key_bits = static_cast<int>(std::clamp<std::int64_t>(value.as_int64(), -1, 100000));
        } else if (key == "sans") {
            if (!value.is_array()) return make_error("sans must be a list of strings");
            for (const auto& n : value.as_array()) {
                if (!n.is_string()) return make_error("sans must be a list of strings");
                b.sans.emplace_back(n.as_string());
            }
        } else {
            return make_error("unknown binding \"" + std::string(key) +
                              "\" (subject, subject_regex, sans, key_type, min_key_bits, client)");
        }
        if (!ok) return ok.err();
    }
    if (auto ok = b.validate(); !ok) return ok.err();
    return b;
}

}  // namespace scep::server
