#include "pki/scep/faults.hpp"

#include <algorithm>

#include "pki/scep/message.hpp"

namespace scep {

namespace {

using enum fault_kind;
using enum fault_layer;

constexpr fault_kind_info kinds[] = {
    {wrong_recipient_nonce, "wrong-recipient-nonce", certrep,
     "a CertRep whose recipientNonce is not the request's senderNonce",
     "refuse the reply: it does not answer this request (RFC 8894 §3.2.1.5)"},
    {missing_recipient_nonce, "missing-recipient-nonce", certrep, "a CertRep without recipientNonce",
     "refuse the reply (RFC 8894 §3.2.1.5)"},
    {wrong_transaction_id, "wrong-transaction-id", certrep, "a CertRep for another transactionID",
     "refuse the reply (RFC 8894 §3.2.1.1)"},
    {missing_transaction_id, "missing-transaction-id", certrep, "a CertRep without transactionID",
     "refuse the reply (RFC 8894 §3.2.1.1)"},
    {missing_sender_nonce, "missing-sender-nonce", certrep, "a CertRep without senderNonce",
     "refuse the reply (RFC 8894 §3.2.1.5)"},
    {wrong_message_type, "wrong-message-type", certrep, "a reply whose messageType is PKCSReq (19), not CertRep (3)",
     "refuse the reply (RFC 8894 §3.2.1.2)"},
    {undefined_pki_status, "undefined-pki-status", certrep, "a CertRep whose pkiStatus is 9, which RFC 8894 does not define",
     "refuse the reply; neither install nor poll (RFC 8894 §3.2.1.3)"},
    {no_signing_time, "no-signing-time", certrep, "a CertRep without the signingTime attribute (as NDES sends it)",
     "accept it: signingTime is optional (RFC 5652 §11.3)"},
    {extra_attribute, "extra-attribute", certrep, "a CertRep with one more signed attribute no client knows",
     "ignore the unknown attribute and accept the reply (iOS once crashed on one: micromdm/scep #76)"},
    {bad_signature, "bad-signature", certrep, "a CertRep whose signature does not verify (one bit flipped)",
     "refuse the reply: it is not from the RA (RFC 8894 §3.2)"},
    {signature_algorithm_with_digest, "signature-algorithm-with-digest", certrep,
     "the SignerInfo's signature algorithm given as sha256WithRSAEncryption (or the digest's) instead of rsaEncryption",
     "accept it: both identify a PKCS#1 v1.5 signature (RFC 5754 §3.2); clients differ"},
    {digest_algorithm_mismatch, "digest-algorithm-mismatch", certrep,
     "the SignerInfo names another digest algorithm than the one the signature was made with",
     "refuse the reply: the signature does not verify with the named digest"},
    {forced_cipher, "forced-cipher", certrep,
     "a SUCCESS whose envelope uses the rule's cipher (des, des3, aes128, aes192, aes256) whatever the request used",
     "decrypt it if it supports the cipher, else report it; never install garbage"},
    {no_envelope, "no-envelope", certrep, "a SUCCESS whose certificate is in a degenerate PKCS#7 without the envelope",
     "refuse the reply (RFC 8894 §3.3.2: the content is a pkcsPKIEnvelope)"},
    {chain_in_degenerate, "chain-in-degenerate", certrep,
     "a SUCCESS whose degenerate carries the CA chain after the issued certificate",
     "install the certificate that matches its key (Cisco wants the chain, Juniper refuses it: EJBCA docs)"},
    {http_status, "http-status", http, "the chosen HTTP status (500, 503, ...) instead of the answer, with Retry-After when set",
     "report the status; retry a 503 after Retry-After; install nothing"},
    {wrong_content_type, "wrong-content-type", http, "the right body with Content-Type text/html",
     "refuse it or at least not trust the type; install nothing from a reply it cannot parse"},
    {empty_body, "empty-body", http, "HTTP 200 with an empty body", "report an error; install nothing"},
    {truncated_body, "truncated-body", http, "the answer cut to half its length (Content-Length says so)",
     "report a parse error; install nothing"},
    {base64_body, "base64-body", http, "the DER answer sent as base64 text",
     "report a parse error (RFC 8894 §4.3: binary); install nothing"},
    {trailing_garbage, "trailing-garbage", http, "the DER answer followed by 16 bytes that are not part of it",
     "refuse it, or parse exactly one DER object and ignore nothing silently"},
};

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
        try {
            a.subject.emplace(rule.when.subject);
        } catch (const std::regex_error& e) {
            return make_error("subject pattern \"" + rule.when.subject + "\" is not a regular expression: " + e.what());
        }
    }
    if (!(rule.when.probability > 0.0 && rule.when.probability <= 1.0))
        return make_error("probability must be above 0 and at most 1");
    if (rule.kind == http_status && (rule.status < 400 || rule.status > 599))
        return make_error("http-status needs a status from 400 to 599");
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
    std::lock_guard lock(mu_);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
        fault_rule& rule = it->rule;
        const fault_selector& w = rule.when;
        if (info(rule.kind).layer != layer) continue;
        if (!w.operation.empty() && w.operation != r.operation) continue;
        if (!w.message_type.empty() && w.message_type != r.message_type) continue;
        if (!w.transaction_id.empty() && w.transaction_id != r.transaction_id) continue;
        if (!w.client.empty() && w.client != r.client) continue;
        if (it->subject && !std::regex_search(r.subject.begin(), r.subject.end(), *it->subject)) continue;
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

}  // namespace scep
