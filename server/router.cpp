#include "server/router.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "pki/ca/crl.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/trust/exports.hpp"
#include "server/admin_api.hpp"
#include "server/http_faults.hpp"
#include "server/inspector.hpp"
#include "server/metrics.hpp"
#include "server/ndes_admin.hpp"
#include "server/ndes_events.hpp"
#include "server/quirks.hpp"
#include "server/status_page.hpp"
#include "server/transaction_pages.hpp"

namespace scep::server {

namespace {

constexpr std::string_view read_only = "GET, HEAD";

response bad_host(const request& req) {
    return text_response(req, http::status::bad_request, "the Host header is not a host name or address\n");
}

response file_download(const request& req, exported&& file) {
    return file_response(req, std::move(file.content_type), file.filename, std::move(file.body));
}

// A service reply as HTTP; what it did goes to the request log.
response from_reply(const request& req, service_reply&& reply, request_record& rec) {
    auto res = make_answer(req, static_cast<http::status>(reply.http_status), reply.content_type, std::move(reply.body));
    rec.detail = std::move(reply.detail);
    if (!reply.faults.empty())
        rec.detail = "fault injected: " + reply.faults_text() + (rec.detail.empty() ? "" : "; " + rec.detail);
    rec.scep = std::move(static_cast<scep_outcome&>(reply));
    return res;
}

}  // namespace

std::optional<bytes> decode_get_message(std::string_view raw_value) {
    auto unescaped = percent_decode(raw_value);
    if (!unescaped) return std::nullopt;
    return base64_decode(*unescaped);
}

router::router(router_parts parts)
    : service_(parts.service),
      scep_paths_(std::move(parts.scep_paths)),
      header_server_(std::move(parts.header_server)),
      header_powered_by_(std::move(parts.header_powered_by)),
      ca_paths_(std::move(parts.ca_paths)),
      ndes_(parts.ndes),
      quirks_(parts.quirks),
      metrics_(parts.stats),
      admin_(parts.admin),
      inspector_(parts.inspect),
      faults_(parts.faults),
      profile_source_(std::move(parts.profiles)),
      status_page_(std::move(parts.status_page)),
      tls_chain_(std::move(parts.tls_chain)),
      capture_dir_(std::move(parts.capture_dir)),
      ndes_events_(parts.ndes_events),
      routes_(routes()) {}

// The route table, first match wins. Routes whose part was not handed in
// are left out (their paths then answer 404).
std::vector<router::route> router::routes() const {
    auto exactly = [](std::initializer_list<std::string_view> paths) {
        std::vector<std::string_view> list(paths);
        return [list](std::string_view path) { return std::find(list.begin(), list.end(), path) != list.end(); };
    };
    std::vector<route> out{
        {"healthz", exactly({"/healthz"}), read_only, false, &router::healthz},
        {"readyz", exactly({"/readyz"}), read_only, false, &router::readyz},
    };
    if (metrics_) out.push_back({"metrics", exactly({"/metrics"}), read_only, false, &router::metrics_page});
    if (status_page_) out.push_back({"status", exactly({"/", "/status.js"}), read_only, false, &router::status});
    if (inspector_)
        out.push_back({"transactions",
                       [](std::string_view p) {
                           return p == "/transactions" || p.starts_with("/transactions/") ||
                                  p == "/transactions.json" || p == "/transactions.js" || p == "/transactions.rows";
                       },
                       "", false, &router::transactions});
    if (admin_) out.push_back({"admin", &admin_api::is_admin_path, "", false, &router::admin});
    if (ndes_) out.push_back({"ndes-admin", &ndes_frontend::is_admin_path, "", true, &router::ndes_admin});
    out.push_back({"", [this](std::string_view p) { return is_scep_path(p); }, "", true, &router::scep_endpoint});
    if (profile_source_)
        out.push_back({"profile", exactly({"/profiles/apple.mobileconfig"}), read_only, true, &router::profile});
    out.push_back({"export",
                   [this](std::string_view p) {
                       return p.starts_with("/ca/") || p.starts_with("/certs/") || p.starts_with(crl_path_prefix) ||
                              ca_paths_.count(std::string(p));
                   },
                   read_only, true, &router::download});
    out.push_back({"", [](std::string_view) { return true; }, "", true, &router::not_found});
    return out;
}

response router::handle(const request& req, const std::string& client, request_record& rec, bool secure) {
    const std::string_view target = req.target();
    const target_parts parts = split_target(target);
    std::string_view path = parts.path;
    const std::string_view query = parts.query;
    // The target of a redirect fault: the same request, answered as it is.
    if (faults_ && path.starts_with(redirect_prefix) && is_scep_path(path.substr(redirect_prefix.size())))
        path.remove_prefix(redirect_prefix.size());
    call c{req, target, path, query, client, rec, secure, std::chrono::steady_clock::now()};
    auto answer = [&]() -> response {
        for (const auto& r : routes_) {
            if (!r.matches(path)) continue;
            rec.operation = r.operation;
            // Read-only resources answer GET and HEAD only: a PUT or DELETE
            // must not look as if it had done something.
            if (!r.allow.empty() && !is_get_or_head(req)) {
                rec.operation = "method";
                return method_not_allowed(req, r.allow);
            }
            if (r.url_limits)
                if (auto refused = url_limits(c)) return std::move(*refused);
            return (this->*r.answer)(c);
        }
        return not_found(c);
    };
    auto res = answer();
    // The HTTP identity a clone copies (server.header_*): on every answer
    // that does not carry its own, as IIS adds them.
    if (!header_server_.empty() && res[http::field::server].empty()) res.set(http::field::server, header_server_);
    if (!header_powered_by_.empty() && res["X-Powered-By"].empty()) res.set("X-Powered-By", header_powered_by_);
    rec.http_status = static_cast<int>(res.result_int());
    return res;
}

bool router::is_scep_path(std::string_view path) const {
    // Any suffix is accepted after the base path: clients append
    // "/pkiclient.exe" (RFC 8894 §4.1 CGI-PATH/CGI-PROG) or their own name.
    for (const auto& base : scep_paths_) {
        std::string_view b = base;
        if (b.size() > 1 && b.back() == '/') b.remove_suffix(1);
        if (path == b || (path.size() > b.size() && path.substr(0, b.size()) == b && path[b.size()] == '/'))
            return true;
    }
    return false;
}

std::optional<response> router::url_limits(call& c) {
    if (!quirks_) return std::nullopt;
    auto refused = quirks_->check_url(c.req, c.query, c.rec);
    if (!refused) return std::nullopt;
    c.rec.operation = "url-limit";
    // A SCEP request refused for its URL's length, as IIS refuses it: the
    // inspector shows it (clients report only "404").
    if (inspector_ && is_scep_path(c.path)) {
        scep_exchange x;
        for (auto& [k, v] : split_query(c.query))
            if (k == "operation") x.operation = percent_decode(v).value_or(v);
        record_exchange(c, *refused, std::move(x));
    }
    return refused;
}

response router::healthz(call& c) { return text_response(c.req, http::status::ok, "ok\n"); }

response router::readyz(call& c) {
    // Ready: accepting requests and the store answers. Not ready while
    // shutting down, so that load balancers and CI wait loops move on.
    if (!ready_) return text_response(c.req, http::status::service_unavailable, "shutting down\n");
    // The answer is public: the reason with file names goes to the log only.
    if (auto n = service_.store().count(); !n) {
        c.rec.detail = "store unavailable: " + n.message();
        return text_response(c.req, http::status::service_unavailable, "store unavailable (see the server log)\n");
    }
    if (auto w = service_.store_writable(); !w) {
        c.rec.detail = "store cannot be written: " + w.message();
        return text_response(c.req, http::status::service_unavailable,
                             "store cannot be written (see the server log)\n");
    }
    return text_response(c.req, http::status::ok, "ready\n");
}

response router::metrics_page(call& c) {
    auto res = text_response(c.req, http::status::ok, metrics_->render(service_.store()));
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    return res;
}

response router::status(call& c) {
    if (c.path == "/status.js")
        return page_response(c.req, http::status::ok, "application/javascript; charset=utf-8", status_script());
    auto base = base_url_of(c.req, c.secure);
    if (!base) return bad_host(c.req);
    return page_response(c.req, http::status::ok, "text/html; charset=utf-8", status_page_(*base));
}

response router::admin(call& c) { return admin_->handle(c.req, c.client, c.rec.detail); }

response router::ndes_admin(call& c) {
    if (!is_get_or_head(c.req)) return method_not_allowed(c.req, read_only);
    if (quirks_) {
        c.rec.delay = quirks_->latency();
        if (auto res = quirks_->inject(c.req, "mscep_admin", c.rec)) return std::move(*res);
    }
    return ndes_->admin(c.req, c.rec.detail);
}

response router::scep_endpoint(call& c) {
    const bool inspect = inspector_ != nullptr;
    // Without the inspector the exchange is kept only for an HTTP fault
    // rule that selects by subject (it reads the CSR).
    scep_exchange x;
    auto res = scep(c, inspect || (faults_ && faults_->armed()) ? &x : nullptr);
    if (c.browsing) return res;  // a person browsing, not a client
    inject_http_fault(c, res, x);
    if (inspect) record_exchange(c, res, std::move(x));
    return res;
}

response router::profile(call& c) {
    // The profile points devices back at the address they used.
    auto base = base_url_of(c.req, c.secure);
    if (!base) return bad_host(c.req);
    profile_call pc{c.query, *base, c.req, c.client, {}};
    auto made = profile_source_(pc);
    if (!made) {
        c.rec.detail = made.message();
        return text_response(c.req, http::status::bad_request, made.message() + "\n");
    }
    auto res = file_download(c.req, std::move(*made));
    if (!pc.note.empty()) {
        res.set("X-Scep-Lab-Challenge", pc.note);
        c.rec.detail = pc.note;
    }
    return res;
}

response router::download(call& c) {
    const std::string_view path = c.path;
    // A clone's CDP and AIA paths, kept from the customer's URLs.
    if (auto alias = ca_paths_.find(std::string(path)); alias != ca_paths_.end()) {
        const auto& [tier, is_crl] = alias->second;
        c.rec.detail = tier;
        if (is_crl) {
            c.rec.operation = "crl";
            auto der = service_.crl(tier);
            if (!der) return text_response(c.req, http::status::not_found, der.message() + "\n");
            return file_response(c.req, "application/pkix-crl", "", std::string(der->begin(), der->end()));
        }
        auto found = export_ca(service_.pki(), tier, "crt");
        if (!found) return text_response(c.req, http::status::not_found, found.message() + "\n");
        return file_download(c.req, std::move(*found));
    }
    // CRLs at stable URLs, one per CA tier (referenced from the CRL
    // Distribution Point of issued certificates).
    if (path.starts_with(crl_path_prefix)) {
        if (path.size() <= crl_path_prefix.size() + crl_path_suffix.size() || !path.ends_with(crl_path_suffix))
            return not_found(c);
        c.rec.operation = "crl";
        std::string name(
            path.substr(crl_path_prefix.size(), path.size() - crl_path_prefix.size() - crl_path_suffix.size()));
        auto der = service_.crl(name);
        if (!der) return text_response(c.req, http::status::not_found, der.message() + "\n");
        c.rec.detail = name;
        return file_response(c.req, "application/pkix-crl", "", std::string(der->begin(), der->end()));
    }
    // Trust material at stable URLs: /ca/<name>.<crt|der|pem|p7b> (name: a CA
    // tier, "ra", "ra-encryption" or "chain") and /certs/<serial>.<crt|der|pem>.
    const bool ca = path.starts_with("/ca/");
    std::string_view file = path.substr(ca ? 4 : 7);
    auto dot = file.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || file.find('/') != std::string_view::npos) return not_found(c);
    std::string stem(file.substr(0, dot)), format(file.substr(dot + 1));
    c.rec.detail = std::string(file);
    result<exported> found = make_error("unset");
    if (ca && (stem == "tls" || stem == "tls-chain")) {
        std::vector<const X509*> certs;
        for (const auto& cert : tls_chain_) {
            certs.push_back(cert.get());
            if (stem == "tls") break;
        }
        found = tls_chain_.empty() ? result<exported>(make_error("HTTPS is off: no TLS server certificate"))
                                   : export_certs(certs, stem, format);
    } else {
        found = ca ? export_ca(service_.pki(), stem, format) : export_certificate(service_.store(), stem, format);
    }
    if (!found) return text_response(c.req, http::status::not_found, found.message() + "\n");
    return file_download(c.req, std::move(*found));
}

response router::not_found(call& c) {
    c.rec.operation.clear();
    c.rec.detail.clear();
    return text_response(c.req, http::status::not_found, "not found: " + std::string(c.path) + "\n");
}

void router::inject_http_fault(call& c, response& res, scep_exchange& x) {
    if (!faults_) return;
    const std::string subject =
        x.inspection.csr ? subject_for_matching(*X509_REQ_get_subject_name(x.inspection.csr.get())) : "";
    auto rule = server::inject_http_fault(
        *faults_, service_, {c.rec.operation, c.target, c.client, c.rec.scep.type_name(), c.rec.scep.transaction_id, subject},
        res, c.rec);
    if (!rule) return;
    const fired_fault fired{rule->kind, rule->id};
    c.rec.detail = "fault injected: " + fired.text() + (c.rec.detail.empty() ? "" : "; " + c.rec.detail);
    c.rec.scep.faults.push_back(fired);
    if (metrics_) metrics_->fault(fired.kind);
}

void router::record_exchange(call& c, const response& res, scep_exchange&& x) {
    const request_record& rec = c.rec;
    x.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - c.start);
    x.client = c.client;
    x.method = std::string(c.req.method_string());
    x.path = std::string(c.path);
    x.user_agent = std::string(c.req[http::field::user_agent]);
    x.has_user_agent = c.req.find(http::field::user_agent) != c.req.end();
    x.http_version = static_cast<int>(c.req.version());
    x.content_type = std::string(c.req[http::field::content_type]);
    x.query_length = c.query.size();
    x.http_status = static_cast<int>(res.result_int());
    x.reply_content_type = std::string(res[http::field::content_type]);
    x.reply_body = res.body();
    x.scep = rec.scep;
    // A refusal answered in plain text (or an IIS page) carries its reason in the body.
    x.reason = !rec.detail.empty() || x.http_status < 400 ? rec.detail : res.body().substr(0, 512);
    while (!x.reason.empty() && x.reason.back() == '\n') x.reason.pop_back();
    inspector_->record(std::move(x));
}

// /transactions, /transactions.json, /transactions.js, /transactions/<id>[.json]
response router::transactions(call& c) {
    if (!is_get_or_head(c.req)) return method_not_allowed(c.req, read_only);
    inspector_->flush();  // what is shown includes the exchange that just happened
    const request& req = c.req;
    auto page = [&](http::status status, std::string_view type, std::string body) {
        return page_response(req, status, type, std::move(body));
    };
    constexpr std::string_view html = "text/html; charset=utf-8", plain = "text/plain; charset=utf-8",
                               json_type = "application/json";
    auto json_page = [&](http::status status, const boost::json::value& v) {
        return page(status, json_type, scep::json_text(v) + "\n");
    };
    auto json_failure = [&](http::status status, const std::string& message) {
        return json_page(status, boost::json::object{{"error", message}});
    };
    const bool admin = admin_ != nullptr;
    if (c.path == "/transactions" || c.path == "/transactions.rows") {
        // The list, rendered here (no JavaScript needed); .rows is what the
        // page's script refreshes: the rows and the count.
        transaction_query q;
        std::string error;
        auto params = form_params(c.query);
        if (!params) error = "the query string is not percent-encoded properly";
        else if (auto parsed = transaction_query_from(*params)) q = *parsed;
        else error = parsed.message();
        q.limit = std::min<std::size_t>(q.limit, 200);
        boost::json::array items;
        std::int64_t total = 0;
        if (error.empty()) {
            auto found = inspector_->log().search(q);
            if (!found) {
                c.rec.detail = found.message();
                error = "transaction log error (see the server log)";
            } else {
                total = found->total;
                for (const auto& t : found->items) items.push_back(transaction_summary_json(t));
            }
        }
        if (c.path == "/transactions.rows") {
            if (!error.empty()) return json_failure(http::status::bad_request, error);
            return json_page(http::status::ok,
                             boost::json::object{{"total", total},
                                                 {"shown", items.size()},
                                                 {"message", transaction_count_text(total, items.size())},
                                                 {"rows", render_transaction_rows(items)}});
        }
        transaction_list list{items, total, q.client, q.status, q.severity, q.finding, error};
        return page(error.empty() ? http::status::ok : http::status::bad_request, html,
                    render_transactions_page(list, admin));
    }
    if (c.path == "/transactions.js")
        return page(http::status::ok, "application/javascript; charset=utf-8", transactions_script());
    if (c.path == "/transactions.json") {
        auto params = form_params(c.query);
        if (!params) return json_failure(http::status::bad_request, "the query string is not percent-encoded properly");
        auto q = transaction_query_from(*params);
        if (!q) return json_failure(http::status::bad_request, q.message());
        auto found = inspector_->log().search(*q);
        if (!found) {
            c.rec.detail = found.message();
            return json_failure(http::status::internal_server_error, "transaction log error (see the server log)");
        }
        boost::json::array items;
        for (const auto& t : found->items) items.push_back(transaction_summary_json(t));
        return json_page(http::status::ok, boost::json::object{{"total", found->total}, {"items", std::move(items)}});
    }
    // /transactions/<id> (HTML) or /transactions/<id>.json
    std::string_view rest = c.path.substr(std::string_view("/transactions/").size());
    const bool as_json = rest.ends_with(".json");
    if (as_json) rest.remove_suffix(5);
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (ec != std::errc() || end != rest.data() + rest.size() || id <= 0)
        return page(http::status::not_found, plain, "no such transaction\n");
    auto found = inspector_->log().find(id);
    if (!found) {
        c.rec.detail = found.message();
        return page(http::status::internal_server_error, plain, "transaction log error (see the server log)\n");
    }
    if (!*found)
        return page(http::status::not_found, plain, "no transaction " + std::to_string(id) + " (it may have aged out)\n");
    auto t = transaction_json(inspector_->log(), **found);
    if (as_json) return json_page(http::status::ok, t);
    return page(http::status::ok, html, render_transaction_page(t, admin));
}

response router::scep(call& c, scep_exchange* x) {
    const request& req = c.req;
    request_record& rec = c.rec;
    if (!is_get_or_head(req) && req.method() != http::verb::post) return method_not_allowed(req, "GET, POST, HEAD");
    std::string operation;
    std::optional<std::string> message;
    for (auto& [k, v] : split_query(c.query)) {
        if (k == "operation") operation = percent_decode(v).value_or(v);
        if (k == "message") message = std::move(v);
    }
    rec.operation = operation;
    if (x) {
        x->operation = operation;
        if (message && (ascii_iequals(operation, "GetCACaps") || ascii_iequals(operation, "GetCACert")))
            x->message = percent_decode(message->substr(0, 256)).value_or(message->substr(0, 256));
    }
    if (quirks_) {
        rec.delay = quirks_->latency();
        std::string_view canonical = operation;
        for (std::string_view op : scep_operations)
            if (ascii_iequals(operation, op)) canonical = op;
        if (auto res = quirks_->inject(req, canonical, rec)) return std::move(*res);
    }
    if (operation.empty() && ndes_) {
        // Browsing the NDES URL itself: the information page, or 403 (ndes.browse).
        rec.operation = "ndes-browse";
        c.browsing = true;
        // The admin URL from the validated Host and the scheme actually used.
        auto base = base_url_of(req, c.secure);
        if (!base) return bad_host(req);
        return ndes_->browse(req, *base + std::string(config::ndes_admin_path));
    }
    if (operation.empty()) return text_response(req, http::status::bad_request, "missing operation parameter\n");

    // Operation names are case-sensitive in RFC 8894, but being lenient costs
    // nothing and some hand-written clients get them wrong.
    if (ascii_iequals(operation, "GetCACaps")) return from_reply(req, service_.get_ca_caps(), rec);
    if (ascii_iequals(operation, "GetCACert")) return from_reply(req, service_.get_ca_cert(), rec);
    if (ascii_iequals(operation, "GetNextCACert")) return from_reply(req, service_.get_next_ca_cert(), rec);
    if (!ascii_iequals(operation, "PKIOperation"))
        return text_response(req, http::status::bad_request, "unsupported operation \"" + operation + "\"\n");
    bytes der;
    if (req.method() == http::verb::post) {
        const std::string& body = req.body();
        if (body.empty()) return text_response(req, http::status::bad_request, "PKIOperation POST with an empty body\n");
        // RFC 8894 §4.3 says binary; a few clients POST base64 text.
        if (static_cast<unsigned char>(body.front()) == 0x30) {
            der.assign(body.begin(), body.end());
        } else if (auto decoded = base64_decode(body)) {
            der = std::move(*decoded);
            if (x) x->post_base64 = true;
        } else {
            return text_response(req, http::status::bad_request, "PKIOperation body is neither DER nor base64\n");
        }
    } else {
        if (!message || message->empty())
            return text_response(req, http::status::bad_request, "PKIOperation GET without a message parameter\n");
        if (x) {
            x->get_unescaped = inspect::unescaped_base64(*message);
            for (std::string_view brk : {"%0A", "%0a", "%0D", "%0d", "\n"})
                x->get_line_breaks = x->get_line_breaks || message->find(brk) != std::string::npos;
        }
        auto decoded = decode_get_message(*message);
        if (!decoded) return text_response(req, http::status::bad_request, "message parameter is not valid base64\n");
        der = std::move(*decoded);
    }
    auto reply = service_.pki_operation(der, c.client);
    if (metrics_)
        for (const auto& f : reply.faults) metrics_->fault(f.kind);
    if (x) {
        x->request_der = der;
        x->inspection = std::move(reply.inspection);
    }
    if (!capture_dir_.empty()) {
        // Names from a counter and the (sanitised) transactionID only.
        std::string id = std::to_string(++captured_) + "-";
        for (char ch : reply.transaction_id.substr(0, 64)) id += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
        // Owner only, like the store: requests carry the encrypted challenge.
        (void)write_file(capture_dir_ / (id + ".request.der"), std::string(der.begin(), der.end()), true);
        (void)write_file(capture_dir_ / (id + ".reply.der"), reply.body, true);
    }
    if (ndes_events_ && reply.ndes_event.id != 0)
        ndes_events_->write(reply.ndes_event.id, reply.ndes_event.text, reply.transaction_id);
    return from_reply(req, std::move(reply), rec);
}

}  // namespace scep::server
