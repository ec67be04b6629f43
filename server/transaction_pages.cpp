#include "server/transaction_pages.hpp"

#include <boost/json.hpp>

#include <sstream>

#include "pki/crypto/encoding.hpp"
#include "pki/inspect/findings.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep::server {

namespace json = boost::json;

namespace {

constexpr const char* page_style = R"(
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{width:14em}table table th{width:12em}
code{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.muted{color:#777}.error{color:#a00;font-weight:600}.warning{color:#a60}.note{color:#357}
tr.error td:first-child{border-left:4px solid #a00}tr.warning td:first-child{border-left:4px solid #a60}
.ok{color:#070}form label{margin-right:1em}
#transactions{table-layout:auto}#transactions th{width:auto}#transactions td.when,#transactions td code{white-space:nowrap}
#transactions td.reason{white-space:normal;min-width:7em}#transactions td{padding:.3em .4em}
#transactions td.findings{white-space:normal;min-width:12em}#transactions td.findings span{white-space:nowrap}
tr.row-error td:first-child{border-left:4px solid #a00}tr.row-warning td:first-child{border-left:4px solid #a60}
tr.row-note td:first-child{border-left:4px solid #357}
td.refused{color:#a00;font-weight:600}td.pending{color:#a60}td.answered{color:#070}p.refused{color:#a00}
.sev-error{color:#a00}.sev-warning{color:#a60}.sev-note{color:#357}
)";

std::string head(const std::string& title, const std::string& extra = {}) {
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + extra +
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
           markup_escape(title) + "</title><style>" + page_style + "</style></head><body>\n";
}

std::string text_of(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_bool()) return v.as_bool() ? "yes" : "no";
    if (v.is_null()) return "";
    return scep::json_text(v);
}

const json::value* field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->value();
}

std::string str(const json::object& o, std::string_view key) {
    const json::value* v = field(o, key);
    return v ? text_of(*v) : "";
}

// A decoded structure as nested tables; every value escaped.
void render_value(std::ostringstream& o, const json::value& v) {
    if (v.is_object()) {
        o << "<table>";
        for (const auto& [k, x] : v.as_object()) {
            o << "<tr><th>" << markup_escape(std::string(k)) << "</th><td>";
            render_value(o, x);
            o << "</td></tr>";
        }
        o << "</table>";
    } else if (v.is_array()) {
        if (v.as_array().empty()) o << "<span class=\"muted\">none</span>";
        bool first = true;
        for (const auto& x : v.as_array()) {
            if (!first) o << "<br>";
            first = false;
            if (x.is_structured()) render_value(o, x);
            else o << "<code>" << markup_escape(text_of(x)) << "</code>";
        }
    } else {
        o << "<code>" << markup_escape(text_of(v)) << "</code>";
    }
}

}  // namespace

namespace {

// 1234567 → "1,234,567".
std::string grouped(std::int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

// A transactionID as long as a 78-digit number would push status and findings
// off the screen: its ends, with the whole value on hover and on its page.
std::string short_id(const std::string& v) {
    if (v.size() <= 20) return markup_escape(v);
    return "<span title=\"" + markup_escape(v) + "\">" + markup_escape(v.substr(0, 8)) + "…" +
           markup_escape(v.substr(v.size() - 6)) + "</span>";
}

}  // namespace

std::string transaction_count_text(std::int64_t total, std::size_t shown) {
    return grouped(total) + (total == 1 ? " transaction matches" : " transactions match") + "; showing " +
           grouped(static_cast<std::int64_t>(shown)) + ".";
}

std::string render_transaction_rows(const json::array& items) {
    std::ostringstream o;
    for (const auto& v : items) {
        if (!v.is_object()) continue;
        const auto& t = v.as_object();
        const std::string id = markup_escape(str(t, "id")), sev = markup_escape(str(t, "severity"));
        const std::string pki = str(t, "pki_status");
        const auto* http = field(t, "http_status");
        const std::int64_t code = http && http->is_int64() ? http->as_int64() : 0;
        // The status says what the server did: refused (red), pending, issued.
        const char* outcome = pki == "FAILURE" || code >= 400 ? "refused" : pki == "PENDING" ? "pending" : "answered";
        // "2026-12-05T06:07:15Z" → "12-05 06:07:15", the whole value on hover.
        const std::string time = str(t, "time");
        const std::string shown_time = time.size() >= 19 ? time.substr(5, 5) + " " + time.substr(11, 8) : time;
        // The row's worst finding marks its edge only: the status cell says
        // whether the server refused, in red; nothing else is bold.
        o << "<tr class=\"row-" << sev << "\"><td><a href=\"/transactions/" << id << "\">" << id << "</a></td><td class=\"when\" title=\""
          << markup_escape(time) << "\">" << markup_escape(shown_time) << "</td><td>" << markup_escape(str(t, "client")) << "</td><td>"
          << markup_escape(str(t, "method") + " " + str(t, "operation")) << "</td><td>"
          << markup_escape(str(t, "message_type")) << "</td><td><code>" << short_id(str(t, "transaction_id"))
          << "</code></td><td class=\"" << outcome << "\">"
          // A SCEP answer is HTTP 200: the code is shown when it says something.
          << markup_escape(pki + (str(t, "fail_info").empty() ? "" : " " + str(t, "fail_info")) +
                           (code == 200 && !pki.empty() ? "" : (pki.empty() ? "" : " ") + std::string("HTTP ") + std::to_string(code)))
          << "</td><td class=\"reason\">" << markup_escape(str(t, "reason")) << "</td><td class=\"findings\">";
        // The worst finding first (the one that decided a refusal), as the
        // inspector orders them; none coloured worse than the row (a cipher
        // the server accepted is a warning in this exchange).
        auto rank = [](std::string_view s) { return s == "error" ? 2 : s == "warning" ? 1 : 0; };
        const int row_rank = rank(str(t, "severity"));
        bool first = true;
        if (const auto* f = field(t, "findings"); f && f->is_array())
            for (const auto& id_value : f->as_array()) {
                const std::string fid = text_of(id_value);
                const auto* def = inspect::find_finding(fid);
                const std::string level = def ? std::string(inspect::to_string(def->level)) : "note";
                o << (first ? "" : " ") << "<span class=\"sev-" << (rank(level) > row_rank ? str(t, "severity") : level)
                  << "\">" << markup_escape(fid) << "</span>";
                first = false;
            }
        o << "</td></tr>\n";
    }
    return o.str();
}

std::string render_transactions_page(const transaction_list& list, bool admin) {
    std::ostringstream o;
    o << head("scep-lab transactions");
    o << "<h1>Transactions</h1>\n<p class=\"muted\">Every SCEP exchange, newest first, decoded and checked against "
         "the findings catalogue (<a href=\"/\">status page</a>). Rows are coloured by their worst finding; the "
         "status says what the server did. The list refreshes by itself when JavaScript runs.</p>\n";
    auto option = [&](const std::string& value, const std::string& chosen) {
        o << "<option" << (value == chosen ? " selected" : "") << ">" << markup_escape(value) << "</option>";
    };
    o << "<form id=\"filters\" method=\"get\" action=\"/transactions\"><label>client <input name=\"client\" size=\"16\" value=\""
      << markup_escape(list.client) << "\"></label>"
      << "<label>status <select name=\"status\"><option value=\"\">any</option>";
    for (const char* s : {"failed", "SUCCESS", "FAILURE", "PENDING", "400", "404", "500"}) option(s, list.status);
    o << "</select></label><label>severity <select name=\"severity\"><option value=\"\">any</option>";
    for (const char* s : {"error", "warning", "note"}) option(s, list.severity);
    o << "</select></label><label>finding <select name=\"finding\"><option value=\"\">any</option>";
    for (const auto& f : inspect::catalogue()) option(std::string(f.id), list.finding);
    o << "</select></label> <button type=\"submit\">show</button></form>\n";
    if (!list.error.empty())
        o << "<p id=\"list-msg\" class=\"refused\">" << markup_escape(list.error) << "</p>\n";
    else
        o << "<p id=\"list-msg\" class=\"muted\">" << transaction_count_text(list.total, list.items.size()) << "</p>\n";
    o << "<table id=\"transactions\"><thead><tr><th>#</th><th>time</th><th>client</th><th>operation</th>"
         "<th>message</th><th>transactionID</th><th>status</th><th>reason</th><th>findings</th></tr></thead><tbody>"
      << render_transaction_rows(list.items) << "</tbody></table>\n";
    if (admin) o << "<p class=\"muted\">The JSON is also at <code>/admin/api/transactions</code> (token needed).</p>\n";
    o << "<script src=\"/transactions.js\"></script>\n</body></html>\n";
    return o.str();
}

std::string page_head(const std::string& title, const std::string& extra) { return head(title, extra); }

std::string render_decoded(const json::value& v) {
    std::ostringstream o;
    render_value(o, v);
    return o.str();
}

std::string render_transaction_page(const json::object& t, bool admin) {
    std::ostringstream o;
    const std::string id = str(t, "id");
    o << head("scep-lab transaction " + id);
    o << "<h1>Transaction " << markup_escape(id) << "</h1>\n<p><a href=\"/transactions\">all transactions</a></p>\n";
    o << "<table id=\"summary\">";
    for (const char* k : {"time", "client", "method", "path", "query_length", "user_agent", "http_status",
                          "duration_ms", "operation", "message_type", "transaction_id"})
        o << "<tr><th>" << k << "</th><td><code>" << markup_escape(str(t, k)) << "</code></td></tr>";
    const json::object empty;
    const json::value* dv = field(t, "detail");
    const json::object& detail = dv && dv->is_object() ? dv->as_object() : empty;
    // Imported from a customer's evidence (docs/evidence.md): where it was read.
    if (const json::value* e = field(detail, "evidence"); e && e->is_object())
        if (const json::value* src = field(e->as_object(), "source"); src && src->is_object())
            o << "<tr><th>imported from</th><td id=\"imported\" class=\"warning\">"
              << markup_escape(str(src->as_object(), "file")) << ", " << markup_escape(str(src->as_object(), "where"))
              << " <span class=\"muted\">(evidence, not an exchange with this lab)</span></td></tr>";
    // Which device persona the request looks like (docs/personas.md).
    if (const json::value* d = field(detail, "device"); d && d->is_object()) {
        const bool consistent = str(d->as_object(), "consistent") == "yes";
        o << "<tr><th>device</th><td id=\"device\" class=\"" << (consistent ? "ok" : "muted") << "\">"
          << markup_escape(str(d->as_object(), "text")) << "</td></tr>";
    }
    o << "</table>\n";

    o << "<h2>Decision</h2>\n<table id=\"decision\">";
    o << "<tr><th>HTTP status</th><td><code>" << markup_escape(str(t, "http_status")) << "</code></td></tr>";
    o << "<tr><th>pkiStatus</th><td id=\"pki-status\">" << markup_escape(str(t, "pki_status")) << "</td></tr>";
    o << "<tr><th>failInfo</th><td id=\"fail-info\">" << markup_escape(str(t, "fail_info")) << "</td></tr>";
    o << "<tr><th>reason</th><td id=\"reason\">" << markup_escape(str(t, "reason")) << "</td></tr>";
    if (!str(t, "serial").empty())
        o << "<tr><th>serial issued</th><td><a href=\"/certs/" << markup_escape(str(t, "serial")) << ".pem\"><code>"
          << markup_escape(str(t, "serial")) << "</code></a></td></tr>";
    if (const json::value* dec = field(detail, "decision"); dec && dec->is_object())
        if (const json::value* f = field(dec->as_object(), "fault_injected"))
            o << "<tr><th>fault injected</th><td id=\"fault\" class=\"warning\">" << markup_escape(text_of(*f))
              << " <span class=\"muted\">(wrong on purpose: a fault rule fired, see docs/faults.md)</span></td></tr>";
    if (const json::value* c = field(detail, "challenge"))
        o << "<tr><th>challenge</th><td>" << markup_escape(text_of(*c))
          << " <span class=\"muted\">(the value is never stored)</span></td></tr>";
    o << "</table>\n";

    o << "<h2>Findings</h2>\n";
    const json::value* fv = field(detail, "findings");
    if (!fv || !fv->is_array() || fv->as_array().empty()) {
        o << "<p id=\"findings\" class=\"ok\">none: nothing in the catalogue applies</p>\n";
    } else {
        o << "<table id=\"findings\"><tr><th>finding</th><th>severity</th><th>what and why</th><th>reference</th></tr>";
        for (const auto& f : fv->as_array()) {
            if (!f.is_object()) continue;
            const auto& fo = f.as_object();
            const std::string sev = str(fo, "severity");
            o << "<tr class=\"" << markup_escape(sev) << "\"><td><code>" << markup_escape(str(fo, "id"))
              << "</code></td><td class=\"" << markup_escape(sev) << "\">" << markup_escape(sev) << "</td><td>"
              << markup_escape(str(fo, "summary"));
            if (!str(fo, "detail").empty()) o << "<br><span class=\"muted\">" << markup_escape(str(fo, "detail")) << "</span>";
            o << "</td><td>" << markup_escape(str(fo, "reference")) << "</td></tr>";
        }
        o << "</table>\n";
    }
    for (const auto& [key, title] : {std::pair{"request", "Request (decoded)"}, std::pair{"reply", "Reply"},
                                     std::pair{"http", "HTTP"}, std::pair{"evidence", "Evidence"}}) {
        if (const json::value* v = field(detail, key)) {
            o << "<h2>" << title << "</h2>\n<div id=\"" << key << "\">";
            render_value(o, *v);
            o << "</div>\n";
        }
    }
    o << "<h2>Story</h2>\n<p class=\"muted\">This client's exchanges that belong to the same enrollment.</p>\n"
         "<table id=\"story\"><tr><th>#</th><th>time</th><th>operation</th><th>message</th><th>HTTP</th>"
         "<th>status</th></tr>";
    if (const json::value* sv = field(t, "story"); sv && sv->is_array())
        for (const auto& s : sv->as_array()) {
            if (!s.is_object()) continue;
            const auto& so = s.as_object();
            const std::string sid = markup_escape(str(so, "id"));
            o << "<tr class=\"" << markup_escape(str(so, "severity")) << "\"><td><a href=\"/transactions/" << sid
              << "\">" << sid << "</a>" << (sid == markup_escape(id) ? " (this)" : "") << "</td><td>"
              << markup_escape(str(so, "time")) << "</td><td>" << markup_escape(str(so, "operation")) << "</td><td>"
              << markup_escape(str(so, "message_type")) << "</td><td>" << markup_escape(str(so, "http_status"))
              << "</td><td>" << markup_escape(str(so, "pki_status")) << " " << markup_escape(str(so, "fail_info"))
              << "</td></tr>";
        }
    o << "</table>\n";
    if (admin) {
        o << "<h2>Downloads</h2>\n<p>The raw messages carry the encrypted challenge: they need the admin token.</p>\n"
          << "<p><label>admin token <input type=\"password\" id=\"token\" size=\"40\" autocomplete=\"off\"></label> ";
        if (field(t, "request_der_kept") && field(t, "request_der_kept")->is_bool() && field(t, "request_der_kept")->as_bool())
            o << "<button class=\"download\" data-id=\"" << markup_escape(id) << "\" data-part=\"request.der\">request DER</button>";
        if (field(t, "reply_der_kept") && field(t, "reply_der_kept")->is_bool() && field(t, "reply_der_kept")->as_bool())
            o << "<button class=\"download\" data-id=\"" << markup_escape(id) << "\" data-part=\"reply.der\">reply DER</button>";
        o << "<span id=\"admin-msg\" class=\"muted\"></span></p>\n"
          << "<p class=\"muted\">Decode offline: <code>scep-lab inspect transaction-" << markup_escape(id)
          << ".request.der</code></p>\n";
    }
    o << "<script src=\"/transactions.js\"></script>\n</body></html>\n";
    return o.str();
}

const std::string& transactions_script() {
    static const std::string js = R"JS(// scep-lab transactions: the list refreshes itself; downloads use the admin token.
(function () {
  var table = document.querySelector('#transactions tbody');
  var form = document.getElementById('filters');
  var msg = document.getElementById('list-msg');
  // The server renders the list (it works without JavaScript); this only
  // refreshes its rows every 2 s and when a filter changes.
  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v) params.append(k, v); });
    return params.toString();
  }
  function refresh() {
    fetch('/transactions.rows?' + query(), {cache: 'no-store'}).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
        table.innerHTML = body.rows;  // escaped by the server
        msg.textContent = body.message;
        msg.className = 'muted';
      });
    }).catch(function (e) { msg.textContent = e.message; msg.className = 'refused'; });
  }
  if (table && form) {
    var changed = function () {
      history.replaceState(null, '', '/transactions' + (query() ? '?' + query() : ''));
      refresh();
    };
    form.addEventListener('change', changed);
    form.addEventListener('input', changed);
    form.addEventListener('submit', function (e) { e.preventDefault(); changed(); });
    setInterval(refresh, 2000);
  }
  var token = document.getElementById('token');
  var amsg = document.getElementById('admin-msg');
  if (token) {
    token.value = sessionStorage.getItem('scep-lab-token') || '';
    document.querySelectorAll('button.download').forEach(function (b) {
      b.addEventListener('click', function () {
        sessionStorage.setItem('scep-lab-token', token.value);
        var name = 'transaction-' + b.getAttribute('data-id') + '.' + b.getAttribute('data-part');
        fetch('/admin/api/transactions/' + b.getAttribute('data-id') + '/' + b.getAttribute('data-part'),
              {headers: {'Authorization': 'Bearer ' + token.value}}).then(function (res) {
          if (!res.ok) return res.json().then(function (body) { throw new Error(body.error || ('HTTP ' + res.status)); });
          return res.blob().then(function (blob) {
            var a = document.createElement('a');
            a.href = URL.createObjectURL(blob);
            a.download = name;
            a.click();
            amsg.textContent = name + ' downloaded';
          });
        }).catch(function (e) { amsg.textContent = e.message; amsg.className = 'error'; });
      });
    });
  }
})();
)JS";
    return js;
}

}  // namespace scep::server
