// `scep-lab probe --suite rfc8894`: a server compliance suite. Each check
// names its RFC 8894 section; positive checks enroll as the RFC's client
// does, negative ones send what a server must refuse and report a finding
// when it accepts, and shape checks read the server's answers with each
// device persona's acceptance rules (docs/probe.md).
#include <openssl/err.h>

#include <algorithm>
#include <functional>

#include "client/probe.hpp"
#include "pki/crypto/der.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/inspect/analysis.hpp"
#include "pki/scep/fault_replies.hpp"
#include "pki/store/store.hpp"

namespace scep::client {

namespace dev = scep::persona;

const std::vector<suite_spec>& suite_specs() {
    // id, RFC 8894 section, what a correct server does.
    static const std::vector<suite_spec> all{
        {"caps.answer", "§3.5.1", "GetCACaps answers 200 with text/plain"},
        {"caps.lines", "§3.5.2", "one keyword per line, printable ASCII"},
        {"caps.known", "§3.5.2", "only keywords RFC 8894 defines (others are ignored by clients; a note)"},
        {"caps.sha256", "§3.5.2", "SHA-256 (or SCEPStandard) advertised"},
        {"caps.aes", "§3.5.2", "AES (or SCEPStandard) advertised"},
        {"caps.post", "§3.5.2, §4.1", "POSTPKIOperation advertised"},
        {"caps.scepstandard", "§3.5.2", "SCEPStandard comes with AES, POSTPKIOperation and SHA-256"},
        {"cacert.answer", "§4.2.1", "GetCACert answers 200"},
        {"cacert.content-type", "§4.2.1", "application/x-x509-ca-cert or application/x-x509-ca-ra-cert"},
        {"cacert.parses", "§4.2.1.1, §4.2.1.2", "a DER certificate, or a degenerate SignedData with the certificates"},
        {"cacert.shape", "§4.2.1", "x-x509-ca-cert for one certificate, x-x509-ca-ra-cert for several"},
        {"cacert.ca", "§4.2.1.2", "a CA certificate (basicConstraints cA) is among them"},
        {"cacert.ra-issued-by-ca", "§2.1.2, §4.2.1.2", "each RA certificate was issued by a CA in the answer"},
        {"cacert.ra-key-usage", "§2.1.2", "each RA certificate has a key usage saying its role"},
        {"cacert.encryption", "§2.1.2, §3.2.2", "a certificate with keyEncipherment and an RSA key to encrypt to"},
        {"cacert.valid", "§2.1.2", "every certificate is within its validity period"},
        {"cacert.exact", "§4.2.1", "the body is exactly the certificate or SignedData, nothing after it"},
        {"enroll.pkcsreq", "§3.3.1", "a PKCSReq with the challenge is answered SUCCESS (or PENDING)"},
        {"reply.content-type", "§4.3", "the CertRep comes as application/x-pki-message"},
        {"reply.signature", "§3.2", "the CertRep verifies against the RA certificate"},
        {"reply.message-type", "§3.2.1.2", "messageType is CertRep (3)"},
        {"reply.transaction-id", "§3.2.1.1", "transactionID is the request's"},
        {"reply.recipient-nonce", "§3.2.1.5", "recipientNonce is the request's senderNonce"},
        {"reply.sender-nonce", "§3.2.1.5", "a senderNonce of its own"},
        {"reply.status", "§3.2.1.3", "pkiStatus a PrintableString"},
        {"reply.certificate", "§3.3.2", "the envelope opens with the request's key and carries a certificate for its key"},
        {"reply.subject", "§3.3.1", "the certificate names the subject requested (a note when the CA changes it)"},
        {"reply.validity", "§3.3.2", "the certificate issued is valid now"},
        {"reply.issuer", "§3.3.2, §4.2.1.2", "the certificate issued was signed by a CA GetCACert returned"},
        {"reply.attribute-order", "§3.2, RFC 5652 §5.4", "the CertRep's signed attributes are in DER order"},
        {"reply.exact", "§4.3", "the body is exactly the pkiMessage, nothing after it"},
        {"enroll.get", "§4.1", "a PKIOperation by GET is answered too"},
        {"enroll.ber", "§3, RFC 5652", "a request in BER with indefinite lengths (as iOS sends) is answered"},
        {"poll.done", "§3.3.3", "CertPoll for the issued transaction is answered with its certificate (or FAILURE), not an error"},
        {"getcert", "§3.3.3", "GetCert for the issued certificate returns it"},
        {"getcrl", "§3.3.4", "GetCRL returns a CRL"},
        {"getnextcacert", "§4.7", "GetNextCACert, when advertised, answers 200 or says there is none"},
        {"renewal", "§3.3.1.2", "a RenewalReq signed by the old certificate, when Renewal is advertised, is answered SUCCESS"},
        {"neg.bad-signature", "§3.2", "a request whose signature does not verify is refused (badMessageCheck)"},
        {"neg.wrong-challenge", "§2.5", "a wrong challenge is refused"},
        {"neg.missing-challenge", "§2.5", "no challenge is refused"},
        {"neg.unknown-transaction", "§3.3.3", "CertPoll for a transaction the server never saw is refused (badCertId)"},
        {"neg.replay", "§3.2.1.1", "the same PKCSReq again after issuance issues no second certificate"},
        {"neg.wrong-recipient", "§3.2.2", "an envelope for another recipient is refused (badMessageCheck)"},
        {"neg.single-des", "§2.9, §3.5.2", "single DES, not advertised, is refused (badAlg)"},
        {"neg.md5", "§2.9", "an MD5 digest is refused (badAlg)"},
        {"neg.tampered-csr", "§3.3.1", "a CSR whose own signature does not verify is refused"},
        {"neg.attribute-order", "§3.2, RFC 5652 §5.4", "signed attributes out of DER order, signed as sent, are refused"},
        {"neg.renewal-unknown-signer", "§3.3.1.2", "a RenewalReq signed by a certificate the CA did not issue is refused"},
        {"neg.unknown-message-type", "§3.2.1.2", "an undefined messageType is refused (badRequest)"},
        {"neg.getcert-unknown", "§3.3.3", "GetCert for a serial the CA never issued is refused (badCertId)"},
        {"neg.truncated", "§4.3", "a truncated pkiMessage is refused (HTTP 4xx or FAILURE), not a server error"},
        {"neg.garbage", "§4.3", "a body that is no pkiMessage is refused (HTTP 4xx), not a server error"},
        {"neg.oversized", "§4.3", "a 4 MB body is refused (HTTP 413 or 4xx), not a server error or a hang"},
        {"neg.no-message", "§4.1", "GET PKIOperation without message= is refused (HTTP 4xx)"},
        {"neg.unknown-operation", "§4.1", "an operation RFC 8894 does not define is refused (HTTP 4xx)"},
    };
    return all;
}

namespace {

struct answer {
    int status = 0;  // 0: no answer
    std::string content_type, body, error;
};

enum class outcome { success, failure, pending, refused_http, server_error, no_answer, unreadable };

std::string outcome_text(outcome o, const answer& a, const dev::reply_view* v) {
    switch (o) {
        case outcome::success: return "SUCCESS";
        case outcome::pending: return "PENDING";
        case outcome::failure:
            return "FAILURE" + (v && v->failure ? " " + std::string(scep::to_string(*v->failure)) : std::string());
        case outcome::refused_http: return "HTTP " + std::to_string(a.status);
        case outcome::server_error: return "HTTP " + std::to_string(a.status) + " (a server error)";
        case outcome::no_answer: return "no answer: " + a.error;
        case outcome::unreadable: return "HTTP " + std::to_string(a.status) + " with no readable CertRep";
    }
    return "?";
}

class suite_run {
public:
    suite_run(const probe_options& o, scep_url url, suite_report& out) : o_(o), url_(std::move(url)), out_(out) {
        url_.max_reply_bytes = o.max_reply_bytes;
    }

    void run() {
        caps();
        cacert();
        shapes_before_enrollment();
        if (o_.dry_run) {
            for (const auto& s : suite_specs())
                if (!done(std::string(s.id))) skip(std::string(s.id), "dry run: nothing is sent that could issue");
            return;
        }
        if (!ra_) {
            for (const auto& s : suite_specs())
                if (!done(std::string(s.id))) skip(std::string(s.id), "no certificate to encrypt to: the enrollment checks cannot run");
            return;
        }
        enroll();
        shapes_after_enrollment();  // on the first CertRep, before later requests change the identity
        other_operations();
        negatives();
        for (const auto& s : suite_specs())
            if (!done(std::string(s.id))) skip(std::string(s.id), "not reached");
    }

private:
    const probe_options& o_;
    scep_url url_;
    suite_report& out_;
    const dev::persona& g_ = *dev::find("rfc8894");
    std::vector<std::string> words_;
    int caps_status_ = 0;
    dev::caps_choice caps_;
    answer cacert_answer_;
    dev::ca_view cas_;
    const X509* ra_ = nullptr;       // encrypt to
    const X509* signer_ = nullptr;   // replies verified with
    answer enroll_answer_;
    std::optional<dev::device_identity> id_;
    bytes first_request_;
    x509_ptr issued_;

    const suite_spec& spec(const std::string& id) const {
        for (const auto& s : suite_specs())
            if (s.id == id) return s;
        throw std::logic_error("no suite check " + id);
    }
    bool done(const std::string& id) const {
        return std::any_of(out_.checks.begin(), out_.checks.end(), [&](const suite_check& c) { return c.id == id; });
    }
    void record(const std::string& id, std::string result, std::string detail, std::string persona = {}) {
        const auto& s = spec(id);
        out_.checks.push_back(suite_check{id, std::string(s.section), std::string(s.title), std::move(result),
                                          std::move(detail), std::move(persona)});
    }
    void pass(const std::string& id, std::string detail = {}) { record(id, "pass", std::move(detail)); }
    void finding(const std::string& id, std::string detail) { record(id, "finding", std::move(detail)); }
    void note(const std::string& id, std::string detail) { record(id, "note", std::move(detail)); }
    void skip(const std::string& id, std::string detail) { record(id, "skipped", std::move(detail)); }
    void check(const std::string& id, bool ok, const std::string& detail) { ok ? pass(id, detail) : finding(id, detail); }

    void remember(const X509& cert) {
        const std::string serial = serial_hex(cert);
        for (const auto& m : out_.certificates)
            if (m.serial == serial) return;
        out_.certificates.push_back(minted{"suite", "rfc8894", serial, name_to_string(*X509_get_subject_name(&cert)),
                                           time_to_iso8601(*X509_get0_notAfter(&cert))});
    }

    answer http(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& content_type = {}) {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
        http_style style;
        style.user_agent = "scep-lab-probe (suite rfc8894)";
        auto r = http_send(url_, method, target, body, headers, style, std::chrono::seconds(o_.timeout_seconds));
        answer a;
        if (!r) {
            a.error = r.message();
            return a;
        }
        a.status = r->status;
        a.content_type = r->content_type;
        a.body = std::move(r->body);
        return a;
    }
    answer operation(const std::string& op) { return http("GET", url_.path + "?operation=" + op); }
    answer pki(byte_view der, bool get = false) {
        if (get || !caps_.post)
            return http("GET", url_.path + "?operation=PKIOperation&message=" + base64_query_value(der));
        return http("POST", url_.path + "?operation=PKIOperation", std::string(der.begin(), der.end()),
                    "application/x-pki-message");
    }

    outcome classify(const answer& a, const dev::device_identity& id, dev::reply_view* v = nullptr,
                     bool expect_certificate = true) {
        if (a.status == 0) return outcome::no_answer;
        if (a.status >= 500) return outcome::server_error;
        if (a.status >= 400) return outcome::refused_http;
        dev::reply_view local;
        dev::reply_view& r = v ? *v : local;
        r = dev::read_reply(g_, a.status, a.content_type, a.body, *signer_, id, expect_certificate);
        ERR_clear_error();
        if (!r.status) return outcome::unreadable;
        if (*r.status == pki_status::failure) return outcome::failure;
        if (*r.status == pki_status::pending) return outcome::pending;
        if (r.issued) remember(*r.issued);
        return outcome::success;
    }

    // A new device identity; its challenge fetched from the options' source
    // (nullopt), the given text, or none ("").
    result<dev::device_identity> identity(std::optional<std::string> challenge = std::nullopt) {
        dev::identity_options io;
        if (!challenge) {
            auto fetched = probe_challenge(o_, url_, "probe suite");
            if (!fetched) return fetched.err();
            challenge = *fetched;
        }
        io.challenge = *challenge;
        io.include_challenge = !challenge->empty();
        io.device_name = o_.device_name.empty() ? "suite" : o_.device_name;
        return dev::make_identity(g_, io);
    }
    result<bytes> request(const dev::device_identity& id, message_type type, byte_view data,
                          std::optional<content_cipher> cipher = {}, std::optional<digest_alg> digest = {},
                          const X509* recipient = nullptr) {
        dev::caps_choice c = caps_;
        if (cipher) c.cipher = cipher;
        if (digest) c.digest = digest;
        return dev::build_request(g_, id, type, data, c, recipient ? *recipient : *ra_);
    }

    void caps() {
        auto a = operation("GetCACaps");
        caps_ = dev::choose(g_, a.status, a.body);
        caps_status_ = a.status;
        words_ = caps_.words;
        std::string ct = ascii_lower(media_type(a.content_type));
        check("caps.answer", a.status == 200 && ct == "text/plain",
              a.status ? "HTTP " + std::to_string(a.status) + " " + printable_text(a.content_type, 60, '?')
                       : "no answer: " + a.error);
        if (a.status != 200) {
            for (const char* id : {"caps.lines", "caps.known", "caps.sha256", "caps.aes", "caps.post", "caps.scepstandard"})
                skip(id, "no capabilities");
            return;
        }
        bool crlf = a.body.find("\r\n") != std::string::npos;
        bool spaces = std::any_of(words_.begin(), words_.end(), [](const std::string& w) {
            return std::any_of(w.begin(), w.end(), [](char c) { return c <= ' ' || c > '~'; });
        });
        check("caps.lines", !spaces, std::to_string(words_.size()) + " keywords" + (crlf ? ", CRLF line ends" : ", LF line ends"));
        static const char* known[] = {"AES", "DES3", "GetNextCACert", "POSTPKIOperation", "Renewal", "SHA-1",
                                      "SHA-256", "SHA-512", "SCEPStandard", "SHA-224", "SHA-384", "Update"};
        std::string unknown;
        for (const auto& w : words_)
            if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return ascii_iequals(w, k); }))
                unknown += (unknown.empty() ? "" : ", ") + printable_text(w, 40, '?');
        if (unknown.empty())
            pass("caps.known");
        else
            note("caps.known", "not in RFC 8894: " + unknown);
        auto has = [&](const char* k) { return dev::advertises(words_, k); };
        const bool standard = has("SCEPStandard");
        check("caps.sha256", has("SHA-256") || standard, has("SHA-256") ? "SHA-256" : standard ? "SCEPStandard" : "neither");
        check("caps.aes", has("AES") || standard, has("AES") ? "AES" : standard ? "SCEPStandard" : "neither");
        check("caps.post", has("POSTPKIOperation") || standard, has("POSTPKIOperation") ? "advertised" : "not advertised");
        if (!standard)
            skip("caps.scepstandard", "SCEPStandard not advertised");
        else
            check("caps.scepstandard", has("AES") && has("POSTPKIOperation") && has("SHA-256"),
                  std::string("AES ") + (has("AES") ? "yes" : "no") + ", POSTPKIOperation " +
                      (has("POSTPKIOperation") ? "yes" : "no") + ", SHA-256 " + (has("SHA-256") ? "yes" : "no"));
    }

    void cacert() {
        cacert_answer_ = operation("GetCACert");
        const answer& a = cacert_answer_;
        check("cacert.answer", a.status == 200, a.status ? "HTTP " + std::to_string(a.status) : "no answer: " + a.error);
        if (a.status != 200) return;
        std::string ct = ascii_lower(media_type(a.content_type));
        bool single = ct == "application/x-x509-ca-cert", multi = ct == "application/x-x509-ca-ra-cert";
        check("cacert.content-type", single || multi, printable_text(a.content_type, 80, '?'));
        cas_ = dev::read_ca_certs(g_, a.status, a.content_type, a.body);
        if (cas_.certs.empty()) {
            // Read it whatever the content type said, to go on checking.
            bytes der(a.body.begin(), a.body.end());
            if (auto one = x509_from_der(der)) cas_.certs.push_back(std::move(*one));
            else if (auto many = parse_degenerate(der)) cas_.certs = std::move(*many);
            ERR_clear_error();
        }
        check("cacert.parses", !cas_.certs.empty(),
              cas_.certs.empty() ? "neither a DER certificate nor a degenerate SignedData"
                                 : std::to_string(cas_.certs.size()) + " certificate(s)");
        if (cas_.certs.empty()) return;
        check("cacert.shape", (single && cas_.certs.size() == 1) || (multi && cas_.certs.size() >= 1),
              std::to_string(cas_.certs.size()) + " certificate(s) as " + printable_text(ct, 60, '?'));
        std::vector<const X509*> cas, ras;
        for (const auto& c : cas_.certs) (X509_check_ca(c.get()) ? cas : ras).push_back(c.get());
        check("cacert.ca", !cas.empty(), std::to_string(cas.size()) + " CA certificate(s)");
        std::string orphan, no_ku;
        for (const X509* r : ras) {
            bool issued = std::any_of(cas.begin(), cas.end(), [&](const X509* c) {
                return X509_check_issued(const_cast<X509*>(c), const_cast<X509*>(r)) == X509_V_OK;
            });
            if (!issued) orphan += (orphan.empty() ? "" : "; ") + dev::describe(*r);
            if (X509_get_key_usage(const_cast<X509*>(r)) == UINT32_MAX) no_ku += (no_ku.empty() ? "" : "; ") + dev::describe(*r);
        }
        if (ras.empty()) {
            skip("cacert.ra-issued-by-ca", "no RA certificate: the CA is the RA");
            skip("cacert.ra-key-usage", "no RA certificate");
        } else {
            check("cacert.ra-issued-by-ca", orphan.empty(), orphan.empty() ? "every RA chains to a CA sent" : "not issued by a CA sent: " + orphan);
            check("cacert.ra-key-usage", no_ku.empty(), no_ku.empty() ? "every RA has a key usage" : "without key usage: " + no_ku);
        }
        if (!cas_.stop) {
            ra_ = cas_.encrypt_to;
            signer_ = cas_.verify_with;
        }
        check("cacert.encryption", ra_ != nullptr,
              ra_ ? "encrypts to " + dev::describe(*ra_) : (cas_.stop ? cas_.stop->why : "no certificate to encrypt to"));
        auto now = std::chrono::system_clock::now();
        std::string expired;
        for (const auto& c : cas_.certs)
            if (asn1_time_point(*X509_get0_notAfter(c.get())) < now || asn1_time_point(*X509_get0_notBefore(c.get())) > now)
                expired += (expired.empty() ? "" : "; ") + dev::describe(*c);
        check("cacert.valid", expired.empty(), expired.empty() ? "all within their validity" : "outside their validity: " + expired);
        exact("cacert.exact", a.body);
    }

    // One DER object and nothing after it (a definite length; BER is not sent by servers).
    void exact(const std::string& id, const std::string& body) {
        bytes der(body.begin(), body.end());
        auto tlv = read_der_tlv(der, 0);
        if (!tlv) return finding(id, "the body does not start with one DER object");
        check(id, tlv->end() == der.size(),
              tlv->end() == der.size() ? std::to_string(der.size()) + " bytes"
                                       : std::to_string(der.size() - tlv->end()) + " byte(s) after the " +
                                             std::to_string(tlv->end()) + "-byte object");
    }

    // Each persona's rules applied to what the server answered.
    void shapes_before_enrollment() {
        for (const auto& p : dev::all()) {
            if (p.name == "rfc8894") continue;
            auto c = dev::choose(p, caps_status_, words_joined());
            std::string id = "shape." + p.name;
            if (!c.stop.empty()) {
                shape(p, "GetCACaps", c.why + " [" + p.error(c.stop) + "]");
                continue;
            }
            auto v = dev::read_ca_certs(p, cacert_answer_.status, cacert_answer_.content_type, cacert_answer_.body);
            if (v.stop) shape(p, "GetCACert", v.stop->why + (v.stop->device_error.empty() ? "" : " [" + v.stop->device_error + "]"));
        }
    }
    std::string words_joined() const {
        std::string out;
        for (const auto& w : words_) out += w + "\n";
        return out;
    }
    void shape(const dev::persona& p, const std::string& where, const std::string& why) {
        out_.checks.push_back(suite_check{"shape." + p.name, "§4.2.1, §3.3.2",
                                          p.title + " accepts the server's answers", "finding",
                                          where + ": " + why, p.name});
    }
    void shapes_after_enrollment() {
        for (const auto& p : dev::all()) {
            if (p.name == "rfc8894") continue;
            bool already = std::any_of(out_.checks.begin(), out_.checks.end(),
                                       [&](const suite_check& c) { return c.id == "shape." + p.name; });
            if (already) continue;
            if (id_ && enroll_answer_.status == 200) {
                auto v = dev::read_reply(p, enroll_answer_.status, enroll_answer_.content_type, enroll_answer_.body,
                                         *signer_, *id_, true);
                ERR_clear_error();
                if (v.stop) {
                    shape(p, "CertRep", v.stop->why + (v.stop->device_error.empty() ? "" : " [" + v.stop->device_error + "]"));
                    continue;
                }
            }
            out_.checks.push_back(suite_check{"shape." + p.name, "§4.2.1, §3.3.2", p.title + " accepts the server's answers",
                                              "pass", "GetCACaps, GetCACert and the CertRep read as its rules read them", p.name});
        }
    }

    void enroll() {
        auto id = identity();
        if (!id) return finding("enroll.pkcsreq", "cannot build the request: " + id.message());
        bytes csr = x509_req_to_der(*id->csr);
        auto der = request(*id, message_type::pkcs_req, csr);
        if (!der) return finding("enroll.pkcsreq", "cannot build the request: " + der.message());
        first_request_ = *der;
        enroll_answer_ = pki(*der);
        dev::reply_view v;
        outcome o = classify(enroll_answer_, *id, &v);
        id_ = std::move(*id);
        const answer& a = enroll_answer_;
        check("enroll.pkcsreq", o == outcome::success || o == outcome::pending,
              outcome_text(o, a, &v) + (v.fail_info_text.empty() ? "" : " (" + printable_text(v.fail_info_text, 120, '?') + ")"));
        if (a.status != 200) {
            for (const char* c : {"reply.content-type", "reply.signature", "reply.message-type", "reply.transaction-id",
                                  "reply.recipient-nonce", "reply.sender-nonce", "reply.status", "reply.certificate", "reply.subject",
                                  "reply.validity", "reply.issuer", "reply.attribute-order", "reply.exact"})
                skip(c, "no CertRep");
            return;
        }
        std::string ct = ascii_lower(media_type(a.content_type));
        check("reply.content-type", ct == "application/x-pki-message", printable_text(a.content_type, 80, '?'));
        bytes body(a.body.begin(), a.body.end());
        auto rep = parse_cert_rep(body, *signer_);
        ERR_clear_error();
        check("reply.signature", rep.has_value(), rep ? "verifies against " + dev::describe(*signer_) : rep.message());
        auto report = inspect::analyze_reply(a.body, a.content_type);
        if (!rep) {
            for (const char* c : {"reply.message-type", "reply.transaction-id", "reply.recipient-nonce", "reply.sender-nonce",
                                  "reply.status", "reply.certificate", "reply.subject", "reply.validity", "reply.issuer",
                                  "reply.attribute-order"})
                skip(c, "the CertRep does not verify");
            exact("reply.exact", a.body);
            return;
        }
        check("reply.message-type", rep->type == 3, "messageType " + std::to_string(rep->type));
        check("reply.transaction-id", rep->transaction_id == id_->transaction_id,
              rep->transaction_id == id_->transaction_id ? "echoed" : "\"" + printable_text(rep->transaction_id, 80, '?') + "\"");
        check("reply.recipient-nonce", rep->recipient_nonce == id_->nonce,
              rep->recipient_nonce.empty() ? "absent" : rep->recipient_nonce == id_->nonce ? "the senderNonce sent" : "another value");
        check("reply.sender-nonce", !rep->sender_nonce.empty(),
              rep->sender_nonce.empty() ? "absent" : std::to_string(rep->sender_nonce.size()) + " bytes");
        check("reply.status", std::find(v.attributes.begin(), v.attributes.end(), "pkiStatus") != v.attributes.end() &&
                                  !(v.stop && v.stop->kind == "reply-status"),
              "pkiStatus " + report.pki_status);
        if (o == outcome::pending) {
            poll_until_issued();
        } else if (o == outcome::success && v.issued) {
            issued_ = std::move(v.issued);
        }
        if (o == outcome::success || issued_) {
            check("reply.certificate", issued_ != nullptr,
                  issued_ ? dev::describe(*issued_) : (v.stop ? v.stop->why : "no certificate for the key"));
        } else {
            skip("reply.certificate", "not issued: " + outcome_text(o, a, &v));
        }
        check("reply.attribute-order", v.attributes_der_sorted,
              v.attributes_der_sorted ? "DER order" : "not in DER order: verifiers that re-encode them refuse the reply");
        exact("reply.exact", a.body);
        if (issued_) {
            auto now = std::chrono::system_clock::now();
            auto nb = asn1_time_point(*X509_get0_notBefore(issued_.get())), na = asn1_time_point(*X509_get0_notAfter(issued_.get()));
            check("reply.validity", nb <= now + std::chrono::minutes(5) && na > now,
                  "valid " + iso8601(nb) + " to " + iso8601(na));
            bool by_ca = std::any_of(cas_.certs.begin(), cas_.certs.end(), [&](const x509_ptr& c) {
                return X509_check_issued(c.get(), issued_.get()) == X509_V_OK &&
                       X509_verify(issued_.get(), X509_get0_pubkey(c.get())) == 1;
            });
            ERR_clear_error();
            check("reply.issuer", by_ca, by_ca ? "issued by a CA GetCACert returned"
                                               : "issuer " + name_to_string(*X509_get_issuer_name(issued_.get())) +
                                                     " is not a CA GetCACert returned");
        } else {
            skip("reply.validity", "no certificate");
            skip("reply.issuer", "no certificate");
        }
        if (issued_) {
            std::string got = name_to_string(*X509_get_subject_name(issued_.get()));
            if (got == id_->subject)
                pass("reply.subject", got);
            else
                note("reply.subject", "asked " + id_->subject + ", issued " + got);
        } else {
            skip("reply.subject", "no certificate");
        }
    }

    void poll_until_issued() {
        for (int i = 0; i < 3 && !issued_; ++i) {
            id_->nonce = random_bytes(16);
            bytes data = encode_issuer_and_subject(*X509_get_subject_name(cas_.ca ? cas_.ca : ra_),
                                                   *X509_REQ_get_subject_name(id_->csr.get()));
            auto der = request(*id_, message_type::cert_poll, data);
            if (!der) return;
            dev::reply_view v;
            if (classify(pki(*der), *id_, &v) == outcome::success && v.issued) issued_ = std::move(v.issued);
        }
    }

    void other_operations() {
        // GET, when the enrollment went by POST.
        {
            auto id = identity();
            if (id) {
                bytes csr = x509_req_to_der(*id->csr);
                auto der = request(*id, message_type::pkcs_req, csr);
                if (der) {
                    answer a = pki(*der, true);
                    dev::reply_view v;
                    outcome o = classify(a, *id, &v);
                    check("enroll.get", o == outcome::success || o == outcome::pending, outcome_text(o, a, &v));
                }
            }
        }
        // BER with indefinite lengths, as iOS sends.
        {
            dev::persona ber = g_;
            ber.ber_indefinite = true;
            auto id = identity();
            if (id) {
                bytes csr = x509_req_to_der(*id->csr);
                auto der = dev::build_request(ber, *id, message_type::pkcs_req, csr, caps_, *ra_);
                if (der) {
                    answer a = pki(*der);
                    dev::reply_view v;
                    outcome o = classify(a, *id, &v);
                    bool ok = o == outcome::success || o == outcome::pending;
                    check("enroll.ber", ok, outcome_text(o, a, &v) + (ok ? "" : ": iOS sends its requests this way"));
                }
            }
        }
        if (!issued_) {
            for (const char* c : {"poll.done", "getcert", "getcrl", "renewal", "neg.replay"}) skip(c, "no certificate was issued");
        } else {
            // CertPoll for the transaction that was issued.
            id_->nonce = random_bytes(16);
            bytes poll = encode_issuer_and_subject(*X509_get_subject_name(cas_.ca ? cas_.ca : ra_),
                                                   *X509_REQ_get_subject_name(id_->csr.get()));
            if (auto der = request(*id_, message_type::cert_poll, poll)) {
                answer a = pki(*der);
                dev::reply_view v;
                outcome o = classify(a, *id_, &v);
                check("poll.done", o == outcome::success || o == outcome::failure, outcome_text(o, a, &v));
            }
            auto q = query_identity();
            bytes serial = encode_issuer_and_serial(*X509_get_issuer_name(issued_.get()), *X509_get0_serialNumber(issued_.get()));
            if (auto der = request(q, message_type::get_cert, serial)) {
                answer a = pki(*der);
                dev::reply_view v;
                outcome o = classify(a, q, &v);
                check("getcert", o == outcome::success && v.issued, outcome_text(o, a, &v));
            }
            q.nonce = random_bytes(16);
            if (auto der = request(q, message_type::get_crl, serial)) {
                answer a = pki(*der);
                dev::reply_view v;
                outcome o = classify(a, q, &v, false);
                check("getcrl", o == outcome::success && !v.crls.empty(),
                      outcome_text(o, a, &v) + (o == outcome::success && v.crls.empty() ? " without a CRL" : ""));
            }
            renewal();
            // The first request again, byte for byte.
            answer again = pki(first_request_);
            dev::reply_view v;
            outcome o = classify(again, *id_with_first_nonce(), &v);
            if (o == outcome::success && v.issued && X509_cmp(v.issued.get(), issued_.get()) != 0)
                finding("neg.replay", "a second certificate (serial " + dev::describe(*v.issued) + ") for the same request");
            else
                pass("neg.replay", outcome_text(o, again, &v) + (o == outcome::success ? " with the same certificate" : ""));
        }
        if (!dev::advertises(words_, "GetNextCACert")) {
            skip("getnextcacert", "not advertised");
        } else {
            answer a = operation("GetNextCACert");
            check("getnextcacert", a.status == 200 || (a.status >= 400 && a.status < 500),
                  a.status ? "HTTP " + std::to_string(a.status) + " " + printable_text(a.content_type, 60, '?') : a.error);
        }
    }

    // The identity of the first request, for reading a replayed answer.
    std::optional<dev::device_identity> first_;
    dev::device_identity* id_with_first_nonce() {
        if (!first_) {
            first_ = dev::signing_with(*id_, *id_->signer, 16);
            auto req = decode_pki_request(first_request_);
            if (req) first_->nonce = req->sender_nonce;
            ERR_clear_error();
        }
        return &*first_;
    }

    dev::device_identity query_identity() { return dev::signing_with(*id_, *issued_, 16); }

    void renewal() {
        if (!dev::advertises(words_, "Renewal")) return skip("renewal", "Renewal not advertised");
        dev::identity_options io;
        io.old_cert = issued_.get();
        io.old_key = id_->key.get();
        io.include_challenge = false;
        io.subject = name_to_string(*X509_get_subject_name(issued_.get()));
        auto id = dev::make_identity(g_, io);
        if (!id) return finding("renewal", "cannot build the request: " + id.message());
        bytes csr = x509_req_to_der(*id->csr);
        auto der = request(*id, message_type::renewal_req, csr);
        if (!der) return finding("renewal", "cannot build the request: " + der.message());
        answer a = pki(*der);
        dev::reply_view v;
        outcome o = classify(a, *id, &v);
        check("renewal", o == outcome::success || o == outcome::pending, outcome_text(o, a, &v) +
              (v.fail_info_text.empty() ? "" : " (" + printable_text(v.fail_info_text, 120, '?') + ")"));
    }

    // A request the server must refuse: a finding when it is answered SUCCESS
    // (or PENDING: held for a person to approve what is broken), or with a
    // server error or nothing.
    void refuse(const std::string& id, const answer& a, const dev::device_identity& who, const std::string& expect) {
        dev::reply_view v;
        outcome o = classify(a, who, &v);
        std::string got = outcome_text(o, a, &v);
        switch (o) {
            case outcome::failure:
                pass(id, got + (v.failure && std::string(scep::to_string(*v.failure)) != expect && !expect.empty()
                                    ? " (RFC 8894 suggests " + expect + ")"
                                    : ""));
                return;
            case outcome::refused_http:
            case outcome::unreadable: pass(id, got); return;
            case outcome::success:
            case outcome::pending:
                if (id == "neg.attribute-order")
                    // The sender broke RFC 5652 §5.4; a verifier that re-encodes the attributes in DER
                    // refuses it, one that uses the bytes received (OpenSSL) accepts: leniency, not a fault.
                    note(id, "accepted (" + got + "): a verifier that re-encodes the attributes in DER would refuse it");
                else
                    finding(id, "accepted: " + got);
                return;
            case outcome::server_error:
            case outcome::no_answer: finding(id, got); return;
        }
    }

    void negatives() {
        const bool has_challenge = !o_.challenge.empty() || !o_.challenge_file.empty() || !o_.ndes_user.empty() ||
                                   !o_.admin_token.empty();
        auto fresh = [&](std::optional<std::string> challenge = std::nullopt) { return identity(std::move(challenge)); };
        auto send = [&](const std::string& check_id, const dev::device_identity& id, const result<bytes>& der,
                        const std::string& expect) {
            if (!der) return finding(check_id, "cannot build the request: " + der.message());
            refuse(check_id, pki(*der), id, expect);
        };
        if (auto id = fresh()) {
            bytes csr = x509_req_to_der(*id->csr);
            auto der = request(*id, message_type::pkcs_req, csr);
            if (der) der->back() ^= 0x01;  // the last octet is the signature's
            send("neg.bad-signature", *id, der, "badMessageCheck");
        }
        if (!has_challenge) {
            skip("neg.wrong-challenge", "no challenge given (--challenge)");
            skip("neg.missing-challenge", "no challenge given (--challenge)");
        } else {
            if (auto id = fresh("scep-lab-probe-wrong-challenge")) send("neg.wrong-challenge", *id, request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr)), "badRequest");
            if (auto id = fresh("")) send("neg.missing-challenge", *id, request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr)), "badRequest");
        }
        if (auto id = fresh()) {
            bytes poll = encode_issuer_and_subject(*X509_get_subject_name(cas_.ca ? cas_.ca : ra_),
                                                   *X509_REQ_get_subject_name(id->csr.get()));
            send("neg.unknown-transaction", *id, request(*id, message_type::cert_poll, poll), "badCertId");
        }
        if (auto id = fresh()) {
            // Encrypted to a certificate the server does not hold the key of: the request's own signer.
            send("neg.wrong-recipient", *id,
                 request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr), {}, {}, id->signer.get()), "badMessageCheck");
        }
        if (dev::advertises(words_, "DES")) {
            skip("neg.single-des", "the server advertises DES");
        } else if (auto id = fresh()) {
            auto der = request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr), content_cipher::des_cbc);
            if (!der) skip("neg.single-des", "single DES is not available here (OpenSSL's legacy provider): " + der.message());
            else send("neg.single-des", *id, der, "badAlg");
        }
        if (auto id = fresh()) send("neg.md5", *id, request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr), {}, digest_alg::md5), "badAlg");
        if (auto id = fresh()) {
            bytes csr = x509_req_to_der(*id->csr);
            // One character of the subject changed after the CSR was signed.
            std::string cn = "suite-";
            auto at = std::search(csr.begin(), csr.end(), cn.begin(), cn.end());
            if (at != csr.end()) *at = 'S';
            send("neg.tampered-csr", *id, request(*id, message_type::pkcs_req, csr), "");
        }
        if (auto id = fresh()) {
            auto der = request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr));
            if (der) der = reorder_signed_attributes(std::move(*der), *id->signer_key, caps_.digest.value_or(digest_alg::sha1));
            ERR_clear_error();
            send("neg.attribute-order", *id, der, "badMessageCheck");
        }
        if (issued_) {
            // A RenewalReq signed by a self-signed certificate the CA never issued.
            if (auto id = fresh()) send("neg.renewal-unknown-signer", *id, request(*id, message_type::renewal_req, x509_req_to_der(*id->csr)), "");
        } else {
            skip("neg.renewal-unknown-signer", "no certificate was issued");
        }
        if (auto id = fresh()) send("neg.unknown-message-type", *id, request(*id, static_cast<message_type>(99), x509_req_to_der(*id->csr)), "badRequest");
        if (issued_) {
            auto q = query_identity();
            asn1_integer_ptr serial(ASN1_INTEGER_new());
            ASN1_INTEGER_set(serial.get(), 0x7ead);
            bytes data = encode_issuer_and_serial(*X509_get_issuer_name(issued_.get()), *serial);
            send("neg.getcert-unknown", q, request(q, message_type::get_cert, data), "badCertId");
        } else {
            skip("neg.getcert-unknown", "no certificate was issued");
        }
        if (auto id = fresh()) {
            auto der = request(*id, message_type::pkcs_req, x509_req_to_der(*id->csr));
            if (der) der->resize(der->size() / 2);
            send("neg.truncated", *id, der, "badRequest");
        }
        if (auto id = fresh()) {
            bytes junk = random_bytes(1500);
            junk[0] = 0x30;  // looks like a SEQUENCE, then is not
            send("neg.garbage", *id, result<bytes>(junk), "badRequest");
            answer big = http("POST", url_.path + "?operation=PKIOperation", std::string(4u << 20, '\x30'),
                              "application/x-pki-message");
            refuse("neg.oversized", big, *id, "");
        }
        answer none = http("GET", url_.path + "?operation=PKIOperation");
        check("neg.no-message", none.status >= 400 && none.status < 500,
              none.status ? "HTTP " + std::to_string(none.status) : "no answer: " + none.error);
        answer op = operation("GetAllTheThings");
        check("neg.unknown-operation", op.status >= 400 && op.status < 500,
              op.status ? "HTTP " + std::to_string(op.status) : "no answer: " + op.error);
    }
};

}  // namespace

result<suite_report> run_suite(const probe_options& o) {
    auto url = parse_scep_url(o.url);
    if (!url) return url.err();
    url->ca_file = o.ca_file;
    load_providers();
    suite_report out;
    out.name = "rfc8894";
    auto t0 = std::chrono::steady_clock::now();
    suite_run(o, *url, out).run();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ERR_clear_error();
    return out;
}

std::size_t suite_report::findings() const {
    return static_cast<std::size_t>(
        std::count_if(checks.begin(), checks.end(), [](const suite_check& c) { return c.result == "finding"; }));
}

}  // namespace scep::client
