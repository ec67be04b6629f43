#include "server/router.hpp"

#include "config/config.hpp"
#include "pki/ca/crl.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/json.hpp>

#include "pki/crypto/encoding.hpp"
#include "pki/trust/exports.hpp"
#include "server/admin_api.hpp"
#include "server/inspector.hpp"
#include "server/transaction_pages.hpp"
#include "server/metrics.hpp"
#include "server/ndes_admin.hpp"
#include "server/ndes_events.hpp"
#include "server/status_page.hpp"
#include "server/quirks.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::server {

namespace {

response text(const request& req, http::status status, std::string body, request_record& rec) {
    response res{status, req.version()};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    rec.http_status = static_cast<int>(status);
    return res;
}

// 405 with the methods the resource takes (RFC 9110 §15.5.6: Allow is required).
response method_not_allowed(const request& req, std::string_view allow, request_record& rec) {
    auto res = text(req, http::status::method_not_allowed, "use " + std::string(allow) + "\n", rec);
    res.set(http::field::allow, allow);
    return res;
}

bool is_get_or_head(const request& req) {
    return req.method() == http::verb::get || req.method() == http::verb::head;
}

// A Host value that can go into links and profiles.
bool plausible_host(std::string_view host) {
    return !host.empty() && host.size() <= 255 &&
           host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
               std::string_view::npos;
}

// "http(s)://host" from the request's Host header; nullopt when it is not a
// plausible host (it ends up in links and profiles).
std::optional<std::string> base_url_of(const request& req, bool secure) {
    std::string host(req[http::field::host]);
    if (host.empty()) host = "127.0.0.1";
    if (!plausible_host(host)) return std::nullopt;
    return (secure ? "https://" : "http://") + host;
}

// A file download (certificate, chain, profile) with its suggested name.
response file_response(const request& req, exported&& file, request_record& rec) {
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, file.content_type);
    res.set(http::field::content_disposition, "attachment; filename=\"" + file.filename + "\"");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(file.body);
    res.prepare_payload();
    rec.http_status = 200;
    return res;
}

response from_reply(const request& req, service_reply&& reply, request_record& rec) {
    response res{static_cast<http::status>(reply.http_status), req.version()};
    res.set(http::field::content_type, reply.content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(reply.body);
    res.prepare_payload();
    rec.http_status = reply.http_status;
    rec.message_type = std::move(reply.message_type);
    rec.transaction_id = std::move(reply.transaction_id);
    rec.pki_status = std::move(reply.pki_status);
    rec.fail_info = std::move(reply.fail_info);
    rec.detail = std::move(reply.detail);
    rec.serial = std::move(reply.serial);
    rec.hresult = std::move(reply.hresult);
    if (!reply.fault.empty()) rec.detail = "fault injected: " + reply.fault + (rec.detail.empty() ? "" : "; " + rec.detail);
    return res;
}

}  // namespace

namespace {
std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

}  // namespace

std::optional<framing_error> check_framing(request& req) {
    // RFC 9112 §6.3 (4): chunked must be the final coding, or the body's
    // length is unknown; §6.1: codings we do not implement get 501.
    std::vector<std::string_view> codings;
    for (const auto& field : req.base()) {
        if (field.name() != http::field::transfer_encoding) continue;
        std::string_view list = field.value();
        while (!list.empty()) {
            auto comma = list.find(',');
            auto c = trim_ows(list.substr(0, comma));
            if (!c.empty()) codings.push_back(c);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
    }
    if (!codings.empty()) {
        if (!ascii_iequals(codings.back(), "chunked"))
            return framing_error{http::status::bad_request,
                                 "Transfer-Encoding must end with chunked (RFC 9112 §6.3); the connection is closed"};
        if (codings.size() > 1)
            return framing_error{http::status::not_implemented,
                                 "only the chunked transfer coding is implemented; the connection is closed"};
    }
    // RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; no request may have two.
    const auto hosts = std::distance(req.base().equal_range(http::field::host).first,
                                     req.base().equal_range(http::field::host).second);
    if (hosts > 1) return framing_error{http::status::bad_request, "the request has more than one Host header"};
    if (hosts == 0 && req.version() >= 11)
        return framing_error{http::status::bad_request, "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)"};
    // Absolute-form (what a client that thinks it talks to a proxy sends).
    std::string_view target = req.target();
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() < scheme.size() || !ascii_iequals(target.substr(0, scheme.size()), scheme)) continue;
        std::string_view rest = target.substr(scheme.size());
        auto end = rest.find_first_of("/?");
        std::string_view authority = rest.substr(0, end);
        if (authority.find('@') != std::string_view::npos || !plausible_host(authority))
            return framing_error{http::status::bad_request, "the absolute-form target has no usable host"};
        std::string origin = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
        if (origin.front() == '?') origin.insert(0, "/");
        std::string host(authority);
        req.set(http::field::host, host);
        req.target(origin);
        break;
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> split_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
        out.emplace_back(percent_decode(key).value_or(std::string(key)), std::string(value));
    }
    return out;
}

std::optional<bytes> decode_get_message(std::string_view raw_value) {
    auto unescaped = percent_decode(raw_value);
    if (!unescaped) return std::nullopt;
    return base64_decode(*unescaped);
}

router::router(router_parts parts)
    : service_(parts.service),
      scep_paths_(std::move(parts.scep_paths)),
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
      ndes_events_(parts.ndes_events) {}

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

response router::handle(const request& req, const std::string& client, request_record& rec, bool secure) {
    std::string_view target = req.target();
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    // The target of a redirect fault: the same request, answered as it is.
    if (faults_ && path.starts_with(redirect_prefix) && is_scep_path(path.substr(redirect_prefix.size())))
        path.remove_prefix(redirect_prefix.size());

    // Read-only resources answer GET and HEAD only: a PUT or DELETE must not
    // look as if it had done something.
    constexpr std::string_view read_only = "GET, HEAD";
    const bool downloads = path.starts_with("/ca/") || path.starts_with("/certs/") || path.starts_with(crl_path_prefix);
    if ((path == "/healthz" || path == "/readyz" || (path == "/metrics" && metrics_) ||
         ((path == "/" || path == "/status.js") && status_page_) ||
         (path == "/profiles/apple.mobileconfig" && profile_source_) || downloads) &&
        !is_get_or_head(req)) {
        rec.operation = "method";
        return method_not_allowed(req, read_only, rec);
    }
    if (path == "/healthz") {
        rec.operation = "healthz";
        return text(req, http::status::ok, "ok\n", rec);
    }
    if (path == "/readyz") {
        // Ready: accepting requests and the store answers. Not ready while
        // shutting down, so that load balancers and CI wait loops move on.
        rec.operation = "readyz";
        if (!ready_) return text(req, http::status::service_unavailable, "shutting down\n", rec);
        // The answer is public: the reason with file names goes to the log only.
        if (auto n = service_.store().count(); !n) {
            rec.detail = "store unavailable: " + n.message();
            return text(req, http::status::service_unavailable, "store unavailable (see the server log)\n", rec);
        }
        if (auto w = service_.store_writable(); !w) {
            rec.detail = "store cannot be written: " + w.message();
            return text(req, http::status::service_unavailable, "store cannot be written (see the server log)\n", rec);
        }
        return text(req, http::status::ok, "ready\n", rec);
    }
    if (path == "/metrics" && metrics_) {
        rec.operation = "metrics";
        auto res = text(req, http::status::ok, metrics_->render(service_.store()), rec);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        return res;
    }
    if ((path == "/" || path == "/status.js") && status_page_) {
        rec.operation = "status";
        response res{http::status::ok, req.version()};
        if (path == "/") {
            auto base = base_url_of(req, secure);
            if (!base) return text(req, http::status::bad_request, "the Host header is not a host name or address\n", rec);
            res.set(http::field::content_type, "text/html; charset=utf-8");
            res.body() = status_page_(*base);
        } else {
            res.set(http::field::content_type, "application/javascript; charset=utf-8");
            res.body() = status_script();
        }
        // Only our own script; inline styles only.
        res.set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'");
        res.set("X-Content-Type-Options", "nosniff");
        res.set(http::field::cache_control, "no-store");
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        rec.http_status = 200;
        return res;
    }
    if (inspector_ && (path == "/transactions" || path.starts_with("/transactions/") ||
                       path == "/transactions.json" || path == "/transactions.js")) {
        rec.operation = "transactions";
        if (!is_get_or_head(req)) return method_not_allowed(req, read_only, rec);
        return transactions(req, path, query, rec);
    }
    if (admin_ && admin_api::is_admin_path(path)) {
        rec.operation = "admin";
        auto res = admin_->handle(req, client, rec.detail);
        rec.http_status = static_cast<int>(res.result_int());
        return res;
    }
    const auto start = std::chrono::steady_clock::now();
    if (quirks_)
        if (auto res = quirks_->check_url(req, query, rec)) {
            rec.operation = "url-limit";
            // A SCEP request refused for its URL's length, as IIS refuses it: the
            // inspector shows it (clients report only "404").
            if (inspector_ && is_scep_path(path)) {
                scep_exchange x;
                for (auto& [k, v] : split_query(query))
                    if (k == "operation") x.operation = percent_decode(v).value_or(v);
                record_exchange(req, path, query, client, rec, *res, std::move(x), start);
            }
            return std::move(*res);
        }
    if (ndes_ && ndes_frontend::is_admin_path(path)) {
        rec.operation = "ndes-admin";
        if (!is_get_or_head(req)) return method_not_allowed(req, read_only, rec);
        if (quirks_) {
            rec.delay = quirks_->latency();
            if (auto res = quirks_->inject(req, "mscep_admin", rec)) return std::move(*res);
        }
        auto res = ndes_->admin(req, rec.detail);
        rec.http_status = static_cast<int>(res.result_int());
        return res;
    }
    if (is_scep_path(path)) {
        if (!inspector_) {
            // Nothing is recorded: the exchange is kept only for an HTTP
            // fault rule that selects by subject (it reads the CSR).
            scep_exchange x;
            auto res = scep(req, query, client, rec, secure, faults_ && faults_->armed() ? &x : nullptr);
            inject_http_fault(res, target, client, rec, x);
            return res;
        }
        scep_exchange x;
        auto res = scep(req, query, client, rec, secure, &x);
        if (rec.operation == "ndes-browse") return res;  // a person browsing, not a client
        inject_http_fault(res, target, client, rec, x);
        record_exchange(req, path, query, client, rec, res, std::move(x), start);
        return res;
    }
    if (path == "/profiles/apple.mobileconfig" && profile_source_) {
        rec.operation = "profile";
        // The profile points devices back at the address they used.
        auto base = base_url_of(req, secure);
        if (!base) return text(req, http::status::bad_request, "the Host header is not a host name or address\n", rec);
        profile_call call{query, *base, req, client, {}};
        auto made = profile_source_(call);
        if (!made) {
            rec.detail = made.message();
            return text(req, http::status::bad_request, made.message() + "\n", rec);
        }
        auto res = file_response(req, std::move(*made), rec);
        if (!call.note.empty()) {
            res.set("X-Scep-Lab-Challenge", call.note);
            rec.detail = call.note;
        }
        return res;
    }
    // Trust material at stable URLs: /ca/<name>.<crt|der|pem|p7b> (name: a CA
    // tier, "ra", "ra-encryption" or "chain") and /certs/<serial>.<crt|der|pem>.
    for (std::string_view prefix : {std::string_view("/ca/"), std::string_view("/certs/")}) {
        if (path.substr(0, prefix.size()) != prefix) continue;
        std::string_view file = path.substr(prefix.size());
        auto dot = file.rfind('.');
        if (dot == std::string_view::npos || dot == 0 || file.find('/') != std::string_view::npos) break;
        std::string stem(file.substr(0, dot)), format(file.substr(dot + 1));
        rec.operation = "export";
        rec.detail = std::string(file);
        result<exported> found = make_error("unset");
        if (prefix == "/ca/" && (stem == "tls" || stem == "tls-chain")) {
            std::vector<const X509*> certs;
            for (const auto& c : tls_chain_) {
                certs.push_back(c.get());
                if (stem == "tls") break;
            }
            found = tls_chain_.empty() ? result<exported>(make_error("HTTPS is off: no TLS server certificate"))
                                       : export_certs(certs, stem, format);
        } else {
            found = prefix == "/ca/" ? export_ca(service_.pki(), stem, format)
                                     : export_certificate(service_.store(), stem, format);
        }
        if (!found) return text(req, http::status::not_found, found.message() + "\n", rec);
        return file_response(req, std::move(*found), rec);
    }
    // CRLs at stable URLs, one per CA tier (referenced from the CRL
    // Distribution Point of issued certificates).
    if (path.starts_with(crl_path_prefix) && path.size() > crl_path_prefix.size() + crl_path_suffix.size() &&
        path.ends_with(crl_path_suffix)) {
        rec.operation = "crl";
        std::string name(
            path.substr(crl_path_prefix.size(), path.size() - crl_path_prefix.size() - crl_path_suffix.size()));
        auto der = service_.crl(name);
        if (!der) return text(req, http::status::not_found, der.message() + "\n", rec);
        response res{http::status::ok, req.version()};
        res.set(http::field::content_type, "application/pkix-crl");
        res.keep_alive(req.keep_alive());
        res.body().assign(der->begin(), der->end());
        res.prepare_payload();
        rec.http_status = 200;
        rec.detail = name;
        return res;
    }
    return text(req, http::status::not_found, "not found: " + std::string(path) + "\n", rec);
}

void router::inject_http_fault(response& res, std::string_view target, const std::string& client,
                               request_record& rec, scep_exchange& x) {
    if (!faults_ || !faults_->armed()) return;
    if (target.starts_with(redirect_prefix)) return;  // a redirect's target is answered as it is
    std::string canonical = rec.operation;
    for (std::string_view op : scep_operations)
        if (ascii_iequals(rec.operation, op)) canonical = op;
    const std::string subject =
        x.inspection.csr ? subject_for_matching(*X509_REQ_get_subject_name(x.inspection.csr.get())) : "";
    auto rule = faults_->take(fault_layer::http, {canonical, rec.message_type, rec.transaction_id, client, subject});
    if (!rule) return;
    std::string& body = res.body();
    // GetCACaps answers one capability per line (RFC 8894 §3.5.2).
    auto caps_lines = [&](auto&& each) {
        const bool crlf = body.find("\r\n") != std::string::npos;
        std::string out;
        std::size_t at = 0;
        while (at < body.size()) {
            auto end = body.find('\n', at);
            std::string line = body.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            each(line, out, crlf);
            at = end == std::string::npos ? body.size() : end + 1;
        }
        body = std::move(out);
    };
    switch (rule->kind) {
        case fault_kind::http_status:
            res.result(static_cast<http::status>(rule->status));
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            if (rule->retry_after > 0) res.set(http::field::retry_after, std::to_string(rule->retry_after));
            body = "fault injected by scep-lab: HTTP " + std::to_string(rule->status) + " (" + rule->id + ")\n";
            break;
        case fault_kind::wrong_content_type: res.set(http::field::content_type, "text/html; charset=utf-8"); break;
        case fault_kind::empty_body: body.clear(); break;
        case fault_kind::truncated_body: body.resize(body.size() / 2); break;
        case fault_kind::base64_body: body = base64_encode(byte_view(reinterpret_cast<const std::uint8_t*>(body.data()), body.size())); break;
        case fault_kind::trailing_garbage: body.append(16, '\xa5'); break;
        case fault_kind::delay_headers: rec.delay = std::chrono::milliseconds(rule->delay_ms); break;
        case fault_kind::delay_body:
            rec.transport = request_record::wire::pause_mid_body;
            rec.pause = std::chrono::milliseconds(rule->delay_ms);
            break;
        case fault_kind::connection_close: rec.transport = request_record::wire::close; break;
        case fault_kind::connection_reset: rec.transport = request_record::wire::reset; break;
        case fault_kind::redirect:
            res.result(static_cast<http::status>(rule->status));
            res.set(http::field::location, std::string(redirect_prefix) + std::string(target));
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            body = "fault injected by scep-lab: moved to " + std::string(redirect_prefix) + std::string(target) + "\n";
            break;
        case fault_kind::getcacert_other_ra:
        case fault_kind::getcacert_issuing_only: {
            auto r = service_.faulty_ca_cert(rule->kind);
            res.set(http::field::content_type, r.content_type);
            body = std::move(r.body);
            if (r.http_status != 200) res.result(static_cast<http::status>(r.http_status));
            break;
        }
        case fault_kind::caps_empty: body.clear(); break;
        case fault_kind::caps_lowercase:
            for (char& c : body) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            break;
        case fault_kind::caps_crlf:
            caps_lines([](const std::string& line, std::string& out, bool crlf) { out += line + (crlf ? "\n" : "\r\n"); });
            break;
        case fault_kind::caps_unknown_words: {
            bool first = true;
            caps_lines([&first](const std::string& line, std::string& out, bool crlf) {
                const char* eol = crlf ? "\r\n" : "\n";
                if (first) out += std::string("X-Unknown-Capability") + eol;
                first = false;
                out += line + eol;
            });
            body += std::string("SCEPStandardV2") + (body.find("\r\n") != std::string::npos ? "\r\n" : "\n");
            break;
        }
        default: return;
    }
    res.prepare_payload();
    rec.http_status = static_cast<int>(res.result_int());
    const std::string what = std::string(info(rule->kind).name) + " (" + rule->id + ")";
    rec.detail = "fault injected: " + what + (rec.detail.empty() ? "" : "; " + rec.detail);
    x.fault = x.fault.empty() ? what : x.fault + ", " + what;
    if (metrics_) metrics_->fault(std::string(info(rule->kind).name));
}

void router::record_exchange(const request& req, std::string_view path, std::string_view query,
                             const std::string& client, const request_record& rec, const response& res,
                             scep_exchange&& x, std::chrono::steady_clock::time_point start) {
    x.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    x.client = client;
    x.method = std::string(req.method_string());
    x.path = std::string(path);
    x.user_agent = std::string(req[http::field::user_agent]);
    x.content_type = std::string(req[http::field::content_type]);
    x.query_length = query.size();
    x.http_status = static_cast<int>(res.result_int());
    x.reply_content_type = std::string(res[http::field::content_type]);
    x.reply_body = res.body();
    x.message_type = rec.message_type;
    x.transaction_id = rec.transaction_id;
    x.pki_status = rec.pki_status;
    x.fail_info = rec.fail_info;
    x.serial = rec.serial;
    // A refusal answered in plain text (or an IIS page) carries its reason in the body.
    x.reason = !rec.detail.empty() || x.http_status < 400 ? rec.detail : res.body().substr(0, 512);
    while (!x.reason.empty() && x.reason.back() == '\n') x.reason.pop_back();
    inspector_->record(std::move(x));
}

response router::transactions(const request& req, std::string_view path, std::string_view query,
                              request_record& rec) {
    inspector_->flush();  // what is shown includes the exchange that just happened
    response res{http::status::ok, req.version()};
    res.set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    auto finish = [&](http::status status, std::string_view type, std::string body) {
        res.result(status);
        res.set(http::field::content_type, type);
        res.body() = std::move(body);
        res.prepare_payload();
        rec.http_status = static_cast<int>(status);
        return std::move(res);
    };
    auto json_error = [&](http::status status, const std::string& message) {
        return finish(status, "application/json", scep::json_text(boost::json::object{{"error", message}}) + "\n");
    };
    const bool admin = admin_ != nullptr;
    if (path == "/transactions") return finish(http::status::ok, "text/html; charset=utf-8", render_transactions_page(admin));
    if (path == "/transactions.js")
        return finish(http::status::ok, "application/javascript; charset=utf-8", transactions_script());
    if (path == "/transactions.json") {
        std::vector<std::pair<std::string, std::string>> params;
        for (auto [k, v] : split_query(query)) {
            for (char& c : v)
                if (c == '+') c = ' ';
            auto d = percent_decode(v);
            if (!d) return json_error(http::status::bad_request, "the query string is not percent-encoded properly");
            params.emplace_back(k, *d);
        }
        auto q = transaction_query_from(params);
        if (!q) return json_error(http::status::bad_request, q.message());
        auto page = inspector_->log().search(*q);
        if (!page) {
            rec.detail = page.message();
            return json_error(http::status::internal_server_error, "transaction log error (see the server log)");
        }
        boost::json::array items;
        for (const auto& t : page->items) items.push_back(transaction_summary_json(t));
        return finish(http::status::ok, "application/json",
                      scep::json_text(boost::json::object{{"total", page->total}, {"items", std::move(items)}}) +
                          "\n");
    }
    // /transactions/<id> (HTML) or /transactions/<id>.json
    std::string_view rest = path.substr(std::string_view("/transactions/").size());
    const bool as_json = rest.ends_with(".json");
    if (as_json) rest.remove_suffix(5);
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (ec != std::errc() || end != rest.data() + rest.size() || id <= 0)
        return finish(http::status::not_found, "text/plain; charset=utf-8", "no such transaction\n");
    auto found = inspector_->log().find(id);
    if (!found) {
        rec.detail = found.message();
        return finish(http::status::internal_server_error, "text/plain; charset=utf-8",
                      "transaction log error (see the server log)\n");
    }
    if (!*found)
        return finish(http::status::not_found, "text/plain; charset=utf-8",
                      "no transaction " + std::to_string(id) + " (it may have aged out)\n");
    auto t = transaction_json(inspector_->log(), **found);
    if (as_json) return finish(http::status::ok, "application/json", scep::json_text(t) + "\n");
    return finish(http::status::ok, "text/html; charset=utf-8", render_transaction_page(t, admin));
}

response router::scep(const request& req, std::string_view query, const std::string& client, request_record& rec,
                       bool secure, scep_exchange* x) {
    if (!is_get_or_head(req) && req.method() != http::verb::post) return method_not_allowed(req, "GET, POST, HEAD", rec);
    std::string operation;
    std::optional<std::string> message;
    for (auto& [k, v] : split_query(query)) {
        if (k == "operation") operation = percent_decode(v).value_or(v);
        if (k == "message") message = std::move(v);
    }
    rec.operation = operation;
    if (x) x->operation = operation;
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
        // The admin URL from the validated Host and the scheme actually used.
        auto base = base_url_of(req, secure);
        if (!base) return text(req, http::status::bad_request, "the Host header is not a host name or address\n", rec);
        auto res = ndes_->browse(req, *base + std::string(config::ndes_admin_path));
        rec.http_status = static_cast<int>(res.result_int());
        return res;
    }
    if (operation.empty()) return text(req, http::status::bad_request, "missing operation parameter\n", rec);

    // Operation names are case-sensitive in RFC 8894, but being lenient costs
    // nothing and some hand-written clients get them wrong.
    if (ascii_iequals(operation, "GetCACaps")) return from_reply(req, service_.get_ca_caps(), rec);
    if (ascii_iequals(operation, "GetCACert")) return from_reply(req, service_.get_ca_cert(), rec);
    if (ascii_iequals(operation, "GetNextCACert")) return from_reply(req, service_.get_next_ca_cert(), rec);
    if (ascii_iequals(operation, "PKIOperation")) {
        bytes der;
        if (req.method() == http::verb::post) {
            const std::string& body = req.body();
            if (body.empty()) return text(req, http::status::bad_request, "PKIOperation POST with an empty body\n", rec);
            // RFC 8894 §4.3 says binary; a few clients POST base64 text.
            if (static_cast<unsigned char>(body.front()) == 0x30) {
                der.assign(body.begin(), body.end());
            } else if (auto decoded = base64_decode(body)) {
                der = std::move(*decoded);
                if (x) x->post_base64 = true;
            } else {
                return text(req, http::status::bad_request,
                            "PKIOperation body is neither DER nor base64\n", rec);
            }
        } else {
            if (!message || message->empty())
                return text(req, http::status::bad_request, "PKIOperation GET without a message parameter\n", rec);
            if (x) x->get_unescaped = inspect::has_unescaped_base64(*message);
            auto decoded = decode_get_message(*message);
            if (!decoded) return text(req, http::status::bad_request, "message parameter is not valid base64\n", rec);
            der = std::move(*decoded);
        }
        auto reply = service_.pki_operation(der, client);
        if (!reply.fault.empty() && metrics_) metrics_->fault(reply.fault.substr(0, reply.fault.find(' ')));
        if (x) {
            x->fault = reply.fault;
            x->request_der = der;
            x->inspection = std::move(reply.inspection);
        }
        if (!capture_dir_.empty()) {
            // Names from a counter and the (sanitised) transactionID only.
            std::string id = std::to_string(++captured_) + "-";
            for (char c : reply.transaction_id.substr(0, 64)) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
            // Owner only, like the store: requests carry the encrypted challenge.
            (void)write_file(capture_dir_ / (id + ".request.der"), std::string(der.begin(), der.end()), true);
            (void)write_file(capture_dir_ / (id + ".reply.der"), reply.body, true);
        }
        if (ndes_events_ && reply.ndes_event.id != 0)
            ndes_events_->write(reply.ndes_event.id, reply.ndes_event.text, reply.transaction_id);
        return from_reply(req, std::move(reply), rec);
    }
    return text(req, http::status::bad_request, "unsupported operation \"" + operation + "\"\n", rec);
}

}  // namespace scep::server
