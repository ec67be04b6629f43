// Fault injection (docs/faults.md): replies a correct server never sends,
// armed by rules, so that a SCEP client's handling of them can be tested.
// A rule names a fault kind and which requests it applies to; the SCEP
// service applies CertRep faults while it builds a reply, the HTTP layer
// applies transport faults to the answer. No I/O here.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/crypto/pattern.hpp"
#include "pki/crypto/result.hpp"
#include "pki/scep/outcome.hpp"

namespace scep {

enum class fault_layer { certrep, http };

// Where a redirect fault sends the client: the same path and query under
// this prefix, which the server answers as it is.
inline constexpr std::string_view redirect_prefix = "/scep-lab-redirect";

enum class fault_kind {
    // CertRep content (RFC 8894 §3.3.2, §3.2.1)
    wrong_recipient_nonce,
    missing_recipient_nonce,
    wrong_transaction_id,
    missing_transaction_id,
    missing_sender_nonce,
    wrong_message_type,
    undefined_pki_status,
    // CertRep signature and structure
    no_signing_time,
    extra_attribute,
    bad_signature,
    signature_algorithm_with_digest,
    digest_algorithm_mismatch,
    unknown_signer,
    attributes_out_of_order,
    // CertRep envelope and certificates
    forced_cipher,
    no_envelope,
    chain_in_degenerate,
    envelope_other_key,
    empty_degenerate,
    certificate_other_key,
    certificate_other_subject,
    certificate_expired,
    certificate_not_yet_valid,
    certificate_foreign_ca,
    // Flow
    pending,
    // HTTP
    http_status,
    wrong_content_type,
    empty_body,
    truncated_body,
    base64_body,
    trailing_garbage,
    delay_headers,
    delay_body,
    connection_close,
    connection_reset,
    redirect,
    // GetCACert and GetCACaps answers
    getcacert_other_ra,
    getcacert_issuing_only,
    caps_empty,
    caps_lowercase,
    caps_crlf,
    caps_unknown_words,
};

struct fault_kind_info {
    fault_kind kind;
    std::string_view name;  // "wrong-recipient-nonce", as in rules and metrics
    fault_layer layer;
    std::string_view operation;      // the only operation it applies to; empty: any
    std::string_view what;           // what the reply carries
    std::string_view client_should;  // what a correct client does with it
};
std::span<const fault_kind_info> fault_kinds();
const fault_kind_info& info(fault_kind k);
std::optional<fault_kind> fault_kind_from_name(std::string_view name);

// Which requests a rule applies to; empty fields match anything.
struct fault_selector {
    std::string operation;       // GetCACaps, GetCACert, GetNextCACert, PKIOperation
    std::string message_type;    // PKCSReq, RenewalReq, CertPoll, GetCert, GetCRL
    std::string transaction_id;  // exact
    std::string client;          // address, exact
    std::string subject;         // RE2 pattern searched in the CSR subject (RFC 4514)
    std::uint64_t first = 0;     // only the first n matching requests (0: no limit)
    std::uint64_t every = 0;     // only every n-th matching request (0: each)
    double probability = 1.0;    // of the matching requests, this share (seeded: reproducible)
    std::uint64_t seed = 1;
};

struct fault_rule {
    std::string id;  // given by the plan when added
    fault_kind kind = fault_kind::http_status;
    fault_selector when;
    int status = 0;        // http-status (400-599, default 503), redirect (301, 302, 303, 307, 308; default 302)
    int retry_after = 0;   // http-status: Retry-After seconds (0: none)
    int delay_ms = 3000;   // delay-headers, delay-body: how long the answer is held
    std::string cipher = "des3";  // forced-cipher: des, des3, aes128, aes192, aes256
    bool one_shot = false;  // removed after it fired once
    std::uint64_t matched = 0, fired = 0;
};

// What is known of a request when a fault may apply.
struct fault_request {
    std::string_view operation, message_type, transaction_id, client, subject;
};

class fault_plan {
public:
    // Checks the rule (regex, ranges) and adds it; returns its id.
    result<std::string> add(fault_rule rule);
    bool remove(const std::string& id);
    std::size_t clear();
    std::vector<fault_rule> rules() const;
    // Whether any rule is armed: callers skip building a fault_request
    // (the CSR subject as text) on every answer when none is.
    bool armed() const { return count_.load(std::memory_order_relaxed) != 0; }

    // The first rule of `layer` that fires for this request (counting it,
    // and removing it when one-shot); nullopt when none does. Subject
    // patterns are matched before the plan's lock is taken.
    std::optional<fault_rule> take(fault_layer layer, const fault_request& r);

private:
    struct armed_rule {
        fault_rule rule;
        std::optional<pattern> subject;  // when.subject, compiled
        std::mt19937_64 random;
    };
    mutable std::mutex mu_;
    std::vector<armed_rule> rules_;
    std::atomic<std::size_t> count_{0};  // rules_.size(), read without the lock
    std::uint64_t next_id_ = 1;
};

}  // namespace scep
