// The probes behind docs/security.md, replayed against a running scep-lab
// (static challenge, HTTP on loopback): each sends what an attacker sent and
// prints the server's answer, one tab-separated row per probe.
//
//   security_probes URL DATA_DIR ADMIN_TOKEN
//   security_probes enroll URL [SUBJECT [CHALLENGE [TXID [SAN_EMAIL]]]]   one enrollment, its answer
//
// DATA_DIR is the server's: the probe that forges a renewal first plants a
// certificate for an e = 1 key, signed with the lab's issuing CA key, as
// builds before the fix issued them (scripts/security-probes.sh runs it).
#include <openssl/x509v3.h>

#include <atomic>
#include <functional>
#include <thread>
#include <iostream>
#include <regex>

#include "pki/scep/message.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/json_text.hpp"
#include "client/scep_client.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

struct context {
    client::scep_url url;
    std::filesystem::path data_dir;
    std::string token;
    std::vector<x509_ptr> ca;
    const X509* recipient = nullptr;
    const X509* signer = nullptr;
};

std::string describe(const client::http_reply& reply, const X509& ra) {
    if (reply.status != 200) return "HTTP " + std::to_string(reply.status);
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), ra);
    if (!rep) return "HTTP 200, unreadable reply";
    if (rep->status == pki_status::success) return "SUCCESS (issued)";
    if (rep->status == pki_status::pending) return "PENDING";
    std::string text = rep->fail_info_text.substr(0, 90);
    return "FAILURE " + std::string(rep->failure ? to_string(*rep->failure) : "?") + ": " + text;
}

// A PKCSReq/RenewalReq with this CSR, signed by cert/key.
std::string send(context& c, message_type type, const X509_REQ& csr, const X509& cert, const EVP_PKEY& key,
                 const std::string& txid = "") {
    pki_request_params p;
    p.type = type;
    p.transaction_id = txid.empty() ? make_transaction_id() : txid;
    p.sender_nonce = random_bytes(16);
    p.message_data = x509_req_to_der(csr);
    auto der = build_pki_request(p, cert, key, {c.recipient});
    if (!der) return "cannot build: " + der.message();
    auto reply = client::scep_client(c.url).pki_operation(*der, false);
    if (!reply) return "no answer: " + reply.message();
    return describe(*reply, *c.signer);
}

// A plain enrollment; the issued certificate, or null.
x509_ptr enroll(context& c, const test::requester& dev) {
    pki_request_params p;
    p.type = message_type::pkcs_req;
    p.transaction_id = make_transaction_id();
    p.sender_nonce = random_bytes(16);
    p.message_data = x509_req_to_der(*dev.csr);
    auto der = build_pki_request(p, *dev.signer, *dev.key, {c.recipient});
    auto reply = der ? client::scep_client(c.url).pki_operation(*der, false) : result<client::http_reply>(der.err());
    if (!reply) return nullptr;
    auto rep = parse_cert_rep(bytes(reply->body.begin(), reply->body.end()), *c.signer);
    if (!rep || rep->status != pki_status::success) return nullptr;
    auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
    return certs && !certs->empty() ? std::move(certs->front()) : nullptr;
}

std::string enroll_with_san(context& c, const bytes& san) {
    auto key = generate_key(key_type::rsa2048);
    auto csr = test::make_csr(**key, "CN=probe", {{NID_subject_alt_name, san}}, "scep-lab-challenge");
    auto signer = self_signed(**key, *X509_REQ_get_subject_name(csr.get()), std::chrono::system_clock::now());
    return send(c, message_type::pkcs_req, *csr, **signer, **key);
}

// 1. A certificate for an e = 1 key, then a renewal "signed" by it with d = 1.
std::string forged_renewal(context& c) {
    auto weak = test::rsa_key_with_exponent(1);
    auto ca_cert = x509_from_pem(*read_file(c.data_dir / "pki" / "issuing.crt"));
    auto ca_key = private_key_from_pem(*read_file(c.data_dir / "pki" / "issuing.key"));
    if (!ca_cert || !ca_key) return "cannot read the lab's issuing CA from the data dir";
    auto subject = parse_subject("CN=victim,O=scep-lab probes");
    cert_request cr;
    cr.subject = subject->get();
    cr.public_key = weak.get();
    cr.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    cr.not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 30);
    auto planted = sign_certificate(cr, ca_cert->get(), **ca_key);
    auto store = open_sqlite_store(c.data_dir / "scep-lab.db");
    if (!planted || !store || !(*store)->insert(make_record(**planted))) return "cannot plant the e = 1 certificate";
    auto csr = test::make_csr(*weak, "CN=victim,O=scep-lab probes",
                              {{NID_subject_alt_name, test::general_names_der({{GEN_DNS, "admin.corp.example"}})}});
    return send(c, message_type::renewal_req, *csr, **planted, *weak);
}

std::string enroll_e1(context& c) {
    auto dev = test::requester_with_key(test::rsa_key_with_exponent(1), "CN=probe-e1", "scep-lab-challenge");
    return send(c, message_type::pkcs_req, *dev.csr, *dev.signer, *dev.key);
}

std::string enroll_explicit_ec(context& c) {
    auto ec = test::ec_key_with_explicit_curve();
    auto csr = test::make_csr(*ec, "CN=probe-ec", {}, "scep-lab-challenge");
    auto rsa = generate_key(key_type::rsa2048);
    auto signer = self_signed(**rsa, *X509_REQ_get_subject_name(csr.get()), std::chrono::system_clock::now());
    return send(c, message_type::pkcs_req, *csr, **signer, **rsa);
}

std::string enroll_md5(context& c) {
    auto key = generate_key(key_type::rsa2048);
    auto csr = test::make_csr(**key, "CN=probe-md5", {}, "scep-lab-challenge", EVP_md5());
    auto signer = self_signed(**key, *X509_REQ_get_subject_name(csr.get()), std::chrono::system_clock::now());
    return send(c, message_type::pkcs_req, *csr, **signer, **key);
}

// 6. Enroll, renew, renew the same certificate again, and renew adding a name.
std::string renew_twice_and_add_a_name(context& c) {
    auto dev = test::make_requester({.subject = "CN=probe-renew", .challenge = "scep-lab-challenge",
                                     .dns_names = {"probe.lab"}});
    auto issued = enroll(c, dev);
    if (!issued) return "enrollment failed";
    const X509& old = *issued;
    auto same = test::make_csr(*dev.key, "CN=probe-renew",
                               {{NID_subject_alt_name, test::general_names_der({{GEN_DNS, "probe.lab"}})}});
    auto more = test::make_csr(*dev.key, "CN=probe-renew",
                               {{NID_subject_alt_name, test::general_names_der({{GEN_DNS, "probe.lab"}, {GEN_DNS, "evil.lab"}})}});
    std::string added = send(c, message_type::renewal_req, *more, old, *dev.key);
    std::string first = send(c, message_type::renewal_req, *same, old, *dev.key);
    std::string second = send(c, message_type::renewal_req, *same, old, *dev.key);
    return "adding evil.lab: " + added + " | renewal: " + first + " | same certificate again: " + second;
}

client::http_reply admin(context& c, const std::string& method, const std::string& target, const std::string& body,
                         const std::string& scheme = "Bearer ") {
    auto r = client::http_request(c.url, method, target, body,
                                  {{"Authorization", scheme + c.token}, {"Content-Type", "application/json"}});
    return r ? *r : client::http_reply{};
}

std::string short_body(const client::http_reply& r) {
    std::string b = r.body.substr(0, 110);
    while (!b.empty() && (b.back() == '\n' || b.back() == '\r')) b.pop_back();
    for (char& ch : b)
        if (ch == '\n' || ch == '\t') ch = ' ';
    return std::to_string(r.status) + " " + b;
}

// 4. Revocation reasons.
std::string revocation(context& c) {
    auto issued = enroll(c, test::make_requester({.subject = "CN=probe-revoke", .challenge = "scep-lab-challenge"}));
    if (!issued) return "enrollment failed";
    const std::string path = "/admin/api/certificates/" + serial_hex(*issued) + "/revoke";
    auto remove = admin(c, "POST", path, R"({"reason":"removeFromCRL"})");
    auto key = admin(c, "POST", path, R"({"reason":"keyCompromise"})");
    auto other = admin(c, "POST", path, R"({"reason":"superseded"})");
    return "removeFromCRL: " + short_body(remove) + " | keyCompromise: " + std::to_string(key.status) +
           " | then superseded: " + short_body(other);
}

// 5. Raw HTTP: how many answers come back, and whether the connection closes.
std::string raw(context& c, const std::string& request) {
    auto answer = test::raw_http_exchange(c.url.host, c.url.port, request, std::chrono::seconds(2));
    const std::string& got = answer.bytes;
    const bool closed = answer.closed;
    static const std::regex status("HTTP/1\\.[01] ([0-9]{3})");
    std::string codes;
    for (auto it = std::sregex_iterator(got.begin(), got.end(), status); it != std::sregex_iterator(); ++it)
        codes += (codes.empty() ? "" : ", ") + (*it)[1].str();
    std::smatch allow;
    static const std::regex allow_re("Allow: ([^\r]*)");
    std::string extra = std::regex_search(got, allow, allow_re) ? " (Allow: " + allow[1].str() + ")" : "";
    return "answers: " + (codes.empty() ? std::string("none") : codes) + extra +
           (closed ? "; connection closed" : "; connection left open");
}


// ---- Round two ----

// 10. Eight RenewalReqs of one certificate, released together: successors issued.
std::string renewal_race(context& c) {
    auto dev = test::make_requester({.subject = "CN=probe-race", .challenge = "scep-lab-challenge"});
    auto issued = enroll(c, dev);
    if (!issued) return "enrollment failed";
    constexpr int n = 8;
    // A 3,070-bit public exponent: ~15 ms per CSR check, the attack's window.
    auto fresh = test::requester_with_key(test::rsa_key_with_huge_exponent(), "CN=probe-race", "");
    const auto messages = test::renewal_requests(*fresh.csr, *issued, *dev.key, *c.recipient, n);
    std::atomic<int> ready{0}, successes{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            ++ready;
            while (ready.load() < n) std::this_thread::yield();
            auto reply = client::scep_client(c.url).pki_operation(messages[i], false);
            if (reply && describe(*reply, *c.signer).starts_with("SUCCESS")) ++successes;
        });
    for (auto& t : threads) t.join();
    return std::to_string(successes.load()) + " of " + std::to_string(n) + " issued a successor";
}

std::string healthz(context& c) {
    auto h = client::http_call(c.url, "GET", "/healthz", "", "", std::chrono::seconds(5));
    return h ? "/healthz " + std::to_string(h->status) : "/healthz: " + h.message();
}

std::string enroll_subject(context& c, const std::vector<std::pair<int, std::string>>& subject) {
    auto dev = test::requester_with_rdns(subject, "scep-lab-challenge");
    const auto start = std::chrono::steady_clock::now();
    std::string answer = send(c, message_type::pkcs_req, *dev.csr, *dev.signer, *dev.key);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return answer + " (" + std::to_string(ms.count()) + " ms); " + healthz(c);
}

// 11/12. A subject rule armed through the admin API, then a hostile subject.
std::string with_fault_rule(context& c, const std::string& pattern,
                            const std::vector<std::pair<int, std::string>>& subject) {
    auto armed = admin(c, "POST", "/admin/api/faults",
                       R"({"kind":"http-status","when":{"subject":")" + pattern + R"("}})");
    if (armed.status != 201 && armed.status != 200) return "arming the rule: " + short_body(armed);
    std::string answer = enroll_subject(c, subject);
    (void)admin(c, "DELETE", "/admin/api/faults", "");
    return answer;
}

// 13. Distinct operation= values: the exposition's size and series.
std::string metrics_cardinality(context& c) {
    for (int i = 0; i < 300; ++i)
        (void)client::http_call(c.url, "GET", "/scep?operation=probe" + std::to_string(i) + std::string(2000, 'z'), "", "");
    auto m = client::http_call(c.url, "GET", "/metrics", "", "");
    if (!m) return m.message();
    int series = 0;
    for (std::size_t at = 0; (at = m->body.find("scep_lab_http_requests_total{", at)) != std::string::npos; ++at) ++series;
    return "/metrics " + std::to_string(m->body.size()) + " bytes, " + std::to_string(series) + " request series" +
           (m->body.find("probe17") == std::string::npos ? "" : ", client values among the labels");
}

// 14. A CSR with 6,000 extensions: the size of its recorded row.
std::string many_extensions(context& c) {
    auto key = generate_key(key_type::rsa2048);
    const auto many = test::many_extensions(6000);
    auto csr = test::make_csr(**key, "CN=probe-many", many, "scep-lab-challenge");
    auto signer = self_signed(**key, *X509_REQ_get_subject_name(csr.get()), std::chrono::system_clock::now());
    std::string answer = send(c, message_type::pkcs_req, *csr, **signer, **key);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the recorder writes in the background
    auto list = client::http_call(c.url, "GET", "/transactions.json?operation=PKIOperation&limit=1", "", "");
    if (!list) return list.message();
    auto at = list->body.find("\"id\":");
    if (at == std::string::npos) return "no transaction recorded";
    const std::string id = list->body.substr(at + 5, list->body.find_first_of(",}", at) - at - 5);
    auto row = client::http_call(c.url, "GET", "/transactions/" + id + ".json", "", "");
    auto page = client::http_call(c.url, "GET", "/transactions/" + id, "", "");
    if (!row || !page) return "cannot read the row";
    return "row JSON " + std::to_string(row->body.size()) + " bytes, page " + std::to_string(page->body.size()) +
           " bytes (" + answer.substr(0, 40) + ")";
}

// 15. Revoked for keyCompromise, then the key's holder re-signs a new PKCSReq.
std::string compromised_key_again(context& c) {
    auto dev = test::make_requester({.subject = "CN=probe-compromised", .challenge = "scep-lab-challenge"});
    auto issued = enroll(c, dev);
    if (!issued) return "enrollment failed";
    auto revoked = admin(c, "POST", "/admin/api/certificates/" + serial_hex(*issued) + "/revoke",
                         R"({"reason":"keyCompromise"})");
    if (revoked.status != 200) return "revocation: " + short_body(revoked);
    return send(c, message_type::pkcs_req, *dev.csr, *dev.signer, *dev.key);
}

// 16. RSASSA-PSS whose parameters name MD5 as its hash and MGF1 hash.
std::string enroll_pss_md5(context& c) {
    auto key = generate_key(key_type::rsa2048);
    auto req = test::make_pss_csr(**key, "probe-pss-md5", EVP_md5(), EVP_md5(), "scep-lab-challenge");
    auto signer = self_signed(**key, *X509_REQ_get_subject_name(req.get()), std::chrono::system_clock::now());
    return send(c, message_type::pkcs_req, *req, **signer, **key);
}

// 17. A User-Agent with bytes that are not UTF-8: is /transactions.json still UTF-8?
std::string non_utf8_agent(context& c) {
    (void)test::raw_http_exchange(c.url.host, c.url.port,
                                  "GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\nUser-Agent: probe\xff\xfe\xc3(\r\n"
                                  "Connection: close\r\n\r\n",
                                  std::chrono::seconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto list = client::http_call(c.url, "GET", "/transactions.json?limit=5", "", "");
    if (!list) return list.message();
    if (list->body.find("probe") == std::string::npos) return "not recorded";
    return is_valid_utf8(list->body) ? "valid UTF-8 (the bytes became U+FFFD)" : "holds bytes that are not UTF-8";
}

}  // namespace
}  // namespace scep

int main(int argc, char** argv) {
    using namespace scep;
    const bool one_enrollment = argc >= 3 && argc <= 7 && std::string(argv[1]) == "enroll";
    if (argc != 4 && !one_enrollment) {
        std::cerr << "usage: security_probes URL DATA_DIR ADMIN_TOKEN | security_probes enroll URL [SUBJECT [CHALLENGE "
                     "[TRANSACTION_ID [SAN_EMAIL]]]]\n";
        return 2;
    }
    load_providers();
    context c;
    auto url = client::parse_scep_url(argv[one_enrollment ? 2 : 1]);
    if (!url) {
        std::cerr << url.message() << "\n";
        return 2;
    }
    c.url = *url;
    if (!one_enrollment) {
        c.data_dir = argv[2];
        c.token = argv[3];
    }
    auto ca = client::scep_client(c.url).get_ca_cert();
    if (!ca) {
        std::cerr << "GetCACert: " << ca.message() << "\n";
        return 1;
    }
    c.ca = std::move(*ca);
    c.recipient = client::select_recipient(c.ca);
    c.signer = client::select_signer(c.ca);
    if (one_enrollment) {
        auto dev = test::make_requester({.subject = argc > 3 ? argv[3] : "CN=probe-enroll",
                                         .challenge = argc > 4 ? argv[4] : "scep-lab-challenge"});
        if (argc > 6)  // a subjectAltName email:ARG as well
            dev.csr = test::make_csr(*dev.key, argc > 3 ? argv[3] : "CN=probe-enroll",
                                     {{NID_subject_alt_name, test::general_names_der({{GEN_EMAIL, argv[6]}})}},
                                     argc > 4 ? argv[4] : "scep-lab-challenge");
        std::cout << send(c, message_type::pkcs_req, *dev.csr, *dev.signer, *dev.key, argc > 5 ? argv[5] : "") << "\n";
        return 0;
    }
    const std::string smuggle = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::vector<std::pair<std::string, std::function<std::string()>>> probes{
        {"1 RenewalReq forged with an e=1 certificate (no key, no challenge, adds a SAN)", [&] { return forged_renewal(c); }},
        {"1 PKCSReq with an e=1 key", [&] { return enroll_e1(c); }},
        {"1 PKCSReq with an explicit-curve EC key", [&] { return enroll_explicit_ec(c); }},
        {"1 PKCSReq with an MD5-signed CSR", [&] { return enroll_md5(c); }},
        {"3 SAN DNS:good.com\\0.evil.com",
         [&] { return enroll_with_san(c, test::general_names_der({{GEN_DNS, std::string("good.com\0.evil.com", 18)}})); }},
        {"3 SAN DNS:*", [&] { return enroll_with_san(c, test::general_names_der({{GEN_DNS, "*"}})); }},
        {"3 SAN DNS:*.*.com", [&] { return enroll_with_san(c, test::general_names_der({{GEN_DNS, "*.*.com"}})); }},
        {"3 SAN extension that does not decode", [&] { return enroll_with_san(c, bytes{0x30, 0x05, 0x82, 0x10, 'a'}); }},
        {"4 revoke: removeFromCRL, then keyCompromise, then superseded", [&] { return revocation(c); }},
        {"5 POST with Transfer-Encoding: xchunked + a second request in the body",
         [&] {
             return raw(c, "POST /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" +
                               smuggle);
         }},
        {"5 Transfer-Encoding: chunked, gzip",
         [&] {
             return raw(c, "POST /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" +
                               smuggle);
         }},
        {"5 HTTP/1.1 without Host", [&] { return raw(c, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"); }},
        {"5 two Host headers",
         [&] { return raw(c, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"); }},
        {"5 absolute-form target",
         [&] { return raw(c, "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); }},
        {"5 PUT /ca/root.pem",
         [&] { return raw(c, "PUT /ca/root.pem HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); }},
        {"5 DELETE /healthz", [&] { return raw(c, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); }},
        {"6 renew adding a SAN, renew, renew the same certificate again", [&] { return renew_twice_and_add_a_name(c); }},
        {"9 admin subject filter of 50,000 characters",
         [&] { return short_body(admin(c, "GET", "/admin/api/certificates?subject=" + std::string(50000, 'a'), "")); }},
        {"9 admin offset=9223372036854775808",
         [&] {
             auto r = admin(c, "GET", "/admin/api/certificates?offset=9223372036854775808&limit=1", "");
             return short_body(r);
         }},
        {"9 PKIOperation whose transactionID holds a newline and ESC (the log is checked by the script)",
         [&] {
             auto dev = test::make_requester({.subject = "CN=probe-log", .challenge = "scep-lab-challenge"});
             pki_request_params p;
             p.type = message_type::pkcs_req;
             p.transaction_id = "PROBE\nforged-log-line\x1b[2J";
             p.sender_nonce = random_bytes(16);
             p.message_data = x509_req_to_der(*dev.csr);
             auto reply = client::scep_client(c.url).pki_operation(
                 *build_pki_request(p, *dev.signer, *dev.key, {c.recipient}), false);
             return reply ? describe(*reply, *c.signer) : reply.message();
         }},
        {"9 Authorization: bearer <token> (lower case)",
         [&] { return std::to_string(admin(c, "GET", "/admin/api/certificates?limit=1", "", "bearer ").status); }},
        {"13 300 distinct operation= values of 2 KB", [&] { return metrics_cardinality(c); }},
        {"14 PKCSReq whose CSR carries 6,000 extensions", [&] { return many_extensions(c); }},
        {"15 revoked for keyCompromise, the same key enrolls again", [&] { return compromised_key_again(c); }},
        {"16 PKCSReq whose CSR is signed RSASSA-PSS with MD5", [&] { return enroll_pss_md5(c); }},
        {"17 User-Agent with bytes that are not UTF-8", [&] { return non_utf8_agent(c); }},
        {"10 eight RenewalReqs of one certificate released together", [&] { return renewal_race(c); }},
        {"12 fault rule (a+)+b then a PKCSReq with CN a x 40",
         [&] { return with_fault_rule(c, "(a+)+b", {{NID_commonName, std::string(40, 'a')}}); }},
        {"11 fault rule .*CN=vip-.* then a PKCSReq whose O has 200,000 characters",
         [&] {
             return with_fault_rule(c, ".*CN=vip-.*",
                                    {{NID_commonName, "vip-1"}, {NID_organizationName, std::string(200000, 'o')}});
         }},
    };
    std::cout << "probe\tanswer\n";
    for (const auto& [name, run] : probes) {
        std::string answer;
        try {
            answer = run();
        } catch (const std::exception& e) {
            answer = std::string("probe error: ") + e.what();
        }
        std::cout << name << "\t" << answer << "\n" << std::flush;
    }
    return 0;
}
