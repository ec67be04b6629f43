#include "server/inspector.hpp"

#include "pki/persona/match.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

#include "pki/crypto/encoding.hpp"
#include "server/metrics.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::server {

namespace json = boost::json;

namespace {

// RFC 8894 §3.5.1: a client asks GetCACaps before it builds a request; a
// PKIOperation without one in this window raises flow.no-getcacaps.
constexpr auto caps_window = std::chrono::minutes(10);
constexpr std::size_t max_clients_tracked = 10000;
// Retention is enforced every this many transactions, not on each one.
constexpr std::uint64_t prune_every = 64;
// Rows per commit, and how many may wait before record() waits for the writer
// (memory stays bounded when the disk is slower than the clients).
constexpr std::size_t batch_rows = 256;
constexpr std::size_t max_queued = 8192;

// Every recorded row is bounded as a whole, whatever the request holds
// (docs/inspector.md, docs/security.md): max_der_bytes bounds the DER, and
// the decoded detail is cut here — lists to their first max_list_items with
// a note of how many were left out, strings to max_string_bytes — and a
// detail still over max_detail_bytes keeps only the decision and findings.
constexpr std::size_t max_list_items = 64;
constexpr std::size_t max_string_bytes = 2048;
constexpr std::size_t max_detail_bytes = 64 * 1024;

void bound(json::value& v) {
    if (v.is_string()) {
        json::string& text = v.as_string();
        if (text.size() > max_string_bytes) {
            const std::size_t left = text.size() - max_string_bytes;
            text.resize(max_string_bytes);
            text.append("...[" + std::to_string(left) + " more bytes left out]");
        }
    } else if (v.is_array()) {
        json::array& list = v.as_array();
        if (list.size() > max_list_items) {
            const std::size_t left = list.size() - max_list_items;
            list.resize(max_list_items);
            list.emplace_back("[" + std::to_string(left) + " more entries left out]");
        }
        for (auto& e : list) bound(e);
    } else if (v.is_object()) {
        for (auto& [k, e] : v.as_object()) bound(e);
    }
}


}  // namespace

inspector::inspector(transaction_store& log, const scep_service& service, inspector_config cfg, metrics* stats,
                     std::function<void(const std::string&)> warn)
    : log_(log), cfg_(cfg), metrics_(stats), warn_(std::move(warn)) {
    refresh_lab(service);
    writer_ = std::thread([this] { write_loop(); });
}

inspector::inspector(transaction_store& log, inspect::lab_view lab, inspector_config cfg)
    : log_(log), cfg_(cfg), metrics_(nullptr), lab_(std::make_shared<inspect::lab_view>(std::move(lab))) {
    writer_ = std::thread([this] { write_loop(); });
}

void inspector::amend_lab(const std::function<void(inspect::lab_view&)>& change) {
    std::lock_guard lock(lab_mu_);
    auto lab = std::make_shared<inspect::lab_view>(*lab_);
    change(*lab);
    lab_ = std::move(lab);
}

namespace {
// Evidence times on the tracker's clock: only differences between them matter.
std::chrono::steady_clock::time_point tracker_time(std::chrono::system_clock::time_point t) {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
}
}  // namespace

void inspector::settle_at(std::chrono::system_clock::time_point end) { settle(tracker_time(end)); }

void inspector::refresh_lab(const scep_service& service) {
    auto lab = std::make_shared<inspect::lab_view>(describe_lab(service.pki(), service.capabilities()));
    lab->min_rsa_bits = cfg_.min_rsa_bits;
    lab->min_ec_bits = cfg_.min_ec_bits;
    lab->challenge_required = cfg_.challenge_required;
    std::lock_guard lock(lab_mu_);
    lab_ = std::move(lab);
}

std::shared_ptr<const inspect::lab_view> inspector::lab() const {
    std::lock_guard lock(lab_mu_);
    return lab_;
}

inspector::~inspector() {
    {
        std::lock_guard lock(queue_mu_);
        stop_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
}

void inspector::flush() {
    {
        std::unique_lock lock(queue_mu_);
        const auto target = queued_;
        written_cv_.wait(lock, [&] { return written_ >= target; });
    }
    settle(std::chrono::steady_clock::now());
}

void inspector::write_loop() {
    std::uint64_t since_prune = 0;
    auto settled = std::chrono::steady_clock::now();
    for (;;) {
        // Stories that stopped are settled about once a second, also when no
        // one reads the log (its metrics count them).
        if (std::chrono::steady_clock::now() - settled >= std::chrono::seconds(1)) {
            settle(std::chrono::steady_clock::now());
            settled = std::chrono::steady_clock::now();
        }
        std::vector<transaction_record> batch;
        {
            std::unique_lock lock(queue_mu_);
            queue_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty() && stop_) return;  // stopping, and everything is written
            if (queue_.empty()) continue;
            while (!queue_.empty() && batch.size() < batch_rows) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        auto added = log_.add_all(batch);
        std::string problem = added ? std::string() : added.message();
        since_prune += batch.size();
        if (added && since_prune >= prune_every) {
            since_prune = 0;
            if (auto pruned = log_.prune(cfg_.retention); !pruned) problem = pruned.message();
        }
        bool say = false;
        {
            std::lock_guard lock(queue_mu_);
            written_ += batch.size();
            // Said once until the log works again; the exchanges were answered anyway.
            say = !problem.empty() && !failing_;
            failing_ = !problem.empty();
        }
        written_cv_.notify_all();
        if (say && warn_) warn_("transaction log: " + problem);
    }
}

inspect::lab_view describe_lab(const hierarchy& pki, std::vector<std::string> capabilities) {
    inspect::lab_view lab;
    lab.capabilities = std::move(capabilities);
    lab.ra_encryption_cert = &pki.ra_encryption_cert();
    lab.published.emplace_back("RA signing certificate", &pki.ra_cert());
    for (const X509* ra : pki.ra_certs()) lab.ras.push_back(ra);
    for (const ca_entry* ca : pki.all_cas()) {
        lab.published.emplace_back(ca->name + " CA", ca->cert.get());
        lab.cas.push_back(ca->cert.get());
    }
    return lab;
}

namespace {

// The row's plain fields. What the client chose is cut and stripped of
// control characters here, once: rows reach pages, JSON and terminals.
transaction_record base_record(const scep_exchange& x) {
    transaction_record t;
    t.time = x.at ? iso8601_millis(*x.at) : now_iso8601_millis();
    t.client = x.client;
    t.method = inspect::printable(x.method, 32);
    t.path = inspect::printable(x.path);
    t.query_length = static_cast<std::int64_t>(x.query_length);
    t.user_agent = inspect::printable(x.user_agent);
    t.http_status = x.http_status;
    t.duration_us = x.duration.count();
    t.message_type = inspect::printable(x.scep.type_name(), 64);
    t.transaction_id = inspect::printable(x.scep.transaction_id);
    t.pki_status = x.scep.status_name();
    t.fail_info = x.scep.failure_name();
    t.reason = inspect::printable(x.reason, 1024);
    t.serial = x.scep.serial;
    return t;
}

}  // namespace

inspector::client_context inspector::track(const scep_exchange& x, const std::string& operation,
                                            const std::string& time, std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu_);
    if (clients_.size() >= max_clients_tracked && !clients_.contains(x.client)) clients_.clear();
    client_state& c = clients_[x.client];
    client_context ctx;
    if (operation == "GetCACaps") {
        c.caps_at = now;
        c.asked_caps = true;
        // An HTTP error told the client nothing: an empty list.
        c.caps_sent = x.http_status == 200 ? inspect::capability_words(x.reply_body) : std::vector<std::string>{};
        ctx.asked_caps = true;
    } else {
        ctx.asked_caps = c.asked_caps && now - c.caps_at <= caps_window;
        if (ctx.asked_caps) ctx.caps_sent = c.caps_sent;
    }
    c.last_at = now;
    if (operation == "GetCACaps" || operation == "GetCACert") {
        if (c.session_enrolled) {
            c.session_first.clear();
            c.session_enrolled = false;
        }
        if (c.session_first.empty()) c.session_first = operation;
    } else if (operation == "PKIOperation") {
        ctx.first_operation = c.session_first;
        c.session_enrolled = true;
    }
    if (operation == "GetCACaps" || operation == "GetCACert") {
        c.stop_operation = operation;
        c.stop_time = time;
    } else {
        c.stop_operation.clear();
    }
    return ctx;
}

void inspector::settle(std::chrono::steady_clock::time_point now) {
    std::lock_guard settling(settle_mu_);
    struct due {
        std::string client, operation, time;
    };
    std::vector<due> stopped;
    {
        std::lock_guard lock(mu_);
        for (auto& [client, c] : clients_) {
            if (c.stop_operation.empty() || now - c.last_at < cfg_.stopped_after) continue;
            stopped.push_back({client, c.stop_operation, c.stop_time});
            c.stop_operation.clear();
        }
    }
    for (const auto& d : stopped) {
        transaction_query q;
        q.client = d.client;
        q.limit = 1;
        auto page = log_.search(q);
        // The client's newest row must still be that exchange (nothing came after it).
        if (!page || page->items.empty() || page->items.front().operation != d.operation ||
            page->items.front().time != d.time)
            continue;
        auto row = log_.find(page->items.front().id);
        if (!row || !*row) continue;
        json::error_code ec;
        auto detail = json::parse((*row)->detail, ec);
        if (ec || !detail.is_object()) continue;
        std::vector<inspect::finding> found;
        if (const auto* list = detail.as_object().if_contains("findings"); list && list->is_array())
            for (const auto& f : list->as_array()) {
                const auto* o = f.if_object();
                if (!o || !o->contains("id") || !o->at("id").is_string()) continue;
                inspect::finding kept{std::string(o->at("id").as_string()), {}};
                if (const auto* text = o->if_contains("detail"); text && text->is_string())
                    kept.detail = std::string(text->as_string());
                if (const auto* level = o->if_contains("severity"); level && level->is_string()) {
                    const std::string_view l = level->as_string();
                    kept.level = l == "error" ? inspect::severity::error
                                 : l == "warning" ? inspect::severity::warning
                                                  : inspect::severity::note;
                }
                found.push_back(std::move(kept));
            }
        // What may have stopped it: the answer it got, as the row kept it
        // (worked out only now, for the few clients that stop there).
        const auto& t = **row;
        const json::object& d_obj = detail.as_object();
        const std::string content_type = d_obj.contains("reply_content_type") && d_obj.at("reply_content_type").is_string()
                                             ? std::string(d_obj.at("reply_content_type").as_string())
                                             : std::string();
        const std::string_view body(reinterpret_cast<const char*>(t.reply_der.data()), t.reply_der.size());
        const bool unkept = t.reply_der.empty() && d_obj.contains("reply_size") &&
                            d_obj.at("reply_size").is_number() && d_obj.at("reply_size").to_number<double>() > 0;
        const std::string causes =
            unkept ? "the answer was not kept (larger than inspector.max_der_bytes): what it carried is unknown"
            : d.operation == "GetCACaps" ? inspect::getcacaps_stop_causes(t.http_status, body, content_type)
                                         : inspect::getcacert_stop_causes(t.http_status, body, content_type);
        const std::string id = d.operation == "GetCACaps" ? "flow.stopped-after-getcacaps" : "flow.stopped-after-getcacert";
        inspect::raise(found, id, causes);
        inspect::order_by_severity(found);
        detail.as_object()["findings"] = inspect::to_json(found);
        std::string ids;
        for (const auto& f : found) ids += (ids.empty() ? "" : " ") + f.id;
        const auto w = inspect::worst(found);
        auto updated = log_.update_findings((*row)->id, ids, w ? std::string(inspect::to_string(*w)) : "",
                                            scep::json_text(detail));
        if (updated && *updated && metrics_) metrics_->finding(id);
    }
}

// What the decoded request (inspect::to_json of a request_report) says of
// its client, for the persona comparison.
void fill_observed(persona::observed& seen, const json::value& request) {
    if (!request.is_object()) return;
    const auto& r = request.as_object();
    auto text = [&](const json::object& o, const char* key) {
        auto it = o.find(key);
        return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
    };
    seen.digest = text(r, "digest");
    seen.cipher = text(r, "content_cipher");
    seen.key_transport = text(r, "key_transport");
    seen.transaction_id = text(r, "transaction_id");
    if (auto it = r.find("sender_nonce_length"); it != r.end() && it->value().is_uint64())
        seen.nonce_length = static_cast<std::size_t>(it->value().as_uint64());
    else if (it != r.end() && it->value().is_int64() && it->value().as_int64() > 0)
        seen.nonce_length = static_cast<std::size_t>(it->value().as_int64());
    if (auto it = r.find("signer"); it != r.end() && it->value().is_object())
        seen.signer_subject = text(it->value().as_object(), "subject");
    if (auto it = r.find("csr"); it != r.end() && it->value().is_object()) {
        const auto& csr = it->value().as_object();
        seen.csr_subject = text(csr, "subject");
        seen.challenge_type = text(csr, "challenge");
        seen.key = text(csr, "key");
    }
}

void inspector::record(scep_exchange&& x) {
    transaction_record t = base_record(x);
    inspect::http_view http{x.method, x.operation, x.query_length, x.content_type, x.post_base64, x.get_unescaped};
    std::string canonical = inspect::printable(x.operation, 64);
    for (std::string_view op : scep_operations)
        if (ascii_iequals(x.operation, op)) canonical = op;
    t.operation = canonical;
    const client_context told =
        track(x, canonical, t.time, x.at ? tracker_time(*x.at) : std::chrono::steady_clock::now());
    // Requests are judged by the capabilities this client was sent (an empty
    // or faulted GetCACaps included), the configuration's when it asked none.
    auto lab_now = lab();
    if (told.caps_sent && *told.caps_sent != lab_now->capabilities) {
        auto as_told = std::make_shared<inspect::lab_view>(*lab_now);
        as_told->capabilities = *told.caps_sent;
        as_told->capabilities_known = true;
        lab_now = std::move(as_told);
    }
    std::vector<inspect::finding> found = inspect::http_findings(http, lab_now->capabilities);

    json::object detail;
    if (!x.evidence.empty()) detail["evidence"] = x.evidence;
    detail["http"] = {{"method", t.method},
                      {"path", t.path},
                      {"query_length", x.query_length},
                      {"content_type", inspect::printable(x.content_type, 128)},
                      {"user_agent", t.user_agent}};
    if (canonical == "PKIOperation") {
        if (!told.asked_caps)
            inspect::raise(found, "flow.no-getcacaps",
                           x.at ? "none in the evidence (it may have been asked before the capture began)" : "");
        if (!x.request_der.empty()) {
            const bytes* opened = x.inspection.opened ? &x.inspection.message_data : nullptr;
            const inspect::decoded_request decoded{x.inspection.p7.get(), x.inspection.csr.get(),
                                                   x.inspection.csr_verified, x.inspection.signer_self_signed};
            auto report = inspect::analyze_request(x.request_der, *lab_now, opened, &decoded);
            for (auto& f : report.findings) inspect::raise(found, f.id, std::move(f.detail));
            detail["request"] = inspect::to_json(report);
            if (t.transaction_id.empty()) t.transaction_id = report.transaction_id;
            if (t.message_type.empty()) t.message_type = report.message_type_name;
        }
        if (x.request_der.empty() && x.http_status == 400 && !x.request_unseen)
            inspect::raise(found, "http.not-pkimessage", t.reason);
        for (const auto& id : x.inspection.findings) inspect::raise(found, id);
        detail["challenge"] = x.inspection.challenge.empty() ? "not checked" : x.inspection.challenge;
    }
    // Which device this looks like (pki/persona/match.hpp).
    {
        persona::observed seen;
        seen.operation = canonical;
        seen.method = t.method;
        seen.path = x.path;
        seen.user_agent = x.user_agent;
        seen.has_user_agent = x.has_user_agent;
        seen.http_version = x.http_version;
        seen.message = x.message;
        seen.first_operation = told.first_operation;
        seen.capabilities = lab_now->capabilities;
        seen.get_line_breaks = x.get_line_breaks;
        seen.ber_indefinite = x.request_der.size() > 1 && x.request_der[0] == 0x30 && x.request_der[1] == 0x80;
        if (detail.contains("request")) fill_observed(seen, detail["request"]);
        if (auto m = persona::identify(seen)) {
            json::array differs;
            for (const auto& d : m->differs)
                differs.push_back(json::object{{"rule", d.rule}, {"expected", d.expected}, {"observed", d.observed}});
            detail["device"] = json::object{{"persona", m->p->name},
                                            {"title", m->p->title},
                                            {"consistent", m->consistent()},
                                            {"matched", m->matched},
                                            {"compared", m->compared},
                                            {"differs", std::move(differs)},
                                            {"text", m->text()}};
            if (m->consistent()) t.device = m->p->name;
        }
    }
    // The reply is the server's own: decoded when someone looks (transaction_json).
    detail["reply_content_type"] = inspect::printable(x.reply_content_type, 128);
    detail["reply_size"] = x.reply_body.size();
    json::object decision{{"http_status", x.http_status}};
    if (x.scep.status) decision["pki_status"] = x.scep.status_name();
    if (x.scep.failure) decision["fail_info"] = x.scep.failure_name();
    if (!t.reason.empty()) decision["reason"] = t.reason;
    if (!x.scep.serial.empty()) decision["serial"] = x.scep.serial;
    if (x.scep.status == pki_status::pending) decision["pending_id"] = t.transaction_id;
    if (!x.scep.faults.empty()) decision["fault_injected"] = x.scep.faults_text();
    detail["decision"] = std::move(decision);
    // What the server did decides the severity: a single-DES envelope it
    // opened (scep.allow_single_des) was accepted on purpose, whatever else
    // then refused the request: a warning here, where a strict server
    // answers badAlg (and then it stays an error).
    if (x.inspection.opened && x.scep.failure != fail_info::bad_alg)
        for (auto& f : found)
            if (f.id == "envelope.single-des") {
                f.level = inspect::severity::warning;
                f.detail += std::string(f.detail.empty() ? "" : "; ") +
                            "accepted here (scep.allow_single_des = true); servers that follow RFC 8894 answer badAlg";
            }
    inspect::order_by_severity(found);
    detail["findings"] = inspect::to_json(found);

    for (const auto& f : found) t.findings += (t.findings.empty() ? "" : " ") + f.id;
    if (auto w = inspect::worst(found)) t.severity = std::string(inspect::to_string(*w));
    json::value bounded(std::move(detail));
    bound(bounded);
    t.detail = scep::json_text(bounded);
    if (t.detail.size() > max_detail_bytes) {
        json::object& d = bounded.as_object();
        const std::size_t full = t.detail.size();
        for (const char* heavy : {"request", "http"})
            if (d.contains(heavy))
                d[heavy] = "left out: the decoded detail was " + std::to_string(full) + " bytes (at most " +
                           std::to_string(max_detail_bytes) + " are kept a row)";
        t.detail = scep::json_text(bounded);
    }
    if (x.request_der.size() <= cfg_.max_der_bytes) t.request_der = std::move(x.request_der);
    if (x.reply_body.size() <= cfg_.max_der_bytes) t.reply_der.assign(x.reply_body.begin(), x.reply_body.end());

    if (metrics_)
        for (const auto& f : found) metrics_->finding(f.id);
    {
        std::unique_lock lock(queue_mu_);
        written_cv_.wait(lock, [&] { return queue_.size() < max_queued || stop_; });
        queue_.push_back(std::move(t));
        ++queued_;
    }
    queue_cv_.notify_one();
}

json::object transaction_summary_json(const transaction_record& t) {
    json::array ids;
    std::string_view rest = t.findings;
    while (!rest.empty()) {
        auto sp = rest.find(' ');
        if (sp != 0) ids.emplace_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    return json::object{{"id", t.id},
                        {"time", t.time},
                        {"client", t.client},
                        {"method", t.method},
                        {"path", t.path},
                        {"query_length", t.query_length},
                        {"user_agent", t.user_agent},
                        {"http_status", t.http_status},
                        {"duration_ms", static_cast<double>(t.duration_us) / 1000.0},
                        {"operation", t.operation},
                        {"message_type", t.message_type},
                        {"transaction_id", t.transaction_id},
                        {"pki_status", t.pki_status},
                        {"fail_info", t.fail_info},
                        {"reason", t.reason},
                        {"serial", t.serial},
                        {"severity", t.severity},
                        {"findings", std::move(ids)},
                        {"device", t.device}};
}

json::object transaction_json(transaction_store& log, const transaction_record& t) {
    json::object o = transaction_summary_json(t);
    json::error_code ec;
    auto detail = json::parse(t.detail, ec);
    if (ec || !detail.is_object()) detail = json::object{{"error", "unreadable detail"}};
    auto& d = detail.as_object();
    if (!d.contains("reply")) {
        std::string content_type = d.contains("reply_content_type") && d["reply_content_type"].is_string()
                                       ? std::string(d["reply_content_type"].as_string())
                                       : std::string();
        if (!t.reply_der.empty()) {
            d["reply"] = inspect::to_json(inspect::analyze_reply(
                std::string_view(reinterpret_cast<const char*>(t.reply_der.data()), t.reply_der.size()), content_type));
        } else {
            d["reply"] = json::object{{"content_type", content_type},
                                      {"size", d.contains("reply_size") ? d["reply_size"] : json::value(0)},
                                      {"kept", false}};
        }
    }
    o["detail"] = std::move(detail);
    o["request_der_kept"] = !t.request_der.empty();
    o["reply_der_kept"] = !t.reply_der.empty();
    // The story: this client's exchanges near this one, split where a new
    // enrollment starts (a non-PKIOperation after a PKIOperation, or another
    // transactionID).
    transaction_query q;
    q.client = t.client;
    q.min_id = std::max<std::int64_t>(1, t.id - 50);
    q.max_id = t.id + 50;
    q.limit = 101;
    json::array story;
    if (auto page = log.search(q)) {
        std::vector<transaction_record> rows(page->items.rbegin(), page->items.rend());  // oldest first
        std::vector<const transaction_record*> session;
        std::string session_txid;
        bool seen_pki = false, done = false;
        for (const auto& r : rows) {
            const bool pki = r.operation == "PKIOperation";
            const bool starts = (!pki && seen_pki) ||
                                (pki && !session_txid.empty() && !r.transaction_id.empty() && r.transaction_id != session_txid);
            if (starts) {
                if (std::any_of(session.begin(), session.end(), [&](auto* s) { return s->id == t.id; })) {
                    done = true;
                    break;
                }
                session.clear();
                session_txid.clear();
                seen_pki = false;
            }
            session.push_back(&r);
            if (pki) {
                seen_pki = true;
                if (session_txid.empty()) session_txid = r.transaction_id;
            }
        }
        (void)done;
        for (const auto* r : session)
            story.push_back(json::object{{"id", r->id},
                                         {"time", r->time},
                                         {"operation", r->operation},
                                         {"message_type", r->message_type},
                                         {"http_status", r->http_status},
                                         {"pki_status", r->pki_status},
                                         {"fail_info", r->fail_info},
                                         {"severity", r->severity}});
    }
    o["story"] = std::move(story);
    return o;
}

result<transaction_query> transaction_query_from(const std::vector<std::pair<std::string, std::string>>& params) {
    transaction_query q;
    for (const auto& [k, v] : params) {
        if (v.size() > 256) return make_error(k + " is longer than 256 characters");
        if (k == "client") q.client = v;
        else if (k == "status") q.status = v;
        else if (k == "finding") {
            if (!v.empty() && !inspect::find_finding(v)) return make_error("finding \"" + v + "\" is not in the catalogue");
            q.finding = v;
        } else if (k == "severity") {
            if (!v.empty() && v != "error" && v != "warning" && v != "note")
                return make_error("severity is error, warning or note");
            q.severity = v;
        } else if (k == "transaction_id") q.transaction_id = v;
        else if (k == "operation") q.operation = v;
        else if (k == "device") {
            if (!v.empty() && !persona::find(v)) return make_error("device \"" + v + "\" is not a persona (" + persona::names() + ")");
            q.device = v;
        }
        else if (k == "after") {
            // Rows newer than this id (a conformance case's rows: those after the last one before it).
            std::int64_t n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n == std::numeric_limits<std::int64_t>::max())
                return make_error("after is a transaction id (a number from 0)");
            q.min_id = n + 1;
        } else if (k == "limit" || k == "offset") {
            std::size_t n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size() || (k == "limit" && (n == 0 || n > 1000)) ||
                (k == "offset" && n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())))
                return make_error(k == "limit" ? "limit is a number from 1 to 1000" : "offset is a number below 2^63");
            (k == "limit" ? q.limit : q.offset) = n;
        } else {
            return make_error("unknown parameter \"" + k +
                              "\" (client, status, finding, severity, transaction_id, operation, after, limit, offset)");
        }
    }
    return q;
}

}  // namespace scep::server
