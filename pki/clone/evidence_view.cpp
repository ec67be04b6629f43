// `scep-lab clone --from-capture`: what a server showed in a customer's
// evidence (a capture or HAR: its GetCACaps, GetCACert and GetNextCACert
// answers, its admin page, a CertRep) read into the same server_view as a
// live server's, with the same checks (docs/clone.md, docs/evidence.md).
#include <algorithm>

#include "pki/clone/clone.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/evidence/evidence.hpp"

namespace scep::clone {

namespace {

std::string operation_of(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        if (pair.starts_with("operation=")) {
            auto v = pair.substr(10);
            return std::string(percent_decode(v).value_or(std::string(v)));
        }
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    return {};
}

// The first answer of each kind from one server: the first to answer GetCACert.
struct answers final : evidence::sink {
    struct seen {
        evidence::http_exchange x;
        bool have = false;
    };
    seen caps, cacert, next, admin, certrep;
    std::string server;  // "address:port" of the server chosen
    std::vector<std::string> tls_servers;

    static std::string endpoint(const evidence::http_exchange& x) {
        return x.server + ":" + std::to_string(x.server_port);
    }
    void exchange(evidence::http_exchange&& x) override {
        if (!x.response) return;
        const std::string op = operation_of(x.request.target);
        const std::string path = x.request.target.substr(0, x.request.target.find('?'));
        seen* slot = nullptr;
        if (ascii_iequals(op, "GetCACert") && x.response->status == 200) slot = &cacert;
        else if (ascii_iequals(op, "GetCACaps") && x.response->status == 200) slot = &caps;
        else if (ascii_iequals(op, "GetNextCACert")) slot = &next;
        else if (ascii_iequals(op, "PKIOperation") && x.response->status == 200 &&
                 ascii_iequals(media_type(x.response->header("Content-Type")), "application/x-pki-message"))
            slot = &certrep;
        else if (path.find("/mscep_admin") != std::string::npos && x.response->status == 200) slot = &admin;
        if (!slot || slot->have) return;
        if (slot == &cacert && server.empty()) server = endpoint(x);
        if (!server.empty() && endpoint(x) != server) return;
        slot->x = std::move(x);
        slot->have = true;
    }
    void tls(evidence::tls_session&& t) override {
        if (tls_servers.size() < 8) tls_servers.push_back(t.server + ":" + std::to_string(t.server_port));
    }
};

}  // namespace

result<server_view> read_evidence_view(const std::vector<std::string>& files) {
    answers a;
    for (const auto& f : files) {
        auto kind = evidence::read_file(f, a);
        if (!kind) return make_error("--from-capture " + kind.message());
        if (*kind != evidence::file_kind::pcap && *kind != evidence::file_kind::pcapng && *kind != evidence::file_kind::har)
            return make_error("--from-capture " + f + ": " + std::string(evidence::to_string(*kind)) +
                              ": a capture or HAR holds the server's answers; logs do not");
    }
    // An answer seen before the GetCACert (another server's) is dropped: keep only the chosen server's.
    for (auto* s : {&a.caps, &a.next, &a.admin, &a.certrep})
        if (s->have && answers::endpoint(s->x) != a.server) s->have = false;
    if (!a.cacert.have) {
        std::string why = "no GetCACert answer (HTTP 200) in the evidence";
        if (!a.tls_servers.empty()) {
            why += "; it holds TLS sessions to";
            for (const auto& s : a.tls_servers) why += " " + s;
            why += ", whose content cannot be read: capture the plain-HTTP side (NDES listens on port 80 too) or "
                   "save a HAR in the browser";
        }
        return make_error("--from-capture: " + why);
    }
    server_view view;
    std::string names;
    for (const auto& f : files) names += (names.empty() ? "" : ", ") + f;
    view.source = names + " (server " + a.server + ")";
    const auto& cacert = a.cacert.x;
    auto certs = read_certificates(cacert.response->body, "the GetCACert answer in " + cacert.at.text(), &view.single);
    if (!certs) return certs.err();
    view.certs = std::move(*certs);
    view.cacert_content_type = printable_text(cacert.response->header("Content-Type"), 128, '?');
    view.scep_path = printable_text(cacert.request.target.substr(0, cacert.request.target.find('?')), 256, '?');
    const auto& identity = a.caps.have ? *a.caps.x.response : *cacert.response;
    view.server_header = printable_text(identity.header("Server"), 256, '?');
    view.powered_by = printable_text(identity.header("X-Powered-By"), 256, '?');
    if (a.caps.have) {
        const auto& body = a.caps.x.response->body;
        if (check_caps(body, "the GetCACaps answer in " + a.caps.x.at.text())) {
            view.caps = body;
            view.caps_content_type = printable_text(a.caps.x.response->header("Content-Type"), 128, '?');
        }
    }
    if (a.next.have) view.next_status = a.next.x.response->status;
    if (a.admin.have) {
        view.admin_page = a.admin.x.response->body.substr(0, 1u << 20);
        view.admin_status = a.admin.x.response->status;
        view.admin_content_type = printable_text(a.admin.x.response->header("Content-Type"), 128, '?');
    }
    if (a.certrep.have) {
        const auto& body = a.certrep.x.response->body;
        view.certrep = bytes(body.begin(), body.end());
    }
    return view;
}

}  // namespace scep::clone
