// The evidence timeline written out (docs/evidence.md): text for the
// terminal, JSON, and the self-contained HTML report, each read from the rows
// client by client as it is written.
#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "server/evidence.hpp"
#include "server/inspector.hpp"
#include "server/transaction_pages.hpp"

namespace scep::server {

namespace json = boost::json;

namespace {

std::vector<transaction_record> client_rows(transaction_store& rows, const std::string& client, std::int64_t first_id) {
    std::vector<transaction_record> out;
    transaction_query q;
    q.client = client;
    q.min_id = first_id;
    q.limit = 1000;
    for (;;) {
        auto page = rows.search(q);
        if (!page || page->items.empty()) break;
        for (auto& t : page->items) out.push_back(std::move(t));
        if (out.size() >= 100000 || page->items.size() < q.limit) break;
        q.offset += q.limit;
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.time == b.time ? a.id < b.id : a.time < b.time;
    });
    return out;
}

// The device a client's rows are most often consistent with.
std::string client_device(const std::vector<transaction_record>& rows) {
    std::map<std::string, int> n;
    for (const auto& t : rows)
        if (!t.device.empty()) ++n[t.device];
    std::string best;
    int most = 0;
    for (const auto& [d, c] : n)
        if (c > most) {
            best = d;
            most = c;
        }
    return best;
}

json::object file_json(const evidence_file& f) {
    json::object o{{"file", f.name}, {"kind", std::string(evidence::to_string(f.kind))}};
    if (f.kind == evidence::file_kind::iis_log) {
        o["lines"] = f.iis_lines;
        o["scep_lines"] = f.iis_scep;
        o["matched"] = f.iis_matched;
    } else if ((f.kind == evidence::file_kind::ndes_events || f.kind == evidence::file_kind::evtx)) {
        o["events"] = f.events;
        o["matched"] = f.events_matched;
        o["other_sources"] = f.events_other;
    } else {
        o["http_exchanges"] = f.http;
        o["scep_exchanges"] = f.scep;
        o["tls_sessions"] = f.tls;
    }
    if (!f.error.empty()) o["error"] = f.error;
    return o;
}

json::object tls_json(const evidence::tls_session& t) {
    json::object o{{"client", t.client + ":" + std::to_string(t.client_port)},
                   {"server", t.server + ":" + std::to_string(t.server_port)},
                   {"start", evidence::iso8601(t.start)},
                   {"end", evidence::iso8601(t.end)},
                   {"bytes", t.bytes},
                   {"content", t.content},
                   {"at", t.at.text()}};
    if (!t.sni.empty()) o["sni"] = t.sni;
    return o;
}

}  // namespace

void write_evidence_json(std::ostream& out, transaction_store& rows, const evidence_summary& s) {
    // Written as it is built: the exchanges of a large capture never sit in memory together.
    json::array files, tls, events, notes;
    for (const auto& f : s.files) files.push_back(file_json(f));
    for (const auto& t : s.tls) tls.push_back(tls_json(t));
    for (const auto& e : s.unmatched) events.push_back(event_json(e));
    for (const auto& n : s.notes) notes.emplace_back(n);
    out << "{\"files\":" << scep::json_text(files) << ",\"clients\":[";
    bool first_client = true;
    for (const auto& c : s.clients) {
        auto list = client_rows(rows, c, s.first_id);
        out << (first_client ? "" : ",") << "{\"client\":" << scep::json_text(json::value(c));
        first_client = false;
        if (auto d = client_device(list); !d.empty()) out << ",\"device\":" << scep::json_text(json::value(d));
        out << ",\"exchanges\":[";
        bool first = true;
        for (const auto& summary_row : list) {
            auto full = rows.find(summary_row.id);
            if (!full || !*full) continue;
            auto o = transaction_json(rows, **full);
            o.erase("story");  // the timeline is the story
            out << (first ? "" : ",") << scep::json_text(o);
            first = false;
        }
        out << "]}";
    }
    json::object tail{{"tls_sessions", std::move(tls)},
                      {"tls_sessions_total", s.tls_total},
                      {"unmatched_events", std::move(events)},
                      {"unmatched_events_total", s.unmatched_total},
                      {"notes", std::move(notes)},
                      {"notes_total", s.notes_total}};
    if (s.decrypting) tail["ra_key"] = s.ra_key_note;
    const std::string rest = scep::json_text(tail);  // "{...}": its members follow the clients
    out << "]," << rest.substr(1) << "\n";
}

void write_evidence_text(std::ostream& out, transaction_store& rows, const evidence_summary& s) {
    out << "Evidence\n";
    for (const auto& f : s.files) {
        out << "  " << f.name << ": " << evidence::to_string(f.kind);
        if (f.kind == evidence::file_kind::iis_log)
            out << ", " << f.iis_lines << " lines, " << f.iis_scep << " SCEP, " << f.iis_matched
                << " matched to a captured exchange";
        else if ((f.kind == evidence::file_kind::ndes_events || f.kind == evidence::file_kind::evtx))
            out << ", " << f.events << (f.events == 1 ? " event, " : " events, ") << f.events_matched << " attached to an exchange"
                << (f.events_other ? ", " + std::to_string(f.events_other) + " of other sources left out" : "");
        else
            out << ", " << f.http << " HTTP exchanges, " << f.scep << " SCEP, " << f.tls << " TLS sessions";
        out << "\n";
        if (!f.error.empty()) out << "    reading stopped: " << f.error << "\n";
    }
    if (s.decrypting) out << "  RA key: " << s.ra_key_note << "\n";
    if (s.clients.empty()) out << "\nNo SCEP exchange in the evidence.\n";
    for (const auto& c : s.clients) {
        auto list = client_rows(rows, c, s.first_id);
        out << "\nClient " << c;
        if (auto d = client_device(list); !d.empty()) out << " (consistent with device persona " << d << ")";
        out << "\n";
        for (const auto& summary_row : list) {
            auto found = rows.find(summary_row.id);
            if (!found || !*found) continue;
            const transaction_record& t = **found;
            auto full = transaction_json(rows, t);
            const auto& detail = full["detail"].as_object();
            out << "  " << t.time << "  " << t.method << " " << t.operation;
            if (!t.message_type.empty()) out << " " << t.message_type;
            out << "  HTTP " << t.http_status;
            if (const auto* ev = detail.if_contains("evidence"); ev && ev->is_object())
                if (const auto* iis = ev->as_object().if_contains("iis"); iis && iis->is_object())
                    out << " (IIS " << json::value_to<std::string>(iis->as_object().at("status_text")) << ")";
            if (!t.pki_status.empty()) out << "  " << t.pki_status << (t.fail_info.empty() ? "" : " " + t.fail_info);
            if (!t.transaction_id.empty()) out << "  transactionID " << inspect::printable(t.transaction_id, 40);
            out << "\n";
            if (const auto* ev = detail.if_contains("evidence"); ev && ev->is_object()) {
                const auto& e = ev->as_object();
                if (const auto* src = e.if_contains("source"); src && src->is_object())
                    out << "      from " << json::value_to<std::string>(src->as_object().at("file")) << ", "
                        << json::value_to<std::string>(src->as_object().at("where")) << "\n";
                if (const auto* iis = e.if_contains("iis"); iis && iis->is_object()) {
                    const auto& i = iis->as_object();
                    out << "      IIS " << json::value_to<std::string>(i.at("status_text"));
                    if (i.contains("win32_status")) out << " win32 " << scep::json_text(i.at("win32_status"));
                    if (i.contains("meaning")) out << ": " << json::value_to<std::string>(i.at("meaning"));
                    out << " (" << json::value_to<std::string>(i.at("line")) << ")\n";
                }
                if (const auto* list_ev = e.if_contains("events"); list_ev && list_ev->is_array())
                    for (const auto& x : list_ev->as_array())
                        out << "      NDES event " << scep::json_text(x.as_object().at("id")) << " ("
                            << json::value_to<std::string>(x.as_object().at("level")) << "): "
                            << json::value_to<std::string>(x.as_object().at("text")) << "\n";
                for (const char* k : {"response", "request"})
                    if (const auto* v = e.if_contains(k); v && v->is_string())
                        out << "      " << k << ": " << std::string(v->as_string()) << "\n";
            }
            if (const auto* req = detail.if_contains("request"); req && req->is_object()) {
                const auto& r = req->as_object();
                auto field = [&](const char* k) {
                    const auto* v = r.if_contains(k);
                    return v && v->is_string() ? std::string(v->as_string()) : std::string();
                };
                std::string facts;
                for (const char* k : {"digest", "content_cipher", "key_transport", "encrypted_to"})
                    if (!field(k).empty()) facts += (facts.empty() ? "" : ", ") + std::string(k) + " " + field(k);
                if (!facts.empty()) out << "      " << facts << "\n";
                if (const auto* csr = r.if_contains("csr"); csr && csr->is_object()) {
                    const auto& c = csr->as_object();
                    if (const auto* subj = c.if_contains("subject"); subj && subj->is_string())
                        out << "      CSR " << std::string(subj->as_string());
                    if (const auto* key = c.if_contains("key"); key && key->is_string())
                        out << ", " << std::string(key->as_string());
                    out << "\n";
                } else if (r.contains("opened") && r.at("opened").is_bool() && !r.at("opened").as_bool() &&
                           field("encrypted_to") != "") {
                    out << "      the envelope was not opened (no RA key for it: give the customer's with --ra-key)\n";
                }
            }
            if (const auto* found = detail.if_contains("findings"); found && found->is_array())
                for (const auto& f : found->as_array()) {
                    const auto& o = f.as_object();
                    out << "      [" << json::value_to<std::string>(o.at("severity")) << "] "
                        << json::value_to<std::string>(o.at("id"));
                    if (const auto* d = o.if_contains("detail"); d && d->is_string() && !d->as_string().empty())
                        out << ": " << std::string(d->as_string());
                    out << "\n";
                }
        }
    }
    if (s.tls_total > 0) {
        out << "\nTLS sessions (" << s.tls_total << ")\n";
        for (const auto& t : s.tls)
            out << "  " << evidence::iso8601(t.start) << "  " << t.client << ":" << t.client_port << " -> " << t.server
                << ":" << t.server_port << (t.sni.empty() ? "" : " (" + t.sni + ")") << ", " << t.bytes << " bytes, "
                << t.content << "\n";
    }
    if (s.unmatched_total > 0) {
        out << "\nEvents no exchange explains (" << s.unmatched_total << ")\n";
        for (const auto& e : s.unmatched)
            out << "  " << evidence::iso8601(e.time) << "  event " << e.id << " (" << inspect::printable(e.level, 32)
                << "): " << inspect::printable(e.text, 512) << "\n";
    }
    if (s.notes_total > 0) {
        out << "\nNotes (" << s.notes_total << ")\n";
        for (const auto& n : s.notes) out << "  " << inspect::printable(n, 512) << "\n";
    }
}

namespace {

std::string esc(std::string_view v) { return markup_escape(v); }

std::string value_text(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v) return {};
    if (v->is_string()) return std::string(v->as_string());
    return scep::json_text(*v);
}

// Extra style for the report: the exchange list and its collapsible details.
constexpr const char* report_style =
    "<style>details{margin:.4em 0 .8em 0}summary{cursor:pointer}details>div{margin:.5em 0 1em 1.5em}"
    "table.timeline td,table.timeline th{white-space:nowrap}table.timeline td.findings{white-space:normal}"
    "table.timeline td.findings code{white-space:nowrap;display:inline-block;margin-right:.5em}"
    "table.timeline td.txid{white-space:normal}table.timeline td.txid code{word-break:break-all}"
    ".files td,.files th{width:auto}</style>";

}  // namespace

void write_evidence_html(std::ostream& o, transaction_store& rows, const evidence_summary& s) {
    // No script and no network: the policy forbids both, whatever a value holds.
    o << page_head("scep-lab evidence report",
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">" +
                       std::string(report_style));
    o << "<h1>SCEP evidence report</h1>\n<p class=\"muted\">Made by <code>scep-lab inspect</code> on "
      << esc(now_iso8601_millis()) << " (docs/evidence.md). Every exchange is decoded and checked as the lab's "
      << "inspector checks a live one.</p>\n";
    o << "<h2>Evidence</h2>\n<table class=\"files\" id=\"files\"><tr><th>file</th><th>kind</th><th>read</th></tr>";
    for (const auto& f : s.files) {
        o << "<tr><td><code>" << esc(f.name) << "</code></td><td>" << esc(evidence::to_string(f.kind)) << "</td><td>";
        if (f.kind == evidence::file_kind::iis_log)
            o << f.iis_lines << " lines, " << f.iis_scep << " SCEP, " << f.iis_matched << " matched to a captured exchange";
        else if ((f.kind == evidence::file_kind::ndes_events || f.kind == evidence::file_kind::evtx))
            o << f.events << (f.events == 1 ? " event, " : " events, ") << f.events_matched << " attached to an exchange"
              << (f.events_other ? ", " + std::to_string(f.events_other) + " of other sources left out" : "");
        else
            o << f.http << " HTTP exchanges, " << f.scep << " SCEP, " << f.tls << " TLS sessions";
        if (!f.error.empty()) o << "<br><span class=\"error\">reading stopped: " << esc(f.error) << "</span>";
        o << "</td></tr>";
    }
    o << "</table>\n";
    if (s.decrypting) o << "<p>RA key: " << esc(s.ra_key_note) << "</p>\n";
    if (s.clients.empty()) o << "<p id=\"no-scep\">No SCEP exchange in the evidence.</p>\n";
    int n = 0;
    for (const auto& c : s.clients) {
        auto list = client_rows(rows, c, s.first_id);
        ++n;
        o << "<h2 id=\"client-" << n << "\">Client <code>" << esc(c) << "</code>";
        if (auto d = client_device(list); !d.empty()) o << " <span class=\"ok\">consistent with " << esc(d) << "</span>";
        o << "</h2>\n<table class=\"timeline\"><tr><th>time</th><th>request</th><th>HTTP</th><th>status</th>"
             "<th>transactionID</th><th class=\"findings\">findings</th></tr>";
        std::ostringstream details;
        for (const auto& summary_row : list) {
            auto found = rows.find(summary_row.id);
            if (!found || !*found) continue;
            const transaction_record& t = **found;
            auto full = transaction_json(rows, t);
            const json::object empty;
            const json::object& detail = full["detail"].is_object() ? full["detail"].as_object() : empty;
            const json::object* ev = detail.if_contains("evidence") && detail.at("evidence").is_object()
                                         ? &detail.at("evidence").as_object()
                                         : nullptr;
            std::string http = std::to_string(t.http_status);
            if (ev && ev->contains("iis") && ev->at("iis").is_object())
                http += " (IIS " + value_text(ev->at("iis").as_object(), "status_text") + ")";
            const std::string anchor = "x" + std::to_string(t.id);
            o << "<tr class=\"row-" << esc(t.severity) << "\"><td><a href=\"#" << anchor << "\">" << esc(t.time)
              << "</a></td><td>" << esc(t.method) << " " << esc(t.operation) << " " << esc(t.message_type) << "</td><td>"
              << esc(http) << "</td><td>" << esc(t.pki_status) << " " << esc(t.fail_info) << "</td><td class=\"txid\"><code>"
              << esc(inspect::printable(t.transaction_id, 40)) << "</code></td><td class=\"findings\">";
            for (std::string_view rest = t.findings; !rest.empty();) {
                auto sp = rest.find(' ');
                o << "<code>" << esc(rest.substr(0, sp)) << "</code> ";
                rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            }
            o << "</td></tr>";
            details << "<details id=\"" << anchor << "\"><summary>" << esc(t.time) << " " << esc(t.method) << " "
                    << esc(t.operation) << " " << esc(t.message_type) << " — HTTP " << esc(http) << " "
                    << esc(t.pki_status) << " " << esc(t.fail_info) << "</summary><div>";
            if (const auto* f = detail.if_contains("findings"); f && f->is_array() && !f->as_array().empty()) {
                details << "<table><tr><th>finding</th><th>severity</th><th>what and why</th><th>reference</th></tr>";
                for (const auto& x : f->as_array()) {
                    if (!x.is_object()) continue;
                    const auto& fo = x.as_object();
                    const std::string sev = value_text(fo, "severity");
                    details << "<tr><td><code>" << esc(value_text(fo, "id")) << "</code></td><td class=\"" << esc(sev)
                            << "\">" << esc(sev) << "</td><td>" << esc(value_text(fo, "summary"));
                    if (!value_text(fo, "detail").empty())
                        details << "<br><span class=\"muted\">" << esc(value_text(fo, "detail")) << "</span>";
                    details << "</td><td>" << esc(value_text(fo, "reference")) << "</td></tr>";
                }
                details << "</table>";
            } else {
                details << "<p class=\"ok\">No finding.</p>";
            }
            for (const auto& [key, title] : {std::pair{"evidence", "Where it was read"}, std::pair{"device", "Device"},
                                             std::pair{"request", "Request (decoded)"}, std::pair{"reply", "Reply"},
                                             std::pair{"http", "HTTP"}, std::pair{"decision", "Answer"}})
                if (const auto* v = detail.if_contains(key))
                    details << "<h3>" << title << "</h3>" << render_decoded(*v);
            details << "</div></details>\n";
        }
        o << "</table>\n" << details.str();
    }
    if (s.tls_total > 0) {
        o << "<h2>TLS sessions</h2>\n<p class=\"muted\">" << s.tls_total
          << " in all; their content is read only with the session secrets (--tls-keylog).</p>\n"
             "<table class=\"timeline\" id=\"tls\"><tr><th>start</th><th>client</th>"
             "<th>server</th><th>name (SNI)</th><th>bytes</th><th>content</th></tr>";
        for (const auto& t : s.tls)
            o << "<tr><td>" << esc(evidence::iso8601(t.start)) << "</td><td>" << esc(t.client) << ":" << t.client_port
              << "</td><td>" << esc(t.server) << ":" << t.server_port << "</td><td>" << esc(t.sni) << "</td><td>"
              << t.bytes << "</td><td>" << esc(t.content) << "</td></tr>";
        o << "</table>\n";
    }
    if (s.unmatched_total > 0) {
        o << "<h2>Events no exchange explains</h2>\n<table id=\"events\"><tr><th>time</th><th>event</th><th>text</th></tr>";
        for (const auto& e : s.unmatched)
            o << "<tr><td>" << esc(evidence::iso8601(e.time)) << "</td><td>" << e.id << " (" << esc(inspect::printable(e.level, 32))
              << ")</td><td>" << esc(inspect::printable(e.text, 2048)) << "</td></tr>";
        o << "</table>\n";
    }
    if (s.notes_total > 0) {
        o << "<h2>Notes</h2>\n<ul id=\"notes\">";
        for (const auto& note : s.notes) o << "<li>" << esc(inspect::printable(note, 512)) << "</li>";
        o << "</ul>\n";
    }
    o << "</body></html>\n";
}

}  // namespace scep::server
