#include "server/status_page.hpp"

#include "config/config.hpp"
#include "pki/ca/crl.hpp"
#include "pki/store/store.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "pki/crypto/encoding.hpp"

namespace scep::server {


namespace {

std::string fingerprint(const X509& cert) {
    std::string hex = to_hex(sha256(x509_to_der(cert)), true), out;
    for (std::size_t i = 0; i < hex.size(); i += 2) out += (i ? ":" : "") + hex.substr(i, 2);
    return out;
}

constexpr const char* style = R"(
body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
code,.fp{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.muted{color:#777}.revoked{color:#a00}.ok{color:#070}
button{margin-right:.3em}#admin-msg{margin-left:.5em}
.prompt{border:2px solid #c60;background:#fff6ec;padding:.2em 1em;margin:1em 0}
)";

}  // namespace

std::string render_status_page(const status_inputs& in) {
    std::ostringstream o;
    o << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      << "<title>scep-lab</title><style>" << style << "</style></head><body>\n";
    o << "<h1>scep-lab</h1>\n";
    if (in.prompt) {
        // `scep-lab conformance --manual`: what to do at the device now.
        o << "<section id=\"prompt\" class=\"prompt\"><h2>" << markup_escape(in.prompt->first) << "</h2>\n";
        std::string_view rest = in.prompt->second;
        while (!rest.empty()) {
            auto nl = rest.find('\n');
            o << "<p>" << markup_escape(rest.substr(0, nl)) << "</p>\n";
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        }
        o << "</section>\n";
    }

    o << "<h2>Enroll</h2>\n<table>\n";
    o << "<tr><th>SCEP URL</th><td><code id=\"scep-url\">" << markup_escape(in.base_url + in.scep_path) << "</code></td></tr>\n";
    if (!in.ndes_path.empty())
        o << "<tr><th>NDES URL</th><td><code>" << markup_escape(in.base_url + in.ndes_path)
          << "</code> (admin page: <a href=\"" << config::ndes_admin_path << "\">" << config::ndes_admin_path
          << "</a>)</td></tr>\n";
    if (!in.challenge.empty())
        o << "<tr><th>challenge</th><td><code id=\"challenge\">" << markup_escape(in.challenge) << "</code></td></tr>\n";
    else if (!in.challenge_note.empty())
        o << "<tr><th>challenge</th><td>" << markup_escape(in.challenge_note) << "</td></tr>\n";
    o << "<tr><th>Apple profile</th><td><a href=\"/profiles/apple.mobileconfig\">/profiles/apple.mobileconfig</a>"
      << " <span class=\"muted\">(add <code>?ssid=NAME</code> for EAP-TLS Wi-Fi)</span></td></tr>\n";
    o << "</table>\n";

    if (in.transaction_log) {
        // What failed, first: a client that cannot enroll is why people look.
        o << "<h2>Failures</h2>\n";
        transaction_query all;
        all.limit = 1;
        transaction_query failed;
        failed.status = "failed";
        failed.limit = 5;
        auto everything = in.transaction_log->search(all);
        auto failures = in.transaction_log->search(failed);
        if (!everything || !failures) {
            o << "<p class=\"muted\">the transaction log cannot be read (see the server log)</p>\n";
        } else if (failures->total == 0) {
            o << "<p class=\"ok\" id=\"failures-summary\">no failed exchange among " << everything->total << "</p>\n";
        } else {
            o << "<p id=\"failures-summary\"><span class=\"revoked\">" << failures->total << " of " << everything->total
              << " exchanges failed</span> (a SCEP FAILURE or an HTTP error); the latest:</p>\n"
              << "<table id=\"failures\"><tr><th>#</th><th>time</th><th>client</th><th>operation</th><th>status</th>"
                 "<th>reason</th></tr>\n";
            for (const auto& t : failures->items) {
                const std::string id = std::to_string(t.id);
                o << "<tr><td><a href=\"/transactions/" << id << "\">" << id << "</a></td><td>" << markup_escape(t.time)
                  << "</td><td>" << markup_escape(t.client) << "</td><td>"
                  << markup_escape(t.operation + (t.message_type.empty() ? "" : " " + t.message_type)) << "</td><td class=\"revoked\">"
                  << markup_escape(t.pki_status + (t.fail_info.empty() ? "" : " " + t.fail_info) +
                                   (t.pki_status.empty() ? "HTTP " + std::to_string(t.http_status) : ""))
                  << "</td><td>" << markup_escape(t.reason) << "</td></tr>\n";
            }
            o << "</table>\n<p><a href=\"/transactions?status=failed\">all failures</a></p>\n";
        }
    }

    o << "<h2>CA chain</h2>\n<table id=\"chain\"><tr><th>CA</th><th>subject</th><th>valid</th><th>SHA-256</th><th>download</th></tr>\n";
    const auto& tiers = in.pki.tiers();
    for (auto it = tiers.rbegin(); it != tiers.rend(); ++it) {
        const X509& c = *it->cert;
        const std::string name = markup_escape(it->name);
        o << "<tr><td>" << name << "</td><td>" << markup_escape(name_to_string(*X509_get_subject_name(&c)))
          << "</td><td>" << markup_escape(time_to_iso8601(*X509_get0_notBefore(&c))) << "<br>"
          << markup_escape(time_to_iso8601(*X509_get0_notAfter(&c))) << "</td><td class=\"fp\">" << fingerprint(c)
          << "</td><td><a href=\"/ca/" << name << ".crt\">.crt</a> <a href=\"/ca/" << name << ".pem\">.pem</a></td></tr>\n";
    }
    o << "</table>\n<p>Whole chain: <a href=\"/ca/chain.pem\">chain.pem</a>, <a href=\"/ca/chain.p7b\">chain.p7b</a>";
    if (in.https) o << "; HTTPS server chain: <a href=\"/ca/tls-chain.pem\">tls-chain.pem</a>";
    const std::string crl = crl_path(in.pki.issuing().name);
    o << "; CRL: <a href=\"" << markup_escape(crl) << "\">" << markup_escape(crl.substr(crl_path_prefix.size()))
      << "</a></p>\n";

    o << "<h2>Pending requests</h2>\n";
    auto pending = in.store.list_pending(false);
    if (!pending || pending->empty()) {
        o << "<p class=\"muted\" id=\"no-pending\">none</p>\n";
    } else {
        o << "<table id=\"pending\"><tr><th>transactionID</th><th>subject</th><th>from</th><th>since</th><th></th></tr>\n";
        for (const auto& p : *pending) {
            const std::string txid = markup_escape(p.transaction_id);
            o << "<tr data-txid=\"" << txid << "\"><td><code>" << txid << "</code></td><td>" << markup_escape(p.subject)
              << "</td><td>" << markup_escape(p.requester) << "</td><td>" << markup_escape(p.created_at) << "</td><td>";
            if (in.admin)
                o << "<button class=\"approve\" data-txid=\"" << txid << "\">Approve</button>"
                  << "<button class=\"reject\" data-txid=\"" << txid << "\">Reject</button>";
            o << "</td></tr>\n";
        }
        o << "</table>\n";
    }
    if (in.admin)
        o << "<p><label>admin token <input type=\"password\" id=\"token\" size=\"40\" autocomplete=\"off\"></label>"
          << "<span id=\"admin-msg\" class=\"muted\">needed for the buttons (data/admin-token)</span></p>\n";

    o << "<h2>Recent enrollments</h2>\n";
    cert_query q;
    q.limit = 20;
    auto recent = in.store.search(q);
    if (!recent || recent->items.empty()) {
        o << "<p class=\"muted\">none yet</p>\n";
    } else {
        o << "<table id=\"recent\"><tr><th>serial</th><th>subject</th><th>status</th><th>issued</th><th>expires</th></tr>\n";
        for (const auto& r : recent->items) {
            const std::string serial = markup_escape(r.serial);
            o << "<tr><td><a class=\"serial\" href=\"/certs/" << serial << ".pem\"><code>" << serial << "</code></a></td><td>"
              << markup_escape(r.subject) << "</td><td class=\"" << (r.status == "revoked" ? "revoked" : "ok") << "\">"
              << markup_escape(r.status) << "</td><td>" << markup_escape(r.created_at) << "</td><td>"
              << markup_escape(r.not_after) << "</td></tr>\n";
        }
        o << "</table>\n<p class=\"muted\">" << recent->total << " certificates in the store</p>\n";
    }
    if (in.challenges) {
        o << "<h2>Challenges</h2>\n";
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        auto live = in.challenges->list(now, false, 50);
        if (!live || live->empty()) {
            o << "<p class=\"muted\" id=\"no-challenges\">none live</p>\n";
        } else {
            o << "<table id=\"challenges\"><tr><th>id</th><th>challenge</th><th>label</th><th>uses left</th>"
                 "<th>expires</th><th>bindings</th></tr>\n";
            for (const auto& c : *live) {
                std::string bindings = c.bindings;
                std::replace(bindings.begin(), bindings.end(), '\n', ' ');
                o << "<tr><td><code>" << markup_escape(c.handle) << "</code></td><td>********</td><td>"
                  << markup_escape(c.label) << "</td><td>" << c.uses_left << "/" << c.uses_total << "</td><td>"
                  << unix_time_iso8601(c.expires_at) << "</td><td><code>" << markup_escape(bindings) << "</code></td></tr>\n";
            }
            o << "</table>\n<p class=\"muted\">Values are shown once, when made: only their hashes are kept.</p>\n";
        }
    }
    if (in.transactions)
        o << "<h2>Transactions</h2>\n<p><a id=\"transactions-link\" href=\"/transactions\">Every SCEP exchange, "
             "decoded and checked</a>: what each client sent, what the server decided and what is wrong with it.</p>\n";
    o << "<p class=\"muted\"><a href=\"/metrics\">metrics</a> · <a href=\"/healthz\">healthz</a> · "
      << "<a href=\"/readyz\">readyz</a></p>\n";
    o << "<script src=\"/status.js\"></script>\n</body></html>\n";
    return o.str();
}

const std::string& status_script() {
    static const std::string js = R"JS(// scep-lab status page: approve/reject through the admin API.
(function () {
  var token = document.getElementById('token');
  var msg = document.getElementById('admin-msg');
  if (!token) return;
  token.value = sessionStorage.getItem('scep-lab-token') || '';
  token.addEventListener('change', function () { sessionStorage.setItem('scep-lab-token', token.value); });
  function decide(button, action) {
    var txid = button.getAttribute('data-txid');
    sessionStorage.setItem('scep-lab-token', token.value);
    fetch('/admin/api/pending/' + encodeURIComponent(txid) + '/' + action, {
      method: 'POST',
      headers: {'Authorization': 'Bearer ' + token.value, 'Content-Type': 'application/json'},
      body: action === 'reject' ? JSON.stringify({reason: 'rejected on the status page'}) : '{}'
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
        msg.textContent = txid + ': ' + body.status;
        msg.id = 'admin-msg';
        location.reload();
      });
    }).catch(function (e) { msg.textContent = e.message; msg.className = 'revoked'; });
  }
  document.querySelectorAll('button.approve').forEach(function (b) {
    b.addEventListener('click', function () { decide(b, 'approve'); });
  });
  document.querySelectorAll('button.reject').forEach(function (b) {
    b.addEventListener('click', function () { decide(b, 'reject'); });
  });
})();
)JS";
    return js;
}

}  // namespace scep::server
