#include "server/evidence.hpp"

#include <boost/json.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <unordered_map>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/evidence/text_time.hpp"
#include "pki/scep/message.hpp"
#include "server/http.hpp"
#include "server/inspector.hpp"
#include "server/router.hpp"

namespace scep::server {

namespace json = boost::json;

std::string iis_status_meaning(int status, int substatus) {
    // https://learn.microsoft.com/en-us/troubleshoot/developer/webapps/iis/www-administration-management/http-status-code
    struct row {
        int status, sub;
        const char* text;
    };
    static const row table[] = {
        {400, -1, "bad request (HTTP.sys or IIS refused the request)"},
        {401, 1, "logon failed"},
        {401, 2, "logon failed: the server's configuration (authentication methods)"},
        {401, 3, "unauthorized by an ACL on the resource"},
        {403, 4, "SSL required"},
        {403, 7, "client certificate required"},
        {403, 14, "directory listing denied"},
        {404, 0, "not found"},
        {404, 5, "denied by request filtering: URL sequence"},
        {404, 7, "denied by request filtering: file extension"},
        {404, 13, "denied by request filtering: content length too large (maxAllowedContentLength)"},
        {404, 14, "denied by request filtering: URL too long (maxUrl)"},
        {404, 15, "denied by request filtering: query string too long (maxQueryString)"},
        {404, 17, "dynamic content mapped to the static file handler"},
        {413, 1, "request entity too large"},
        {414, 0, "request URI too long (HTTP.sys)"},
        {500, 0, "module or ISAPI error"},
        {500, 19, "configuration data is invalid (web.config)"},
        {500, 21, "module not recognised"},
        {500, 50, "rewrite error"},
        {502, 3, "bad gateway: forwarder connection error (ARR)"},
        {503, 0, "application pool unavailable (stopped, or the identity's password expired)"},
        {503, 2, "concurrent request limit exceeded"},
    };
    for (const auto& r : table)
        if (r.status == status && (r.sub == substatus || (r.sub == -1 && substatus <= 0))) return r.text;
    return {};
}

namespace {

bool is_scep_target(std::string_view path, const std::vector<std::pair<std::string, std::string>>& query) {
    for (const auto& [k, v] : query)
        if (k == "operation") return true;
    auto ends = [&](std::string_view suffix) {
        return path.size() >= suffix.size() && ascii_iequals(path.substr(path.size() - suffix.size()), suffix);
    };
    return ends("/pkiclient.exe") || ends("/mscep.dll") || ends("/mscep.dll/pkiclient.exe");
}

std::string canonical_operation(std::string_view op) {
    for (std::string_view known : scep_operations)
        if (ascii_iequals(op, known)) return std::string(known);
    return inspect::printable(op, 64);
}

std::optional<pki_status> status_from(const std::string& s) {
    for (auto v : {pki_status::success, pki_status::failure, pki_status::pending})
        if (s == to_string(v)) return v;
    return std::nullopt;
}

std::optional<fail_info> failure_from(const std::string& s) {
    for (auto v : {fail_info::bad_alg, fail_info::bad_message_check, fail_info::bad_request, fail_info::bad_time,
                   fail_info::bad_cert_id})
        if (s == to_string(v)) return v;
    return std::nullopt;
}

// The sources whose events say something of an enrollment: NDES, the CA,
// the certificate services client and CAPI2 (an export without a source
// column counts as theirs).
bool enrollment_source(std::string_view source) {
    if (source.empty()) return true;
    for (std::string_view s : {"NetworkDeviceEnrollment", "MSCEP", "NDES", "CertificateServices", "CertSvc", "CAPI2",
                               "CertificationAuthority", "CertEnroll"})
        for (std::size_t i = 0; i + s.size() <= source.size(); ++i)
            if (ascii_iequals(source.substr(i, s.size()), s)) return true;
    return false;
}

json::object place_json(const evidence::place& p) { return json::object{{"file", p.file}, {"where", p.where}}; }

json::object iis_json(const evidence::iis_entry& e) {
    json::object o{{"time", evidence::iso8601(e.time)},
                   {"status", e.status},
                   {"line", e.at.text()},
                   {"status_text", std::to_string(e.status) + (e.substatus >= 0 ? "." + std::to_string(e.substatus) : "")}};
    if (e.substatus >= 0) o["substatus"] = e.substatus;
    if (e.win32_status) o["win32_status"] = *e.win32_status;
    if (e.time_taken_ms >= 0) o["time_taken_ms"] = e.time_taken_ms;
    if (!e.username.empty()) o["username"] = inspect::printable(e.username, 128);
    if (auto m = iis_status_meaning(e.status, e.substatus); !m.empty()) o["meaning"] = m;
    return o;
}

}  // namespace

json::object event_json(const evidence::ndes_event& e) {
    return json::object{{"time", evidence::iso8601(e.time)}, {"id", e.id},
                        {"level", inspect::printable(e.level, 32)}, {"source", inspect::printable(e.source, 128)},
                        {"text", inspect::printable(e.text, 2048)}, {"line", e.at.text()}};
}

namespace {

std::string value_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A row's findings back from its detail (id, detail and severity kept).
std::vector<inspect::finding> findings_of(const json::object& detail) {
    std::vector<inspect::finding> out;
    const auto* list = detail.if_contains("findings");
    if (!list || !list->is_array()) return out;
    for (const auto& f : list->as_array()) {
        const auto* o = f.if_object();
        if (!o || value_of(*o, "id").empty()) continue;
        inspect::finding kept{value_of(*o, "id"), value_of(*o, "detail")};
        const std::string level = value_of(*o, "severity");
        if (!level.empty())
            kept.level = level == "error" ? inspect::severity::error
                         : level == "warning" ? inspect::severity::warning
                                              : inspect::severity::note;
        out.push_back(std::move(kept));
    }
    return out;
}

// What the index keeps of a row, to attach IIS lines and events to it.
struct indexed {
    std::int64_t id = 0;
    evidence::time_point time{};
    std::string method, operation;
    bool failed = false;
    bool has_iis = false;
};

evidence::time_point parse_row_time(const std::string& t) {
    return evidence::parse_text_time(t).value_or(evidence::time_point{});
}

class reader final : public evidence::sink {
public:
    reader(transaction_store& rows, inspect::lab_view lab, evidence_summary& summary)
        : rows_(rows), summary_(summary) {
        // Rows already there (a lab's own) are not this evidence's.
        transaction_query newest;
        newest.limit = 1;
        if (auto page = rows.search(newest); page && !page->items.empty()) last_indexed_ = page->items.front().id;
        summary_.first_id = last_indexed_ + 1;
        inspector_config cfg;
        cfg.retention = std::numeric_limits<std::size_t>::max() / 2;
        cfg.max_der_bytes = 1u << 20;
        cfg.min_rsa_bits = lab.min_rsa_bits;
        cfg.min_ec_bits = lab.min_ec_bits;
        lab.capabilities.clear();
        lab.capabilities_known = false;
        inspector_ = std::make_unique<inspector>(rows, std::move(lab), cfg);
    }

    void set_ra_key(evp_pkey_ptr key, x509_ptr cert) {
        ra_key_ = std::move(key);
        if (cert) adopt_ra(std::move(cert));
    }

    evidence_file* file = nullptr;

    void exchange(evidence::http_exchange&& h) override {
        ++file->http;
        const std::string& target = h.request.target;
        const auto qmark = target.find('?');
        const std::string path = target.substr(0, qmark);
        const std::string query = qmark == std::string::npos ? std::string() : target.substr(qmark + 1);
        auto params = split_query(query);
        if (!is_scep_target(path, params)) return;
        ++file->scep;
        scep_exchange x;
        x.client = inspect::printable(h.client, 64);
        x.method = h.request.method;
        x.path = path;
        x.user_agent = h.request.header("User-Agent");
        x.has_user_agent = h.request.has_header("User-Agent");
        x.http_version = h.request.version;
        x.content_type = h.request.header("Content-Type");
        x.query_length = query.size();
        x.at = h.request.time;
        x.evidence = json::object{{"source", place_json(h.at)},
                                  {"client", inspect::printable(h.client, 64) + ":" + std::to_string(h.client_port)},
                                  {"server", inspect::printable(h.server, 64) + ":" + std::to_string(h.server_port)}};
        if (h.tls) x.evidence["tls"] = true;
        if (!h.request.complete) x.evidence["request_incomplete"] = true;
        if (h.request.body_size > h.request.body.size())
            x.evidence["request_body_cut"] = std::to_string(h.request.body_size) + " bytes sent, " +
                                             std::to_string(h.request.body.size()) + " read";
        fill_request(x, params, h.request.body);
        if (h.response) {
            const auto& r = *h.response;
            x.http_status = r.status;
            x.reply_content_type = r.header("Content-Type");
            x.reply_body = r.body;
            x.duration = std::chrono::duration_cast<std::chrono::microseconds>(r.time - h.request.time);
            if (x.duration.count() < 0) x.duration = {};
            if (!r.complete) x.evidence["response_incomplete"] = true;
            if (const auto server = r.header("Server"); !server.empty())
                x.evidence["server_header"] = inspect::printable(server, 128);
        } else {
            x.evidence["response"] = "none in the evidence";
            x.reason = "no answer in the evidence";
        }
        read_outcome(x);
        learn(x);
        record(std::move(x));
    }

    void tls(evidence::tls_session&& t) override {
        ++file->tls;
        ++summary_.tls_total;
        if (summary_.tls.size() < 1000) summary_.tls.push_back(std::move(t));
    }

    void iis(evidence::iis_entry&& e) override {
        ++file->iis_lines;
        auto params = split_query(e.uri_query);
        if (!is_scep_target(e.uri_stem, params)) return;
        ++file->iis_scep;
        std::string operation;
        for (const auto& [k, v] : params)
            if (k == "operation") operation = canonical_operation(percent_decode(v).value_or(v));
        const std::string client = inspect::printable(e.client, 64);
        if (auto* row = match_iis(client, e, operation)) {
            row->has_iis = true;
            ++file->iis_matched;
            attach(row->id, "iis", iis_json(e));
            return;
        }
        // A request the other evidence does not show: a row of its own, from the line.
        scep_exchange x;
        x.client = client;
        x.method = e.method;
        x.path = e.uri_stem;
        x.user_agent = e.user_agent;
        x.has_user_agent = !e.user_agent.empty();
        x.query_length = e.uri_query.size();
        x.at = e.time - std::chrono::milliseconds(std::max(0, e.time_taken_ms));  // IIS logs the end
        x.http_status = e.status;
        x.duration = std::chrono::milliseconds(std::max(0, e.time_taken_ms));
        x.request_unseen = e.method != "GET";
        x.evidence = json::object{{"source", place_json(e.at)}, {"iis", iis_json(e)}};
        if (!e.server.empty())
            x.evidence["server"] = inspect::printable(e.server, 64) + ":" + std::to_string(e.server_port);
        if (x.request_unseen) x.evidence["request"] = "the body of a POST is not in an IIS log";
        x.evidence["response"] = "an IIS log has the status only";
        x.reason = iis_status_meaning(e.status, e.substatus);
        fill_request(x, params, "");
        record(std::move(x));
    }

    void event(evidence::ndes_event&& e) override {
        // An Application log holds every program's events: only enrollment's are kept.
        if (!enrollment_source(e.source)) {
            ++file->events_other;
            return;
        }
        ++file->events;
        if (auto* row = match_event(e)) {
            ++file->events_matched;
            attach(row->id, "events", event_json(e));
            return;
        }
        ++summary_.unmatched_total;
        if (summary_.unmatched.size() < 1000) summary_.unmatched.push_back(std::move(e));
    }

    void note(const evidence::place& at, std::string text) override {
        ++summary_.notes_total;
        if (summary_.notes.size() < 200) summary_.notes.push_back(at.text() + ": " + text);
    }

    // Waits for the rows, then indexes the ones not indexed yet.
    void sync() {
        inspector_->flush();
        transaction_query q;
        q.min_id = last_indexed_ + 1;
        q.limit = 1000;
        for (;;) {
            auto page = rows_.search(q);
            if (!page || page->items.empty()) break;
            for (const auto& t : page->items) {
                // What NDES itself refused (a FAILURE, or its HTTP 500): a 4xx was
                // refused before NDES saw it (IIS, HTTP.sys) and has no NDES event.
                indexed i{t.id, parse_row_time(t.time), t.method, t.operation,
                          t.pki_status == "FAILURE" || t.http_status >= 500};
                auto& list = index_[t.client];
                if (list.empty()) summary_.clients.push_back(t.client);
                ++summary_.rows_added;
                list.push_back(std::move(i));
                last_indexed_ = std::max(last_indexed_, t.id);
            }
            if (page->items.size() < q.limit) break;
            q.offset += q.limit;
        }
        for (auto& [client, list] : index_)
            std::sort(list.begin(), list.end(), [](const indexed& a, const indexed& b) { return a.time < b.time; });
        // Clients in the order of their first exchange.
        std::stable_sort(summary_.clients.begin(), summary_.clients.end(), [&](const std::string& a, const std::string& b) {
            return index_[a].front().time < index_[b].front().time;
        });
    }

    void finish() {
        sync();
        if (latest_ != evidence::time_point{}) inspector_->settle_at(latest_);
    }

private:
    // The request as the router reads it (server/router.cpp, scep()).
    void fill_request(scep_exchange& x, const std::vector<std::pair<std::string, std::string>>& params,
                      const std::string& body) {
        std::optional<std::string> message;
        for (const auto& [k, v] : params) {
            if (k == "operation") x.operation = percent_decode(v).value_or(v);
            if (k == "message") message = v;
        }
        const std::string op = canonical_operation(x.operation);
        if (message && (op == "GetCACaps" || op == "GetCACert"))
            x.message = percent_decode(message->substr(0, 256)).value_or(message->substr(0, 256));
        if (op != "PKIOperation") return;
        if (x.method == "POST" && !x.request_unseen) {
            if (!body.empty() && static_cast<unsigned char>(body.front()) == 0x30) {
                x.request_der.assign(body.begin(), body.end());
            } else if (auto decoded = base64_decode(body); decoded && !body.empty()) {
                x.request_der = std::move(*decoded);
                x.post_base64 = true;
            }
        } else if (x.method == "GET" && message && !message->empty()) {
            x.get_unescaped = inspect::unescaped_base64(*message);
            for (std::string_view brk : {"%0A", "%0a", "%0D", "%0d", "\n"})
                x.get_line_breaks = x.get_line_breaks || message->find(brk) != std::string::npos;
            if (auto der = decode_get_message(*message)) x.request_der = std::move(*der);
        }
    }

    // What the answer says (a CertRep's status and failInfo).
    static void read_outcome(scep_exchange& x) {
        if (canonical_operation(x.operation) != "PKIOperation" || x.http_status != 200 || x.reply_body.empty()) return;
        auto reply = inspect::analyze_reply(x.reply_body, x.reply_content_type);
        x.scep.status = status_from(reply.pki_status);
        x.scep.failure = failure_from(reply.fail_info);
        x.scep.transaction_id = reply.transaction_id;
    }

    // What the server's answers teach: its capabilities, its RA certificate.
    void learn(const scep_exchange& x) {
        if (x.http_status != 200) return;
        const std::string op = canonical_operation(x.operation);
        if (op == "GetCACaps") {
            auto words = inspect::capability_words(x.reply_body);
            inspector_->amend_lab([&](inspect::lab_view& lab) {
                lab.capabilities = words;
                lab.capabilities_known = true;
            });
        } else if (op == "GetCACert" && ra_key_ && !ra_cert_) {
            byte_view der(reinterpret_cast<const std::uint8_t*>(x.reply_body.data()), x.reply_body.size());
            std::vector<x509_ptr> certs;
            if (auto one = x509_from_der(der)) certs.push_back(std::move(*one));
            else if (auto many = parse_degenerate(der)) certs = std::move(*many);
            ERR_clear_error();
            for (auto& c : certs)
                if (X509_check_private_key(c.get(), ra_key_.get()) == 1) {
                    adopt_ra(std::move(c));
                    summary_.ra_key_note = "the RA key matches the RA certificate of a GetCACert answer in the evidence";
                    break;
                }
            ERR_clear_error();
        }
    }

    void adopt_ra(x509_ptr cert) {
        ra_cert_ = std::move(cert);
        const X509* c = ra_cert_.get();
        const EVP_PKEY* k = ra_key_.get();
        inspector_->amend_lab([&](inspect::lab_view& lab) {
            lab.ra_encryption_cert = c;
            lab.ra_key = k;
            lab.published.emplace_back("RA (the key given)", c);
        });
    }

    void record(scep_exchange&& x) {
        if (x.at && *x.at > latest_) latest_ = *x.at;
        inspector_->record(std::move(x));
    }

    // The captured exchange an IIS line logs: same client and method and
    // operation; IIS writes the line when the answer is sent, so the request
    // began up to time-taken (and a clock's second) before.
    indexed* match_iis(const std::string& client, const evidence::iis_entry& e, const std::string& operation) {
        auto it = index_.find(client);
        if (it == index_.end()) return nullptr;
        indexed* best = nullptr;
        auto best_gap = std::chrono::microseconds::max();
        const auto before = std::chrono::milliseconds(std::max(0, e.time_taken_ms)) + std::chrono::seconds(2);
        for (auto& r : it->second) {
            if (r.has_iis || r.method != e.method || !ascii_iequals(r.operation, operation)) continue;
            const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(e.time - r.time);
            if (gap < -std::chrono::seconds(2) || gap > before) continue;
            const auto a = gap < gap.zero() ? -gap : gap;
            if (a < best_gap) {
                best_gap = a;
                best = &r;
            }
        }
        return best;
    }

    // The failed PKIOperation an NDES event explains: NDES writes its events
    // while answering a request it refuses (a FAILURE, or HTTP 500), within a
    // few seconds of it.
    indexed* match_event(const evidence::ndes_event& e) {
        indexed* best = nullptr;
        auto best_gap = std::chrono::microseconds::max();
        for (auto& [client, list] : index_)
            for (auto& r : list) {
                if (r.operation != "PKIOperation" || !r.failed) continue;
                const auto gap = std::chrono::duration_cast<std::chrono::microseconds>(e.time - r.time);
                const auto a = gap < gap.zero() ? -gap : gap;
                if (a <= std::chrono::seconds(5) && a < best_gap) {
                    best_gap = a;
                    best = &r;
                }
            }
        return best;
    }

    // Adds what an IIS line or event says to a row's evidence.
    void attach(std::int64_t id, const char* key, json::object what) {
        auto row = rows_.find(id);
        if (!row || !*row) return;
        json::error_code ec;
        auto detail = json::parse((*row)->detail, ec);
        if (ec || !detail.is_object()) return;
        auto& d = detail.as_object();
        if (!d.contains("evidence") || !d["evidence"].is_object()) d["evidence"] = json::object{};
        auto& ev = d["evidence"].as_object();
        std::string ids = (*row)->findings, severity = (*row)->severity;
        if (std::string_view(key) == "events") {
            // NDES event 29 says why the enrollment was refused, as the lab's
            // own inspector knows it from its decision: challenge.wrong.
            if (what.contains("id") && what.at("id").is_int64() && what.at("id").as_int64() == 29) {
                auto found = findings_of(d);
                inspect::raise(found, "challenge.wrong",
                               "NDES event 29 at " + value_of(what, "time") + ": the password could not be verified");
                inspect::order_by_severity(found);
                d["findings"] = inspect::to_json(found);
                ids.clear();
                for (const auto& f : found) ids += (ids.empty() ? "" : " ") + f.id;
                const auto w = inspect::worst(found);
                severity = w ? std::string(inspect::to_string(*w)) : "";
            }
            if (!ev.contains("events") || !ev["events"].is_array()) ev["events"] = json::array{};
            if (ev["events"].as_array().size() < 16) ev["events"].as_array().push_back(std::move(what));
        } else {
            ev[key] = std::move(what);
        }
        (void)rows_.update_findings(id, ids, severity, scep::json_text(detail));
    }

    transaction_store& rows_;
    evidence_summary& summary_;
    std::unique_ptr<inspector> inspector_;
    evp_pkey_ptr ra_key_;
    x509_ptr ra_cert_;
    std::unordered_map<std::string, std::vector<indexed>> index_;
    std::int64_t last_indexed_ = 0;
    evidence::time_point latest_{};
};

int order_of(evidence::file_kind k) {
    switch (k) {
        case evidence::file_kind::pcap:
        case evidence::file_kind::pcapng:
        case evidence::file_kind::har: return 0;
        case evidence::file_kind::iis_log: return 1;
        default: return 2;
    }
}

}  // namespace

result<evidence_summary> read_evidence(const std::vector<std::filesystem::path>& files, transaction_store& rows,
                                       inspect::lab_view lab, const std::string& ra_key_pem,
                                       const evidence::limits& lim) {
    evidence_summary summary;
    // Every file is looked at before any is read: a file that is not
    // evidence stops the command before it has done anything.
    struct pending {
        std::filesystem::path path;
        evidence::file_kind kind;
    };
    std::vector<pending> todo;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::error_code ec;
        if (std::filesystem::is_directory(f, ec)) return make_error(f.string() + ": a directory, not a file");
        if (!in) return make_error(f.string() + ": cannot be opened");
        char head[4096];
        in.read(head, sizeof head);
        const auto kind = evidence::detect(std::string_view(head, static_cast<std::size_t>(in.gcount())));
        if (kind == evidence::file_kind::unknown)
            return make_error(f.string() + ": not a capture (pcap, pcapng), HAR, IIS W3C log or event log export");
        todo.push_back({f, kind});
    }
    std::stable_sort(todo.begin(), todo.end(),
                     [](const pending& a, const pending& b) { return order_of(a.kind) < order_of(b.kind); });
    reader r(rows, std::move(lab), summary);
    if (!ra_key_pem.empty()) {
        auto key = private_key_from_pem(ra_key_pem);
        if (!key) return make_error("--ra-key: not a PEM private key (" + key.message() + ")");
        x509_ptr cert;
        if (auto certs = x509_list_from_pem(ra_key_pem); certs && !certs->empty()) {
            for (auto& c : *certs)
                if (X509_check_private_key(c.get(), key->get()) == 1) cert = std::move(c);
            if (!cert) return make_error("--ra-key: the certificate in the file is not the key's");
        }
        ERR_clear_error();
        summary.decrypting = true;
        summary.ra_key_note = cert ? "the RA key and its certificate were given"
                                   : "no certificate of the RA key was found in the evidence (no GetCACert answer "
                                     "holds it): nothing was opened";
        r.set_ra_key(std::move(*key), std::move(cert));
    }
    int stage = -1;
    for (const auto& p : todo) {
        // Later kinds attach to the rows of earlier ones: those rows must be indexed.
        if (order_of(p.kind) != stage) {
            if (stage >= 0) r.sync();
            stage = order_of(p.kind);
        }
        evidence_file f;
        f.name = p.path.string();
        f.kind = p.kind;
        summary.files.push_back(std::move(f));
        r.file = &summary.files.back();
        auto read = evidence::read_file(p.path, r, lim);
        if (!read) summary.files.back().error = read.message();
    }
    r.finish();
    return summary;
}

}  // namespace scep::server
