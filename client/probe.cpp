// `scep-lab probe`: each persona's steps against a server (docs/probe.md).
#include "client/probe.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <ostream>
#include <thread>

#include <boost/json.hpp>

#include "client/admin_client.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/json_text.hpp"
#include "pki/inspect/analysis.hpp"

namespace scep::client {

namespace json = boost::json;
namespace dev = scep::persona;
using dev::persona;

std::string_view to_string(step_result r) {
    switch (r) {
        case step_result::passed: return "passed";
        case step_result::server_refused: return "refused by the server";
        case step_result::device_refused: return "the device would refuse the server";
        case step_result::skipped: return "skipped";
        case step_result::not_reached: return "not reached";
    }
    return "?";
}

const std::vector<std::string>& probe_steps() {
    static const std::vector<std::string> all{"GetCACaps", "GetCACert", "enroll",       "poll",
                                              "renew",     "GetCert",   "GetCRL",       "GetNextCACert"};
    return all;
}

bool persona_run::clean() const {
    return std::all_of(steps.begin(), steps.end(), [](const step_outcome& s) {
        return s.result == step_result::passed || s.result == step_result::skipped;
    });
}

const step_outcome* persona_run::step(const std::string& name) const {
    for (const auto& s : steps)
        if (s.step == name) return &s;
    return nullptr;
}

bool probe_report::clean() const {
    return std::all_of(runs.begin(), runs.end(), [](const persona_run& r) { return r.clean(); }) &&
           (!suite || suite->findings() == 0);
}

namespace {

// Kinds that say the server or the network failed rather than the device.
bool server_side(const std::string& kind) { return kind == "http-error" || kind == "network"; }



// The NDES admin page's password: "The enrollment challenge password is:
// <B> 8E1D2A40D67FA2EA </B>", in UTF-16LE on a real NDES (its charset), in
// ASCII on others.
result<std::string> password_from_admin_page(const std::string& page) {
    std::string text = page;
    std::size_t zeros = static_cast<std::size_t>(std::count(page.begin(), page.end(), '\0'));
    if (zeros * 3 > page.size()) {
        text.clear();
        for (char c : page)
            if (c != '\0') text += c;
    }
    std::string lower = ascii_lower(text);
    auto at = lower.find("challenge password is");
    if (at == std::string::npos) {
        for (const char* known : {"password cache", "permission", "does not have"})
            if (lower.find(known) != std::string::npos)
                return make_error("the NDES admin page gives no password: \"" + printable_text(text, 160, '?') + "\"");
        return make_error("the NDES admin page has no \"challenge password is\" line");
    }
    auto open = lower.find("<b>", at);
    auto close = open == std::string::npos ? open : lower.find("</b>", open);
    if (close == std::string::npos) return make_error("the NDES admin page's password is not in <B>...</B>");
    std::string value = text.substr(open + 3, close - open - 3);
    auto first = value.find_first_not_of(" \t\r\n");
    auto last = value.find_last_not_of(" \t\r\n");
    if (first == std::string::npos) return make_error("the NDES admin page's password is empty");
    return value.substr(first, last - first + 1);
}

std::string base_of(const scep_url& u) {
    std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    return (u.tls ? "https://" : "http://") + host + ":" + std::to_string(u.port);
}

class device_session {
public:
    device_session(const persona& p, const probe_options& o, scep_url url, const std::vector<const X509*>& trusted,
                   persona_run& run, std::ostream& progress, std::string& server_header)
        : p_(p), o_(o), url_(std::move(url)), trusted_(trusted), run_(run), progress_(progress),
          server_header_(server_header) {
        style_.version = p.http_version;
        style_.user_agent = p.user_agent;
        std::string& path = url_.path;
        if (!p.path_suffix.empty() &&
            (path.size() < p.path_suffix.size() || path.compare(path.size() - p.path_suffix.size(), std::string::npos, p.path_suffix) != 0)) {
            while (!path.empty() && path.back() == '/') path.pop_back();
            path += p.path_suffix;
        }
    }

    void run() {
        for (const auto& op : p_.order) {
            bool ok = op == "GetCACaps" ? caps_step() : cacert_step();
            if (!ok) return finish();
        }
        if (!cas_.encrypt_to) return finish();
        if (o_.dry_run) {
            for (const char* s : {"enroll", "poll", "renew", "GetCert", "GetCRL"})
                skip(s, "dry run: nothing is issued");
            next_ca_step();
            return finish();
        }
        if (!enroll_step()) return finish();
        renew_step();
        query_step("GetCert", p_.get_cert, message_type::get_cert);
        query_step("GetCRL", p_.get_crl, message_type::get_crl);
        next_ca_step();
        finish();
    }

private:
    const persona& p_;
    const probe_options& o_;
    scep_url url_;
    const std::vector<const X509*>& trusted_;  // --trust: roots the device's profile installed
    persona_run& run_;
    std::ostream& progress_;
    std::string& server_header_;
    http_style style_;
    dev::caps_choice caps_;
    dev::ca_view cas_;
    dev::device_identity id_;
    x509_ptr issued_;
    bool pending_ = false;

    step_outcome& add(const std::string& name) {
        step_outcome s;
        s.step = name;
        run_.steps.push_back(std::move(s));
        return run_.steps.back();
    }
    void skip(const std::string& name, const std::string& why) {
        auto& s = add(name);
        s.result = step_result::skipped;
        s.summary = why;
    }
    void finish() {
        // Every step the run did not reach, so a matrix has all columns.
        for (const auto& name : probe_steps()) {
            bool seen = std::any_of(run_.steps.begin(), run_.steps.end(), [&](const step_outcome& s) { return s.step == name; });
            if (!seen) add(name).summary = "an earlier step stopped the device";
        }
        std::stable_sort(run_.steps.begin(), run_.steps.end(), [](const step_outcome& a, const step_outcome& b) {
            const auto& all = probe_steps();
            return std::find(all.begin(), all.end(), a.step) < std::find(all.begin(), all.end(), b.step);
        });
    }
    void wait(int seconds, step_outcome& s, const std::string& what) {
        if (seconds <= 0) return;
        if (o_.real_time) {
            progress_ << "probe: " << p_.name << " waits " << seconds << " s (" << what << ")\n";
            std::this_thread::sleep_for(std::chrono::seconds(seconds));
        } else {
            s.notes.push_back("the device waits " + std::to_string(seconds) + " s (" + what +
                              "); not waited (--real-time waits)");
        }
    }
    std::string operation_target(const std::string& operation) const {
        std::string t = url_.path + "?operation=" + operation;
        if (!p_.message.empty() && operation != "PKIOperation") t += "&message=" + percent_encode(p_.message);
        return t;
    }

    // One HTTP exchange with the persona's redirects; nullopt with `stop` set
    // when there is no usable answer.
    std::optional<http_reply> send(step_outcome& s, const std::string& method, const std::string& target,
                                   const std::string& body, const std::string& content_type, std::string shown_target,
                                   std::optional<dev::refusal>& stop) {
        scep_url url = url_;
        url.max_reply_bytes = o_.max_reply_bytes;
        std::string t = target;
        std::vector<std::pair<std::string, std::string>> headers;
        if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
        for (int hop = 0;; ++hop) {
            exchange x;
            x.method = method;
            x.target = shown_target;
            x.request_bytes = body.size();
            auto r = http_send(url, method, t, body, headers, style_, std::chrono::seconds(o_.timeout_seconds));
            if (!r) {
                x.error = r.message();
                x.summary = "no answer: " + r.message();
                s.exchanges.push_back(std::move(x));
                stop = dev::refusal{"network", r.message(), p_.error("network")};
                return std::nullopt;
            }
            if (server_header_.empty()) server_header_ = r->server;
            x.status = r->status;
            x.content_type = printable_text(r->content_type, 120, '?');
            x.reply_bytes = r->body.size();
            auto rep = inspect::analyze_reply(r->body, r->content_type);
            x.reply = inspect::to_json(rep);
            x.summary = "HTTP " + std::to_string(r->status) + " " + rep.kind +
                        (rep.pki_status.empty() ? "" : " " + rep.pki_status) +
                        (rep.fail_info.empty() ? "" : " " + rep.fail_info) +
                        (rep.certificates.empty() ? "" : ", " + std::to_string(rep.certificates.size()) + " certificate(s)");
            s.exchanges.push_back(std::move(x));
            bool redirect = r->status == 301 || r->status == 302 || r->status == 303 || r->status == 307 || r->status == 308;
            if (!redirect) return std::move(*r);
            if (hop >= p_.redirects || r->location.empty()) {
                stop = dev::refusal{
                    "redirect",
                    "HTTP " + std::to_string(r->status) + " to " + printable_text(redact_url(r->location), 160, '?') +
                        (p_.redirects == 0 ? ": " + p_.name + " does not follow redirects"
                                           : ": more than " + std::to_string(p_.redirects) + " redirects"),
                    p_.error("redirect", r->status)};
                return std::nullopt;
            }
            if (r->location.rfind("http://", 0) == 0 || r->location.rfind("https://", 0) == 0) {
                auto next = parse_scep_url(r->location);
                if (!next) {
                    stop = dev::refusal{"redirect", "a redirect to a bad URL: " + next.message(), p_.error("redirect", r->status)};
                    return std::nullopt;
                }
                next->ca_file = url_.ca_file;
                next->max_reply_bytes = o_.max_reply_bytes;
                t = next->path;
                url = *next;
            } else if (!r->location.empty() && r->location.front() == '/') {
                t = r->location;
            } else {
                stop = dev::refusal{"redirect", "a relative redirect: " + printable_text(r->location, 120, '?'),
                                        p_.error("redirect", r->status)};
                return std::nullopt;
            }
            s.notes.push_back("followed a redirect (HTTP " + std::to_string(r->status) + ")");
        }
    }

    void refused(step_outcome& s, const dev::refusal& r) {
        s.kind = r.kind;
        s.device_error = r.device_error;
        s.result = server_side(r.kind) ? step_result::server_refused : step_result::device_refused;
        s.summary = r.why;
        s.code = r.kind;
        if (r.kind == "http-error" && !s.exchanges.empty() && s.exchanges.back().status)
            s.code = "HTTP " + std::to_string(s.exchanges.back().status);
    }

    bool caps_step() {
        auto& s = add("GetCACaps");
        std::optional<dev::refusal> stop;
        auto r = send(s, "GET", operation_target("GetCACaps"), "", "", operation_target("GetCACaps"), stop);
        if (!r) {
            refused(s, *stop);
            return false;
        }
        caps_ = dev::choose(p_, r->status, r->body);
        std::string words;
        for (const auto& w : caps_.words) words += (words.empty() ? "" : " ") + printable_text(w, 40, '?');
        if (!caps_.stop.empty()) {
            refused(s, dev::refusal{caps_.stop, caps_.why, p_.error(caps_.stop)});
            return false;
        }
        if (r->status != 200) {
            // The device goes on with what an empty list implies (RFC 8894 §3.5.2).
            s.result = step_result::server_refused;
            s.kind = "http-error";
            s.code = "HTTP " + std::to_string(r->status);
            s.summary = "HTTP " + std::to_string(r->status) + "; the device goes on: " + caps_.why;
            return true;
        }
        s.result = step_result::passed;
        s.summary = (words.empty() ? std::string("no keywords") : words) + " -> " + caps_.why;
        return true;
    }

    bool cacert_step() {
        auto& s = add("GetCACert");
        std::optional<dev::refusal> stop;
        auto r = send(s, "GET", operation_target("GetCACert"), "", "", operation_target("GetCACert"), stop);
        if (!r) {
            refused(s, *stop);
            return false;
        }
        cas_ = dev::read_ca_certs(p_, r->status, r->content_type, r->body, o_.ca_thumbprint, trusted_);
        s.notes = cas_.notes;
        if (cas_.stop) {
            refused(s, *cas_.stop);
            return false;
        }
        s.result = step_result::passed;
        s.summary = cas_.layout + "; encrypts to " + dev::describe(*cas_.encrypt_to) +
                    (cas_.verify_with != cas_.encrypt_to ? "; verifies replies with " + dev::describe(*cas_.verify_with)
                                                         : "");
        return true;
    }

    result<std::string> challenge() { return probe_challenge(o_, url_, "probe " + p_.name); }

    // Sends one pkiMessage and reads the CertRep; fills s on a stop.
    std::optional<dev::reply_view> operation(step_outcome& s, const dev::device_identity& id, message_type type,
                                                 byte_view data, bool expect_certificate) {
        for (int attempt = 0;; ++attempt) {
            auto der = dev::build_request(p_, id, type, data, caps_, *cas_.encrypt_to);
            if (!der) {
                s.result = step_result::device_refused;
                s.code = "build";
                s.summary = "cannot build the request: " + der.message();
                return std::nullopt;
            }
            std::optional<dev::refusal> stop;
            std::optional<http_reply> r;
            std::string shown = url_.path + "?operation=PKIOperation";
            if (caps_.post) {
                r = send(s, "POST", shown, std::string(der->begin(), der->end()), "application/x-pki-message", shown, stop);
            } else {
                std::string target = shown + "&message=" + dev::get_message_value(p_, *der);
                r = send(s, "GET", target, "", "", shown + "&message=...", stop);
            }
            if (!s.exchanges.empty()) {
                inspect::lab_view lab;
                lab.capabilities = caps_.words;
                s.exchanges.back().request = inspect::to_json(inspect::analyze_request(*der, lab));
            }
            if (r) {
                auto v = dev::read_reply(p_, r->status, r->content_type, r->body, *cas_.verify_with, id,
                                             expect_certificate);
                if (!v.stop) return v;
                stop = v.stop;
                if (!stop || !(r->status >= 500 && attempt < p_.retries)) {
                    refused(s, *stop);
                    return std::nullopt;
                }
            } else if (stop->kind != "network" || attempt >= p_.retries) {
                refused(s, *stop);
                return std::nullopt;
            }
            wait(p_.retry_delay_s, s, "retry " + std::to_string(attempt + 1) + " of " + std::to_string(p_.retries));
            s.notes.push_back("retried after: " + stop->why);
        }
    }

    static std::string failure_code(const dev::reply_view& v) {
        return v.failure ? std::string(scep::to_string(*v.failure)) : std::string("FAILURE");
    }
    std::string failure_text(const dev::reply_view& v) const {
        std::string t = "FAILURE";
        if (v.failure) t += " " + std::string(scep::to_string(*v.failure));
        if (!v.fail_info_text.empty()) t += " (" + printable_text(v.fail_info_text, 160, '?') + ")";
        if (!v.hresult.empty()) {
            try {
                t += ", HRESULT " + hresult_hex(static_cast<std::uint32_t>(std::stoll(v.hresult)));
            } catch (const std::exception&) {
                t += ", HRESULT " + printable_text(v.hresult, 20, '?');
            }
        }
        return t;
    }

    void record(step_outcome& s, const X509& cert) {
        run_.certificates.push_back(minted{p_.name, s.step, serial_hex(cert),
                                           name_to_string(*X509_get_subject_name(&cert)), time_to_iso8601(*X509_get0_notAfter(&cert))});
    }

    // The answer to a PKCSReq or RenewalReq, polled while PENDING. True when
    // a certificate came back.
    bool settle(step_outcome& s, dev::device_identity& id, std::optional<dev::reply_view> v) {
        if (!v) return false;
        if (v->status == pki_status::failure) {
            s.result = step_result::server_refused;
            s.kind = "failure";
            s.code = failure_code(*v);
            s.device_error = p_.error("failure");
            s.summary = failure_text(*v);
            return false;
        }
        if (v->status == pki_status::pending) {
            pending_ = true;
            auto& poll = add("poll");
            for (int i = 0; i < p_.poll_count; ++i) {
                wait(p_.poll_interval_s, poll, "poll " + std::to_string(i + 1) + " of " + std::to_string(p_.poll_count));
                bytes data = encode_issuer_and_subject(*X509_get_subject_name(cas_.ca),
                                                       *X509_REQ_get_subject_name(id.csr.get()));
                id.nonce = random_bytes(static_cast<std::size_t>(p_.nonce_bytes));
                auto pv = operation(poll, id, message_type::cert_poll, data, true);
                if (!pv) {
                    s.result = step_result::passed;
                    s.summary = "PENDING; polling stopped";
                    return false;
                }
                if (pv->status == pki_status::failure) {
                    poll.result = step_result::server_refused;
                    poll.kind = "failure";
                    poll.code = failure_code(*pv);
                    poll.summary = failure_text(*pv);
                    s.result = step_result::passed;
                    s.summary = "PENDING";
                    return false;
                }
                if (pv->status == pki_status::success) {
                    poll.result = step_result::passed;
                    poll.summary = "SUCCESS after " + std::to_string(i + 1) + " poll(s): " + dev::describe(*pv->issued);
                    issued_ = std::move(pv->issued);
                    record(poll, *issued_);
                    s.result = step_result::passed;
                    s.summary = "PENDING, then issued on poll " + std::to_string(i + 1);
                    return true;
                }
            }
            poll.result = step_result::device_refused;
            poll.kind = "pending-timeout";
            poll.code = "still PENDING";
            poll.device_error = p_.error("pending-timeout");
            poll.summary = "still PENDING after " + std::to_string(p_.poll_count) + " polls " +
                           std::to_string(p_.poll_interval_s) + " s apart";
            s.result = step_result::passed;
            s.summary = "PENDING";
            return false;
        }
        s.result = step_result::passed;
        s.summary = "SUCCESS: " + dev::describe(*v->issued);
        issued_ = std::move(v->issued);
        record(s, *issued_);
        return true;
    }

    bool enroll_step() {
        auto& s = add("enroll");
        auto ch = challenge();
        if (!ch) {
            s.result = step_result::server_refused;
            s.summary = "no challenge: " + ch.message();
            return false;
        }
        if (auto bad = dev::check_challenge(p_, *ch)) {
            refused(s, *bad);
            return false;
        }
        dev::identity_options io;
        io.challenge = *ch;
        io.device_name = o_.device_name;
        auto id = dev::make_identity(p_, io);
        if (!id) {
            s.result = step_result::device_refused;
            s.summary = "cannot make the device's key and request: " + id.message();
            return false;
        }
        id_ = std::move(*id);
        bytes csr = x509_req_to_der(*id_.csr);
        auto v = operation(s, id_, message_type::pkcs_req, csr, true);
        bool ok = settle(s, id_, std::move(v));
        if (!pending_) skip("poll", "no PENDING answer");
        return ok;
    }

    void renew_step() {
        auto& s = add("renew");
        if (!issued_) {
            s.summary = "no certificate to renew";
            return;
        }
        const bool advertised = dev::advertises(caps_.words, "Renewal");
        dev::identity_options io;
        io.device_name = o_.device_name;
        io.subject = name_to_string(*X509_get_subject_name(issued_.get()));  // a renewal keeps the subject
        message_type type = message_type::pkcs_req;
        std::string how;
        switch (p_.renewal) {
            case dev::renewal_rule::reenroll:
                how = "a new enrollment (the MDM pushes the profile again)";
                break;
            case dev::renewal_rule::pkcsreq_old_cert:
                how = "PKCSReq signed by the old certificate";
                io.old_cert = issued_.get();
                io.old_key = id_.key.get();
                break;
            case dev::renewal_rule::renewalreq_if_advertised:
                if (advertised) {
                    how = "RenewalReq signed by the old certificate";
                    type = message_type::renewal_req;
                    io.old_cert = issued_.get();
                    io.old_key = id_.key.get();
                } else {
                    how = "a new PKCSReq (Renewal is not advertised)";
                }
                break;
        }
        io.include_challenge = io.old_cert == nullptr || p_.renewal_challenge;
        if (io.include_challenge) {
            auto ch = challenge();
            if (!ch) {
                s.result = step_result::server_refused;
                s.summary = how + ": no challenge: " + ch.message();
                return;
            }
            io.challenge = *ch;
        }
        auto id = dev::make_identity(p_, io);
        if (!id) {
            s.result = step_result::device_refused;
            s.summary = "cannot make the renewal request: " + id.message();
            return;
        }
        bytes csr = x509_req_to_der(*id->csr);
        // The renewed identity keeps the old key object alive through id_.
        auto v = operation(s, *id, type, csr, true);
        bool pending_before = pending_;
        pending_ = false;
        const bool renewed = settle(s, *id, std::move(v));
        if (!s.summary.empty()) s.summary = how + ": " + s.summary;
        if (renewed) {
            // Later steps (GetCert, GetCRL) use the renewed certificate and its key.
            id_ = std::move(*id);
            id_.signer = dup(*issued_);
            id_.signer_key = id_.key.get();
        }
        pending_ = pending_before;
    }

    // GetCert and GetCRL: the device asks about the certificate it holds.
    void query_step(const std::string& name, bool uses, message_type type) {
        if (!uses) return skip(name, p_.name + " does not use " + name);
        auto& s = add(name);
        if (!issued_) {
            s.summary = "no certificate to ask about";
            return;
        }
        auto q = dev::signing_with(id_, *issued_, static_cast<std::size_t>(p_.nonce_bytes));
        bytes data = encode_issuer_and_serial(*X509_get_issuer_name(issued_.get()), *X509_get0_serialNumber(issued_.get()));
        const bool crl = type == message_type::get_crl;
        auto v = operation(s, q, type, data, !crl);
        if (!v) return;
        if (v->status != pki_status::success) {
            s.result = step_result::server_refused;
            s.summary = v->status == pki_status::failure ? failure_text(*v) : "PENDING to a " + name;
            s.code = v->status == pki_status::failure ? failure_code(*v) : "PENDING";
            return;
        }
        if (crl && v->crls.empty()) {
            s.result = step_result::device_refused;
            s.kind = "reply-certificate";
            s.code = "no CRL";
            s.summary = "SUCCESS without a CRL";
            return;
        }
        s.result = step_result::passed;
        s.summary = crl ? "a CRL from " + name_to_string(*X509_CRL_get_issuer(v->crls.front().get())) + ", " +
                              std::to_string(std::max(0, sk_X509_REVOKED_num(X509_CRL_get_REVOKED(v->crls.front().get())))) +
                              " revoked"
                        : "the issued certificate, " + std::to_string(v->certs.size()) + " certificate(s) in the reply";
    }

    void next_ca_step() {
        if (!p_.get_next_ca_cert) return skip("GetNextCACert", p_.name + " does not use GetNextCACert");
        if (!dev::advertises(caps_.words, "GetNextCACert")) return skip("GetNextCACert", "not advertised in GetCACaps");
        auto& s = add("GetNextCACert");
        std::optional<dev::refusal> stop;
        auto r = send(s, "GET", operation_target("GetNextCACert"), "", "", operation_target("GetNextCACert"), stop);
        if (!r) return refused(s, *stop);
        if (r->status != 200) {
            s.result = step_result::server_refused;
            s.kind = "http-error";
            s.code = "HTTP " + std::to_string(r->status);
            s.summary = "HTTP " + std::to_string(r->status) + " (no next CA prepared?)";
            return;
        }
        s.result = step_result::passed;
        s.summary = s.exchanges.back().summary;
    }
};

}  // namespace

result<std::string> probe_challenge(const probe_options& o, const scep_url& url, const std::string& label) {
    if (!o.challenge.empty()) return o.challenge;
    if (!o.challenge_file.empty()) {
        std::ifstream in(o.challenge_file);
        std::string line;
        if (!in || !std::getline(in, line)) return make_error("cannot read the challenge file " + o.challenge_file);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        return line;
    }
    if (!o.ndes_user.empty()) {
        std::string admin = o.ndes_admin_url.empty() ? base_of(url) + "/certsrv/mscep_admin/" : o.ndes_admin_url;
        auto u = parse_scep_url(admin);
        if (!u) return u.err();
        u->ca_file = url.ca_file;
        std::string cred = o.ndes_user + ":" + o.ndes_password;
        auto r = http_send(*u, "GET", u->path, "", {{"Authorization", "Basic " + base64_encode(byte_view(
                                                                      reinterpret_cast<const std::uint8_t*>(cred.data()), cred.size()))}},
                           http_style{}, std::chrono::seconds(o.timeout_seconds));
        if (!r) return make_error("the NDES admin page: " + r.message());
        if (r->status != 200) return make_error("the NDES admin page answered HTTP " + std::to_string(r->status));
        return password_from_admin_page(r->body);
    }
    if (!o.admin_token.empty()) {
        auto u = parse_scep_url(base_of(url));
        if (!u) return u.err();
        u->ca_file = url.ca_file;
        admin_client admin(*u, o.admin_token);
        auto v = admin.call("POST", "/admin/api/challenges",
                            json_text(json::object{{"uses", 1}, {"ttl", 600}, {"label", label}}));
        if (!v) return make_error("the lab's challenge API: " + v.message());
        if (!v->is_object() || !v->as_object().contains("challenge") || !v->as_object().at("challenge").is_string())
            return make_error("the lab's challenge API answered without a challenge");
        return std::string(v->as_object().at("challenge").as_string());
    }
    return std::string();
}

result<probe_report> run_probe(const probe_options& o, std::ostream& progress) {
    auto url = parse_scep_url(o.url);
    if (!url) return url.err();
    url->ca_file = o.ca_file;
    // Single DES (old Cisco IOS, jscep without DES3) is in OpenSSL's legacy provider.
    load_providers();
    // Files are read before any request, once: a bad one stops the run with its name.
    std::vector<x509_ptr> trusted_owned;
    std::vector<const X509*> trusted;
    if (!o.trust_file.empty()) {
        auto pem = read_file(o.trust_file);
        if (!pem) return make_error("--trust " + o.trust_file + ": " + pem.message());
        auto list = x509_list_from_pem(*pem);
        if (!list) return make_error("--trust " + o.trust_file + ": " + list.message());
        if (list->empty()) return make_error("--trust " + o.trust_file + ": no PEM certificate in it");
        trusted_owned = std::move(*list);
        for (const auto& c : trusted_owned) trusted.push_back(c.get());
    }
    if (!o.challenge_file.empty())
        if (auto first = probe_challenge(o, *url, "check"); !first) return first.err();
    std::vector<const persona*> chosen;
    for (const auto& name : o.personas) {
        if (name == "all") {
            for (const auto& p : dev::all()) chosen.push_back(&p);
            continue;
        }
        const persona* p = dev::find(name);
        if (!p) return make_error("no persona \"" + name + "\" (" + dev::names() + ", all)");
        if (std::find(chosen.begin(), chosen.end(), p) == chosen.end()) chosen.push_back(p);
    }
    if (chosen.empty() && o.suite.empty()) return make_error("no persona chosen (--persona NAME or all) and no --suite");
    probe_report report;
    report.url = redact_url(o.url);
    report.dry_run = o.dry_run;
    report.real_time = o.real_time;
    for (const persona* p : chosen) {
        persona_run run;
        run.persona = p->name;
        run.title = p->title;
        auto t0 = std::chrono::steady_clock::now();
        device_session(*p, o, *url, trusted, run, progress, report.server).run();
        run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ERR_clear_error();
        report.runs.push_back(std::move(run));
    }
    if (!o.suite.empty()) {
        if (o.suite != "rfc8894") return make_error("no suite \"" + o.suite + "\" (rfc8894)");
        auto suite = run_suite(o);
        if (!suite) return suite.err();
        report.suite = std::move(*suite);
    }
    return report;
}

}  // namespace scep::client
