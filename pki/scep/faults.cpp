#include "pki/scep/faults.hpp"

#include <algorithm>

#include "pki/scep/message.hpp"

namespace scep {

namespace {

using enum fault_kind;
using enum fault_layer;

constexpr fault_kind_info kinds[] = {
    {wrong_recipient_nonce, "wrong-recipient-nonce", certrep, "",
     "a CertRep whose recipientNonce is not the request's senderNonce",
     "refuse the reply: it does not answer this request (RFC 8894 §3.2.1.5)"},
    {missing_recipient_nonce, "missing-recipient-nonce", certrep, "", "a CertRep without recipientNonce",
     "refuse the reply (RFC 8894 §3.2.1.5)"},
    {wrong_transaction_id, "wrong-transaction-id", certrep, "", "a CertRep for another transactionID",
     "refuse the reply (RFC 8894 §3.2.1.1)"},
    {missing_transaction_id, "missing-transaction-id", certrep, "", "a CertRep without transactionID",
     "refuse the reply (RFC 8894 §3.2.1.1)"},
    {missing_sender_nonce, "missing-sender-nonce", certrep, "", "a CertRep without senderNonce",
     "refuse the reply (RFC 8894 §3.2.1.5)"},
    {wrong_message_type, "wrong-message-type", certrep, "", "a reply whose messageType is PKCSReq (19), not CertRep (3)",
     "refuse the reply (RFC 8894 §3.2.1.2)"},
    {undefined_pki_status, "undefined-pki-status", certrep, "", "a CertRep whose pkiStatus is 9, which RFC 8894 does not define",
     "refuse the reply; neither install nor poll (RFC 8894 §3.2.1.3)"},
    {no_signing_time, "no-signing-time", certrep, "", "a CertRep without the signingTime attribute (as NDES sends it)",
     "accept it: signingTime is optional (RFC 5652 §11.3)"},
    {extra_attribute, "extra-attribute", certrep, "", "a CertRep with one more signed attribute no client knows",
     "ignore the unknown attribute and accept the reply (iOS once crashed on one: micromdm/scep #76)"},
    {bad_signature, "bad-signature", certrep, "", "a CertRep whose signature does not verify (one bit flipped)",
     "refuse the reply: it is not from the RA (RFC 8894 §3.2)"},
    {signature_algorithm_with_digest, "signature-algorithm-with-digest", certrep, "",
     "the SignerInfo's signature algorithm given as sha256WithRSAEncryption (or the digest's) instead of rsaEncryption",
     "accept it: both identify a PKCS#1 v1.5 signature (RFC 5754 §3.2); clients differ"},
    {digest_algorithm_mismatch, "digest-algorithm-mismatch", certrep, "",
     "the SignerInfo names another digest algorithm than the one the signature was made with",
     "refuse the reply: the signature does not verify with the named digest"},
    {unknown_signer, "unknown-signer", certrep, "",
     "a CertRep signed by a certificate and key that GetCACert never returned",
     "refuse the reply: only the RA (or CA) from GetCACert may sign it (RFC 8894 §3.3.2)"},
    {attributes_out_of_order, "attributes-out-of-order", certrep, "",
     "a CertRep whose signed attributes are not in DER order (a SET OF sorted the other way); the signature covers "
     "them as sent",
     "accept it if it verifies the bytes as sent (RFC 5652 §5.4); strict DER decoders refuse it"},
    {forced_cipher, "forced-cipher", certrep, "",
     "a SUCCESS whose envelope uses the rule's cipher (des, des3, aes128, aes192, aes256) whatever the request used",
     "decrypt it if it supports the cipher, else report it; never install garbage"},
    {no_envelope, "no-envelope", certrep, "", "a SUCCESS whose certificate is in a degenerate PKCS#7 without the envelope",
     "refuse the reply (RFC 8894 §3.3.2: the content is a pkcsPKIEnvelope)"},
    {chain_in_degenerate, "chain-in-degenerate", certrep, "",
     "a SUCCESS whose degenerate carries the CA chain after the issued certificate",
     "install the certificate that matches its key (Cisco wants the chain, Juniper refuses it: EJBCA docs)"},
    {envelope_other_key, "envelope-other-key", certrep, "",
     "a SUCCESS whose envelope is encrypted to another key than the request's signer",
     "report that it cannot decrypt the reply; install nothing (RFC 8894 §3.3.2)"},
    {empty_degenerate, "empty-degenerate", certrep, "", "a SUCCESS whose degenerate PKCS#7 carries no certificate",
     "report the empty reply; install nothing"},
    {certificate_other_key, "certificate-other-key", certrep, "",
     "a SUCCESS carrying a certificate (from the right CA) for another public key than the request's",
     "refuse it: the certificate does not match the private key it holds"},
    {certificate_other_subject, "certificate-other-subject", certrep, "",
     "a SUCCESS carrying a certificate for the request's key but another subject (CN=scep-lab-other-subject)",
     "refuse it, or at least not install it as the requested identity"},
    {certificate_expired, "certificate-expired", certrep, "", "a SUCCESS carrying a certificate that expired yesterday",
     "refuse it: it cannot be used"},
    {certificate_not_yet_valid, "certificate-not-yet-valid", certrep, "",
     "a SUCCESS carrying a certificate valid from tomorrow", "refuse it, or report it (clock skew) before installing"},
    {certificate_foreign_ca, "certificate-foreign-ca", certrep, "",
     "a SUCCESS carrying a certificate issued by a CA that is not in GetCACert's chain",
     "refuse it: it does not chain to the CA the client enrolled with"},
    {pending, "pending", certrep, "PKIOperation",
     "PENDING instead of the reply (with when.first = n: n times, then the real answer; without: forever)",
     "poll with CertPoll (GetCertInitial), keeping the transactionID, until the answer or its own limit "
     "(RFC 8894 §3.3.3)"},
    {http_status, "http-status", http, "", "the chosen HTTP status (500, 503, ...) instead of the answer, with Retry-After when set",
     "report the status; retry a 503 after Retry-After; install nothing"},
    {wrong_content_type, "wrong-content-type", http, "", "the right body with Content-Type text/html",
     "refuse it or at least not trust the type; install nothing from a reply it cannot parse"},
    {empty_body, "empty-body", http, "", "HTTP 200 with an empty body", "report an error; install nothing"},
    {truncated_body, "truncated-body", http, "", "the answer cut to half its length (Content-Length says so)",
     "report a parse error; install nothing"},
    {base64_body, "base64-body", http, "", "the DER answer sent as base64 text",
     "report a parse error (RFC 8894 §4.3: binary); install nothing"},
    {trailing_garbage, "trailing-garbage", http, "", "the DER answer followed by 16 bytes that are not part of it",
     "refuse it, or parse exactly one DER object and ignore nothing silently"},
    {delay_headers, "delay-headers", http, "", "the answer held back delay_ms (default 3 s) before the status line",
     "wait (its timeout should allow a slow NDES) and accept the answer"},
    {delay_body, "delay-body", http, "",
     "the status line, headers and half the body, then a pause of delay_ms, then the rest",
     "read until Content-Length and accept the answer"},
    {connection_close, "connection-close", http, "", "the connection closed without an answer",
     "report the error (or retry once); install nothing"},
    {connection_reset, "connection-reset", http, "", "the connection reset (TCP RST) without an answer",
     "report the error (or retry once); install nothing"},
    {redirect, "redirect", http, "",
     "a redirect (status 301, 302, 303, 307 or 308; default 302) to the same request under /scep-lab-redirect",
     "follow it or report it; the redirected request is answered correctly (RFC 9110 §15.4)"},
    {getcacert_other_ra, "getcacert-other-ra", http, "GetCACert",
     "a GetCACert whose RA certificate is not the one that decrypts requests and signs replies",
     "enroll fails: the server cannot decrypt the request, and the reply's signer is not the RA it knows; install "
     "nothing"},
    {getcacert_issuing_only, "getcacert-issuing-only", http, "GetCACert",
     "a GetCACert without the CA certificates above the issuing CA (an incomplete chain)",
     "enroll, and build the chain from its own trust store, or report that it cannot"},
    {caps_empty, "caps-empty", http, "GetCACaps", "an empty GetCACaps answer",
     "fall back to the RFC 8894 §3.5.2 defaults (GET, SHA-1, 3DES) and go on"},
    {caps_lowercase, "caps-lowercase", http, "GetCACaps", "the capabilities in lower case",
     "compare capabilities without regard to case (RFC 8894 §3.5.2)"},
    {caps_crlf, "caps-crlf", http, "GetCACaps", "the capabilities separated by CRLF where the server sends LF (or the reverse)",
     "accept either line ending"},
    {caps_unknown_words, "caps-unknown-words", http, "GetCACaps",
     "the capabilities with words no RFC defines mixed in (X-Unknown-Capability, SCEPStandardV2)",
     "ignore the unknown words (RFC 8894 §3.5.2)"},
};
static_assert(std::size(kinds) == static_cast<std::size_t>(fault_kind::caps_unknown_words) + 1,
              "every fault kind has one entry");

}  // namespace

std::span<const fault_kind_info> fault_kinds() { return kinds; }

const fault_kind_info& info(fault_kind k) {
    for (const auto& i : kinds)
        if (i.kind == k) return i;
    return kinds[0];
}

std::optional<fault_kind> fault_kind_from_name(std::string_view name) {
    for (const auto& i : kinds)
        if (i.name == name) return i.kind;
    return std::nullopt;
}

result<std::string> fault_plan::add(fault_rule rule) {
    armed_rule a;
    if (!rule.when.subject.empty()) {
        if (rule.when.subject.size() > 256) return make_error("subject pattern longer than 256 characters");
        auto compiled = pattern::compile(rule.when.subject);
        if (!compiled) return make_error("subject pattern: " + compiled.message());
        a.subject = std::move(*compiled);
    }
    if (!(rule.when.probability > 0.0 && rule.when.probability <= 1.0))
        return make_error("probability must be above 0 and at most 1");
    if (rule.status == 0) rule.status = rule.kind == redirect ? 302 : 503;
    if (rule.kind == http_status && (rule.status < 400 || rule.status > 599))
        return make_error("http-status needs a status from 400 to 599");
    if (rule.kind == redirect && rule.status != 301 && rule.status != 302 && rule.status != 303 &&
        rule.status != 307 && rule.status != 308)
        return make_error("redirect needs status 301, 302, 303, 307 or 308");
    if (rule.delay_ms < 0 || rule.delay_ms > 600000) return make_error("delay_ms is 0 to 600000 milliseconds");
    if (rule.retry_after < 0 || rule.retry_after > 86400) return make_error("retry_after is 0 to 86400 seconds");
    if (rule.kind == forced_cipher && !content_cipher_from_name(rule.cipher))
        return make_error("cipher \"" + rule.cipher + "\" is not des, des3, aes128, aes192 or aes256");
    a.random.seed(rule.when.seed);
    std::lock_guard lock(mu_);
    if (rules_.size() >= 256) return make_error("at most 256 fault rules at a time");
    rule.id = "f" + std::to_string(next_id_++);
    rule.matched = rule.fired = 0;
    a.rule = std::move(rule);
    rules_.push_back(std::move(a));
    count_ = rules_.size();
    return rules_.back().rule.id;
}

bool fault_plan::remove(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = std::find_if(rules_.begin(), rules_.end(), [&](const armed_rule& a) { return a.rule.id == id; });
    if (it == rules_.end()) return false;
    rules_.erase(it);
    count_ = rules_.size();
    return true;
}

std::size_t fault_plan::clear() {
    std::lock_guard lock(mu_);
    auto n = rules_.size();
    rules_.clear();
    count_ = 0;
    return n;
}

std::vector<fault_rule> fault_plan::rules() const {
    std::lock_guard lock(mu_);
    std::vector<fault_rule> out;
    for (const auto& a : rules_) out.push_back(a.rule);
    return out;
}

std::optional<fault_rule> fault_plan::take(fault_layer layer, const fault_request& r) {
    // Patterns first, outside the lock (a match, however slow, holds up no
    // other request and no admin call); a rule added meanwhile waits for the
    // next request.
    std::vector<std::pair<std::string, pattern>> patterns;
    {
        std::lock_guard lock(mu_);
        for (const auto& a : rules_)
            if (a.subject && info(a.rule.kind).layer == layer) patterns.emplace_back(a.rule.id, *a.subject);
    }
    std::vector<std::string> subject_matches;
    for (const auto& [id, p] : patterns)
        if (p.search(r.subject)) subject_matches.push_back(id);
    std::lock_guard lock(mu_);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
        fault_rule& rule = it->rule;
        const fault_selector& w = rule.when;
        const auto& kind = info(rule.kind);
        if (kind.layer != layer) continue;
        if (!kind.operation.empty() && kind.operation != r.operation) continue;
        if (!w.operation.empty() && w.operation != r.operation) continue;
        if (!w.message_type.empty() && w.message_type != r.message_type) continue;
        if (!w.transaction_id.empty() && w.transaction_id != r.transaction_id) continue;
        if (!w.client.empty() && w.client != r.client) continue;
        if (it->subject &&
            std::find(subject_matches.begin(), subject_matches.end(), rule.id) == subject_matches.end())
            continue;
        const std::uint64_t n = ++rule.matched;
        if (w.first && n > w.first) continue;
        if (w.every && n % w.every != 0) continue;
        if (w.probability < 1.0 && std::uniform_real_distribution<double>(0.0, 1.0)(it->random) >= w.probability)
            continue;
        ++rule.fired;
        fault_rule fired = rule;
        if (rule.one_shot) {
            rules_.erase(it);
            count_ = rules_.size();
        }
        return fired;
    }
    return std::nullopt;
}

std::string fired_fault::text() const { return std::string(info(kind).name) + " (" + rule + ")"; }

}  // namespace scep
